package scenarios

import "testing"

func TestTerminalSuiteParses(t *testing.T) {
	scs, err := TerminalSuite()
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) < 15 {
		t.Fatalf("the built-in suite has %d cases, want at least 15", len(scs))
	}
	for _, sc := range scs {
		if !sc.External || sc.Limit <= 0 {
			t.Errorf("%s: external %v limit %s", sc.Name, sc.External, sc.Limit)
		}
	}
}
