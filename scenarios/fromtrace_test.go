package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
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

// A tap in magnetic-stripe mode (DE22 912) is reproduced as a contactless payment; the
// generator's own DE22 table had no 91 and left the entry out (so the step ran as chip).
func TestFromTraceContactlessMagstripe(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	msg := func(dir iso.Direction, mti, rc string, fields map[int]string, at time.Time) trace.Record {
		return trace.Record{Message: &trace.Message{Time: at, Source: trace.SourceTerminal, Dir: dir, Conn: "t1",
			MTI: mti, STAN: "000002", Terminal: "TERM0001", ResponseCode: rc, Fields: fields}}
	}
	recs := []trace.Record{
		msg(iso.Out, "0200", "", map[int]string{2: "411111******1111", 3: "000000", 4: "000000001000", 11: "000002", 22: "912", 41: "TERM0001"}, at),
		msg(iso.In, "0210", "00", map[int]string{3: "000000", 4: "000000001000", 11: "000002", 39: "00", 41: "TERM0001"}, at.Add(time.Second)),
	}
	out, err := FromTrace(recs, FromTraceOptions{File: "tap.jsonl", Cards: cards.Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	if want := `sale: {card: visa-ok, amount: "10.00", entry: contactless}`; !strings.Contains(string(out), want) {
		t.Errorf("the scenario lacks %q:\n%s", want, out)
	}
}
