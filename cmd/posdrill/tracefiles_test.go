package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/simulator/tui/tuitest"
)

// readTrace reads a trace file written by a command, failing the test when it does not
// parse or holds the number of any built-in card (in ASCII, or hex as a raw ASCII payload
// would show it).
func readTrace(t *testing.T, path string) []trace.Record {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cards.Builtin().Cards {
		if bytes.Contains(raw, []byte(c.PAN)) || bytes.Contains(bytes.ToUpper(raw), []byte(strings.ToUpper(hex.EncodeToString([]byte(c.PAN))))) {
			t.Errorf("%s holds the full PAN of %s", path, c.Name)
		}
	}
	recs, err := trace.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return recs
}

// summary lists a trace's records as short lines: messages "SOURCE CONN DIR MTI RC",
// faults "fault CONN RULE ACTION MTI STAN", events "event KIND OUTCOME".
func summary(recs []trace.Record) (msgs, faults, events []string) {
	for _, r := range recs {
		switch {
		case r.Message != nil:
			m := r.Message
			msgs = append(msgs, strings.TrimSpace(strings.Join([]string{string(m.Source), m.Conn, string(m.Dir), m.MTI, m.ResponseCode}, " ")))
		case r.Fault != nil:
			f := r.Fault
			faults = append(faults, strings.Join([]string{string(f.Source), f.Conn, f.Rule, f.Action, f.MTI, f.STAN}, "|"))
		default:
			e := r.Event
			events = append(events, strings.TrimSpace(string(e.Source)+" "+e.Kind+" "+e.Outcome))
		}
	}
	return msgs, faults, events
}

func wantAll(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no %s %q in:\n%s", what, w, strings.Join(got, "\n"))
		}
	}
}

