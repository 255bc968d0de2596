package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator"
)

// newScenarioCmd is the "scenario" group. It holds from-trace; other scenario tools can be
// added to it with AddCommand.
func newScenarioCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "Scenario tools (from-trace)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError(fmt.Errorf("scenario needs a subcommand: from-trace"))
		},
	}
	cmd.AddCommand(newScenarioFromTraceCmd())
	return cmd
}

func newScenarioFromTraceCmd() *cobra.Command {
	var mapFile, name string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "from-trace TRACE > case.yaml",
		Short: "Write a scenario that reproduces a trace's flow and failure, with what the terminal must do",
		Long: `Read a trace (record, import-jpos, or --trace of the acquirer, terminal or runner) and
write a scenario for posdrill run that reproduces it: each sale, refund, balance inquiry and
pre-authorization the terminal sent becomes a step with the same card (masked card numbers
are mapped to the built-in test cards, or by --map), amount and entry mode; each failure
becomes a fault rule for that request:

  answer missing, connection cut after it   drop_after_commit
  answer missing, connection kept           no_response
  answer later than --timeout               delay (the recorded gap)
  declined (DE39 not 00)                    decline with the recorded code
  a fault record in the trace               that fault, as recorded

and each step gets the expectations of a correct terminal: a lost or late answer must end
timed_out_reversed with the reversal acknowledged and the card not charged; a decline
declined with its code; an approval approved and charged. The scenario is checked with the
scenario parser before it is printed.`,
		Example: `  posdrill scenario from-trace shop.jsonl > lost-answer.yaml && posdrill run lost-answer.yaml`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := scenarios.FromTraceOptions{Name: name, Cards: cards.Builtin(), ResponseTimeout: timeout, File: filepath.Base(args[0])}
			if args[0] == "-" {
				o.File = "stdin.jsonl"
			}
			if mapFile != "" {
				m, err := loadMappingArg(cmd.InOrStdin(), "--map", mapFile)
				if err != nil {
					return err
				}
				o.Map = m
			}
			recs, err := readTraceArg(cmd.InOrStdin(), "TRACE", args[0])
			if err != nil {
				return err
			}
			out, err := scenarios.FromTrace(recs, o)
			if err != nil {
				return &exitError{1, err}
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&mapFile, "map", "", "mapping file for masked PANs (as for replay)")
	cmd.Flags().StringVar(&name, "name", "", "scenario name (default: from the trace file name)")
	cmd.Flags().DurationVar(&timeout, "timeout", simulator.DefaultProfile().ResponseTimeout,
		"the terminal's response timeout: an answer later than this was late")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}
