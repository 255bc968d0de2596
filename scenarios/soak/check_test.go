package soak

import (
	"strings"
	"testing"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/simulator"
)

// TestCheckCatches shows that each invariant fails when broken: the soak's verdict means
// something only if a violation would be seen.
func TestCheckCatches(t *testing.T) {
	const tid = "TERM0001"
	sale := func(stan, status string, approved int64) simulator.Txn {
		return simulator.Txn{Operation: simulator.OpSale, STAN: stan, Status: status, Amount: 500, Approved: approved, MaskedPAN: "411111******1111"}
	}
	host := func(stan, state string, amount int64) acquirer.Txn {
		return acquirer.Txn{ID: 1, Terminal: tid, STAN: stan, MTI: "0200", ProcessingCode: "000000", Card: "visa-ok", Requested: 500, Amount: amount, State: state}
	}
	bal := func(avail int64) map[string]acquirer.Balance {
		return map[string]acquirer.Balance{"visa-ok": {Card: "visa-ok", Opening: 10000, Available: avail}}
	}
	rec := func(stan, kind string, approved int64) record {
		return record{Terminal: tid, Op: simulator.OpSale, Card: "visa-ok", Amount: 500, STAN: stan, Kind: kind, Approved: approved}
	}
	tests := []struct {
		name    string
		records []record
		term    []simulator.Txn
		host    []acquirer.Txn
		bal     map[string]acquirer.Balance
		want    string // "" = no violation
	}{
		{"consistent", []record{rec("000001", simulator.KindApproved, 500), rec("000002", simulator.KindTimedOutReversed, 0)},
			[]simulator.Txn{sale("000001", simulator.StatusApproved, 500), sale("000002", simulator.StatusReversed, 0)},
			[]acquirer.Txn{host("000001", acquirer.StateApproved, 500), host("000002", acquirer.StateReversed, 0)}, bal(9500), ""},
		{"balance off", []record{rec("000001", simulator.KindApproved, 500)},
			[]simulator.Txn{sale("000001", simulator.StatusApproved, 500)},
			[]acquirer.Txn{host("000001", acquirer.StateApproved, 500)}, bal(9400), "available 94.00"},
		{"failed at terminal, charged at host", []record{rec("000001", simulator.KindTimedOutReversed, 0)},
			[]simulator.Txn{sale("000001", simulator.StatusReversed, 0)},
			[]acquirer.Txn{host("000001", acquirer.StateApproved, 500)}, bal(9500), "customer is charged"},
		{"approved at terminal, declined at host", []record{rec("000001", simulator.KindApproved, 500)},
			[]simulator.Txn{sale("000001", simulator.StatusApproved, 500)},
			[]acquirer.Txn{host("000001", acquirer.StateDeclined, 0)}, bal(10000), "0 charging"},
		{"double charge", []record{rec("000001", simulator.KindApproved, 500)},
			[]simulator.Txn{sale("000001", simulator.StatusApproved, 500)},
			[]acquirer.Txn{host("000001", acquirer.StateApproved, 500), host("000001", acquirer.StateApproved, 500)}, bal(9000), "double charge"},
		{"unknown host charge", nil, nil, []acquirer.Txn{host("000009", acquirer.StateApproved, 500)}, bal(9500), "unknown to terminal"},
		{"pending after drain", []record{rec("000001", simulator.KindReversalPending, 0)},
			[]simulator.Txn{sale("000001", simulator.StatusReversalPending, 0)},
			[]acquirer.Txn{host("000001", acquirer.StateReversed, 0)}, bal(10000), "still reversal_pending"},
		{"customer told declined, terminal approved", []record{rec("000001", simulator.KindDeclined, 0)},
			[]simulator.Txn{sale("000001", simulator.StatusApproved, 500)},
			[]acquirer.Txn{host("000001", acquirer.StateApproved, 500)}, bal(9500), "customer was told declined"},
		{"reversed keeps an amount", nil, nil, []acquirer.Txn{host("000001", acquirer.StateReversed, 100)}, bal(10000), "keeps an amount"},
		{"wrong approved amount", []record{rec("000001", simulator.KindPartiallyApproved, 300)},
			[]simulator.Txn{sale("000001", simulator.StatusPartial, 300)},
			[]acquirer.Txn{host("000001", acquirer.StateApproved, 500)}, bal(9500), "terminal approved 3.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := check(tt.records, map[string][]simulator.Txn{tid: tt.term}, tt.host, tt.bal)
			if tt.want == "" {
				if len(v) != 0 {
					t.Fatalf("violations on a consistent state: %q", v)
				}
				return
			}
			all := strings.Join(v, "\n")
			if !strings.Contains(all, tt.want) {
				t.Fatalf("want a violation saying %q, got:\n%s", tt.want, all)
			}
			if strings.Contains(all, "4111111111111111") {
				t.Error("a violation shows the full PAN")
			}
		})
	}
}
