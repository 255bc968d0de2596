package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/scenarios/soak"
)

// newSoakCmd is `posdrill soak`: thousands of transactions under random faults, then the
// invariants (scenarios/soak).
func newSoakCmd() *cobra.Command {
	var (
		o    soak.Options
		seed int64
	)
	cmd := &cobra.Command{
		Use:   "soak [--transactions N] [--terminals N] [--seed N] [--fault-rate 0.1]",
		Short: "Run many transactions under random faults and check that nothing is lost or charged twice",
		Long: `soak runs simulated terminals against the mock acquirer over loopback TCP, with seeded
random host faults (every fault action on sales and refunds, lost answers on reversals,
refused connections) and terminal power losses, then drains every SAF queue and checks:
per card, balance = opening − approved sales + refunds; every approval the customer saw is
charged exactly once; nothing the terminal ended as failed is charged; no host charge is
unknown to its terminal; every SAF queue drains.

The seed is printed first; rerun with --seed to get the same operations and fault rolls.
Exit status: 0 all invariants hold, 1 a violation (details printed), 2 invalid usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Transactions <= 0 {
				return &exitError{code: 2, err: fmt.Errorf("--transactions must be positive")}
			}
			if o.Terminals < 1 || o.Terminals > 9 {
				return &exitError{code: 2, err: fmt.Errorf("--terminals must be 1 to 9")}
			}
			if o.FaultRate < 0 || o.FaultRate > 1 {
				return &exitError{code: 2, err: fmt.Errorf("--fault-rate must be between 0 and 1")}
			}
			if !cmd.Flags().Changed("seed") {
				seed = time.Now().UnixNano() % 1_000_000_000
			}
			o.Seed = seed
			o.Progress = cmd.ErrOrStderr()
			fmt.Fprintf(cmd.OutOrStdout(), "seed %d\n", seed)
			rep, err := soak.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			rep.WriteText(cmd.OutOrStdout())
			if !rep.OK() {
				return &exitError{code: 1, err: fmt.Errorf("%d invariant violations (seed %d)", len(rep.Violations), seed)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Transactions, "transactions", soak.DefaultTransactions, "operations (sales, refunds, voids) over all terminals")
	f.IntVar(&o.Terminals, "terminals", soak.DefaultTerminals, "terminals running at once (1-9)")
	f.Int64Var(&seed, "seed", 0, "seed of the operations and fault rolls (default: from the time, printed)")
	f.Float64Var(&o.FaultRate, "fault-rate", soak.DefaultFaultRate, "probability that a request meets a host fault (0 = none)")
	f.DurationVar(&o.ResponseTimeout, "response-timeout", soak.DefaultResponseTimeout, "the terminals' response timeout")
	f.StringVar(&o.Dir, "dir", "", "keep the host database and terminal journals here (default: a temporary directory, kept only after a violation)")
	return cmd
}
