package scenarios

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/trace"
)

// TestRunTraceDir runs a library scenario with a host fault and a reconnect with
// Options.TraceDir and reads its JSONL trace back: the terminal's frames on each of its
// connections, the host's firing with its rule, the terminal's events and outcomes, the
// runner's steps and verdict — and no card number in the clear.
func TestRunTraceDir(t *testing.T) {
	scs, err := Load("answer-lost-after-approval")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "traces") // created by the run
	res := Run(context.Background(), scs[0], Options{TempDir: t.TempDir(), TraceDir: dir})
	if !res.Passed {
		t.Fatalf("the scenario failed:\n%s", res.FailureText())
	}
	path := TraceFile(dir, "answer-lost-after-approval")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	noFullPAN(t, raw)
	recs, err := trace.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	var msgs, events, faults, runner []string
	for _, r := range recs {
		switch {
		case r.Message != nil:
			m := r.Message
			if m.Source != trace.SourceTerminal || m.Terminal != "TERM0001" || m.Raw == "" || m.Err != "" {
				t.Errorf("line %d: message %+v", r.Line, m)
			}
			msgs = append(msgs, m.Conn+" "+string(m.Dir)+" "+m.MTI+" "+m.ResponseCode)
		case r.Fault != nil:
			f := r.Fault
			faults = append(faults, strings.Join([]string{string(f.Source), f.Conn, f.Rule, f.Action, f.MTI, f.STAN, f.Terminal}, "|"))
		case r.Event.Source == trace.SourceRunner:
			runner = append(runner, r.Event.Kind+" "+r.Event.Outcome)
		default:
			e := r.Event
			if e.Source != trace.SourceTerminal || e.Terminal != "TERM0001" {
				t.Errorf("line %d: event %+v", r.Line, e)
			}
			events = append(events, e.Kind+" "+e.Outcome)
		}
	}
	// The first connection carries the sign-on and the sale whose answer is lost; the
	// second the new sign-on, the reversal and the next sale.
	wantMsgs := []string{
		"t1 out 0800 ", "t1 in 0810 00", "t1 out 0200 ",
		"t2 out 0800 ", "t2 in 0810 00", "t2 out 0420 68", "t2 in 0430 00", "t2 out 0200 ", "t2 in 0210 00",
	}
	if !slices.Equal(msgs, wantMsgs) {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(wantMsgs, "\n"))
	}
	wantFaults := []string{"acquirer|c1|answer lost after the bank committed|drop_after_commit|0200|000002|TERM0001"}
	if !slices.Equal(faults, wantFaults) {
		t.Errorf("faults %q, want %q", faults, wantFaults)
	}
	for _, want := range []string{"connection_lost ", "reversal_sent ", "reversal_acknowledged ",
		"outcome timed_out_reversed", "outcome approved"} {
		if !slices.Contains(events, want) {
			t.Errorf("no terminal event %q in %q", want, events)
		}
	}
	if want := []string{"scenario ", "step ", "step ", "result passed"}; !slices.Equal(runner, want) {
		t.Errorf("runner events %q, want %q", runner, want)
	}
	// A reader of the trace needs the times: they are the run's virtual clock.
	if first := recs[0].Time(); !first.Equal(scs[0].Start) {
		t.Errorf("first record at %s, want the scenario's start %s", first, scs[0].Start)
	}
}

// TestRunTraceDirUnwritable: a trace that cannot be written fails the run at set-up rather
// than running without it.
func TestRunTraceDirUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	scs, err := Load("approved-sale")
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), scs[0], Options{TraceDir: file})
	if res.Passed || !strings.Contains(res.Err, "cannot write the trace") {
		t.Errorf("passed=%v err=%q, want a set-up failure about the trace", res.Passed, res.Err)
	}
}

// noFullPAN fails when b holds the number of any built-in card, in ASCII or as hex.
func noFullPAN(t *testing.T, b []byte) {
	t.Helper()
	upper := bytes.ToUpper(b)
	for _, c := range cards.Builtin().Cards {
		if bytes.Contains(b, []byte(c.PAN)) {
			t.Errorf("the trace holds the PAN of %s", c.Name)
		}
		hexPAN := strings.ToUpper(hex.EncodeToString([]byte(c.PAN)))
		if bytes.Contains(upper, []byte(hexPAN)) {
			t.Errorf("the trace holds the PAN of %s as hex", c.Name)
		}
	}
}
