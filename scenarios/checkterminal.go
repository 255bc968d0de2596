package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
)

// ReferenceResponseTimeout is the terminal response timeout the durations of external
// cases are written for (limits, time rules, waits, fault delays): a real terminal's.
// TerminalOptions.ResponseTimeout scales them all for a terminal set up otherwise.
const ReferenceResponseTimeout = 30 * time.Second

// DefaultQuiet is how long the link must stay quiet after the cashier's action (or the
// --drive command) before a case is judged.
const DefaultQuiet = 3 * time.Second

// TerminalOptions configure CheckTerminal.
type TerminalOptions struct {
	// Listener is where the terminal under test connects (required).
	Listener net.Listener
	// Admin, when set, serves the acquirer's admin API (journal, cards, faults, ...).
	Admin      net.Listener
	AdminToken string

	Dialect *iso.Dialect // default iso.ASCII
	Framing iso.Framing  // the zero value is len2
	Cards   *cards.Set   // default cards.Builtin()
	Seed    int64
	DB      string      // the host's store (default ":memory:")
	Clock   clock.Clock // default clock.Real{}

	// TerminalID is the terminal under test's DE41; empty: the first message's.
	TerminalID string
	// ResponseTimeout is the terminal's own response timeout (default 30 s). Every
	// duration of a case is scaled by ResponseTimeout/30 s, so a terminal set up with a
	// short timeout runs the suite in seconds.
	ResponseTimeout time.Duration
	// Quiet is how long the link must be silent before a case is judged (DefaultQuiet).
	Quiet time.Duration
	// Lang is the language of the cashier's instructions: "zh" or "en" (default).
	Lang string
	// Drive, when set, performs each cashier action (see ShellDriver); without it the
	// instruction is printed to Out and the runner waits for the terminal.
	Drive Driver
	// Out gets the instructions (and nothing else); nil: discarded.
	Out io.Writer
	// Progress, when set, is called with each case's result as it ends.
	Progress func(*Result)
	// Logger gets the host's log (masked); nil: discarded.
	Logger *slog.Logger
	// Trace, when set, gets a JSONL record of every frame in and out (connections "c1",
	// "c2"... as the host numbers them) and every fault fired, card data masked: the
	// session for posdrill trace, replay and scenario from-trace.
	Trace *trace.Writer
}

// DriveAction is one cashier action handed to a --drive command.
type DriveAction struct {
	Case       string // the case's name
	Step       int    // 1-based
	Type       string // sale, refund, preauth, balance, complete, void, echo, sign_on, sign_off, settle
	Card       string // the card's name in the fixture ("" when the step has none)
	PAN        string // its number (test cards only)
	Amount     string // major units, "25.00" ("" when none)
	Entry      string // chip, contactless, swipe, fallback, keyed, qr ("" when none)
	PIN        string
	TerminalID string // the terminal under test's DE41, when known
	Host       string // the address the terminal should reach: the listener's
	RefSTAN    string // complete, void: the STAN of the referenced step's request
	RefRRN     string // and the RRN the host gave it
}

// vars are the placeholders ({name}) and, upper-cased with POSDRILL_, the environment.
func (a DriveAction) vars() [][2]string {
	return [][2]string{{"case", a.Case}, {"step", fmt.Sprint(a.Step)}, {"type", a.Type}, {"card", a.Card},
		{"pan", a.PAN}, {"amount", a.Amount}, {"entry", a.Entry}, {"pin", a.PIN}, {"tid", a.TerminalID},
		{"host", a.Host}, {"ref_stan", a.RefSTAN}, {"ref_rrn", a.RefRRN}}
}

// Env is the action as POSDRILL_* environment variables.
func (a DriveAction) Env() []string {
	var env []string
	for _, kv := range a.vars() {
		env = append(env, "POSDRILL_"+strings.ToUpper(kv[0])+"="+kv[1])
	}
	return env
}

