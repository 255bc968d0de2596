package tui

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// fullPAN finds card numbers that were not masked.
var fullPAN = regexp.MustCompile(`\d{12,19}`)

func assertMasked(t *testing.T, screen string) {
	t.Helper()
	if p := fullPAN.FindString(screen); p != "" {
		t.Errorf("the screen shows an unmasked card number %q:\n%s", p, screen)
	}
}

// payWith keys a sale of amount digits with wallet card n presented with entry key and PIN.
func (hs *harness) payWith(amount string, card rune, entry rune, pin string) {
	hs.t.Helper()
	hs.typeText(amount)
	hs.press(K(KeyEnter))
	hs.waitFor("INSERT / TAP / SWIPE / SCAN")
	hs.press(R(card), R(entry))
	if pin != "" {
		hs.waitFor("CUSTOMER: ENTER PIN")
		hs.typeText(pin)
		hs.waitFor(strings.TrimSpace(strings.Repeat("* ", len(pin))))
		hs.press(K(KeyEnter))
	}
}

func TestApprovedSale(t *testing.T) {
	term := &fakeTerm{decide: func(op string, p simulator.Payment) simulator.Outcome {
		return simulator.Outcome{Kind: simulator.KindApproved, ResponseCode: "00", Guidance: iso.GuidanceApproved,
			STAN: "000007", AuthCode: "A1B2C3", RRN: "000000000007", MaskedPAN: "411111******1111", Entry: p.Entry,
			Receipt: &simulator.Receipt{Customer: "POSDRILL TEST SHOP\nSALE\nCARD 411111******1111\nAMOUNT CNY 25.00\nAPPROVED", Printed: true}}
	}}
	hs := startApp(t, Config{Terminal: term, Wallet: testWallet, HostLabel: "embedded"}, 80, 24)
	idle := hs.waitFor("READY", "Key in an amount to start a sale", "CUSTOMER'S WALLET", "411111******1111")
	assertMasked(t, idle)

	hs.typeText("2500")
	hs.waitFor("CNY 25.00")
	hs.press(K(KeyEnter))
	hs.waitFor("INSERT / TAP / SWIPE / SCAN")
	hs.press(R('1'), R('i'))
	pin := hs.waitFor("CUSTOMER: ENTER PIN")
	hs.typeText("1234")
	pin = hs.waitFor("* * * *")
	if strings.Contains(pin[strings.Index(pin, "ENTER PIN"):], "1234\n") {
		t.Errorf("the PIN is shown in clear:\n%s", pin)
	}
	hs.press(K(KeyEnter))
	res := hs.waitFor("APPROVED", "AUTH A1B2C3", "Amount CNY 25.00", "Card 411111******1111 · chip", "WHAT TO DO")
	assertMasked(t, res)
	if got, want := term.callLog(), []string{"sale visa-ok 2500 chip 1234"}; !slices.Equal(got, want) {
		t.Errorf("terminal calls = %q, want %q", got, want)
	}
	// The receipt is on the face; after it, the idle screen counts the sale as the last one.
	hs.waitFor("Receipt (customer copy):", "AMOUNT CNY 25.00")
	hs.press(K(KeyEnter))
	hs.waitFor("READY", "Last: SALE — APPROVED")
}

func TestExpiredCardShowsItsGuidance(t *testing.T) {
	term := &fakeTerm{decide: func(op string, p simulator.Payment) simulator.Outcome {
		if p.Card == "expired" {
			return simulator.Outcome{Kind: simulator.KindDeclined, ResponseCode: "54", Guidance: iso.GuidanceExpiredCard, STAN: "000002", MaskedPAN: "400000******0069"}
		}
		return simulator.Outcome{Kind: simulator.KindApproved, ResponseCode: "00", Guidance: iso.GuidanceApproved, STAN: "000003"}
	}}
	hs := startApp(t, Config{Terminal: term, Wallet: testWallet}, 80, 24)
	hs.waitFor("READY")
	hs.payWith("1999", '3', 'i', "1234")
	e := guidance.Lookup(iso.GuidanceExpiredCard, guidance.En)
	screen := hs.waitFor("DECLINED — 54 Card expired")
	hs.waitIn("WHAT TO DO", e.Title, e.What, "1. "+e.Steps[0], "2. "+e.Steps[1], "3. "+e.Steps[2], "Tell the customer: "+e.Tell)
	assertMasked(t, screen)
	// In Chinese the same guidance reads in Chinese.
	hs.press(R('l'))
	zh := guidance.Lookup(iso.GuidanceExpiredCard, guidance.Zh)
	hs.waitFor("交易拒绝 — 54 " + zh.Title)
	hs.waitIn("如何处理", zh.Title, "1. "+zh.Steps[0], "2. "+zh.Steps[1], "告诉顾客："+zh.Tell)
}

