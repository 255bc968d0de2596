package trainer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui"
)

// Options say what the training terminal runs against.
type Options struct {
	Host       string // external acquirer's ISO 8583 address; "" = an embedded acquirer
	Admin      string // external acquirer's admin API (HOST:PORT or URL); needs Host
	AdminToken string // bearer token for Admin
	Lang       guidance.Lang
	Seed       int64              // of the embedded acquirer's random choices
	Profile    *simulator.Profile // the terminal's; nil = simulator.DefaultProfile()
	Clock      clock.Clock        // nil = clock.Real{}
	// Trace, when not nil, receives the terminal's frames, events and outcomes and the
	// embedded acquirer's fault firings. The caller closes it after Env.Close (CloseAfter).
	Trace *trace.Writer
	// Dir holds the terminal journals (one per terminal id) and the embedded acquirer's
	// ledger. "" = a new temporary directory, removed by Close. A directory given here is
	// kept, and what a terminal left pending in it (a reversal) is recovered at start.
	Dir string

	// Class hooks (package classroom sets them for a trainee in a class).
	// TID replaces the terminal id of the default profile, and of drills that use the
	// default one: each trainee of a class has their own.
	TID string
	// HostView, when set, is the trainer panel's view of the host (a class scopes it to
	// the trainee's terminal); it replaces the admin API's.
	HostView tui.Host
	// DrillStarted and RecordDrill: see tui.Config.
	DrillStarted func(ctx context.Context, name string, at time.Time)
	RecordDrill  func(ctx context.Context, r tui.DrillRecord) error
	// Class is the trainee's name in a class, for the title bar.
	Class string
}

// Env is everything the training UI runs on: the acquirer (embedded or external), the
// terminal engine and the UI app.
type Env struct {
	App  *tui.App
	Acq  *acquirer.Acquirer // nil with an external acquirer
	host tui.Host
	opts simulator.Options
	prof simulator.Profile // the running terminal's profile
	base simulator.Profile // the default one (Options.Profile)
	dir  string            // the terminal journals' directory
	// tempDir: New made dir and Close removes it.
	tempDir bool
	trace   *simulator.TerminalTrace // nil without Options.Trace
	mu      sync.Mutex
	term    *simulator.Terminal
	closes  []func() error
	after   []func() error
}

// CloseAfter makes Close run f once everything of the environment is closed (a trace file
// that must outlive the terminal writing to it).
func (env *Env) CloseAfter(f func() error) {
	env.mu.Lock()
	env.after = append(env.after, f)
	env.mu.Unlock()
}

// Terminal is the terminal engine running now (a power-on or a drill replaces it).
func (env *Env) Terminal() *simulator.Terminal {
	env.mu.Lock()
	defer env.mu.Unlock()
	return env.term
}

