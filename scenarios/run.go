package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/memnet"
	"github.com/posdrill/posdrill/simulator"
)

// DefaultTimeout bounds one scenario in real time. Scenarios take milliseconds; the limit
// only turns a bug that keeps some party busy forever into a failure instead of a hang.
const DefaultTimeout = 30 * time.Second

// MaxWork bounds what one scenario run may do, counted as frames and terminal events
// recorded (a library scenario records tens to hundreds). Wall time alone does not bound
// memory: on the virtual clock a scenario that echoes every millisecond for 100 days
// fills gigabytes of trace and journal long before 30 s pass. Past the limit the run stops
// with a "work limit" failure that says what happened. Parse refuses the obvious cases
// before anything runs (MaxScheduled).
const MaxWork = 50_000

// ErrWorkLimit is wrapped by the error of a run stopped at MaxWork.
var ErrWorkLimit = errors.New("work limit")

// stallGrace is how long (real time) a stall must last before it is reported. A stall is
// normally final — no party busy, no timer pending, so nothing can ever wake the step — but
// a component that breaks the token rule may still be running without a token; the grace
// turns that into a stall report rather than a flaky verdict. Passing runs never wait it.
const stallGrace = 250 * time.Millisecond

// Options configure Run and RunAll. The zero value is ready to use.
type Options struct {
	// Seed, when set, replaces every scenario's own seed (posdrill run --seed).
	Seed *int64
	// Timeout bounds each scenario in real time (default DefaultTimeout).
	Timeout time.Duration
	// Parallel is how many scenarios RunAll runs at once (default GOMAXPROCS). Each has its
	// own clock, network and stores, so results do not depend on it.
	Parallel int
	// TempDir holds the on-disk stores of scenarios that restart the terminal or the
	// acquirer (default os.TempDir()); they are removed afterwards.
	TempDir string
	// Progress, when set, is called with each result, in the order of the scenarios.
	Progress func(*Result)
	// TraceDir, when set, gets a JSONL trace (iso/trace) of each scenario, TraceFile(dir,
	// name): the terminal's frames, events and outcomes, the host's fault firings and the
	// runner's steps, card data masked, on the run's virtual clock. Scenario names must be
	// unique within a run (Load sees to it), or their traces overwrite each other.
	TraceDir string

	// MaxWork bounds the frames and events one scenario run may record (default MaxWork).
	MaxWork int

	// Host, when set, runs every scenario against this ISO 8583 host (HOST:PORT) on the real
	// clock instead of the embedded acquirer, one scenario at a time; host faults go through
	// a fault proxy the runner puts in front of it. A scenario's own profile.host does the
	// same for that scenario; the two must agree.
	Host string
	// Admin, with Host, is the admin API of a posdrill acquirer at Host: the host's
	// decisions (decline, partial_approval) are installed there and ledger and journal
	// expectations checked there. Without it those scenarios and checks are skipped, with
	// the reason.
	Admin *acquirer.AdminClient
	// TimeScale, with Host, multiplies every duration of a scenario: the terminal profile's
	// timeouts and intervals, fault delays and advance steps (0 or 1: as written). 0.01 runs
	// a 30 s response timeout in 300 ms; the host's own timers are not scaled.
	TimeScale float64
	// HostDialect and HostFraming, with Host, are what the host speaks (default ascii,
	// len2): scenarios whose terminal speaks otherwise are skipped.
	HostDialect, HostFraming string
	// ResetHost, with Admin, puts the posdrill acquirer's ledger and journal back to its
	// fixtures before each scenario (POST /reset), so that one scenario's cards (a card
	// blocked after three wrong PINs) do not change the next one's.
	ResetHost bool
}

// RunAll runs scenarios and collects a report.
func RunAll(ctx context.Context, scs []*Scenario, o Options) *Report {
	start := time.Now()
	rep := &Report{SeedOverride: o.Seed, Results: make([]*Result, len(scs))}
	workers := o.Parallel
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	for _, sc := range scs {
		if o.Host != "" || sc.Host != "" {
			// One external host's ledger is shared: scenarios against it must not overlap.
			workers = 1
		}
	}
	done := make([]chan struct{}, len(scs))
	for i := range done {
		done[i] = make(chan struct{})
	}
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(workers, len(scs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(scs) {
					return
				}
				rep.Results[i] = Run(ctx, scs[i], o)
				close(done[i])
			}
		}()
	}
	for i := range scs {
		<-done[i]
		if o.Progress != nil {
			o.Progress(rep.Results[i])
		}
	}
	wg.Wait()
	rep.WallTime = time.Since(start)
	return rep
}

