package simulator_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/memnet"
	"github.com/posdrill/posdrill/simulator"
)

// start is the virtual clock's start in every test.
var start = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// act is what the scripted host does with one request.
type act struct {
	code      string        // response code (default 00)
	delay     time.Duration // answer after this much virtual time
	silent    bool          // never answer
	hangup    bool          // close the connection instead of answering
	garble    bool          // answer with bytes that do not unpack
	wrongSTAN bool          // answer with another STAN
	twice     bool          // answer twice
	edit      func(*iso.Message)
}

// host is a scripted ISO 8583 host on memnet, built on iso.Conn like the real acquirer.
type host struct {
	t      *testing.T
	clk    clock.Clock
	ln     *memnet.Listener
	mu     sync.Mutex
	script func(n int, m *iso.Message) act // n counts requests of the same MTI class from 1
	seen   []*iso.Message
	counts map[byte]int
	refuse bool // close the listener: connections are refused
	rrn    int
	// connOpts are added to each accepted connection's options (a UnionPay host sets the
	// cup dialect and framing before the terminal connects).
	connOpts atomic.Pointer[[]iso.ConnOption]
}

func newHost(t *testing.T, clk clock.Clock, script func(n int, m *iso.Message) act) *host {
	t.Helper()
	h := &host{t: t, clk: clk, ln: memnet.Listen("host", clk), script: script, counts: map[byte]int{}}
	go h.accept()
	t.Cleanup(func() { _ = h.ln.Close() })
	return h
}

func (h *host) accept() {
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		opts := []iso.ConnOption{iso.WithClock(h.clk), iso.WithHandler(h.handle)}
		if extra := h.connOpts.Load(); extra != nil {
			opts = append(opts, *extra...)
		}
		iso.NewConn(nc, opts...)
	}
}

// dial is the terminal's dialer.
func (h *host) dial(ctx context.Context, _ string) (net.Conn, error) { return h.ln.DialContext(ctx) }

func (h *host) handle(c *iso.Conn, in iso.Inbound) {
	if in.Err != nil {
		return
	}
	m := in.Msg
	h.mu.Lock()
	h.seen = append(h.seen, m.Clone())
	h.counts[m.MTI[1]]++
	n := h.counts[m.MTI[1]]
	a := act{}
	if h.script != nil {
		a = h.script(n, m)
	}
	h.rrn++
	rrn := fmt.Sprintf("%012d", h.rrn)
	h.mu.Unlock()
	if a.code == "" {
		a.code = iso.RCApproved
	}
	resp := m.Reply(a.code)
	resp.RRN = rrn
	if a.code == iso.RCApproved || a.code == iso.RCPartial {
		resp.AuthCode = "A" + rrn[7:]
	}
	if a.edit != nil {
		a.edit(resp)
	}
	if a.wrongSTAN {
		resp.STAN = "999999"
	}
	switch {
	case a.silent:
		return
	case a.hangup:
		_ = c.NetConn().Close()
		return
	}
	write := func() {
		if a.garble {
			frame, _ := c.Frame(nil, resp)
			for i := 2 + 4; i < len(frame); i++ {
				frame[i] = 'Z'
			}
			_ = c.WriteRaw(frame)
			return
		}
		_ = c.Write(nil, resp)
		if a.twice {
			_ = c.Write(nil, resp)
		}
	}
	if a.delay > 0 {
		h.clk.Hold() // the goroutine's token; Sleep gives it back while waiting
		go func() {
			defer h.clk.Release()
			h.clk.Sleep(a.delay)
			write()
		}()
		return
	}
	write()
}

// requests returns the MTIs (with STAN) the host has received, e.g. "0200/000001".
func (h *host) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.seen {
		out = append(out, m.MTI+"/"+m.STAN)
	}
	return out
}

func (h *host) received(mti string) []*iso.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*iso.Message
	for _, m := range h.seen {
		if m.MTI == mti {
			out = append(out, m)
		}
	}
	return out
}

// rig is a terminal on a virtual clock with a scripted host.
type rig struct {
	t      *testing.T
	clk    *clock.Virtual
	host   *host
	term   *simulator.Terminal
	events chan simulator.Event
	ctx    context.Context
}

type rigOption func(*simulator.Profile, *simulator.Options)

func newRig(t *testing.T, script func(n int, m *iso.Message) act, opts ...rigOption) *rig {
	t.Helper()
	clk := clock.NewVirtual(start)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { _ = clk.Run(ctx); close(runDone) }()
	r := &rig{t: t, clk: clk, events: make(chan simulator.Event, 4096), ctx: context.Background()}
	r.host = newHost(t, clk, script)
	p := simulator.DefaultProfile()
	o := simulator.Options{Clock: clk, Dial: r.host.dial, Journal: ":memory:",
		OnEvent: func(e simulator.Event) {
			select {
			case r.events <- e:
			default:
			}
		}}
	for _, f := range opts {
		f(&p, &o)
	}
	clk.Hold() // the test goroutine drives the terminal: it owns a token
	term, err := simulator.New(p, o)
	if err != nil {
		t.Fatal(err)
	}
	r.term = term
	t.Cleanup(func() {
		_ = r.term.Close()
		clk.Release()
		if n := clk.Underflows(); n != 0 {
			t.Errorf("clock token underflows: %d (a Release without a Hold)", n)
		}
		cancel()
		<-runDone
	})
	return r
}

func (r *rig) restart(opts ...rigOption) {
	r.t.Helper()
	p := r.term.Profile()
	o := simulator.Options{Clock: r.clk, Dial: r.host.dial, OnEvent: func(e simulator.Event) {
		select {
		case r.events <- e:
		default:
		}
	}}
	for _, f := range opts {
		f(&p, &o)
	}
	term, err := simulator.New(p, o)
	if err != nil {
		r.t.Fatal(err)
	}
	r.term = term
}

// settle lets virtual time run until nothing is left to happen (no busy party, no timer),
// then takes the test goroutine's token back.
func (r *rig) settle() {
	r.t.Helper()
	r.clk.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.clk.WaitStalled(ctx); err != nil {
		r.t.Fatalf("virtual clock never settled (busy %d, timers %d)", r.clk.Busy(), r.clk.Pending())
	}
	r.clk.Hold()
}

func withProfile(f func(*simulator.Profile)) rigOption {
	return func(p *simulator.Profile, _ *simulator.Options) { f(p) }
}

func withJournal(path string) rigOption {
	return func(_ *simulator.Profile, o *simulator.Options) { o.Journal = path }
}

// kinds lists the event kinds, for compact comparisons.
func kinds(evs []simulator.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// trace renders events with their offset from the start of virtual time.
func trace(evs []simulator.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%6s %-22s %4s %6s %2s %s\n", e.Time.Sub(start), e.Kind, e.MTI, e.STAN, e.Code, e.Detail)
	}
	return b.String()
}

func hasKind(evs []simulator.Event, kind string) bool {
	for _, e := range evs {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func countKind(evs []simulator.Event, kind string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
