package simulator

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/trace"
)

// This file writes what a terminal sees to a JSONL trace (iso/trace), so that posdrill pay,
// train and the scenario runner all trace a terminal the same way.

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
func (tt *TerminalTrace) Hook(p Profile, o Options) (Options, error) {
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
	o.OnEvent = func(e Event) {
		if onEvent != nil {
			onEvent(e)
		}
		if dead.Load() || tt.off.Load() {
			return
		}
		if e.Kind == EventPowerLoss {
			dead.Store(true)
		}
		conn := terminalConn(tt.conns.Load())
		if e.Kind == EventConnecting || e.Kind == EventConnectFailed {
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
func (tt *TerminalTrace) Outcome(out Outcome) {
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
		parts = append(parts, "approved "+iso.FormatMoney(out.Approved))
	}
	if out.Err != nil {
		parts = append(parts, out.Err.Error())
	}
	_ = tt.w.Event(trace.Event{Source: trace.SourceTerminal, Conn: terminalConn(tt.conns.Load()), Kind: "outcome",
		STAN: out.STAN, Terminal: tid, Outcome: out.Kind, Detail: strings.Join(parts, ", ")})
}

// Stop makes the trace ignore everything from now on (a teardown is not part of a run).
func (tt *TerminalTrace) Stop() { tt.off.Store(true) }