// TestAcquirerTrace: `posdrill acquirer --trace` writes every message in and out, each
// connection under its own id, and every fault fired with its rule, then closes the file
// when stopped.
func TestAcquirerTrace(t *testing.T) {
	dir := t.TempDir()
	faults := filepath.Join(dir, "faults.yaml")
	if err := os.WriteFile(faults, []byte("- name: mc says no\n  match: {card: mc-ok}\n  action: decline\n  params: {code: \"05\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tracePath := filepath.Join(dir, "acquirer.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"acquirer", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--seed", "5",
			"--faults", faults, "--trace", tracePath}, nil, outW, &stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("no output; stderr:\n%s", stderr.String())
	}
	m := regexp.MustCompile(`^listening iso=(127\.0\.0\.1:\d+) admin=`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("first line %q", lines.Text())
	}
	go io.Copy(io.Discard, out)

	// Two connections: visa-ok approved on the first, mc-ok declined by the rule on the second.
	for i, card := range []string{"visa-ok", "mc-ok"} {
		nc, err := net.Dial("tcp", m[1])
		if err != nil {
			t.Fatal(err)
		}
		c := iso.NewConn(nc)
		req := saleRequest("00000"+string(rune('1'+i)), "000000001000")
		cd, _ := cards.Builtin().ByName(card)
		req.PAN, req.PINBlock = cd.PAN, nil
		if _, err := c.Send(ctx, req, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	cancel()
	select {
	case got := <-code:
		if got != 0 {
			t.Fatalf("exit %d; stderr:\n%s", got, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the acquirer did not stop")
	}

	recs := readTrace(t, tracePath)
	msgs, faultRecs, _ := summary(recs)
	if want := []string{"acquirer c1 in 0200", "acquirer c1 out 0210 00", "acquirer c2 in 0200", "acquirer c2 out 0210 05"}; !slices.Equal(msgs, want) {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if want := []string{"acquirer|c2|mc says no|decline|0200|000002"}; !slices.Equal(faultRecs, want) {
		t.Errorf("faults %q, want %q", faultRecs, want)
	}
	for _, r := range recs {
		if f := r.Fault; f != nil && (!maps.Equal(f.Params, map[string]string{"code": "05"}) || f.RuleID != "f1" || f.Terminal != "TERM0001") {
			t.Errorf("fault record %+v", f)
		}
	}
}

// TestPayTrace: `posdrill pay --trace` writes the terminal's messages, its events and the
// outcome: an approved sale, then one whose answer the host loses (the reversal goes out on
// a new connection).
func TestPayTrace(t *testing.T) {
	acq, host := startAcquirer(t)
	dir := t.TempDir()
	journal := filepath.Join(dir, "terminal.db") // STANs go on from one pay to the next
	pay := func(wantCode int, tracePath string) []trace.Record {
		t.Helper()
		code, stdout, stderr := cli(context.Background(), "pay", "--host", host, "--journal", journal,
			"--card", "visa-ok", "--amount", "12.34", "--pin", "1234", "--trace", tracePath)
		if code != wantCode {
			t.Fatalf("pay: exit %d, want %d\n%s%s", code, wantCode, stdout, stderr)
		}
		return readTrace(t, tracePath)
	}

	msgs, _, events := summary(pay(0, filepath.Join(dir, "approved.jsonl")))
	if want := []string{"terminal t1 out 0800", "terminal t1 in 0810 00", "terminal t1 out 0200", "terminal t1 in 0210 00"}; !slices.Equal(msgs, want) {
		t.Errorf("approved: messages\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	wantAll(t, "event", events, []string{"terminal connected", "terminal signed_on", "terminal answered", "terminal outcome approved"})

	if _, err := acq.Faults().Add(fault.Rule{Name: "lost", Match: fault.Match{Card: "visa-ok"}, Action: fault.ActionDropAfterCommit, Count: 1}); err != nil {
		t.Fatal(err)
	}
	recs := pay(1, filepath.Join(dir, "lost.jsonl"))
	msgs, faultRecs, events := summary(recs)
	wantAll(t, "message", msgs, []string{"terminal t1 out 0200", "terminal t2 out 0420 68", "terminal t2 in 0430 00"})
	if slices.Contains(msgs, "terminal t1 in 0210 00") {
		t.Error("the lost answer is in the trace")
	}
	if len(faultRecs) != 0 {
		t.Errorf("a terminal's trace has fault records: %q", faultRecs)
	}
	wantAll(t, "event", events, []string{"terminal connection_lost", "terminal reversal_acknowledged", "terminal outcome timed_out_reversed"})
	for _, r := range recs {
		if e := r.Event; e != nil && e.Terminal != "TERM0001" {
			t.Errorf("event without the terminal id: %+v", e)
		}
	}

	// --trace - and --json would both write to stdout.
	if code, _, stderr := cli(context.Background(), "pay", "--host", host, "--journal", journal, "--card", "visa-ok",
		"--amount", "1.00", "--json", "--trace", "-"); code != 2 || !strings.Contains(stderr, "--trace") {
		t.Errorf("--json --trace -: exit %d, %s", code, stderr)
	}
}

// TestTrainTrace: `posdrill train --trace` writes the terminal's messages and events and
// the embedded acquirer's fault firings while the trainee works at the keyboard.
func TestTrainTrace(t *testing.T) {
	tracePath := filepath.Join(t.TempDir(), "train.jsonl")
	env, err := newTrainEnv(trainOptions{seed: 1, lang: "en", trace: tracePath}, clock.Real{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Acq.Faults().Add(fault.Rule{Name: "trainer: visa says no", Match: fault.Match{Card: "visa-ok"},
		Action: fault.ActionDecline, Params: fault.Params{Code: "05"}}); err != nil {
		t.Fatal(err)
	}
	sr := tuitest.Start(t, env.App, 80, 24)
	sr.OnClose(env.Close)
	sr.WaitFor("READY")
	sr.Keys("2500", tcell.KeyEnter, "1i")
	sr.WaitFor("CUSTOMER: ENTER PIN")
	sr.Keys("1234", tcell.KeyEnter)
	sr.WaitFor("DECLINED — 05")
	sr.Close() // the trace is complete once the environment is closed

	msgs, faultRecs, events := summary(readTrace(t, tracePath))
	if want := []string{"terminal t1 out 0800", "terminal t1 in 0810 00", "terminal t1 out 0200", "terminal t1 in 0210 05"}; !slices.Equal(msgs, want) {
		t.Errorf("messages\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if want := []string{"acquirer|c1|trainer: visa says no|decline|0200|000002"}; !slices.Equal(faultRecs, want) {
		t.Errorf("faults %q, want %q", faultRecs, want)
	}
	wantAll(t, "event", events, []string{"terminal connected", "terminal answered", "terminal receipt_printed"})

	if _, err := newTrainEnv(trainOptions{seed: 1, trace: "-"}, clock.Real{}, nil); err == nil || !strings.Contains(err.Error(), "--trace") {
		t.Errorf("train --trace -: %v, want a refusal", err)
	}
}