// DriveCommand fills a --drive template: {type} {card} {pan} {amount} {entry} {pin} {tid}
// {host} {case} {step} {ref_stan} {ref_rrn}, each quoted for sh when it needs it (an empty
// value becomes ”).
func DriveCommand(template string, a DriveAction) string {
	pairs := make([]string, 0, 24)
	for _, kv := range a.vars() {
		pairs = append(pairs, "{"+kv[0]+"}", shellQuote(kv[1]))
	}
	return strings.NewReplacer(pairs...).Replace(template)
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// DriveResult is how a drive command ended.
type DriveResult struct {
	Command  string // as run, for reports (masked when shown)
	ExitCode int    // -1 when it did not start or was killed
	Output   string // stdout and stderr, the last 16 KiB
	Err      error  // did not start, or killed at the case's limit
}

// Driver performs one cashier action; ctx ends at the case's limit.
type Driver func(ctx context.Context, a DriveAction) DriveResult

// ShellDriver runs template (filled by DriveCommand) with sh -c, the action also in
// POSDRILL_* environment variables. A command still running at the case's limit is
// killed, with what it wrote so far kept for the report.
func ShellDriver(template string) Driver {
	return func(ctx context.Context, a DriveAction) DriveResult {
		line := DriveCommand(template, a)
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.Env = append(os.Environ(), a.Env()...)
		var out tailBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.WaitDelay = time.Second // a child that keeps the pipes open must not hang the run
		err := cmd.Run()
		res := DriveResult{Command: line, ExitCode: cmd.ProcessState.ExitCode(), Output: out.String()}
		if cmd.ProcessState == nil {
			res.ExitCode = -1
		}
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil:
			res.Err = fmt.Errorf("killed at the case's limit: %w", ctx.Err())
		case err != nil && !errors.As(err, &ee):
			res.Err = err
		}
		return res
	}
}

// tailBuffer keeps the last 16 KiB written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - 16<<10; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// seen is one thing of the session with the terminal under test: a frame in or out (as
// the host saw it), or a note (an instruction, a host warning, a fault firing).
type seen struct {
	at    time.Time
	cas   int // the case running when it happened
	step  int // 0-based step of that case, -1 before the first
	conn  string
	dir   iso.Direction // "" for a note
	msg   *iso.Message  // nil: did not unpack, or (out) raw bytes a fault wrote
	bad   string        // in: why the frame did not unpack
	raw   []byte        // out raw frames (to tell garbled from cut)
	note  string
	fault string // out: the fault action that shaped this answer, when known
}

// session is a CheckTerminal run: one acquirer, one log of everything the terminal sent.
type session struct {
	o      TerminalOptions
	clk    clock.Clock
	acq    *acquirer.Acquirer
	faults *fault.Engine
	scale  float64

	mu       sync.Mutex
	log      []seen
	changed  chan struct{} // closed and replaced on every new frame
	lastSeen time.Time
	cas      int
	step     int
	tid      string
}

