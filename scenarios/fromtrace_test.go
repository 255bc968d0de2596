package scenarios

import (
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/trace"
)

// A card balance of "10.999" is refused with an error naming the card and the amount; the
// generator used to read it as 10.99 and write ledger expectations off by the lost digit.
func TestFromTraceRefusesBadBalance(t *testing.T) {
	recs, err := trace.ReadFile("../testdata/traces/lost-answer.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	set := cards.Builtin()
	good, err := FromTrace(recs, FromTraceOptions{File: "lost-answer.jsonl", Cards: set})
	if err != nil || !strings.Contains(string(good), `ledger: {visa-ok: "9975.00"}`) {
		t.Fatalf("with the built-in cards: %v\n%s", err, good)
	}
	bad := &cards.Set{Cards: append([]cards.Card(nil), set.Cards...), Merchants: set.Merchants}
	for i := range bad.Cards {
		if bad.Cards[i].Name == "visa-ok" {
			bad.Cards[i].Balance = "10.999"
		}
	}
	out, err := FromTrace(recs, FromTraceOptions{File: "lost-answer.jsonl", Cards: bad})
	if err == nil || !strings.Contains(err.Error(), `card "visa-ok": balance: amount "10.999": 3 decimals`) {
		t.Errorf("balance 10.999: %v, want it refused\n%s", err, out)
	}
}
