package acquirer

import (
	"errors"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
)

// frameRec is one frame an observer saw.
type frameRec struct {
	conn string // "" for the shared Observer
	dir  iso.Direction
	mti  string // "" for bytes that do not unpack
	n    int
}

// observed collects what the observers and OnFault are told, from any goroutine.
type observed struct {
	mu     sync.Mutex
	shared []frameRec
	per    []frameRec
	asked  []string
	faults []FaultRecord
}

func (o *observed) observer(conn string, into *[]frameRec) iso.Observer {
	return func(dir iso.Direction, raw []byte, m *iso.Message, _ time.Time) {
		r := frameRec{conn: conn, dir: dir, n: len(raw)}
		if m != nil {
			r.mti = m.MTI
		}
		o.mu.Lock()
		*into = append(*into, r)
		o.mu.Unlock()
	}
}

func (o *observed) options() Options {
	return Options{
		Observer: o.observer("", &o.shared),
		ObserverFor: func(conn string) iso.Observer {
			o.mu.Lock()
			o.asked = append(o.asked, conn)
			o.mu.Unlock()
			return o.observer(conn, &o.per)
		},
		OnFault: func(f FaultRecord) {
			o.mu.Lock()
			o.faults = append(o.faults, f)
			o.mu.Unlock()
		},
	}
}

func (o *observed) snapshot() (shared, per []frameRec, asked []string, faults []FaultRecord) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.shared), slices.Clone(o.per), slices.Clone(o.asked), slices.Clone(o.faults)
}

// TestObserverForAndOnFault: each connection gets an observer of its own, named like the
// journal numbers it; the shared Observer still sees every frame; every firing reaches
// OnFault with its rule, action, parameters and the request it hit, including bytes a fault
// writes as they are and refused connections.
func TestObserverForAndOnFault(t *testing.T) {
	var o observed
	s := start(t, o.options())
	s.addRule(t, fault.Rule{Name: "mc says no", Match: fault.Match{Card: "mc-ok"}, Action: fault.ActionDecline,
		Params: fault.Params{Code: "05"}})
	s.addRule(t, fault.Rule{Name: "cut short", Match: fault.Match{Card: "unionpay-ok"}, Action: fault.ActionTruncateResponse,
		Params: fault.Params{Bytes: 10}})

	c1 := s.dial(t)
	wantCode(t, c1.send(t, sale(t, "visa-ok", 2500, stan(1))), "00")
	c2 := s.dial(t)
	wantCode(t, c2.send(t, sale(t, "mc-ok", 2500, stan(2))), "05")
	// The truncated answer goes out as raw bytes, then the connection closes.
	c3 := s.dial(t)
	if _, err := c3.Send(t.Context(), sale(t, "unionpay-ok", 2500, stan(3)), 5*time.Second); err == nil {
		t.Fatal("a truncated answer was read whole")
	}

	shared, per, asked, faults := o.snapshot()
	if want := []string{"c1", "c2", "c3"}; !slices.Equal(asked, want) {
		t.Errorf("ObserverFor asked for %v, want %v", asked, want)
	}
	want := []frameRec{
		{"c1", iso.In, "0200", 0}, {"c1", iso.Out, "0210", 0},
		{"c2", iso.In, "0200", 0}, {"c2", iso.Out, "0210", 0},
		{"c3", iso.In, "0200", 0}, {"c3", iso.Out, "", 10},
	}
	if len(per) != len(want) {
		t.Fatalf("per-connection observers saw %+v, want %+v", per, want)
	}
	for i, w := range want {
		g := per[i]
		if g.conn != w.conn || g.dir != w.dir || g.mti != w.mti || (w.n != 0 && g.n != w.n) {
			t.Errorf("frame %d: %+v, want %+v", i, g, w)
		}
	}
	if len(shared) != len(per) {
		t.Errorf("the shared Observer saw %d frames, the per-connection ones %d", len(shared), len(per))
	}
	// The journal numbers connections the same way.
	for _, e := range s.journal(t, Filter{}) {
		if e.STAN == stan(2) && e.Direction == "in" && "c"+strconv.FormatInt(e.Conn, 10) != "c2" {
			t.Errorf("journal conn %d for the second connection's request", e.Conn)
		}
	}

	if len(faults) != 2 {
		t.Fatalf("OnFault told %+v, want 2 firings", faults)
	}
	f := faults[0]
	if f.Conn != "c2" || f.RuleID != "f1" || f.Rule != "mc says no" || f.Action != fault.ActionDecline ||
		!maps.Equal(f.Params, map[string]string{"code": "05"}) || f.MTI != "0200" || f.STAN != stan(2) ||
		f.Terminal != "TERM0001" || f.Time.IsZero() {
		t.Errorf("decline firing %+v", f)
	}
	f = faults[1]
	if f.Conn != "c3" || f.Rule != "cut short" || f.Action != fault.ActionTruncateResponse ||
		!maps.Equal(f.Params, map[string]string{"bytes": "10"}) || f.STAN != stan(3) {
		t.Errorf("truncate firing %+v", f)
	}

	// A refused connection is a firing too, named by its rule, with no request.
	s.addRule(t, fault.Rule{Name: "host down", Action: fault.ActionRefuseConnections})
	if nc, err := net.Dial("tcp", s.addr); err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial: %v", err)
		}
	} else {
		defer nc.Close()
		// The firing is reported before the connection is reset: once the read ends, it is there.
		_, _ = readClosed(t, nc)
	}
	_, _, asked, faults = o.snapshot()
	if len(faults) != 3 {
		t.Fatalf("OnFault told %d firings after a refused connection, want 3", len(faults))
	}
	f = faults[2]
	if f.Conn != "c4" || f.RuleID != "f3" || f.Rule != "host down" || f.Action != fault.ActionRefuseConnections ||
		f.Params != nil || f.MTI != "" || f.STAN != "" {
		t.Errorf("refuse firing %+v", f)
	}
	if len(asked) != 3 {
		t.Errorf("ObserverFor was asked for a refused connection: %v", asked)
	}
}

func TestFaultParams(t *testing.T) {
	for _, tc := range []struct {
		p    fault.Params
		want map[string]string
	}{
		{fault.Params{}, nil},
		{fault.Params{Code: "91"}, map[string]string{"code": "91"}},
		{fault.Params{Chunk: 5, GapMS: 200}, map[string]string{"chunk": "5", "gap_ms": "200"}},
		{fault.Params{MS: 45000, Bytes: 3, Amount: "10.00"}, map[string]string{"ms": "45000", "bytes": "3", "amount": "10.00"}},
	} {
		if got := fault.ParamMap(tc.p); !maps.Equal(got, tc.want) || (tc.want == nil) != (got == nil) {
			t.Errorf("ParamMap(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}
