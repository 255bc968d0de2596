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
		return &attempt{Op: simulator.OpSale, Card: card, Amount: amount, Result: r}
	}
	tests := []struct {
		name string
		op   string
		p    payment
		prev *attempt
		want []string
	}{
		{"first sale", simulator.OpSale, payment{Card: "visa-ok", Amount: 2500}, nil, []string{simulator.ActSale}},
		{"again after no answer", simulator.OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(simulator.KindTimedOutReversed, "", iso.GuidanceNoAnswerReversed)), []string{simulator.ActSale, simulator.ActSaleAgain}},
		{"again while reversing", simulator.OpSale, payment{Card: "mc-ok", Amount: 2500},
			sale("visa-ok", 2500, res(simulator.KindReversalPending, "", iso.GuidanceReversalPending)), []string{simulator.ActSale, simulator.ActSaleAgain, simulator.ActOtherCard}},
		{"again after approval", simulator.OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(simulator.KindApproved, "00", "")), []string{simulator.ActSale, simulator.ActSaleAgain}},
		{"retry a 94", simulator.OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(simulator.KindDeclined, "94", iso.GuidanceDuplicateTransmission)), []string{simulator.ActSale, simulator.ActSaleAgain, simulator.ActSameCardAgain}},
		{"expired card again", simulator.OpSale, payment{Card: "expired", Amount: 2500},
			sale("expired", 2500, res(simulator.KindDeclined, "54", iso.GuidanceExpiredCard)), []string{simulator.ActSale, simulator.ActSameCardAgain}},
		{"other card after 54", simulator.OpSale, payment{Card: "mc-ok", Amount: 2500},
			sale("expired", 2500, res(simulator.KindDeclined, "54", iso.GuidanceExpiredCard)), []string{simulator.ActSale, simulator.ActOtherCard}},
		{"PIN again after 55", simulator.OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(simulator.KindDeclined, "55", iso.GuidanceIncorrectPIN)), []string{simulator.ActSale, simulator.ActReenterPIN}},
		{"lower amount after 51", simulator.OpSale, payment{Card: "low-funds", Amount: 400},
			sale("low-funds", 2500, res(simulator.KindDeclined, "51", iso.GuidanceInsufficientFunds)), []string{simulator.ActSale, simulator.ActCorrectAmount}},
		{"retry once after 91", simulator.OpSale, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(simulator.KindDeclined, "91", iso.GuidanceIssuerUnavailable)), []string{simulator.ActSale}},
		{"swipe after a dead chip", simulator.OpSale, payment{Card: "damaged-chip", Amount: 2500, Entry: iso.EntryFallback},
			sale("damaged-chip", 2500, res(simulator.KindDeviceFault, "", iso.GuidanceChipFallback)), []string{simulator.ActSale, simulator.ActFallbackSwipe}},
		{"refund after a reversal", simulator.OpRefund, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(simulator.KindTimedOutReversed, "", iso.GuidanceNoAnswerReversed)), []string{simulator.ActRefund, simulator.ActManualRefund}},
		{"refund after approval", simulator.OpRefund, payment{Card: "visa-ok", Amount: 2500},
			sale("visa-ok", 2500, res(simulator.KindApproved, "00", "")), []string{simulator.ActRefund}},
		{"sale on a held deposit", simulator.OpSale, payment{Card: "mc-ok", Amount: 6500},
			&attempt{Op: simulator.OpPreAuth, Card: "mc-ok", Amount: 8000, Result: res(simulator.KindApproved, "00", "")}, []string{simulator.ActSale, simulator.ActSaleAgain}},
		{"check last", OpCheckLast, payment{}, nil, []string{simulator.ActCheckLast}},
		{"complete", simulator.OpCompletion, payment{Amount: 6500}, nil, []string{simulator.ActComplete}},
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
	d := &drillRun{drill: Drill{Expected: []string{simulator.ActCheckLast, simulator.ActSale}, Forbidden: []string{simulator.ActManualRefund}}}
	d.log = []attempt{{Op: simulator.OpSale, Actions: []string{simulator.ActSale}}, {Op: simulator.OpRefund, Actions: []string{simulator.ActRefund, simulator.ActManualRefund}}}
	zero := int64(0)
	db := score(d, &zero)
	if db.Passed || db.Score != 1 || db.Max != 3 {
		t.Errorf("score = %+v, want 1 of 3, not passed", db)
	}
	d.log = append(d.log[:1], attempt{Op: OpCheckLast, Actions: []string{simulator.ActCheckLast}})
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
	if m.face != faceResult || m.last == nil || m.last.Kind != simulator.KindApproved || m.approved == nil {
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
	m.Update(resultMsg{seq: 1, res: Result{Kind: simulator.KindApproved}})
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