// Run runs one scenario: an acquirer and a terminal on a virtual clock starting at the
// scenario's start time, talking over an in-memory network; it executes the steps, checks
// the expectations and returns the result with the masked trace. It never hangs: a step
// that can no longer make progress (a stall) or that exceeds the real-time limit fails the
// scenario.
func Run(ctx context.Context, sc *Scenario, o Options) *Result {
	wallStart := time.Now()
	seed := sc.Seed
	if o.Seed != nil {
		seed = *o.Seed
	}
	if sc.External {
		msg := "this case is for an external terminal (terminal: external): run it with posdrill check-terminal"
		return &Result{Name: sc.Name, Title: sc.Title.String(), File: sc.File, Tags: slices.Clone(sc.Tags), Seed: seed, Err: msg,
			Failures: []Failure{{Step: -1, Label: "run", What: "terminal", Message: msg}}}
	}
	host, hostErr := hostFor(sc, o)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
		if host != "" {
			timeout = DefaultHostTimeout
		}
	}
	res := &Result{Name: sc.Name, Title: sc.Title.String(), File: sc.File, Tags: slices.Clone(sc.Tags), Seed: seed, Host: host}
	switch {
	case hostErr != nil:
		res.Err = hostErr.Error()
		res.Failures = []Failure{{Step: -2, Label: "run", What: "profile.host", Message: res.Err}}
		res.WallTime = time.Since(wallStart)
		return res
	case host != "":
		if why := hostSkipReason(sc, o, timeout); why != "" {
			res.Passed, res.Skipped = true, "not run against "+host+": "+why
			res.WallTime = time.Since(wallStart)
			return res
		}
		sc = scaled(sc, o.TimeScale)
		if !(o.ResetHost && o.Admin != nil) {
			// The host's duplicate check keys on DE41, DE11 and DE7 (to the second): every
			// scenario starts its STANs afresh, so unless the host forgets the last one's
			// (ResetHost), it starts in a second of its own.
			now := time.Now()
			time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now))
		}
	}
	ctx, stopWork := context.WithCancelCause(ctx)
	defer stopWork(nil)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var clk runClock = clock.NewVirtual(sc.Start)
	start := sc.Start
	if host != "" {
		clk, start = realClock{}, time.Now()
	}
	r := &runner{
		sc:       sc,
		o:        o,
		seed:     seed,
		host:     host,
		clk:      clk,
		rec:      newRecorder(start, sc.Profile.ResponseTimeout),
		outcomes: map[string]simulator.Outcome{},
		res:      res,
	}
	r.rec.limit = o.MaxWork
	if r.rec.limit <= 0 {
		r.rec.limit = MaxWork
	}
	r.rec.onFull = func(at time.Time, n int) {
		err := fmt.Errorf("%w: stopped after %d frames and events at simulated time +%s: the scenario schedules more work than a scenario may do (%d); lengthen its intervals (echo_interval, reversal_interval) or shorten its advance steps",
			ErrWorkLimit, n, at.Sub(start).Round(time.Millisecond), r.rec.limit)
		r.overWork.Store(&err)
		stopWork(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A panic in a step (a bug in an engine the step called) fails this scenario
		// rather than the whole run; the stack goes into the failure.
		defer func() {
			if p := recover(); p != nil {
				r.runError(-1, "panic", "the run panicked: %v\n%s", p, debug.Stack())
			}
		}()
		r.main(ctx)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// Every call the runner makes takes ctx, so it should come back at once; if some
		// component ignores cancellation, abandon it rather than hang the whole run.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_, _, trace := r.rec.snapshot()
			res := &Result{Name: sc.Name, Title: sc.Title.String(), File: sc.File, Tags: slices.Clone(sc.Tags), Seed: seed,
				Host: host, Trace: trace, WallTime: time.Since(wallStart)}
			msg := fmt.Sprintf("the scenario did not finish within %s of real time and did not stop when cancelled; abandoned", timeout)
			res.Err = msg
			res.Failures = []Failure{{Step: -1, Label: "run", What: "time limit", Message: msg}}
			return res
		}
	}
	res = r.res
	res.Passed = len(res.Failures) == 0
	res.WallTime = time.Since(wallStart)
	return res
}

