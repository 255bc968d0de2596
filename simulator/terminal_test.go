package simulator_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/simulator"
)

// answerAll approves everything.
func answerAll(int, *iso.Message) act { return act{} }

// only applies a to the first `times` requests with the MTI, approving the rest.
func only(mti string, times int, a act) func(int, *iso.Message) act {
	return func(n int, m *iso.Message) act {
		if m.MTI == mti && n <= times {
			return a
		}
		return act{}
	}
}

func TestCardTransactions(t *testing.T) {
	tests := []struct {
		name     string
		run      func(r *rig) simulator.Outcome
		script   func(int, *iso.Message) act
		kind     string
		code     string
		guidance string
		mti      string // what the host received last
		proc     string
	}{
		{"sale approved", func(r *rig) simulator.Outcome {
			return r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1234, PIN: "1234"})
		}, answerAll, simulator.KindApproved, "00", iso.GuidanceApproved, "0200", iso.ProcPurchase},
		{"sale declined 51", func(r *rig) simulator.Outcome {
			return r.term.Sale(r.ctx, simulator.Payment{Card: "low-funds", Amount: 99900})
		}, only("0200", 1, act{code: "51"}), simulator.KindDeclined, "51", iso.GuidanceInsufficientFunds, "0200", iso.ProcPurchase},
		{"refund", func(r *rig) simulator.Outcome {
			return r.term.Refund(r.ctx, simulator.Payment{Card: "mc-ok", Amount: 500, Entry: "tap"})
		}, answerAll, simulator.KindApproved, "00", iso.GuidanceApproved, "0200", iso.ProcRefund},
		{"pre-authorization", func(r *rig) simulator.Outcome {
			return r.term.PreAuth(r.ctx, simulator.Payment{Card: "unionpay-ok", Amount: 30000})
		}, answerAll, simulator.KindApproved, "00", iso.GuidanceApproved, "0100", iso.ProcPurchase},
		{"balance inquiry", func(r *rig) simulator.Outcome {
			return r.term.Balance(r.ctx, simulator.Payment{Card: "visa-ok", PIN: "1234"})
		}, func(n int, m *iso.Message) act {
			return act{edit: func(r *iso.Message) { r.AdditionalAmounts = "0001156C000001000000" + "0002156C000000987654" }}
		}, simulator.KindApproved, "00", iso.GuidanceApproved, "0200", iso.ProcBalance},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.script)
			out := tc.run(r)
			if out.Kind != tc.kind || out.ResponseCode != tc.code || out.Guidance != tc.guidance {
				t.Fatalf("outcome %s/%s/%s, want %s/%s/%s (%v)\n%s", out.Kind, out.ResponseCode, out.Guidance,
					tc.kind, tc.code, tc.guidance, out.Err, trace(out.Events))
			}
			got := r.host.seen[len(r.host.seen)-1]
			if got.MTI != tc.mti || got.ProcessingCode != tc.proc {
				t.Errorf("host got %s proc %s, want %s proc %s", got.MTI, got.ProcessingCode, tc.mti, tc.proc)
			}
			if out.STAN != got.STAN || out.RRN == "" && tc.code == "00" {
				t.Errorf("outcome STAN %s RRN %q, host saw STAN %s", out.STAN, out.RRN, got.STAN)
			}
			if out.Receipt == nil || !strings.Contains(out.Receipt.Merchant, "MERCHANT COPY") || !strings.Contains(out.Receipt.Customer, "CUSTOMER COPY") {
				t.Errorf("receipt missing or incomplete: %+v", out.Receipt)
			}
			if len(r.term.SAF()) != 0 {
				t.Errorf("SAF not empty after a valid answer: %+v", r.term.SAF())
			}
		})
	}
}

func TestBalanceShowsDE54(t *testing.T) {
	r := newRig(t, func(n int, m *iso.Message) act {
		return act{edit: func(r *iso.Message) { r.AdditionalAmounts = "0001156C000001000000" + "0002156C000000987654" }}
	})
	out := r.term.Balance(r.ctx, simulator.Payment{Card: "visa-ok"})
	if out.Balance == nil || *out.Balance != 987654 {
		t.Fatalf("balance %v, want 987654 (amount type 02)", out.Balance)
	}
	if !strings.Contains(out.Receipt.Customer, "AVAILABLE CNY 9876.54") {
		t.Errorf("receipt does not show the balance:\n%s", out.Receipt.Customer)
	}
	if m := r.host.received("0200")[0]; m.Amount != "" {
		t.Errorf("balance inquiry carried DE4 %q", m.Amount)
	}
}

