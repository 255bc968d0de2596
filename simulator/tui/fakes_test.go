package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui/tuitest"
)

// fakeTerm is a Terminal whose outcomes the test decides.
type fakeTerm struct {
	mu          sync.Mutex
	decide      func(op string, p simulator.Payment) simulator.Outcome
	gate        chan struct{} // when set, transactions wait for it to close
	calls       []string      // "sale visa-ok 2500 chip 1234"
	faults      []simulator.DeviceFault
	deadline    time.Time
	txns        []simulator.Txn
	saf         []simulator.SAFEntry
	receiptLang string // what the UI last set
}

func (f *fakeTerm) run(ctx context.Context, op string, p simulator.Payment) simulator.Outcome {
	f.mu.Lock()
	f.calls = append(f.calls, strings.TrimSpace(fmt.Sprintf("%s %s %d %s %s", op, p.Card, p.Amount, p.Entry, p.PIN)))
	gate, decide := f.gate, f.decide
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return simulator.Outcome{Kind: simulator.KindNotSent, Err: ctx.Err()}
		}
	}
	out := simulator.Outcome{Kind: simulator.KindApproved, ResponseCode: "00", Guidance: iso.GuidanceApproved, STAN: "000001", AuthCode: "123456"}
	if decide != nil {
		out = decide(op, p)
	}
	out.Operation = op
	if out.Amount == 0 {
		out.Amount = p.Amount
	}
	f.mu.Lock()
	f.txns = append(f.txns, simulator.Txn{Operation: op, STAN: out.STAN, Amount: p.Amount, MaskedPAN: out.MaskedPAN, Status: statusOf(out.Kind)})
	f.mu.Unlock()
	return out
}

func statusOf(kind string) string {
	switch kind {
	case simulator.KindTimedOutReversed:
		return simulator.StatusReversed
	case simulator.KindReversalPending:
		return simulator.StatusReversalPending
	case simulator.KindDeclined:
		return simulator.StatusDeclined
	}
	return simulator.StatusApproved
}

func (f *fakeTerm) Sale(ctx context.Context, p simulator.Payment) simulator.Outcome {
	return f.run(ctx, simulator.OpSale, p)
}
func (f *fakeTerm) Refund(ctx context.Context, p simulator.Payment) simulator.Outcome {
	return f.run(ctx, simulator.OpRefund, p)
}
func (f *fakeTerm) Balance(ctx context.Context, p simulator.Payment) simulator.Outcome {
	return f.run(ctx, simulator.OpBalance, p)
}
func (f *fakeTerm) PreAuth(ctx context.Context, p simulator.Payment) simulator.Outcome {
	return f.run(ctx, simulator.OpPreAuth, p)
}
func (f *fakeTerm) Complete(ctx context.Context, ref simulator.Ref, amount int64) simulator.Outcome {
	return f.run(ctx, simulator.OpCompletion, simulator.Payment{Card: ref.STAN, Amount: amount})
}
func (f *fakeTerm) Void(ctx context.Context, ref simulator.Ref) simulator.Outcome {
	return f.run(ctx, simulator.OpVoid, simulator.Payment{Card: ref.STAN})
}
func (f *fakeTerm) Echo(ctx context.Context) simulator.Outcome {
	return f.run(ctx, simulator.OpEcho, simulator.Payment{})
}
func (f *fakeTerm) SignOn(ctx context.Context) simulator.Outcome {
	return f.run(ctx, simulator.OpSignOn, simulator.Payment{})
}
func (f *fakeTerm) Settle(ctx context.Context) simulator.Outcome {
	return f.run(ctx, simulator.OpSettle, simulator.Payment{})
}
func (f *fakeTerm) DrainSAF(ctx context.Context) error { return nil }
func (f *fakeTerm) Reprint(simulator.Ref) (*simulator.Receipt, error) {
	return &simulator.Receipt{Customer: "*** DUPLICATE ***\nSALE\nCARD 411111******1111", Printed: true}, nil
}
func (f *fakeTerm) InjectDeviceFault(df simulator.DeviceFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, df)
}
func (f *fakeTerm) ClearDeviceFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}
func (f *fakeTerm) Snapshot() simulator.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return simulator.Snapshot{Phase: simulator.PhaseWaiting, Deadline: f.deadline, DeviceFaults: slices.Clone(f.faults), SAF: slices.Clone(f.saf)}
}
func (f *fakeTerm) Transactions() []simulator.Txn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.txns)
}
func (f *fakeTerm) SAF() []simulator.SAFEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.saf)
}
func (f *fakeTerm) SetReceiptLang(lang string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.receiptLang = lang
}

func (f *fakeTerm) Profile() simulator.Profile {
	return simulator.Profile{TID: "TERM0001", ResponseTimeout: 30 * time.Second}
}

func (f *fakeTerm) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fakeHost is a Host with a ledger the test controls.
type fakeHost struct {
	mu       sync.Mutex
	balances map[string]Balance
	txns     []HostTxn
	faults   []FaultSpec
	resets   int
}

func newFakeHost() *fakeHost {
	return &fakeHost{balances: map[string]Balance{}}
}

