package trace_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
)

// startProxy runs a recording proxy to upstream and returns its address and a stop
// function that closes it and returns the trace.
func startProxy(t *testing.T, upstream string, o trace.ProxyOptions) (string, func() []byte) {
	t.Helper()
	var buf bytes.Buffer
	var mu sync.Mutex
	w := trace.NewWriter(lockedWriter{&mu, &buf})
	ln := listen(t)
	p := trace.NewProxy(upstream, w, o)
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	return ln.Addr().String(), func() []byte {
		p.Close()
		if err := <-done; !errors.Is(err, trace.ErrProxyClosed) {
			t.Errorf("Serve: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		return append([]byte(nil), buf.Bytes()...)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Bytes pass through unchanged both ways, frame by frame, including a truncated last frame
// the host sends before closing; the trace is masked.
func TestProxyPassesBytesUnchanged(t *testing.T) {
	fr, _ := iso.ParseFraming("len2+tpdu")
	payload, _ := iso.ASCII.Pack(sale("000001"))
	req, _ := fr.AppendFrame(nil, []byte{0x60, 0, 3, 0, 0}, payload)
	ansPayload, _ := iso.ASCII.Pack(sale("000001").Reply("00"))
	ans, _ := fr.AppendFrame(nil, []byte{0x60, 0, 0, 0, 3}, ansPayload)
	cut := ans[:20] // a second answer, cut short

	up := listen(t)
	got := make(chan []byte, 1)
	go func() {
		c, err := up.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 2*len(req))
		_, err = io.ReadFull(c, b)
		got <- b
		if err != nil {
			return
		}
		c.Write(ans)
		c.Write(cut)
	}()
	addr, stop := startProxy(t, up.Addr().String(), trace.ProxyOptions{Framing: fr})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// Two requests in one write: the proxy must cut them into frames and pass both.
	if _, err := c.Write(append(append([]byte(nil), req...), req...)); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, append(append([]byte(nil), req...), req...)) {
		t.Errorf("upstream got % X", b)
	}
	back, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]byte(nil), ans...), cut...); !bytes.Equal(back, want) {
		t.Errorf("terminal got\n% X\nwant\n% X", back, want)
	}
	c.Close()
	tr := stop()
	noCardData(t, tr)
	recs, err := trace.ReadAll(bytes.NewReader(tr))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range recs {
		switch {
		case r.Message != nil:
			kinds = append(kinds, r.Message.MTI+"/"+string(r.Message.Dir))
		case r.Event != nil:
			kinds = append(kinds, r.Event.Kind)
		}
	}
	want := "connect 0200/in 0200/in 0210/out cut close"
	if strings.Join(kinds, " ") != want {
		t.Errorf("trace records: %s\nwant:          %s\n%s", strings.Join(kinds, " "), want, tr)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	dead := listen(t)
	addr := dead.Addr().String()
	dead.Close() // nothing listens there any more
	paddr, stop := startProxy(t, addr, trace.ProxyOptions{})
	c, err := net.Dial("tcp", paddr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Logf("read: %v", err)
	}
	c.Close()
	tr := stop()
	if !bytes.Contains(tr, []byte(`"event":"upstream_unreachable"`)) {
		t.Errorf("no upstream_unreachable event:\n%s", tr)
	}
}

// session runs a terminal through addr: three sales, the second one's answer lost.
func session(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc)
	defer c.Close()
	for _, stan := range []string{"000001", "000002", "000003"} {
		_, err := c.Send(context.Background(), sale(stan), 300*time.Millisecond)
		if (err != nil) != (stan == "000002") {
			t.Fatalf("STAN %s: %v", stan, err)
		}
	}
}

// lostSecond answers 00 except to STAN 000002, whose answer is lost.
func lostSecond(m *iso.Message) string {
	if m.STAN == "000002" {
		return ""
	}
	return "00"
}

