// Package memnet is an in-memory stand-in for TCP: a Listener and buffered, bidirectional
// Conns usable wherever a net.Listener or net.Conn is expected, taking part in the clock
// token protocol so that a scenario on a virtual clock never advances time while bytes are
// in flight.
//
// # Token protocol
//
// On clock.Real every Hold/Release below is a no-op. On a virtual clock:
//
//   - Read returns owning a token (it Holds one for the reading goroutine unless that
//     goroutine already owns one from an earlier Read), except when it returns net.ErrClosed
//     because the Conn itself was closed. When Read must block, it first releases the token
//     it handed out.
//   - Each direction of a connection holds one pending token while it has something its
//     reader has not seen yet (unread bytes, or an EOF or reset not yet returned by Read)
//     and the reading goroutine does not own a token from that Conn, i.e. it is blocked in
//     Read or has not read yet. Read takes its own token before the pending one goes, so
//     the count never touches 0 between "the writer wrote" and "the reader is processing".
//     While the reader owns a token it is busy, or blocked on something else (typically
//     Sleep, which released that token): then arriving bytes wait without holding time
//     back, as bytes wait in a socket buffer, and the reader finds them when it next reads.
//   - Close holds a pending token for the peer so it sees the EOF or reset, then releases
//     the token the reading goroutine owns (the goroutine that closes is normally the one
//     that reads, about to finish) and any pending token of data it will now never read.
//   - Likewise the accept queue holds a pending token while it is not empty and the
//     accepting goroutine does not own a token from Accept; Accept hands that goroutine an
//     owned token, released when it calls Accept again and blocks, or when the Listener is
//     closed.
//
// Read only knows about the tokens it handed out itself. A goroutine that is already busy
// for another reason (it called Hold, or a timer woke it) when it first reads a Conn must
// say so with AdoptToken, or a blocking Read would leave it counted as busy and virtual
// time would never move. Likewise the accepting goroutine should hand each connection to
// another goroutine rather than read it itself, so that it holds one token at a time.
package memnet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/posdrill/posdrill/iso/clock"
)

// network is what Addr.Network reports and what errors name as the network.
const network = "memnet"

// maxBuffered bounds the unread bytes of one direction: beyond it Write blocks, so that a
// runaway writer fails visibly instead of eating all memory.
const maxBuffered = 16 << 20

// Addr is the address of a memnet endpoint.
type Addr string

// Network returns "memnet".
func (Addr) Network() string { return network }

// String returns the address itself.
func (a Addr) String() string { return string(a) }

// Listener is an in-memory net.Listener; connect to it with Dial.
type Listener struct {
	clk  clock.Clock
	addr Addr

	mu      sync.Mutex
	cond    sync.Cond // broadcast when a connection is queued or the listener closes
	queue   []*Conn   // server ends waiting for Accept
	closed  bool
	owns    bool // the accepting goroutine owns a token handed out by Accept
	pending bool // a token is held for the queue (see settle)
	dials   int  // numbers client addresses
}

var _ net.Listener = (*Listener)(nil)

// Listen returns a Listener known by addr whose connections account for tokens on clk (nil
// means clock.Real).
func Listen(addr string, clk clock.Clock) *Listener {
	if clk == nil {
		clk = clock.Real{}
	}
	l := &Listener{clk: clk, addr: Addr(addr)}
	l.cond.L = &l.mu
	return l
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.addr }

// Accept waits for and returns the next dialled connection; the calling goroutine then owns
// a token (see the package comment). After Close it returns an error wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.closed {
			return nil, &net.OpError{Op: "accept", Net: network, Addr: l.addr, Err: net.ErrClosed}
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			if !l.owns {
				l.owns = true
				l.clk.Hold()
			}
			l.settle() // now the acceptor's token covers the rest of the queue
			return c, nil
		}
		if l.owns {
			l.owns = false
			l.clk.Release()
		}
		l.cond.Wait()
	}
}

// Close stops the listener: blocked and future Accepts fail with net.ErrClosed, future Dials
// are refused, and connections never accepted are reset (their client sees ECONNRESET, as
// with TCP). It releases the acceptor's token and the queue's.
func (l *Listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return &net.OpError{Op: "close", Net: network, Addr: l.addr, Err: net.ErrClosed}
	}
	l.closed = true
	for i, c := range l.queue {
		c.p.mu.Lock()
		c.closeLocked(true) // holds a token for the client to see the reset...
		c.p.mu.Unlock()
		l.queue[i] = nil
	}
	l.queue = nil
	l.settle() // ...before the queue's token goes
	if l.owns {
		l.owns = false
		l.clk.Release()
	}
	l.cond.Broadcast()
	return nil
}

