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
  an unreadable answer instead              garble_response
  an answer with another STAN instead       wrong_stan
  answer later than --timeout               delay (the recorded gap)
  approved in part (10)                     partial_approval of the amount in DE4
  declined (DE39 not 00)                    decline with the recorded code
  a reversal the host refused               decline of the reversal, as often as recorded
  a fault record in the trace               that fault, as recorded

The same fault on consecutive requests of one kind and card (a rule that fired twice) is
one rule with a count. Each step gets the expectations of a correct terminal: a lost,
late, garbled or wrong-STAN answer must end timed_out_reversed with the reversal answered
with the code the trace shows (25 when the host never saw the request), or
reversal_pending when the host refused it; a partial approval partially_approved with the
approved amount charged; a decline declined with its code; an approval approved and
charged. An approval the terminal reversed itself becomes a void step (reason 17) or a
card_removed device fault before the sale (reason 22). The scenario is checked with the
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
		"the recording terminal's response timeout: an answer later than this was late (the scenario's terminal gets it too)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}
