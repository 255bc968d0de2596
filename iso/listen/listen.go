package listen

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Reasons a connection is closed at once, for OnReject and metrics labels.
const (
	RejectMaxConns  = "over_limit"
	RejectPerSource = "over_source_limit"
)

// Options configure a Listener. The zero value enforces no cap and only backs off.
type Options struct {
	// MaxConns bounds the connections open at once (0: no bound here).
	MaxConns int
	// MaxPerSource bounds the connections open at once from one IP address (0: no bound).
	MaxPerSource int
	// ExemptLoopback lifts MaxPerSource for loopback peers: on one machine every client
	// shares 127.0.0.1 (load tests, a classroom on one laptop), so a per-source cap there
	// would only be a second MaxConns.
	ExemptLoopback bool
	// OnReject, if set, is told each connection closed at once and why (RejectMaxConns,
	// RejectPerSource). It runs in the accept loop: keep it short.
	OnReject func(reason string, remote net.Addr)
	// OnBackoff, if set, is told each accept error the listener backs off from.
	OnBackoff func(err error, wait time.Duration)
	// Logger receives a warning per back-off (at most one a second) and per rejection
	// (at most one a second); default: none.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait after a failed accept (default 5 ms, 1 s).
	MinBackoff, MaxBackoff time.Duration
	// Window is how long a back-off or a rejection counts as saturation in Stats
	// (default 10 s).
	Window time.Duration
}

// Listener wraps a net.Listener; see the package doc.
type Listener struct {
	net.Listener
	o Options

	closed    chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	open    int
	sources map[string]int
	lastBad time.Time // last back-off or rejection
	why     string    // what happened then
	lastLog time.Time

	backoffs atomic.Uint64
	rejected atomic.Uint64
	accepted atomic.Uint64
}

// New wraps ln.
func New(ln net.Listener, o Options) *Listener {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 5 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Second
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	return &Listener{Listener: ln, o: o, closed: make(chan struct{}), sources: map[string]int{}}
}

// Close closes the underlying listener and ends a back-off in progress.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Retryable says whether an accept error is one to back off from rather than return:
// out of descriptors or buffers, or a peer gone before its connection was taken.
func Retryable(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Accept returns the next connection within the caps. It returns an error only when the
// listener is closed or fails for good.
func (l *Listener) Accept() (net.Conn, error) {
	wait := time.Duration(0)
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			if !Retryable(err) {
				return nil, err
			}
			wait = min(max(2*wait, l.o.MinBackoff), l.o.MaxBackoff)
			l.backoffs.Add(1)
			l.note("accept failed: "+err.Error(), func(log *slog.Logger) {
				log.Warn("accept failed: backing off", "addr", l.Addr().String(), "err", err, "wait", wait)
			})
			if l.o.OnBackoff != nil {
				l.o.OnBackoff(err, wait)
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		wait = 0
		if c := l.admit(nc); c != nil {
			l.accepted.Add(1)
			return c, nil
		}
	}
}

// admit counts nc in, or closes it at once over a cap.
func (l *Listener) admit(nc net.Conn) net.Conn {
	src := sourceOf(nc.RemoteAddr())
	capped := l.o.MaxPerSource > 0 && !(l.o.ExemptLoopback && isLoopback(src))
	l.mu.Lock()
	reason := ""
	switch {
	case l.o.MaxConns > 0 && l.open >= l.o.MaxConns:
		reason = RejectMaxConns
	case capped && l.sources[src] >= l.o.MaxPerSource:
		reason = RejectPerSource
	default:
		l.open++
		l.sources[src]++
		l.mu.Unlock()
		return &Conn{Conn: nc, l: l, src: src}
	}
	l.mu.Unlock()
	l.rejected.Add(1)
	what := "too many connections"
	if reason == RejectPerSource {
		what = "too many connections from " + src
	}
	l.note("connection closed: "+what, func(log *slog.Logger) {
		log.Warn("connection closed at once: "+what, "reason", reason, "remote", nc.RemoteAddr().String(),
			"max_conns", l.o.MaxConns, "max_per_source", l.o.MaxPerSource)
	})
	if l.o.OnReject != nil {
		l.o.OnReject(reason, nc.RemoteAddr())
	}
	nc.Close()
	return nil
}

// note records a sign of saturation and logs it, at most once a second.
func (l *Listener) note(why string, log func(*slog.Logger)) {
	now := time.Now()
	l.mu.Lock()
	l.lastBad, l.why = now, why
	doLog := l.o.Logger != nil && now.Sub(l.lastLog) >= time.Second
	if doLog {
		l.lastLog = now
	}
	l.mu.Unlock()
	if doLog {
		log(l.o.Logger)
	}
}

func (l *Listener) release(src string) {
	l.mu.Lock()
	l.open--
	if l.sources[src]--; l.sources[src] <= 0 {
		delete(l.sources, src)
	}
	l.mu.Unlock()
}

// Stats is a snapshot of a Listener.
type Stats struct {
	Open         int    `json:"open"`
	MaxConns     int    `json:"max_conns"`
	MaxPerSource int    `json:"max_per_source"`
	Accepted     uint64 `json:"accepted"`
	Rejected     uint64 `json:"rejected"`  // closed at once over a cap
	Backoffs     uint64 `json:"backoffs"`  // failed accepts backed off from
	Saturated    bool   `json:"saturated"` // see Stats
	// Why says what made it saturated: "N of M connections open", or the last failed
	// accept or rejection within the window.
	Why string `json:"why,omitempty"`
}

// Stats reports the counts, and whether the listener is saturated: at or above 90% of
// MaxConns, or an accept backed off or a connection was rejected within Window.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Open: l.open, MaxConns: l.o.MaxConns, MaxPerSource: l.o.MaxPerSource,
		Accepted: l.accepted.Load(), Rejected: l.rejected.Load(), Backoffs: l.backoffs.Load()}
	switch {
	case l.o.MaxConns > 0 && l.open*10 >= l.o.MaxConns*9:
		s.Saturated = true
		s.Why = itoa(l.open) + " of " + itoa(l.o.MaxConns) + " connections open"
	case !l.lastBad.IsZero() && time.Since(l.lastBad) < l.o.Window:
		s.Saturated = true
		s.Why = l.why + " (" + time.Since(l.lastBad).Round(time.Millisecond).String() + " ago)"
	}
	return s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func sourceOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Conn is an accepted connection; Close gives its slot back (once).
type Conn struct {
	net.Conn
	l    *Listener
	src  string
	once sync.Once
}

// Close closes the connection and frees its slot.
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}

// NetConn returns the connection underneath (a *net.TCPConn for TCP).
func (c *Conn) NetConn() net.Conn { return c.Conn }

// SetLinger passes through to the connection underneath when it has one (TCP, memnet),
// so that an abortive close (RST) still works through the wrapper.
func (c *Conn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return errors.ErrUnsupported
}

// SetWriteBuffer passes through like SetLinger.
func (c *Conn) SetWriteBuffer(n int) error {
	if w, ok := c.Conn.(interface{ SetWriteBuffer(int) error }); ok {
		return w.SetWriteBuffer(n)
	}
	return errors.ErrUnsupported
}
