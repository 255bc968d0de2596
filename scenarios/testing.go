package scenarios

import (
	"context"
	"testing"
)

// RunT runs scenario files (or directories, or library names: anything `posdrill run`
// takes) as subtests of t, one per scenario, named after it. An invalid file fails t with
// every problem at its position; a failed scenario fails its subtest with the diff, the
// seed and the masked trace. Use it to run posdrill scenarios from a project's own tests:
//
//	func TestTill(t *testing.T) { scenarios.RunT(t, "testdata/till") }
func RunT(t *testing.T, paths ...string) {
	t.Helper()
	if len(paths) == 0 {
		t.Fatal("scenarios.RunT: no paths given (use RunLibraryT for the built-in library)")
	}
	scs, err := Load(paths...)
	if err != nil {
		t.Fatalf("invalid scenarios:\n%v", err)
	}
	runT(t, scs)
}

// RunLibraryT runs the built-in library (or the named library scenarios) as subtests.
func RunLibraryT(t *testing.T, names ...string) {
	t.Helper()
	var scs []*Scenario
	var err error
	if len(names) == 0 {
		scs, err = Library()
	} else {
		scs, err = Load(names...)
	}
	if err != nil {
		t.Fatalf("invalid scenarios:\n%v", err)
	}
	runT(t, scs)
}

func runT(t *testing.T, scs []*Scenario) {
	t.Helper()
	for _, sc := range scs {
		t.Run(sc.Name, func(t *testing.T) {
			res := Run(context.Background(), sc, Options{TempDir: t.TempDir()})
			if !res.Passed {
				t.Error(res.FailureText())
				return
			}
			t.Logf("%s: simulated %s in %s (seed %d)", sc.Title, res.SimTime, roundDuration(res.WallTime), res.Seed)
		})
	}
}