func TestEntryModesFillTheRightFields(t *testing.T) {
	tests := []struct {
		entry, card, pin string
		de22             string
		de2, de35, de55  bool
	}{
		{"chip", "visa-ok", "1234", "051", false, true, true},
		{"tap", "visa-ok", "", "071", false, true, true},
		{"swipe", "visa-ok", "1234", "901", false, true, false},
		{"fallback", "damaged-chip", "1234", "801", false, true, false},
		{"keyed", "visa-ok", "", "012", true, false, false},
		{"qr", "wallet-qr", "", "031", true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.entry, func(t *testing.T) {
			r := newRig(t, answerAll)
			out := r.term.Sale(r.ctx, simulator.Payment{Card: tc.card, Amount: 100, Entry: tc.entry, PIN: tc.pin})
			if out.Kind != simulator.KindApproved {
				t.Fatalf("outcome %s (%v)", out.Kind, out.Err)
			}
			m := r.host.received("0200")[0]
			if m.EntryMode != tc.de22 {
				t.Errorf("DE22 %s, want %s", m.EntryMode, tc.de22)
			}
			if (m.PAN != "") != tc.de2 || (m.Expiry != "") != tc.de2 {
				t.Errorf("DE2 present %v / DE14 present %v, want %v", m.PAN != "", m.Expiry != "", tc.de2)
			}
			if (m.Track2 != "") != tc.de35 {
				t.Errorf("DE35 present %v, want %v", m.Track2 != "", tc.de35)
			}
			if (len(m.EMV) > 0) != tc.de55 || (m.CardSeq != "") != tc.de55 {
				t.Errorf("DE55 present %v / DE23 %q, want %v", len(m.EMV) > 0, m.CardSeq, tc.de55)
			}
			if tc.pin == "" && len(m.PINBlock) != 0 {
				t.Errorf("DE52 sent without a PIN")
			}
			if tc.pin != "" {
				pin, err := iso.DecryptPINBlock(m.PINBlock, m.PANOf(), iso.TestPINKey)
				if err != nil || pin != tc.pin {
					t.Errorf("DE52 decrypts to %q, %v", pin, err)
				}
			}
		})
	}
}

func TestRefusedAtTerminal(t *testing.T) {
	wallet := cards.Builtin()
	wallet.Cards = append(wallet.Cards, cards.Card{Name: "bad-luhn", PAN: "4111111111111112", Expiry: "3012", Brand: "visa"})
	tests := []struct {
		name     string
		profile  func(*simulator.Profile)
		pay      simulator.Payment
		guidance string
		err      error
	}{
		{"entry disabled", func(p *simulator.Profile) { p.Entry = []string{"chip", "contactless"} },
			simulator.Payment{Card: "visa-ok", Amount: 100, Entry: "keyed"}, iso.GuidanceNotAccepted, nil},
		{"brand not accepted", func(p *simulator.Profile) { p.Brands = []string{"visa", "mastercard", "unionpay"} },
			simulator.Payment{Card: "amex", Amount: 100}, iso.GuidanceCardNotSupported, nil},
		{"unknown card", nil, simulator.Payment{Card: "no-such-card", Amount: 100}, iso.GuidanceInvalidCardNumber, simulator.ErrUnknownCard},
		{"check digit", nil, simulator.Payment{Card: "bad-luhn", Amount: 100}, iso.GuidanceInvalidCardNumber, nil},
		{"zero amount", nil, simulator.Payment{Card: "visa-ok", Amount: 0}, iso.GuidanceInvalidAmount, nil},
		{"wallet code inserted", nil, simulator.Payment{Card: "wallet-qr", Amount: 100, Entry: "chip"}, iso.GuidanceNotAccepted, nil},
		{"PIN too short", nil, simulator.Payment{Card: "visa-ok", Amount: 100, PIN: "12"}, iso.GuidanceIncorrectPIN, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []rigOption{func(_ *simulator.Profile, o *simulator.Options) { o.Wallet = wallet }}
			if tc.profile != nil {
				opts = append(opts, withProfile(tc.profile))
			}
			r := newRig(t, answerAll, opts...)
			out := r.term.Sale(r.ctx, tc.pay)
			if out.Kind != simulator.KindRefusedAtTerminal || out.Guidance != tc.guidance {
				t.Fatalf("outcome %s/%s, want refused_at_terminal/%s (%v)", out.Kind, out.Guidance, tc.guidance, out.Err)
			}
			if tc.err != nil && !errors.Is(out.Err, tc.err) {
				t.Errorf("error %v, want %v", out.Err, tc.err)
			}
			if len(r.host.seen) != 0 {
				t.Errorf("host received %v: a refusal sends nothing", r.host.requests())
			}
			if strings.Contains(out.Err.Error(), "4111111111111112") {
				t.Errorf("error carries the full PAN: %v", out.Err)
			}
		})
	}
}

