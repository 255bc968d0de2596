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
		asJSON    bool
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

Reports: --junit FILE (JUnit XML) and --json-report FILE (JSON; steps numbered from 1 as in
the text); - writes to standard output, missing directories are created, and both files
are opened before anything runs, so a bad path fails at once. An invalid scenario file
still gets both reports (a JUnit <error> per file). --json prints the JSON report on
standard output and moves the text to standard error.

Exit status: 0 all passed, 1 some failed, 2 a scenario file is invalid (every problem of every
file is reported as file:line:column: sentence, and nothing runs).`,
		Example: `  posdrill run                                # the built-in library
  posdrill run answer-lost-after-approval -v  # one library scenario, with its trace
  posdrill run qa/scenarios --tag reversal --junit reports/r.xml --json-report reports/r.json
  posdrill run --json | jq .failed             # the JSON report on standard output`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: completeScenarios,
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := stdoutUsers(map[string]bool{"--json": asJSON, "--junit": junitPath == "-", "--json-report": jsonPath == "-"}); err != nil {
				return err
			}
			if asJSON {
				for _, a := range args {
					if _, err := os.Stat(a); err != nil && strings.HasSuffix(a, ".json") {
						return usageErrorf("%s: --json prints the report on standard output and takes no file; write a file with --json-report %s", a, a)
					}
				}
			}
			// Report files are opened before anything runs: a path that cannot be written
			// fails now, and an invalid scenario file still leaves a report saying so.
			if list {
				junitPath, jsonPath = "", ""
			}
			reports, err := openReports(stdout, junitPath, jsonPath, asJSON && !list)
			if err != nil {
				return err
			}
			defer reports.close()
			if traceDir != "" && !list {
				if err := os.MkdirAll(traceDir, 0o755); err != nil {
					return usageErrorf("--trace-dir: %w", err)
				}
			}
			writeReports := reports.write
			// With --json, stdout carries only JSON; the human text goes to stderr.
			text := stdout
			if asJSON || junitPath == "-" || jsonPath == "-" {
				text = stderr
			}

			scs, err := scenarios.Load(args...)
			if err != nil {
				var l scenarios.ErrorList
				if !errors.As(err, &l) {
					return usageError(err)
				}
				if werr := writeReports(&scenarios.Report{Invalid: l}); werr != nil {
					return werr
				}
				if len(l) == 1 {
					return usageErrorf("%s; nothing was run", l[0])
				}
				fmt.Fprintln(stderr, err)
				return usageErrorf("%d problem(s) in %d scenario file(s); nothing was run", len(l), len(l.Files()))
			}
			scs = scenarios.FilterTags(scs, tags)
			if len(scs) == 0 {
				return usageErrorf("no scenario has any of the tags %s", strings.Join(tags, ", "))
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
			if verbose || (runIsTerminal(text) && os.Getenv("CI") == "") {
				o.Progress = func(r *scenarios.Result) { fmt.Fprintln(text, scenarios.ProgressLine(r)) }
			}
			rep := scenarios.RunAll(cmd.Context(), scs, o)
			if err := writeReports(rep); err != nil {
				return err
			}
			if err := rep.WriteText(text, verbose); err != nil {
				return err
			}
			if !rep.Passed() {
				return failed(fmt.Errorf("%d of %d scenarios failed", rep.Failed(), len(rep.Results)))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&tags, "tag", nil, "run only scenarios with this tag (repeatable, or comma-separated)")
	f.StringVar(&junitPath, "junit", "", "write a JUnit XML report to this file (- for standard output; directories are created)")
	f.BoolVar(&asJSON, "json", false, "print the JSON report on standard output (the text goes to standard error)")
	f.StringVar(&jsonPath, "json-report", "", "write the JSON report to this file (- for standard output)")
	f.StringVar(&traceDir, "trace-dir", "", "write a JSONL trace of each scenario to DIR/NAME.jsonl (frames, events, faults fired; card data masked)")
	f.Int64Var(&seed, "seed", 0, "use this seed for every scenario instead of their own")
	f.BoolVarP(&verbose, "verbose", "v", false, "print a line and the message trace of every scenario, passed ones too")
	f.BoolVar(&list, "list", false, "list the scenarios that would run, and run nothing")
	return cmd
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
