package trace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/listen"
)

// ProxyOptions configure a recording proxy.
type ProxyOptions struct {
	Dialect  *iso.Dialect // for the trace only; bytes pass unchanged (default iso.ASCII)
	Framing  iso.Framing  // to cut the byte stream into frames (default len2)
	Clock    clock.Clock  // stamps records (default real)
	MaxFrame int          // larger frames are passed through untraced (default iso.DefaultMaxFrame)
	// Dial connects to the upstream host (default net.Dialer).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Shaper, when set, decides what happens to each whole frame before it is forwarded
	// (the fault proxy); nil forwards every frame unchanged. If it also implements Refuser,
	// it is asked about each terminal connection first; if it has a ConnEnded(conn string)
	// method, it is told when a connection pair has ended.
	Shaper Shaper
	// OnEvent, when set, is told every event the proxy writes to the trace (upstream down,
	// a frame that does not decode, a stream cut mid-frame, ...), so that a command can say
	// it on the console too. Detail is already masked. Called from the connection goroutines.
	OnEvent func(Event)
}

// Shaper decides what the proxy does with one whole frame. Shape is called for the frames of
// one direction of one connection in the order they arrive; raw is the frame as read (length
// header and TPDU included, the caller's to keep), msg its decoded message or nil when the
// payload does not decode. The zero Plan forwards raw unchanged.
type Shaper interface {
	Shape(conn string, dir iso.Direction, raw []byte, fr iso.Frame, msg *iso.Message) Plan
}

// Refuser is a Shaper that may refuse a terminal's connection before the upstream is dialled.
type Refuser interface {
	Refuse(conn string) bool
}

// Plan is what happens to one frame.
type Plan struct {
	// Delay holds the frame this long; frames behind it in the same direction are not held.
	Delay time.Duration
	// Drop writes nothing; otherwise Pieces are written in order, each after its Gap (nil
	// Pieces: the frame as read).
	Drop   bool
	Pieces []Piece
	// End closes the connection pair after the writes.
	End End
}

// Piece is bytes written after a gap.
type Piece struct {
	Gap   time.Duration
	Bytes []byte
}

// End says how a Plan ends the connection pair.
type End int

// Ends.
const (
	EndNone  End = iota // keep both connections
	EndClose            // close both: the terminal sees an orderly close (FIN)
	EndReset            // reset the terminal's connection (RST), close the upstream one
)

// Proxy sits between terminals and a host and records a trace of both directions. Bytes
// pass through unchanged: each frame is read whole, the very bytes read are forwarded, and
// a masked decode is written to the trace. A stream that stops making sense as frames (a
// bad length header, an oversized frame) is reported once and then copied through as raw
// bytes, untraced. Frames are forwarded whole, so a response a host splits into slow chunks
// reaches the terminal in one piece: timing changes, content does not.
type Proxy struct {
	upstream string
	w        *Writer
	o        ProxyOptions

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	next   int
	wg     sync.WaitGroup
}

// NewProxy returns a proxy to upstream that writes its trace to w.
func NewProxy(upstream string, w *Writer, o ProxyOptions) *Proxy {
	if o.Dialect == nil {
		o.Dialect = iso.ASCII
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = iso.DefaultMaxFrame
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	return &Proxy{upstream: upstream, w: w, o: o, conns: map[net.Conn]struct{}{}}
}

// ErrProxyClosed is returned by Serve after Close.
var ErrProxyClosed = errors.New("proxy closed")

// Serve accepts terminals on ln until Close.
func (p *Proxy) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrProxyClosed
	}
	// The shared accept loop: running out of descriptors backs off instead of ending Serve.
	ln = listen.New(ln, listen.Options{})
	p.ln = ln
	p.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return ErrProxyClosed
			}
			return err
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return ErrProxyClosed
		}
		p.next++
		id := fmt.Sprintf("c%d", p.next)
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(c, id)
	}
}

// Close stops accepting, closes every connection and waits for them to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	var err error
	if p.ln != nil {
		err = p.ln.Close()
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *Proxy) event(id, kind, detail string) {
	e := Event{Time: p.o.Clock.Now(), Source: SourceProxy, Conn: id, Kind: kind, Detail: iso.MaskText(detail)}
	_ = p.w.Event(e)
	if p.o.OnEvent != nil {
		p.o.OnEvent(e)
	}
}

