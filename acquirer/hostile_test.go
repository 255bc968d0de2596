package acquirer_test

// Hostile peers against a running acquirer on loopback TCP. Every test keeps a healthy
// terminal on another connection and checks it is served before, during and after the
// abuse. Seeds are printed with t.Logf; card data in logs is checked masked.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/isotest"
)

// hostile is one acquirer serving on 127.0.0.1:0 for one test.
type hostile struct {
	a    *acquirer.Acquirer
	o    acquirer.Options
	addr string
	logs *isotest.Buffer
}

func startHostile(t testing.TB, o acquirer.Options) *hostile {
	t.Helper()
	logs := &isotest.Buffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.Dialect == nil {
		o.Dialect = iso.ASCII
	}
	a, err := acquirer.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		checkNoPAN(t, "acquirer log", logs.String())
	})
	return &hostile{a: a, o: o, addr: ln.Addr().String(), logs: logs}
}

var builtinCards = cards.Builtin()

// checkNoPAN fails when out holds any full test card number.
func checkNoPAN(t testing.TB, what, out string) {
	t.Helper()
	for _, c := range builtinCards.Cards {
		if strings.Contains(out, c.PAN) {
			t.Errorf("%s shows the full PAN of card %s (%s)", what, c.Name, iso.MaskPAN(c.PAN))
		}
	}
}

// healthyTerm is a well-behaved terminal on its own connection.
type healthyTerm struct {
	s    *hostile
	c    *iso.Conn
	tid  string
	stan atomic.Int64
}

func (s *hostile) healthy(t testing.TB) *healthyTerm {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &healthyTerm{s: s, tid: "TERM0009", c: iso.NewConn(nc, iso.WithDialect(s.o.Dialect), iso.WithFraming(s.o.Framing))}
	t.Cleanup(func() { h.c.Close() })
	h.echo(t, "before")
	return h
}

func (h *healthyTerm) nextSTAN() string { return fmt.Sprintf("%06d", 900000+h.stan.Add(1)) }

// echo sends an 0800/301 and reports (t.Errorf: safe from any goroutine) unless it is
// answered 00 within 5 s.
func (h *healthyTerm) echo(t testing.TB, when string) bool {
	m := &iso.Message{MTI: "0800", TransmissionTime: "0101000000", STAN: h.nextSTAN(), TerminalID: h.tid, NetworkCode: iso.NetEcho}
	r, err := h.c.Send(context.Background(), m, 5*time.Second)
	if err != nil || r.ResponseCode != iso.RCApproved {
		code := ""
		if r != nil {
			code = r.ResponseCode
		}
		t.Errorf("healthy terminal %s: echo STAN %s: %v %s", when, m.STAN, err, code)
		return false
	}
	return true
}

// sale sends an approved-card sale and checks it is approved.
func (h *healthyTerm) sale(t testing.TB, card string, amount int64, when string) {
	m := saleMsg(t, card, amount, h.tid, h.nextSTAN())
	r, err := h.c.Send(context.Background(), m, 5*time.Second)
	if err != nil || r.ResponseCode != iso.RCApproved {
		t.Errorf("healthy terminal %s: sale STAN %s: %v %v", when, m.STAN, err, r)
	}
}

// during checks the healthy terminal is served now (the abuse has begun) and keeps it
// echoing in the background until stop is called; stop checks it once more.
func (h *healthyTerm) during(t testing.TB) (stop func()) {
	h.echo(t, "during")
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100_000; i++ { // bounded
			select {
			case <-quit:
				return
			default:
			}
			if !h.echo(t, "during") {
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		h.echo(t, "after")
	}
}

func saleMsg(t testing.TB, card string, amount int64, tid, stan string) *iso.Message {
	t.Helper()
	c, ok := builtinCards.ByName(card)
	if !ok {
		t.Fatalf("no card %q", card)
	}
	return &iso.Message{MTI: "0200", PAN: c.PAN, ProcessingCode: iso.ProcPurchase, Amount: iso.FormatAmount(amount),
		TransmissionTime: "0101000000", STAN: stan, LocalTime: "000000", LocalDate: "0101", Expiry: c.Expiry,
		EntryMode: "051", ConditionCode: "00", TerminalID: tid, MerchantID: "POSDRILL0000001", Currency: "156"}
}

func dialRaw(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.TCPConn)
}

