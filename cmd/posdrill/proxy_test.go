package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/isotest"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator"
)

type testProxy struct {
	addr, admin, trace string
	stderr             *isotest.Buffer
}

// startTestProxy runs `posdrill proxy` (runProxy) in front of upstream with an admin API and
// a trace file, and stops it at the end of the test.
func startTestProxy(t *testing.T, upstream string, extra proxyFlags) *testProxy {
	t.Helper()
	tp := &testProxy{trace: filepath.Join(t.TempDir(), "proxy.jsonl"), stderr: &isotest.Buffer{}}
	f := extra
	f.listen, f.upstream, f.admin, f.traceFile, f.seed = "127.0.0.1:0", upstream, "127.0.0.1:0", tp.trace, 7
	if f.dialect == "" {
		f.dialect, f.framing = "ascii", "len2"
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- runProxy(ctx, f, io.Discard, tp.stderr, func(p, a string) { tp.addr, tp.admin = p, a; close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("proxy did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	})
	return tp
}

// faultCLI runs `posdrill fault --admin ADDR args...`, the live control a user has.
func faultCLI(t *testing.T, admin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"fault", "--admin", admin}, args...), strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("posdrill fault %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

// TestProxyNetworkFaults puts the fault proxy between the terminal engine (what posdrill pay
// runs) and a posdrill acquirer over TCP, makes each network action happen on the 0200 it
// names, and checks that the terminal recovers as the scenario library says — outcome,
// events, SAF — and that the host's ledger agrees: charged once, or not at all after the
// reversal.
func TestProxyNetworkFaults(t *testing.T) {
	acq, host := startAcquirerWith(t, acquirer.Options{Seed: 1})
	px := startTestProxy(t, host, proxyFlags{})
	p := simulator.DefaultProfile()
	p.Host = px.addr
	p.ResponseTimeout = 400 * time.Millisecond
	p.ConnectTimeout = 2 * time.Second
	p.ReversalInterval = 50 * time.Millisecond
	term, err := simulator.New(p, simulator.Options{Journal: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = term.Close() })

	const card, amount = "visa-ok", 2500
	tests := []struct {
		name    string
		rule    []string // posdrill fault add flags
		outcome string
		events  []string // in this order among the operation's events
		charged bool     // the card ends up charged (else: balance unchanged)
		revCode string   // the reversal's answer code, when one is expected
	}{
		{"answer lost after commit", []string{"--action", "drop_after_commit"}, simulator.KindTimedOutReversed,
			[]string{"connection_lost", "reversal_acknowledged"}, false, "00"},
		{"reset instead of the answer", []string{"--action", "reset"}, simulator.KindTimedOutReversed,
			[]string{"connection_lost", "reversal_acknowledged"}, false, "00"},
		{"no response", []string{"--action", "no_response"}, simulator.KindTimedOutReversed,
			[]string{"timed_out", "reversal_acknowledged"}, false, "00"},
		{"answer later than the timeout", []string{"--action", "delay", "--ms", "900"}, simulator.KindTimedOutReversed,
			[]string{"timed_out", "reversal_acknowledged"}, false, "00"},
		{"answer a little late", []string{"--action", "delay", "--ms", "100"}, simulator.KindApproved,
			[]string{"answered"}, true, ""},
		{"truncated answer", []string{"--action", "truncate_response", "--bytes", "20"}, simulator.KindTimedOutReversed,
			[]string{"connection_lost", "reversal_acknowledged"}, false, "00"},
		{"answer in pieces", []string{"--action", "split_response", "--chunk", "7", "--gap-ms", "10"}, simulator.KindApproved,
			[]string{"answered"}, true, ""},
		{"garbled answer", []string{"--action", "garble_response"}, simulator.KindTimedOutReversed,
			[]string{"garbled_answer", "reversal_acknowledged"}, false, "00"},
		{"answer with a wrong STAN", []string{"--action", "wrong_stan"}, simulator.KindTimedOutReversed,
			[]string{"unmatched_answer", "timed_out", "reversal_acknowledged"}, false, "00"},
		{"answer twice", []string{"--action", "duplicate_response"}, simulator.KindApproved,
			[]string{"answered"}, true, ""},
		{"request lost before the host", []string{"--action", "drop_before_processing"}, simulator.KindTimedOutReversed,
			[]string{"connection_lost", "reversal_acknowledged"}, false, "25"},
		{"request held a little", []string{"--action", "delay_request", "--ms", "100"}, simulator.KindApproved,
			[]string{"answered"}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			faultCLI(t, px.admin, "clear")
			faultCLI(t, px.admin, append([]string{"add", "--mti", "0200", "--card", card, "--count", "1"}, tc.rule...)...)
			before, err := acq.Balance(card)
			if err != nil {
				t.Fatal(err)
			}
			out := term.Sale(context.Background(), simulator.Payment{Card: card, Amount: amount, PIN: "1234"})
			if out.Kind != tc.outcome {
				t.Fatalf("outcome %s (%v), want %s; events %s", out.Kind, out.Err, tc.outcome, eventKinds(out.Events))
			}
			if !inOrder(eventKinds(out.Events), tc.events) {
				t.Errorf("events %s, want %v in this order", eventKinds(out.Events), tc.events)
			}
			if tc.revCode != "" {
				found := false
				for _, e := range out.Events {
					if e.Kind == simulator.EventReversalAcknowledged && e.Code == tc.revCode {
						found = true
					}
				}
				if !found {
					t.Errorf("no reversal acknowledged with %s: %+v", tc.revCode, out.Events)
				}
			}
			if n := len(term.SAF()); n != 0 {
				t.Errorf("%d entries still in the SAF queue", n)
			}
			after, err := acq.Balance(card)
			if err != nil {
				t.Fatal(err)
			}
			want := before.Available
			if tc.charged {
				want -= amount
			}
			if after.Available != want {
				t.Errorf("ledger: %s available %d, want %d (before %d)", card, after.Available, want, before.Available)
			}
			rules := faultCLI(t, px.admin, "list")
			if !strings.Contains(rules, tc.rule[1]) || !strings.Contains(rules, "  1\n") {
				t.Errorf("the rule did not fire exactly once:\n%s", rules)
			}
		})
	}

	t.Run("posdrill pay through the proxy", func(t *testing.T) {
		faultCLI(t, px.admin, "clear")
		faultCLI(t, px.admin, "add", "--action", "drop_after_commit", "--mti", "0200", "--amount", "7.00", "--count", "1")
		before, _ := acq.Balance("mc-ok")
		dir := t.TempDir()
		prof, journal := filepath.Join(dir, "profile.yaml"), filepath.Join(dir, "terminal.db") // STANs carry over, as at a till

		os.WriteFile(prof, []byte("tid: TERM0009\nresponse_timeout: 400ms\nreversal_interval: 50ms\n"), 0o600)
		code, out, errOut := cli(context.Background(), "pay", "--host", px.addr, "--card", "mc-ok", "--amount", "7.00", "--pin", "1234",
			"--profile", prof, "--journal", journal)
		if code != 1 || !strings.Contains(out, "TIMED OUT REVERSED") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
		if after, _ := acq.Balance("mc-ok"); after.Available != before.Available {
			t.Errorf("ledger: %d, want %d after the reversal", after.Available, before.Available)
		}
		code, out, _ = cli(context.Background(), "pay", "--host", px.addr, "--card", "mc-ok", "--amount", "7.00", "--pin", "1234",
			"--profile", prof, "--journal", journal)
		if code != 0 || !strings.Contains(out, "APPROVED") {
			t.Errorf("the next payment: exit %d\n%s", code, out)
		}
		if after, _ := acq.Balance("mc-ok"); after.Available != before.Available-700 {
			t.Errorf("ledger: %d, want %d: charged once", after.Available, before.Available-700)
		}
	})

	t.Run("the trace reproduces as a scenario", func(t *testing.T) {
		var actions []string
		for _, tc := range tests {
			actions = append(actions, tc.rule[1])
		}
		reproduceFromProxyTrace(t, px.trace, p.ResponseTimeout, len(tests)+2, actions...) // and the two payments of pay
	})

	t.Run("trace and console", func(t *testing.T) {
		raw, err := os.ReadFile(px.trace)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := trace.ReadAll(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		fired := map[string]bool{}
		for _, r := range recs {
			if r.Fault != nil {
				fired[r.Fault.Action] = true
				if r.Fault.MTI != "0200" || r.Fault.STAN == "" || r.Fault.Source != trace.SourceProxy {
					t.Errorf("fault record %+v: want the 0200 it matched", *r.Fault)
				}
			}
		}
		for _, tc := range tests {
			if !fired[tc.rule[1]] {
				t.Errorf("no fault record for %s in the trace", tc.rule[1])
			}
		}
		if strings.Contains(string(raw), "4111111111111111") || strings.Contains(px.stderr.String(), "4111111111111111") {
			t.Error("a full card number in the trace or on the console")
		}
		if !strings.Contains(px.stderr.String(), "fired: garble_response on 0200") {
			t.Errorf("stderr does not report the firings:\n%s", px.stderr.String())
		}
	})
}

func eventKinds(evs []simulator.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// inOrder reports whether want appears in got as a subsequence.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestProxyBadInput: an upstream that is down, a terminal sending garbage, an upstream
// answering garbage or closing mid-frame, and a frame that does not decode: the proxy says
// what happened on stderr and in the trace, passes what it cannot read unchanged, and keeps
// serving the next terminal.
func TestProxyBadInput(t *testing.T) {
	fr, _ := iso.ParseFraming("len2")
	sale := &iso.Message{MTI: "0800", STAN: "000001", TerminalID: "TERM0001", NetworkCode: "301", TransmissionTime: "0107120000"}
	payload, err := iso.ASCII.Pack(sale)
	if err != nil {
		t.Fatal(err)
	}
	echo, _ := fr.AppendFrame(nil, nil, payload)

	// A scripted upstream: each accepted connection gets the next behaviour.
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Unbuffered, and fed right after the terminal dials: the upstream connection the proxy
	// opens for that terminal is the one that takes the behaviour.
	behaviours := make(chan func(net.Conn))
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			b := <-behaviours
			go func() { defer c.Close(); b(c) }()
		}
	}()
	t.Cleanup(func() { up.Close() })
	px := startTestProxy(t, up.Addr().String(), proxyFlags{})
	dial := func(t *testing.T) net.Conn {
		c, err := net.Dial("tcp", px.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}
	answerEcho := func(c net.Conn) {
		f, err := fr.ReadFrame(c, 0)
		if err != nil {
			return
		}
		m, _ := iso.ASCII.Unpack(f.Payload)
		b, _ := iso.ASCII.Pack(m.Reply("00"))
		out, _ := fr.AppendFrame(nil, nil, b)
		c.Write(out)
	}
	roundTrip := func(t *testing.T) {
		t.Helper()
		c := dial(t)
		behaviours <- answerEcho
		c.Write(echo)
		f, err := fr.ReadFrame(c, 0)
		if err != nil {
			t.Fatalf("a well-behaved exchange after the bad one failed: %v", err)
		}
		if m, _ := iso.ASCII.Unpack(f.Payload); m == nil || m.MTI != "0810" {
			t.Fatalf("answer %X", f.Payload)
		}
	}

	garbage := []byte("GET / HTTP/1.1\r\n\r\n")
	passed := make(chan []byte, 1)
	tests := []struct {
		name     string
		upstream func(net.Conn) // nil: the upstream is not reached
		client   func(t *testing.T, c net.Conn)
		stderr   string
	}{
		{"terminal sends garbage", func(c net.Conn) {
			// The proxy reports the garbage before it passes it through: once it is here,
			// stderr says so.
			b := make([]byte, len(garbage))
			io.ReadFull(c, b)
			passed <- b
		}, func(t *testing.T, c net.Conn) {
			c.Write(garbage)
			if b := <-passed; !bytes.Equal(b, garbage) {
				t.Errorf("garbage reached the host as %q, want unchanged", b)
			}
		}, "unframed"},
		{"frame that does not decode passes unchanged", func(c net.Conn) {
			// Echo back what arrived, so the client can compare bytes.
			f, err := fr.ReadFrame(c, 0)
			if err == nil {
				out, _ := fr.AppendFrame(nil, nil, f.Payload)
				c.Write(out)
			}
		}, func(t *testing.T, c net.Conn) {
			junk, _ := fr.AppendFrame(nil, nil, []byte("XYZ not an ISO message"))
			c.Write(junk)
			got := make([]byte, len(junk))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, junk) {
				t.Errorf("undecodable frame came back as %q (%v), want it unchanged", got, err)
			}
		}, "undecodable"},
		{"upstream answers garbage", func(c net.Conn) {
			fr.ReadFrame(c, 0)
			c.Write([]byte{0xFF, 0xFF, 'x', 'y'})
		}, func(t *testing.T, c net.Conn) {
			c.Write(echo)
			b, _ := io.ReadAll(c)
			if !bytes.Equal(b, []byte{0xFF, 0xFF, 'x', 'y'}) {
				t.Errorf("garbage from the host reached the terminal as %q, want unchanged", b)
			}
		}, "unframed"},
		{"upstream closes mid-frame", func(c net.Conn) {
			fr.ReadFrame(c, 0)
			c.Write(echo[:10])
		}, func(t *testing.T, c net.Conn) {
			c.Write(echo)
			b, _ := io.ReadAll(c)
			if !bytes.Equal(b, echo[:10]) {
				t.Errorf("terminal got %q, want the same 10 bytes the host sent", b)
			}
		}, "cut"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t)
			behaviours <- tc.upstream
			tc.client(t, c)
			roundTrip(t)
			if !strings.Contains(px.stderr.String(), tc.stderr) {
				t.Errorf("stderr does not say %q:\n%s", tc.stderr, px.stderr.String())
			}
		})
	}

	t.Run("upstream down", func(t *testing.T) {
		down, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := down.Addr().String()
		down.Close()
		px2 := startTestProxy(t, addr, proxyFlags{})
		c, err := net.Dial("tcp", px2.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(echo)
		if b, _ := io.ReadAll(c); len(b) != 0 {
			t.Errorf("got %q from a proxy whose host is down", b)
		}
		if !strings.Contains(px2.stderr.String(), "upstream_unreachable: cannot reach "+addr) {
			t.Errorf("stderr:\n%s", px2.stderr.String())
		}
		raw, _ := os.ReadFile(px2.trace)
		if !strings.Contains(string(raw), `"upstream_unreachable"`) {
			t.Errorf("trace lacks the event:\n%s", raw)
		}
	})

	t.Run("decisions are refused", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"fault", "--admin", px.admin, "add", "--action", "issuer_down"},
			strings.NewReader(""), &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), "not available here") {
			t.Errorf("adding a decline to a proxy: exit %d, stderr %s", code, stderr.String())
		}
		rules := filepath.Join(t.TempDir(), "rules.yaml")
		os.WriteFile(rules, []byte("- action: decline\n  params: {code: \"05\"}\n"), 0o600)
		code = run(context.Background(), []string{"proxy", "--upstream", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--faults", rules},
			strings.NewReader(""), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "decline is not available here") {
			t.Errorf("proxy --faults with a decline: exit %d, stderr %s", code, stderr.String())
		}
	})
}