// runner is the state of one scenario run. Only the runner goroutine (main) touches it,
// except mu's fields, which the terminal's dialer reads from the terminal's goroutines.
type runner struct {
	sc   *Scenario
	o    Options
	seed int64
	host string    // the external host, or "" for the embedded acquirer
	hs   *hostSide // with host
	clk  runClock
	rec  *recorder
	res  *Result
	// overWork is set (once) when the recorder passed MaxWork; the run's context is
	// cancelled then, and the "time limit" failures that follow say this instead.
	overWork atomic.Pointer[error]

	dir         string // temp dir, when a store must survive a restart
	dbPath      string
	journalPath string
	faults      *fault.Engine
	trace       *runTrace // nil without Options.TraceDir

	mu        sync.Mutex
	ln        *handshakeListener
	acq       *acquirer.Acquirer
	serveDone chan struct{}

	term          *simulator.Terminal
	outcomes      map[string]simulator.Outcome // by step id
	lastJournalID int64
	hostSeen      map[[2]string]int // requests the host journaled, by MTI and STAN
	faultActions  map[string]bool
	stalled       atomic.Pointer[string]
}

func (r *runner) fail(step int, what, format string, args ...any) {
	r.res.Failures = append(r.res.Failures, Failure{
		Step: step, Label: r.label(step), What: what, Message: iso.MaskText(fmt.Sprintf(format, args...)),
	})
}

func (r *runner) failDiff(step int, what, msg, diff string) {
	r.res.Failures = append(r.res.Failures, Failure{
		Step: step, Label: r.label(step), What: what, Message: iso.MaskText(msg), Diff: iso.MaskText(diff),
	})
}

// runError stops the run with a failure that is not an expectation.
func (r *runner) runError(step int, what, format string, args ...any) {
	if e := r.overWork.Load(); e != nil && what == "time limit" {
		what, format, args = "work limit", "%v", []any{*e}
	}
	msg := iso.MaskText(fmt.Sprintf(format, args...))
	if r.res.Err == "" {
		r.res.Err = msg
	}
	r.fail(step, what, "%s", msg)
}

func (r *runner) label(step int) string {
	switch {
	case step >= 0 && step < len(r.sc.Steps):
		st := r.sc.Steps[step]
		return fmt.Sprintf("step %d (%s) at %s", step+1, st.Label(), st.Pos)
	case step == -1 && r.sc.Expect != nil:
		return "final expect at " + r.sc.Expect.Pos.String()
	}
	return "run"
}

// main is the runner goroutine. It holds a clock token whenever it works (the token rule of
// iso/clock): virtual time moves only while it is blocked inside a call that waits for
// time, or while it deliberately lets time pass (advance).
func (r *runner) main(ctx context.Context) {
	r.clk.Hold()
	defer r.clk.Release()
	defer r.cleanup()
	if !r.setup(ctx) {
		return
	}
	for i, st := range r.sc.Steps {
		if err := ctx.Err(); err != nil {
			r.runError(i, "time limit", "the scenario exceeded its real-time limit before this step: %v", err)
			break
		}
		r.rec.setStep(i)
		r.rec.note(r.clk.Now(), "── step %d/%d: %s", i+1, len(r.sc.Steps), describeStep(st))
		r.trace.note("step", "", "step %d/%d at %s: %s", i+1, len(r.sc.Steps), st.Pos, describeStep(st))
		out, ok := r.step(ctx, i, st)
		r.settle(ctx)
		r.res.Steps = i + 1
		if msg := r.stalled.Load(); msg != nil {
			r.runError(i, "stall", "%s", *msg)
			break
		}
		if ctx.Err() != nil {
			r.runError(i, "time limit", "the step did not finish within the scenario's real-time limit (%v); the trace shows how far it got", ctx.Err())
			break
		}
		if r.res.Err != "" {
			break // the step could not be carried out (a restart failed, rules refused)
		}
		if st.Expect != nil {
			var o *simulator.Outcome
			if ok {
				o = &out
			}
			r.check(i, st.Expect, o)
		}
	}
	r.rec.setStep(len(r.sc.Steps))
	if r.res.Err == "" && r.sc.Expect != nil {
		r.check(-1, r.sc.Expect, nil)
	}
	r.res.SimTime = r.clk.Now().Sub(r.rec.start)
	r.collect()
	if len(r.res.Failures) == 0 {
		r.trace.note("result", "passed", "%s passed", r.sc.Name)
	} else {
		f := r.res.Failures[0]
		r.trace.note("result", "failed", "%s failed: %d failure(s), the first at %s: %s", r.sc.Name, len(r.res.Failures), f.Label, f.What)
	}
}