// closedWithin reads until the server ends the connection and returns what it sent and
// how long that took; it fails the test if the connection is still open after limit.
func closedWithin(t testing.TB, nc net.Conn, limit time.Duration) ([]byte, time.Duration) {
	t.Helper()
	began := time.Now()
	_ = nc.SetReadDeadline(began.Add(limit))
	b, err := io.ReadAll(nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server did not close the connection within %s", limit)
	}
	return b, time.Since(began)
}

func framing(t testing.TB, name string) iso.Framing {
	t.Helper()
	f, err := iso.ParseFraming(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func seed(t testing.TB) uint64 {
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("POSDRILL_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("POSDRILL_SEED: %v", err)
		}
		s = n
	}
	t.Logf("seed %d (rerun with POSDRILL_SEED=%d)", s, s)
	return s
}

// TestHostileRandomBytes: connections that send random bytes in several framings are all
// closed by the server (bad header, undecodable frame or frame timeout), nothing reaches the
// ledger, and the healthy terminal is served throughout.
func TestHostileRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 1))
	for _, fname := range []string{"len2", "len2-bcd+tpdu", "len4-ascii", "len4"} {
		t.Run(fname, func(t *testing.T) {
			s := startHostile(t, acquirer.Options{Framing: framing(t, fname), FrameTimeout: 300 * time.Millisecond})
			h := s.healthy(t)
			h.sale(t, "visa-ok", 100, "before")
			stop := h.during(t)
			const conns = 30
			var wg sync.WaitGroup
			for i := range conns {
				data := make([]byte, 1+rng.IntN(2048))
				for j := range data {
					data[j] = byte(rng.UintN(256))
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					nc, err := net.Dial("tcp", s.addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer nc.Close()
					_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
					if _, err := nc.Write(data); err != nil && !closedErr(err) {
						t.Errorf("conn %d: write: %v", i, err)
					}
					_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
					if _, err := io.ReadAll(nc); errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("conn %d: %d random bytes (first % X): not closed within 5 s", i, len(data), data[:min(8, len(data))])
					}
				}()
			}
			wg.Wait()
			stop()
			h.sale(t, "visa-ok", 100, "after")
			txns, err := s.a.Transactions(acquirer.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range txns {
				if x.Terminal != h.tid {
					t.Errorf("random bytes made a transaction: %+v", x)
				}
			}
			if b, _ := s.a.Balance("visa-ok"); b.Available != b.Opening-200 {
				t.Errorf("visa-ok available %d, want %d", b.Available, b.Opening-200)
			}
		})
	}
}