// pair is one terminal connection and its upstream connection.
type pair struct {
	id         string
	client, up net.Conn
	toHost     sync.Mutex // serialises writes to up
	toTerm     sync.Mutex // serialises writes to client
	done       chan struct{}
	endOnce    sync.Once
	later      [2]sync.WaitGroup // delayed frames still to write, per direction (0 in, 1 out)
}

// end closes the pair as a plan says, once.
func (pr *pair) end(how End) {
	pr.endOnce.Do(func() {
		close(pr.done)
		if how == EndReset {
			abort(pr.client)
		} else {
			pr.client.Close()
		}
		pr.up.Close()
	})
}

func dirIndex(dir iso.Direction) int {
	if dir == iso.Out {
		return 1
	}
	return 0
}

func (p *Proxy) handle(client net.Conn, id string) {
	defer p.wg.Done()
	defer client.Close()
	p.event(id, "connect", "terminal "+client.RemoteAddr().String())
	if r, ok := p.o.Shaper.(Refuser); ok && r.Refuse(id) {
		p.event(id, "refused", "connection refused by a refuse_connections fault")
		abort(client)
		p.untrack(client)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	up, err := p.o.Dial(ctx, p.upstream)
	cancel()
	if err != nil {
		// The terminal sees the same thing it would see if the host refused it.
		p.event(id, "upstream_unreachable", fmt.Sprintf("cannot reach %s: %v; closing the terminal's connection", p.upstream, err))
		p.untrack(client)
		return
	}
	if !p.track(up) {
		up.Close()
		p.untrack(client)
		return
	}
	defer up.Close()
	pr := &pair{id: id, client: client, up: up, done: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		p.pump(pr, up, client, iso.Out) // host → terminal
		close(done)
	}()
	p.pump(pr, client, up, iso.In) // terminal → host
	<-done
	pr.endOnce.Do(func() { close(pr.done) }) // delayed frames of a finished pair are dropped
	pr.later[0].Wait()
	pr.later[1].Wait()
	if ce, ok := p.o.Shaper.(interface{ ConnEnded(conn string) }); ok {
		ce.ConnEnded(id)
	}
	p.untrack(client, up)
	p.event(id, "close", "")
}

// pump copies frames from src to dst until src ends, tracing each one and applying the
// Shaper's plan to it.
func (p *Proxy) pump(pr *pair, src, dst net.Conn, dir iso.Direction) {
	id := pr.id
	var buf bytes.Buffer
	for {
		buf.Reset()
		fr, err := p.o.Framing.ReadFrame(io.TeeReader(src, &buf), p.o.MaxFrame)
		now := p.o.Clock.Now()
		if err == nil {
			// Traced before it is forwarded, so that a request's line always comes before
			// the line of the answer it provokes.
			rec := NewMessage(p.o.Dialect, dir, fr.Payload)
			if fr.TPDU != nil {
				rec.TPDU = fmt.Sprintf("%X", fr.TPDU)
			}
			rec.Time, rec.Source, rec.Conn = now, SourceProxy, id
			_ = p.w.Message(rec)
			var msg *iso.Message
			if rec.Err != "" {
				p.event(id, "undecodable", fmt.Sprintf("%s: %d-byte frame does not decode as %s (%s); passed unchanged", dir, len(fr.Payload), p.o.Dialect.Name, rec.Err))
			} else if p.o.Shaper != nil {
				msg, _ = p.o.Dialect.Unpack(fr.Payload)
			}
			var plan Plan
			if p.o.Shaper != nil {
				plan = p.o.Shaper.Shape(id, dir, bytes.Clone(buf.Bytes()), fr, msg)
			}
			if !p.forward(pr, dst, dir, bytes.Clone(buf.Bytes()), plan) {
				return
			}
			continue
		}
		if buf.Len() > 0 {
			if werr := p.write(pr, dst, dir, buf.Bytes()); werr != nil {
				p.event(id, "write_failed", fmt.Sprintf("%s: %v", dir, werr))
				abort(src)
				return
			}
		}
		switch {
		case errors.Is(err, net.ErrClosed):
			// Closed here: the proxy is stopping, a fault ended the pair, or the other pump
			// gave up on it.
		case errors.Is(err, io.EOF):
			// The sender closed cleanly: pass the half-close on (after any frame still
			// held by a delay), keep the other way open.
			pr.later[dirIndex(dir)].Wait()
			halfClose(dst)
		case errors.Is(err, iso.ErrBadHeader), errors.Is(err, iso.ErrFrameTooLarge), errors.Is(err, iso.ErrEmptyFrame),
			errors.Is(err, iso.ErrShortFrame):
			p.event(id, "unframed", fmt.Sprintf("%s: %v; passing the rest through untraced", dir, err))
			_, _ = io.Copy(lockedConn{dst, p.lockFor(pr, dir)}, src)
			halfClose(dst)
		default:
			// Cut mid-frame or reset: the partial bytes went through above; make the other
			// side see the same abrupt end.
			detail := fmt.Sprintf("%s: %v", dir, err)
			if buf.Len() > 0 {
				detail = fmt.Sprintf("%s after %d bytes of a frame", detail, buf.Len())
			}
			p.event(id, "cut", detail)
			if errors.Is(err, syscall.ECONNRESET) {
				abort(dst)
			} else {
				halfClose(dst)
			}
		}
		return
	}
}

// forward carries out a plan for one frame; false when the pair has ended.
func (p *Proxy) forward(pr *pair, dst net.Conn, dir iso.Direction, raw []byte, plan Plan) bool {
	if plan.Delay > 0 {
		wg := &pr.later[dirIndex(dir)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.wait(pr, plan.Delay) {
				p.carry(pr, dst, dir, raw, plan)
			}
		}()
		return true
	}
	return p.carry(pr, dst, dir, raw, plan)
}

func (p *Proxy) carry(pr *pair, dst net.Conn, dir iso.Direction, raw []byte, plan Plan) bool {
	pieces := plan.Pieces
	if pieces == nil && !plan.Drop {
		pieces = []Piece{{Bytes: raw}}
	}
	if plan.Drop {
		pieces = nil
	}
	mu := p.lockFor(pr, dir)
	mu.Lock()
	for _, pc := range pieces {
		if pc.Gap > 0 && !p.wait(pr, pc.Gap) {
			mu.Unlock()
			return false
		}
		if _, err := dst.Write(pc.Bytes); err != nil {
			mu.Unlock()
			if !errors.Is(err, net.ErrClosed) {
				p.event(pr.id, "write_failed", fmt.Sprintf("%s: %v", dir, err))
			}
			pr.end(EndReset)
			return false
		}
	}
	mu.Unlock()
	if plan.End != EndNone {
		pr.end(plan.End)
		return false
	}
	return true
}

func (p *Proxy) lockFor(pr *pair, dir iso.Direction) *sync.Mutex {
	if dir == iso.Out {
		return &pr.toTerm
	}
	return &pr.toHost
}

func (p *Proxy) write(pr *pair, dst net.Conn, dir iso.Direction, b []byte) error {
	mu := p.lockFor(pr, dir)
	mu.Lock()
	defer mu.Unlock()
	_, err := dst.Write(b)
	return err
}

// wait waits d on the proxy's clock; false when the pair ended meanwhile.
func (p *Proxy) wait(pr *pair, d time.Duration) bool {
	t := p.o.Clock.NewTimer(d)
	select {
	case <-t.C():
		return true
	case <-pr.done:
		t.Stop()
		return false
	}
}

// lockedConn writes under a pair's write lock (raw pass-through after unframed input).
type lockedConn struct {
	net.Conn
	mu *sync.Mutex
}

func (l lockedConn) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Conn.Write(b)
}

func halfClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	c.Close()
}

// abort closes c with a reset, as the peer did.
func abort(c net.Conn) {
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// ListenAddr fills in 127.0.0.1 when addr has no host (":8583"), so nothing listens on
// every interface by accident.
func ListenAddr(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}
