// Command posdrill is one binary for the training UI, the mock acquirer, the terminal, the
// scenario runner and the field tools. Subcommands wire packages together, nothing else.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries a specific exit code (e.g. 2 for invalid scenario files).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		if ee, ok := err.(*exitError); ok {
			if ee.err != nil && ee.err.Error() != "" {
				fmt.Fprintln(stderr, "posdrill:", ee.err)
			}
			return ee.code
		}
		fmt.Fprintln(stderr, "posdrill:", err)
		return 1
	}
	return 0
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "posdrill",
		Short:         "Rehearse POS payment failures: a terminal, a mock acquirer that fails on purpose, and drills",
		SilenceUsage:  true,
		SilenceErrors: true,
		// With no subcommand: the training terminal on an embedded acquirer.
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd.Context(), trainOptions{seed: 1}) },
	}
	root.AddCommand(subcommands()...)
	return root
}