func closedErr(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// TestHostileLengthHeaders: zero, oversize and malformed length headers close the
// connection at once (FrameTimeout is 30 s, so a quick close proves the header was judged
// before waiting for a body) and allocate nothing near the size they claim.
func TestHostileLengthHeaders(t *testing.T) {
	tests := []struct {
		framing string
		name    string
		header  []byte
	}{
		{"len2", "zero", []byte{0, 0}},
		{"len2", "max 65535", []byte{0xFF, 0xFF}},
		{"len2", "one over MaxFrame", binary.BigEndian.AppendUint16(nil, 1001)},
		{"len2-bcd", "zero", []byte{0, 0}},
		{"len2-bcd", "9999", []byte{0x99, 0x99}},
		{"len2-bcd", "not BCD", []byte{0xAB, 0xCD}},
		{"len4-ascii", "zero", []byte("0000")},
		{"len4-ascii", "9999", []byte("9999")},
		{"len4-ascii", "letters", []byte("12a4")},
		{"len4", "zero", []byte{0, 0, 0, 0}},
		{"len4", "2 GiB", []byte{0x7F, 0xFF, 0xFF, 0xFF}},
		{"len4", "negative", []byte{0xFF, 0xFF, 0xFF, 0xFF}},
		{"len4+tpdu", "4 bytes, shorter than the TPDU", []byte{0, 0, 0, 4, 0x60, 0, 0, 0}},
		{"cup", "8 bytes, shorter than TPDU and message header", []byte{0, 8, 0x60, 0, 6, 0, 0, 0x60, 0x31, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.framing+"/"+tt.name, func(t *testing.T) {
			s := startHostile(t, acquirer.Options{Framing: framing(t, tt.framing), MaxFrame: 1000, FrameTimeout: 30 * time.Second})
			h := s.healthy(t)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			const n = 20
			for range n {
				nc := dialRaw(t, s.addr)
				if _, err := nc.Write(tt.header); err != nil {
					t.Fatal(err)
				}
				if b, d := closedWithin(t, nc, 3*time.Second); len(b) != 0 {
					t.Errorf("server answered % X before closing (after %s)", b, d)
				}
				h.echo(t, "between hostile headers")
			}
			runtime.ReadMemStats(&after)
			// Twenty 2 GiB claims would be 40 GiB; the connections themselves cost a few
			// hundred KiB in all.
			if d := after.TotalAlloc - before.TotalAlloc; d > 32<<20 {
				t.Errorf("%d hostile headers allocated %d MiB", n, d>>20)
			}
		})
	}
}

// TestHostileTruncatedFrames: a sale cut short — the client closing, or stalling past the
// frame timeout — is never processed: no transaction, no ledger change, no answer.
func TestHostileTruncatedFrames(t *testing.T) {
	s := startHostile(t, acquirer.Options{FrameTimeout: 200 * time.Millisecond})
	h := s.healthy(t)
	m := saleMsg(t, "mc-ok", 700, "TERM0001", "000001")
	payload, err := iso.ASCII.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := iso.DefaultFraming.AppendFrame(nil, nil, payload)
	cuts := []int{1, 2, 3, len(frame) / 2, len(frame) - 1}
	for _, cut := range cuts {
		for _, mode := range []string{"client closes", "client stalls"} {
			t.Run(fmt.Sprintf("%d of %d bytes, %s", cut, len(frame), mode), func(t *testing.T) {
				nc := dialRaw(t, s.addr)
				if _, err := nc.Write(frame[:cut]); err != nil {
					t.Fatal(err)
				}
				if mode == "client closes" {
					if err := nc.CloseWrite(); err != nil {
						t.Fatal(err)
					}
				}
				stop := h.during(t)
				b, d := closedWithin(t, nc, 5*time.Second)
				stop()
				if len(b) != 0 {
					t.Errorf("server answered % X to a truncated frame", b)
				}
				if mode == "client stalls" && d > 3*time.Second {
					t.Errorf("stalled frame closed after %s with FrameTimeout 200ms", d)
				}
			})
		}
	}
	txns, err := s.a.Transactions(acquirer.Filter{Terminal: "TERM0001"})
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 0 {
		t.Errorf("truncated frames were processed: %+v", txns)
	}
	if b, _ := s.a.Balance("mc-ok"); b.Available != b.Opening {
		t.Errorf("mc-ok available %d, opening %d", b.Available, b.Opening)
	}
}

// TestHostileSlowClient: a client dripping a valid sale one byte every 50 ms is cut off by
// the frame timeout (200 ms) long before the frame is complete; the sale is not processed.
func TestHostileSlowClient(t *testing.T) {
	s := startHostile(t, acquirer.Options{FrameTimeout: 200 * time.Millisecond})
	h := s.healthy(t)
	m := saleMsg(t, "unionpay-ok", 900, "TERM0002", "000001")
	payload, _ := iso.ASCII.Pack(m)
	frame, _ := iso.DefaultFraming.AppendFrame(nil, nil, payload)
	nc := dialRaw(t, s.addr)
	closed := make(chan time.Duration, 1)
	began := time.Now()
	go func() {
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadAll(nc)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("slow client still connected after 10 s")
		}
		closed <- time.Since(began)
	}()
	stop := h.during(t)
	sent := 0
	var closedAfter time.Duration
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
drip:
	for sent < len(frame) {
		select {
		case closedAfter = <-closed:
			break drip
		case <-tick.C:
		}
		if _, err := nc.Write(frame[sent : sent+1]); err != nil {
			closedAfter = <-closed
			break
		}
		sent++
	}
	stop()
	if sent >= len(frame) {
		t.Fatalf("the whole %d-byte frame was accepted at one byte per 50 ms", len(frame))
	}
	if closedAfter > 2*time.Second {
		t.Errorf("slow client closed after %s (FrameTimeout 200ms)", closedAfter)
	}
	t.Logf("slow client cut off after %d of %d bytes, %s", sent, len(frame), closedAfter.Round(time.Millisecond))
	if txns, _ := s.a.Transactions(acquirer.Filter{Terminal: "TERM0002"}); len(txns) != 0 {
		t.Errorf("the dripped sale was processed: %+v", txns)
	}
}

// TestHostileConnectChurn: 10,000 connect/close cycles (1,000 with -short) of every kind —
// plain close, reset, half a header, a request then gone — leave no connection and no
// goroutine behind, and the healthy terminal is served throughout.
func TestHostileConnectChurn(t *testing.T) {
	cycles := 10_000
	if testing.Short() {
		cycles = 1_000
	}
	s := startHostile(t, acquirer.Options{FrameTimeout: time.Second})
	h := s.healthy(t)
	goroutines := runtime.NumGoroutine()
	echoFrame, err := frameOf(iso.ASCII, iso.DefaultFraming, &iso.Message{MTI: "0800", TransmissionTime: "0101000000",
		STAN: "000001", TerminalID: "TERM0003", NetworkCode: iso.NetEcho})
	if err != nil {
		t.Fatal(err)
	}
	stop := h.during(t)
	const workers = 4
	var wg sync.WaitGroup
	var failures atomic.Int64
	began := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < cycles; i += workers {
				nc, err := net.Dial("tcp", s.addr)
				if err != nil {
					if failures.Add(1) <= 5 {
						t.Errorf("cycle %d: dial: %v", i, err)
					}
					continue
				}
				switch i % 4 {
				case 1:
					_ = nc.(*net.TCPConn).SetLinger(0) // RST
				case 2:
					_, _ = nc.Write([]byte{0})
				case 3:
					_, _ = nc.Write(echoFrame)
				}
				nc.Close()
			}
		}()
	}
	wg.Wait()
	stop()
	t.Logf("%d connect/close cycles in %s", cycles, time.Since(began).Round(time.Millisecond))
	// Everything the server holds for those connections goes away: poll the open gauge and
	// the goroutine count (bounded), no fixed sleep.
	deadline := time.Now().Add(10 * time.Second)
	for {
		open := metric(t, s, "posdrill_acquirer_connections_open")
		g := runtime.NumGoroutine()
		if open == 1 && g <= goroutines+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the churn: %v connections open (want 1, the healthy one), %d goroutines (was %d)", open, g, goroutines)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.echo(t, "after churn")
}

