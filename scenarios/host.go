package scenarios

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/simulator"
)

// Runs against an external host (Options.Host, or a scenario's profile.host): our terminal
// dials that host over TCP on the real clock. Host faults go through a fault proxy
// (iso/trace.Proxy with a fault.Shaper) that the runner puts in front of the host; the
// host's own decisions (decline, partial_approval and the aliases) can only be made by a
// posdrill acquirer, through its admin API (Options.Admin). What the runner cannot observe
// on the host (its ledger and journal, without Options.Admin) is reported as skipped, never
// as passed.

// runClock is what the runner needs of its clock: the virtual clock's driving hooks, which
// the real clock answers trivially.
type runClock interface {
	clock.Clock
	Run(ctx context.Context) error
	WaitStalled(ctx context.Context) error
	Stalled() bool
	WaitIdle(ctx context.Context) error
	AdvanceIdleContext(ctx context.Context, d time.Duration) error
}

// realClock is the wall clock for runs against an external host: nothing to drive, nothing
// can stall (the real-time limit stops a run that hangs), and advance really waits.
type realClock struct{ clock.Real }

func (realClock) Run(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func (realClock) WaitStalled(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func (realClock) Stalled() bool { return false }

func (realClock) WaitIdle(context.Context) error { return nil }

func (realClock) AdvanceIdleContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DefaultHostTimeout bounds one scenario against an external host in real time.
const DefaultHostTimeout = 2 * time.Minute

// Skip is an expectation the runner could not check, and why.
type Skip struct {
	Label  string // as in Failure
	What   string // ledger visa-ok, journal, ...
	Reason string
}

func (s Skip) String() string { return s.Label + ": " + s.What + ": " + s.Reason }

func (r *runner) skip(step int, what, reason string) {
	r.res.Skips = append(r.res.Skips, Skip{Label: r.label(step), What: what, Reason: reason})
}

// hostFor is where a scenario runs: "" for the embedded acquirer, else the host to dial; an
// error when --host and the scenario's profile.host disagree.
func hostFor(sc *Scenario, o Options) (string, error) {
	switch {
	case sc.Host == "":
		return o.Host, nil
	case o.Host == "" || o.Host == sc.Host:
		return sc.Host, nil
	}
	return "", fmt.Errorf("profile.host at %s is %s but the run was asked to use --host %s: remove one, or make them agree", sc.HostPos, sc.Host, o.Host)
}

// isDecision reports whether a rule's action is the host's decision rather than something
// done to messages in transit (a proxy cannot perform it).
func isDecision(r fault.Rule) bool {
	return !slices.Contains(fault.NetworkActions, r.Action)
}

// allRules is every fault rule of a scenario: the initial ones and those fault steps add.
func allRules(sc *Scenario) []fault.Rule {
	rules := slices.Clone(sc.Faults)
	for _, st := range sc.Steps {
		rules = append(rules, st.FaultAdd...)
	}
	return rules
}

// hostSkipReason says why a scenario cannot run against an external host, or "".
func hostSkipReason(sc *Scenario, o Options, limit time.Duration) string {
	var advance time.Duration
	for _, st := range sc.Steps {
		switch st.Kind {
		case StepRestartAcquirer:
			return "it restarts the host (restart_acquirer), which the runner cannot do to an external host"
		case StepAdvance:
			advance += scaleDuration(st.Duration, o.TimeScale)
		}
	}
	hd, hf := o.HostDialect, o.HostFraming
	if hd == "" {
		hd = "ascii"
	}
	if hf == "" {
		hf = "len2"
	}
	if sc.Host == "" && (sc.Profile.Dialect != hd || sc.Profile.Framing != hf) {
		return fmt.Sprintf("its terminal speaks %s with %s framing; the host speaks %s with %s (--dialect, --framing)",
			sc.Profile.Dialect, sc.Profile.Framing, hd, hf)
	}
	if advance >= limit {
		return fmt.Sprintf("it lets %s pass (advance steps%s); on the real clock that is more than the scenario time limit %s",
			advance, scaleNote(o.TimeScale), limit)
	}
	if o.Admin == nil {
		var decisions []string
		for _, r := range allRules(sc) {
			if isDecision(r) {
				decisions = appendUnique(decisions, describeRule(r))
			}
		}
		if len(decisions) > 0 {
			return fmt.Sprintf("it needs the host to decide on purpose (%s): only a posdrill acquirer can, through --admin", strings.Join(decisions, "; "))
		}
	}
	return ""
}

func scaleNote(scale float64) string {
	if scale <= 0 || scale == 1 {
		return ""
	}
	return fmt.Sprintf(", × time scale %g", scale)
}

// scaleDuration multiplies d by scale (0 or 1: unchanged), keeping at least a millisecond.
func scaleDuration(d time.Duration, scale float64) time.Duration {
	if scale <= 0 || scale == 1 || d == 0 {
		return d
	}
	return max(time.Duration(math.Round(float64(d)*scale)), time.Millisecond)
}

func scaleMS(ms int, scale float64) int {
	if ms == 0 {
		return 0
	}
	return int(scaleDuration(time.Duration(ms)*time.Millisecond, scale) / time.Millisecond)
}

// scaled is the scenario with every duration multiplied by scale: the terminal profile's
// timeouts and intervals, fault delays and gaps, and advance steps. The host's own timers are
// not ours to scale.
func scaled(sc *Scenario, scale float64) *Scenario {
	if scale <= 0 || scale == 1 {
		return sc
	}
	c := *sc
	p := &c.Profile
	for _, d := range []*time.Duration{&p.ConnectTimeout, &p.ResponseTimeout, &p.PINTimeout, &p.ReversalInterval, &p.ReversalExpiry, &p.EchoInterval} {
		*d = scaleDuration(*d, scale)
	}
	scaleRules := func(rules []fault.Rule) []fault.Rule {
		out := slices.Clone(rules)
		for i := range out {
			out[i].Params.MS = scaleMS(out[i].Params.MS, scale) // delays, and refuse_connections' window
			out[i].Params.GapMS = scaleMS(out[i].Params.GapMS, scale)
		}
		return out
	}
	c.Faults = scaleRules(sc.Faults)
	c.Steps = slices.Clone(sc.Steps)
	for i := range c.Steps {
		c.Steps[i].Duration = scaleDuration(c.Steps[i].Duration, scale)
		if c.Steps[i].FaultAdd != nil {
			c.Steps[i].FaultAdd = scaleRules(c.Steps[i].FaultAdd)
		}
	}
	return &c
}

// hostSide is the runner's state for an external host.
type hostSide struct {
	addr   string // the host
	dial   string // what the terminal dials: the fault proxy, or the host itself
	admin  *acquirer.AdminClient
	shaper *fault.Shaper
	proxy  *trace.Proxy
	ln     net.Listener
	done   chan struct{}

	remoteIDs []string                    // rules this run added to the host
	startBal  map[string]acquirer.Balance // by card name, before the first step
	startTxn  int64                       // the host's last transaction id before the first step

	mu    sync.Mutex
	fired map[string]bool // proxy fault actions that fired
}

// startHost sets up the run against r.host: the fault proxy when the scenario has host
// faults, the host's decisions through the admin API, and the baselines of what the host's
// ledger and journal will be compared with.
func (r *runner) startHost(ctx context.Context) error {
	sc := r.sc
	h := &hostSide{addr: r.host, dial: r.host, admin: r.o.Admin, fired: map[string]bool{}}
	r.hs = h
	d, err := iso.DialectByName(sc.Profile.Dialect)
	if err != nil {
		return err
	}
	f, err := iso.ParseFraming(sc.Profile.Framing)
	if err != nil {
		return err
	}
	if len(allRules(sc)) > 0 {
		var tw *trace.Writer
		if r.trace != nil {
			tw = r.trace.w
		}
		h.shaper = fault.NewShaper(r.faults, fault.ShaperOptions{Dialect: d, Framing: f, Cards: sc.Cards, Trace: tw,
			OnFire: func(rec trace.Fault) {
				h.mu.Lock()
				h.fired[rec.Action] = true
				h.mu.Unlock()
				r.rec.note(rec.Time, "   proxy fault %s (rule %q) hit this %s stan %s", rec.Action, rec.Rule, rec.MTI, rec.STAN)
			}})
		ptw := tw
		if ptw == nil {
			ptw = trace.NewWriter(io.Discard)
		}
		h.proxy = trace.NewProxy(r.host, ptw, trace.ProxyOptions{Dialect: d, Framing: f, Shaper: proxyShaper{h.shaper},
			OnEvent: func(e trace.Event) {
				switch e.Kind {
				case "connect", "close", "fault_applied":
				default:
					r.rec.note(e.Time, "   proxy %s: %s", e.Kind, e.Detail)
				}
			}})
		if h.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("fault proxy: %w", err)
		}
		h.dial, h.done = h.ln.Addr().String(), make(chan struct{})
		go func() {
			defer close(h.done)
			_ = h.proxy.Serve(h.ln)
		}()
	}
	if r.o.ResetHost && h.admin != nil {
		if err := h.admin.Reset(ctx); err != nil {
			return fmt.Errorf("resetting the host through its admin API: %w", err)
		}
	}
	if err := r.addHostRules(ctx, sc.Faults); err != nil {
		return err
	}
	if h.admin != nil {
		h.startBal = map[string]acquirer.Balance{}
		for _, name := range r.ledgerCards() {
			b, err := h.admin.Balance(ctx, name)
			if err != nil {
				return fmt.Errorf("reading the balance of %s before the first step: %w", name, err)
			}
			h.startBal[name] = b
		}
		txns, err := h.admin.Transactions(ctx)
		if err != nil {
			return fmt.Errorf("reading the host's transactions before the first step: %w", err)
		}
		for _, t := range txns {
			h.startTxn = max(h.startTxn, t.ID)
		}
	}
	return nil
}

// ledgerCards are the cards any ledger expectation of the scenario names.
func (r *runner) ledgerCards() []string {
	var names []string
	add := func(e *Expect) {
		if e == nil {
			return
		}
		for _, le := range e.Ledger {
			names = appendUnique(names, r.cardName(le.Card))
		}
	}
	for _, st := range r.sc.Steps {
		add(st.Expect)
	}
	add(r.sc.Expect)
	return names
}

// addHostRules installs rules: network actions in the proxy, decisions on the host.
func (r *runner) addHostRules(ctx context.Context, rules []fault.Rule) error {
	var network, decisions []fault.Rule
	for _, rule := range rules {
		if isDecision(rule) {
			decisions = append(decisions, rule)
		} else {
			network = append(network, rule)
		}
	}
	if len(network) > 0 {
		if _, err := r.faults.Add(network...); err != nil {
			return fmt.Errorf("the fault proxy refused the rules: %w", err)
		}
	}
	if len(decisions) > 0 {
		if r.hs.admin == nil {
			return fmt.Errorf("rules that need the host to decide (%s) and no --admin to a posdrill acquirer", describeRule(decisions[0]))
		}
		ids, err := r.hs.admin.AddFaults(ctx, decisions...)
		if err != nil {
			return fmt.Errorf("adding the host's decision rules through its admin API: %w", err)
		}
		r.hs.remoteIDs = append(r.hs.remoteIDs, ids...)
	}
	return nil
}

// clearHostRules removes rules by name ("*": all) from the proxy and, for the rules this run
// added there, from the host.
func (r *runner) clearHostRules(ctx context.Context, name string) {
	if name == "*" {
		r.faults.Clear()
	} else {
		for _, rule := range r.faults.List() {
			if rule.Name == name {
				r.faults.Remove(rule.ID)
			}
		}
	}
	h := r.hs
	if h.admin == nil || len(h.remoteIDs) == 0 {
		return
	}
	remote, err := h.admin.Faults(ctx)
	if err != nil {
		r.rec.note(r.clk.Now(), "   cannot list the host's rules: %v", err)
		return
	}
	for _, rule := range remote {
		if slices.Contains(h.remoteIDs, rule.ID) && (name == "*" || rule.Name == name) {
			if err := h.admin.ClearFaults(ctx, rule.ID); err != nil {
				r.rec.note(r.clk.Now(), "   cannot remove the host's rule %s: %v", rule.ID, err)
			}
		}
	}
}

// stopHost stops the proxy and removes the rules this run added to the host.
func (r *runner) stopHost() {
	h := r.hs
	if h == nil {
		return
	}
	if h.proxy != nil {
		_ = h.proxy.Close()
		<-h.done
	}
	if h.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, id := range h.remoteIDs {
			_ = h.admin.ClearFaults(ctx, id) // 404 when a clear step removed it already
		}
	}
}

