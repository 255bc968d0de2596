package scenarios

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDrillScore(t *testing.T) {
	d := &Drill{ExpectedActions: []string{ActionCheckLast, ActionSale}, ForbiddenActions: []string{ActionSaleAgain, ActionManualRefund}}
	tests := []struct {
		name string
		done []string
		want DrillScore
	}{
		{"model answer", []string{"check_last", "sale"}, DrillScore{Passed: true, Done: []string{"check_last", "sale"}}},
		{"forgot to check", []string{"sale"}, DrillScore{Done: []string{"sale"}, Missing: []string{"check_last"}}},
		{"charged twice", []string{"sale", "sale_again", "check_last", "sale_again"},
			DrillScore{Done: []string{"check_last", "sale"}, Forbidden: []string{"sale_again"}}},
		{"nothing", nil, DrillScore{Missing: []string{"check_last", "sale"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, d.Score(tt.done)); diff != "" {
				t.Errorf("score (-want +got):\n%s", diff)
			}
		})
	}
}