func frameOf(d *iso.Dialect, f iso.Framing, m *iso.Message) ([]byte, error) {
	p, err := d.Pack(m)
	if err != nil {
		return nil, err
	}
	return f.AppendFrame(nil, nil, p)
}

// metric reads one sample from the admin /metrics page (labels given as they print, e.g.
// `posdrill_acquirer_connections_total{result="over_limit"}`).
func metric(t testing.TB, s *hostile, name string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	s.a.Admin().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return v
		}
	}
	return 0
}

// TestHostileMaxConns: over MaxConns, each extra connection is closed at once without an
// answer, the connections inside the limit keep being served, and a new one is served as
// soon as a slot frees.
func TestHostileMaxConns(t *testing.T) {
	s := startHostile(t, acquirer.Options{MaxConns: 4})
	h := s.healthy(t)
	var fillers []*iso.Conn
	for i := range 3 {
		nc := dialRaw(t, s.addr)
		c := iso.NewConn(nc)
		fillers = append(fillers, c)
		r, err := c.Send(context.Background(), &iso.Message{MTI: "0800", TransmissionTime: "0101000000",
			STAN: fmt.Sprintf("%06d", i+1), TerminalID: "TERM0004", NetworkCode: iso.NetEcho}, 5*time.Second)
		if err != nil || r.ResponseCode != "00" {
			t.Fatalf("filler %d: %v", i, err)
		}
	}
	echo, _ := frameOf(iso.ASCII, iso.DefaultFraming, &iso.Message{MTI: "0800", TransmissionTime: "0101000000",
		STAN: "000100", TerminalID: "TERM0005", NetworkCode: iso.NetEcho})
	const extra = 20
	for i := range extra {
		nc := dialRaw(t, s.addr)
		_, _ = nc.Write(echo) // may fail: the server may have closed already
		if b, d := closedWithin(t, nc, 3*time.Second); len(b) != 0 {
			t.Errorf("extra connection %d answered % X (closed after %s)", i, b, d)
		}
		if i%5 == 0 {
			h.echo(t, "while over the limit")
		}
	}
	if n := metric(t, s, `posdrill_acquirer_connections_total{result="over_limit"}`); n != extra {
		t.Errorf("over_limit counter %v, want %d", n, extra)
	}
	fillers[0].Close()
	// The slot frees once the server has retired the connection: retry (bounded) with the
	// answer as the signal.
	deadline := time.Now().Add(5 * time.Second)
	for attempt := 1; ; attempt++ {
		nc, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c := iso.NewConn(nc)
		r, err := c.Send(context.Background(), &iso.Message{MTI: "0800", TransmissionTime: "0101000000",
			STAN: fmt.Sprintf("%06d", 200+attempt), TerminalID: "TERM0005", NetworkCode: iso.NetEcho}, 5*time.Second)
		c.Close()
		if err == nil && r.ResponseCode == "00" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot freed after a filler left: %v", err)
		}
	}
	h.echo(t, "after a slot freed")
}