// TestNoAnswerIsReversed covers every way a request can go unanswered: the reversal goes
// out (0420, DE90 → the original, DE39 68), whatever the screen shows.
func TestNoAnswerIsReversed(t *testing.T) {
	tests := []struct {
		name  string
		a     act
		event string // what the terminal must report
	}{
		{"no answer", act{silent: true}, simulator.EventTimedOut},
		{"late answer", act{delay: 45 * time.Second}, simulator.EventTimedOut},
		{"garbled answer", act{garble: true}, simulator.EventGarbledAnswer},
		{"wrong STAN", act{wrongSTAN: true}, simulator.EventUnmatchedAnswer},
		{"connection dropped", act{hangup: true}, simulator.EventConnLost},
		{"answer without DE39", act{edit: func(m *iso.Message) { m.ResponseCode = "" }}, simulator.EventInvalidAnswer},
		{"approved another amount", act{edit: func(m *iso.Message) { m.Amount = "000000000001" }}, simulator.EventInvalidAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, only("0200", 1, tc.a))
			out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 2500})
			wantKind, wantGuidance := simulator.KindTimedOutReversed, iso.GuidanceNoAnswerReversed
			if tc.name == "approved another amount" {
				// An answer about another amount is no approval, and says so (iso.CheckEcho).
				wantKind, wantGuidance = simulator.KindAnswerRejected, iso.GuidanceAnswerMismatch
			}
			if out.Kind != wantKind || out.Guidance != wantGuidance {
				t.Fatalf("outcome %s/%s (%v)\n%s", out.Kind, out.Guidance, out.Err, trace(out.Events))
			}
			r.settle() // let a late answer arrive
			evs := r.term.Events()
			if !hasKind(evs, tc.event) {
				t.Errorf("no %s event:\n%s", tc.event, trace(evs))
			}
			revs := r.host.received("0420")
			if len(revs) != 1 {
				t.Fatalf("host got %d reversals: %v", len(revs), r.host.requests())
			}
			orig := r.host.received("0200")[0]
			od, err := iso.ParseOriginalData(revs[0].OriginalData)
			if err != nil || od.MTI != "0200" || od.STAN != orig.STAN || od.Transmitted != orig.TransmissionTime {
				t.Errorf("DE90 %q does not point at the original %s/%s/%s (%v)", revs[0].OriginalData, orig.MTI, orig.STAN, orig.TransmissionTime, err)
			}
			if revs[0].ResponseCode != iso.ReasonTimeout || revs[0].STAN != orig.STAN {
				t.Errorf("reversal DE39 %q STAN %s, want 68 and the original STAN %s", revs[0].ResponseCode, revs[0].STAN, orig.STAN)
			}
			if revs[0].Track2 != "" || len(revs[0].PINBlock) != 0 || len(revs[0].EMV) != 0 {
				t.Errorf("reversal carries track 2, PIN block or EMV data")
			}
			if tc.name == "late answer" {
				if !hasKind(evs, simulator.EventLateAnswer) {
					t.Errorf("late answer not reported:\n%s", trace(evs))
				}
				if tx := r.term.Transactions(); tx[0].Status != simulator.StatusReversed {
					t.Errorf("a late approval overrode the reversal: status %s", tx[0].Status)
				}
			}
		})
	}
}

// TestReversalRepeats: an unanswered reversal is repeated as 0421, reversal_interval apart
// on the clock, until answered; 3 × 30 s of virtual time cost well under a second.
func TestReversalRepeats(t *testing.T) {
	r := newRig(t, func(n int, m *iso.Message) act {
		switch {
		case m.MTI == "0200":
			return act{silent: true}
		case m.MTI[1] == '4' && n <= 3:
			return act{silent: true}
		}
		return act{}
	})
	wall := time.Now()
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 2500})
	if out.Kind != simulator.KindReversalPending || out.Guidance != iso.GuidanceReversalPending {
		t.Fatalf("outcome %s/%s", out.Kind, out.Guidance)
	}
	if out.Reversal == nil || out.Reversal.Attempts != 1 || out.Reversal.MTI != "0421" {
		t.Errorf("outcome reversal %+v", out.Reversal)
	}
	if !strings.Contains(out.Receipt.Customer, "REVERSAL PENDING") {
		t.Errorf("reversal slip:\n%s", out.Receipt.Customer)
	}
	r.settle()
	t.Log("\n" + trace(r.term.Events()))
	if el := time.Since(wall); el > time.Second {
		t.Errorf("took %s of real time", el)
	}
	if got, want := r.host.requests(), []string{"0800/000001", "0200/000002", "0420/000002", "0421/000002", "0421/000002", "0421/000002"}; !slices.Equal(got, want) {
		t.Errorf("host received %v, want %v", got, want)
	}
	var sent []time.Duration
	for _, e := range r.term.Events() {
		if e.Kind == simulator.EventReversalSent {
			sent = append(sent, e.Time.Sub(start))
		}
	}
	// 30 s response timeout, then each repeat waits 30 s for its answer and 30 s between.
	if want := []time.Duration{30 * time.Second, 90 * time.Second, 150 * time.Second, 210 * time.Second}; !slices.Equal(sent, want) {
		t.Errorf("reversals sent at %v, want %v", sent, want)
	}
	if len(r.term.SAF()) != 0 {
		t.Errorf("SAF not empty: %+v", r.term.SAF())
	}
	if tx := r.term.Transactions(); tx[0].Status != simulator.StatusReversed {
		t.Errorf("transaction status %s, want reversed", tx[0].Status)
	}
}

