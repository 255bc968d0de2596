package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/posdrill/posdrill/iso/clock"
)

// TestFailingScenarioFails runs a scenario whose expectations are wrong and checks that the
// run fails, with one failure per broken expectation, each saying what was expected and
// what happened, the seed, and a masked trace.
func TestFailingScenarioFails(t *testing.T) {
	sc, err := ParseFile("testdata/failing/wrong-expectations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), sc, Options{TempDir: t.TempDir()})
	if res.Passed {
		t.Fatal("a scenario with wrong expectations passed")
	}
	var whats []string
	for _, f := range res.Failures {
		whats = append(whats, f.What)
	}
	if diff := cmp.Diff([]string{"outcome", "flow", "ledger visa-ok", "journal", "saf"}, whats); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	byWhat := map[string]Failure{}
	for _, f := range res.Failures {
		byWhat[f.What] = f
	}
	checks := map[string][]string{
		"outcome":        {`expected "timed_out_reversed", got "approved"`},
		"ledger visa-ok": {"expected available 10000.00, got 9975.00"},
		"journal":        {"expected {stan 000002, state reversed}, got {stan 000002, mti 0200, card visa-ok, state approved"},
		"flow": {`expected ["0800 → 0810 00", "0200 → (none)", "0420 → 0430 00"], got ["0800 → 0810 00", "0200 → 0210 00"]`,
			"-expected +got"},
		"saf": {`expected ["0420"], got []`},
	}
	for what, wants := range checks {
		f := byWhat[what]
		text := f.Message + "\n" + f.Diff
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s failure does not say %q:\n%s", what, w, text)
			}
		}
	}
	// go-cmp varies the spacing of its diffs on purpose: look at the marks only.
	marks := map[string]string{}
	for _, line := range strings.Split(byWhat["flow"].Diff, "\n") {
		l := strings.TrimSpace(line)
		if len(l) > 1 && (l[0] == '-' || l[0] == '+') && strings.Contains(l, `"`) {
			marks[strings.Trim(strings.TrimSpace(l[1:]), `",`)] = l[:1]
		}
	}
	if diff := cmp.Diff(map[string]string{"0200 → (none)": "-", "0420 → 0430 00": "-", "0200 → 0210 00": "+"}, marks); diff != "" {
		t.Errorf("flow diff marks (-want +got):\n%s\n%s", diff, byWhat["flow"].Diff)
	}
	if got := byWhat["outcome"].Label; got != "step 1 (sale sale) at testdata/failing/wrong-expectations.yaml:6:5" {
		t.Errorf("label = %q", got)
	}
	if got := byWhat["saf"].Label; got != "final expect at testdata/failing/wrong-expectations.yaml:16:3" {
		t.Errorf("final label = %q", got)
	}
	text := res.FailureText()
	for _, w := range []string{"seed 99", "posdrill run testdata/failing/wrong-expectations.yaml --seed 99", "trace:", "→ 0200 stan=000002", "pan=411111******1111"} {
		if !strings.Contains(text, w) {
			t.Errorf("failure text lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "4111111111111111") {
		t.Errorf("failure text holds a full card number:\n%s", text)
	}
}

// TestLibraryDeterministic runs the whole library twice, in parallel, and requires the
// same traces, outcomes and simulated times: same seed, same run.
func TestLibraryDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the library twice")
	}
	scs, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	a := RunAll(context.Background(), scs, Options{TempDir: t.TempDir(), Parallel: 2})
	b := RunAll(context.Background(), scs, Options{TempDir: t.TempDir(), Parallel: 2})
	for i := range scs {
		ra, rb := a.Results[i], b.Results[i]
		if !ra.Passed || !rb.Passed {
			t.Errorf("%s: did not pass (see TestLibrary)", ra.Name)
			continue
		}
		if diff := cmp.Diff(ra.Trace, rb.Trace); diff != "" {
			t.Errorf("%s: trace differs between two runs with seed %d (-first +second):\n%s", ra.Name, ra.Seed, diff)
		}
		if ra.SimTime != rb.SimTime {
			t.Errorf("%s: simulated %s then %s", ra.Name, ra.SimTime, rb.SimTime)
		}
	}
	// A library that simulates real shop time in little real time is the point.
	if sim := a.SimTime(); sim < 10*time.Minute {
		t.Errorf("library simulates %s, want more than 10 minutes", sim)
	}
	t.Logf("library: %d scenarios, simulated %s in %s", len(scs), a.SimTime(), a.WallTime)
}

// TestSeedOverride: --seed changes the host's random choices (here the RRN) and is what
// the result reports.
func TestSeedOverride(t *testing.T) {
	scs, err := Load("approved-sale")
	if err != nil {
		t.Fatal(err)
	}
	seed := int64(12345)
	own := Run(context.Background(), scs[0], Options{})
	other := Run(context.Background(), scs[0], Options{Seed: &seed})
	if !own.Passed || !other.Passed {
		t.Fatalf("runs failed:\n%s\n%s", own.FailureText(), other.FailureText())
	}
	if other.Seed != seed || own.Seed != scs[0].Seed {
		t.Errorf("seeds reported %d and %d", own.Seed, other.Seed)
	}
	if cmp.Equal(own.Trace, other.Trace) {
		t.Error("another seed gave the very same trace (RRNs should differ)")
	}
}