// Dial connects to the listener. It never blocks: the connection waits in the accept queue.
func (l *Listener) Dial() (net.Conn, error) { return l.DialContext(context.Background()) }

// DialContext is Dial failing with ctx's error if ctx is already done. After the listener is
// closed it returns an error wrapping syscall.ECONNREFUSED.
func (l *Listener) DialContext(ctx context.Context) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: l.addr, Err: err}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: l.addr,
			Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	l.dials++
	client, server := newPair(l.clk, Addr(fmt.Sprintf("%s/client-%d", l.addr, l.dials)), l.addr)
	l.queue = append(l.queue, server)
	l.settle()
	l.cond.Broadcast()
	return client, nil
}

// settle holds or releases the queue's pending token so that it is held exactly while
// connections wait and the acceptor is not known to be busy: then a wake-up of the
// acceptor is due and time must not move before it has happened.
func (l *Listener) settle() {
	want := !l.closed && !l.owns && len(l.queue) > 0
	if want != l.pending {
		l.pending = want
		if want {
			l.clk.Hold()
		} else {
			l.clk.Release()
		}
	}
}

// pair is what the two ends of a connection share: one mutex and condition for both
// directions keeps Close (which touches both) simple and free of lock-order issues.
type pair struct {
	clk  clock.Clock
	mu   sync.Mutex
	cond sync.Cond // broadcast on any change a blocked Read or Write may wait for
}

// stream is one direction of a connection.
type stream struct {
	buf     bytes.Buffer
	pending bool // a token is held for what the reader has not seen (see settle)
	eof     bool // the writer closed
	reset   bool // the writer closed abortively (linger 0): unread bytes are dropped
	seen    bool // Read has returned the EOF or reset
	owns    bool // the reading goroutine owns a token handed out by Read
	gone    bool // the reading end is closed: writes are discarded
}

// Conn is one end of an in-memory connection. It implements net.Conn.
type Conn struct {
	p             *pair
	in, out       *stream
	local, remote Addr

	// Protected by p.mu.
	closed   bool
	linger   int
	rdl, wdl deadline
}

var _ net.Conn = (*Conn)(nil)

// newPair returns the two connected ends.
func newPair(clk clock.Clock, clientAddr, serverAddr Addr) (client, server *Conn) {
	p := &pair{clk: clk}
	p.cond.L = &p.mu
	a, b := new(stream), new(stream)
	client = &Conn{p: p, in: a, out: b, local: clientAddr, remote: serverAddr, linger: -1}
	server = &Conn{p: p, in: b, out: a, local: serverAddr, remote: clientAddr, linger: -1}
	return client, server
}

// Read reads available bytes, blocking until there are some, the peer closes (io.EOF once
// the bytes before it are read), the peer resets (an error wrapping syscall.ECONNRESET;
// unread bytes are dropped), the read deadline passes (os.ErrDeadlineExceeded) or c is
// closed (net.ErrClosed). It returns owning a token except in the last case.
func (c *Conn) Read(b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	in := c.in
	for {
		switch {
		case c.closed:
			return 0, c.opErr("read", net.ErrClosed)
		case c.rdl.passed:
			c.own()
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		case in.reset:
			in.buf.Reset()
			in.seen = true
			c.own()
			return 0, c.opErr("read", os.NewSyscallError("read", syscall.ECONNRESET))
		case in.buf.Len() > 0:
			n, _ := in.buf.Read(b)
			c.own()
			p.cond.Broadcast() // a writer may be waiting for room
			return n, nil
		case in.eof:
			in.seen = true
			c.own()
			return 0, io.EOF
		case len(b) == 0:
			c.own()
			return 0, nil
		}
		// About to block: the reading goroutine is no longer busy. Nothing is unseen
		// (or Read would not block), so no pending token is needed either.
		if in.owns {
			in.owns = false
			p.clk.Release()
		}
		p.cond.Wait()
	}
}

// own makes sure the reading goroutine owns a token, then lets the pending token go: only
// in this order can the count not touch 0 in between.
func (c *Conn) own() {
	if !c.in.owns {
		c.in.owns = true
		c.p.clk.Hold()
	}
	c.settle(c.in)
}

// settle holds or releases s's pending token so that it is held exactly while s has
// something its reader has not seen and the reader is not known to be busy: then a
// wake-up of the reader is due and time must not move before it has happened.
func (c *Conn) settle(s *stream) {
	want := !s.gone && !s.owns && (s.buf.Len() > 0 || (s.eof || s.reset) && !s.seen)
	if want != s.pending {
		s.pending = want
		if want {
			c.p.clk.Hold()
		} else {
			c.p.clk.Release()
		}
	}
}

