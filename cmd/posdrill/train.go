package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui"
	"github.com/spf13/cobra"
)

// trainOptions are the flags of `posdrill train` (and of the bare `posdrill`).
type trainOptions struct {
	host    string // external acquirer's ISO 8583 address; "" = embedded acquirer
	admin   string // external acquirer's admin API base URL
	token   string // admin API bearer token
	lang    string // en, zh; "" = from the locale
	seed    int64
	profile string // terminal profile YAML; "" = defaults
	trace   string // JSONL trace file; "" = none
}

func newTrainCmd() *cobra.Command {
	var o trainOptions
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Open the training terminal: take payments, inject failures, run drills (default command)",
		Long: `Open the full-screen training terminal. By default it runs its own acquirer in the
process (nothing to set up); --host drives an external acquirer instead, and --admin gives
the trainer panel that acquirer's admin API (balances, journal, faults, reset).

Press ? in the terminal for every key; q or Ctrl-C quits.

--trace FILE writes a JSONL trace of the terminal's messages and events (and, with the
embedded acquirer, the faults it fires), card data masked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd.Context(), o) },
	}
	addTrainFlags(cmd, &o)
	return cmd
}

func addTrainFlags(cmd *cobra.Command, o *trainOptions) {
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "external acquirer address host:port (default: an embedded acquirer)")
	f.StringVar(&o.admin, "admin", "", "external acquirer's admin API, e.g. http://127.0.0.1:8080")
	f.StringVar(&o.token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token for the admin API (env POSDRILL_ADMIN_TOKEN)")
	f.StringVar(&o.lang, "lang", "", "language: en or zh (default: from LC_ALL / LC_MESSAGES / LANG)")
	f.Int64Var(&o.seed, "seed", 1, "seed of the embedded acquirer's random choices")
	f.StringVar(&o.profile, "profile", "", "terminal profile YAML (default: the built-in profile)")
	f.StringVar(&o.trace, "trace", "", "write a JSONL trace of the terminal's messages and events to this file")
}

// runTrain opens the UI on the user's terminal.
func runTrain(ctx context.Context, o trainOptions) error {
	env, err := newTrainEnv(o, clock.Real{})
	if err != nil {
		return err
	}
	defer env.Close()
	s, err := tcell.NewScreen()
	if err != nil {
		return fmt.Errorf("open the terminal screen: %w", err)
	}
	if err := s.Init(); err != nil {
		return fmt.Errorf("open the terminal screen: %w", err)
	}
	return env.app.Run(ctx, s) // Run restores the terminal when it returns
}

// trainEnv is everything the training UI runs on.
type trainEnv struct {
	app    *tui.App
	acq    *acquirer.Acquirer // nil with an external acquirer
	host   tui.Host
	opts   simulator.Options
	prof   simulator.Profile        // the running terminal's profile
	base   simulator.Profile        // the default one (flags)
	dir    string                   // the terminal journal's directory
	trace  *simulator.TerminalTrace // nil without --trace
	mu     sync.Mutex
	term   *simulator.Terminal
	closes []func() error
}

// newTrainEnv builds the acquirer (embedded or external), the terminal and the UI.
func newTrainEnv(o trainOptions, clk clock.Clock) (*trainEnv, error) {
	env := &trainEnv{}
	ok := false
	defer func() {
		if !ok {
			env.Close()
		}
	}()
	lang := guidance.DetectLang(os.Getenv)
	switch o.lang {
	case "":
	case "en", "zh":
		lang = guidance.Lang(o.lang)
	default:
		return nil, fmt.Errorf("--lang %q: want en or zh", o.lang)
	}
	prof := simulator.DefaultProfile()
	if o.profile != "" {
		p, err := simulator.LoadProfile(o.profile)
		if err != nil {
			return nil, err
		}
		prof = p
	}
	wallet := cards.Builtin()

	dir, err := os.MkdirTemp("", "posdrill-train-")
	if err != nil {
		return nil, err
	}
	env.dir = dir

	var onFault func(acquirer.FaultRecord)
	if o.trace != "" {
		if o.trace == "-" {
			return nil, errors.New("--trace -: the screen is on standard output; give a file")
		}
		tw, closeOut, err := openTrace(nil, o.trace, clk)
		if err != nil {
			return nil, fmt.Errorf("--trace: %w", err)
		}
		// First in, so closed last: after the terminal and the acquirer.
		env.closes = append(env.closes, func() error {
			err := closeOut()
			if werr := tw.Err(); werr != nil {
				err = werr
			}
			return err
		})
		env.trace = simulator.NewTerminalTrace(tw)
		onFault = acquirer.FaultTracer(tw)
	}

	label := ""
	if o.host == "" {
		if o.admin != "" {
			return nil, errors.New("--admin needs --host: the embedded acquirer has no separate admin API")
		}
		acq, err := acquirer.New(acquirer.Options{Seed: o.seed, Clock: clk, Cards: wallet,
			// the day's ledger lives next to the terminal journal, removed on exit
			DB: filepath.Join(dir, "acquirer.db"), OnFault: onFault})
		if err != nil {
			return nil, fmt.Errorf("embedded acquirer: %w", err)
		}
		env.closes = append(env.closes, acq.Close)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("embedded acquirer: %w", err)
		}
		go func() { _ = acq.Serve(ln) }()
		env.acq = acq
		env.host = embeddedHost{acq}
		prof.Host = ln.Addr().String()
		label = prof.Host
	} else {
		prof.Host = o.host
		label = o.host
		if o.admin != "" {
			h, err := newAdminHost(o.admin, o.token)
			if err != nil {
				return nil, err
			}
			env.host = h
		}
	}

	env.prof, env.base = prof, prof

	var app *tui.App
	tr := &tracer{sent: map[string]time.Time{}, post: func(l tui.TraceLine) { app.Trace(l) }}
	env.opts = simulator.Options{
		Clock:    clk,
		Journal:  journalPath(dir, prof.TID),
		Wallet:   wallet,
		Observer: tr.observe,
		OnEvent: func(e simulator.Event) {
			app.Event(tui.TermEvent{Time: e.Time, Kind: e.Kind, Text: iso.MaskText(e.Detail)})
			tr.event(e)
		},
	}
	term, err := env.newTerminal(prof)
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	env.term = term

	// Drills whose customer card is not in the wallet cannot be played here; they stay out
	// of the menu (TestLibraryDrillsConvert checks the library has none).
	drills, _ := libraryDrills(wallet)
	app = tui.NewApp(tui.Config{
		Terminal:    term,
		Host:        hostOrNil(env.host),
		Wallet:      walletOf(wallet),
		Drills:      drills,
		Lang:        lang,
		Currency:    currencyName(prof.Currency),
		Now:         clk.Now,
		HostLabel:   label,
		Embedded:    env.acq != nil,
		Seed:        o.seed,
		PowerOn:     env.powerOn,
		Reconfigure: env.reconfigure,
	})
	env.app = app
	ok = true
	return env, nil
}

// hostOrNil keeps a nil Host nil inside the interface.
func hostOrNil(h tui.Host) tui.Host {
	if h == nil {
		return nil
	}
	return h
}

// powerOn replaces a terminal that lost power with a new one on the same journal: it
// recovers its pending reversals by itself.
func (env *trainEnv) powerOn(context.Context) (tui.Terminal, error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.term != nil {
		_ = env.term.Close()
	}
	t, err := env.newTerminal(env.prof)
	if err != nil {
		return nil, err
	}
	env.term = t
	return t, nil
}

// newTerminal makes a terminal on prof with env.opts, traced with --trace.
func (env *trainEnv) newTerminal(prof simulator.Profile) (*simulator.Terminal, error) {
	o := env.opts
	if env.trace != nil {
		var err error
		if o, err = env.trace.Hook(prof, o); err != nil {
			return nil, err
		}
	}
	return simulator.New(prof, o)
}

// reconfigure replaces the terminal with one on a drill's profile (nil: the default one),
// pointed at the same acquirer. Each terminal id keeps its own journal, so its STAN
// sequence goes on: a restarted sequence would collide with what the host already saw (94).
func (env *trainEnv) reconfigure(_ context.Context, p *simulator.Profile) (tui.Terminal, error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	prof := env.base
	if p != nil {
		prof = *p
		prof.Host = env.base.Host
	}
	if env.term != nil {
		_ = env.term.Close()
		env.term = nil
	}
	env.opts.Journal = journalPath(env.dir, prof.TID)
	t, err := env.newTerminal(prof)
	if err != nil {
		return nil, err
	}
	env.prof, env.term = prof, t
	return t, nil
}

// journalPath is the terminal journal of one terminal id.
func journalPath(dir, tid string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, tid)
	return filepath.Join(dir, "terminal-"+safe+".db")
}

// Close stops the terminal and the embedded acquirer and removes the journal.
// A second Close does nothing.
func (env *trainEnv) Close() error {
	env.mu.Lock()
	t, closes := env.term, env.closes
	env.term, env.closes = nil, nil
	env.mu.Unlock()
	var errs []error
	if t != nil {
		errs = append(errs, t.Close())
	}
	for i := len(closes) - 1; i >= 0; i-- {
		errs = append(errs, closes[i]())
	}
	if env.dir != "" {
		errs = append(errs, os.RemoveAll(env.dir))
	}
	return errors.Join(errs...)
}

var currencies = map[string]string{"156": "CNY", "840": "USD", "978": "EUR", "826": "GBP", "344": "HKD", "392": "JPY"}

func currencyName(code string) string {
	if n, ok := currencies[code]; ok {
		return n
	}
	return code
}

// walletOf is the customer's wallet as the UI shows it: masked numbers only.
func walletOf(set *cards.Set) []tui.WalletCard {
	var out []tui.WalletCard
	for _, c := range set.Cards {
		out = append(out, tui.WalletCard{Name: c.Name, Brand: c.Brand, MaskedPAN: iso.MaskPAN(c.PAN), Expiry: c.Expiry,
			PIN: c.PIN, QR: c.Wallet, ChipDamaged: c.ChipDamaged, Note: c.Note})
	}
	return out
}

// ---- drills from the scenario library ----

// libraryDrills converts the library's scenarios that have a drill block. Scenarios whose
// customer card is not in the wallet are returned by name in skipped.
func libraryDrills(wallet *cards.Set) (drills []tui.Drill, skipped []string) {
	scs, err := scenarios.Library()
	if err != nil {
		return nil, []string{"library: " + err.Error()}
	}
	for _, sc := range scs {
		d, ok := drillOf(sc, wallet)
		if !ok {
			if sc.Drill != nil {
				skipped = append(skipped, sc.Name)
			}
			continue
		}
		drills = append(drills, d)
	}
	return drills, skipped
}

// drillOf converts one scenario's drill block.
func drillOf(sc *scenarios.Scenario, wallet *cards.Set) (tui.Drill, bool) {
	if sc.Drill == nil {
		return tui.Drill{}, false
	}
	situation, recovery := splitRecovery(sc.Description)
	d := tui.Drill{Name: sc.Name, Title: sc.Title, Situation: situation, Debrief: strings.TrimSpace(sc.Drill.Debrief)}
	if def := simulator.DefaultProfile(); !reflect.DeepEqual(sc.Profile, def) {
		p := sc.Profile
		d.Profile = &p
	}
	if s := strings.TrimSpace(sc.Drill.Situation); s != "" {
		d.Situation = s
	}
	if d.Debrief == "" {
		d.Debrief = recovery
	}
	if c := sc.Drill.Customer; c != nil {
		if _, ok := wallet.ByName(c.Card); !ok {
			return tui.Drill{}, false
		}
		d.Card, d.Amount, d.Entry = c.Card, c.Amount, c.Entry
	}
	for _, r := range sc.Faults {
		d.Faults = append(d.Faults, specOf(r))
	}
	// Device faults armed before the first payment are part of the set-up.
	for _, st := range sc.Steps {
		if st.Kind == scenarios.StepDeviceFault && st.DeviceFault != nil {
			d.DeviceFaults = append(d.DeviceFaults, st.DeviceFault.Kind)
			continue
		}
		if st.Payment != nil {
			break
		}
	}
	for _, a := range sc.Drill.ExpectedActions {
		d.Expected = append(d.Expected, tui.Action(a))
	}
	for _, a := range sc.Drill.ForbiddenActions {
		d.Forbidden = append(d.Forbidden, tui.Action(a))
	}
	return d, true
}

// splitRecovery separates a scenario description into the situation the trainee is told
// and the "Right recovery:" part, which would give the answer away.
func splitRecovery(desc string) (situation, recovery string) {
	desc = strings.TrimSpace(desc)
	i := strings.Index(desc, "Right recovery:")
	if i < 0 {
		return oneLine(desc), ""
	}
	return oneLine(desc[:i]), oneLine(strings.TrimPrefix(desc[i:], "Right recovery:"))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ---- faults: the UI's FaultSpec and the acquirer's Rule ----

// specOf describes a rule for the UI; the rule itself rides along in Raw so nothing of it
// is lost on the way back.
func specOf(r fault.Rule) tui.FaultSpec {
	return tui.FaultSpec{ID: r.ID, Name: r.Name, Action: r.Action, Code: r.Params.Code, MS: r.Params.MS,
		Bytes: r.Params.Bytes, Chunk: r.Params.Chunk, GapMS: r.Params.GapMS, Amount: r.Params.Amount,
		MTI: []string(r.Match.MTI), Card: r.Match.Card, Count: r.Count, Fired: r.Fired, Raw: r}
}

// ruleOf is the acquirer rule for a FaultSpec.
func ruleOf(f tui.FaultSpec) fault.Rule {
	if r, ok := f.Raw.(fault.Rule); ok {
		r.ID, r.Matched, r.Fired = "", 0, 0
		return r
	}
	return fault.Rule{Name: f.Name, Action: f.Action, Count: f.Count,
		Match:  fault.Match{MTI: fault.StringList(f.MTI), Card: f.Card},
		Params: fault.Params{Code: f.Code, MS: f.MS, Bytes: f.Bytes, Chunk: f.Chunk, GapMS: f.GapMS, Amount: f.Amount}}
}

// embeddedHost is the trainer's view of the in-process acquirer.
type embeddedHost struct{ a *acquirer.Acquirer }

func (h embeddedHost) Balance(_ context.Context, card string) (tui.Balance, error) {
	b, err := h.a.Balance(card)
	return tui.Balance{Card: b.Card, Opening: b.Opening, Available: b.Available, Held: b.Held}, err
}

func (h embeddedHost) Transactions(_ context.Context, limit int) ([]tui.HostTxn, error) {
	txns, err := h.a.Transactions(acquirer.Filter{})
	return hostTxns(txns, limit), err
}

func (h embeddedHost) AddFault(_ context.Context, f tui.FaultSpec) (string, error) {
	ids, err := h.a.Faults().Add(ruleOf(f))
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

func (h embeddedHost) Faults(context.Context) ([]tui.FaultSpec, error) {
	var out []tui.FaultSpec
	for _, r := range h.a.Faults().List() {
		out = append(out, specOf(r))
	}
	return out, nil
}

func (h embeddedHost) ClearFaults(context.Context) error { h.a.Faults().Clear(); return nil }

func (h embeddedHost) Reset(context.Context) error { return h.a.Reset() }

// hostTxns keeps the newest limit transactions, oldest first.
func hostTxns(txns []acquirer.Txn, limit int) []tui.HostTxn {
	if limit > 0 && len(txns) > limit {
		txns = txns[len(txns)-limit:]
	}
	out := make([]tui.HostTxn, 0, len(txns))
	for _, t := range txns {
		out = append(out, tui.HostTxn{Time: t.Time, Terminal: t.Terminal, STAN: t.STAN, MTI: t.MTI, Card: t.Card,
			MaskedPAN: iso.MaskText(t.MaskedPAN), Amount: t.Amount, ResponseCode: t.ResponseCode, State: t.State, Fault: t.Fault})
	}
	return out
}

// adminHost is the trainer's view of an external acquirer, through its admin HTTP API.
type adminHost struct{ c *acquirer.AdminClient }

func newAdminHost(base, token string) (*adminHost, error) {
	c, err := acquirer.NewAdminClient(base, token)
	if err != nil {
		return nil, fmt.Errorf("--admin: %w", err)
	}
	return &adminHost{c}, nil
}

func (h *adminHost) Balance(ctx context.Context, card string) (tui.Balance, error) {
	b, err := h.c.Balance(ctx, card)
	return tui.Balance{Card: card, Opening: b.Opening, Available: b.Available, Held: b.Held}, err
}

func (h *adminHost) Transactions(ctx context.Context, limit int) ([]tui.HostTxn, error) {
	txns, err := h.c.Transactions(ctx)
	if err != nil {
		return nil, err
	}
	return hostTxns(txns, limit), nil
}

func (h *adminHost) AddFault(ctx context.Context, f tui.FaultSpec) (string, error) {
	ids, err := h.c.AddFaults(ctx, ruleOf(f))
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

func (h *adminHost) Faults(ctx context.Context) ([]tui.FaultSpec, error) {
	rules, err := h.c.Faults(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]tui.FaultSpec, 0, len(rules))
	for _, r := range rules {
		out = append(out, specOf(r))
	}
	return out, nil
}

func (h *adminHost) ClearFaults(ctx context.Context) error { return h.c.ClearFaults(ctx, "") }

func (h *adminHost) Reset(ctx context.Context) error { return h.c.Reset(ctx) }

// ---- message trace ----

// tracer turns the terminal's wire frames and answer events into trace lines: masked, with
// key fields and the time an answer took.
type tracer struct {
	mu   sync.Mutex
	sent map[string]time.Time // request class + STAN → when it went out
	post func(tui.TraceLine)
}

func (tr *tracer) observe(dir iso.Direction, raw []byte, m *iso.Message, t time.Time) {
	l := tui.TraceLine{Time: t, Dir: string(dir)}
	if m == nil {
		l.Flag = "garbled"
		l.Note = fmt.Sprintf("%d bytes that do not unpack", len(raw))
		tr.post(l)
		return
	}
	l.MTI, l.STAN = m.MTI, m.STAN
	if iso.IsResponse(m.MTI) {
		l.RC = m.ResponseCode
	}
	var notes []string
	if pan := m.PANOf(); pan != "" {
		notes = append(notes, iso.MaskPAN(pan))
	}
	if m.Amount != "" {
		if v, err := iso.ParseAmount(m.Amount); err == nil {
			notes = append(notes, simulator.FormatMoney(v))
		}
	}
	if m.ProcessingCode != "" {
		notes = append(notes, "pc "+m.ProcessingCode)
	}
	if m.EntryMode != "" {
		notes = append(notes, "entry "+m.EntryMode)
	}
	if m.NetworkCode != "" {
		notes = append(notes, "nm "+m.NetworkCode)
	}
	if m.OriginalData != "" && len(m.OriginalData) >= 10 {
		notes = append(notes, "orig "+m.OriginalData[:4]+"/"+m.OriginalData[4:10])
	}
	if !iso.IsResponse(m.MTI) && m.ResponseCode != "" {
		notes = append(notes, "reason "+m.ResponseCode)
	}
	if m.AuthCode != "" && iso.IsResponse(m.MTI) {
		notes = append(notes, "auth "+m.AuthCode)
	}
	key := m.MTI[:min(2, len(m.MTI))] + "/" + m.STAN
	tr.mu.Lock()
	if iso.IsResponse(m.MTI) {
		if t0, ok := tr.sent[key]; ok {
			// the time the answer took comes first: it is what a trace is read for
			notes = append([]string{fmt.Sprintf("+%.2fs", t.Sub(t0).Seconds())}, notes...)
			delete(tr.sent, key)
		}
	} else if dir == iso.Out {
		tr.sent[key] = t
	}
	tr.mu.Unlock()
	l.Note = iso.MaskText(strings.Join(notes, " "))
	tr.post(l)
}

// event marks answers the terminal did not take: late, duplicate, unmatched, garbled.
func (tr *tracer) event(e simulator.Event) {
	flag := ""
	switch e.Kind {
	case simulator.EventLateAnswer:
		flag = "late"
	case simulator.EventDuplicateAnswer:
		flag = "duplicate"
	case simulator.EventUnmatchedAnswer:
		flag = "unmatched"
	case simulator.EventGarbledAnswer:
		flag = "garbled"
	case simulator.EventConnLost:
		flag = "closed"
	case simulator.EventTimedOut:
		flag = "timeout"
	default:
		return
	}
	tr.post(tui.TraceLine{Time: e.Time, MTI: e.MTI, STAN: e.STAN, RC: e.Code, Flag: flag, Note: iso.MaskText(e.Detail)})
}
