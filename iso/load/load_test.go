package load_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/load"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func canned(t *testing.T) *load.CannedServer {
	t.Helper()
	s := load.NewCannedServer(listen(t), iso.ASCII, iso.DefaultFraming)
	t.Cleanup(func() { s.Close() })
	return s
}

// recorder is a host that approves everything and remembers what it was sent.
type recorder struct {
	mu   sync.Mutex
	msgs []*iso.Message
	// answer decides the code (nil: 00); "" means no answer.
	answer func(m *iso.Message) string
	// closeAfter closes a connection after that many requests on it (0: never).
	closeAfter int
}

func (rec *recorder) serve(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	var wg sync.WaitGroup
	var conns []*iso.Conn
	var cmu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			n := 0
			c := iso.NewConn(nc, iso.WithHandler(func(c *iso.Conn, in iso.Inbound) {
				if in.Err != nil {
					return
				}
				rec.mu.Lock()
				rec.msgs = append(rec.msgs, in.Msg)
				rec.mu.Unlock()
				n++
				if rec.closeAfter > 0 && n > rec.closeAfter {
					c.NetConn().Close()
					return
				}
				code := iso.RCApproved
				if rec.answer != nil {
					code = rec.answer(in.Msg)
				}
				if code == "" {
					return
				}
				_ = c.Write(nil, in.Msg.Reply(code))
			}))
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
		}
	}()
	return ln.Addr().String()
}

func (rec *recorder) all() []*iso.Message {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.msgs)
}

