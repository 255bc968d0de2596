package acquirer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/isotest"
)

// txnDate is the transaction date every test sees: the expiry checks depend on it.
var txnDate = time.Date(2026, 3, 15, 10, 30, 0, 0, time.UTC)

// fixedClock reads txnDate plus the real time elapsed since the test started, and has real
// timers (from clock.Real), so that client timeouts still fire while dates stay
// deterministic.
type fixedClock struct {
	clock.Real
	start time.Time
}

func newFixedClock() *fixedClock { return &fixedClock{start: time.Now()} }

func (c *fixedClock) Now() time.Time { return txnDate.Add(time.Since(c.start)) }

// server is an acquirer serving on loopback for one test.
type server struct {
	a    *Acquirer
	addr string
	logs *isotest.Buffer
	done chan error
}

// start builds an acquirer with o (a fixed-date clock and an in-memory store unless o says
// otherwise) and serves it on 127.0.0.1:0.
func start(t testing.TB, o Options) *server {
	t.Helper()
	if o.Clock == nil {
		o.Clock = newFixedClock()
	}
	logs := &isotest.Buffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{a: a, addr: ln.Addr().String(), logs: logs, done: make(chan error, 1)}
	go func() { s.done <- a.Serve(ln) }()
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-s.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// client is a test terminal: an iso.Conn on loopback recording the events it sees.
type client struct {
	*iso.Conn
	events chan iso.Event
}

func (s *server) dial(t testing.TB, opts ...iso.ConnOption) *client {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{events: make(chan iso.Event, 64)}
	opts = append([]iso.ConnOption{iso.WithDialect(s.a.o.Dialect), iso.WithFraming(s.a.o.Framing)}, opts...)
	opts = append(opts, iso.WithEvents(func(e iso.Event) {
		select {
		case c.events <- e:
		default:
		}
	}))
	c.Conn = iso.NewConn(nc, opts...)
	t.Cleanup(func() { c.Close() })
	return c
}

// send sends m and fails the test on a transport error.
func (c *client) send(t testing.TB, m *iso.Message) *iso.Message {
	t.Helper()
	r, err := c.Send(context.Background(), m, 5*time.Second)
	if err != nil {
		t.Fatalf("%s STAN %s: %v", m.MTI, m.STAN, err)
	}
	return r
}

// event waits for the next event of kind.
func (c *client) event(t testing.TB, kind iso.EventKind) iso.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-c.events:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

// Message builders. Every request is valid for the built-in fixtures unless changed.

var fixtures = cards.Builtin()

func card(t testing.TB, name string) cards.Card {
	t.Helper()
	c, ok := fixtures.ByName(name)
	if !ok {
		t.Fatalf("no card %q", name)
	}
	return c
}

// de7 is a fixed transmission time: together with DE41 and DE11 it keys duplicates.
const de7 = "0315103000"

func sale(t testing.TB, cardName string, amount int64, stan string) *iso.Message {
	c := card(t, cardName)
	return &iso.Message{MTI: "0200", PAN: c.PAN, ProcessingCode: "000000", Amount: iso.FormatAmount(amount),
		TransmissionTime: de7, STAN: stan, LocalTime: "103000", LocalDate: "0315", Expiry: c.Expiry,
		EntryMode: "051", ConditionCode: "00", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Currency: "156"}
}

func refund(t testing.TB, cardName string, amount int64, stan string) *iso.Message {
	m := sale(t, cardName, amount, stan)
	m.ProcessingCode = "200000"
	return m
}

func preauth(t testing.TB, cardName string, amount int64, stan string) *iso.Message {
	m := sale(t, cardName, amount, stan)
	m.MTI = "0100"
	return m
}

// reversalOf builds a 0400 for orig: with a fresh STAN and DE90 ("new" policy), or with the
// original's STAN and no DE90 ("reuse" policy) when stan is "".
func reversalOf(orig *iso.Message, mti, stan string) *iso.Message {
	r := orig.Clone()
	r.MTI = mti
	r.ResponseCode = iso.ReasonTimeout
	r.TransmissionTime = "0315103500"
	if stan != "" {
		r.STAN = stan
		r.OriginalData = iso.OriginalData{MTI: orig.MTI, STAN: orig.STAN, Transmitted: orig.TransmissionTime}.String()
	}
	r.PINBlock = nil
	return r
}

func echo(stan string) *iso.Message {
	return &iso.Message{MTI: "0800", TransmissionTime: de7, STAN: stan, TerminalID: "TERM0001", NetworkCode: "301"}
}

func pinBlock(t testing.TB, pin, pan string) []byte {
	t.Helper()
	b, err := iso.EncryptPINBlock(pin, pan, iso.TestPINKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *server) balance(t testing.TB, name string) Balance {
	t.Helper()
	b, err := s.a.Balance(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *server) journal(t testing.TB, f Filter) []Entry {
	t.Helper()
	j, err := s.a.Journal(f)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// inEntry returns the journal's in line for the terminal's STAN (the last one).
func (s *server) inEntry(t testing.TB, mti, stan string) Entry {
	t.Helper()
	var found *Entry
	for _, e := range s.journal(t, Filter{STAN: stan}) {
		if e.Direction == "in" && e.MTI == mti {
			e := e
			found = &e
		}
	}
	if found == nil {
		t.Fatalf("no journal line in %s STAN %s", mti, stan)
	}
	return *found
}

func (s *server) txn(t testing.TB, stan string) Txn {
	t.Helper()
	txns, err := s.a.Transactions(Filter{STAN: stan})
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) == 0 {
		t.Fatalf("no transaction with STAN %s", stan)
	}
	return txns[len(txns)-1]
}

// addRule installs a fault rule or fails the test.
func (s *server) addRule(t testing.TB, r fault.Rule) {
	t.Helper()
	if _, err := s.a.Faults().Add(r); err != nil {
		t.Fatalf("add rule: %v", err)
	}
}

func wantCode(t testing.TB, r *iso.Message, code string) {
	t.Helper()
	if r.ResponseCode != code {
		t.Fatalf("%s STAN %s: DE39 = %q, want %q", r.MTI, r.STAN, r.ResponseCode, code)
	}
}

func stan(i int) string { return fmt.Sprintf("%06d", i) }
