package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/trace"
)

func newReplayCmd() *cobra.Command {
	var (
		host, mapFile, dialect, framing, tpduHex, ignore, cardsFile string
		admin, token                                                string
		asRecorded, fast, refresh                                   bool
		timeout                                                     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay TRACE --host HOST:PORT [--as-recorded|--fast] [--map FILE]",
		Short: "Send the terminal side of a trace to a host again and compare every answer field by field",
		Long: `Send the requests a terminal sent in a trace (written by record, or by the acquirer,
terminal or runner with --trace) to a host, one at a time and in order, and compare every
answer with the recorded one field by field. A recorded answer that is missing now, or an
answer now where the recording has none (lost), is a difference too. Differences are printed
and the exit status is 1 when there is any.

Masked card numbers are mapped back to the built-in test cards with the same first 6 and
last 4 digits (or by --map FILE: cards: {"411111******1111": visa-ok}; fields: {55: HEX});
a masked PIN block is computed again from the test card's PIN.

Not compared by default, because they legitimately differ between runs: DE7 (transmission
time), DE12/DE13 (local time and date), DE37 (RRN) and DE38 (authorization code). Change
the list with --ignore (--ignore none compares everything).

--fast (the default) sends each request as soon as the previous one is answered;
--as-recorded also keeps the recorded gaps between requests.

--refresh gives each request a new STAN and the current DE7, DE12 and DE13, so that the
host that saw the recording does not answer 94 (duplicate); reversals and repeats keep
pointing at their original. DE11 and DE90 of the answers are then not compared.

When the host answers 30 (format error), the report says which field it objected to: from
the answer's DE44 when the host puts it there, or from its journal with --admin ADDR when it
is a posdrill acquirer.

Exit status: 0 no differences, 1 differences, 2 usage error or a host that cannot be
reached (nothing is compared then).`,
		Example: `  posdrill replay shop.jsonl --host 127.0.0.1:8583
  posdrill replay shop.jsonl --host 127.0.0.1:8583 --as-recorded --timeout 45s --map cards.yaml
  posdrill replay shop.jsonl --host 127.0.0.1:8583 --refresh --admin 127.0.0.1:8584`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if host == "" {
				return usageError(fmt.Errorf("--host is required"))
			}
			if err := checkHostPort("--host", host); err != nil {
				return err
			}
			if asRecorded && fast {
				return usageError(fmt.Errorf("--as-recorded and --fast exclude each other"))
			}
			o := trace.ReplayOptions{AsRecorded: asRecorded, Timeout: timeout, Refresh: refresh}
			var err error
			if dialect != "" {
				if o.Dialect, err = iso.DialectByName(dialect); err != nil {
					return usageError(err)
				}
			}
			if o.Framing, err = iso.ParseFraming(framing); err != nil {
				return usageError(err)
			}
			if tpduHex != "" {
				if o.TPDU, err = hex.DecodeString(tpduHex); err != nil || len(o.TPDU) != iso.TPDULen {
					return usageError(fmt.Errorf("--tpdu must be %d bytes of hex", iso.TPDULen))
				}
			}
			if o.Ignore, err = parseIgnore(ignore); err != nil {
				return usageError(err)
			}
			stdin := cmd.InOrStdin()
			if mapFile != "" {
				if o.Map, err = loadMappingArg(stdin, "--map", mapFile); err != nil {
					return err
				}
			}
			if cardsFile != "" {
				if o.Cards, err = loadCardsArg(stdin, "--cards", cardsFile); err != nil {
					return err
				}
			}
			recs, err := readTraceArg(stdin, "TRACE", args[0])
			if err != nil {
				return err
			}
			var ac *acquirer.AdminClient
			if admin != "" {
				if ac, err = acquirer.NewAdminClient(admin, token); err != nil {
					return usageErrorf("--admin: %w", err)
				}
			}
			// A replay that cannot reach its host compares nothing: say so (exit 2), never
			// "no differences".
			if err := checkReachable(cmd.Context(), host); err != nil {
				return usageErrorf("--host: %w", err)
			}
			o.Dial = func(ctx context.Context) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", host)
			}
			rep, err := trace.Replay(cmd.Context(), recs, o)
			if rep != nil {
				explainFormatErrors(cmd.Context(), rep, ac)
				if len(rep.Exchanges) > 0 || err == nil {
					if werr := rep.Write(cmd.OutOrStdout()); werr != nil && err == nil {
						err = werr
					}
				}
			}
			if errors.Is(err, trace.ErrUnreachable) {
				return usageErrorf("%w (after %d request(s); the rest was not replayed)", err, len(rep.Exchanges))
			}
			if err != nil {
				return &exitError{1, err}
			}
			if n := rep.Differences(); n > 0 {
				return &exitError{1, fmt.Errorf("%d difference(s) from the recording", n)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "host:port to replay to")
	cmd.Flags().BoolVar(&asRecorded, "as-recorded", false, "keep the recorded gaps between requests")
	cmd.Flags().BoolVar(&fast, "fast", false, "send each request as soon as the previous one is answered (default)")
	cmd.Flags().StringVar(&mapFile, "map", "", "mapping file: masked PANs to card names or PANs, values for masked fields")
	cmd.Flags().StringVar(&cardsFile, "cards", "", "card set to map masked PANs to (default: the built-in test cards)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for each answer")
	cmd.Flags().StringVar(&ignore, "ignore", "7,12,13,37,38", "answer fields not compared (comma-separated numbers, or none)")
	cmd.Flags().StringVar(&dialect, "dialect", "", "dialect (default: the one recorded in the trace, else ascii)")
	cmd.Flags().StringVar(&framing, "framing", "len2", "framing: "+strings.Join(iso.Framings(), ", "))
	cmd.Flags().BoolVar(&refresh, "refresh", false, "give each request a new STAN and the current DE7/DE12/DE13 (replaying to the same host: no 94)")
	cmd.Flags().StringVar(&admin, "admin", "", "admin API of the host when it is a posdrill acquirer: explains 30 answers from its journal")
	cmd.Flags().StringVar(&token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token for --admin (env POSDRILL_ADMIN_TOKEN)")
	cmd.Flags().StringVar(&tpduHex, "tpdu", "", "TPDU for +tpdu framings (default: the recorded one)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func parseIgnore(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "none" || s == "" {
		return []int{}, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		id, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(p)), "DE"))
		if err != nil || id < 2 || id > 128 {
			return nil, fmt.Errorf("--ignore: %q is not a field number from 2 to 128", p)
		}
		out = append(out, id)
	}
	return out, nil
}

