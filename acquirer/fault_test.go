package acquirer

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
)

// saleRule is a rule for 0200s from visa-ok.
func saleRule(name, action string, p fault.Params) fault.Rule {
	return fault.Rule{Name: name, Action: action, Params: p,
		Match: fault.Match{MTI: fault.StringList{"0200"}, Card: "visa-ok"}}
}

// writeRequest frames and writes m on a raw connection.
func writeRequest(t *testing.T, nc net.Conn, m *iso.Message) {
	t.Helper()
	p, err := iso.ASCII.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := iso.DefaultFraming.AppendFrame(nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// expectedFrame is the framed answer the server would send for m without a fault: a
// second acquirer with the same seed decides the same way.
func expectedFrame(t *testing.T, m *iso.Message) []byte {
	t.Helper()
	ref := start(t, Options{Seed: 1})
	nc := ref.raw(t)
	writeRequest(t, nc, m)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr, err := iso.DefaultFraming.ReadFrame(nc, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := iso.DefaultFraming.AppendFrame(nil, nil, fr.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkFiring asserts the journal's in line for the STAN names the rule and action, and
// whether an out line was written.
func checkFiring(t *testing.T, s *server, stan, rule, action string, wantOut bool) {
	t.Helper()
	var in, out *Entry
	for _, e := range s.journal(t, Filter{STAN: stan}) {
		e := e
		switch e.Direction {
		case "in":
			in = &e
		case "out":
			out = &e
		}
	}
	if in == nil {
		t.Fatalf("no journal in line for STAN %s", stan)
	}
	if in.Fault != rule || in.FaultAction != action {
		t.Errorf("journal in line: fault %q action %q, want %q %q", in.Fault, in.FaultAction, rule, action)
	}
	if (out != nil) != wantOut {
		t.Errorf("journal out line present = %v, want %v (%+v)", out != nil, wantOut, out)
	}
}

func TestFaultDecline(t *testing.T) {
	tests := []struct {
		name, action, code string
	}{
		{"decline 91", fault.ActionDecline, "91"},
		{"alias system_error", "system_error", "96"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{})
			s.addRule(t, saleRule("down", tt.action, fault.Params{Code: map[bool]string{true: tt.code}[tt.action == fault.ActionDecline]}))
			c := s.dial(t)
			m := sale(t, "visa-ok", 2500, "000001")
			wantCode(t, c.send(t, m), tt.code)
			if b := s.balance(t, "visa-ok"); b.Available != 1000000 {
				t.Errorf("ledger touched: %+v", b)
			}
			checkFiring(t, s, "000001", "down", fault.ActionDecline, true)
			if tx := s.txn(t, "000001"); tx.State != StateDeclined || tx.ResponseCode != tt.code || tx.Fault != "down" {
				t.Errorf("transaction %+v", tx)
			}
			// Its reversal finds a declined original: nothing to restore.
			wantCode(t, c.send(t, reversalOf(m, "0400", "000002")), "00")
			// Other cards are not matched.
			wantCode(t, c.send(t, sale(t, "mc-ok", 100, "000003")), "00")
		})
	}
}

func TestFaultDelay(t *testing.T) {
	s := start(t, Options{})
	s.addRule(t, saleRule("slow", fault.ActionDelay, fault.Params{MS: 300}))
	c := s.dial(t)
	m := sale(t, "visa-ok", 2500, "000001")
	began := time.Now()
	_, err := c.Send(context.Background(), m, 50*time.Millisecond)
	if !errors.Is(err, iso.ErrTimeout) {
		t.Fatalf("Send: %v, want a timeout", err)
	}
	// Committed before the answer: the ledger already shows the sale.
	if b := s.balance(t, "visa-ok"); b.Available != 997500 {
		t.Errorf("not committed before the delayed answer: %+v", b)
	}
	e := c.event(t, iso.EventLate)
	if e.Msg == nil || e.Msg.ResponseCode != "00" || e.Msg.STAN != "000001" {
		t.Errorf("late answer %+v", e.Msg)
	}
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("answer after %s, want at least 300ms", d)
	}
	checkFiring(t, s, "000001", "slow", fault.ActionDelay, true)
	if j := s.journal(t, Filter{STAN: "000001"}); !strings.Contains(j[1].Decision, "delayed 300 ms") {
		t.Errorf("out line %q", j[1].Decision)
	}
}

// delay_request: the host sees the request late, so nothing is committed while it waits —
// a reversal arriving meanwhile finds no original (25) — and the sale is decided after.
func TestFaultDelayRequest(t *testing.T) {
	s := start(t, Options{})
	s.addRule(t, saleRule("held", fault.ActionDelayRequest, fault.Params{MS: 300}))
	c := s.dial(t)
	m := sale(t, "visa-ok", 2500, "000001")
	_, err := c.Send(context.Background(), m, 50*time.Millisecond)
	if !errors.Is(err, iso.ErrTimeout) {
		t.Fatalf("Send: %v, want a timeout", err)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 1000000 {
		t.Errorf("committed before the request reached the host: %+v", b)
	}
	wantCode(t, c.send(t, reversalOf(m, "0400", "000002")), "25")
	e := c.event(t, iso.EventLate)
	if e.Msg == nil || e.Msg.ResponseCode != "00" || e.Msg.STAN != "000001" {
		t.Errorf("late answer %+v", e.Msg)
	}
	checkFiring(t, s, "000001", "held", fault.ActionDelayRequest, true)
}

func TestFaultNoResponse(t *testing.T) {
	s := start(t, Options{})
	s.addRule(t, saleRule("silent", fault.ActionNoResponse, fault.Params{}))
	c := s.dial(t)
	_, err := c.Send(context.Background(), sale(t, "visa-ok", 2500, "000001"), 200*time.Millisecond)
	if !errors.Is(err, iso.ErrTimeout) {
		t.Fatalf("Send: %v, want a timeout", err)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 997500 {
		t.Errorf("not committed: %+v", b)
	}
	checkFiring(t, s, "000001", "silent", fault.ActionNoResponse, false)
	// The connection stays open.
	wantCode(t, c.send(t, echo("000002")), "00")
}

func TestFaultDropBeforeProcessing(t *testing.T) {
	s := start(t, Options{})
	s.addRule(t, saleRule("lost-request", fault.ActionDropBeforeProcessing, fault.Params{}))
	c := s.dial(t)
	m := sale(t, "visa-ok", 2500, "000001")
	_, err := c.Send(context.Background(), m, 5*time.Second)
	if !errors.Is(err, iso.ErrConnClosed) {
		t.Fatalf("Send: %v, want the connection closed", err)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 1000000 {
		t.Errorf("ledger changed: %+v", b)
	}
	if txns, _ := s.a.Transactions(Filter{}); len(txns) != 0 {
		t.Errorf("transactions recorded: %+v", txns)
	}
	checkFiring(t, s, "000001", "lost-request", fault.ActionDropBeforeProcessing, false)
	// The terminal reverses anyway; the host never saw the sale.
	c2 := s.dial(t)
	wantCode(t, c2.send(t, reversalOf(m, "0400", "000002")), "25")
}

func TestFaultDropAfterCommit(t *testing.T) {
	s := start(t, Options{})
	s.addRule(t, saleRule("lost-answer", fault.ActionDropAfterCommit, fault.Params{}))
	c := s.dial(t)
	m := sale(t, "visa-ok", 2500, "000001")
	_, err := c.Send(context.Background(), m, 5*time.Second)
	if !errors.Is(err, iso.ErrConnClosed) {
		t.Fatalf("Send: %v, want the connection closed", err)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 997500 {
		t.Errorf("not committed: %+v", b)
	}
	if tx := s.txn(t, "000001"); tx.State != StateApproved {
		t.Errorf("state %s", tx.State)
	}
	checkFiring(t, s, "000001", "lost-answer", fault.ActionDropAfterCommit, false)
	// The classic: the terminal's automatic reversal gives the money back.
	c2 := s.dial(t)
	wantCode(t, c2.send(t, reversalOf(m, "0420", "000002")), "00")
	if b := s.balance(t, "visa-ok"); b.Available != 1000000 {
		t.Errorf("after reversal %+v", b)
	}
}

func TestFaultReset(t *testing.T) {
	s := start(t, Options{})
	s.addRule(t, saleRule("rst", fault.ActionReset, fault.Params{}))
	nc := s.raw(t)
	writeRequest(t, nc, sale(t, "visa-ok", 2500, "000001"))
	b, err := readClosed(t, nc)
	if len(b) != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read % X, %v; want nothing and ECONNRESET", b, err)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 997500 {
		t.Errorf("not committed: %+v", b)
	}
	checkFiring(t, s, "000001", "rst", fault.ActionReset, false)
}

func TestFaultTruncateResponse(t *testing.T) {
	m := sale(t, "visa-ok", 2500, "000001")
	want := expectedFrame(t, m)
	tests := []struct {
		name  string
		bytes int
		got   int
	}{
		{"header and part of the payload", 10, 10},
		{"more than the frame: one byte short", 5000, len(want) - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{Seed: 1})
			s.addRule(t, saleRule("cut", fault.ActionTruncateResponse, fault.Params{Bytes: tt.bytes}))
			nc := s.raw(t)
			writeRequest(t, nc, m)
			b, err := readClosed(t, nc)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != string(want[:tt.got]) {
				t.Errorf("got % X\nwant % X", b, want[:tt.got])
			}
			checkFiring(t, s, "000001", "cut", fault.ActionTruncateResponse, true)
		})
	}
}

func TestFaultSplitResponse(t *testing.T) {
	m := sale(t, "visa-ok", 2500, "000001")
	want := expectedFrame(t, m)
	s := start(t, Options{Seed: 1})
	s.addRule(t, saleRule("slicer", fault.ActionSplitResponse, fault.Params{Chunk: 40, GapMS: 100}))
	nc := s.raw(t)
	began := time.Now()
	writeRequest(t, nc, m)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	first := make([]byte, 1024)
	n, err := nc.Read(first)
	if err != nil {
		t.Fatal(err)
	}
	if n != 40 {
		t.Errorf("first read %d bytes, want the 40-byte first chunk", n)
	}
	rest := make([]byte, len(want)-n)
	if _, err := io.ReadFull(nc, rest); err != nil {
		t.Fatal(err)
	}
	if got := string(first[:n]) + string(rest); got != string(want) {
		t.Errorf("reassembled answer differs:\n% X\n% X", got, want)
	}
	gaps := (len(want)+39)/40 - 1
	if d := time.Since(began); d < time.Duration(gaps)*100*time.Millisecond {
		t.Errorf("answer whole after %s, want at least %d gaps of 100ms", d, gaps)
	}
	checkFiring(t, s, "000001", "slicer", fault.ActionSplitResponse, true)

	// A correct reader copes: iso.Conn gets the answer.
	c := s.dial(t)
	wantCode(t, c.send(t, sale(t, "visa-ok", 100, "000002")), "00")
}

func TestFaultGarbleResponse(t *testing.T) {
	for _, d := range iso.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := start(t, Options{Dialect: d})
			s.addRule(t, saleRule("noise", fault.ActionGarbleResponse, fault.Params{}))
			c := s.dial(t)
			_, err := c.Send(context.Background(), sale(t, "visa-ok", 2500, "000001"), 300*time.Millisecond)
			if !errors.Is(err, iso.ErrTimeout) {
				t.Fatalf("Send: %v, want a timeout (the answer cannot be read)", err)
			}
			e := c.event(t, iso.EventGarbled)
			var de *iso.DecodeError
			if !errors.As(e.Err, &de) || de.FieldID != -1 {
				t.Errorf("garbled event error %v, want a DecodeError on the MTI", e.Err)
			}
			if b := s.balance(t, "visa-ok"); b.Available != 997500 {
				t.Errorf("not committed: %+v", b)
			}
			checkFiring(t, s, "000001", "noise", fault.ActionGarbleResponse, true)
			// The frame itself was intact: the connection still works.
			wantCode(t, c.send(t, echo("000002")), "00")
		})
	}
}