func (h *fakeHost) Balance(_ context.Context, card string) (Balance, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.balances[card]
	if !ok {
		return Balance{Card: card, Opening: 1000000, Available: 1000000}, nil
	}
	return b, nil
}
func (h *fakeHost) Transactions(_ context.Context, terminal string, limit int) ([]HostTxn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var of []HostTxn
	for _, t := range h.txns {
		if terminal == "" || t.Terminal == terminal {
			of = append(of, t)
		}
	}
	return slices.Clone(tail(of, limit)), nil
}
func (h *fakeHost) AddFault(_ context.Context, f FaultSpec) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f.ID = fmt.Sprint(len(h.faults) + 1)
	h.faults = append(h.faults, f)
	return f.ID, nil
}
func (h *fakeHost) Faults(context.Context) ([]FaultSpec, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.faults), nil
}
func (h *fakeHost) ClearFaults(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = nil
	return nil
}
func (h *fakeHost) Reset(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resets++
	h.txns = nil
	return nil
}
func (h *fakeHost) faultList() []FaultSpec {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.faults)
}

// testWallet mirrors the built-in test cards.
var testWallet = []WalletCard{
	{Name: "visa-ok", Brand: "visa", MaskedPAN: "411111******1111", Expiry: "3012", PIN: "1234"},
	{Name: "mc-ok", Brand: "mastercard", MaskedPAN: "555555******4444", Expiry: "3012", PIN: "1234"},
	{Name: "expired", Brand: "visa", MaskedPAN: "400000******0069", Expiry: "2001", PIN: "1234"},
	{Name: "wallet-qr", Brand: "unionpay", MaskedPAN: "620000******0005", Expiry: "3012", PIN: "1234", QR: true},
}

// harness runs an App on a simulation screen and lets a test type and read.
type harness struct {
	t   *testing.T
	app *App
	*tuitest.Screen
}

func startApp(t *testing.T, cfg Config, w, h int) *harness {
	t.Helper()
	if cfg.Lang == "" {
		cfg.Lang = guidance.En
	}
	if cfg.Now == nil {
		start := time.Date(2025, 3, 14, 10, 30, 0, 0, time.UTC)
		cfg.Now = func() time.Time { return start }
	}
	app := NewApp(cfg)
	return &harness{t: t, app: app, Screen: tuitest.Start(t, app, w, h)}
}

// press injects keys from a goroutine (the event queue holds 10 and InjectKey blocks when
// it is full) and waits until all were queued.
func (hs *harness) press(keys ...Key) {
	hs.t.Helper()
	ks := make([]any, 0, len(keys))
	for _, k := range keys {
		if k.Code == KeyRune {
			ks = append(ks, k.Rune)
		} else {
			ks = append(ks, tcellKey(k.Code))
		}
	}
	hs.Keys(ks...)
}

// typeText presses one key per rune.
func (hs *harness) typeText(s string) {
	hs.t.Helper()
	var keys []Key
	for _, r := range s {
		keys = append(keys, R(r))
	}
	hs.press(keys...)
}

func tcellKey(c KeyCode) tcell.Key {
	switch c {
	case KeyEnter:
		return tcell.KeyEnter
	case KeyEsc:
		return tcell.KeyEscape
	case KeyBackspace:
		return tcell.KeyBackspace2
	case KeyUp:
		return tcell.KeyUp
	case KeyDown:
		return tcell.KeyDown
	case KeyLeft:
		return tcell.KeyLeft
	case KeyRight:
		return tcell.KeyRight
	case KeyTab:
		return tcell.KeyTab
	case KeyCtrlC:
		return tcell.KeyCtrlC
	case KeyF1:
		return tcell.KeyF1
	case KeyF2:
		return tcell.KeyF2
	case KeyF3:
		return tcell.KeyF3
	case KeyF4:
		return tcell.KeyF4
	case KeyF5:
		return tcell.KeyF5
	}
	return tcell.KeyF12
}

// waitFor waits until the screen shows every one of wants, and returns the screen.
func (hs *harness) waitFor(wants ...string) string {
	hs.t.Helper()
	return hs.WaitFor(wants...)
}

// screen returns the last frame.
func (hs *harness) screen() string { return hs.Frame().Text }

// pane returns the text inside the box titled title, all whitespace removed (so wrapped
// lines read as one), or "" when no such box is on screen.
func pane(grid [][]string, title string) string {
	want := strings.Join(strings.Fields(title), "")
	for y, row := range grid {
		for x, c := range row {
			if c != "┌" {
				continue
			}
			x2 := x + 1
			var top strings.Builder
			for ; x2 < len(row) && row[x2] != "┐"; x2++ {
				top.WriteString(row[x2])
			}
			if x2 >= len(row) || !strings.Contains(strings.Join(strings.Fields(top.String()), ""), want) {
				continue
			}
			var b strings.Builder
			for yy := y + 1; yy < len(grid) && grid[yy][x] != "└"; yy++ {
				for xx := x + 1; xx < x2; xx++ {
					b.WriteString(grid[yy][xx])
				}
			}
			return strings.Join(strings.Fields(b.String()), "")
		}
	}
	return ""
}

// waitIn waits until the box titled title shows every one of wants (whitespace ignored).
func (hs *harness) waitIn(title string, wants ...string) {
	hs.t.Helper()
	hs.Until(func(f tuitest.Frame) string {
		p := pane(f.Cells, title)
		for _, w := range wants {
			if !strings.Contains(p, strings.Join(strings.Fields(w), "")) {
				return fmt.Sprintf("%q in the %q box", w, title)
			}
		}
		return ""
	})
}