// explainFormatErrors adds to every exchange the host answered with 30 which field it
// objected to: DE44 of the answer when the host says it there, else the posdrill
// acquirer's journal line for the request (admin), else that nothing says.
func explainFormatErrors(ctx context.Context, rep *trace.Report, admin *acquirer.AdminClient) {
	for i := range rep.Exchanges {
		ex := &rep.Exchanges[i]
		if ex.Got == nil || ex.Got.ResponseCode != iso.RCFormatError {
			continue
		}
		if v := strings.TrimSpace(ex.Got.Fields[44]); v != "" {
			ex.Notes = append(ex.Notes, "30 format error: the host says (DE44): "+v)
			continue
		}
		if admin == nil {
			ex.Notes = append(ex.Notes, "30 format error: the answer does not say which field (no DE44); with --admin a posdrill acquirer's journal tells")
			continue
		}
		sent := ex.Request
		if ex.Sent != nil {
			sent = *ex.Sent
		}
		entries, err := admin.Journal(ctx, sent.Terminal, sent.STAN)
		if err != nil {
			ex.Notes = append(ex.Notes, "30 format error: cannot read the host's journal: "+err.Error())
			continue
		}
		why := ""
		for _, e := range entries {
			if e.MTI == sent.MTI && strings.Contains(e.Decision, "format error") {
				why = e.Decision // the last one: this replay's, not an earlier run's
			}
		}
		if why == "" {
			why = "no journal line for " + sent.MTI + " STAN " + sent.STAN + " explains it"
		}
		ex.Notes = append(ex.Notes, "30 format error: the host's journal says: "+iso.MaskText(why))
	}
}
