package scenarios

import (
	"context"
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

// The round trip of the issue: every library scenario run with a trace directory, each trace
// turned back into a scenario, and that scenario run with our (correct) terminal passes;
// with skip_reversal: true (a terminal that does not reverse after a lost answer) exactly the
// ones whose trace holds such a reversal fail. (A void, or the reversal after a card pulled
// out too early, is no such reversal: skip_reversal leaves them alone, and the generated
// scenario reproduces them as a void step and a card_removed device fault.) Faults that fired twice, partial approvals, garbled and wrong-STAN
// answers and the reversal's real answer code (25, or a refusal) must all come out as they
// were for this to hold.
func TestFromTraceLibraryRoundTrip(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rep := RunAll(context.Background(), lib, Options{TraceDir: dir})
	if !rep.Passed() {
		t.Fatalf("the library itself fails: %d", rep.Failed())
	}
	generated := 0
	for _, sc := range lib {
		t.Run(sc.Name, func(t *testing.T) {
			recs, err := trace.ReadFile(TraceFile(dir, sc.Name))
			if err != nil {
				t.Fatal(err)
			}
			text, err := FromTrace(recs, FromTraceOptions{File: sc.Name + ".jsonl", Cards: sc.Cards})
			if err != nil {
				if strings.Contains(err.Error(), "no sale, refund, balance inquiry or pre-authorization") {
					t.Skipf("nothing to reproduce: %v", err)
				}
				t.Fatal(err)
			}
			generated++
			gen, err := Parse(text, "gen-"+sc.Name+".yaml")
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			// A trace shows messages, not the terminal's set-up (its keys, MAC and PIN
			// settings, dialect): the terminal that recorded it is the one to reproduce with.
			gen.Profile = sc.Profile
			if res := Run(context.Background(), gen, Options{}); !res.Passed {
				t.Fatalf("the generated scenario fails with our terminal:\n%s\n%s", res.FailureText(), text)
			}
			reversal := timeoutReversal(recs)
			broken := *gen
			broken.Profile.SkipReversal = true
			res := Run(context.Background(), &broken, Options{})
			if res.Passed == reversal {
				t.Errorf("with skip_reversal: passed=%v, but the trace holds a reversal after no valid answer: %v\n%s", res.Passed, reversal, text)
			}
		})
	}
	if generated < len(lib)/2 {
		t.Errorf("only %d of %d traces gave a scenario", generated, len(lib))
	}
}

// timeoutReversal reports whether the terminal in recs reversed a request that got no valid
// answer (lost, late, garbled, wrong STAN, a MAC that fails, a power cut): a reversal with
// reason 68, "no (valid) answer" — not a void (17) or a chip decline after approval (22).
func timeoutReversal(recs []trace.Record) bool {
	_, exs := trace.Requests(recs)
	for _, ex := range exs {
		q := ex.Request
		if len(q.MTI) == 4 && q.MTI[1] == '4' && q.ResponseCode == iso.ReasonTimeout {
			return true
		}
	}
	return false
}