// setup builds the fault engine, the acquirer and the terminal.
func (r *runner) setup(ctx context.Context) bool {
	sc := r.sc
	r.dbPath, r.journalPath = ":memory:", ":memory:"
	needAcqFile, needTermFile := false, false
	for _, st := range sc.Steps {
		switch {
		case st.Kind == StepRestartAcquirer:
			needAcqFile = true
		case st.Kind == StepRestartTerminal:
			needTermFile = true
		}
	}
	if needAcqFile || needTermFile {
		dir, err := os.MkdirTemp(r.o.TempDir, "posdrill-"+sc.Name+"-")
		if err != nil {
			r.runError(-2, "set-up", "cannot create a temporary directory: %v", err)
			return false
		}
		r.dir = dir
		if needAcqFile {
			r.dbPath = dir + string(os.PathSeparator) + "acquirer.db"
		}
		if needTermFile {
			r.journalPath = dir + string(os.PathSeparator) + "terminal.db"
		}
	}
	if r.o.TraceDir != "" {
		rt, err := openRunTrace(r.o.TraceDir, sc.Name, r.clk)
		if err != nil {
			r.runError(-2, "set-up", "cannot write the trace: %v", err)
			return false
		}
		r.trace = rt
		rt.note("scenario", "", "%s: %s (seed %d, file %s)", sc.Name, sc.Title, r.seed, sc.File)
	}
	r.faults = fault.NewEngine(r.seed, r.clk)
	if r.host != "" {
		r.rec.note(r.clk.Now(), "── %s: %s (seed %d, against %s in real time, cards %s, terminal %s/%s)", sc.Name, sc.Title, r.seed,
			r.host, sc.CardsFrom, sc.Profile.TID, sc.Profile.MID)
		for _, rule := range sc.Faults {
			r.rec.note(r.clk.Now(), "   host fault rule: %s", describeRule(rule))
		}
		if err := r.startHost(ctx); err != nil {
			r.runError(-2, "set-up", "cannot set up the run against %s: %v", r.host, err)
			return false
		}
		if err := r.startTerminal(); err != nil {
			r.runError(-2, "set-up", "cannot start the terminal: %v", err)
			return false
		}
		return true
	}
	if len(sc.Faults) > 0 {
		if _, err := r.faults.Add(sc.Faults...); err != nil {
			r.runError(-2, "set-up", "the fault engine refused the scenario's faults: %v", err)
			return false
		}
	}
	r.rec.note(r.clk.Now(), "── %s: %s (seed %d, start %s, cards %s, terminal %s/%s)", sc.Name, sc.Title, r.seed,
		sc.Start.Format(time.RFC3339), sc.CardsFrom, sc.Profile.TID, sc.Profile.MID)
	for _, rule := range sc.Faults {
		r.rec.note(r.clk.Now(), "   host fault rule: %s", describeRule(rule))
	}
	ok := true
	r.call(ctx, func(ctx context.Context) {
		if err := r.startAcquirer(); err != nil {
			r.runError(-2, "set-up", "cannot start the acquirer: %v", err)
			ok = false
			return
		}
		if err := r.startTerminal(); err != nil {
			r.runError(-2, "set-up", "cannot start the terminal: %v", err)
			ok = false
		}
	})
	r.settle(ctx)
	return ok
}

