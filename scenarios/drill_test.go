package scenarios

import (
	"slices"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/simulator"
)

// TestDrillActionsOneVocabulary: a drill may name every action the training UI can detect
// or the trainee can declare, and nothing else. other_payment (the customer pays cash) used
// to be accepted by the UI and refused by the scenario parser.
func TestDrillActionsOneVocabulary(t *testing.T) {
	for _, a := range simulator.DrillActions() {
		t.Run(a, func(t *testing.T) {
			src := "name: d\ntitle: D\nsteps:\n  - echo\ndrill:\n  expected_actions: [" + a + "]\n"
			sc, err := Parse([]byte(src), "d.yaml")
			if err != nil {
				t.Fatalf("the parser refuses the drill action %q: %v", a, err)
			}
			if !slices.Equal(sc.Drill.ExpectedActions, []string{a}) {
				t.Errorf("expected actions %v", sc.Drill.ExpectedActions)
			}
		})
	}
	_, err := Parse([]byte("name: d\ntitle: D\nsteps:\n  - echo\ndrill:\n  expected_actions: [other_paymnet]\n"), "d.yaml")
	if err == nil || !strings.Contains(err.Error(), `unknown drill action "other_paymnet" (did you mean "other_payment"?)`) {
		t.Errorf("a misspelt action: %v", err)
	}
	d := &Drill{ExpectedActions: []string{simulator.ActOtherPayment}, ForbiddenActions: []string{simulator.ActSameCardAgain}}
	if s := d.Score([]string{simulator.ActSale, simulator.ActOtherPayment}); !s.Passed || s.Score != 2 {
		t.Errorf("paid cash after a decline: %+v", s)
	}
}