// TestReports checks the JUnit XML (valid, one testcase per scenario, failures with the
// diff and trace in the body) and the JSON report (per-scenario results and coverage).
func TestReports(t *testing.T) {
	pass, err := Load("approved-sale", "answer-lost-after-approval")
	if err != nil {
		t.Fatal(err)
	}
	fail, err := ParseFile("testdata/failing/wrong-expectations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scs := append(pass, fail)
	rep := RunAll(context.Background(), scs, Options{TempDir: t.TempDir()})

	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []struct {
			Tests int `xml:"tests,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Time    string `xml:"time,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Body    string `xml:",chardata"`
				} `xml:"failure"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("JUnit report is not valid XML: %v\n%s", err, buf.String())
	}
	if doc.Tests != 3 || doc.Failures != 1 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 3 {
		t.Fatalf("JUnit counts: tests %d failures %d suites %d", doc.Tests, doc.Failures, len(doc.Suites))
	}
	for i, c := range doc.Suites[0].Cases {
		if c.Name != scs[i].Name || c.Time == "" {
			t.Errorf("testcase %d = %q time %q", i, c.Name, c.Time)
		}
		if (c.Failure != nil) != (scs[i] == fail) {
			t.Errorf("testcase %s: failure element present = %v", c.Name, c.Failure != nil)
		}
		if !strings.Contains(c.SystemOut, "seed ") {
			t.Errorf("testcase %s: no seed in system-out", c.Name)
		}
	}
	f := doc.Suites[0].Cases[2].Failure
	if !strings.HasPrefix(f.Message, `outcome: expected "timed_out_reversed", got "approved" (and 4 more)`) ||
		!strings.Contains(f.Body, "trace:") || !strings.Contains(f.Body, "--seed 99") || !strings.Contains(f.Body, "-expected +got") {
		t.Errorf("failure message %q, body:\n%s", f.Message, f.Body)
	}
	if strings.Contains(buf.String(), "4111111111111111") {
		t.Error("JUnit report holds a full card number")
	}

	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var j JSONReport
	if err := json.Unmarshal(buf.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if j.Scenarios != 3 || j.Passed != 2 || j.Failed != 1 || j.Seed != nil || len(j.Results) != 3 {
		t.Errorf("JSON totals: %+v", j)
	}
	if diff := cmp.Diff([]string{"drop_after_commit"}, j.FaultActions); diff != "" {
		t.Errorf("fault actions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"00"}, j.ResponseCodes); diff != "" {
		t.Errorf("response codes (-want +got):\n%s", diff)
	}
	lost := j.Results[1]
	if lost.Name != "answer-lost-after-approval" || lost.Seed != 11 || lost.SimTimeMS != 0 || lost.WallTimeMS <= 0 || len(lost.Trace) == 0 {
		t.Errorf("JSON result: %+v", lost)
	}
	if r := j.Results[2]; r.Passed || len(r.Failures) != 5 || r.Failures[0].Step != 1 || r.Failures[4].Step != 0 ||
		!strings.HasPrefix(r.Failures[0].Label, "step 1 ") {
		t.Errorf("JSON failing result: %+v", r.Failures)
	}
	if strings.Contains(buf.String(), "4111111111111111") {
		t.Error("JSON report holds a full card number")
	}

	buf.Reset()
	if err := rep.WriteText(&buf, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "3 scenarios: 2 passed, 1 failed") || !strings.Contains(buf.String(), "seed") {
		t.Errorf("text report:\n%s", buf.String())
	}
}

// TestStallDetected drives the runner's call with a party that gives up its token and then
// waits for something that is not on the clock: nothing can ever happen, and the runner
// must say so instead of hanging.
func TestStallDetected(t *testing.T) {
	r := &runner{clk: clock.NewVirtual(DefaultStart), rec: newRecorder(DefaultStart, 30*time.Second)}
	r.clk.Hold() // the runner's token, as in main
	never := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.call(context.Background(), func(ctx context.Context) {
			r.clk.Release() // blocked: no longer busy, and no timer will wake it
			select {
			case <-never:
			case <-ctx.Done():
			}
			r.clk.Hold()
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the runner hung on a stalled step")
	}
	msg := r.stalled.Load()
	if msg == nil || !strings.Contains(*msg, "no party was busy and no timer was pending") {
		t.Fatalf("stall message = %v", msg)
	}
}

// TestNoStallWhileTimersPending: a step waiting for a timer is not a stall, however far
// in virtual time the timer is.
func TestNoStallWhileTimersPending(t *testing.T) {
	r := &runner{clk: clock.NewVirtual(DefaultStart), rec: newRecorder(DefaultStart, 30*time.Second)}
	r.clk.Hold()
	r.call(context.Background(), func(ctx context.Context) { r.clk.Sleep(36 * time.Hour) })
	if msg := r.stalled.Load(); msg != nil {
		t.Fatalf("a sleep was taken for a stall: %s", *msg)
	}
	if got := r.clk.Now().Sub(DefaultStart); got != 36*time.Hour {
		t.Errorf("virtual time moved %s, want 36h", got)
	}
}

// BenchmarkLibrary is the wall time of the whole built-in library, run as `posdrill run`
// runs it; it also reports the simulated time per run.
func BenchmarkLibrary(b *testing.B) {
	scs, err := Library()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var sim time.Duration
	for b.Loop() {
		rep := RunAll(context.Background(), scs, Options{TempDir: dir})
		if !rep.Passed() {
			b.Fatalf("%d scenarios failed", rep.Failed())
		}
		sim = rep.SimTime()
	}
	b.ReportMetric(sim.Seconds(), "sim-s/op")
	b.ReportMetric(float64(len(scs)), "scenarios")
}
