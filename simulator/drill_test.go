package simulator_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/posdrill/posdrill/simulator"
)

func TestScoreDrill(t *testing.T) {
	expected := []string{simulator.ActCheckLast, simulator.ActSale}
	forbidden := []string{simulator.ActSaleAgain, simulator.ActManualRefund}
	line := func(a string, forbidden, ok bool) simulator.DrillLine {
		return simulator.DrillLine{Action: a, Forbidden: forbidden, OK: ok}
	}
	tests := []struct {
		name string
		done []string
		want simulator.DrillScore
	}{
		{"model answer", []string{"check_last", "sale"}, simulator.DrillScore{Passed: true, Score: 4, Max: 4, Lines: []simulator.DrillLine{
			line("check_last", false, true), line("sale", false, true), line("sale_again", true, true), line("manual_refund", true, true)}}},
		{"forgot to check", []string{"sale"}, simulator.DrillScore{Score: 3, Max: 4, Lines: []simulator.DrillLine{
			line("check_last", false, false), line("sale", false, true), line("sale_again", true, true), line("manual_refund", true, true)}}},
		{"charged twice", []string{"sale", "sale_again", "check_last", "sale_again"}, simulator.DrillScore{Score: 3, Max: 4, Lines: []simulator.DrillLine{
			line("check_last", false, true), line("sale", false, true), line("sale_again", true, false), line("manual_refund", true, true)}}},
		{"nothing", nil, simulator.DrillScore{Score: 2, Max: 4, Lines: []simulator.DrillLine{
			line("check_last", false, false), line("sale", false, false), line("sale_again", true, true), line("manual_refund", true, true)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, simulator.ScoreDrill(expected, forbidden, tt.done)); diff != "" {
				t.Errorf("score (-want +got):\n%s", diff)
			}
		})
	}
}
