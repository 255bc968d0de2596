package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/acquirer/fault"
)

// adminClient talks to a running acquirer's admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func newAdminClient(addr, token string) *adminClient {
	base := addr
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	return &adminClient{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// do sends a request and decodes a JSON answer into out (when not nil). Non-2xx answers
// become errors carrying the server's message.
func (c *adminClient) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("admin API %s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return fmt.Errorf("admin API %s %s: %s: %s", method, path, resp.Status, e.Error)
		}
		return fmt.Errorf("admin API %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("admin API %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

func newFaultCmd() *cobra.Command {
	var admin, token string
	cmd := &cobra.Command{
		Use:   "fault",
		Short: "List, add and clear the fault rules of a running acquirer",
		Long: `Change a running acquirer's fault rules through its admin API.

Rules come from a YAML file (the same format as 'posdrill acquirer --faults') or from flags.
A rule that does not validate is refused and the running rules stay as they were.`,
	}
	cmd.PersistentFlags().StringVar(&admin, "admin", "127.0.0.1:8584", "admin API address of the acquirer")
	cmd.PersistentFlags().StringVar(&token, "token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token for the admin API (env POSDRILL_ADMIN_TOKEN)")

	var (
		file                   string
		r                      fault.Rule
		mti                    []string
		prob                   float64
		code, amount           string
		ms, nbytes, chunk, gap int
	)
	add := &cobra.Command{
		Use:   "add [--file RULES.yaml | --action ACTION [match and param flags]]",
		Short: "Add fault rules (from a YAML file or from flags)",
		Example: `  posdrill fault add --action drop_after_commit --mti 0200 --card visa-ok --count 1
  posdrill fault add --action decline --code 05 --terminal TERM0002
  posdrill fault add --file faults.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rules []fault.Rule
			switch {
			case file != "" && r.Action != "":
				return fmt.Errorf("give --file or --action, not both")
			case file != "":
				raw, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				if rules, err = fault.ParseYAML(raw, file); err != nil {
					return err
				}
			case r.Action != "":
				r.Match.MTI = mti
				r.Params = fault.Params{Code: code, MS: ms, Bytes: nbytes, Chunk: chunk, GapMS: gap, Amount: amount}
				if cmd.Flags().Changed("probability") {
					r.Probability = &prob
				}
				rules = []fault.Rule{r}
			default:
				return fmt.Errorf("nothing to add: give --file RULES.yaml or --action ACTION")
			}
			var out struct {
				IDs []string `json:"ids"`
			}
			if err := newAdminClient(admin, token).do(http.MethodPost, "/faults", rules, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s\n", strings.Join(out.IDs, " "))
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&file, "file", "", "YAML file of rules")
	f.StringVar(&r.Name, "name", "", "rule name (shown in the journal and reports)")
	f.StringVar(&r.Action, "action", "", "action: decline, delay, no_response, drop_before_processing, drop_after_commit, reset, truncate_response, split_response, garble_response, wrong_stan, duplicate_response, refuse_connections, partial_approval, or an alias such as issuer_down")
	f.StringSliceVar(&mti, "mti", nil, "match MTI (repeatable)")
	f.StringVar(&r.Match.Card, "card", "", "match card name")
	f.StringVar(&r.Match.PANPrefix, "pan-prefix", "", "match leading PAN digits")
	f.StringVar(&r.Match.Terminal, "terminal", "", "match terminal id (DE41)")
	f.StringVar(&r.Match.Amount, "amount", "", "match amount (major units, e.g. 25.00)")
	f.StringVar(&r.Match.ProcessingCode, "processing-code", "", "match processing code")
	f.StringVar(&r.Match.EntryMode, "entry-mode", "", "match entry mode: chip|contactless|swipe|fallback|keyed|qr")
	f.IntVar(&r.After, "after", 0, "let the first N matches through")
	f.IntVar(&r.Count, "count", 0, "fire at most N times (0: every match)")
	f.Float64Var(&prob, "probability", 1, "probability of firing on a match")
	f.StringVar(&code, "code", "", "decline: response code (DE39)")
	f.IntVar(&ms, "ms", 0, "delay / refuse_connections: milliseconds")
	f.IntVar(&nbytes, "bytes", 0, "truncate_response: bytes to write")
	f.IntVar(&chunk, "chunk", 0, "split_response: chunk size")
	f.IntVar(&gap, "gap-ms", 0, "split_response: gap between chunks")
	f.StringVar(&amount, "partial-amount", "", "partial_approval: approved amount (major units)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the running fault rules with their match and fire counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rules []fault.Rule
			if err := newAdminClient(admin, token).do(http.MethodGet, "/faults", nil, &rules); err != nil {
				return err
			}
			if len(rules) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no fault rules")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tACTION\tMATCH\tMATCHED\tFIRED")
			for _, r := range rules {
				m, _ := json.Marshal(r.Match)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", r.ID, r.Name, r.Action, m, r.Matched, r.Fired)
			}
			return tw.Flush()
		},
	}
	clear := &cobra.Command{
		Use:   "clear [ID]",
		Short: "Remove one rule by id, or all rules",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/faults"
			if len(args) == 1 {
				path += "/" + args[0]
			}
			if err := newAdminClient(admin, token).do(http.MethodDelete, path, nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "cleared")
			return nil
		},
	}
	cmd.AddCommand(add, list, clear)
	return cmd
}