// TestHostileNeverReads: a client that pipelines requests and never reads its answers must
// not hold up anyone else, and once the server's writes to it stall for WriteTimeout (500 ms
// here) the server must end that connection: a timed-out write may have sent part of a
// frame, so nothing more can be written on it, and keeping it open lets one client pin
// MaxInFlight goroutines for ever. Each echo carries 999 bytes in DE60, which the answer
// echoes, so a few thousand answers fill the socket buffers (up to 4 MiB on Linux).
func TestHostileNeverReads(t *testing.T) {
	s := startHostile(t, acquirer.Options{WriteTimeout: 500 * time.Millisecond, MaxInFlight: 4})
	h := s.healthy(t)
	nc := dialRaw(t, s.addr)
	_ = nc.SetReadBuffer(4096)
	var frames bytes.Buffer
	for i := range 100 {
		f, _ := frameOf(iso.ASCII, iso.DefaultFraming, &iso.Message{MTI: "0800", TransmissionTime: "0101000000",
			STAN: fmt.Sprintf("%06d", i+1), TerminalID: "TERM0006", NetworkCode: iso.NetEcho, Batch: strings.Repeat("x", 999)})
		frames.Write(f)
	}
	batch := frames.Bytes()
	werr := make(chan error, 1)
	var written atomic.Int64
	began := time.Now()
	go func() {
		// At most ~200 MB of requests; the server must end this long before.
		for range 2_000 {
			_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			n, err := nc.Write(batch)
			written.Add(int64(n))
			if err != nil {
				werr <- err
				return
			}
		}
		werr <- errors.New("wrote 2,000 batches without the server closing")
	}()
	stop := h.during(t)
	err := <-werr
	stop()
	if errors.Is(err, os.ErrDeadlineExceeded) || !closedErr(err) {
		t.Fatalf("the server never ended the connection of a client that does not read (WriteTimeout 500ms): "+
			"after %d bytes of requests in %s the client's write says %v", written.Load(), time.Since(began).Round(time.Millisecond), err)
	}
	t.Logf("non-reading client cut off after %d bytes of requests, %s: %v", written.Load(), time.Since(began).Round(time.Millisecond), err)
}