func TestFaultWrongSTAN(t *testing.T) {
	s := start(t, Options{})
	s.addRule(t, saleRule("mixup", fault.ActionWrongSTAN, fault.Params{}))
	c := s.dial(t)
	_, err := c.Send(context.Background(), sale(t, "visa-ok", 2500, "999999"), 300*time.Millisecond)
	if !errors.Is(err, iso.ErrTimeout) {
		t.Fatalf("Send: %v, want a timeout", err)
	}
	e := c.event(t, iso.EventUnmatched)
	if e.Msg == nil || e.Msg.STAN != "000000" || e.Msg.ResponseCode != "00" {
		t.Errorf("unmatched answer %+v, want STAN 000000 (999999+1 mod 1e6)", e.Msg)
	}
	checkFiring(t, s, "999999", "mixup", fault.ActionWrongSTAN, false)
	// The out line records the STAN as sent.
	out := s.journal(t, Filter{STAN: "000000"})
	if len(out) != 1 || out[0].Direction != "out" || !strings.Contains(out[0].Decision, "wrong STAN 000000") {
		t.Errorf("out line %+v", out)
	}
}

func TestFaultDuplicateResponse(t *testing.T) {
	s := start(t, Options{})
	s.addRule(t, saleRule("twice", fault.ActionDuplicateResponse, fault.Params{}))
	c := s.dial(t)
	r := c.send(t, sale(t, "visa-ok", 2500, "000001"))
	wantCode(t, r, "00")
	e := c.event(t, iso.EventDuplicate)
	if e.Msg == nil || e.Msg.STAN != "000001" || e.Msg.AuthCode != r.AuthCode {
		t.Errorf("duplicate %+v", e.Msg)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 997500 {
		t.Errorf("debited twice? %+v", b)
	}
	checkFiring(t, s, "000001", "twice", fault.ActionDuplicateResponse, true)
}

func TestFaultRefuseConnections(t *testing.T) {
	s := start(t, Options{})
	ids, err := s.a.Faults().Add(fault.Rule{Name: "down", Action: fault.ActionRefuseConnections})
	if err != nil {
		t.Fatal(err)
	}
	// Refused: either the reset beats the dial's own completion, or the connection ends at
	// once without a byte.
	if nc, err := net.Dial("tcp", s.addr); err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial: %v", err)
		}
	} else {
		defer nc.Close()
		b, err := readClosed(t, nc)
		if len(b) != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("refused connection: read % X, %v", b, err)
		}
	}
	j := s.journal(t, Filter{})
	if len(j) != 1 || j[0].Direction != "conn" || j[0].FaultAction != fault.ActionRefuseConnections {
		t.Errorf("journal %+v", j)
	}
	s.a.Faults().Remove(ids[0])
	c := s.dial(t)
	wantCode(t, c.send(t, echo("000001")), "00")
}

