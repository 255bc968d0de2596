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
)

// ProxyOptions configure a recording proxy.
type ProxyOptions struct {
	Dialect  *iso.Dialect // for the trace only; bytes pass unchanged (default iso.ASCII)
	Framing  iso.Framing  // to cut the byte stream into frames (default len2)
	Clock    clock.Clock  // stamps records (default real)
	MaxFrame int          // larger frames are passed through untraced (default iso.DefaultMaxFrame)
	// Dial connects to the upstream host (default net.Dialer).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

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
	_ = p.w.Event(Event{Time: p.o.Clock.Now(), Source: SourceProxy, Conn: id, Kind: kind, Detail: detail})
}

func (p *Proxy) handle(client net.Conn, id string) {
	defer p.wg.Done()
	defer client.Close()
	p.event(id, "connect", "terminal "+client.RemoteAddr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	up, err := p.o.Dial(ctx, p.upstream)
	cancel()
	if err != nil {
		// The terminal sees the same thing it would see if the host refused it.
		p.event(id, "upstream_unreachable", err.Error())
		p.untrack(client)
		return
	}
	if !p.track(up) {
		up.Close()
		p.untrack(client)
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		p.pump(id, up, client, iso.Out) // host → terminal
		close(done)
	}()
	p.pump(id, client, up, iso.In) // terminal → host
	<-done
	p.untrack(client, up)
	p.event(id, "close", "")
}

// pump copies frames from src to dst until src ends, tracing each one.
func (p *Proxy) pump(id string, src, dst net.Conn, dir iso.Direction) {
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
		}
		if buf.Len() > 0 {
			if _, werr := dst.Write(buf.Bytes()); werr != nil {
				p.event(id, "write_failed", fmt.Sprintf("%s: %v", dir, werr))
				abort(src)
				return
			}
		}
		if err == nil {
			continue
		}
		switch {
		case errors.Is(err, net.ErrClosed):
			// Closed here: the proxy is stopping, or the other pump gave up on this pair.
		case errors.Is(err, io.EOF):
			// The sender closed cleanly: pass the half-close on, keep the other way open.
			halfClose(dst)
		case errors.Is(err, iso.ErrBadHeader), errors.Is(err, iso.ErrFrameTooLarge), errors.Is(err, iso.ErrEmptyFrame),
			errors.Is(err, iso.ErrShortFrame):
			p.event(id, "unframed", fmt.Sprintf("%s: %v; passing the rest through untraced", dir, err))
			_, _ = io.Copy(dst, src)
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