func TestLostAnswerShowsReversalAndBalanceUnchanged(t *testing.T) {
	gate := make(chan struct{})
	term := &fakeTerm{gate: gate, deadline: time.Date(2025, 3, 14, 10, 30, 27, 0, time.UTC),
		decide: func(op string, p simulator.Payment) simulator.Outcome {
			return simulator.Outcome{Kind: simulator.KindTimedOutReversed, Guidance: iso.GuidanceNoAnswerReversed, STAN: "000004", MaskedPAN: "411111******1111",
				Reversal: &simulator.SAFEntry{Kind: simulator.SAFReversal, MTI: "0420", OriginalSTAN: "000004", Reason: "68"}}
		}}
	host := newFakeHost()
	host.balances["visa-ok"] = Balance{Card: "visa-ok", Opening: 1000000, Available: 1000000}
	// What the host returns: a declined 25.00 and the reversed one of this terminal (the
	// host took nothing for either), and another till's sale, which the panel leaves out.
	host.txns = []HostTxn{
		{Time: time.Date(2025, 3, 14, 10, 29, 1, 0, time.UTC), Terminal: "TERM0001", MTI: "0200", STAN: "000003", MaskedPAN: "400000******0069", Requested: 2500, ResponseCode: "54", State: "declined"},
		{Time: time.Date(2025, 3, 14, 10, 29, 30, 0, time.UTC), Terminal: "TERM0002", MTI: "0200", STAN: "000009", MaskedPAN: "411111******1111", Requested: 990, Amount: 990, ResponseCode: "00", State: "approved"},
		{Time: time.Date(2025, 3, 14, 10, 30, 1, 0, time.UTC), Terminal: "TERM0001", MTI: "0200", STAN: "000004", MaskedPAN: "411111******1111", Requested: 2500, ResponseCode: "00", State: "reversed", Fault: "drop_after_commit"},
	}
	hs := startApp(t, Config{Terminal: term, Host: host, Wallet: testWallet}, 80, 24)
	hs.waitFor("READY")
	hs.payWith("2500", '1', 't', "")
	// While the terminal waits: a countdown of the response timeout.
	hs.waitFor("Sent. Waiting for the host…", "Waiting for the host: 27 s left")
	// The engine reports the timeout: the face says it is reversing.
	hs.app.Event(TermEvent{Kind: simulator.EventTimedOut})
	hs.app.Event(TermEvent{Kind: simulator.EventReversalQueued})
	hs.waitFor("REVERSING… do not charge again", "· no answer in time", "· reversal queued")
	close(gate)
	hs.waitFor("NO ANSWER — REVERSED, not charged")
	hs.waitIn("TERMINAL", "The host acknowledged the reversal: the customer is not charged.")
	nr := guidance.Lookup(iso.GuidanceNoAnswerReversed, guidance.En)
	hs.waitIn("WHAT TO DO", nr.Title, "1. "+nr.Steps[0])
	// The trainer checks the customer's account: not charged, the host reversed it.
	hs.press(R('t'))
	screen := hs.waitFor("TRAINER", "Customer's card at the host:", "VISA 411111******1111", "Available 10000.00 · held 0.00",
		"Not charged: balance unchanged", "Host journal of TERM0001:",
		"000004 1111 25.00 00 reversed", "⚡ answer lost after charging", "000003 0069 25.00 54 declined")
	assertMasked(t, screen)
	if strings.Contains(screen, "000009") {
		t.Errorf("another terminal's transaction is in this terminal's journal:\n%s", screen)
	}
}