func TestFaultRefuseConnectionsWindow(t *testing.T) {
	s := start(t, Options{})
	if _, err := s.a.Faults().Add(fault.Rule{Name: "blip", Action: fault.ActionRefuseConnections, Params: fault.Params{MS: 1}}); err != nil {
		t.Fatal(err)
	}
	// The 1 ms window passes on the clock; the next connection is served. Retry until the
	// window is over (each refused attempt is a closed connection, not a hang).
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.Dial("tcp", s.addr)
		if err == nil {
			c := iso.NewConn(nc)
			var r *iso.Message
			r, err = c.Send(context.Background(), echo("000001"), 5*time.Second)
			c.Close()
			if err == nil {
				wantCode(t, r, "00")
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused: %v", err)
		}
	}
}

func TestFaultPartialApproval(t *testing.T) {
	tests := []struct {
		name      string
		msg       func() *iso.Message
		code      string
		amount    string
		available int64
	}{
		{"sale approved for 10.00", func() *iso.Message { return sale(t, "visa-ok", 2500, "000001") }, "10", "000000001000", 999000},
		{"refund: not applicable", func() *iso.Message { return refund(t, "visa-ok", 2500, "000001") }, "00", "000000002500", 1002500},
		{"asked less than the partial amount", func() *iso.Message { return sale(t, "visa-ok", 500, "000001") }, "00", "000000000500", 999500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{})
			s.addRule(t, fault.Rule{Name: "half", Action: fault.ActionPartialApproval, Params: fault.Params{Amount: "10.00"},
				Match: fault.Match{Card: "visa-ok"}})
			c := s.dial(t)
			r := c.send(t, tt.msg())
			wantCode(t, r, tt.code)
			if r.Amount != tt.amount {
				t.Errorf("DE4 %s, want %s", r.Amount, tt.amount)
			}
			if b := s.balance(t, "visa-ok"); b.Available != tt.available {
				t.Errorf("available %d, want %d", b.Available, tt.available)
			}
			checkFiring(t, s, "000001", "half", fault.ActionPartialApproval, true)
		})
	}
	t.Run("reversal of a partial approval restores the approved amount", func(t *testing.T) {
		s := start(t, Options{})
		s.addRule(t, fault.Rule{Name: "half", Action: fault.ActionPartialApproval, Params: fault.Params{Amount: "10.00"},
			Match: fault.Match{MTI: fault.StringList{"0200"}}})
		c := s.dial(t)
		m := sale(t, "visa-ok", 2500, "000001")
		wantCode(t, c.send(t, m), "10")
		wantCode(t, c.send(t, reversalOf(m, "0400", "000002")), "00")
		if b := s.balance(t, "visa-ok"); b.Available != 1000000 {
			t.Errorf("%+v", b)
		}
	})
}

// TestFaultFiringsDeterministic: same seed, same traffic, same firings; another seed differs.
func TestFaultFiringsDeterministic(t *testing.T) {
	run := func(seed int64) string {
		s := start(t, Options{Seed: seed})
		p := 0.3
		s.addRule(t, fault.Rule{Name: "flaky", Action: fault.ActionDecline, Params: fault.Params{Code: "91"},
			Match: fault.Match{MTI: fault.StringList{"0800"}}, Probability: &p})
		c := s.dial(t)
		var codes strings.Builder
		for i := 1; i <= 200; i++ {
			codes.WriteString(c.send(t, echo(stan(i))).ResponseCode[:1])
		}
		return codes.String()
	}
	a, b, other := run(5), run(5), run(6)
	if a != b {
		t.Errorf("same seed, different firings:\n%s\n%s", a, b)
	}
	if a == other {
		t.Error("seeds 5 and 6 fire identically")
	}
	if n := strings.Count(a, "9"); n < 30 || n > 90 {
		t.Errorf("%d of 200 fired at p=0.3", n)
	}
}