func (r *runner) startAcquirer() error {
	// The host speaks the terminal's dialect and framing, so a scenario can test any of them.
	d, err := iso.DialectByName(r.sc.Profile.Dialect)
	if err != nil {
		return err
	}
	f, err := iso.ParseFraming(r.sc.Profile.Framing)
	if err != nil {
		return err
	}
	o := acquirer.Options{
		Clock: r.clk, Seed: r.seed, Cards: r.sc.Cards, DB: r.dbPath, Faults: r.faults,
		Dialect: d, Framing: f,
	}
	if r.trace != nil {
		o.OnFault = acquirer.FaultTracer(r.trace.w)
	}
	a, err := acquirer.New(o)
	if err != nil {
		return err
	}
	ln := newHandshakeListener(memnet.Listen("acquirer", r.clk))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Serve(ln)
	}()
	r.mu.Lock()
	r.acq, r.ln, r.serveDone = a, ln, done
	r.mu.Unlock()
	return nil
}

func (r *runner) stopAcquirer() error {
	r.mu.Lock()
	a, ln, done := r.acq, r.ln, r.serveDone
	r.acq, r.serveDone = nil, nil
	r.mu.Unlock()
	if a == nil {
		return nil
	}
	// Closing waits for the host's in-flight work, which may itself wait for time (a
	// delayed answer): give up the token meanwhile, as any wait for time must.
	r.clk.Release()
	defer r.clk.Hold()
	err := a.Close()
	_ = ln.Close() // Close normally closes it already; a second close only reports that
	<-done
	return err
}

func (r *runner) startTerminal() error {
	observe, event := r.rec.terminalHooks()
	o := simulator.Options{
		Clock:    r.clk,
		Dial:     r.dial,
		Journal:  r.journalPath,
		Wallet:   r.sc.Cards,
		Observer: observe,
		OnEvent:  event,
	}
	if r.host != "" {
		o = r.hostTerminalOptions(o)
	}
	if r.trace != nil {
		var err error
		if o, err = r.trace.term.Hook(r.sc.Profile, o); err != nil {
			return err
		}
	}
	t, err := simulator.New(r.sc.Profile, o)
	if err != nil {
		return err
	}
	r.term = t
	return nil
}

// dial connects the terminal to whichever acquirer listener is current (restart_acquirer
// replaces it; between the two, connections are refused as by a host that is down).
func (r *runner) dial(ctx context.Context, _ string) (net.Conn, error) {
	r.mu.Lock()
	ln := r.ln
	r.mu.Unlock()
	return ln.dial(ctx)
}

// call runs f with virtual time driven automatically (the clock's Run loop fires the next
// timer whenever every party is idle) and a watch for stalls; f gets a context that a stall
// cancels. When f returns, the Run loop is stopped, so that time never moves between steps.
func (r *runner) call(ctx context.Context, f func(ctx context.Context)) {
	stepCtx, stepCancel := context.WithCancel(ctx)
	defer stepCancel()
	loopCtx, loopCancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = r.clk.Run(loopCtx)
	}()
	go func() {
		defer wg.Done()
		r.watch(loopCtx, stepCancel)
	}()
	f(stepCtx)
	loopCancel()
	wg.Wait()
}

// watch reports a stall: the runner is inside a call, nobody is busy and no timer is
// pending, so nothing can ever complete the call.
func (r *runner) watch(ctx context.Context, cancelStep context.CancelFunc) {
	for {
		if err := r.clk.WaitStalled(ctx); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(stallGrace):
		}
		if r.clk.Stalled() {
			msg := fmt.Sprintf("stalled at %s: the step was still waiting, but no party was busy and no timer was pending, so nothing could ever happen any more (a component lost a clock token or waits for something that is not on the clock)", r.rec.stamp(r.clk.Now()))
			r.stalled.CompareAndSwap(nil, &msg)
			cancelStep()
			return
		}
	}
}

// settle lets every other party finish what the last step started, without letting time
// move (the Run loop is stopped): the runner gives up its token, waits until nobody is busy,
// and takes it back. Checks that follow then see a quiet system.
func (r *runner) settle(ctx context.Context) {
	if r.host != "" {
		r.settleReal(ctx)
		return
	}
	r.clk.Release()
	_ = r.clk.WaitIdle(ctx)
	r.clk.Hold()
	r.noteHostFaults()
}