// TestEventSequenceIsDeterministic runs the timeout-and-repeats scenario 20 times: the
// event sequence, timestamps included, must be identical every time.
func TestEventSequenceIsDeterministic(t *testing.T) {
	script := func(n int, m *iso.Message) act {
		switch {
		case m.MTI == "0200" && n == 1:
			return act{delay: 40 * time.Second}
		case m.MTI[1] == '4' && n <= 2:
			return act{silent: true}
		}
		return act{}
	}
	var first string
	for i := range 20 {
		r := newRig(t, script)
		out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 2500})
		r.settle()
		out2 := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 100})
		if out.Kind != simulator.KindReversalPending || out2.Kind != simulator.KindApproved {
			t.Fatalf("run %d: outcomes %s, %s", i, out.Kind, out2.Kind)
		}
		got := trace(r.term.Events())
		if i == 0 {
			first = got
			continue
		}
		if got != first {
			t.Fatalf("run %d differs:\n%s\nfirst run:\n%s", i, got, first)
		}
	}
}

func TestReversalAnswers(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		kind    string
		saf     int
		manual  int
		blocked bool
	}{
		{"approved", "00", simulator.KindTimedOutReversed, 0, 0, false},
		{"original not found 25", "25", simulator.KindTimedOutReversed, 0, 0, false},
		{"no action taken 21", "21", simulator.KindTimedOutReversed, 0, 0, false},
		{"inconsistent data 77", "77", simulator.KindReversalPending, 0, 1, false},
		{"system malfunction 96", "96", simulator.KindReversalPending, 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r *rig
			var blocked *simulator.Snapshot
			r = newRig(t, func(n int, m *iso.Message) act {
				switch m.MTI {
				case "0200":
					return act{silent: true}
				case "0420", "0421":
					return act{code: tc.code}
				}
				return act{}
			}, withProfile(func(p *simulator.Profile) { p.ReversalExpiry = 10 * time.Minute }),
				func(_ *simulator.Profile, o *simulator.Options) {
					o.OnEvent = func(e simulator.Event) {
						if e.Kind == simulator.EventSAFBlocked {
							s := r.term.Snapshot()
							blocked = &s
						}
					}
				})
			out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 2500})
			if out.Kind != tc.kind {
				t.Fatalf("outcome %s, want %s\n%s", out.Kind, tc.kind, trace(out.Events))
			}
			if tc.blocked {
				r.settle() // the repeats run until the entry expires after 10 minutes
				if blocked == nil || !blocked.SAFBlocked || blocked.SAFBlockedReason == "" || len(blocked.SAF) != 1 ||
					blocked.SAF[0].Tries != 4 || !blocked.SAF[0].Blocked {
					t.Fatalf("snapshot at saf_blocked: %+v", blocked)
				}
				if n := countKind(r.term.Events(), simulator.EventSAFBlocked); n != 1 {
					t.Errorf("%d saf_blocked events, want 1", n)
				}
				if m := r.term.ManualReconciliation(); len(m) != 1 || m[0].Note == "" {
					t.Errorf("after expiry, manual list %+v", m)
				}
				if len(r.term.SAF()) != 0 {
					t.Errorf("expired entry still queued")
				}
				return
			}
			if n := len(r.term.SAF()); n != tc.saf {
				t.Errorf("SAF has %d entries, want %d", n, tc.saf)
			}
			if n := len(r.term.ManualReconciliation()); n != tc.manual {
				t.Errorf("manual list has %d entries, want %d", n, tc.manual)
			}
		})
	}
}

// waitEvent waits (in real time, as a failsafe only) for the terminal to report kind.
func waitEvent(t *testing.T, r *rig, kind string) simulator.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-r.events:
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", kind)
		}
	}
}

func TestReversalExpiryGoesToManualReconciliation(t *testing.T) {
	r := newRig(t, func(n int, m *iso.Message) act {
		if m.MTI != "0800" {
			return act{silent: true}
		}
		return act{}
	}, withProfile(func(p *simulator.Profile) { p.ReversalExpiry = 5 * time.Minute }))
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 2500})
	if out.Kind != simulator.KindReversalPending {
		t.Fatalf("outcome %s", out.Kind)
	}
	r.settle()
	m := r.term.ManualReconciliation()
	if len(m) != 1 || m[0].OriginalSTAN != out.STAN || m[0].Tries != 0 || m[0].Attempts < 3 {
		t.Fatalf("manual list %+v", m)
	}
	if strings.Contains(m[0].MaskedPAN, "4111111111111111") {
		t.Errorf("manual entry PAN not masked")
	}
	e := r.term.Events()
	last := e[len(e)-1]
	if last.Kind != simulator.EventManualReconciliation || last.Time.Sub(start) != 5*time.Minute {
		t.Errorf("last event %s at %s", last.Kind, last.Time.Sub(start))
	}
}

