package main

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/tui"
)

// Compile-time: the real engine is what the UI drives.
var _ tui.Terminal = (*simulator.Terminal)(nil)

// screenRun runs a training environment's UI on a simulation screen.
type screenRun struct {
	t     *testing.T
	s     tcell.SimulationScreen
	mu    sync.Mutex
	text  string
	seen  chan struct{}
	close func() // stops the UI and closes the environment; idempotent
}

func runOnScreen(t *testing.T, env *trainEnv) *screenRun {
	t.Helper()
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	s.SetSize(80, 24)
	sr := &screenRun{t: t, s: s, seen: make(chan struct{}, 1)}
	env.app.OnDraw(func(s tcell.Screen) {
		text := tui.ScreenText(s)
		sr.mu.Lock()
		sr.text = text
		sr.mu.Unlock()
		select {
		case sr.seen <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.app.Run(ctx, s) }()
	sr.close = sync.OnceFunc(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the UI did not stop")
		}
		if err := env.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	t.Cleanup(sr.close)
	return sr
}

// keys injects keys from a goroutine (InjectKey blocks when the queue of 10 is full).
func (sr *screenRun) keys(ks ...any) {
	sr.t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, k := range ks {
			switch k := k.(type) {
			case string:
				for _, r := range k {
					sr.s.InjectKey(tcell.KeyRune, r, tcell.ModNone)
				}
			case tcell.Key:
				sr.s.InjectKey(k, 0, tcell.ModNone)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		sr.t.Fatal("keys were not taken")
	}
}

func (sr *screenRun) waitFor(wants ...string) string {
	sr.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		sr.mu.Lock()
		text := sr.text
		sr.mu.Unlock()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return text
		}
		select {
		case <-sr.seen:
		case <-deadline:
			sr.t.Fatalf("the screen never showed %q; it shows:\n%s", missing, text)
		}
	}
}

var unmasked = regexp.MustCompile(`\d{12,19}`)

func noFullPAN(t *testing.T, screen string) {
	t.Helper()
	if p := unmasked.FindString(screen); p != "" {
		t.Errorf("unmasked card number %q on screen:\n%s", p, screen)
	}
}

// TestTrainEndToEnd drives the real terminal engine against the real embedded acquirer
// over loopback TCP, with the keyboard only: an approved sale, an expired card, and an
// answer lost after the bank committed — reversed, the customer's balance unchanged.
func TestTrainEndToEnd(t *testing.T) {
	env, err := newTrainEnv(trainOptions{seed: 1, lang: "en"}, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	sr := runOnScreen(t, env)
	sr.waitFor("READY", "built-in acquirer 127.0.0.1:", "TERMINAL TERM0001")

	// An approved sale: 25.00 with the Visa card, inserted, PIN 1234.
	sr.keys("2500", tcell.KeyEnter)
	sr.waitFor("INSERT / TAP / SWIPE / SCAN")
	sr.keys("1i")
	sr.waitFor("CUSTOMER: ENTER PIN")
	sr.keys("1234", tcell.KeyEnter)
	screen := sr.waitFor("APPROVED", "Amount CNY 25.00", "Card 411111******1111 · chip", "AUTH ")
	noFullPAN(t, screen)
	if b, err := env.acq.Balance("visa-ok"); err != nil || b.Available != 1000000-2500 {
		t.Errorf("visa-ok after the sale: %+v, %v; want 9975.00 available", b, err)
	}

	// The expired card: declined 54 with its guidance.
	sr.keys("1250", tcell.KeyEnter, "4i")
	sr.waitFor("CUSTOMER: ENTER PIN")
	sr.keys("1234", tcell.KeyEnter)
	sr.waitFor("DECLINED — 54 Card expired", "WHAT TO DO", "1. Look at the expiry date")

	// The trainer makes the next answer get lost after the bank committed it.
	sr.keys(tcell.KeyF2)
	sr.waitFor("TRAINER", "▲▼ decline ◂ 05 ▸")
	sr.keys(tcell.KeyDown, tcell.KeyDown, tcell.KeyDown, tcell.KeyDown)
	sr.waitFor("▲▼ answer lost after charging")
	sr.keys(tcell.KeyEnter)
	sr.waitFor("Fault injected at the host.", "· answer lost after charging (0/1)")
	sr.keys(tcell.KeyEscape)
	// Mastercard, tapped: no PIN.
	sr.keys("4200", tcell.KeyEnter, "2t")
	screen = sr.waitFor("NO ANSWER — REVERSED, not charged", "The host acknowledged the reversal:")
	noFullPAN(t, screen)
	// Was the customer charged? The trainer panel asks the host.
	sr.keys("t")
	screen = sr.waitFor("MC 555555******4444", "Available 10000.00 · held 0.00", "Not charged: balance unchanged", "reversed")
	noFullPAN(t, screen)
	if b, err := env.acq.Balance("mc-ok"); err != nil || b.Available != b.Opening {
		t.Errorf("mc-ok after the lost answer: %+v, %v; want the opening balance", b, err)
	}
	// The trace saw the reversal advice go out and be answered.
	sr.keys(tcell.KeyEscape, "m")
	sr.waitFor("MESSAGE TRACE", "0420", "0430")
}

// TestLibraryDrillsConvert: every drill of the scenario library reaches the UI, with its
// customer's card in the wallet and actions the UI can recognise.
func TestLibraryDrillsConvert(t *testing.T) {
	wallet := cards.Builtin()
	scs, err := scenarios.Library()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, sc := range scs {
		if sc.Drill != nil {
			want++
		}
	}
	drills, skipped := libraryDrills(wallet)
	if len(skipped) > 0 {
		t.Errorf("drills left out of the menu: %v", skipped)
	}
	if len(drills) != want || want == 0 {
		t.Errorf("%d drills converted, the library has %d", len(drills), want)
	}
	known := tui.Actions()
	for _, d := range drills {
		if d.Title == "" || d.Situation == "" {
			t.Errorf("%s: no title or situation", d.Name)
		}
		if strings.Contains(d.Situation, "Right recovery") {
			t.Errorf("%s: the situation gives the answer away: %q", d.Name, d.Situation)
		}
		for _, a := range slices.Concat(d.Expected, d.Forbidden) {
			if !slices.Contains(known, a) {
				t.Errorf("%s: the UI cannot recognise the action %q", d.Name, a)
			}
		}
	}
}

func TestSplitRecovery(t *testing.T) {
	sit, rec := splitRecovery("A customer pays 12.50.\n  The bank declines.\nRight recovery: ask for\n another card.")
	if sit != "A customer pays 12.50. The bank declines." || rec != "ask for another card." {
		t.Errorf("splitRecovery = %q, %q", sit, rec)
	}
}

// TestDrillProfiles: only drills whose scenario changes the terminal's set-up carry a
// profile, and it keeps the scenario's changes.
func TestDrillProfiles(t *testing.T) {
	drills, _ := libraryDrills(cards.Builtin())
	var with []string
	for _, d := range drills {
		if d.Profile != nil {
			with = append(with, d.Name)
			if d.Name == "merchant-mismatch" && d.Profile.MID != "POSDRILL0000999" {
				t.Errorf("merchant-mismatch: MID %q", d.Profile.MID)
			}
		}
	}
	if len(with) == 0 || len(with) > 10 || !slices.Contains(with, "merchant-mismatch") {
		t.Errorf("drills with their own profile: %v", with)
	}
}

// TestTrainDrillEndToEnd plays a library drill on the real engine: the terminal is rebuilt
// with the drill's wrong merchant number, the trainee's payment is declined 03, the trainee
// calls the help desk and passes; afterwards the default terminal is back.
func TestTrainDrillEndToEnd(t *testing.T) {
	env, err := newTrainEnv(trainOptions{seed: 1, lang: "en"}, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	drills, _ := libraryDrills(cards.Builtin())
	idx := slices.IndexFunc(drills, func(d tui.Drill) bool { return d.Name == "merchant-mismatch" })
	if idx < 0 {
		t.Fatal("no merchant-mismatch drill in the library")
	}
	sr := runOnScreen(t, env)
	sr.waitFor("READY")
	sr.keys("d")
	sr.waitFor("DRILLS")
	for range idx {
		sr.keys(tcell.KeyDown)
	}
	sr.waitFor("A technician replaced the terminal") // the chosen drill's situation
	sr.keys(tcell.KeyEnter)
	sr.waitFor("THE SITUATION", "Take the payment.")
	// The customer's card is already picked in the wallet: insert it.
	sr.keys("2000", tcell.KeyEnter, "i")
	sr.waitFor("CUSTOMER: ENTER PIN")
	sr.keys("1234", tcell.KeyEnter)
	sr.waitFor("DECLINED — 03")
	// The trainee calls the help desk (a till action in the drill panel).
	sr.keys(tcell.KeyF4, "2")
	sr.waitFor("Score: 3 of 3")
	sr.keys(tcell.KeyEscape)
	// The default terminal is back: the same card pays.
	sr.keys(tcell.KeyEnter, "2000", tcell.KeyEnter, "1i")
	sr.waitFor("CUSTOMER: ENTER PIN")
	sr.keys("1234", tcell.KeyEnter)
	sr.waitFor("APPROVED", "Amount CNY 20.00")
}

// TestAdminHost drives the trainer's back-office view of an external acquirer through the
// real admin API: faults in and out, balances, journal, reset.
func TestAdminHost(t *testing.T) {
	acq, err := acquirer.New(acquirer.Options{Seed: 1, DB: filepath.Join(t.TempDir(), "acq.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer acq.Close()
	srv := httptest.NewServer(acq.Admin())
	defer srv.Close()
	h, err := newAdminHost(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := h.AddFault(ctx, tui.FaultSpec{Name: "trainer: decline 54", Action: tui.FaultDecline, Code: "54", MTI: []string{"0100", "0200"}, Count: 1})
	if err != nil || id == "" {
		t.Fatalf("AddFault = %q, %v", id, err)
	}
	fs, err := h.Faults(ctx)
	if err != nil || len(fs) != 1 || fs[0].Action != "decline" || fs[0].Code != "54" || fs[0].Count != 1 || !slices.Equal(fs[0].MTI, []string{"0100", "0200"}) {
		t.Fatalf("Faults = %+v, %v", fs, err)
	}
	if _, err := h.AddFault(ctx, tui.FaultSpec{Action: "no_such_action"}); err == nil {
		t.Error("an invalid fault was accepted")
	}
	if err := h.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if fs, _ := h.Faults(ctx); len(fs) != 0 {
		t.Errorf("faults after clear: %+v", fs)
	}
	b, err := h.Balance(ctx, "visa-ok")
	if err != nil || b.Opening != 1000000 || b.Available != 1000000 {
		t.Errorf("Balance = %+v, %v", b, err)
	}
	if _, err := h.Balance(ctx, "nobody"); err == nil {
		t.Error("the balance of an unknown card did not fail")
	}
	if txns, err := h.Transactions(ctx, 5); err != nil || len(txns) != 0 {
		t.Errorf("Transactions = %+v, %v", txns, err)
	}
	if err := h.Reset(ctx); err != nil {
		t.Error(err)
	}
	// HOST:PORT means http, as for posdrill fault; other schemes and no host are refused.
	if h, err := newAdminHost("127.0.0.1:8080/", ""); err != nil || h.c.Base() != "http://127.0.0.1:8080" {
		t.Errorf("newAdminHost(127.0.0.1:8080/) = %+v, %v; want base http://127.0.0.1:8080", h, err)
	}
	for _, bad := range []string{"ftp://127.0.0.1:8080", "http://", "http://[::1"} {
		if _, err := newAdminHost(bad, ""); err == nil || !strings.Contains(err.Error(), "--admin") {
			t.Errorf("newAdminHost(%q) = %v, want an error naming --admin", bad, err)
		}
	}
}