// noteHostFaults adds the host's fault firings since the last look to the trace.
func (r *runner) noteHostFaults() {
	r.mu.Lock()
	a := r.acq
	r.mu.Unlock()
	if a == nil {
		return
	}
	entries, err := a.Journal(acquirer.Filter{})
	if err != nil {
		return
	}
	if r.faultActions == nil {
		r.faultActions = map[string]bool{}
	}
	if r.hostSeen == nil {
		r.hostSeen = map[[2]string]int{}
	}
	for _, e := range entries {
		if e.ID <= r.lastJournalID {
			continue
		}
		r.lastJournalID = e.ID
		if e.Direction == "in" {
			r.hostSeen[[2]string{e.MTI, e.STAN}]++
		}
		if e.FaultAction == "" {
			continue
		}
		r.faultActions[e.FaultAction] = true
		switch e.Direction {
		case "in":
			// The nth request the host journaled with this MTI and STAN is the nth the
			// terminal sent: the note goes right under it.
			r.rec.noteAfterRequest(e.MTI, e.STAN, r.hostSeen[[2]string{e.MTI, e.STAN}], e.Time,
				"   host fault %s (rule %q) hit this %s", e.FaultAction, e.Fault, e.MTI)
		case "out":
			// The same firing again, on the answer's journal line.
		default:
			r.rec.note(e.Time, "   host fault %s (rule %q): %s", e.FaultAction, e.Fault, e.Decision)
		}
	}
}

// step executes one step; ok reports whether it produced an Outcome.
func (r *runner) step(ctx context.Context, i int, st Step) (out simulator.Outcome, ok bool) {
	switch st.Kind {
	case StepAdvance:
		r.clk.Release()
		err := r.clk.AdvanceIdleContext(ctx, st.Duration)
		r.clk.Hold()
		if err != nil {
			r.runError(i, "time limit", "advance did not finish: %v", err)
		}
		return out, false
	case StepFault:
		r.faultStep(i, st)
		return out, false
	case StepDeviceFault:
		if st.DeviceFault.Kind == deviceFaultClear {
			r.call(ctx, func(context.Context) { r.term.ClearDeviceFaults() })
			r.rec.note(r.clk.Now(), "   device faults cleared")
			return out, false
		}
		df := simulator.DeviceFault{Kind: st.DeviceFault.Kind, Count: st.DeviceFault.Count, At: st.DeviceFault.At}
		r.call(ctx, func(context.Context) { r.term.InjectDeviceFault(df) })
		return out, false
	case StepReprint:
		var ref simulator.Ref
		if st.Ref != "" {
			ref = r.ref(st.Ref)
		}
		var rc *simulator.Receipt
		var err error
		r.call(ctx, func(context.Context) { rc, err = r.term.Reprint(ref) })
		if err != nil {
			r.rec.note(r.clk.Now(), "   reprint: %v", err)
		} else {
			r.rec.note(r.clk.Now(), "   reprinted the %s receipt of stan %s", rc.Kind, rc.STAN)
		}
		// Only the receipt is an outcome of a reprint: receipt_contains checks it.
		return simulator.Outcome{Receipt: rc, Err: err}, true
	case StepRestartTerminal:
		r.call(ctx, func(context.Context) {
			r.term.Crash()
			if err := r.startTerminal(); err != nil {
				r.runError(i, "restart_terminal", "the terminal did not start again on its journal: %v", err)
			}
		})
		return out, false
	case StepRestartAcquirer:
		r.call(ctx, func(context.Context) {
			if err := r.stopAcquirer(); err != nil {
				r.rec.note(r.clk.Now(), "   acquirer close: %v", err)
			}
			if err := r.startAcquirer(); err != nil {
				r.runError(i, "restart_acquirer", "the acquirer did not start again on its database: %v", err)
			}
		})
		return out, false
	case StepDrainSAF:
		var err error
		r.call(ctx, func(ctx context.Context) { err = r.term.DrainSAF(ctx) })
		if err != nil {
			r.rec.note(r.clk.Now(), "   drain_saf: %v", err)
		}
		return out, false
	}

	r.call(ctx, func(ctx context.Context) { out = r.transact(ctx, i, st) })
	if r.trace != nil {
		r.trace.term.Outcome(out)
	}
	if st.ID != "" {
		r.outcomes[st.ID] = out
	}
	r.res.Outcomes = appendUnique(r.res.Outcomes, out.Kind)
	line := fmt.Sprintf("   = %s", out.Kind)
	for _, kv := range [][2]string{{"rc", out.ResponseCode}, {"guidance", out.Guidance}, {"stan", out.STAN}} {
		if kv[1] != "" {
			line += fmt.Sprintf(" %s=%s", kv[0], kv[1])
		}
	}
	if out.Approved != 0 {
		line += " approved=" + iso.FormatMoney(out.Approved)
	}
	if out.Err != nil {
		line += " err=" + out.Err.Error()
	}
	r.rec.note(r.clk.Now(), "%s", line)
	return out, true
}

