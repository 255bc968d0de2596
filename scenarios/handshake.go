package scenarios

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/posdrill/posdrill/iso/memnet"
)

// handshakeListener makes memnet connects behave like TCP connects, for determinism.
//
// A TCP connect returns only after the server's handshake: by then a host that refuses
// connections has already answered with a reset. memnet's Dial returns at once, while the
// connection waits in the accept queue; a host that accepts and resets it (the acquirer's
// refuse_connections fault) then races with the terminal's first write, and the trace
// (a sign-on on the wire or not) would depend on the scheduler. The runner's dialer waits
// until the acquirer's accept loop has dealt with the connection — it calls Accept again
// only after it has kept or reset the previous one — and reports a reset connection as
// refused, as TCP would.
type handshakeListener struct {
	*memnet.Listener

	mu       sync.Mutex
	cond     sync.Cond
	dials    int // connections dialled through dial
	accepted int // connections Accept returned
	handled  int // connections the accept loop is done with
	closed   bool
}

func newHandshakeListener(ln *memnet.Listener) *handshakeListener {
	l := &handshakeListener{Listener: ln}
	l.cond.L = &l.mu
	return l
}

// Accept marks the previous connection as dealt with, then waits for the next.
func (l *handshakeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.handled = l.accepted
	l.cond.Broadcast()
	l.mu.Unlock()
	c, err := l.Listener.Accept()
	l.mu.Lock()
	if err == nil {
		l.accepted++
	} else {
		// The accept loop is ending (the acquirer closes): nobody will deal with more.
		l.closed = true
		l.cond.Broadcast()
	}
	l.mu.Unlock()
	return c, err
}

// Close closes the listener and releases dialers waiting for it.
func (l *handshakeListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

// dial connects and waits for the acquirer's decision on the connection. The caller keeps
// its clock token meanwhile: a handshake takes no virtual time, and the accept loop holds
// a token of its own while it works (memnet hands it one with the connection).
func (l *handshakeListener) dial(ctx context.Context) (net.Conn, error) {
	l.mu.Lock()
	c, err := l.Listener.DialContext(ctx)
	if err != nil {
		l.mu.Unlock()
		return nil, err
	}
	l.dials++
	n := l.dials
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	for l.handled < n && !l.closed && ctx.Err() == nil {
		l.cond.Wait()
	}
	l.mu.Unlock()
	stop()
	if err := ctx.Err(); err != nil {
		c.Close()
		return nil, &net.OpError{Op: "dial", Net: "memnet", Addr: l.Addr(), Err: err}
	}
	// A zero-length read reports a reset the host already sent without consuming data. It
	// leaves the connection's reader counted as busy, exactly as memnet expects of a
	// goroutine that has read: the terminal's reader gives that token back when it first
	// blocks (or Close does).
	if _, err := c.Read(nil); err != nil {
		c.Close()
		return nil, &net.OpError{Op: "dial", Net: "memnet", Addr: l.Addr(),
			Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return c, nil
}
