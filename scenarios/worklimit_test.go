package scenarios_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/scenarios"
)

// TestWorkLimit: scenario runs are bounded by work, not only by wall time.
//   - echoing every millisecond for 100 days is refused when the file is read;
//   - a reversal refused and repeated every millisecond for 100 days (which the parse
//     check cannot count) is stopped by the runner at MaxWork frames and events, with a
//     "work limit" failure that says so, allocating far less than a gigabyte;
//   - a healthy library scenario run alongside passes, its ledger expectations included.
func TestWorkLimit(t *testing.T) {
	echo := "title: echo every millisecond for 100 days\nprofile:\n  echo_interval: 1ms\nsteps:\n  - advance: 2400h\n"
	_, err := scenarios.Parse([]byte(echo), "echo.yaml")
	if err == nil || !errors.Is(err, scenarios.ErrInvalid) || !strings.Contains(err.Error(), "schedule about 8640000000 echo tests") {
		t.Fatalf("Parse = %v, want the scheduled echoes refused", err)
	}

	storm := `title: a reversal refused every millisecond for 100 days
profile:
  reversal_interval: 1ms
  reversal_expiry: 2400h
faults:
  - name: bank silent on the sale
    match: {mti: "0200", card: visa-ok}
    action: no_response
    count: 1
  - name: reversal refused
    match: {mti: ["0420", "0421"]}
    action: system_error
steps:
  - sale: {card: visa-ok, amount: "16.00", pin: "1234"}
  - advance: 2400h
`
	bad, err := scenarios.Parse([]byte(storm), "storm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := scenarios.Library()
	if err != nil {
		t.Fatal(err)
	}
	var healthy []*scenarios.Scenario
	for _, sc := range lib {
		if sc.Name == "answer-lost-after-approval" || sc.Name == "partial-approval" {
			healthy = append(healthy, sc)
		}
	}
	if len(healthy) != 2 {
		t.Fatalf("library scenarios not found: %d", len(healthy))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	o := scenarios.Options{TempDir: t.TempDir(), Parallel: 2}
	if raceEnabled {
		// The race detector makes each record ~20 times slower: the default limit would
		// meet the 30 s wall limit first. The bound is the same code with a smaller number.
		o.MaxWork = scenarios.MaxWork / 10
	}
	rep := scenarios.RunAll(context.Background(), append([]*scenarios.Scenario{bad}, healthy...), o)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d MiB in all, heap in use %d MiB after", alloc>>20, after.HeapInuse>>20)
	stopped := rep.Results[0]
	if stopped.Passed || !strings.Contains(stopped.Err, "work limit: stopped after") || !strings.Contains(stopped.Err, "frames and events") {
		t.Errorf("storm: passed=%v err=%q, want a work limit failure", stopped.Passed, stopped.Err)
	}
	if len(stopped.Failures) == 0 || stopped.Failures[0].What != "work limit" {
		t.Errorf("storm failures: %+v", stopped.Failures)
	}
	if alloc > 512<<20 {
		t.Errorf("the stopped run allocated %d MiB (bound 512 MiB)", alloc>>20)
	}
	for _, r := range rep.Results[1:] {
		if !r.Passed {
			t.Errorf("healthy scenario %s failed: %s", r.Name, r.FailureText())
		}
	}
}