func (r *runner) transact(ctx context.Context, i int, st Step) simulator.Outcome {
	t := r.term
	pay := func() simulator.Payment {
		p := st.Payment
		return simulator.Payment{Card: p.Card, Amount: p.Amount, Entry: p.Entry, PIN: p.PIN}
	}
	switch st.Kind {
	case StepSale:
		return t.Sale(ctx, pay())
	case StepRefund:
		return t.Refund(ctx, pay())
	case StepPreAuth:
		return t.PreAuth(ctx, pay())
	case StepBalance:
		return t.Balance(ctx, pay())
	case StepComplete:
		return t.Complete(ctx, r.ref(st.Ref), st.Amount)
	case StepVoid:
		return t.Void(ctx, r.ref(st.Ref))
	case StepEcho:
		return t.Echo(ctx)
	case StepSignOn:
		return t.SignOn(ctx)
	case StepSignOff:
		return t.SignOff(ctx)
	case StepSettle:
		return t.Settle(ctx)
	}
	panic("scenarios: unhandled step kind " + st.Kind) // the parser admits no other kind
}

// ref resolves a step id to the STAN and RRN of that step's transaction; a STAN is taken
// as it is.
func (r *runner) ref(s string) simulator.Ref {
	if o, ok := r.outcomes[s]; ok {
		return o.Ref()
	}
	return simulator.Ref{STAN: s}
}

func (r *runner) faultStep(i int, st Step) {
	if r.host != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if st.FaultAdd != nil {
			if err := r.addHostRules(ctx, st.FaultAdd); err != nil {
				r.runError(i, "fault", "%v", err)
				return
			}
			for _, rule := range st.FaultAdd {
				r.rec.note(r.clk.Now(), "   host fault rule added: %s", describeRule(rule))
			}
			return
		}
		r.clearHostRules(ctx, st.FaultClear)
		r.rec.note(r.clk.Now(), "   host fault rules %q cleared", st.FaultClear)
		return
	}
	switch {
	case st.FaultAdd != nil:
		ids, err := r.faults.Add(st.FaultAdd...)
		if err != nil {
			r.runError(i, "fault", "the fault engine refused the rules: %v", err)
			return
		}
		for j, rule := range st.FaultAdd {
			r.rec.note(r.clk.Now(), "   host fault rule added (%s): %s", ids[j], describeRule(rule))
		}
	case st.FaultClear == "*":
		r.faults.Clear()
		r.rec.note(r.clk.Now(), "   host fault rules cleared")
	default:
		removed := 0
		for _, rule := range r.faults.List() {
			if rule.Name == st.FaultClear && r.faults.Remove(rule.ID) {
				removed++
			}
		}
		r.rec.note(r.clk.Now(), "   host fault rule %q removed (%d)", st.FaultClear, removed)
	}
}

// collect fills the result's coverage lists from what was recorded.
func (r *runner) collect() {
	wire, _, trace := r.rec.snapshot()
	for _, w := range wire {
		if w.dir == iso.In && !w.garbled && w.code != "" && iso.IsResponse(w.mti) {
			r.res.ResponseCodes = appendUnique(r.res.ResponseCodes, w.code)
		}
	}
	for a := range r.faultActions {
		r.res.FaultActions = append(r.res.FaultActions, a)
	}
	if r.hs != nil {
		r.hs.mu.Lock()
		for a := range r.hs.fired {
			r.res.FaultActions = appendUnique(r.res.FaultActions, a)
		}
		r.hs.mu.Unlock()
	}
	for _, st := range r.sc.Steps {
		if st.DeviceFault != nil && st.DeviceFault.Kind != deviceFaultClear {
			r.res.DeviceFaults = appendUnique(r.res.DeviceFaults, st.DeviceFault.Kind)
		}
	}
	sort.Strings(r.res.ResponseCodes)
	sort.Strings(r.res.FaultActions)
	sort.Strings(r.res.DeviceFaults)
	sort.Strings(r.res.Outcomes)
	r.res.Trace = trace
}

