package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/scenarios"
)

func newRunCmd() *cobra.Command {
	var (
		tags      []string
		junitPath string
		jsonPath  string
		traceDir  string
		seed      int64
		verbose   bool
		list      bool
	)
	cmd := &cobra.Command{
		Use:   "run [FILES|DIRS|NAMES...]",
		Short: "Run scenarios (default: the built-in library) on a virtual clock and report",
		Long: `Run scenario files against a real acquirer and terminal on a virtual clock over an
in-memory network: minutes of timeouts and repeats take milliseconds, and the same seed gives
the same message trace on every run.

Arguments are scenario files (.yaml), directories (every .yaml under them) or names of
built-in library scenarios; with none, the whole library runs. The format is documented in
scenarios/README.md.

On a terminal a progress line is printed per scenario; elsewhere (CI) only failures and the
totals. Each failure shows what was expected and what happened, the masked message trace and
the seed to re-run it. --trace-dir writes each scenario's JSONL trace (the terminal's frames,
events and outcomes, the host's fault firings, the steps; card data masked) for posdrill
trace, replay and scenario from-trace.

Exit status: 0 all passed, 1 some failed, 2 a scenario file is invalid (every problem of every
file is reported as file:line:column: sentence, and nothing runs).`,
		Example: `  posdrill run                                # the built-in library
  posdrill run answer-lost-after-approval -v  # one library scenario, with its trace
  posdrill run qa/scenarios --tag reversal --junit report.xml --json report.json`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			scs, err := scenarios.Load(args...)
			if err != nil {
				var l scenarios.ErrorList
				if errors.As(err, &l) && len(l) == 1 {
					return &exitError{2, fmt.Errorf("%s; nothing was run", l[0])}
				}
				if errors.As(err, &l) {
					fmt.Fprintln(stderr, err)
					return &exitError{2, fmt.Errorf("%d problem(s) in %d scenario file(s); nothing was run", len(l), runCountFiles(l))}
				}
				return &exitError{2, err}
			}
			scs = scenarios.FilterTags(scs, tags)
			if len(scs) == 0 {
				return &exitError{2, fmt.Errorf("no scenario has any of the tags %s", strings.Join(tags, ", "))}
			}
			if list {
				for _, sc := range scs {
					fmt.Fprintf(stdout, "%-40s %s [%s]\n", sc.Name, sc.Title, strings.Join(sc.Tags, " "))
				}
				return nil
			}
			o := scenarios.Options{TraceDir: traceDir}
			if cmd.Flags().Changed("seed") {
				o.Seed = &seed
			}
			if verbose || (runIsTerminal(stdout) && os.Getenv("CI") == "") {
				o.Progress = func(r *scenarios.Result) { fmt.Fprintln(stdout, scenarios.ProgressLine(r)) }
			}
			rep := scenarios.RunAll(cmd.Context(), scs, o)
			if junitPath != "" {
				if err := runWriteReport(junitPath, rep.WriteJUnit); err != nil {
					return &exitError{1, fmt.Errorf("junit report: %w", err)}
				}
			}
			if jsonPath != "" {
				if err := runWriteReport(jsonPath, rep.WriteJSON); err != nil {
					return &exitError{1, fmt.Errorf("json report: %w", err)}
				}
			}
			if err := rep.WriteText(stdout, verbose); err != nil {
				return err
			}
			if !rep.Passed() {
				return &exitError{1, fmt.Errorf("%d of %d scenarios failed", rep.Failed(), len(rep.Results))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&tags, "tag", nil, "run only scenarios with this tag (repeatable, or comma-separated)")
	f.StringVar(&junitPath, "junit", "", "write a JUnit XML report to this file")
	f.StringVar(&jsonPath, "json", "", "write a JSON report to this file")
	f.StringVar(&traceDir, "trace-dir", "", "write a JSONL trace of each scenario to DIR/NAME.jsonl (frames, events, faults fired; card data masked)")
	f.Int64Var(&seed, "seed", 0, "use this seed for every scenario instead of their own")
	f.BoolVarP(&verbose, "verbose", "v", false, "print a line and the message trace of every scenario, passed ones too")
	f.BoolVar(&list, "list", false, "list the scenarios that would run, and run nothing")
	return cmd
}

// runCountFiles counts the distinct files an error list is about.
func runCountFiles(l scenarios.ErrorList) int {
	seen := map[string]bool{}
	for _, e := range l {
		seen[e.Pos.File] = true
	}
	return len(seen)
}

func runWriteReport(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runIsTerminal reports whether w is a character device (an interactive terminal).
func runIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