func TestRecordThenReplay(t *testing.T) {
	up := listen(t)
	host(t, up, lostSecond, nil)
	addr, stop := startProxy(t, up.Addr().String(), trace.ProxyOptions{})
	session(t, addr)
	tr := stop()
	noCardData(t, tr)
	recs, err := trace.ReadAll(bytes.NewReader(tr))
	if err != nil {
		t.Fatal(err)
	}
	replay := func(code func(*iso.Message) string) (*trace.Report, string) {
		ln := listen(t)
		host(t, ln, code, nil)
		rep, err := trace.Replay(context.Background(), recs, trace.ReplayOptions{
			Dial:    func(ctx context.Context) (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) },
			Timeout: 300 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.Write(&b)
		return rep, b.String()
	}
	t.Run("same host", func(t *testing.T) {
		rep, out := replay(lostSecond)
		if rep.Differences() != 0 || len(rep.Exchanges) != 3 || rep.Source != trace.SourceProxy {
			t.Errorf("want 3 requests, no differences:\n%s", out)
		}
	})
	t.Run("declines now", func(t *testing.T) {
		rep, out := replay(func(m *iso.Message) string {
			if m.STAN == "000003" {
				return "51"
			}
			return lostSecond(m)
		})
		if rep.Differences() != 1 || !strings.Contains(out, `DE39: recorded "00" approved, now "51" not sufficient funds`) {
			t.Errorf("want one DE39 difference:\n%s", out)
		}
	})
	t.Run("lost answer now arrives", func(t *testing.T) {
		rep, out := replay(func(*iso.Message) string { return "00" })
		if rep.Differences() != 1 || !strings.Contains(out, "answer: recorded none (lost), now 0210") {
			t.Errorf("want the lost answer as a difference:\n%s", out)
		}
	})
	t.Run("nothing answers now", func(t *testing.T) {
		rep, out := replay(func(*iso.Message) string { return "" })
		if rep.Differences() != 2 || !strings.Contains(out, "answer: recorded 0210") {
			t.Errorf("want two missing answers:\n%s", out)
		}
	})
}

// sleepClock is the real clock, recording how long it was asked to sleep.
type sleepClock struct {
	clock.Real
	mu    sync.Mutex
	slept time.Duration
}

func (c *sleepClock) Sleep(d time.Duration) {
	c.mu.Lock()
	c.slept += d
	c.mu.Unlock()
	c.Real.Sleep(d)
}

// --as-recorded keeps the recorded gap between requests; without it they go back to back.
func TestReplayKeepsGaps(t *testing.T) {
	const gap = 300 * time.Millisecond
	req := func(stan string, at time.Time) trace.Record {
		m := trace.FromMessage(iso.ASCII, iso.Out, sale(stan))
		m.Time, m.Source, m.Conn = at, trace.SourceTerminal, "t1"
		return trace.Record{Message: &m}
	}
	recs := []trace.Record{req("000001", t0), req("000002", t0.Add(gap))}
	ln := listen(t)
	host(t, ln, func(*iso.Message) string { return "00" }, nil)
	for _, asRecorded := range []bool{true, false} {
		clk := &sleepClock{}
		start := time.Now()
		rep, err := trace.Replay(context.Background(), recs, trace.ReplayOptions{
			Dial:       func(ctx context.Context) (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) },
			AsRecorded: asRecorded, Timeout: 5 * time.Second, Clock: clk,
		})
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if len(rep.Exchanges) != 2 || rep.Exchanges[1].Got == nil {
			t.Fatalf("exchanges: %+v", rep.Exchanges)
		}
		switch {
		case asRecorded && (took < gap || clk.slept <= 0 || clk.slept > gap):
			t.Errorf("--as-recorded took %s and slept %s for a recorded gap of %s", took, clk.slept, gap)
		case !asRecorded && clk.slept != 0:
			t.Errorf("--fast slept %s", clk.slept)
		}
	}
}

// planShaper shapes the host's answers by STAN: a plan per answer STAN.
type planShaper map[string]trace.Plan

func (p planShaper) Shape(_ string, dir iso.Direction, _ []byte, _ iso.Frame, m *iso.Message) trace.Plan {
	if dir != iso.Out || m == nil {
		return trace.Plan{}
	}
	return p[m.STAN]
}

// len2Frames is the len2 framing and a function that packs a message in ASCII and frames it.
func len2Frames(t *testing.T) (iso.Framing, func(*iso.Message) []byte) {
	t.Helper()
	fr, err := iso.ParseFraming("len2")
	if err != nil {
		t.Fatal(err)
	}
	return fr, func(m *iso.Message) []byte {
		p, err := iso.ASCII.Pack(m)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := fr.AppendFrame(nil, nil, p)
		return b
	}
}

// readAll connects to addr as a terminal and reads what comes until the connection closes
// (at most 5 s: a proxy that never closes fails the test instead of hanging it).
func readAll(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A Shaper's plans are carried out on the frames they name: a delayed answer does not hold
// the answers behind it, a dropped one never arrives, pieces arrive as given, and an end
// closes the terminal's connection after the writes.
func TestProxyCarriesOutPlans(t *testing.T) {
	fr, frame := len2Frames(t)
	a1, a2, a3, a4 := frame(sale("000001").Reply("00")), frame(sale("000002").Reply("00")), frame(sale("000003").Reply("00")), frame(sale("000004").Reply("00"))
	up := listen(t)
	go func() {
		c, err := up.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for _, a := range [][]byte{a1, a2, a3, a4} {
			c.Write(a)
		}
		io.Copy(io.Discard, c)
	}()
	shaper := planShaper{
		"000001": {Delay: 150 * time.Millisecond},
		"000002": {Drop: true},
		"000003": {Pieces: []trace.Piece{{Bytes: a3[:5]}, {Gap: time.Millisecond, Bytes: a3[5:]}, {Bytes: a3}}},
		"000004": {End: trace.EndClose},
	}
	addr, stop := startProxy(t, up.Addr().String(), trace.ProxyOptions{Framing: fr, Shaper: shaper})
	got := readAll(t, addr)
	// The end after answer 4 closes the pair, so the delayed answer 1 is dropped with it:
	// what matters is that 3 (twice) and 4 were not held behind it, and 2 never came.
	if want := append(append(append([]byte(nil), a3...), a3...), a4...); !bytes.Equal(got, want) {
		t.Errorf("terminal got\n% X\nwant\n% X", got, want)
	}
	stop()
}

// A delayed answer overtakes nothing and is not lost when the host closes right after it:
// the later answer comes first, the delayed one after, then the close.
func TestProxyDelayedAnswerBeforeClose(t *testing.T) {
	fr, frame := len2Frames(t)
	a1, a2 := frame(sale("000001").Reply("00")), frame(sale("000002").Reply("00"))
	up := listen(t)
	go func() {
		c, err := up.Accept()
		if err != nil {
			return
		}
		c.Write(a1)
		c.Write(a2)
		c.Close()
	}()
	addr, stop := startProxy(t, up.Addr().String(), trace.ProxyOptions{Framing: fr,
		Shaper: planShaper{"000001": {Delay: 100 * time.Millisecond}}})
	defer stop()
	got := readAll(t, addr)
	if want := append(append([]byte(nil), a2...), a1...); !bytes.Equal(got, want) {
		t.Errorf("terminal got\n% X\nwant\n% X", got, want)
	}
}