func TestTrainerInjectsFaults(t *testing.T) {
	term := &fakeTerm{}
	host := newFakeHost()
	hs := startApp(t, Config{Terminal: term, Host: host, Wallet: testWallet}, 80, 24)
	hs.waitFor("READY")
	hs.press(K(KeyF2))
	hs.waitFor("TRAINER", "decline ◂ 05 ▸", "For: the next transaction only", "No fault in force.")
	// decline 54 for the next transaction
	hs.press(K(KeyRight), K(KeyRight))
	hs.waitFor("decline ◂ 54 ▸")
	hs.press(K(KeyEnter))
	hs.waitFor("Fault injected at the host.", "In force:", "· decline 54 (0/1)")
	// no answer, until cleared
	hs.press(K(KeyDown), K(KeyDown), R(' '))
	hs.waitFor("▲▼ no answer", "For: every one until cleared")
	hs.press(K(KeyEnter))
	hs.waitFor("· decline 54 (0/1)", "· no answer")
	got := host.faultList()
	want := []FaultSpec{
		{ID: "1", Name: "trainer: decline 54", Action: FaultDecline, Code: "54", MTI: []string{"0100", "0200"}, Count: 1},
		{ID: "2", Name: "trainer: no_response", Action: FaultNoResponse, MTI: []string{"0100", "0200"}},
	}
	if !equalFaults(got, want) {
		t.Errorf("host faults = %+v, want %+v", got, want)
	}
	// A device fault goes to the terminal, not the host.
	hs.press(K(KeyUp), K(KeyUp), K(KeyUp), K(KeyUp))
	hs.waitFor("▲▼ printer out of paper")
	hs.press(K(KeyEnter))
	hs.waitFor("Device fault armed: printer out of paper", "· printer out of paper")
	if fs := term.Snapshot().DeviceFaults; len(fs) != 1 || fs[0].Kind != simulator.DevicePrinterOut || fs[0].Count != 0 {
		t.Errorf("device faults = %+v, want printer_out_of_paper until cleared", fs)
	}
	// Clear everything; reset the day takes two presses.
	hs.press(R('c'))
	hs.waitFor("All faults cleared.", "No fault in force.")
	if n := len(host.faultList()); n != 0 {
		t.Errorf("%d host faults left after clear", n)
	}
	hs.press(R('r'))
	hs.waitFor("Press R again to reset the day")
	hs.press(R('r'))
	hs.waitFor("The day was reset")
	host.mu.Lock()
	resets := host.resets
	host.mu.Unlock()
	if resets != 1 {
		t.Errorf("host resets = %d, want 1", resets)
	}
}

func equalFaults(a, b []FaultSpec) bool {
	return slices.EqualFunc(a, b, func(x, y FaultSpec) bool {
		return x.ID == y.ID && x.Name == y.Name && x.Action == y.Action && x.Code == y.Code && x.Count == y.Count && slices.Equal(x.MTI, y.MTI)
	})
}

// expiredDrill: the customer's card has expired; the trainee must ask for another card.
var expiredDrill = Drill{
	Name:      "expired-card",
	Title:     guidance.Text{En: "Card with a worn edge", Zh: "卡边磨旧了"},
	Situation: guidance.Text{En: "A regular customer pays 25.00 with an old-looking card.", Zh: "一位老顾客拿着一张旧卡付 25.00 元。"},
	Says:      guidance.Text{En: "Just this, thanks.", Zh: "就这个，谢谢。"},
	Debrief:   guidance.Text{En: "54 means the card expired: another card, never the same one again.", Zh: "54 是卡片过期：请顾客换一张卡，不要再刷同一张。"},
	Card:      "expired", Amount: 2500,
	Faults:    []FaultSpec{{Action: FaultDelay, MS: 1000, MTI: []string{"0200"}}},
	Expected:  []string{simulator.ActOtherCard},
	Forbidden: []string{simulator.ActSameCardAgain},
}

func expiredTerm() *fakeTerm {
	return &fakeTerm{decide: func(op string, p simulator.Payment) simulator.Outcome {
		if p.Card == "expired" {
			return simulator.Outcome{Kind: simulator.KindDeclined, ResponseCode: "54", Guidance: iso.GuidanceExpiredCard, STAN: "000002"}
		}
		return simulator.Outcome{Kind: simulator.KindApproved, ResponseCode: "00", Guidance: iso.GuidanceApproved, STAN: "000003"}
	}}
}

