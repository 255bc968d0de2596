package trace_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 11, 26, 2, 15, 0, 0, time.UTC)

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

func sale(stan string) *iso.Message {
	return &iso.Message{
		MTI: "0200", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000002500",
		TransmissionTime: "1126021500", STAN: stan, EntryMode: "051", TerminalID: "TERM0001",
		MerchantID: "POSDRILL0000001", Currency: "156",
		PINBlock: mustPIN("1234", "4111111111111111"),
		EMV:      []byte{0x5A, 0x08, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11},
	}
}

func mustPIN(pin, pan string) []byte {
	b, err := iso.EncryptPINBlock(pin, pan, iso.TestPINKey)
	if err != nil {
		panic(err)
	}
	return b
}

// noCardData fails when a trace holds the test PAN, its track 2, the PIN block or the EMV
// bytes, in text or in hex.
func noCardData(t *testing.T, trace []byte) {
	t.Helper()
	for _, leak := range []string{"4111111111111111", "1111111111", "34313131313131313131", "41111111111111", "5A084111"} {
		if bytes.Contains(bytes.ToUpper(trace), []byte(leak)) {
			t.Errorf("trace holds card data %q:\n%s", leak, trace)
		}
	}
	block := fmt.Sprintf("%X", mustPIN("1234", "4111111111111111"))
	if bytes.Contains(bytes.ToUpper(trace), []byte(block)) {
		t.Errorf("trace holds the PIN block")
	}
}

func TestWriterReaderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	clk := clock.NewVirtual(t0)
	w := trace.NewWriter(&buf, trace.WithClock(clk))
	m := trace.FromMessage(iso.ASCII, iso.In, sale("000123"))
	m.Time, m.Source, m.Conn = t0.Add(1500*time.Microsecond), trace.SourceAcquirer, "c1"
	r := trace.FromMessage(iso.ASCII, iso.Out, sale("000123").Reply("05"))
	r.Source, r.Conn = trace.SourceAcquirer, "c1" // no time: the writer's clock stamps it
	for _, err := range []error{
		w.Message(m),
		w.Fault(trace.Fault{Time: t0, Source: trace.SourceAcquirer, Conn: "c1", RuleID: "r1", Rule: "bank says no",
			Action: "decline", Params: map[string]string{"code": "05"}, MTI: "0200", STAN: "000123", Terminal: "TERM0001"}),
		w.Message(r),
		w.Event(trace.Event{Time: t0.Add(time.Second), Source: trace.SourceTerminal, Kind: "outcome", STAN: "000123",
			Outcome: "declined", Detail: "card 4111111111111111 declined"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	noCardData(t, buf.Bytes())
	golden(t, filepath.Join("testdata", "roundtrip.jsonl"), buf.Bytes())

	recs, err := trace.ReadAll(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("read %d records, want 4", len(recs))
	}
	got := recs[0].Message
	if got == nil || got.MTI != "0200" || got.STAN != "000123" || got.Fields[2] != "411111******1111" ||
		got.Fields[52] != "[8 bytes masked]" || !got.Time.Equal(m.Time) || got.Dir != iso.In {
		t.Errorf("first record read back as %+v", got)
	}
	if f := recs[1].Fault; f == nil || f.Action != "decline" || f.Params["code"] != "05" {
		t.Errorf("fault read back as %+v", recs[1])
	}
	if recs[2].Message.ResponseCode != "05" || !recs[2].Message.Time.Equal(t0) {
		t.Errorf("answer read back as %+v", recs[2].Message)
	}
	if e := recs[3].Event; e == nil || e.Outcome != "declined" || strings.Contains(e.Detail, "4111111111111111") {
		t.Errorf("event read back as %+v", recs[3])
	}
	// Written again, the records give the same bytes.
	var again bytes.Buffer
	w2 := trace.NewWriter(&again)
	for _, r := range recs {
		if err := w2.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if d := cmp.Diff(buf.String(), again.String()); d != "" {
		t.Errorf("read then written differs:\n%s", d)
	}
}

func TestReaderErrors(t *testing.T) {
	cases := map[string]string{
		"not json":       "{\"type\":\"message\"\n",
		"unknown type":   `{"type":"packet","time":"2026-11-26T02:15:00Z"}`,
		"bad time":       `{"type":"event","time":"yesterday"}`,
		"bad direction":  `{"type":"message","time":"2026-11-26T02:15:00Z","dir":"up"}`,
		"bad field key":  `{"type":"message","time":"2026-11-26T02:15:00Z","dir":"in","fields":{"x":"1"}}`,
		"field too high": `{"type":"message","time":"2026-11-26T02:15:00Z","dir":"in","fields":{"129":"1"}}`,
	}
	for name, in := range cases {
		_, err := trace.ReadAll(strings.NewReader("\n" + in + "\n"))
		if err == nil || !strings.HasPrefix(err.Error(), "line 2:") {
			t.Errorf("%s: err = %v, want one at line 2", name, err)
		}
	}
}

// Records written from many goroutines come out as whole lines.
func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := trace.NewWriter(&buf)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				m := trace.FromMessage(iso.ASCII, iso.Out, sale(fmt.Sprintf("%06d", g*1000+i)))
				_ = w.Message(m)
			}
		}()
	}
	wg.Wait()
	recs, err := trace.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 400 {
		t.Errorf("%d records, want 400", len(recs))
	}
}

