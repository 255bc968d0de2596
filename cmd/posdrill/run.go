package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
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
		host      string
		admin     string
		token     string
		timeScale float64
		timeout   time.Duration
		dialect   string
		framing   string
		reset     bool
	)
	cmd := &cobra.Command{
		Use:   "run [FILES|DIRS|NAMES...]",
		Short: "Run scenarios (default: the built-in library) on a virtual clock and report",
		Long: `Run scenario files against a real acquirer and terminal on a virtual clock over an
in-memory network: minutes of timeouts and repeats take milliseconds, and the same seed gives
the same message trace on every run.

Arguments are scenario files (.yaml), directories (every .yaml under them) or names of
built-in library scenarios (posdrill run --list names them; - reads one from standard
input); with none, the whole library runs. A scenario in short:

  title: Bank approved, but the answer never arrived
  tags: [network, reversal]
  seed: 11
  faults:                                  # what the bank side does wrong
    - {name: lost, match: {mti: "0200", card: visa-ok}, action: drop_after_commit, count: 1}
  steps:                                   # what the cashier does, and what must be true
    - sale: {card: visa-ok, amount: "25.00", entry: contactless}
      expect:
        outcome: timed_out_reversed
        flow: ["0800 → 0810 00", "0200 → (none)", "0800 → 0810 00", "0420 → 0430 00"]
        ledger: {visa-ok: "10000.00"}      # the customer was not charged

Steps: ` + strings.Join(scenarios.StepKinds(), ", ") + `.
An unknown key, step, card or value is reported as file:line:column
with a suggestion. The full format (every key, the flow grammar, cards, profile overrides)
is scenarios/README.md in the repository (github.com/posdrill/posdrill).

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

--host ADDR runs the scenarios with our terminal against that ISO 8583 host instead, in real
time, one after another (a scenario whose profile sets host runs against it the same way;
the two must agree). Host faults go through a fault proxy the runner puts in front of the
host; decisions on purpose (decline, partial_approval) and ledger and journal expectations
need --admin ADDR, the admin API of a posdrill acquirer at that host: without it those
scenarios and checks are reported as skipped, each with its reason. Scenarios that restart
the host, or let more time pass than --timeout, are skipped too. --time-scale 0.01
multiplies every duration of the scenarios (profile timeouts, fault delays, advance steps).

Exit status: 0 all passed (skips are not failures, and are listed), 1 some failed, 2 a
scenario file is invalid (every problem of every file is reported as file:line:column:
sentence, and nothing runs) or --host/--admin cannot be reached.`,
		Example: `  posdrill run                                # the built-in library
  posdrill run answer-lost-after-approval -v  # one library scenario, with its trace
  posdrill run qa/scenarios --tag reversal --junit reports/r.xml --json-report reports/r.json
  posdrill run --json | jq .failed             # the JSON report on standard output
  posdrill run --host 10.0.0.5:8583            # the library against your host, real time
  posdrill run --host 127.0.0.1:8583 --admin 127.0.0.1:8584 --time-scale 0.01`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: completeScenarios,
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if admin != "" && host == "" {
				return usageErrorf("--admin: only with --host (the embedded acquirer needs no admin API)")
			}
			if timeScale <= 0 {
				return usageErrorf("--time-scale: %g is not a positive factor", timeScale)
			}
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

			scs, err := runLoad(cmd.InOrStdin(), args)
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
			for _, sc := range scs {
				if sc.External {
					return usageErrorf("%s (%s) is a case for your own terminal (terminal: external): run it with posdrill check-terminal", sc.Name, sc.File)
				}
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
			o := scenarios.Options{TraceDir: traceDir, Host: host, TimeScale: timeScale, Timeout: timeout,
				HostDialect: dialect, HostFraming: framing, ResetHost: reset}
			if _, err := iso.DialectByName(dialect); err != nil {
				return usageErrorf("--dialect: %w", err)
			}
			if _, err := iso.ParseFraming(framing); err != nil {
				return usageErrorf("--framing: %w", err)
			}
			if reset && admin == "" {
				return usageErrorf("--reset: only with --admin (it resets a posdrill acquirer through its admin API)")
			}
			if host != "" {
				if err := checkReachable(cmd.Context(), host); err != nil {
					return usageErrorf("--host: %w", err)
				}
			}
			if admin != "" {
				c, err := acquirer.NewAdminClient(admin, token)
				if err != nil {
					return usageErrorf("--admin: %w", err)
				}
				if err := c.Do(cmd.Context(), http.MethodGet, "/healthz", nil, nil); err != nil {
					return usageErrorf("--admin: %w", err)
				}
				o.Admin = c
			}
			if cmd.Flags().Changed("seed") {
				o.Seed = &seed
			}
			// Against a host the run takes real time: say how it goes, scenario by scenario.
			if verbose || host != "" || (runIsTerminal(text) && os.Getenv("CI") == "") {
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
	f.StringVar(&host, "host", "", "run against this ISO 8583 host (HOST:PORT) in real time instead of the embedded acquirer")
	f.StringVar(&admin, "admin", "", "with --host: the admin API of a posdrill acquirer at that host (decisions on purpose, ledger and journal checks)")
	f.StringVar(&token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token for --admin (env POSDRILL_ADMIN_TOKEN)")
	f.Float64Var(&timeScale, "time-scale", 1, "with --host: multiply every duration of the scenarios by this (e.g. 0.01)")
	f.StringVar(&dialect, "dialect", "ascii", "with --host: the host's dialect (scenarios whose terminal speaks another are skipped)")
	f.StringVar(&framing, "framing", "len2", "with --host: the host's framing: "+strings.Join(iso.Framings(), ", "))
	f.BoolVar(&reset, "reset", false, "with --admin: reset the posdrill acquirer's ledger and journal to its fixtures before each scenario")
	f.DurationVar(&timeout, "timeout", 0, "real-time limit per scenario (default 30s embedded, 2m against --host)")
	return cmd
}

// runLoad is scenarios.Load, with "-" for a scenario read from standard input.
func runLoad(stdin io.Reader, args []string) ([]*scenarios.Scenario, error) {
	var files []string
	dash := false
	for _, a := range args {
		if a == "-" {
			dash = true
			continue
		}
		files = append(files, a)
	}
	if !dash {
		return scenarios.Load(args...)
	}
	var scs []*scenarios.Scenario
	var errs scenarios.ErrorList
	if len(files) > 0 {
		s, err := scenarios.Load(files...)
		if err != nil && !errors.As(err, &errs) {
			return nil, err
		}
		scs = s
	}
	raw, _, err := readInputArg(stdin, "-", "-", bounded.MaxDocument)
	if err != nil {
		return nil, err
	}
	sc, err := scenarios.Parse(raw, "-")
	var l scenarios.ErrorList
	switch {
	case errors.As(err, &l):
		errs = append(errs, l...)
	case err != nil:
		return nil, err
	default:
		scs = append(scs, sc)
	}
	if len(errs) > 0 {
		return scs, errs
	}
	return scs, nil
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

// checkReachable dials addr once: a tool that must reach a host says so before it starts.
func checkReachable(ctx context.Context, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", addr, err)
	}
	return c.Close()
}