func TestReversalPolicies(t *testing.T) {
	tests := []struct {
		name    string
		profile func(*simulator.Profile)
		mti     string
		newSTAN bool
	}{
		{"0420 reusing the STAN", nil, "0420", false},
		{"0400", func(p *simulator.Profile) { p.ReversalMTI = "0400" }, "0400", false},
		{"new STAN", func(p *simulator.Profile) { p.ReversalSTAN = "new" }, "0420", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []rigOption
			if tc.profile != nil {
				opts = append(opts, withProfile(tc.profile))
			}
			r := newRig(t, only("0200", 1, act{silent: true}), opts...)
			out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 2500})
			if out.Kind != simulator.KindTimedOutReversed {
				t.Fatalf("outcome %s", out.Kind)
			}
			revs := r.host.received(tc.mti)
			if len(revs) != 1 {
				t.Fatalf("host got %v", r.host.requests())
			}
			od, _ := iso.ParseOriginalData(revs[0].OriginalData)
			if od.STAN != out.STAN {
				t.Errorf("DE90 STAN %s, want %s", od.STAN, out.STAN)
			}
			if (revs[0].STAN != out.STAN) != tc.newSTAN {
				t.Errorf("reversal STAN %s, original %s, new STAN wanted: %v", revs[0].STAN, out.STAN, tc.newSTAN)
			}
		})
	}
}

func TestSAFIsSentBeforeTheNextTransaction(t *testing.T) {
	down := true
	r := newRig(t, func(n int, m *iso.Message) act {
		if m.MTI == "0200" && n == 1 {
			return act{silent: true}
		}
		if m.MTI[1] == '4' && down {
			return act{silent: true}
		}
		return act{}
	}, withProfile(func(p *simulator.Profile) { p.ReversalInterval = time.Hour }))
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 2500})
	if out.Kind != simulator.KindReversalPending {
		t.Fatalf("outcome %s", out.Kind)
	}
	r.host.mu.Lock()
	down = false
	r.host.mu.Unlock()
	out2 := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 100})
	if out2.Kind != simulator.KindApproved {
		t.Fatalf("second sale %s", out2.Kind)
	}
	got := r.host.requests()
	want := []string{"0800/000001", "0200/000002", "0420/000002", "0421/000002", "0200/000003"}
	if !slices.Equal(got, want) {
		t.Errorf("host received %v, want %v", got, want)
	}
	if k := kinds(out2.Events); !slices.Contains(k, simulator.EventReversalAcknowledged) {
		t.Errorf("second sale's events lack the reversal: %v", k)
	}
}

func TestDuplicateTransmissionShowsLastTransaction(t *testing.T) {
	r := newRig(t, only("0200", 2, act{}), func(p *simulator.Profile, _ *simulator.Options) {})
	first := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 700})
	r.host.mu.Lock()
	r.host.script = func(n int, m *iso.Message) act {
		if m.MTI == "0200" {
			return act{code: "94"}
		}
		return act{}
	}
	r.host.mu.Unlock()
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 700})
	if out.Kind != simulator.KindDeclined || out.ResponseCode != "94" || out.Guidance != iso.GuidanceDuplicateTransmission {
		t.Fatalf("outcome %s/%s/%s", out.Kind, out.ResponseCode, out.Guidance)
	}
	if out.Last == nil || out.Last.STAN != first.STAN || out.Last.Status != simulator.StatusApproved {
		t.Fatalf("last transaction %+v, want the first sale %s approved", out.Last, first.STAN)
	}
	if n := len(r.host.received("0200")); n != 2 {
		t.Errorf("host got %d sales: the terminal must not re-send on 94", n)
	}
	if !strings.Contains(out.Receipt.Customer, "LAST: SALE "+first.STAN+" APPROVED") {
		t.Errorf("declined slip does not show the last transaction:\n%s", out.Receipt.Customer)
	}
}

func TestPartialApproval(t *testing.T) {
	partial := act{code: "10", edit: func(m *iso.Message) { m.Amount = "000000000600" }}
	t.Run("accepted then cancelled", func(t *testing.T) {
		r := newRig(t, only("0200", 1, partial))
		out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
		if out.Kind != simulator.KindPartiallyApproved || out.Approved != 600 || out.Amount != 1000 || out.Guidance != iso.GuidancePartialApproval {
			t.Fatalf("outcome %s approved %d of %d, %s", out.Kind, out.Approved, out.Amount, out.Guidance)
		}
		if tot := r.term.Snapshot().Totals; tot.SalesAmount != 600 || tot.SalesCount != 1 {
			t.Errorf("totals %+v, want 1 sale of 6.00", tot)
		}
		v := r.term.Void(r.ctx, out.Ref())
		if v.Kind != simulator.KindVoided || v.Guidance != iso.GuidanceVoided || v.ResponseCode != "00" {
			t.Fatalf("cancel %s/%s/%s (%v)", v.Kind, v.Guidance, v.ResponseCode, v.Err)
		}
		rev := r.host.received("0420")[0]
		if rev.ResponseCode != iso.ReasonCancel || rev.RRN != out.RRN {
			t.Errorf("cancel reversal DE39 %q RRN %q", rev.ResponseCode, rev.RRN)
		}
		if tot := r.term.Snapshot().Totals; tot != (simulator.Totals{}) {
			t.Errorf("totals after cancel %+v, want none", tot)
		}
	})
	t.Run("not supported", func(t *testing.T) {
		r := newRig(t, only("0200", 1, partial), withProfile(func(p *simulator.Profile) { p.PartialApproval = false }))
		out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
		if out.Kind != simulator.KindVoided || out.ResponseCode != "10" {
			t.Fatalf("outcome %s/%s", out.Kind, out.ResponseCode)
		}
		if revs := r.host.received("0420"); len(revs) != 1 || revs[0].ResponseCode != iso.ReasonCancel {
			t.Errorf("reversals %v", r.host.requests())
		}
	})
}

