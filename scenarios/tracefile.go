package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/simulator"
)

// This file writes JSONL traces (iso/trace): a run's own (Options.TraceDir), and the hooks
// that posdrill pay, train and acquirer --trace use too, so that every trace says the same
// things the same way.

// TerminalTrace writes what a terminal sees to a trace: every frame in and out (source
// terminal, so "out" is what it sent), every event, and the outcome of each operation. Its
// connections are named "t1", "t2"... in the order they were dialled; events that belong to
// no connection yet (connecting, connect_failed) name none. It is safe for concurrent use.
type TerminalTrace struct {
	w     *trace.Writer
	conns atomic.Int64
	off   atomic.Bool
	mu    sync.Mutex
	tid   string // of the terminal last hooked
}

// NewTerminalTrace returns a TerminalTrace writing to w.
func NewTerminalTrace(w *trace.Writer) *TerminalTrace { return &TerminalTrace{w: w} }

// Hook returns o with Observer, OnEvent and Dial wrapped so that frames, events and
// connections of a terminal on profile p also go to the trace (the wrapped functions, when
// set, are still called). Call it for every terminal made, with that terminal's profile: a
// restarted or reconfigured terminal goes on in the same trace. A terminal that loses power
// sees nothing more: what its dying connection still reads is not traced.
func (tt *TerminalTrace) Hook(p simulator.Profile, o simulator.Options) (simulator.Options, error) {
	d, err := iso.DialectByName(p.Dialect)
	if err != nil {
		return o, fmt.Errorf("trace: %w", err)
	}
	tt.mu.Lock()
	tt.tid = p.TID
	tt.mu.Unlock()
	var dead atomic.Bool
	observe, onEvent, dial := o.Observer, o.OnEvent, o.Dial
	o.Observer = func(dir iso.Direction, raw []byte, m *iso.Message, at time.Time) {
		if observe != nil {
			observe(dir, raw, m, at)
		}
		if dead.Load() || tt.off.Load() {
			return
		}
		trace.Observer(tt.w, trace.SourceTerminal, terminalConn(tt.conns.Load()), d)(dir, raw, m, at)
	}
	o.OnEvent = func(e simulator.Event) {
		if onEvent != nil {
			onEvent(e)
		}
		if dead.Load() || tt.off.Load() {
			return
		}
		if e.Kind == simulator.EventPowerLoss {
			dead.Store(true)
		}
		conn := terminalConn(tt.conns.Load())
		if e.Kind == simulator.EventConnecting || e.Kind == simulator.EventConnectFailed {
			conn = ""
		}
		detail := e.Detail
		if e.Code != "" {
			detail = strings.TrimSuffix("code "+e.Code+": "+detail, ": ")
		}
		_ = tt.w.Event(trace.Event{Time: e.Time, Source: trace.SourceTerminal, Conn: conn, Kind: e.Kind,
			MTI: e.MTI, STAN: e.STAN, Terminal: p.TID, Detail: detail})
	}
	if dial == nil {
		timeout := p.ConnectTimeout
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
		}
	}
	o.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
		nc, err := dial(ctx, addr)
		if err == nil {
			tt.conns.Add(1) // before the connection carries a frame
		}
		return nc, err
	}
	return o, nil
}

func terminalConn(n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("t%d", n)
}

// Outcome writes an operation's outcome as an "outcome" event: its kind, STAN, response
// code and guidance.
func (tt *TerminalTrace) Outcome(out simulator.Outcome) {
	if tt.off.Load() {
		return
	}
	tt.mu.Lock()
	tid := tt.tid
	tt.mu.Unlock()
	parts := []string{out.Operation}
	for _, kv := range [][2]string{{"code", out.ResponseCode}, {"guidance", out.Guidance}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if out.Approved != 0 {
		parts = append(parts, "approved "+simulator.FormatMoney(out.Approved))
	}
	if out.Err != nil {
		parts = append(parts, out.Err.Error())
	}
	_ = tt.w.Event(trace.Event{Source: trace.SourceTerminal, Conn: terminalConn(tt.conns.Load()), Kind: "outcome",
		STAN: out.STAN, Terminal: tid, Outcome: out.Kind, Detail: strings.Join(parts, ", ")})
}

// Stop makes the trace ignore everything from now on (a teardown is not part of a run).
func (tt *TerminalTrace) Stop() { tt.off.Store(true) }

// FaultTracer returns an acquirer.Options.OnFault that writes each firing as a fault record
// (source acquirer).
func FaultTracer(w *trace.Writer) func(acquirer.FaultRecord) {
	return func(f acquirer.FaultRecord) {
		_ = w.Fault(trace.Fault{Time: f.Time, Source: trace.SourceAcquirer, Conn: f.Conn, RuleID: f.RuleID,
			Rule: f.Rule, Action: f.Action, Params: f.Params, MTI: f.MTI, STAN: f.STAN, Terminal: f.Terminal})
	}
}

// runTrace is the trace file of one run (Options.TraceDir): the terminal's frames, events
// and outcomes, the host's fault firings, and the runner's own events (scenario, step,
// result) on the run's virtual clock.
type runTrace struct {
	path string
	w    *trace.Writer
	term *TerminalTrace
	out  *lockedFile
	off  atomic.Bool
}

// TraceFile is where a run with Options.TraceDir dir writes the trace of the scenario
// named name.
func TraceFile(dir, name string) string {
	if name == "" {
		name = "scenario"
	}
	return filepath.Join(dir, name+".jsonl")
}

func openRunTrace(dir, name string, clk clock.Clock) (*runTrace, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := TraceFile(dir, name)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	out := &lockedFile{f: f, w: bufio.NewWriter(f)}
	w := trace.NewWriter(out, trace.WithClock(clk))
	return &runTrace{path: path, w: w, term: NewTerminalTrace(w), out: out}, nil
}

// note writes an event of the runner's own.
func (rt *runTrace) note(kind, outcome, format string, args ...any) {
	if rt == nil || rt.off.Load() {
		return
	}
	_ = rt.w.Event(trace.Event{Source: trace.SourceRunner, Kind: kind, Outcome: outcome, Detail: fmt.Sprintf(format, args...)})
}

// stop ignores what comes next (teardown).
func (rt *runTrace) stop() {
	if rt == nil {
		return
	}
	rt.off.Store(true)
	rt.term.Stop()
}

// close flushes and closes the file; the first write error, if any, is returned.
func (rt *runTrace) close() error {
	if rt == nil {
		return nil
	}
	rt.stop()
	err := rt.out.Close()
	if werr := rt.w.Err(); werr != nil {
		err = werr
	}
	return err
}

// lockedFile is a buffered file that a late write cannot race with closing.
type lockedFile struct {
	mu     sync.Mutex
	f      *os.File
	w      *bufio.Writer
	closed bool
}

func (l *lockedFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, os.ErrClosed
	}
	return l.w.Write(p)
}

func (l *lockedFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