// cleanup stops both sides (with time running, since closing may wait for work that waits
// for time), removes the temporary stores and closes the trace file. It records nothing,
// unless the trace could not be written.
func (r *runner) cleanup() {
	r.rec.stop()
	r.trace.stop()
	// Teardown gets its own short real-time budget: the scenario's may be spent already.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.call(ctx, func(context.Context) {
		if r.term != nil {
			_ = r.term.Close()
		}
		_ = r.stopAcquirer()
	})
	r.stopHost()
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
	if err := r.trace.close(); err != nil {
		r.runError(-2, "trace", "writing the trace %s: %v", r.trace.path, err)
	}
}

func appendUnique(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// describeStep is a step as one line of the trace.
func describeStep(st Step) string {
	var b strings.Builder
	b.WriteString(st.Kind)
	if st.ID != "" {
		fmt.Fprintf(&b, " [%s]", st.ID)
	}
	switch {
	case st.Payment != nil:
		p := st.Payment
		fmt.Fprintf(&b, " card=%s", p.Card)
		if p.Amount != 0 {
			fmt.Fprintf(&b, " amount=%s", iso.FormatMoney(p.Amount))
		}
		if p.Entry != "" {
			fmt.Fprintf(&b, " entry=%s", p.Entry)
		}
		if p.PIN != "" {
			b.WriteString(" pin=****")
		}
	case st.Kind == StepComplete:
		fmt.Fprintf(&b, " ref=%s amount=%s", st.Ref, iso.FormatMoney(st.Amount))
	case st.Kind == StepVoid:
		fmt.Fprintf(&b, " ref=%s", st.Ref)
	case st.Kind == StepAdvance:
		fmt.Fprintf(&b, " %s", st.Duration)
	case st.Kind == StepReprint && st.Ref != "":
		fmt.Fprintf(&b, " ref=%s", st.Ref)
	case st.DeviceFault != nil:
		fmt.Fprintf(&b, " %s", st.DeviceFault.Kind)
		if st.DeviceFault.At != "" {
			fmt.Fprintf(&b, " at=%s", st.DeviceFault.At)
		}
		if st.DeviceFault.Count > 1 {
			fmt.Fprintf(&b, " count=%d", st.DeviceFault.Count)
		}
	case st.FaultAdd != nil:
		fmt.Fprintf(&b, " add %d rule(s)", len(st.FaultAdd))
	case st.FaultClear == "*":
		b.WriteString(" clear all")
	case st.FaultClear != "":
		fmt.Fprintf(&b, " clear %q", st.FaultClear)
	}
	return iso.MaskText(b.String())
}

// describeRule is a fault rule as one line of the trace.
func describeRule(r fault.Rule) string {
	var b strings.Builder
	if r.Name != "" {
		fmt.Fprintf(&b, "%q ", r.Name)
	}
	b.WriteString(r.Action)
	m := r.Match
	for _, kv := range [][2]string{{"mti", strings.Join(m.MTI, "|")}, {"card", m.Card}, {"pan_prefix", m.PANPrefix}, {"stan", m.STAN},
		{"terminal", m.Terminal}, {"amount", m.Amount}, {"processing_code", m.ProcessingCode}, {"entry_mode", m.EntryMode}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
		}
	}
	if r.After > 0 {
		fmt.Fprintf(&b, " after=%d", r.After)
	}
	if r.Count > 0 {
		fmt.Fprintf(&b, " count=%d", r.Count)
	}
	if r.Probability != nil {
		fmt.Fprintf(&b, " probability=%g", *r.Probability)
	}
	for _, pr := range fault.ParamList() {
		if v := pr.Get(r.Params); v != "" {
			fmt.Fprintf(&b, " %s=%s", pr.Key, v)
		}
	}
	return iso.MaskText(b.String())
}