func TestVoidAndComplete(t *testing.T) {
	r := newRig(t, answerAll)
	sale := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1500})
	pre := r.term.PreAuth(r.ctx, simulator.Payment{Card: "mc-ok", Amount: 8000})
	comp := r.term.Complete(r.ctx, pre.Ref(), 7000)
	if comp.Kind != simulator.KindApproved {
		t.Fatalf("completion %s (%v)", comp.Kind, comp.Err)
	}
	adv := r.host.received("0220")[0]
	od, _ := iso.ParseOriginalData(adv.OriginalData)
	if od.MTI != "0100" || od.STAN != pre.STAN || adv.RRN != pre.RRN || adv.AuthCode != pre.AuthCode || adv.Amount != "000000007000" {
		t.Errorf("0220 DE90 %q DE37 %q DE38 %q DE4 %q", adv.OriginalData, adv.RRN, adv.AuthCode, adv.Amount)
	}
	if over := r.term.Complete(r.ctx, pre.Ref(), 100); over.Kind != simulator.KindRefusedAtTerminal {
		t.Errorf("second completion of the same pre-auth: %s", over.Kind)
	}
	v := r.term.Void(r.ctx, sale.Ref())
	if v.Kind != simulator.KindVoided || v.Receipt == nil || v.Receipt.Kind != simulator.ReceiptVoid {
		t.Fatalf("void %s (%v)", v.Kind, v.Err)
	}
	if again := r.term.Void(r.ctx, sale.Ref()); again.Kind != simulator.KindRefusedAtTerminal || !errors.Is(again.Err, simulator.ErrNotFound) {
		t.Errorf("second void: %s %v", again.Kind, again.Err)
	}
	if tot := r.term.Snapshot().Totals; tot != (simulator.Totals{SalesCount: 1, SalesAmount: 7000}) {
		t.Errorf("totals %+v: only the completion counts", tot)
	}
}

func TestHostUnreachable(t *testing.T) {
	t.Run("not sent", func(t *testing.T) {
		r := newRig(t, answerAll)
		_ = r.host.ln.Close()
		out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
		if out.Kind != simulator.KindNotSent || out.Guidance != iso.GuidanceHostUnreachable || !errors.Is(out.Err, simulator.ErrUnreachable) {
			t.Fatalf("outcome %s/%s %v", out.Kind, out.Guidance, out.Err)
		}
		if len(r.term.SAF()) != 0 || len(r.term.Transactions()) != 0 {
			t.Errorf("nothing to reverse, nothing journaled: SAF %v txns %v", r.term.SAF(), r.term.Transactions())
		}
	})
	t.Run("offline approval", func(t *testing.T) {
		dir := t.TempDir()
		r := newRig(t, answerAll, withJournal(filepath.Join(dir, "t.db")),
			withProfile(func(p *simulator.Profile) { p.OfflineFloorLimit = 5000 }))
		hostUp := r.host
		_ = r.host.ln.Close()
		big := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 5001})
		if big.Kind != simulator.KindNotSent {
			t.Errorf("above the floor limit: %s", big.Kind)
		}
		out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 4000})
		if out.Kind != simulator.KindOfflineApproved || out.Approved != 4000 || out.Guidance != iso.GuidanceOfflineApproved {
			t.Fatalf("outcome %s/%s", out.Kind, out.Guidance)
		}
		saf := r.term.SAF()
		if len(saf) != 1 || saf[0].Kind != simulator.SAFAdvice || saf[0].MTI != "0220" {
			t.Fatalf("SAF %+v", saf)
		}
		// The host comes back: the advice goes out before the next transaction.
		r.host = newHost(t, r.clk, answerAll)
		_ = hostUp
		if err := r.term.Close(); err != nil {
			t.Fatal(err)
		}
		r.restart(withJournal(filepath.Join(dir, "t.db")))
		if err := r.term.DrainSAF(r.ctx); err != nil {
			t.Fatalf("drain: %v", err)
		}
		advs := r.host.received("0220")
		if len(advs) != 1 || advs[0].AuthCode != "" || advs[0].OriginalData != "" || advs[0].PAN == "" {
			t.Fatalf("advice %+v", advs)
		}
		if tot := r.term.Snapshot().Totals; tot.SalesCount != 1 || tot.SalesAmount != 4000 {
			t.Errorf("totals %+v", tot)
		}
	})
}

