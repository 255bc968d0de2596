package simulator

import (
	"context"
	"slices"
	"sync"

	"github.com/posdrill/posdrill/iso/clock"
)

// line is the terminal's one communication line: a transaction, a SAF drain and an echo
// test never interleave. It is a mutex that follows the clock's token rule: a goroutine that
// waits for it gives its token up (the holder may need time to pass, e.g. a 30 s response
// timeout), and the unlocker hands a token to the next holder, so that virtual time never
// moves in the gap between one holder and the next.
type line struct {
	clk     clock.Clock
	mu      sync.Mutex
	held    bool
	waiters []chan struct{}
}

// lock takes the line; the caller must own a token (it keeps it, or gets one back).
func (l *line) lock(ctx context.Context) error {
	l.mu.Lock()
	if !l.held {
		l.held = true
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	l.clk.Release()
	select {
	case <-ch:
		return nil // the unlocker held a token for us
	case <-ctx.Done():
		l.mu.Lock()
		if i := slices.Index(l.waiters, ch); i >= 0 {
			l.waiters = slices.Delete(l.waiters, i, i+1)
			l.mu.Unlock()
			l.clk.Hold()
			return ctx.Err()
		}
		l.mu.Unlock()
		<-ch // handed over at the same moment: take it and pass it on
		l.unlock()
		return ctx.Err()
	}
}

// unlock passes the line to the next waiter, with a token, or frees it.
func (l *line) unlock() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waiters) == 0 {
		l.held = false
		return
	}
	ch := l.waiters[0]
	l.waiters = l.waiters[1:]
	l.clk.Hold()
	close(ch)
}