// AdoptToken tells c that the goroutine reading it already owns a token (it called Hold, or
// a timer or another goroutine handed it one): the next Read that blocks, or Close, will
// release it, as for a token an earlier Read handed out. It does nothing if that goroutine
// already owns one from c.
func (c *Conn) AdoptToken() {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if !c.closed {
		c.in.owns = true
		c.settle(c.in) // the adopted token now covers anything unread
	}
}

// Write appends b to the peer's unread bytes and returns at once, unless maxBuffered bytes
// are already unread, in which case it waits for room (until the write deadline). Writing
// after the peer closed silently discards b, as the first write after a TCP FIN succeeds;
// after the peer reset it fails with an error wrapping syscall.ECONNRESET.
func (c *Conn) Write(b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	out := c.out
	n := 0
	for {
		switch {
		case c.closed:
			return n, c.opErr("write", net.ErrClosed)
		case c.wdl.passed:
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		case c.in.reset:
			return n, c.opErr("write", os.NewSyscallError("write", syscall.ECONNRESET))
		case out.gone:
			return len(b), nil
		}
		if room := maxBuffered - out.buf.Len(); room > 0 {
			chunk := b[n:min(len(b), n+room)]
			out.buf.Write(chunk)
			n += len(chunk)
			c.settle(out) // before the writer can go idle: the reader may have work
			p.cond.Broadcast()
			if n == len(b) {
				return n, nil
			}
		}
		p.cond.Wait()
	}
}

// Close closes c. The peer reads the remaining bytes then io.EOF, or, if SetLinger(0) was
// called, an error wrapping syscall.ECONNRESET straight away. Blocked and future operations
// on c fail with net.ErrClosed.
func (c *Conn) Close() error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	c.closeLocked(c.linger == 0)
	return nil
}

// closeLocked closes c, abortively if abort; see the package comment for the tokens.
func (c *Conn) closeLocked(abort bool) {
	p := c.p
	c.closed = true
	out := c.out
	if abort {
		out.reset = true
		out.buf.Reset()
	} else {
		out.eof = true
	}
	c.settle(out) // the peer must see the EOF or reset before time moves on
	in := c.in
	in.gone = true
	in.buf.Reset()
	c.settle(in)
	if in.owns {
		in.owns = false
		p.clk.Release()
	}
	c.rdl.stop()
	c.wdl.stop()
	p.cond.Broadcast()
}

// SetLinger mimics (*net.TCPConn).SetLinger: with sec == 0 a later Close is abortive, like a
// TCP RST; any other value means an orderly close.
func (c *Conn) SetLinger(sec int) error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.closed {
		return c.opErr("set", net.ErrClosed)
	}
	c.linger = sec
	return nil
}

// LocalAddr returns this end's address (the listener's for the accepted end).
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.closed {
		return c.opErr("set", net.ErrClosed)
	}
	c.setDeadlineLocked(&c.rdl, t)
	c.setDeadlineLocked(&c.wdl, t)
	return nil
}

// SetReadDeadline sets the read deadline, in real (wall-clock) time like net.Conn: once it
// passes, Read fails with an error satisfying os.IsTimeout and errors.Is
// os.ErrDeadlineExceeded. The zero time means none.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.closed {
		return c.opErr("set", net.ErrClosed)
	}
	c.setDeadlineLocked(&c.rdl, t)
	return nil
}

// SetWriteDeadline sets the write deadline (real time); it only matters while Write waits
// for room or if it has already passed when Write is called.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.closed {
		return c.opErr("set", net.ErrClosed)
	}
	c.setDeadlineLocked(&c.wdl, t)
	return nil
}

// deadline is a real-time deadline; passed is set by a time.AfterFunc rather than by
// comparing with time.Now, so that a blocked operation is woken exactly when it expires.
type deadline struct {
	timer  *time.Timer
	gen    uint64 // identifies the current timer, so a stale one firing late is ignored
	passed bool
}

func (c *Conn) setDeadlineLocked(d *deadline, t time.Time) {
	d.stop()
	d.passed = false
	if !t.IsZero() {
		if wait := time.Until(t); wait <= 0 {
			d.passed = true
		} else {
			p, gen := c.p, d.gen
			d.timer = time.AfterFunc(wait, func() {
				p.mu.Lock()
				defer p.mu.Unlock()
				if d.gen == gen {
					d.passed = true
					p.cond.Broadcast()
				}
			})
		}
	}
	c.p.cond.Broadcast() // blocked operations re-check the new deadline
}

// stop cancels the timer; the generation bump covers one already firing.
func (d *deadline) stop() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.gen++
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: network, Source: c.local, Addr: c.remote, Err: err}
}
