package scenarios

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/simulator"
)

// This file writes a run's own JSONL trace (Options.TraceDir) with the same writers posdrill
// pay, train and acquirer --trace use (simulator.TerminalTrace, acquirer.FaultTracer), so
// that every trace says the same things the same way.

// runTrace is the trace file of one run (Options.TraceDir): the terminal's frames, events
// and outcomes, the host's fault firings, and the runner's own events (scenario, step,
// result) on the run's virtual clock.
type runTrace struct {
	path string
	w    *trace.Writer
	term *simulator.TerminalTrace
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
	return &runTrace{path: path, w: w, term: simulator.NewTerminalTrace(w), out: out}, nil
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