// dialHost connects the terminal to the proxy or the host. A refuse_connections rule is
// decided here, at connect time, as a host that is down refuses the connection: over TCP
// the proxy could only accept and then reset, and the terminal would already have sent
// its sign-on.
func (r *runner) dialHost(ctx context.Context, _ string) (net.Conn, error) {
	if h := r.hs; h.shaper != nil && h.shaper.Refuse("runner") {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", r.hs.dial)
}

// proxyShaper is the runner's proxy's shaper without the Refuse method: dialHost decides
// refusals, so that each connection attempt counts once.
type proxyShaper struct{ s *fault.Shaper }

func (p proxyShaper) Shape(conn string, dir iso.Direction, raw []byte, fr iso.Frame, msg *iso.Message) trace.Plan {
	return p.s.Shape(conn, dir, raw, fr, msg)
}

func (p proxyShaper) ConnEnded(conn string) { p.s.ConnEnded(conn) }

// settleReal waits, on the real clock, until the terminal has been quiet for a moment: what
// a step set off without waiting for time (a reversal sent on recovery after a restart) then
// shows in the checks, as it does after settle on the virtual clock. Like there, it does not
// wait for timers (a repeat due after the reversal interval).
func (r *runner) settleReal(ctx context.Context) {
	const quiet = 100 * time.Millisecond
	last, since := r.rec.activity(), time.Now()
	for time.Since(since) < quiet {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		if n := r.rec.activity(); n != last {
			last, since = n, time.Now()
		}
	}
}

// checkExternalHost checks ledger and journal expectations on an external host: through
// the admin API of a posdrill acquirer, as changes since the scenario started (the host's
// ledger is shared with earlier runs), or reported as skipped.
func (r *runner) checkExternalHost(step int, e *Expect) {
	h := r.hs
	if h.admin == nil {
		const why = "not observable on an external host (give --admin ADDR when the host is a posdrill acquirer)"
		for _, le := range e.Ledger {
			r.skip(step, "ledger "+le.Card, "the host's ledger is "+why)
		}
		if e.Journal != nil {
			r.skip(step, "journal", "the host's journal is "+why)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, le := range e.Ledger {
		name := r.cardName(le.Card)
		b, err := h.admin.Balance(ctx, name)
		if err != nil {
			r.fail(step, "ledger "+le.Card, "cannot read the balance through the admin API: %v", err)
			continue
		}
		start := h.startBal[name]
		// The scenario's figures assume the card's opening balance at the start; the host's
		// card may have moved before this run: compare what changed.
		if le.Available != nil {
			want := start.Available + (*le.Available - b.Opening)
			if b.Available != want {
				r.fail(step, "ledger "+le.Card, "expected available %s (%s at the start of the run, changed by %s), got %s",
					iso.FormatMoney(want), iso.FormatMoney(start.Available), iso.FormatMoney(*le.Available-b.Opening), iso.FormatMoney(b.Available))
			}
		}
		if le.Held != nil {
			want := start.Held + *le.Held
			if b.Held != want {
				r.fail(step, "ledger "+le.Card, "expected held %s (%s at the start of the run), got %s",
					iso.FormatMoney(want), iso.FormatMoney(start.Held), iso.FormatMoney(b.Held))
			}
		}
	}
	if e.Journal == nil {
		return
	}
	all, err := h.admin.Transactions(ctx)
	if err != nil {
		r.fail(step, "journal", "cannot read the host's transactions through the admin API: %v", err)
		return
	}
	var txns []acquirer.Txn
	for _, t := range all {
		if t.ID > h.startTxn && strings.TrimSpace(t.Terminal) == strings.TrimSpace(r.sc.Profile.TID) {
			txns = append(txns, t)
		}
	}
	for _, je := range e.Journal {
		r.checkJournal(step, je, txns)
	}
}

// hostTerminalOptions are the terminal's options for a run against an external host.
func (r *runner) hostTerminalOptions(o simulator.Options) simulator.Options {
	o.Dial = r.dialHost
	return o
}