func TestSettlement(t *testing.T) {
	t.Run("balanced", func(t *testing.T) {
		r := newRig(t, answerAll)
		r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
		r.term.Sale(r.ctx, simulator.Payment{Card: "mc-ok", Amount: 2000})
		r.term.Refund(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 300})
		s := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 9999})
		r.term.Void(r.ctx, s.Ref())
		out := r.term.Settle(r.ctx)
		if out.Kind != simulator.KindSettled || out.Guidance != iso.GuidanceSettled {
			t.Fatalf("settle %s/%s (%v)", out.Kind, out.Guidance, out.Err)
		}
		m := r.host.received("0500")[0]
		if m.Batch != "000001" || m.DebitsNumber != "0000000002" || m.DebitsAmount != "0000000000003000" ||
			m.CreditsNumber != "0000000001" || m.CreditsAmount != "0000000000000300" {
			t.Errorf("0500 DE60 %s DE76 %s DE88 %s DE74 %s DE86 %s", m.Batch, m.DebitsNumber, m.DebitsAmount, m.CreditsNumber, m.CreditsAmount)
		}
		snap := r.term.Snapshot()
		if snap.Batch != "000002" || snap.Totals != (simulator.Totals{}) || len(r.term.Transactions()) != 0 {
			t.Errorf("after settlement: batch %s totals %+v", snap.Batch, snap.Totals)
		}
	})
	t.Run("95 then upload", func(t *testing.T) {
		r := newRig(t, only("0500", 1, act{code: "95"}))
		a := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
		b := r.term.Refund(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 200})
		r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 0}) // refused, not counted
		out := r.term.Settle(r.ctx)
		if out.Kind != simulator.KindSettled {
			t.Fatalf("settle %s (%v)\n%s", out.Kind, out.Err, trace(out.Events))
		}
		ups := r.host.received("0320")
		if len(ups) != 2 || ups[0].STAN != a.STAN || ups[1].STAN != b.STAN || ups[1].ProcessingCode != iso.ProcRefund || ups[0].Batch != "000001" {
			t.Fatalf("uploads %v", r.host.requests())
		}
		if n := len(r.host.received("0500")); n != 2 {
			t.Errorf("%d settlement requests, want 2", n)
		}
	})
	t.Run("SAF must be empty", func(t *testing.T) {
		r := newRig(t, func(n int, m *iso.Message) act {
			if m.MTI == "0200" || m.MTI[1] == '4' {
				return act{silent: true}
			}
			return act{}
		})
		r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
		out := r.term.Settle(r.ctx)
		if out.Kind != simulator.KindSettleFailed || !errors.Is(out.Err, simulator.ErrSAFPending) || out.Guidance != iso.GuidanceReversalPending {
			t.Fatalf("settle %s/%s %v", out.Kind, out.Guidance, out.Err)
		}
		if len(r.host.received("0500")) != 0 {
			t.Errorf("0500 sent with a pending reversal")
		}
	})
}

func TestSnapshotWhileWaiting(t *testing.T) {
	var r *rig
	var seen []simulator.Snapshot
	r = newRig(t, only("0200", 1, act{silent: true}), func(_ *simulator.Profile, o *simulator.Options) {
		o.OnEvent = func(e simulator.Event) {
			if e.Kind == simulator.EventWaiting && e.MTI == "0200" {
				seen = append(seen, r.term.Snapshot())
			}
		}
	})
	// Snapshot from another goroutine, all along (for the race detector).
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_ = r.term.Snapshot()
				_ = r.term.Events()
			}
		}
	}()
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
	close(stop)
	<-done
	if len(seen) != 1 {
		t.Fatalf("%d snapshots", len(seen))
	}
	s := seen[0]
	if s.Phase != simulator.PhaseWaiting || s.Operation != simulator.OpSale || s.STAN != out.STAN ||
		s.Deadline.Sub(s.Now) != 30*time.Second || !s.Connected || !s.SignedOn || len(s.SAF) != 1 {
		t.Errorf("snapshot while waiting: %+v", s)
	}
	if after := r.term.Snapshot(); after.Phase != simulator.PhaseIdle || after.Last == nil || after.Last.Kind != out.Kind {
		t.Errorf("snapshot after: phase %s last %+v", after.Phase, after.Last)
	}
}

func TestEchoDetectsDeadLink(t *testing.T) {
	r := newRig(t, func(n int, m *iso.Message) act {
		if m.MTI == "0800" && m.NetworkCode == iso.NetEcho && n == 3 {
			return act{hangup: true}
		}
		return act{}
	}, withProfile(func(p *simulator.Profile) { p.EchoInterval = time.Minute }))
	r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
	r.clk.Release()
	waitEvent(t, r, simulator.EventLinkDead)
	waitEvent(t, r, simulator.EventSignedOn)
	r.clk.Hold()
	var echoes []string
	for _, m := range r.host.received("0800") {
		echoes = append(echoes, m.NetworkCode)
	}
	// Sign-on, a good echo a minute later, the echo the host hangs up on, sign-on again.
	if want := []string{"001", "301", "301", "001"}; !slices.Equal(echoes, want) {
		t.Errorf("network messages %v, want %v", echoes, want)
	}
}

