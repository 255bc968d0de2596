package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
)

func newFaultCmd() *cobra.Command {
	var admin, token string
	cmd := &cobra.Command{
		Use:   "fault",
		Short: "List, add and clear the fault rules of a running acquirer or fault proxy",
		Long: `Change a running acquirer's (or posdrill proxy's) fault rules through its admin API.
A proxy accepts only the actions it can perform on messages in transit.

Rules come from a YAML file (the same format as 'posdrill acquirer --faults') or from flags.
A rule that does not validate is refused and the running rules stay as they were.`,
	}
	cmd.PersistentFlags().StringVar(&admin, "admin", "127.0.0.1:8584", "admin API of the acquirer or proxy: HOST:PORT or http(s)://HOST:PORT")
	cmd.PersistentFlags().StringVar(&token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token for the admin API (env POSDRILL_ADMIN_TOKEN)")
	// --token was this flag's name before one name per idea (docs/CLI.md); scripts keep working.
	cmd.PersistentFlags().StringVar(&token, "token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "")
	_ = cmd.PersistentFlags().MarkDeprecated("token", "use --admin-token")
	client := func() (*acquirer.AdminClient, error) {
		c, err := acquirer.NewAdminClient(admin, token)
		if err != nil {
			return nil, usageError(fmt.Errorf("--admin: %w", err))
		}
		return c, nil
	}

	var (
		file string
		r    fault.Rule
		mti  []string
		prob float64
	)
	add := &cobra.Command{
		Use:   "add [--file RULES.yaml | --action ACTION [match and param flags]]",
		Short: "Add fault rules (from a YAML file or from flags)",
		Long: `Add fault rules to a running acquirer (or proxy) through its admin API (--admin,
--admin-token). Either --file RULES.yaml (- for standard input), a YAML list of rules:

  - name: issuer down for visa
    match: {mti: "0200", card: visa-ok}     # also terminal, amount, amount_min/max, pan_prefix,
                                              # processing_code, entry_mode
    action: decline
    params: {code: "91"}
    after: 0                                  # let the first N matches through
    count: 3                                  # fire at most N times (0: always)
    probability: 1

or one rule from the flags below (--action and its match and parameter flags). Amounts are
major units (25.00). A rule that does not validate, or that names a card the acquirer does
not have (with "did you mean"), is refused whole (exit 2) and the running rules stay as
they were. It prints the ids of the rules added ("added f3 f4").`,
		Example: `  posdrill fault add --action drop_after_commit --mti 0200 --card visa-ok --count 1
  posdrill fault add --action decline --code 05 --terminal TERM0002
  posdrill fault add --file faults.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rules []fault.Rule
			switch {
			case file != "" && r.Action != "":
				return usageErrorf("give --file or --action, not both")
			case file != "":
				raw, name, err := readInputArg(cmd.InOrStdin(), "--file", file, bounded.MaxDocument)
				if err != nil {
					return err
				}
				if rules, err = fault.ParseYAML(raw, name); err != nil {
					return usageError(err) // an invalid rules file: input error
				}
			case r.Action != "":
				r.Match.MTI = mti
				if cmd.Flags().Changed("probability") {
					r.Probability = &prob
				}
				rules = []fault.Rule{r}
			default:
				return usageErrorf("nothing to add: give --file RULES.yaml or --action ACTION")
			}
			c, err := client()
			if err != nil {
				return err
			}
			ids, err := c.AddFaults(cmd.Context(), rules...)
			if err != nil {
				return adminCallError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s\n", strings.Join(ids, " "))
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&file, "file", "", "YAML file of rules")
	f.StringVar(&r.Name, "name", "", "rule name (shown in the journal and reports)")
	f.StringVar(&r.Action, "action", "", "action: "+strings.Join(fault.Actions(), ", ")+", or an alias such as issuer_down")
	f.StringSliceVar(&mti, "mti", nil, "match MTI (repeatable)")
	f.StringVar(&r.Match.Card, "card", "", "match card name")
	f.StringVar(&r.Match.PANPrefix, "pan-prefix", "", "match leading PAN digits")
	f.StringVar(&r.Match.STAN, "stan", "", "match STAN (DE11, 6 digits)")
	f.StringVar(&r.Match.Terminal, "terminal", "", "match terminal id (DE41)")
	f.StringVar(&r.Match.Amount, "amount", "", "match amount (major units, e.g. 25.00)")
	f.StringVar(&r.Match.ProcessingCode, "processing-code", "", "match processing code")
	f.StringVar(&r.Match.EntryMode, "entry-mode", "", "match entry mode: "+strings.Join(iso.EntryModes(), "|"))
	f.IntVar(&r.After, "after", 0, "let the first N matches through")
	f.IntVar(&r.Count, "count", 0, "fire at most N times (0: every match)")
	f.Float64Var(&prob, "probability", 1, "probability of firing on a match")
	for _, p := range fault.ParamList() { // one flag per rule parameter, from the one list
		if p.Number {
			f.IntVar(p.IntPtr(&r.Params), p.Flag, 0, p.Help)
		} else {
			f.StringVar(p.StringPtr(&r.Params), p.Flag, "", p.Help)
		}
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List the running fault rules with their match and fire counts",
		Long: `List the fault rules of a running acquirer (or proxy): id, name, action, what they match,
their parameters, and how many requests each matched and how many times it fired.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			rules, err := c.Faults(cmd.Context())
			if err != nil {
				return adminCallError(err)
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
		Long: `Remove the fault rule with that id (as fault list and fault add print it, e.g. f3), or every
rule when no id is given. An id the acquirer does not have is an error (exit 2).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			c, err := client()
			if err != nil {
				return err
			}
			if err := c.ClearFaults(cmd.Context(), id); err != nil {
				return adminCallError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "cleared")
			return nil
		},
	}
	cmd.AddCommand(add, list, clear)
	return cmd
}

// adminCallError classes an admin API failure (docs/CLI.md): a request the acquirer refused
// (4xx: a rule that does not validate, an unknown card, a wrong token) or an acquirer that
// cannot be reached is a usage or input error, exit 2; a failure of the acquirer itself, 1.
func adminCallError(err error) error {
	var ae *acquirer.AdminError
	if errors.As(err, &ae) {
		if ae.Refused() {
			return usageError(err)
		}
		return err
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return usageError(fmt.Errorf("%w (is the acquirer running, and --admin its admin address?)", err))
	}
	return err
}