// host answers every request on ln: code(request) gives DE39; RRN and auth code change on
// every run, as a real host's do.
func host(t *testing.T, ln net.Listener, code func(*iso.Message) string, obs iso.Observer) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			opts := []iso.ConnOption{iso.WithHandler(func(c *iso.Conn, in iso.Inbound) {
				if in.Err != nil {
					return
				}
				rc := code(in.Msg)
				if rc == "" {
					return // swallow: no answer
				}
				mu.Lock()
				n++
				r := in.Msg.Reply(rc)
				r.RRN, r.AuthCode = fmt.Sprintf("%012d", time.Now().UnixNano()%1e12), fmt.Sprintf("A%05d", n)
				mu.Unlock()
				_ = c.Write(iso.ReplyTPDU(in.Frame.TPDU), r)
			})}
			if obs != nil {
				opts = append(opts, iso.WithObserver(obs))
			}
			iso.NewConn(nc, opts...)
		}
	}()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// The Observer writes what a Conn sends (given whole frames) and receives (given payloads)
// the same way: the payload, masked, with the TPDU split off.
func TestObserverPipe(t *testing.T) {
	var buf bytes.Buffer
	w := trace.NewWriter(&buf)
	fr, _ := iso.ParseFraming("len2+tpdu")
	a, b := net.Pipe()
	srv := iso.NewConn(b, iso.WithFraming(fr), iso.WithObserver(trace.Observer(w, trace.SourceAcquirer, "s1", iso.ASCII)),
		iso.WithHandler(func(c *iso.Conn, in iso.Inbound) { _ = c.Write(iso.ReplyTPDU(in.Frame.TPDU), in.Msg.Reply("00")) }))
	cli := iso.NewConn(a, iso.WithFraming(fr), iso.WithTPDU([]byte{0x60, 0, 3, 0, 0}),
		iso.WithObserver(trace.Observer(w, trace.SourceTerminal, "t1", iso.ASCII)))
	ans, err := cli.Send(context.Background(), sale("000001"), 5*time.Second)
	if err != nil || ans.ResponseCode != "00" {
		t.Fatalf("send: %v %v", ans, err)
	}
	cli.Close()
	srv.Close()
	noCardData(t, buf.Bytes())
	recs, err := trace.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	want := map[string]string{"terminal/out": "0200", "acquirer/in": "0200", "acquirer/out": "0210", "terminal/in": "0210"}
	raws := map[string]string{}
	for _, r := range recs {
		m := r.Message
		k := string(m.Source) + "/" + string(m.Dir)
		if want[k] != m.MTI {
			t.Errorf("%s: MTI %s, want %s", k, m.MTI, want[k])
		}
		if m.Err != "" {
			t.Errorf("%s: %s", k, m.Err)
		}
		raws[k] = m.Raw
		if k == "terminal/out" && m.TPDU != "6000030000" {
			t.Errorf("terminal/out TPDU = %q", m.TPDU)
		}
	}
	// Both ends record the same masked bytes for the same message.
	if raws["terminal/out"] != raws["acquirer/in"] || raws["acquirer/out"] != raws["terminal/in"] {
		t.Errorf("the two ends recorded different bytes:\n%v", raws)
	}
}

// Raw bytes a fault writes come framed: the observer finds the header and records the
// message when it still decodes.
func TestObserverRawFrame(t *testing.T) {
	var buf bytes.Buffer
	obs := trace.Observer(trace.NewWriter(&buf), trace.SourceAcquirer, "a1", iso.ASCII)
	payload, _ := iso.ASCII.Pack(sale("000009").Reply("00"))
	framed, _ := iso.DefaultFraming.AppendFrame(nil, nil, payload)
	obs(iso.Out, framed, nil, t0)
	recs, err := trace.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if m := recs[0].Message; m.MTI != "0210" || m.Err != "" || m.STAN != "000009" {
		t.Errorf("raw frame recorded as %+v", m)
	}
}

// A frame that does not decode is recorded with its error, masked conservatively.
func TestObserverGarbled(t *testing.T) {
	var buf bytes.Buffer
	obs := trace.Observer(trace.NewWriter(&buf), trace.SourceTerminal, "t1", iso.ASCII)
	obs(iso.In, []byte("0210\xff\xff4111111111111111"), nil, t0)
	noCardData(t, buf.Bytes())
	recs, err := trace.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if m := recs[0].Message; m.Err == "" || m.Raw == "" {
		t.Errorf("garbled frame recorded as %+v", m)
	}
}