func TestNoCardNumberInEventsOrReceipts(t *testing.T) {
	r := newRig(t, only("0200", 1, act{silent: true}))
	outs := []simulator.Outcome{
		r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000}),
		r.term.Sale(r.ctx, simulator.Payment{Card: "4111111111111111", Amount: 1000, Entry: "keyed"}),
		r.term.Sale(r.ctx, simulator.Payment{Card: "4111111111111111", Amount: 1000, Entry: "swipe"}),
	}
	for _, e := range r.term.Events() {
		if strings.Contains(e.Detail, "4111111111111111") {
			t.Errorf("event %s carries the PAN: %s", e.Kind, e.Detail)
		}
	}
	for _, o := range outs {
		if o.Receipt != nil && strings.Contains(o.Receipt.String(), "4111111111111111") {
			t.Errorf("receipt carries the PAN")
		}
		if o.Err != nil && strings.Contains(o.Err.Error(), "4111111111111111") {
			t.Errorf("error carries the PAN")
		}
		if o.MaskedPAN != "411111******1111" {
			t.Errorf("masked PAN %q", o.MaskedPAN)
		}
	}
}

func TestDeclinedCompletionKeepsThePreAuthOpen(t *testing.T) {
	r := newRig(t, only("0220", 1, act{code: "25"}))
	pre := r.term.PreAuth(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 5000})
	if c := r.term.Complete(r.ctx, pre.Ref(), 4000); c.Kind != simulator.KindDeclined || c.ResponseCode != "25" {
		t.Fatalf("first completion %s/%s", c.Kind, c.ResponseCode)
	}
	if c := r.term.Complete(r.ctx, pre.Ref(), 4000); c.Kind != simulator.KindApproved {
		t.Fatalf("second completion %s (%v)", c.Kind, c.Err)
	}
	if c := r.term.Complete(r.ctx, simulator.Ref{}, 4000); c.Kind != simulator.KindRefusedAtTerminal {
		t.Errorf("third completion of a captured pre-auth: %s", c.Kind)
	}
}

func TestCompletionWithoutAnswerIsQueuedAsAdvice(t *testing.T) {
	// The 0220 and its immediate repeat go unanswered; the background repeat is answered.
	r := newRig(t, func(n int, m *iso.Message) act {
		if m.MTI[1] == '2' && n <= 2 {
			return act{silent: true}
		}
		return act{}
	})
	pre := r.term.PreAuth(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 5000})
	c := r.term.Complete(r.ctx, pre.Ref(), 4000)
	if c.Kind != simulator.KindAdviceQueued || c.Reversal == nil || c.Reversal.Kind != simulator.SAFAdvice || c.Reversal.MTI != "0221" ||
		c.Guidance != iso.GuidanceOfflineApproved {
		t.Fatalf("completion %s %+v", c.Kind, c.Reversal)
	}
	r.settle()
	if got := r.host.requests(); !slices.Equal(got[len(got)-3:], []string{"0220/000003", "0221/000003", "0221/000003"}) {
		t.Errorf("host received %v", got)
	}
	tx := r.term.Transactions()
	if tx[1].Operation != simulator.OpCompletion || tx[1].Status != simulator.StatusApproved || tx[1].Approved != 4000 {
		t.Errorf("completion after the advice was answered: %+v", tx[1])
	}
}

func TestNetworkManagement(t *testing.T) {
	r := newRig(t, func(n int, m *iso.Message) act {
		if m.MTI == "0800" && m.NetworkCode == iso.NetEcho {
			return act{silent: true}
		}
		return act{}
	})
	if out := r.term.SignOn(r.ctx); out.Kind != simulator.KindApproved || !r.term.Snapshot().SignedOn {
		t.Fatalf("sign-on %s", out.Kind)
	}
	if out := r.term.Echo(r.ctx); out.Kind != simulator.KindNoAnswer || out.Guidance != iso.GuidanceIssuerUnavailable {
		t.Errorf("unanswered echo: %s/%s", out.Kind, out.Guidance)
	}
	if len(r.term.SAF()) != 0 {
		t.Errorf("an unanswered echo queued something: %+v", r.term.SAF())
	}
	if out := r.term.SignOff(r.ctx); out.Kind != simulator.KindApproved || r.term.Snapshot().Connected {
		t.Errorf("sign-off %s, connected %v", out.Kind, r.term.Snapshot().Connected)
	}
	var codes []string
	for _, m := range r.host.received("0800") {
		codes = append(codes, m.NetworkCode)
	}
	if want := []string{"001", "301", "002"}; !slices.Equal(codes, want) {
		t.Errorf("network codes %v, want %v", codes, want)
	}
}

func TestSignOnRefusedIsNotOffline(t *testing.T) {
	r := newRig(t, only("0800", 1, act{code: "98"}), withProfile(func(p *simulator.Profile) { p.OfflineFloorLimit = 5000 }))
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 100})
	if out.Kind != simulator.KindNotSent || out.ResponseCode != "98" || out.Guidance != iso.GuidanceMACError {
		t.Fatalf("outcome %s/%s/%s", out.Kind, out.ResponseCode, out.Guidance)
	}
	if len(r.host.received("0200")) != 0 || len(r.term.SAF()) != 0 {
		t.Errorf("sent or queued after a refused sign-on")
	}
}