func TestDrillScored(t *testing.T) {
	t.Run("passed", func(t *testing.T) {
		host := newFakeHost()
		hs := startApp(t, Config{Terminal: expiredTerm(), Host: host, Wallet: testWallet, Drills: []Drill{expiredDrill}}, 80, 24)
		hs.waitFor("READY")
		hs.press(R('d'))
		hs.waitFor("DRILLS", " 1 Card with a worn edge")
		hs.press(K(KeyEnter))
		hs.waitFor("drill: Card with a worn edge")
		hs.waitIn("THE SITUATION", "A regular customer pays 25.00 with an old-looking card.", "Customer: “Just this, thanks.”",
			"Customer pays CNY 25.00 with VISA 400000******0069", "Take the payment. F4: till actions, finish")
		if fs := host.faultList(); len(fs) != 1 || fs[0].Action != FaultDelay {
			t.Errorf("the drill's faults were not installed: %+v", fs)
		}
		// The wallet has the drill's card ready: Enter presents it the usual way.
		hs.typeText("2500")
		hs.press(K(KeyEnter))
		hs.waitFor("The customer hands you:", "  VISA 400000******0069")
		hs.press(R('i'))
		hs.waitFor("ENTER PIN")
		hs.typeText("1234")
		hs.press(K(KeyEnter))
		hs.waitFor("DECLINED — 54")
		hs.waitIn("WHAT TO DO", "Drill in progress: the guidance is in the debrief.")
		hs.payWith("2500", '1', 'i', "1234")
		screen := hs.waitFor("Score: 2 of 2")
		hs.waitIn("DRILLS", "✔ You did: ask for another card", "✔ You rightly did not: try the same card again",
			"The customer's card was not charged in the end.", "What happened and what to do:", "54 means the card expired: another card, never the same one again.")
		assertMasked(t, screen)
		if n := len(host.faultList()); n != 0 {
			t.Errorf("the drill's faults are still installed after it ended: %d", n)
		}
		// Closing the debrief ends drill mode: the guidance is back.
		hs.press(K(KeyEsc))
		hs.waitIn("WHAT TO DO", guidance.Lookup(iso.GuidanceApproved, guidance.En).Title)
		if strings.Contains(hs.screen(), "drill:") {
			t.Errorf("still in drill mode:\n%s", hs.screen())
		}
	})
	t.Run("failed", func(t *testing.T) {
		hs := startApp(t, Config{Terminal: expiredTerm(), Host: newFakeHost(), Wallet: testWallet, Drills: []Drill{expiredDrill}}, 80, 24)
		hs.waitFor("READY")
		hs.press(K(KeyF4), K(KeyEnter))
		hs.waitFor("THE SITUATION")
		hs.payWith("2500", '3', 'i', "1234")
		hs.waitFor("DECLINED — 54")
		hs.payWith("2500", '3', 't', "")
		hs.waitFor("DECLINED — 54")
		// Nothing expected was done, so the trainee ends the drill from the panel.
		hs.press(K(KeyF4))
		hs.waitIn("DRILLS", "What you did so far:", "· SALE 25.00 …0069 → DECLINED — 54 Card expired · SALE 25.00 …0069 → DECLINED — 54 Card expired")
		hs.press(R('f'))
		hs.waitFor("Score: 0 of 2")
		hs.waitIn("DRILLS", "✘ You did not: ask for another card", "✘ You should not have: try the same card again")
	})
}

func TestLanguageSwitch(t *testing.T) {
	hs := startApp(t, Config{Terminal: &fakeTerm{}, Wallet: testWallet}, 80, 24)
	hs.waitFor("READY", "TERMINAL", "CUSTOMER'S WALLET", "Q quit")
	hs.press(R('L'))
	zh := hs.waitFor("待机", "收银终端", "顾客的钱包", "输入金额开始消费", "Q 退出", "中文")
	if strings.Contains(zh, "READY") || strings.Contains(zh, "CUSTOMER'S WALLET") {
		t.Errorf("English left on the Chinese screen:\n%s", zh)
	}
	hs.press(K(KeyF5))
	hs.waitFor("READY", "CUSTOMER'S WALLET")
}