// CheckTerminal runs external cases against whatever terminal connects to o.Listener:
// for each case it installs the host's fault rules, has the cashier act (an instruction
// on o.Out, or o.Drive), waits for the terminal in real time, then judges what the
// terminal sent. Nothing the terminal sends stops the run: a case fails with the reason
// and the next one starts. The report reads like Run's (text, JUnit, JSON).
func CheckTerminal(ctx context.Context, cases []*Scenario, o TerminalOptions) (*Report, error) {
	start := time.Now()
	if o.Listener == nil {
		return nil, errors.New("check terminal: no listener")
	}
	for _, sc := range cases {
		if !sc.External {
			return nil, fmt.Errorf("check terminal: %s (%s) is not a case for an external terminal (it has no `terminal: external`)", sc.Name, sc.File)
		}
	}
	if o.Cards == nil {
		o.Cards = cards.Builtin()
	}
	if err := CasesUseCards(cases, o.Cards); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Dialect == nil {
		o.Dialect = iso.ASCII
	}
	if o.DB == "" {
		o.DB = ":memory:"
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = ReferenceResponseTimeout
	}
	if o.Quiet <= 0 {
		o.Quiet = DefaultQuiet
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	s := &session{o: o, clk: o.Clock, changed: make(chan struct{}), cas: -1, step: -1, tid: o.TerminalID,
		scale: float64(o.ResponseTimeout) / float64(ReferenceResponseTimeout)}
	s.faults = fault.NewEngine(o.Seed, o.Clock)
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a, err := acquirer.New(acquirer.Options{
		Dialect: o.Dialect, Framing: o.Framing, Clock: o.Clock, Seed: o.Seed, Cards: o.Cards, DB: o.DB,
		Faults: s.faults, AdminToken: o.AdminToken,
		Logger:      slog.New(&noteHandler{s: s, next: logger.Handler()}),
		ObserverFor: s.observer,
		OnFault:     s.onFault,
	})
	if err != nil {
		return nil, fmt.Errorf("check terminal: start the acquirer: %w", err)
	}
	s.acq = a
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = a.Serve(o.Listener)
	}()
	var admin *http.Server
	if o.Admin != nil {
		admin = &http.Server{Handler: a.Admin(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = admin.Serve(o.Admin) }()
	}
	rep := &Report{SeedOverride: &o.Seed}
	for i, sc := range cases {
		if ctx.Err() != nil {
			break // interrupted: report the cases that ran
		}
		res := s.runCase(ctx, i, sc)
		rep.Results = append(rep.Results, res)
		if o.Progress != nil {
			o.Progress(res)
		}
	}
	if admin != nil {
		_ = admin.Close()
	}
	err = a.Close()
	<-served
	rep.WallTime = time.Since(start)
	return rep, err
}

// ErrCardsMissing: a case names a card the session's fixture does not have.
var ErrCardsMissing = errors.New("a case names a card the host does not have")

// CasesUseCards (CheckTerminal does it first) checks that every card the cases name (by name or PAN) is in the host's
// fixture: cases are validated against the built-in cards, the session may use others.
func CasesUseCards(cases []*Scenario, set *cards.Set) error {
	var missing []string
	check := func(sc *Scenario, c string) {
		if _, ok := set.ByName(c); ok {
			return
		}
		if _, ok := set.ByPAN(c); ok {
			return
		}
		missing = appendUnique(missing, fmt.Sprintf("%s names card %q", sc.Name, iso.MaskText(c)))
	}
	for _, sc := range cases {
		for _, st := range sc.Steps {
			if st.Payment != nil {
				check(sc, st.Payment.Card)
			}
		}
		if sc.Expect != nil {
			for _, ch := range sc.Expect.Charged {
				check(sc, ch.Card)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("check terminal: %w: %s", ErrCardsMissing, strings.Join(missing, "; "))
	}
	return nil
}

// observer records the frames of one connection (and traces them, with Options.Trace).
func (s *session) observer(conn string) iso.Observer {
	var tr iso.Observer
	if s.o.Trace != nil {
		tr = trace.Observer(s.o.Trace, trace.SourceAcquirer, conn, s.o.Dialect)
	}
	return func(dir iso.Direction, raw []byte, m *iso.Message, t time.Time) {
		if tr != nil {
			tr(dir, raw, m, t)
		}
		e := seen{at: t, conn: conn, dir: dir}
		switch {
		case m != nil:
			e.msg = m.Clone()
		case dir == iso.In:
			e.bad = "the frame does not unpack in the " + s.o.Dialect.Name + " dialect"
			if _, err := s.o.Dialect.Unpack(raw); err != nil {
				e.bad = iso.MaskText(err.Error())
			}
		default:
			e.raw = slices.Clone(raw)
		}
		s.add(e, true)
	}
}

func (s *session) onFault(f acquirer.FaultRecord) {
	if s.o.Trace != nil {
		acquirer.FaultTracer(s.o.Trace)(f)
	}
	what := f.MTI
	if f.STAN != "" {
		what += " stan " + f.STAN
	}
	s.add(seen{at: f.Time, conn: f.Conn, note: fmt.Sprintf("host fault %s (rule %q) on %s", f.Action, f.Rule, strings.TrimSpace(what)), fault: f.Action}, false)
}

func (s *session) add(e seen, frame bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.cas, e.step = s.cas, s.step
	if e.dir == iso.In && e.msg != nil && s.tid == "" && e.msg.TerminalID != "" {
		s.tid = e.msg.TerminalID // the terminal under test is whoever speaks first
	}
	s.log = append(s.log, e)
	if frame {
		s.lastSeen = e.at
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

func (s *session) note(format string, args ...any) {
	s.add(seen{at: s.clk.Now(), note: iso.MaskText(fmt.Sprintf(format, args...))}, false)
}

// noteHandler puts the host's warnings (frames it could not read, connections it closed)
// into the case's trace, and passes every record on.
type noteHandler struct {
	s    *session
	next slog.Handler
	attr []slog.Attr
}

func (h *noteHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *noteHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString("host: " + r.Message)
		add := func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		}
		for _, a := range h.attr {
			add(a)
		}
		r.Attrs(add)
		h.s.add(seen{at: r.Time, note: iso.MaskText(b.String())}, false)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *noteHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &noteHandler{s: h.s, next: h.next.WithAttrs(as), attr: append(slices.Clone(h.attr), as...)}
}

func (h *noteHandler) WithGroup(name string) slog.Handler {
	return &noteHandler{s: h.s, next: h.next.WithGroup(name), attr: h.attr}
}

// scaled is a duration of a case for the terminal under test.
func (s *session) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.scale).Round(time.Millisecond)
}

// scaledRules are a case's fault rules with their durations scaled.
func (s *session) scaledRules(rules []fault.Rule) []fault.Rule {
	out := slices.Clone(rules)
	for i := range out {
		out[i].Params.MS = int(s.scaled(time.Duration(out[i].Params.MS) * time.Millisecond).Milliseconds())
		out[i].Params.GapMS = int(s.scaled(time.Duration(out[i].Params.GapMS) * time.Millisecond).Milliseconds())
		if out[i].Params.MS == 0 && rules[i].Params.MS > 0 {
			out[i].Params.MS = 1
		}
	}
	return out
}

// caseRun is the state of one case.
type caseRun struct {
	s        *session
	sc       *Scenario
	idx      int
	res      *Result
	start    time.Time
	deadline time.Time
	opening  map[string]int64 // card → available at the start
	drives   []DriveResult
	stepAt   []int // index into the log where each step began
}

func (s *session) runCase(ctx context.Context, idx int, sc *Scenario) (res *Result) {
	wall := time.Now()
	res = &Result{Name: sc.Name, Title: sc.Title.String(), File: sc.File, Tags: slices.Clone(sc.Tags), Seed: s.o.Seed, External: true}
	limit := s.scaled(sc.Limit)
	c := &caseRun{s: s, sc: sc, idx: idx, res: res, start: s.clk.Now(), opening: map[string]int64{}}
	c.deadline = c.start.Add(limit)
	s.mu.Lock()
	s.cas, s.step = idx, -1
	s.mu.Unlock()
	defer func() {
		// A bug of ours must fail this case, not the run: the next case starts anyway.
		if p := recover(); p != nil {
			res.Failures = append(res.Failures, Failure{Step: -1, Label: c.label(), What: "panic", Message: fmt.Sprintf("the runner panicked: %v\n%s", p, debug.Stack())})
			res.Passed = false
		}
		s.faults.Clear()
		s.mu.Lock()
		s.cas = -1 // what comes between cases belongs to none
		s.mu.Unlock()
		res.WallTime = time.Since(wall)
	}()
	s.note("── case %s: %s (limit %s)", sc.Name, sc.Title, limit)
	s.faults.Clear()
	if len(sc.Faults) > 0 {
		if _, err := s.faults.Add(s.scaledRules(sc.Faults)...); err != nil {
			c.fail("set-up", "the fault engine refused the case's rules: %v", err)
		}
		for _, r := range sc.Faults {
			s.note("   host fault rule: %s", describeRule(r))
		}
	}
	if sc.Expect != nil {
		for _, ch := range sc.Expect.Charged {
			if b, err := s.acq.Balance(c.cardName(ch.Card)); err == nil {
				c.opening[ch.Card] = b.Available
			}
		}
	}
	caseCtx, cancel := context.WithDeadline(ctx, wallDeadline(s.clk, c.deadline))
	defer cancel()
	for i, st := range sc.Steps {
		s.mu.Lock()
		s.step = i
		c.stepAt = append(c.stepAt, len(s.log))
		s.mu.Unlock()
		if caseCtx.Err() != nil {
			break
		}
		c.step(caseCtx, i, st)
	}
	// Let the terminal finish what the last action started: the case ends when the link
	// has been quiet for Quiet after that (and, without --drive, once the flow is there).
	s.waitQuiet(caseCtx, c.deadline, func() bool {
		if s.o.Drive != nil || sc.Expect == nil || sc.Expect.Flow == nil {
			return true
		}
		s.mu.Lock()
		all := slices.Clone(s.log)
		s.mu.Unlock()
		return matchFlow(sc.Expect.Flow, buildFlow(all, idx, s.o.ResponseTimeout, s.o.Framing, s.o.Dialect))
	})
	s.mu.Lock()
	s.step = len(sc.Steps)
	s.mu.Unlock()
	c.judge()
	if err := ctx.Err(); err != nil {
		c.fail("interrupted", "the run was stopped (%v) before the case ended; what the terminal sent until then is judged above", err)
	}
	res.Passed = len(res.Failures) == 0
	return res
}

// wallDeadline converts a time of the clock into a real-time deadline for contexts.
func wallDeadline(clk clock.Clock, t time.Time) time.Time {
	return time.Now().Add(t.Sub(clk.Now()))
}

// waitQuiet returns when done() holds and no frame came for Quiet, at the deadline, or
// when ctx ends.
func (s *session) waitQuiet(ctx context.Context, deadline time.Time, done func() bool) {
	since := s.clk.Now()
	for {
		now := s.clk.Now()
		if !now.Before(deadline) || ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		last, ch := s.lastSeen, s.changed
		s.mu.Unlock()
		if last.Before(since) {
			last = since
		}
		quietFor := now.Sub(last)
		if quietFor >= s.o.Quiet && done() {
			return
		}
		wait := s.o.Quiet - quietFor
		if wait <= 0 {
			wait = s.o.Quiet
		}
		if d := deadline.Sub(now); d < wait {
			wait = d
		}
		t := s.clk.NewTimer(wait)
		select {
		case <-ch:
		case <-t.C():
		case <-ctx.Done():
		}
		t.Stop()
	}
}

func (c *caseRun) label() string {
	return fmt.Sprintf("case %s (%s)", c.sc.Name, c.sc.File)
}

func (c *caseRun) fail(what, format string, args ...any) {
	c.res.Failures = append(c.res.Failures, Failure{Step: -1, Label: c.label(), What: what, Message: iso.MaskText(fmt.Sprintf(format, args...))})
}

func (c *caseRun) failDiff(what, msg, diff string) {
	c.res.Failures = append(c.res.Failures, Failure{Step: -1, Label: c.label(), What: what, Message: iso.MaskText(msg), Diff: iso.MaskText(diff)})
}

func (c *caseRun) cardName(s string) string {
	if card, ok := c.s.o.Cards.ByPAN(s); ok {
		return card.Name
	}
	return s
}

// messages is the case's log so far.
func (c *caseRun) messages() []seen {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var out []seen
	for _, e := range c.s.log {
		if e.cas == c.idx {
			out = append(out, e)
		}
	}
	return out
}

// step performs one step of the case.
func (c *caseRun) step(ctx context.Context, i int, st Step) {
	s := c.s
	switch st.Kind {
	case StepAdvance:
		d := s.scaled(st.Duration)
		s.note("   wait %s", d)
		t := s.clk.NewTimer(d)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
		return
	case StepFault:
		switch {
		case st.FaultAdd != nil:
			if _, err := s.faults.Add(s.scaledRules(st.FaultAdd)...); err != nil {
				c.fail("fault", "the fault engine refused the rules: %v", err)
			}
			for _, r := range st.FaultAdd {
				s.note("   host fault rule added: %s", describeRule(r))
			}
		case st.FaultClear == "*":
			s.faults.Clear()
			s.note("   host fault rules cleared")
		default:
			for _, r := range s.faults.List() {
				if r.Name == st.FaultClear {
					s.faults.Remove(r.ID)
				}
			}
			s.note("   host fault rule %q removed", st.FaultClear)
		}
		return
	}
	a := c.action(i, st)
	s.note("   cashier: %s", Instruction(a, "en"))
	if s.o.Drive == nil {
		fmt.Fprintf(s.o.Out, "[%s %d/%d] %s\n", c.sc.Name, i+1, len(c.sc.Steps), Instruction(a, s.o.Lang))
		// The cashier needs time: the step is over once the terminal has said something
		// and gone quiet again (or at the case's limit).
		s.mu.Lock()
		from := len(s.log)
		s.mu.Unlock()
		s.waitQuiet(ctx, c.deadline, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, e := range s.log[from:] {
				if e.dir == iso.In {
					return true
				}
			}
			return false
		})
		return
	}
	r := s.o.Drive(ctx, a)
	c.drives = append(c.drives, r)
	s.note("   drive exited %d: %s", r.ExitCode, iso.MaskText(r.Command))
	switch {
	case r.Err != nil:
		c.failDiff("drive", fmt.Sprintf("step %d (%s): the --drive command failed: %v (exit status %d)", i+1, st.Kind, r.Err, r.ExitCode),
			"command: "+r.Command+"\noutput:\n"+r.Output)
	case r.ExitCode == 126 || r.ExitCode == 127:
		// sh's own statuses: the command was not found or cannot be executed.
		c.failDiff("drive", fmt.Sprintf("step %d (%s): the --drive command could not run (exit status %d: not found or not executable)", i+1, st.Kind, r.ExitCode),
			"command: "+r.Command+"\noutput:\n"+r.Output)
	}
}

// action describes step i for the cashier or the drive command.
func (c *caseRun) action(i int, st Step) DriveAction {
	s := c.s
	a := DriveAction{Case: c.sc.Name, Step: i + 1, Type: st.Kind, Host: s.o.Listener.Addr().String()}
	s.mu.Lock()
	a.TerminalID = s.tid
	s.mu.Unlock()
	if p := st.Payment; p != nil {
		a.Card, a.Entry, a.PIN = p.Card, p.Entry, p.PIN
		if card, ok := s.o.Cards.ByName(p.Card); ok {
			a.PAN = card.PAN
		} else if card, ok := s.o.Cards.ByPAN(p.Card); ok {
			a.Card, a.PAN = card.Name, card.PAN
		}
		if a.Entry == "tap" {
			a.Entry = "contactless"
		}
		if a.Entry == "" {
			a.Entry = "chip"
		}
		if st.Kind != StepBalance {
			a.Amount = iso.FormatMoney(p.Amount)
		}
	}
	if st.Kind == StepComplete {
		a.Amount = iso.FormatMoney(st.Amount)
	}
	if st.Ref != "" {
		a.RefSTAN, a.RefRRN = c.refOf(st.Ref)
	}
	return a
}

// refOf finds the STAN and RRN of the request the referenced step made.
func (c *caseRun) refOf(ref string) (stan, rrn string) {
	at := -1
	for i, st := range c.sc.Steps {
		if st.ID == ref && i < len(c.stepAt) {
			at = i
		}
	}
	if at < 0 {
		return ref, "" // a STAN written in the case
	}
	for _, e := range c.messages() {
		if e.step != at || e.msg == nil {
			continue
		}
		switch {
		case e.dir == iso.In && stan == "" && (e.msg.MTI == iso.MTIFinancialRequest || e.msg.MTI == iso.MTIAuthRequest):
			stan = e.msg.STAN
		case e.dir == iso.Out && stan != "" && e.msg.STAN == stan && e.msg.RRN != "":
			return stan, e.msg.RRN
		}
	}
	return stan, ""
}

// Instruction is what the cashier is asked to do, in zh or en: "Sale 25.00, card
// visa-ok, tap".
func Instruction(a DriveAction, lang string) string {
	zh := strings.HasPrefix(lang, "zh")
	names := map[string][2]string{
		StepSale: {"Sale", "消费"}, StepRefund: {"Refund", "退货"}, StepPreAuth: {"Pre-authorization", "预授权"},
		StepBalance: {"Balance inquiry", "余额查询"}, StepComplete: {"Pre-authorization completion", "预授权完成"},
		StepVoid: {"Void", "撤销"}, StepEcho: {"Echo test (or any host check)", "回响测试（或任意联机检测）"},
		StepSignOn: {"Sign on", "签到"}, StepSignOff: {"Sign off", "签退"}, StepSettle: {"Settle the batch", "结算"},
	}
	entries := map[string][2]string{
		"chip": {"insert", "插卡"}, "contactless": {"tap", "挥卡"}, "swipe": {"swipe", "刷卡"},
		"fallback": {"chip fails, then swipe", "芯片失败后刷卡"}, "keyed": {"key the number", "手输卡号"}, "qr": {"scan the QR code", "扫码"},
	}
	pick := func(p [2]string) string {
		if zh {
			return p[1]
		}
		return p[0]
	}
	parts := []string{pick(names[a.Type])}
	if parts[0] == "" {
		parts[0] = a.Type
	}
	if a.Amount != "" {
		parts[0] += " " + a.Amount
	}
	if a.Card != "" {
		parts = append(parts, pick([2]string{"card ", "卡 "})+a.Card)
	}
	if a.Entry != "" {
		parts = append(parts, pick(entries[a.Entry]))
	}
	if a.PIN != "" {
		parts = append(parts, pick([2]string{"PIN ", "密码 "})+a.PIN)
	}
	if a.RefSTAN != "" {
		parts = append(parts, pick([2]string{"original STAN ", "原流水号 "})+a.RefSTAN)
	}
	if zh {
		return strings.Join(parts, "，")
	}
	return strings.Join(parts, ", ")
}

// traceLines renders a case's log for reports, card data masked.
func traceLines(log []seen, start time.Time) []string {
	var out []string
	for _, e := range log {
		at := e.at.Sub(start).Round(time.Millisecond)
		switch {
		case e.note != "":
			out = append(out, fmt.Sprintf("%+9s  %s", at, e.note))
		case e.dir == iso.In && e.msg == nil:
			out = append(out, fmt.Sprintf("%+9s  %s → garbage from the terminal: %s", at, e.conn, e.bad))
		case e.dir == iso.In:
			out = append(out, fmt.Sprintf("%+9s  %s → %s", at, e.conn, describeMsg(e.msg)))
		case e.msg == nil:
			out = append(out, fmt.Sprintf("%+9s  %s ← %d raw bytes (a fault's)", at, e.conn, len(e.raw)))
		default:
			out = append(out, fmt.Sprintf("%+9s  %s ← %s", at, e.conn, describeMsg(e.msg)))
		}
	}
	return out
}

// describeMsg is a message on one line: MTI and the fields the checks speak of, masked.
func describeMsg(m *iso.Message) string {
	var b strings.Builder
	b.WriteString(m.MTI)
	for _, f := range []struct {
		id   int
		name string
	}{{2, "pan"}, {3, "pc"}, {4, "amount"}, {11, "stan"}, {22, "entry"}, {39, "rc"}, {41, "tid"}, {90, "orig"}} {
		v, ok := m.Get(f.id)
		if f.id == 2 {
			v, ok = m.PANOf(), m.PANOf() != ""
		}
		v = showField(f.id, v)
		if ok && v != "" {
			fmt.Fprintf(&b, " %s=%s", f.name, v)
		}
	}
	return iso.MaskText(b.String())
}