func TestFleetAgainstCannedServer(t *testing.T) {
	s := canned(t)
	mix, err := load.ParseMix("sale:80,refund:10,reversal:5,balance:3,echo:2")
	if err != nil {
		t.Fatal(err)
	}
	var progress []load.Progress
	rep, err := load.Run(context.Background(), load.Config{
		Addr: s.Addr().String(), Terminals: 12, InFlight: 3, Count: 1200, Mix: mix, Seed: 7,
		Progress: func(p load.Progress) { progress = append(progress, p) }, ProgressEvery: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 1200 || rep.Answered != 1200 || rep.Timeouts != 0 || rep.Errors != 0 {
		t.Fatalf("sent %d answered %d timeouts %d errors %d, want 1200 answered", rep.Sent, rep.Answered, rep.Timeouts, rep.Errors)
	}
	if rep.Codes["00"] != 1200 || rep.Latency.Count != 1200 {
		t.Errorf("codes %v, latency count %d", rep.Codes, rep.Latency.Count)
	}
	if s.Served() != 1200 {
		t.Errorf("server answered %d", s.Served())
	}
	var sum int64
	for _, o := range rep.Ops {
		sum += o.Answered
	}
	if sum != 1200 || rep.Ops["sale"] == nil || rep.Ops["reversal"] == nil {
		t.Errorf("ops %v", rep.Ops)
	}
	if len(progress) == 0 || progress[len(progress)-1].Fraction() != 1 {
		t.Errorf("progress %v", progress)
	}
	if !(rep.Latency.Min <= rep.Latency.P50 && rep.Latency.P50 <= rep.Latency.P99 && rep.Latency.P99 <= rep.Latency.Max) {
		t.Errorf("latency not ordered: %+v", rep.Latency)
	}
}

// TestSTANsUniquePerTerminalAcrossTheFleet: 20 connections share 9 terminal ids, and still
// no terminal id sends the same STAN twice.
func TestSTANsUniquePerTerminalAcrossTheFleet(t *testing.T) {
	rec := &recorder{}
	addr := rec.serve(t)
	rep, err := load.Run(context.Background(), load.Config{Addr: addr, Terminals: 20, InFlight: 2, Count: 2000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Answered != 2000 {
		t.Fatalf("answered %d", rep.Answered)
	}
	seen := map[string]bool{}
	tids := map[string]bool{}
	for _, m := range rec.all() {
		k := m.TerminalID + "/" + m.STAN
		if seen[k] {
			t.Fatalf("terminal %s sent STAN %s twice", m.TerminalID, m.STAN)
		}
		seen[k] = true
		tids[m.TerminalID] = true
	}
	if len(tids) != 9 {
		t.Errorf("terminal ids used: %v, want the 9 of the built-in merchant", tids)
	}
}

// TestReversalsReverseOwnApprovedSalesOnce: every 0400 points (DE90) at an approved sale of
// the same terminal id, sent on the same connection, and no sale is reversed twice.
func TestReversalsReverseOwnApprovedSalesOnce(t *testing.T) {
	rec := &recorder{answer: func(m *iso.Message) string {
		if m.MTI == "0200" && m.STAN[5]%3 == 0 {
			return iso.RCInsufficientFunds // some sales declined: never reversed
		}
		return iso.RCApproved
	}}
	addr := rec.serve(t)
	mix, _ := load.ParseMix("sale:50,reversal:50")
	rep, err := load.Run(context.Background(), load.Config{Addr: addr, Terminals: 4, InFlight: 2, Count: 800, Mix: mix, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Answered != 800 || rep.Ops["reversal"] == nil || rep.Ops["reversal"].Answered == 0 {
		t.Fatalf("report %+v", rep)
	}
	sales := map[string]*iso.Message{}
	reversed := map[string]bool{}
	for _, m := range rec.all() {
		switch m.MTI {
		case "0200":
			sales[m.TerminalID+"/"+m.STAN+"/"+m.TransmissionTime] = m
		case "0400":
			od, err := iso.ParseOriginalData(m.OriginalData)
			if err != nil {
				t.Fatal(err)
			}
			k := m.TerminalID + "/" + od.STAN + "/" + od.Transmitted
			orig := sales[k]
			if orig == nil {
				t.Fatalf("reversal %s points at %s: no such sale seen before it", m.STAN, k)
			}
			if orig.STAN[5]%3 == 0 {
				t.Fatalf("reversal of declined sale %s", k)
			}
			if reversed[k] {
				t.Fatalf("sale %s reversed twice", k)
			}
			reversed[k] = true
			if m.Amount != orig.Amount || m.PAN != orig.PAN || m.ResponseCode != iso.ReasonCancel {
				t.Errorf("reversal %+v of %+v", m, orig)
			}
		}
	}
	if int64(len(reversed)) != rep.Ops["reversal"].Answered {
		t.Errorf("%d reversals seen, report says %d", len(reversed), rep.Ops["reversal"].Answered)
	}
}

// TestOpenLoopKeepsTheSchedule: at a fixed rate the last request is not sent before it is
// due, so the run takes at least (count-1)/rate.
func TestOpenLoopKeepsTheSchedule(t *testing.T) {
	s := canned(t)
	rep, err := load.Run(context.Background(), load.Config{Addr: s.Addr().String(), Terminals: 4, Count: 300, Rate: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if min := 299.0 / 3000; rep.Elapsed < min {
		t.Errorf("300 requests at 3000/s took %.3fs, less than the schedule's %.3fs", rep.Elapsed, min)
	}
	if rep.Answered != 300 || rep.Service == nil || rep.Service.Count != 300 {
		t.Errorf("answered %d, service %+v", rep.Answered, rep.Service)
	}
}

func TestDurationStopsTheRun(t *testing.T) {
	s := canned(t)
	rep, err := load.Run(context.Background(), load.Config{Addr: s.Addr().String(), Terminals: 2, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Answered == 0 || rep.Elapsed < 0.1 {
		t.Errorf("answered %d in %.3fs", rep.Answered, rep.Elapsed)
	}
}

func TestTimeoutsAreCounted(t *testing.T) {
	rec := &recorder{answer: func(m *iso.Message) string {
		if m.ProcessingCode == iso.ProcRefund {
			return "" // never answered
		}
		return iso.RCApproved
	}}
	addr := rec.serve(t)
	mix, _ := load.ParseMix("sale:1,refund:1")
	rep, err := load.Run(context.Background(), load.Config{Addr: addr, Terminals: 2, InFlight: 4, Count: 40, Mix: mix, Timeout: 50 * time.Millisecond, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Ops["refund"]
	if r == nil || r.Timeouts == 0 || r.Answered != 0 || rep.Timeouts != r.Timeouts || rep.Answered != rep.Ops["sale"].Answered {
		t.Fatalf("ops %+v", rep.Ops)
	}
	if rep.Answered+rep.Timeouts != 40 {
		t.Errorf("answered %d + timeouts %d != 40", rep.Answered, rep.Timeouts)
	}
}

func TestClosedConnectionsAreCountedAndReconnected(t *testing.T) {
	rec := &recorder{closeAfter: 5}
	addr := rec.serve(t)
	rep, err := load.Run(context.Background(), load.Config{Addr: addr, Terminals: 1, Count: 30, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors == 0 || rep.ErrorKinds["connection closed"] == 0 || rep.Events["reconnect"] == 0 {
		t.Fatalf("errors %d %v, events %v", rep.Errors, rep.ErrorKinds, rep.Events)
	}
	if rep.Answered == 0 || rep.Answered+rep.Errors+rep.Timeouts != rep.Sent {
		t.Errorf("sent %d answered %d errors %d timeouts %d", rep.Sent, rep.Answered, rep.Errors, rep.Timeouts)
	}
}

func TestCannotConnect(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	_, err := load.Run(context.Background(), load.Config{Addr: addr, Terminals: 2, Count: 1})
	if !errors.Is(err, load.ErrConnect) {
		t.Fatalf("err %v, want ErrConnect", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]load.Config{
		"no address": {Count: 1},
		"no end":     {Addr: "127.0.0.1:1"},
		"bad rate":   {Addr: "127.0.0.1:1", Count: 1, Rate: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load.Run(context.Background(), cfg); !errors.Is(err, load.ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"sale:90,refund:5,reversal:5", "sale:90,refund:5,reversal:5", ""},
		{"sale", "sale:1", ""},
		{" echo:1 , sale:3 ", "sale:3,echo:1", ""},
		{"sale:1,sale:2", "sale:3", ""},
		{"sale:x", "", "whole number"},
		{"sale:-1", "", "whole number"},
		{"refund:0", "", "no operation has a weight"},
		{"void:1", "", "unknown operation"},
		{"reversal:1", "", "need sales"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := load.ParseMix(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || m.String() != tc.want {
				t.Fatalf("got %q, %v; want %q", m.String(), err, tc.want)
			}
		})
	}
}

// TestHistogramQuantilesWithinAPercent compares against the exact quantiles of a sorted
// sample spanning microseconds to seconds.
func TestHistogramQuantilesWithinAPercent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h load.Histogram
	vals := make([]time.Duration, 50000)
	for i := range vals {
		vals[i] = time.Duration(math.Exp(r.Float64() * math.Log(5e9))) // 1 ns .. 5 s, log-uniform
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[max(0, int(math.Ceil(q*float64(len(vals))))-1)]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/128+1 {
			t.Errorf("q%.3f: histogram %v, exact %v", q, got, exact)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] || h.Count() != uint64(len(vals)) {
		t.Errorf("max %v min %v count %d", h.Max(), h.Min(), h.Count())
	}
	var a, b load.Histogram
	for i, v := range vals {
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(&b)
	if a.Quantile(0.99) != h.Quantile(0.99) || a.Count() != h.Count() || a.Max() != h.Max() {
		t.Errorf("merged histogram differs")
	}
}

// TestReportHasNoCardData: the JSON and the text never carry a PAN.
func TestReportHasNoCardData(t *testing.T) {
	s := canned(t)
	rep, err := load.Run(context.Background(), load.Config{Addr: s.Addr().String(), Count: 50})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.WriteText(&sb)
	for _, out := range []string{string(b), sb.String()} {
		for _, c := range cards.Builtin().Cards {
			if strings.Contains(out, c.PAN) || strings.Contains(out, c.PAN[6:]) {
				t.Errorf("card %s's number in %s", c.Name, out)
			}
		}
	}
	if !strings.Contains(sb.String(), "seed 0") || !strings.Contains(sb.String(), "p99") {
		t.Errorf("text report:\n%s", sb.String())
	}
}

func TestIdleConnectionsEchoAndProcStatus(t *testing.T) {
	s := canned(t)
	idle, err := load.OpenIdle(context.Background(), load.IdleConfig{Addr: s.Addr().String(), Conns: 50, Echo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if idle.Opened != 50 || idle.Echoed != 50 || idle.Failed != 0 || idle.Alive() != 50 {
		t.Fatalf("opened %d echoed %d failed %d alive %d", idle.Opened, idle.Echoed, idle.Failed, idle.Alive())
	}
	ps, err := load.ReadProcStatus(os.Getpid())
	if errors.Is(err, load.ErrNoProc) {
		t.Skipf("no /proc here: %v", err)
	}
	if err != nil || ps.RSS <= 0 || ps.HWM < ps.RSS || ps.Threads <= 0 {
		t.Fatalf("%+v %v", ps, err)
	}
}