// TestHostileInFlightLimit: with MaxInFlight 2 and a 600 ms delay rule, six pipelined sales
// on one connection take at least three rounds, while another connection is answered at
// once.
func TestHostileInFlightLimit(t *testing.T) {
	s := startHostile(t, acquirer.Options{MaxInFlight: 2})
	h := s.healthy(t)
	const delay = 600 * time.Millisecond
	if _, err := s.a.Faults().Add(fault.Rule{Name: "slow TERM0007", Match: fault.Match{MTI: fault.StringList{"0200"}, Terminal: "TERM0007"},
		Action: fault.ActionDelay, Params: fault.Params{MS: int(delay / time.Millisecond)}}); err != nil {
		t.Fatal(err)
	}
	nc := dialRaw(t, s.addr)
	c := iso.NewConn(nc)
	began := time.Now()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Send(context.Background(), saleMsg(t, "visa-ok", 100, "TERM0007", fmt.Sprintf("%06d", i+1)), 10*time.Second)
			if err != nil || r.ResponseCode != "00" {
				t.Errorf("sale %d: %v %v", i, err, r)
			}
		}()
	}
	t0 := time.Now()
	h.echo(t, "while the slow connection is full")
	if d := time.Since(t0); d >= delay {
		t.Errorf("healthy echo took %s: held up by another connection's delayed requests", d)
	}
	wg.Wait()
	if d := time.Since(began); d < 3*delay-50*time.Millisecond {
		t.Errorf("six delayed sales with MaxInFlight 2 took %s, want at least %s (three rounds)", d, 3*delay)
	}
}

// TestAdminSecurity: with AdminToken set every endpoint but /healthz needs the bearer token
// (and a refused request changes nothing); request bodies are bounded.
func TestAdminSecurity(t *testing.T) {
	s := startHostile(t, acquirer.Options{AdminToken: "s3cret-token"})
	srv := httptest.NewServer(s.a.Admin()) // 127.0.0.1:0
	defer srv.Close()
	rule := `{"name":"x","action":"decline","params":{"code":"05"}}`
	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/healthz", "", "", 200},
		{"GET", "/journal", "", "", 401},
		{"GET", "/transactions", "Bearer wrong", "", 401},
		{"GET", "/cards", "s3cret-token", "", 401}, // no "Bearer "
		{"GET", "/cards/visa-ok", "Bearer s3cret-tokenX", "", 401},
		{"GET", "/metrics", "", "", 401},
		{"POST", "/faults", "", rule, 401},
		{"DELETE", "/faults", "Bearer ", "", 401},
		{"POST", "/reset", "", "", 401},
		{"GET", "/journal", "Bearer s3cret-token", "", 200},
		{"GET", "/cards", "Bearer s3cret-token", "", 200},
		{"GET", "/metrics", "Bearer s3cret-token", "", 200},
	} {
		code, body := do(tt.method, tt.path, tt.token, tt.body)
		if code != tt.want {
			t.Errorf("%s %s with %q: %d, want %d: %s", tt.method, tt.path, tt.token, code, tt.want, body)
		}
		checkNoPAN(t, tt.method+" "+tt.path, body)
	}
	if n := len(s.a.Faults().List()); n != 0 {
		t.Errorf("an unauthorized POST /faults added %d rules", n)
	}
	// Bodies: a rule list padded past 1 MiB is refused whole.
	big := "[" + rule + strings.Repeat(" ", 2<<20) + "]"
	if code, body := do("POST", "/faults", "Bearer s3cret-token", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB POST /faults: %d, want 413: %.200s", code, body)
	}
	if n := len(s.a.Faults().List()); n != 0 {
		t.Errorf("an oversize POST /faults added %d rules", n)
	}
	if code, body := do("POST", "/faults", "Bearer s3cret-token", rule); code != http.StatusCreated {
		t.Errorf("POST /faults with the token: %d: %s", code, body)
	}
	// An unauthorized DELETE leaves the rule in place.
	if code, _ := do("DELETE", "/faults", "", ""); code != 401 || len(s.a.Faults().List()) != 1 {
		t.Errorf("unauthorized DELETE /faults: %d, %d rules left", code, len(s.a.Faults().List()))
	}
}

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite the seed-* files of testdata/fuzz")

