package scenarios

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Result is how one scenario run went.
type Result struct {
	Name  string
	Title string
	File  string
	Tags  []string
	Seed  int64 // the seed the run used: re-run with --seed to reproduce
	// External: a case of CheckTerminal (posdrill check-terminal), judged on what the
	// user's terminal sent.
	External bool

	Passed   bool
	Failures []Failure
	// Host is the external host the scenario ran against ("" for the embedded acquirer).
	Host string
	// Skipped, when set, says why the scenario was not run at all (Passed is true: it did
	// not fail); Skips are the expectations of a run that could not be checked, and why.
	Skipped string
	Skips   []Skip
	// Err is set when the run could not go on (set-up failed, a step stalled or the
	// real-time limit passed); it is also reported as a failure.
	Err string

	Steps    int           // steps executed
	SimTime  time.Duration // virtual time from start to the end of the last step
	WallTime time.Duration // real time of the whole run, set-up and teardown included

	ResponseCodes []string // DE39 values of the answers the terminal received, sorted
	FaultActions  []string // host fault actions that fired, sorted
	DeviceFaults  []string // terminal device faults injected, sorted
	Outcomes      []string // outcome kinds of the steps, sorted

	Trace []string // the masked message trace: steps, frames, events, host faults
}

// Failure is one expectation that did not hold.
type Failure struct {
	Step  int    // 0-based step index; -1 for the final expect and run errors
	Label string // e.g. "step 3 (sale s1) at library/x.yaml:12:5"
	What  string // the key: outcome, flow, ledger visa-ok, ...
	// Message reads "expected X, got Y"; Diff, when set, is a go-cmp diff (-expected +got).
	Message string
	Diff    string
}

func (f Failure) String() string {
	s := f.Label + ": " + f.What + ": " + f.Message
	if f.Diff != "" {
		s += "\n" + indent(strings.TrimRight(f.Diff, "\n"), "    ")
	}
	return s
}

// FailureText is every failure, then the seed and the trace: what a person needs to see
// why the scenario failed and re-run it.
func (r *Result) FailureText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s (%s) failed — seed %d (re-run: %s)\n", r.Name, r.File, r.Seed, r.RerunCommand())
	for _, f := range r.Failures {
		b.WriteString(indent(f.String(), "  "))
		b.WriteByte('\n')
	}
	b.WriteString("  trace:\n")
	for _, l := range r.Trace {
		b.WriteString("    ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// RerunCommand is the command line that runs this scenario again with the same seed.
func (r *Result) RerunCommand() string {
	if r.External {
		return fmt.Sprintf("posdrill check-terminal %s --seed %d", r.Name, r.Seed)
	}
	target := r.File
	if strings.HasPrefix(r.File, libraryDir+"/") {
		target = r.Name
	}
	return fmt.Sprintf("posdrill run %s --seed %d", target, r.Seed)
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// Report is the results of a run of several scenarios.
type Report struct {
	Results []*Result
	// SeedOverride is the --seed given, if any (nil: each scenario used its own).
	SeedOverride *int64
	WallTime     time.Duration // of the whole run (scenarios may run in parallel)
	// Invalid holds the problems of scenario files that were not valid; when set, nothing ran
	// and the reports list these instead.
	Invalid ErrorList
}

// Passed reports whether every scenario passed.
func (r *Report) Passed() bool { return r.Failed() == 0 && len(r.Invalid) == 0 }

// SkippedScenarios counts the scenarios that were not run.
func (r *Report) SkippedScenarios() int {
	n := 0
	for _, res := range r.Results {
		if res.Skipped != "" {
			n++
		}
	}
	return n
}

// SkippedChecks counts the expectations that could not be checked in the scenarios that ran.
func (r *Report) SkippedChecks() int {
	n := 0
	for _, res := range r.Results {
		n += len(res.Skips)
	}
	return n
}

// Failed counts the failed scenarios.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.Passed {
			n++
		}
	}
	return n
}

// SimTime is the total virtual time of all scenarios.
func (r *Report) SimTime() time.Duration {
	var d time.Duration
	for _, res := range r.Results {
		d += res.SimTime
	}
	return d
}

// Covered returns the sorted union of a per-result list.
func (r *Report) covered(get func(*Result) []string) []string {
	seen := map[string]bool{}
	for _, res := range r.Results {
		for _, s := range get(res) {
			seen[s] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ResponseCodes are the DE39 values seen across the run.
func (r *Report) ResponseCodes() []string {
	return r.covered(func(res *Result) []string { return res.ResponseCodes })
}

// FaultActions are the host fault actions that fired across the run.
func (r *Report) FaultActions() []string {
	return r.covered(func(res *Result) []string { return res.FaultActions })
}

// DeviceFaults are the terminal device faults injected across the run.
func (r *Report) DeviceFaults() []string {
	return r.covered(func(res *Result) []string { return res.DeviceFaults })
}

// Outcomes are the terminal outcome kinds seen across the run.
func (r *Report) Outcomes() []string {
	return r.covered(func(res *Result) []string { return res.Outcomes })
}

// SeedText says which seed the run used, for every report.
func (r *Report) SeedText() string {
	if r.SeedOverride != nil {
		return fmt.Sprintf("seed %d (all scenarios)", *r.SeedOverride)
	}
	// Every report names every seed: a passing run must be as easy to re-run as a failing one.
	seeds := map[int64]bool{}
	var parts []string
	for _, res := range r.Results {
		seeds[res.Seed] = true
		parts = append(parts, fmt.Sprintf("%s=%d", res.Name, res.Seed))
	}
	if len(seeds) == 1 {
		return fmt.Sprintf("seed %d", r.Results[0].Seed)
	}
	return "seeds (override with --seed N): " + strings.Join(parts, " ")
}

// roundDuration keeps reports readable and stable.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}
