package tui

import (
	"context"
	"slices"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
)

func TestClassify(t *testing.T) {
	res := func(kind, rc, key string) *Result { return &Result{Kind: kind, ResponseCode: rc, Guidance: key} }
	sale := func(card string, amount int64, r *Result) *attempt {
		return &attempt{Op: OpSale, Card: card, Amount: amount, Result: r}
	}
	tests := []struct {
		name string
		op   string
		p    payment
		prev *attempt
		want []Action
	}{
		{"first sale", OpSale, payment{Card: "visa-ok", Amount: 2500}, nil, []Action{ActSale}},
		{"again after no answer", OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(KindTimedOutReversed, "", iso.GuidanceNoAnswerReversed)), []Action{ActSale, ActSaleAgain}},
		{"again while reversing", OpSale, payment{Card: "mc-ok", Amount: 2500},
			sale("visa-ok", 2500, res(KindReversalPending, "", iso.GuidanceReversalPending)), []Action{ActSale, ActSaleAgain, ActOtherCard}},
		{"again after approval", OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(KindApproved, "00", "")), []Action{ActSale, ActSaleAgain}},
		{"retry a 94", OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(KindDeclined, "94", iso.GuidanceDuplicateTransmission)), []Action{ActSale, ActSaleAgain, ActSameCardAgain}},
		{"expired card again", OpSale, payment{Card: "expired", Amount: 2500},
			sale("expired", 2500, res(KindDeclined, "54", iso.GuidanceExpiredCard)), []Action{ActSale, ActSameCardAgain}},
		{"other card after 54", OpSale, payment{Card: "mc-ok", Amount: 2500},
			sale("expired", 2500, res(KindDeclined, "54", iso.GuidanceExpiredCard)), []Action{ActSale, ActOtherCard}},
		{"PIN again after 55", OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(KindDeclined, "55", iso.GuidanceIncorrectPIN)), []Action{ActSale, ActReenterPIN}},
		{"lower amount after 51", OpSale, payment{Card: "low-funds", Amount: 400},
			sale("low-funds", 2500, res(KindDeclined, "51", iso.GuidanceInsufficientFunds)), []Action{ActSale, ActCorrectAmount}},
		{"retry once after 91", OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(KindDeclined, "91", iso.GuidanceIssuerUnavailable)), []Action{ActSale}},
		{"swipe after a dead chip", OpSale, payment{Card: "damaged-chip", Amount: 2500, Entry: iso.EntryFallback},
			sale("damaged-chip", 2500, res(KindDeviceFault, "", iso.GuidanceChipFallback)), []Action{ActSale, ActFallbackSwipe}},
		{"refund after a reversal", OpRefund, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(KindTimedOutReversed, "", iso.GuidanceNoAnswerReversed)), []Action{ActRefund, ActManualRefund}},
		{"refund after approval", OpRefund, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(KindApproved, "00", "")), []Action{ActRefund}},
		{"sale on a held deposit", OpSale, payment{Card: "mc-ok", Amount: 6500},
			&attempt{Op: OpPreAuth, Card: "mc-ok", Amount: 8000, Result: res(KindApproved, "00", "")}, []Action{ActSale, ActSaleAgain}},
		{"check last", OpCheckLast, payment{}, nil, []Action{ActCheckLast}},
		{"complete", OpComplete, payment{Amount: 6500}, nil, []Action{ActComplete}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.op, tt.p, tt.prev); !slices.Equal(got, tt.want) {
				t.Errorf("classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	d := &drillRun{drill: Drill{Expected: []Action{ActCheckLast, ActSale}, Forbidden: []Action{ActManualRefund}}}
	d.log = []attempt{{Op: OpSale, Actions: []Action{ActSale}}, {Op: OpRefund, Actions: []Action{ActRefund, ActManualRefund}}}
	zero := int64(0)
	db := score(d, &zero)
	if db.Passed || db.Score != 1 || db.Max != 3 {
		t.Errorf("score = %+v, want 1 of 3, not passed", db)
	}
	d.log = append(d.log[:1], attempt{Op: OpCheckLast, Actions: []Action{ActCheckLast}})
	if db := score(d, nil); !db.Passed || db.Score != 3 {
		t.Errorf("score = %+v, want 3 of 3, passed", db)
	}
}

// runCmds runs commands synchronously and feeds their messages back, as the App does.
func runCmds(m *Model, cmds []Cmd) {
	for len(cmds) > 0 {
		c := cmds[0]
		cmds = cmds[1:]
		if msg := c(context.Background()); msg != nil {
			cmds = append(cmds, m.Update(msg)...)
		}
	}
}

func keys(m *Model, ks ...Key) {
	for _, k := range ks {
		runCmds(m, m.Update(KeyMsg(k)))
	}
}

func TestModelPaymentFlow(t *testing.T) {
	term := &fakeTerm{}
	m := NewModel(Config{Terminal: term, Wallet: testWallet})
	keys(m, R('0'))
	if m.face != faceIdle || m.amount != "" {
		t.Fatalf("a leading 0 started a sale: face %v amount %q", m.face, m.amount)
	}
	keys(m, R('1'), R('2'), R('3'), K(KeyBackspace), R('9'), K(KeyEnter))
	if m.face != facePresent || m.amountMinor() != 129 {
		t.Fatalf("face %v amount %d, want present 129", m.face, m.amountMinor())
	}
	// A plastic card cannot be scanned; C takes the QR wallet instead.
	keys(m, R('2'), R('c'))
	if got := term.callLog(); !slices.Equal(got, []string{"sale wallet-qr 129 qr"}) {
		t.Fatalf("calls = %q", got)
	}
	if m.face != faceResult || m.last == nil || m.last.Kind != KindApproved || m.approved == nil {
		t.Fatalf("face %v last %+v", m.face, m.last)
	}
	// The QR wallet cannot be inserted.
	keys(m, K(KeyEnter), R('5'), K(KeyEnter), R('4'), R('i'))
	if m.notice != m.t("notice.qr_scan_only") || m.face != facePresent {
		t.Errorf("insert a QR wallet: notice %q face %v", m.notice, m.face)
	}
	// Esc from the PIN pad goes back to the card; a 3-digit PIN is refused.
	keys(m, R('1'), R('s'), R('1'), R('2'), R('3'), K(KeyEnter))
	if m.notice != m.t("notice.pin_short") || m.face != facePIN {
		t.Errorf("short PIN: notice %q face %v", m.notice, m.face)
	}
	keys(m, K(KeyEsc))
	if m.face != facePresent {
		t.Errorf("Esc from the PIN pad: face %v", m.face)
	}
	// Void needs a confirmation.
	keys(m, K(KeyEsc), R('v'))
	if m.face != faceConfirm {
		t.Fatalf("void: face %v", m.face)
	}
	keys(m, K(KeyEnter))
	if got := term.callLog(); got[len(got)-1] != "void 000001 0" {
		t.Errorf("void call = %q", got[len(got)-1])
	}
}

func TestStaleResultIgnored(t *testing.T) {
	m := NewModel(Config{Terminal: &fakeTerm{}, Wallet: testWallet})
	m.seq = 2
	m.face = faceProcessing
	m.Update(resultMsg{seq: 1, res: Result{Kind: KindApproved}})
	if m.face != faceProcessing || m.last != nil {
		t.Errorf("a stale result was taken: face %v", m.face)
	}
}

func TestDeviceFaultFromTrainer(t *testing.T) {
	term := &fakeTerm{}
	m := NewModel(Config{Terminal: term, Wallet: testWallet})
	keys(m, K(KeyF2), K(KeyUp), K(KeyEnter))
	if fs := term.Snapshot().DeviceFaults; len(fs) != 1 || fs[0] != (simulator.DeviceFault{Kind: DevicePowerLoss, Count: 1}) {
		t.Errorf("device faults = %+v", fs)
	}
	if m.trainer.open != true || m.notice == "" {
		t.Errorf("trainer closed or no notice")
	}
}