func TestChineseDefaultAndWideCharacters(t *testing.T) {
	hs := startApp(t, Config{Terminal: &fakeTerm{}, Wallet: testWallet, Lang: guidance.Zh}, 80, 24)
	screen := hs.waitFor("收银终端", "输入金额开始消费", "0-9 金额", "4 扫码 620000******0005")
	// Every row fits the screen: wide characters count twice.
	for i, line := range strings.Split(screen, "\n") {
		if w := textWidth(line); w > 80 {
			t.Errorf("row %d is %d cells wide: %q", i, w, line)
		}
	}
}

func TestHelpListsEveryKey(t *testing.T) {
	hs := startApp(t, Config{Terminal: &fakeTerm{}, Wallet: testWallet}, 80, 24)
	hs.waitFor("READY")
	hs.press(R('?'))
	hs.waitFor("KEYS (no mouse needed)", "T  F2   trainer panel", "M  F3   message trace", "D  F4   drills",
		"L  F5   中文 / English", "Q  Ctrl-C  quit", "I  insert (chip)", "C  scan the QR wallet", "R R  reset the day", "F  finish and score")
	hs.press(R('x'))
	hs.waitFor("READY")
}

func TestTracePane(t *testing.T) {
	hs := startApp(t, Config{Terminal: &fakeTerm{}, Wallet: testWallet}, 80, 24)
	hs.waitFor("READY")
	hs.press(R('m'))
	hs.waitFor("MESSAGE TRACE (ISO 8583)", "No messages yet.")
	at := time.Date(2025, 3, 14, 10, 30, 1, 0, time.UTC)
	hs.app.Trace(TraceLine{Time: at, Dir: "out", MTI: "0200", STAN: "000001", Note: "PAN 4111111111111111 25.00 chip"})
	hs.app.Trace(TraceLine{Time: at.Add(31 * time.Second), Dir: "in", MTI: "0210", STAN: "000001", RC: "00", Flag: "late", Note: "+31.0s"})
	screen := hs.waitFor("10:30:01.000 → 0200 000001", "← [LATE] 0210 000001 00 +31.0s")
	assertMasked(t, screen)
	if !strings.Contains(screen, "411111******1111") {
		t.Errorf("the trace does not show the masked PAN:\n%s", screen)
	}
}

func TestLayoutSizes(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {60, 18}, {132, 43}} {
		hs := startApp(t, Config{Terminal: &fakeTerm{}, Wallet: testWallet, HostLabel: "127.0.0.1:9999"}, sz.w, sz.h)
		screen := hs.waitFor("TERMINAL", "READY")
		lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
		if len(lines) != sz.h {
			t.Errorf("%dx%d: %d rows drawn", sz.w, sz.h, len(lines))
		}
		if !strings.Contains(lines[sz.h-1], "? keys") {
			t.Errorf("%dx%d: no key hints on the last row: %q", sz.w, sz.h, lines[sz.h-1])
		}
	}
	// Too small: a sentence instead of a broken layout; growing the window redraws.
	hs := startApp(t, Config{Terminal: &fakeTerm{}, Wallet: testWallet}, 40, 10)
	hs.waitFor("The window is too small")
	hs.Sim.SetSize(100, 30)
	if err := hs.Sim.PostEvent(tcell.NewEventResize(100, 30)); err != nil {
		t.Fatal(err)
	}
	hs.waitFor("READY", "CUSTOMER'S WALLET")
}

func TestQuitRestoresTheScreen(t *testing.T) {
	for _, k := range []Key{R('q'), K(KeyCtrlC)} {
		hs := startApp(t, Config{Terminal: &fakeTerm{}, Wallet: testWallet}, 80, 24)
		hs.waitFor("READY")
		hs.press(k)
		err, ok := hs.Ended(5 * time.Second)
		if !ok {
			t.Fatalf("%v did not quit", k)
		}
		if err != nil {
			t.Fatal(err)
		}
		if w, h := hs.Sim.Size(); w != 0 || h != 0 {
			t.Errorf("the screen was not finalized after %v: %dx%d", k, w, h)
		}
	}
}
