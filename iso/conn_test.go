package iso_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// peer is a scripted host on loopback: for each request it calls answer, which returns the
// frames to write back (already framed).
type peer struct {
	ln     net.Listener
	answer func(c *iso.Conn, in iso.Inbound)
}

func startPeer(t *testing.T, answer func(c *iso.Conn, in iso.Inbound)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := iso.NewConn(nc, iso.WithHandler(answer))
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

type eventLog struct {
	mu     sync.Mutex
	events []iso.Event
	ch     chan iso.Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan iso.Event, 16)} }

func (l *eventLog) add(e iso.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	l.ch <- e
}

func (l *eventLog) next(t *testing.T) iso.Event {
	t.Helper()
	select {
	case e := <-l.ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return iso.Event{}
	}
}

func dial(t *testing.T, addr string, opts ...iso.ConnOption) *iso.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc, opts...)
	t.Cleanup(func() { c.Close() })
	return c
}

func req(stan string) *iso.Message {
	return &iso.Message{MTI: "0200", ProcessingCode: "000000", Amount: "000000000100", STAN: stan, TerminalID: "TERM0001"}
}

func TestSendMatchesAnswersOutOfOrder(t *testing.T) {
	var mu sync.Mutex
	var held []iso.Inbound
	addr := startPeer(t, func(c *iso.Conn, in iso.Inbound) {
		mu.Lock()
		defer mu.Unlock()
		held = append(held, in)
		if len(held) == 3 { // answer all three, last first
			for i := 2; i >= 0; i-- {
				r := held[i].Msg.Reply("00")
				r.AuthCode = held[i].Msg.STAN
				_ = c.Write(nil, r)
			}
		}
	})
	c := dial(t, addr)
	var wg sync.WaitGroup
	for _, stan := range []string{"000001", "000002", "000003"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Send(context.Background(), req(stan), 5*time.Second)
			if err != nil {
				t.Errorf("STAN %s: %v", stan, err)
				return
			}
			if r.STAN != stan || r.AuthCode != stan {
				t.Errorf("STAN %s got answer for %s", stan, r.STAN)
			}
		}()
	}
	wg.Wait()
}

func TestWrongSTANIsReportedNotDelivered(t *testing.T) {
	addr := startPeer(t, func(c *iso.Conn, in iso.Inbound) {
		r := in.Msg.Reply("00")
		r.STAN = "999999"
		_ = c.Write(nil, r)
	})
	log := newEventLog()
	c := dial(t, addr, iso.WithEvents(log.add))
	_, err := c.Send(context.Background(), req("000001"), 300*time.Millisecond)
	if !errors.Is(err, iso.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	e := log.next(t)
	if e.Kind != iso.EventUnmatched || e.Msg.STAN != "999999" || !errors.Is(e.Err, iso.ErrUnmatchedResponse) {
		t.Fatalf("event = %+v", e)
	}
}

func TestLateAndDuplicateAnswers(t *testing.T) {
	release := make(chan struct{})
	addr := startPeer(t, func(c *iso.Conn, in iso.Inbound) {
		r := in.Msg.Reply("00")
		if in.Msg.STAN == "000001" {
			go func() { <-release; _ = c.Write(nil, r) }()
			return
		}
		_ = c.Write(nil, r)
		_ = c.Write(nil, r)
	})
	log := newEventLog()
	c := dial(t, addr, iso.WithEvents(log.add))
	if _, err := c.Send(context.Background(), req("000001"), 100*time.Millisecond); !errors.Is(err, iso.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	close(release)
	if e := log.next(t); e.Kind != iso.EventLate || e.Msg.STAN != "000001" {
		t.Fatalf("event = %+v, want late", e)
	}
	if _, err := c.Send(context.Background(), req("000002"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if e := log.next(t); e.Kind != iso.EventDuplicate || e.Msg.STAN != "000002" {
		t.Fatalf("event = %+v, want duplicate", e)
	}
}

func TestGarbledAnswerIsReportedAndRequestTimesOut(t *testing.T) {
	addr := startPeer(t, func(c *iso.Conn, in iso.Inbound) {
		frame, _ := c.Frame(nil, in.Msg.Reply("00"))
		frame[2] = 'X' // MTI no longer digits
		_ = c.WriteRaw(frame)
	})
	log := newEventLog()
	c := dial(t, addr, iso.WithEvents(log.add))
	if _, err := c.Send(context.Background(), req("000001"), 200*time.Millisecond); !errors.Is(err, iso.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	if e := log.next(t); e.Kind != iso.EventGarbled {
		t.Fatalf("event = %+v", e)
	}
}

func TestCloseFailsWaitingRequests(t *testing.T) {
	addr := startPeer(t, func(c *iso.Conn, in iso.Inbound) { _ = c.NetConn().Close() })
	log := newEventLog()
	c := dial(t, addr, iso.WithEvents(log.add))
	_, err := c.Send(context.Background(), req("000001"), 5*time.Second)
	if !errors.Is(err, iso.ErrConnClosed) {
		t.Fatalf("err = %v, want ErrConnClosed", err)
	}
	if e := log.next(t); e.Kind != iso.EventClosed {
		t.Fatalf("event = %+v", e)
	}
	if _, err := c.Send(context.Background(), req("000002"), time.Second); !errors.Is(err, iso.ErrNotSent) {
		t.Fatalf("send after close: %v, want ErrNotSent", err)
	}
}

func TestHandlerGetsUndecodableRequests(t *testing.T) {
	got := make(chan iso.Inbound, 1)
	addr := startPeer(t, func(c *iso.Conn, in iso.Inbound) { got <- in })
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	frame, _ := iso.DefaultFraming.AppendFrame(nil, nil, []byte("0200\xff\xff"))
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-got:
		var de *iso.DecodeError
		if !errors.As(in.Err, &de) {
			t.Fatalf("err = %v", in.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler not called")
	}
}
