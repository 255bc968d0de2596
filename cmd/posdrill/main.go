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

// run executes the command line and returns the process exit status (docs/CLI.md): 0 success,
// 1 the thing tested failed, 2 usage or input error. Errors are printed as one line,
// "posdrill <command>: message".
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if line := errorLine(cmd, err); line != "" {
		fmt.Fprintln(stderr, line)
	}
	return exitCode(err)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "posdrill",
		Short: "Rehearse POS payment failures: a terminal, a mock acquirer that fails on purpose, and drills",
		Long: `posdrill: a simulated POS terminal exchanges real ISO 8583 messages over TCP with a mock
card acquirer that fails on purpose (declines, lost and late answers, resets, garbled frames,
a host that is down), so that recovery can be rehearsed and tested.

With no command it opens the training terminal (full screen, zh/en) on its own acquirer.
posdrill COMMAND --help is the reference for each command.

Every command keeps one contract: exit status 0 success, 1 the thing tested failed (a
scenario, a check, a replay difference, a payment that was not approved), 2 a usage or
input error (unknown flag, bad value, unknown name with "did you mean", unreadable or
invalid file, unreachable host); errors are one line "posdrill COMMAND: ..."; - is standard
input or output wherever a file is named; --json is JSON on standard output.

Longer documents live in the repository, github.com/posdrill/posdrill: README.md,
docs/CLI.md (this contract), docs/acquirer.md, scenarios/README.md, simulator/README.md.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		// With no subcommand: the training terminal on an embedded acquirer.
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd.Context(), trainOptions{seed: 1}) },
	}
	root.SetVersionTemplate("{{.Version}}\n")
	// Only the long form: -v means "more detail" in every command (docs/CLI.md).
	root.Flags().Bool("version", false, "print the version (module version and VCS revision) and exit")
	root.AddCommand(subcommands()...)
	// Added here rather than by cobra at Execute time, so the contract below covers them.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	applyContract(root)
	registerCompletions(root)
	return root
}