// The proxy decodes whatever dialect and framing it is told: BCD with a TPDU here, where a
// wrong_stan rule must re-pack the answer in BCD behind the same TPDU for the terminal to
// read it as an answer with another STAN.
func TestProxyBCDWithTPDU(t *testing.T) {
	bcd, _ := iso.DialectByName("bcd")
	fr, _ := iso.ParseFraming("len2+tpdu")
	acq, host := startAcquirerWith(t, acquirer.Options{Seed: 3, Dialect: bcd, Framing: fr})
	px := startTestProxy(t, host, proxyFlags{dialect: "bcd", framing: "len2+tpdu"})
	p := simulator.DefaultProfile()
	p.Host, p.Dialect, p.Framing = px.addr, "bcd", "len2+tpdu"
	p.ResponseTimeout, p.ReversalInterval = 300*time.Millisecond, 50*time.Millisecond
	term, err := simulator.New(p, simulator.Options{Journal: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	faultCLI(t, px.admin, "add", "--action", "wrong_stan", "--mti", "0200", "--count", "1")
	before, _ := acq.Balance("mc-ok")
	out := term.Sale(context.Background(), simulator.Payment{Card: "mc-ok", Amount: 1000, PIN: "1234"})
	if out.Kind != simulator.KindTimedOutReversed || !inOrder(eventKinds(out.Events), []string{"unmatched_answer", "reversal_acknowledged"}) {
		t.Fatalf("outcome %s, events %v", out.Kind, eventKinds(out.Events))
	}
	if after, _ := acq.Balance("mc-ok"); after.Available != before.Available {
		t.Errorf("ledger: %d, want %d after the reversal", after.Available, before.Available)
	}
	if out := term.Sale(context.Background(), simulator.Payment{Card: "mc-ok", Amount: 1000, PIN: "1234"}); out.Kind != simulator.KindApproved {
		t.Errorf("the next sale, untouched: %s (%v)", out.Kind, out.Err)
	}
	if strings.Contains(px.stderr.String(), "undecodable") {
		t.Errorf("the proxy could not decode BCD frames:\n%s", px.stderr.String())
	}
}

// refuse_connections: a terminal connecting while the rule holds is cut off before the
// host is dialled; the firing is reported; the next connection goes through.
func TestProxyRefusesConnections(t *testing.T) {
	_, host := startAcquirerWith(t, acquirer.Options{Seed: 1})
	px := startTestProxy(t, host, proxyFlags{})
	faultCLI(t, px.admin, "add", "--action", "refuse_connections", "--count", "1")
	// The reset may already meet the dial, or only the first read.
	if c, err := net.Dial("tcp", px.addr); err == nil {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Errorf("read %d bytes, %v: want the connection cut", n, err)
		}
		c.Close()
	}
	if !strings.Contains(px.stderr.String(), "refuse_connections") {
		t.Errorf("stderr does not report the refusal:\n%s", px.stderr.String())
	}
	p := simulator.DefaultProfile()
	p.Host = px.addr
	term, err := simulator.New(p, simulator.Options{Journal: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if out := term.Sale(context.Background(), simulator.Payment{Card: "visa-ok", Amount: 100, PIN: "1234"}); out.Kind != simulator.KindApproved {
		t.Errorf("after the one refusal: %s (%v)", out.Kind, out.Err)
	}
}

// reproduceFromProxyTrace turns a proxy's trace into a scenario (posdrill scenario
// from-trace) and runs it with our terminal on the virtual clock: each failure the proxy
// made happen must come out as a fault rule that makes it happen again, with the recovery
// a correct terminal shows.
func reproduceFromProxyTrace(t *testing.T, path string, timeout time.Duration, wantSteps int, wantActions ...string) {
	t.Helper()
	recs, err := trace.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text, err := scenarios.FromTrace(recs, scenarios.FromTraceOptions{File: "proxy.jsonl", Cards: cards.Builtin(), ResponseTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse(text, "from-proxy.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if len(sc.Steps) != wantSteps {
		t.Errorf("%d steps, want %d:\n%s", len(sc.Steps), wantSteps, text)
	}
	for _, a := range wantActions {
		if !strings.Contains(string(text), "action: "+a) {
			t.Errorf("no %s rule:\n%s", a, text)
		}
	}
	if res := scenarios.Run(context.Background(), sc, scenarios.Options{}); !res.Passed {
		t.Errorf("the scenario from the proxy's trace fails with our terminal:\n%s\n%s", res.FailureText(), text)
	}
}
