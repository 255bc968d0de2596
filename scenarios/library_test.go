package scenarios

import (
	"testing"

	"github.com/posdrill/posdrill/simulator/guidance"
)

// TestLibrary runs every built-in scenario as a subtest: `go test ./...` fails when one does.
func TestLibrary(t *testing.T) {
	RunLibraryT(t)
}

// TestLibraryBilingual: every library scenario gives its title, and its drill the title,
// situation, debrief and the customer's lines, in both English and Simplified Chinese — the
// Chinese really Chinese, the English not Chinese.
func TestLibraryBilingual(t *testing.T) {
	scs, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scs {
		t.Run(sc.Name, func(t *testing.T) {
			texts := map[string]guidance.Text{"title": sc.Title}
			if d := sc.Drill; d != nil {
				texts["drill title"], texts["situation"], texts["debrief"] = d.Title, d.Situation, d.Debrief
				if d.Customer != nil {
					texts["says"] = d.Says
				}
			}
			for what, tx := range texts {
				if m := tx.Missing(); len(m) > 0 {
					t.Errorf("%s lacks %v: %#v", what, m, tx)
				}
				if tx.Zh != "" && !guidance.HasHan(tx.Zh) {
					t.Errorf("%s (zh) has no Chinese: %q", what, tx.Zh)
				}
				// A debrief may quote what a Chinese host or screen says; the rest may not.
				if what != "debrief" && guidance.HasHan(tx.En) {
					t.Errorf("%s (en) has Chinese: %q", what, tx.En)
				}
			}
		})
	}
}