// FuzzAdminAPI sends arbitrary method/path/body/content-type combinations to Admin():
// never a panic or a 5xx, always a JSON (or metrics) answer, never a full test PAN in it,
// and the API keeps working afterwards (healthz, a consistent /faults listing).
func FuzzAdminAPI(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzAdminAPI (adminSeeds).
	a, err := acquirer.New(acquirer.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	h := a.Admin()
	methods := []string{"GET", "POST", "DELETE", "PUT", "HEAD", "PATCH"}
	ctypes := []string{"application/json", "application/yaml", "", "text/plain", "application/x-yaml; charset=utf-8"}
	f.Fuzz(func(t *testing.T, method, ctype uint8, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(methods[int(method)%len(methods)], "http://127.0.0.1"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if ct := ctypes[int(ctype)%len(ctypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", req.Method, path, rec.Code, rec.Body)
		}
		out := rec.Body.String()
		checkNoPAN(t, req.Method+" "+path, out)
		// Listing and health still fine; keep the rule set small.
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/faults", nil))
		if rec.Code != 200 {
			t.Fatalf("GET /faults after %s %q: %d", req.Method, path, rec.Code)
		}
		checkNoPAN(t, "GET /faults", rec.Body.String())
		if len(a.Faults().List()) > 50 {
			a.Faults().Clear()
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		if rec.Code != 200 {
			t.Fatalf("healthz after %s %q: %d", req.Method, path, rec.Code)
		}
	})
}

type adminSeed struct {
	name          string
	method, ctype uint8
	path          string
	body          string
}

// adminSeeds are requests the CLI, the TUI and the docs make.
func adminSeeds() []adminSeed {
	return []adminSeed{
		{"post-rule", 1, 0, "/faults", `{"name":"issuer down","match":{"mti":["0200"],"card":"visa-ok"},"action":"issuer_down"}`},
		{"post-list", 1, 0, "/faults", `[{"action":"delay","params":{"ms":5}},{"action":"no_response","count":1,"after":2,"probability":0.5}]`},
		{"post-pan", 1, 0, "/faults", `{"match":{"pan":"4111111111111111","amount_min":"10.00"},"action":"partial_approval","params":{"amount":"5.00"}}`},
		{"post-yaml", 1, 1, "/faults", "- name: split\n  action: split_response\n  params: {chunk: 3, gap_ms: 10}\n"},
		{"post-bad", 1, 0, "/faults", `{"action":"explode","match":{"entry_mode":"telepathy"}}`},
		{"list", 0, 2, "/faults", ""},
		{"delete-one", 2, 2, "/faults/r1", ""},
		{"delete-all", 2, 2, "/faults", ""},
		{"journal", 0, 2, "/journal?terminal=TERM0001&stan=000001&limit=5&since=2026-01-02T15:04:05Z", ""},
		{"transactions-bad", 0, 2, "/transactions?since=yesterday&limit=-1", ""},
		{"card", 0, 2, "/cards/visa-ok", ""},
		{"card-pan", 0, 2, "/cards/4111111111111111", ""},
		{"reset", 1, 2, "/reset", ""},
		{"healthz", 0, 2, "/healthz", ""},
		{"put", 3, 0, "/faults", `{}`},
	}
}

// TestAdminFuzzSeedCorpus keeps testdata/fuzz/FuzzAdminAPI/seed-* current; rewrite with
// go test ./acquirer -run TestAdminFuzzSeedCorpus -args -update-fuzz-seeds.
func TestAdminFuzzSeedCorpus(t *testing.T) {
	for _, s := range adminSeeds() {
		content := fmt.Sprintf("go test fuzz v1\nbyte(%q)\nbyte(%q)\nstring(%q)\n[]byte(%q)\n", s.method, s.ctype, s.path, s.body)
		path := "testdata/fuzz/FuzzAdminAPI/seed-" + s.name
		if *updateFuzzSeeds {
			if err := os.MkdirAll("testdata/fuzz/FuzzAdminAPI", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != content {
			t.Errorf("%s missing or stale: go test ./acquirer -run TestAdminFuzzSeedCorpus -args -update-fuzz-seeds", path)
		}
	}
}