// New builds the acquirer (embedded or external), the terminal and the UI.
func New(o Options) (*Env, error) {
	env := &Env{}
	ok := false
	defer func() {
		if !ok {
			env.Close()
		}
	}()
	clk := o.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	prof := simulator.DefaultProfile()
	if o.Profile != nil {
		prof = *o.Profile
	}
	wallet := cards.Builtin()

	env.dir = o.Dir
	if env.dir == "" {
		dir, err := os.MkdirTemp("", "posdrill-train-")
		if err != nil {
			return nil, err
		}
		env.dir, env.tempDir = dir, true
	}

	var onFault func(acquirer.FaultRecord)
	if o.Trace != nil {
		env.trace = simulator.NewTerminalTrace(o.Trace)
		onFault = acquirer.FaultTracer(o.Trace)
	}

	label := ""
	if o.Host == "" {
		if o.Admin != "" {
			return nil, errors.New("an admin API needs an external acquirer (a host): the embedded acquirer has no separate admin API")
		}
		acq, err := acquirer.New(acquirer.Options{Seed: o.Seed, Clock: clk, Cards: wallet,
			// the day's ledger lives next to the terminal journal
			DB: filepath.Join(env.dir, "acquirer.db"), OnFault: onFault})
		if err != nil {
			return nil, fmt.Errorf("embedded acquirer: %w", err)
		}
		env.closes = append(env.closes, acq.Close)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("embedded acquirer: %w", err)
		}
		go func() { _ = acq.Serve(ln) }()
		env.Acq = acq
		env.host = embeddedHost{acq}
		prof.Host = ln.Addr().String()
		label = prof.Host
	} else {
		prof.Host = o.Host
		label = o.Host
		if o.Admin != "" {
			h, err := newAdminHost(o.Admin, o.AdminToken)
			if err != nil {
				return nil, err
			}
			env.host = h
		}
	}

	if o.TID != "" {
		prof.TID = o.TID
	}
	if o.HostView != nil {
		env.host = o.HostView
	}
	env.prof, env.base = prof, prof

	// The terminal reports events from the moment it is made — one that recovers a pending
	// reversal from its journal does so inside simulator.New — but the UI app can only be
	// made with the terminal. What comes before the app waits in ui and is shown first.
	ui := &uiSink{}
	tr := &tracer{sent: map[iso.AnswerKey]time.Time{}, post: func(l tui.TraceLine) { ui.do(func(a *tui.App) { a.Trace(l) }) }}
	env.opts = simulator.Options{
		Clock:    clk,
		Journal:  journalPath(env.dir, prof.TID),
		Wallet:   wallet,
		Observer: tr.observe,
		OnEvent: func(e simulator.Event) {
			ev := tui.TermEvent{Time: e.Time, Kind: e.Kind, Text: iso.MaskText(e.Detail)}
			ui.do(func(a *tui.App) { a.Event(ev) })
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
	drills, _ := LibraryDrills(wallet)
	env.App = tui.NewApp(tui.Config{
		Terminal:    term,
		Host:        hostOrNil(env.host),
		Wallet:      walletOf(wallet),
		Drills:      drills,
		Lang:        o.Lang,
		Currency:    iso.CurrencyName(prof.Currency),
		Now:         clk.Now,
		HostLabel:   label,
		Embedded:    env.Acq != nil,
		Seed:        o.Seed,
		PowerOn:     env.powerOn,
		Reconfigure: env.reconfigure,

		DrillStarted: o.DrillStarted,
		RecordDrill:  o.RecordDrill,
		Class:        o.Class,
	})
	ui.attach(env.App)
	ok = true
	return env, nil
}

// uiSink hands terminal events and trace lines to the UI app, keeping those that come
// before the app exists until it does.
type uiSink struct {
	mu    sync.Mutex
	app   *tui.App
	early []func(*tui.App)
}

func (s *uiSink) do(f func(*tui.App)) {
	s.mu.Lock()
	if s.app == nil {
		s.early = append(s.early, f)
		s.mu.Unlock()
		return
	}
	app := s.app
	s.mu.Unlock()
	f(app)
}

// attach delivers what waited, in order, and everything after it straight away. App's
// Event and Trace only queue a message, so calling them under the lock cannot block.
func (s *uiSink) attach(app *tui.App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.app = app
	for _, f := range s.early {
		f(app)
	}
	s.early = nil
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
func (env *Env) powerOn(context.Context) (tui.Terminal, error) {
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
func (env *Env) newTerminal(prof simulator.Profile) (*simulator.Terminal, error) {
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
func (env *Env) reconfigure(_ context.Context, p *simulator.Profile) (tui.Terminal, error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	prof := env.base
	if p != nil {
		prof = *p
		prof.Host = env.base.Host
		// A drill on the usual terminal id keeps this terminal's own (a class's trainee);
		// one that needs another id (a terminal the host refuses) keeps that.
		if prof.TID == simulator.DefaultProfile().TID {
			prof.TID = env.base.TID
		}
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

// Close stops the terminal and the embedded acquirer, removes the journal directory when
// New made it, and then runs what CloseAfter added (newest first). A second Close does
// nothing.
func (env *Env) Close() error {
	env.mu.Lock()
	t, closes, after := env.term, env.closes, env.after
	env.term, env.closes, env.after = nil, nil, nil
	env.mu.Unlock()
	var errs []error
	if t != nil {
		errs = append(errs, t.Close())
	}
	for i := len(closes) - 1; i >= 0; i-- {
		errs = append(errs, closes[i]())
	}
	if env.tempDir {
		errs = append(errs, os.RemoveAll(env.dir))
	}
	for i := len(after) - 1; i >= 0; i-- {
		errs = append(errs, after[i]())
	}
	return errors.Join(errs...)
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

// LibraryDrills converts the library's scenarios that have a drill block. Scenarios whose
// customer card is not in the wallet are returned by name in skipped.
func LibraryDrills(wallet *cards.Set) (drills []tui.Drill, skipped []string) {
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
	d := tui.Drill{Name: sc.Name, Title: sc.Drill.Title, Topic: sc.Title, Situation: sc.Drill.Situation, Says: sc.Drill.Says, Debrief: sc.Drill.Debrief}
	if d.Title.IsZero() {
		d.Title = sc.Title
	}
	if def := simulator.DefaultProfile(); !reflect.DeepEqual(sc.Profile, def) {
		p := sc.Profile
		d.Profile = &p
	}
	// A user scenario without a situation or debrief is told from its description: what
	// comes before "Right recovery:" is the situation, the rest the debrief.
	situation, recovery := splitRecovery(sc.Description)
	if d.Situation.IsZero() {
		d.Situation = situation
	}
	if d.Debrief.IsZero() {
		d.Debrief = recovery
	}
	if c := sc.Drill.Customer; c != nil {
		if _, ok := wallet.ByName(c.Card); !ok {
			return tui.Drill{}, false
		}
		d.Card, d.Amount, d.Entry = c.Card, c.Amount, c.Entry
	}
	for _, r := range sc.Faults {
		d.Faults = append(d.Faults, SpecOf(r))
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
	d.Expected = slices.Clone(sc.Drill.ExpectedActions)
	d.Forbidden = slices.Clone(sc.Drill.ForbiddenActions)
	return d, true
}

// splitRecovery separates a scenario description into the situation the trainee is told
// and the "Right recovery:" part, which would give the answer away (Chinese descriptions
// mark it "正确做法："), in each language the description gives.
func splitRecovery(desc guidance.Text) (situation, recovery guidance.Text) {
	split := func(s string) (string, string) {
		s = strings.TrimSpace(s)
		for _, mark := range []string{"Right recovery:", "正确做法："} {
			if i := strings.Index(s, mark); i >= 0 {
				return oneLine(s[:i]), oneLine(s[i+len(mark):])
			}
		}
		return oneLine(s), ""
	}
	situation.En, recovery.En = split(desc.En)
	situation.Zh, recovery.Zh = split(desc.Zh)
	return situation, recovery
}

// oneLine joins a wrapped paragraph into one line. A line break between Chinese
// characters is dropped rather than turned into a space, which Chinese text has none of.
func oneLine(s string) string {
	var b strings.Builder
	prev := ""
	for _, l := range strings.Split(s, "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			continue
		}
		if prev != "" {
			p, _ := utf8.DecodeLastRuneInString(prev)
			n, _ := utf8.DecodeRuneInString(l)
			if !unicode.Is(unicode.Han, p) && !unicode.Is(unicode.Han, n) {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
		prev = l
	}
	return b.String()
}

// ---- faults: the UI's FaultSpec and the acquirer's Rule ----

// SpecOf describes a rule for the UI; the rule itself rides along in Raw so nothing of it
// is lost on the way back.
func SpecOf(r fault.Rule) tui.FaultSpec {
	return tui.FaultSpec{ID: r.ID, Name: r.Name, Action: r.Action, Code: r.Params.Code, MS: r.Params.MS,
		Bytes: r.Params.Bytes, Chunk: r.Params.Chunk, GapMS: r.Params.GapMS, Amount: r.Params.Amount,
		MTI: []string(r.Match.MTI), Card: r.Match.Card, Count: r.Count, Fired: r.Fired, Raw: r}
}

// RuleOf is the acquirer rule for a FaultSpec.
func RuleOf(f tui.FaultSpec) fault.Rule {
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

func (h embeddedHost) Transactions(_ context.Context, terminal string, limit int) ([]tui.HostTxn, error) {
	txns, err := h.a.Transactions(acquirer.Filter{Terminal: terminal})
	return HostTxns(txns, limit), err
}

func (h embeddedHost) AddFault(_ context.Context, f tui.FaultSpec) (string, error) {
	ids, err := h.a.Faults().Add(RuleOf(f))
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

func (h embeddedHost) Faults(context.Context) ([]tui.FaultSpec, error) {
	var out []tui.FaultSpec
	for _, r := range h.a.Faults().List() {
		out = append(out, SpecOf(r))
	}
	return out, nil
}

func (h embeddedHost) ClearFaults(context.Context) error { h.a.Faults().Clear(); return nil }

func (h embeddedHost) Reset(context.Context) error { return h.a.Reset() }

// HostTxns keeps the newest limit transactions, oldest first.
func HostTxns(txns []acquirer.Txn, limit int) []tui.HostTxn {
	if limit > 0 && len(txns) > limit {
		txns = txns[len(txns)-limit:]
	}
	out := make([]tui.HostTxn, 0, len(txns))
	for _, t := range txns {
		out = append(out, tui.HostTxn{Time: t.Time, Terminal: t.Terminal, STAN: t.STAN, MTI: t.MTI, Card: t.Card,
			MaskedPAN: iso.MaskText(t.MaskedPAN), Requested: t.Requested, Amount: t.Amount, ResponseCode: t.ResponseCode, State: t.State, Fault: t.Fault})
	}
	return out
}

// adminHost is the trainer's view of an external acquirer, through its admin HTTP API.
type adminHost struct{ c *acquirer.AdminClient }

func newAdminHost(base, token string) (*adminHost, error) {
	c, err := acquirer.NewAdminClient(base, token)
	if err != nil {
		return nil, err
	}
	return &adminHost{c}, nil
}

func (h *adminHost) Balance(ctx context.Context, card string) (tui.Balance, error) {
	b, err := h.c.Balance(ctx, card)
	return tui.Balance{Card: card, Opening: b.Opening, Available: b.Available, Held: b.Held}, err
}

func (h *adminHost) Transactions(ctx context.Context, terminal string, limit int) ([]tui.HostTxn, error) {
	// No limit in the query: the API's limit keeps the oldest rows, the panel wants the newest.
	txns, err := h.c.TransactionsOf(ctx, acquirer.Filter{Terminal: terminal})
	if err != nil {
		return nil, err
	}
	return HostTxns(txns, limit), nil
}

func (h *adminHost) AddFault(ctx context.Context, f tui.FaultSpec) (string, error) {
	ids, err := h.c.AddFaults(ctx, RuleOf(f))
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
		out = append(out, SpecOf(r))
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
	sent map[iso.AnswerKey]time.Time // requests waiting for their answer → when they went out
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
			notes = append(notes, iso.FormatMoney(v))
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
	key := m.AnswerKey()
	tr.mu.Lock()
	if iso.IsResponse(m.MTI) {
		for req, t0 := range tr.sent {
			if iso.Answers(req, key) {
				// the time the answer took comes first: it is what a trace is read for
				notes = append([]string{fmt.Sprintf("+%.2fs", t.Sub(t0).Seconds())}, notes...)
				delete(tr.sent, req)
				break
			}
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
