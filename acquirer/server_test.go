package acquirer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/memnet"
)

// TestDialectFramingRoundTrip runs a sale, its reversal and an echo through the server in
// every built-in dialect and framing; with a TPDU the reply must swap its addresses.
func TestDialectFramingRoundTrip(t *testing.T) {
	for _, d := range iso.Dialects() {
		for _, fname := range iso.Framings() {
			t.Run(d.Name+"/"+fname, func(t *testing.T) {
				f, err := iso.ParseFraming(fname)
				if err != nil {
					t.Fatal(err)
				}
				s := start(t, Options{Dialect: d, Framing: f})
				m := sale(t, "visa-ok", 2500, "000001")
				m.PINBlock = pinBlock(t, "1234", m.PAN)
				m.EMV = []byte{0x9F, 0x26, 0x02, 0xAB, 0xCD}
				if !f.TPDU {
					c := s.dial(t)
					wantCode(t, c.send(t, m), "00")
					wantCode(t, c.send(t, reversalOf(m, "0400", "000002")), "00")
					wantCode(t, c.send(t, echo("000003")), "00")
					if b := s.balance(t, "visa-ok"); b.Available != 1000000 {
						t.Errorf("balance %+v", b)
					}
					return
				}
				// With a TPDU, read the raw reply to see its addresses.
				nc, err := net.Dial("tcp", s.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				payload, err := d.Pack(m)
				if err != nil {
					t.Fatal(err)
				}
				frame, err := f.AppendFrame(nil, []byte{0x60, 0x00, 0x01, 0x00, 0x02}, payload)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := nc.Write(frame); err != nil {
					t.Fatal(err)
				}
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				fr, err := f.ReadFrame(nc, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(fr.TPDU, []byte{0x60, 0x00, 0x02, 0x00, 0x01}) {
					t.Errorf("reply TPDU % X, want 60 0002 0001", fr.TPDU)
				}
				r, err := d.Unpack(fr.Payload)
				if err != nil {
					t.Fatal(err)
				}
				wantCode(t, r, "00")
			})
		}
	}
}

// TestMemnet serves on an in-memory listener with a virtual clock, as the scenario runner
// does, including a delayed answer that costs no real time.
func TestMemnet(t *testing.T) {
	vc := clock.NewVirtual(txnDate)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go vc.Run(ctx)
	ln := memnet.Listen("acquirer", vc)
	a, err := New(Options{Clock: vc})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	defer func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if _, err := a.Faults().Add(fault.Rule{Name: "slow", Action: fault.ActionDelay, Params: fault.Params{MS: 20000}, Match: fault.Match{MTI: fault.StringList{"0200"}}}); err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc, iso.WithClock(vc))
	defer c.Close()
	vc.Hold() // this goroutine drives the client: it is busy (token rule)
	defer vc.Release()
	began := time.Now()
	r, err := c.Send(context.Background(), sale(t, "visa-ok", 100, "000001"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, r, "00")
	if got := vc.Now().Sub(txnDate); got < 20*time.Second || got > 21*time.Second {
		t.Errorf("virtual time moved %s, want 20s of delay", got)
	}
	if real := time.Since(began); real > 5*time.Second {
		t.Errorf("a 20 s virtual delay took %s of real time", real)
	}
	// The rule matches 0200 only: an echo is answered at once, at the same virtual time.
	before := vc.Now()
	r, err = c.Send(context.Background(), echo("000002"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, r, "00")
	if !vc.Now().Equal(before) {
		t.Errorf("echo took virtual time %s", vc.Now().Sub(before))
	}
	if vc.Underflows() != 0 {
		t.Errorf("clock token underflows: %d", vc.Underflows())
	}
}

// TestRestartDurability closes the acquirer and opens a new one on the same database file:
// balances, holds, the journal and duplicate detection survive.
func TestRestartDurability(t *testing.T) {
	db := filepath.Join(t.TempDir(), "acq.db")
	a1, err := New(Options{DB: db, Clock: newFixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go a1.Serve(ln)
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc)
	m := sale(t, "visa-ok", 2500, "000001")
	r, err := c.Send(context.Background(), m, 5*time.Second)
	if err != nil || r.ResponseCode != "00" {
		t.Fatalf("%v %v", r, err)
	}
	if r, err := c.Send(context.Background(), preauth(t, "mc-ok", 1000, "000002"), 5*time.Second); err != nil || r.ResponseCode != "00" {
		t.Fatalf("%v %v", r, err)
	}
	c.Close()
	if err := a1.Close(); err != nil {
		t.Fatal(err)
	}
	s := start(t, Options{DB: db})
	if b := s.balance(t, "visa-ok"); b.Available != 997500 {
		t.Errorf("visa-ok after restart %+v", b)
	}
	if b := s.balance(t, "mc-ok"); b.Held != 1000 || b.Available != 999000 {
		t.Errorf("mc-ok after restart %+v", b)
	}
	if j := s.journal(t, Filter{}); len(j) != 4 {
		t.Errorf("journal after restart has %d lines, want 4", len(j))
	}
	c2 := s.dial(t)
	wantCode(t, c2.send(t, m), "94")
	rep := m.Clone()
	rep.MTI = "0201"
	if r2 := c2.send(t, rep); r2.ResponseCode != "00" || r2.AuthCode != r.AuthCode {
		t.Errorf("repeat after restart: %s %s, want the original answer", r2.ResponseCode, r2.AuthCode)
	}
	wantCode(t, c2.send(t, reversalOf(m, "0400", "000003")), "00")
	if b := s.balance(t, "visa-ok"); b.Available != 1000000 {
		t.Errorf("visa-ok after reversal %+v", b)
	}
	// New transactions continue the sequence: RRNs stay unique across restarts.
	r3 := c2.send(t, sale(t, "visa-ok", 100, "000004"))
	if r3.RRN == r.RRN {
		t.Errorf("RRN %s reused after restart", r3.RRN)
	}
}

// rawConn dials the server for byte-level tests.
func (s *server) raw(t *testing.T) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// readClosed waits until the server closes nc and returns what it sent before.
func readClosed(t *testing.T, nc net.Conn) ([]byte, error) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server did not close the connection")
	}
	return b, err
}

func TestBadInput(t *testing.T) {
	framed := func(payload []byte) []byte {
		return binary.BigEndian.AppendUint16(nil, uint16(len(payload))) // caller appends payload
	}
	good, err := iso.ASCII.Pack(sale(t, "visa-ok", 100, "000077"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		send     func() []byte
		answered string // DE39 when the server answers; "" when it must close
		log      string
	}{
		{"zero length", func() []byte { return []byte{0, 0} }, "", "frame length is zero"},
		{"oversize length", func() []byte { return []byte{0xFF, 0xFF} }, "", "exceeds the maximum"},
		{"garbage frame", func() []byte {
			p := []byte("\x01\x02garbage that is no ISO 8583 at all")
			return append(framed(p), p...)
		}, "", "no readable MTI"},
		{"trailing bytes after the last field", func() []byte {
			p := append(append([]byte{}, good...), "XYZ"...)
			return append(framed(p), p...)
		}, "30", "answering 30"},
		{"field cut short after DE41", func() []byte {
			m := sale(t, "visa-ok", 100, "000078")
			m.Private63 = "some private data"
			p, err := iso.ASCII.Pack(m)
			if err != nil {
				t.Fatal(err)
			}
			p = p[:len(p)-5] // DE63's LLL prefix announces more than follows
			return append(framed(p), p...)
		}, "30", "answering 30"},
		{"unpackable before DE41", func() []byte {
			p := append([]byte{}, good[:30]...)
			return append(framed(p), p...)
		}, "", "no readable MTI, DE11 and DE41"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{})
			healthy := s.dial(t)
			nc := s.raw(t)
			if _, err := nc.Write(tt.send()); err != nil {
				t.Fatal(err)
			}
			if tt.answered == "" {
				b, _ := readClosed(t, nc)
				if len(b) != 0 {
					t.Errorf("server answered % X before closing", b)
				}
			} else {
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				fr, err := iso.DefaultFraming.ReadFrame(nc, 0)
				if err != nil {
					t.Fatal(err)
				}
				r, err := iso.ASCII.Unpack(fr.Payload)
				if err != nil {
					t.Fatal(err)
				}
				wantCode(t, r, tt.answered)
				if r.MTI != "0210" || r.TerminalID != "TERM0001" {
					t.Errorf("answer %s terminal %q", r.MTI, r.TerminalID)
				}
				e := s.inEntry(t, "0200", r.STAN)
				if e.ResponseCode != "30" || !strings.Contains(e.Decision, "format error") {
					t.Errorf("journal %+v", e)
				}
			}
			// Everything else keeps being served.
			wantCode(t, healthy.send(t, echo("000001")), "00")
			if !strings.Contains(s.logs.String(), tt.log) {
				t.Errorf("log does not say %q:\n%s", tt.log, s.logs.String())
			}
			if strings.Contains(s.logs.String(), "4111111111111111") {
				t.Error("log leaks the PAN")
			}
		})
	}
}

func TestFrameTimeout(t *testing.T) {
	s := start(t, Options{FrameTimeout: 100 * time.Millisecond})
	healthy := s.dial(t)
	stalled := s.raw(t)
	// A header announcing 50 bytes, then only 3 of them.
	if _, err := stalled.Write([]byte{0, 50, '0', '2', '0'}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	readClosed(t, stalled)
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("stalled frame closed after %s", d)
	}
	wantCode(t, healthy.send(t, echo("000001")), "00")
	if !strings.Contains(s.logs.String(), "connection closed on bad input") {
		t.Errorf("stall not logged:\n%s", s.logs.String())
	}
}

func TestIdleTimeout(t *testing.T) {
	s := start(t, Options{IdleTimeout: 100 * time.Millisecond, FrameTimeout: time.Minute})
	c := s.dial(t)
	wantCode(t, c.send(t, echo("000001")), "00")
	// The server closes the idle link: the client sees its connection end.
	c.event(t, iso.EventClosed)
}

func TestMaxConns(t *testing.T) {
	s := start(t, Options{MaxConns: 2})
	c1 := s.dial(t)
	c2 := s.dial(t)
	wantCode(t, c1.send(t, echo("000001")), "00")
	wantCode(t, c2.send(t, echo("000001")), "00")
	over := s.raw(t)
	readClosed(t, over)
	if !strings.Contains(s.logs.String(), "too many connections") {
		t.Errorf("not logged:\n%s", s.logs.String())
	}
	c1.Close()
	// A slot frees once the server has retired the connection; wait for it by retrying
	// with the accept itself as the signal (no sleeps).
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c := iso.NewConn(nc)
		r, err := c.Send(context.Background(), echo("000002"), 5*time.Second)
		c.Close()
		if err == nil {
			wantCode(t, r, "00")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot freed: %v", err)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	s := start(t, Options{})
	s.a.testHook = func(m *iso.Message) {
		if m.STAN == "666666" {
			panic("boom with card 4111111111111111")
		}
	}
	healthy := s.dial(t)
	victim := s.dial(t)
	_, err := victim.Send(context.Background(), echo("666666"), 5*time.Second)
	if !errors.Is(err, iso.ErrConnClosed) {
		t.Fatalf("victim: %v, want the connection closed", err)
	}
	wantCode(t, healthy.send(t, echo("000001")), "00")
	logs := s.logs.String()
	if !strings.Contains(logs, "panic while handling a request") || !strings.Contains(logs, "411111******1111") {
		t.Errorf("panic not logged masked:\n%s", logs)
	}
	if strings.Contains(logs, "4111111111111111") {
		t.Error("log leaks the PAN")
	}
}

// TestConcurrentRequests sends many requests on one connection and on several at once:
// each gets its own answer, and the ledger adds up (no lost update between concurrent
// authorizations of one card).
func TestConcurrentRequests(t *testing.T) {
	s := start(t, Options{MaxInFlight: 8})
	const conns, per = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, conns*per)
	for ci := 0; ci < conns; ci++ {
		c := s.dial(t)
		for i := 0; i < per; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := sale(t, "visa-ok", 100, stan(ci*1000+i+1))
				m.TerminalID = []string{"TERM0001", "TERM0002", "TERM0003", "TERM0004"}[ci]
				r, err := c.Send(context.Background(), m, 10*time.Second)
				if err != nil {
					errs <- err
					return
				}
				if r.ResponseCode != "00" || r.STAN != m.STAN {
					errs <- errors.New("wrong answer " + r.STAN + " " + r.ResponseCode)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 1000000-conns*per*100 {
		t.Errorf("available %d, want %d", b.Available, 1000000-conns*per*100)
	}
}

func TestCloseWaitsForInFlight(t *testing.T) {
	a, err := New(Options{Clock: newFixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	committed := make(chan string, 1)
	a.committed = func(mti, stan string) { committed <- stan }
	if _, err := a.Faults().Add(fault.Rule{Name: "slow", Action: fault.ActionDelay, Params: fault.Params{MS: 60000}}); err != nil {
		t.Fatal(err)
	}
	nc, _ := net.Dial("tcp", ln.Addr().String())
	c := iso.NewConn(nc)
	defer c.Close()
	res := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), sale(t, "visa-ok", 100, "000001"), 30*time.Second)
		res <- err
	}()
	// The delay follows the commit: wait for the commit.
	select {
	case <-committed:
	case err := <-res:
		t.Fatalf("answered early: %v", err)
	}
	began := time.Now()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Close took %s with a 60 s delay pending", d)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := <-res; !errors.Is(err, iso.ErrConnClosed) {
		t.Errorf("client: %v", err)
	}
	if _, err := a.Balance("visa-ok"); err == nil {
		t.Error("store still open after Close")
	}
}

// failStore is a store whose updates fail, as a full disk would make them.
type failStore struct{ store }

func (failStore) update(context.Context, func(storeTx) error) error {
	return errors.New("disk full")
}

// TestStoreFailureAnswers96: when the decision cannot be committed nothing happened, and
// the terminal is told so (96) rather than left waiting.
func TestStoreFailureAnswers96(t *testing.T) {
	a, err := New(Options{Clock: newFixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	a.st = failStore{a.st}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	defer func() {
		a.Close()
		<-done
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc)
	defer c.Close()
	r, err := c.Send(context.Background(), sale(t, "visa-ok", 2500, "000001"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, r, "96")
	if b, err := a.Balance("visa-ok"); err != nil || b.Available != 1000000 {
		t.Errorf("balance %+v %v", b, err)
	}
}

// TestMemnetInFlightSaturation: over iso/memnet on a virtual clock, with one request in
// flight per connection and each delayed 10 s, three pipelined requests are answered one
// after the other (30 s of virtual time, no real waiting, no frozen clock): the reader
// waiting for a slot must not count as busy.
func TestMemnetInFlightSaturation(t *testing.T) {
	vc := clock.NewVirtual(txnDate)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go vc.Run(ctx)
	ln := memnet.Listen("acquirer", vc)
	a, err := New(Options{Clock: vc, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	defer func() {
		a.Close()
		<-done
	}()
	if _, err := a.Faults().Add(fault.Rule{Name: "slow", Action: fault.ActionDelay, Params: fault.Params{MS: 10000}}); err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc, iso.WithClock(vc))
	defer c.Close()
	type result struct {
		stan string
		at   time.Time
		err  error
	}
	results := make(chan result, 3)
	for i := 1; i <= 3; i++ {
		vc.Hold() // each sender is a party of its own (token rule)
		go func() {
			defer vc.Release()
			r, err := c.Send(context.Background(), echo(stan(i)), time.Minute)
			if err == nil && r.ResponseCode != "00" {
				err = errors.New("code " + r.ResponseCode)
			}
			results <- result{stan(i), vc.Now(), err}
		}()
	}
	began := time.Now()
	var last time.Time
	for range 3 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("STAN %s: %v", r.stan, r.err)
			}
			if r.at.After(last) {
				last = r.at
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("stuck: virtual time %s, busy %d", vc.Now().Sub(txnDate), vc.Busy())
		}
	}
	if got := last.Sub(txnDate); got != 30*time.Second {
		t.Errorf("last answer after %s of virtual time, want 30s (three delays one after the other)", got)
	}
	if time.Since(began) > 5*time.Second {
		t.Errorf("took %s of real time", time.Since(began))
	}
	if vc.Underflows() != 0 {
		t.Errorf("token underflows: %d", vc.Underflows())
	}
}

// TestForeignClient builds a 0200 and its 0400 byte by byte as docs/acquirer.md describes
// them (no packer of ours), as a client written with another ISO 8583 implementation would,
// and sends them over TCP.
func TestForeignClient(t *testing.T) {
	s := start(t, Options{})
	nc := s.raw(t)
	pan := card(t, "visa-ok").PAN
	frame := func(body string) []byte {
		return append([]byte{byte(len(body) >> 8), byte(len(body))}, body...)
	}
	exchange := func(body string) *iso.Message {
		t.Helper()
		if _, err := nc.Write(frame(body)); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		fr, err := iso.DefaultFraming.ReadFrame(nc, 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := iso.ASCII.Unpack(fr.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	sale := "0200" + "\x72\x3C\x04\x80\x00\xC0\x90\x00" +
		"16" + pan + "000000" + "000000002500" + "0315103000" + "000123" + "103000" + "0315" + "3012" +
		"051" + "00" + "TERM0001" + "POSDRILL0000001" + "156" + "2A3D408A1977DDE9"
	if len(sale)+2 != 127 {
		t.Fatalf("hand-built 0200 is %d bytes framed, the docs say 127", len(sale)+2)
	}
	r := exchange(sale)
	if r.MTI != "0210" || r.ResponseCode != "00" || r.STAN != "000123" || len(r.AuthCode) != 6 {
		t.Fatalf("0210: %s %s STAN %s auth %q", r.MTI, r.ResponseCode, r.STAN, r.AuthCode)
	}
	rev := "0400" + "\xF2\x3C\x04\x80\x02\xC0\x80\x00" + "\x00\x00\x00\x40\x00\x00\x00\x00" +
		"16" + pan + "000000" + "000000002500" + "0315103500" + "000124" + "103000" + "0315" + "3012" +
		"051" + "00" + "68" + "TERM0001" + "POSDRILL0000001" + "156" +
		"0200" + "000123" + "0315103000" + "00000000000" + "00000000000"
	if len(rev)+2 != 163 {
		t.Fatalf("hand-built 0400 is %d bytes framed, the docs say 163", len(rev)+2)
	}
	r = exchange(rev)
	if r.MTI != "0410" || r.ResponseCode != "00" || r.STAN != "000124" {
		t.Fatalf("0410: %s %s STAN %s", r.MTI, r.ResponseCode, r.STAN)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 1000000 {
		t.Errorf("after sale and reversal %+v", b)
	}
}
