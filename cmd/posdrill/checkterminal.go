package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator/guidance"
)

type checkTerminalFlags struct {
	listen, admin, token, cardsFile, dialect, framing, drive, lang, tid string
	junitPath, jsonPath, traceFile                                      string
	seed                                                                int64
	responseTimeout, quiet                                              time.Duration
	tags                                                                []string
	asJSON, verbose, list                                               bool
}

// newCheckTerminalCmd is `posdrill check-terminal`: our acquirer, with the user's terminal
// under test.
func newCheckTerminalCmd() *cobra.Command {
	var f checkTerminalFlags
	cmd := &cobra.Command{
		Use:   "check-terminal [CASES|FILES|DIRS...] [--drive CMD]",
		Short: "Test your own terminal: act as its host, inject failures, judge what it sends",
		Long: `check-terminal listens as the mock acquirer (--listen, any --dialect and --framing with or
without TPDU, the admin API on --admin) and runs cases against whatever terminal connects,
in real time. Each case installs the host's fault rules, then asks the cashier to act —
printed as an instruction ("Sale 25.00, card visa-ok, tap"; --lang zh or en), or run by
--drive CMD for automation — waits for the terminal, and judges what the terminal SENT: the
flow of its messages, time windows ("0400|0420 within 35s of 0200"), field rules (mandatory,
absent, equal to the original's), and rules every terminal must keep (a new STAN per
transaction, repeats keep the STAN and use the repeat MTI, reversals name their original in
DE90, DE22 matches the entry, no second sale after a 94 or a timeout unless the first was
reversed, readable frames, its own terminal id); and the host's ledger: was the customer
charged exactly once?

Arguments are names of built-in cases, case files (scenarios with terminal: external) or
directories; none runs the whole built-in suite. --list shows it.

--drive CMD runs through sh -c for each cashier action, with {type} {card} {pan} {amount}
{entry} {pin} {tid} {host} {case} {step} {ref_stan} {ref_rrn} replaced (quoted for sh) and
the same values in POSDRILL_TYPE, POSDRILL_CARD, ... A command that fails to start or is
still running at the case's limit fails the case, with its exit status and output.

--response-timeout is your terminal's response timeout: every duration in a case is written
for a 30 s one and scaled (a terminal set to 1s runs the suite in seconds).

Exit status: 0 all cases passed, 1 some failed, 2 usage or an invalid case file.`,
		Example: `  posdrill check-terminal --listen 127.0.0.1:8583                 # point your terminal here, follow the instructions
  posdrill check-terminal --drive './pos-harness {type} {card} {amount} {entry}' --junit reports/terminal.xml
  posdrill check-terminal --list                                    # the built-in cases`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: completeCases,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheckTerminal(cmd.Context(), f, args, cmd.OutOrStdout(), cmd.ErrOrStderr(), nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8583", "ISO 8583 address the terminal connects to (no host: 127.0.0.1; 0.0.0.0 for a device on the network; port 0: any free port)")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:8584", "admin HTTP address (journal, cards, faults; port 0: any free port; empty: off)")
	fl.StringVar(&f.token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token the admin API requires (env POSDRILL_ADMIN_TOKEN)")
	fl.StringVar(&f.cardsFile, "cards", "", "test cards and merchants YAML (default: the built-in set)")
	fl.StringVar(&f.dialect, "dialect", "ascii", "ISO 8583 dialect: "+strings.Join(iso.DialectNames(), ", ")+" or a moov-io JSON spec file")
	fl.StringVar(&f.framing, "framing", "len2", "length header: "+strings.Join(iso.Framings(), ", "))
	fl.StringVar(&f.drive, "drive", "", "run this command (sh -c) for each cashier action instead of printing the instruction")
	fl.StringVar(&f.lang, "lang", "", "language of the instructions: zh or en (default: from LANG)")
	fl.StringVar(&f.tid, "terminal-id", "", "the terminal's DE41 (default: whatever the first message says)")
	fl.DurationVar(&f.responseTimeout, "response-timeout", scenarios.ReferenceResponseTimeout, "your terminal's response timeout; the cases' durations scale with it")
	fl.DurationVar(&f.quiet, "quiet", scenarios.DefaultQuiet, "how long the link must be silent after an action before the case is judged")
	fl.Int64Var(&f.seed, "seed", 1, "seed for fault probabilities, RRNs and auth codes")
	fl.StringSliceVar(&f.tags, "tag", nil, "run only cases with this tag (repeatable, or comma-separated)")
	fl.StringVar(&f.junitPath, "junit", "", "write a JUnit XML report to this file (- for standard output)")
	fl.StringVar(&f.jsonPath, "json-report", "", "write the JSON report to this file (- for standard output)")
	fl.BoolVar(&f.asJSON, "json", false, "print the JSON report on standard output (the text goes to standard error)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the message trace of every case, passed ones too")
	fl.StringVar(&f.traceFile, "trace", "", "write a JSONL trace of every frame in and out and every fault fired to this file (card data masked)")
	fl.BoolVar(&f.list, "list", false, "list the cases that would run, and run nothing")
	return cmd
}

// runCheckTerminal wires the flags to scenarios.CheckTerminal. drive, when not nil,
// replaces the shell driver of --drive (tests run posdrill pay in-process).
func runCheckTerminal(ctx context.Context, f checkTerminalFlags, args []string, stdout, stderr io.Writer, drive scenarios.Driver) error {
	if err := stdoutUsers(map[string]bool{"--json": f.asJSON, "--junit": f.junitPath == "-", "--json-report": f.jsonPath == "-", "--trace": f.traceFile == "-"}); err != nil {
		return err
	}
	dialect, err := iso.DialectByName(f.dialect)
	if err != nil {
		return usageErrorf("--dialect: %w", err)
	}
	framing, err := iso.ParseFraming(f.framing)
	if err != nil {
		return usageErrorf("--framing: %w", err)
	}
	lang := f.lang
	switch lang {
	case "":
		lang = string(guidance.DetectLang(os.Getenv))
	case "zh", "en":
	default:
		return unknownName("--lang", "language", lang, []string{"zh", "en"})
	}
	if f.admin != "" {
		if err := checkAdminAddr(trace.ListenAddr(f.admin), f.token); err != nil {
			return err
		}
	}
	if f.responseTimeout <= 0 || f.quiet <= 0 {
		return usageErrorf("--response-timeout and --quiet must be longer than zero")
	}
	fixtures := cards.Builtin()
	if f.cardsFile != "" {
		if fixtures, err = cards.Load(f.cardsFile); err != nil {
			return usageErrorf("--cards: %w", err)
		}
	}
	cases, err := scenarios.LoadCases(args...)
	if err != nil {
		var l scenarios.ErrorList
		if !errors.As(err, &l) || len(l) == 1 {
			return usageErrorf("%v; nothing was run", err)
		}
		fmt.Fprintln(stderr, err)
		return usageErrorf("%d problem(s) in the cases; nothing was run", len(l))
	}
	cases = scenarios.FilterTags(cases, f.tags)
	if len(cases) == 0 {
		return usageErrorf("no case has any of the tags %s", strings.Join(f.tags, ", "))
	}
	if f.list {
		for _, sc := range cases {
			fmt.Fprintf(stdout, "%-32s %s [%s]\n", sc.Name, sc.Title, strings.Join(sc.Tags, " "))
		}
		return nil
	}
	text := stdout
	if f.asJSON || f.junitPath == "-" || f.jsonPath == "-" || f.traceFile == "-" {
		text = stderr
	}
	if err := scenarios.CasesUseCards(cases, fixtures); err != nil {
		return usageErrorf("%v (give --cards a file that has them)", err)
	}
	reports, err := openReports(stdout, f.junitPath, f.jsonPath, f.asJSON)
	if err != nil {
		return err
	}
	defer reports.close()

	var tw *trace.Writer
	if f.traceFile != "" {
		w, closeTrace, err := openTraceFlag(stdout, f.traceFile)
		if err != nil {
			return usageErrorf("--trace: %w", err)
		}
		tw = w
		defer func() {
			if err := closeTrace(); err != nil {
				fmt.Fprintln(stderr, "posdrill check-terminal:", err)
			}
		}()
	}
	if drive == nil && f.drive != "" {
		drive = scenarios.ShellDriver(f.drive)
	}
	isoLn, err := net.Listen("tcp", trace.ListenAddr(f.listen))
	if err != nil {
		return usageErrorf("--listen: %w", err)
	}
	o := scenarios.TerminalOptions{Listener: isoLn, AdminToken: f.token, Dialect: dialect, Framing: framing,
		Cards: fixtures, Seed: f.seed, TerminalID: f.tid, ResponseTimeout: f.responseTimeout, Quiet: f.quiet,
		Lang: lang, Drive: drive, Out: text, Trace: tw,
		Progress: func(r *scenarios.Result) { fmt.Fprintln(text, scenarios.ProgressLine(r)) }}
	adminAddr := "off"
	if f.admin != "" {
		adminLn, err := net.Listen("tcp", trace.ListenAddr(f.admin))
		if err != nil {
			isoLn.Close()
			return usageErrorf("--admin: %w", err)
		}
		o.Admin, adminAddr = adminLn, adminLn.Addr().String()
	}
	fmt.Fprintf(text, "listening iso=%s admin=%s\n", isoLn.Addr(), adminAddr)
	fmt.Fprintf(text, "%d case(s); point the terminal under test at %s (%s, %s)\n", len(cases), isoLn.Addr(), dialect.Name, f.framing)
	rep, err := scenarios.CheckTerminal(ctx, cases, o)
	if err != nil && rep == nil {
		return err
	}
	if err := reports.write(rep); err != nil {
		return err
	}
	if err := rep.WriteText(text, f.verbose); err != nil {
		return err
	}
	if !rep.Passed() {
		return failed(fmt.Errorf("%d of %d cases failed", rep.Failed(), len(rep.Results)))
	}
	return nil
}
