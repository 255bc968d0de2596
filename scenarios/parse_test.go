package scenarios

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestInvalidFilesGolden pins every error of every broken file, position and sentence:
// they are what a QA engineer reads first.
func TestInvalidFilesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	scs, err := Load(files...)
	if len(scs) != 0 {
		t.Errorf("Load returned %d valid scenarios from files that are all broken", len(scs))
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load error = %v, want an ErrorList (errors.Is ErrInvalid)", err)
	}
	got := err.Error() + "\n"
	golden := "testdata/invalid.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestInvalidFilesGolden -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("errors differ from %s (-want +got):\n%s", golden, diff)
	}
	// Every file is reported, not just the first, and every line has a position.
	for _, f := range files {
		if !strings.Contains(got, f+":") {
			t.Errorf("no error reported for %s", f)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if !positionRe.MatchString(line) {
			t.Errorf("error without file:line:column: %q", line)
		}
	}
}

var positionRe = positioned

// TestParseErrorsEach checks single problems in isolation: one broken thing, one error, at
// the right place.
func TestParseErrorsEach(t *testing.T) {
	const head = "title: T\nsteps:\n"
	tests := []struct {
		name, src, want string
	}{
		{"unknown step", head + "  - sael: {card: visa-ok, amount: \"1.00\"}\n",
			`t.yaml:3:5: unknown step "sael" (did you mean "sale"?); steps are sale, refund, preauth, balance, complete, void, echo, sign_on, sign_off, settle, advance, restart_terminal, restart_acquirer, fault, device_fault, drain_saf or reprint (plus id and expect)`},
		{"unknown key", head + "  - sale: {card: visa-ok, amount: \"1.00\", pn: \"1234\"}\n",
			`t.yaml:3:43: unknown key "pn" in step sale (did you mean "pin"?); known keys are card, amount, entry or pin`},
		{"wrong type", "title: T\nseed: [1]\nsteps: [echo]\n",
			`t.yaml:2:7: seed must be a whole number, not a list`},
		{"bad duration", head + "  - advance: soon\n",
			`t.yaml:3:14: advance "soon" is not a duration; write it like "45s", "2m30s" or "24h"`},
		{"bad amount", head + "  - sale: {card: visa-ok, amount: \"1,00\"}\n",
			`t.yaml:3:35: amount: amount "1,00": want major units like 25.00 (digits, at most 2 decimals)`},
		{"unknown card", head + "  - sale: {card: visa-okay, amount: \"1.00\"}\n",
			`t.yaml:3:18: unknown card "visa-okay" in step sale (did you mean "visa-ok"?); cards are visa-ok, mc-ok, unionpay-ok, expired, low-funds, lost, stolen, do-not-honour, amex, damaged-chip or wallet-qr`},
		{"flow grammar", head + "  - echo:\n    expect: {flow: [\"0800 → maybe\"]}\n",
			`t.yaml:4:21: flow entry "0800 → maybe": answer "maybe" is not an MTI optionally followed by a 2-character response code`},
		{"bare step with expect", head + "  - restart_terminal\n    expect:\n      saf: 0\n",
			"t.yaml:3:5: YAML syntax: unexpected key name; a step without arguments that has an id or expect needs a colon, as in `- restart_terminal:`"},
		{"no title", "steps: [echo]\n", `t.yaml:1:1: the scenario has no title; add a line like ` + "`title: Sale approved`"},
		{"outcome after advance", head + "  - advance: 1s\n    expect: {outcome: approved}\n",
			`t.yaml:4:14: step advance has no outcome, so its expect cannot check outcome`},
		{"final outcome", head + "  - echo\nexpect: {outcome: approved}\n",
			`t.yaml:4:10: outcome is checked after a step, not at the end; move it into the expect of the step it is about`},
		{"ref to nothing", head + "  - void: {ref: s9}\n",
			`t.yaml:3:17: ref "s9" is neither the id of a step nor a six-digit STAN`},
		{"bad name", "name: Sale OK\ntitle: T\nsteps: [echo]\n",
			`t.yaml:1:7: name "Sale OK" must be lower-case letters, digits, '-' and '_' (it is used on the command line)`},
		{"journal mti", head + "  - echo:\n    expect: {journal: [{mti: \"200\"}]}\n",
			`t.yaml:4:30: mti "200" must be four digits, quoted: mti: "0200"`},
		{"message rule mti", "title: T\nterminal: external\nsteps:\n  - sale: {card: visa-ok, amount: \"1.00\"}\nexpect:\n  messages: [{mti: \"0400|42\"}]\n",
			`t.yaml:6:20: mti "0400|42" must be four digits or alternatives, quoted: mti: "0400|0420"`},
		{"pan in an error is masked", head + "  - sale: {card: visa-ok, amount: \"1.00\"}\n    expect: {ledger: {\"4111111111111112\": {availabel: \"1.00\"}}}\n",
			`t.yaml:4:44: unknown key "availabel" in the ledger entry of 411111******1112 (did you mean "available"?); known keys are available or held`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "t.yaml")
			if err == nil {
				t.Fatal("Parse accepted the file")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestParseValid reads a scenario with every kind of step and expectation and checks what
// the parser made of it.
func TestParseValid(t *testing.T) {
	src := `name: everything
title: Every step once
description: |
  A long day at the till.
tags: [a, b]
seed: 7
start: 2025-03-01T08:00:00+08:00
profile: {tid: TERM0002, response_timeout: 20s}
faults:
  - name: slow
    match: {mti: "0200"}
    action: delay
    params: {ms: 100}
steps:
  - id: s1
    sale: {card: visa-ok, amount: 25.5, entry: tap, pin: "1234"}
    expect:
      outcome: approved
      response_code: "00"
      guidance: approved
      approved: "25.50"
      flow: ["0800 → 0810 00", "0200 -> 0210 00", "..."]
      ledger: {visa-ok: "9974.50", mc-ok: {available: "10000", held: "0"}}
      journal: [{stan: "000002", mti: "0200", card: visa-ok, amount: "25.50", state: approved, response_code: "00"}]
      saf: 0
      manual_reconciliation: 0
      receipt_contains: [APPROVED]
      events_contain: [signed_on]
  - refund: {card: "5555555555554444", amount: "1"}
  - id: p
    preauth: {card: mc-ok, amount: "80.00"}
  - complete: {ref: p, amount: "60.00"}
  - void: {ref: "000002"}
  - balance: {card: visa-ok}
  - echo
  - sign_on:
  - sign_off: {}
  - settle
  - advance: 1h30m
  - restart_terminal
  - restart_acquirer
  - fault: {add: [{action: reset, count: 1, name: cut}]}
  - fault: {clear: cut}
  - fault: {clear: true}
  - device_fault: {kind: power_loss, at: before_send, count: 2}
  - device_fault: printer_out_of_paper
  - device_fault: clear
  - drain_saf
  - reprint: {ref: s1}
    expect: {receipt_contains: [DUPLICATE]}
expect:
  saf: ["0420"]
  flow: ["..."]
drill:
  situation: Busy Saturday.
  customer: {card: visa-ok, amount: "25.50", entry: contactless}
  expected_actions: [check_last]
  forbidden_actions: [sale_again, manual_refund]
  debrief: Well done.
`
	sc, err := Parse([]byte(src), "all.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "everything" || sc.Seed != 7 || len(sc.Steps) != 21 || len(sc.Faults) != 1 {
		t.Fatalf("parsed name %q seed %d steps %d faults %d", sc.Name, sc.Seed, len(sc.Steps), len(sc.Faults))
	}
	if want := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC); !sc.Start.Equal(want) {
		t.Errorf("start = %v, want %v", sc.Start, want)
	}
	if sc.Profile.TID != "TERM0002" || sc.Profile.ResponseTimeout != 20*time.Second || sc.Profile.MID != "POSDRILL0000001" {
		t.Errorf("profile overrides not applied on the defaults: %+v", sc.Profile)
	}
	s1 := sc.Steps[0]
	if s1.ID != "s1" || s1.Payment.Amount != 2550 || s1.Payment.Entry != "tap" || s1.Pos.Line != 15 {
		t.Errorf("first step = %+v", s1)
	}
	e := s1.Expect
	if *e.Approved != 2550 || len(e.Flow) != 3 || !e.Flow[2].Any || *e.Ledger[1].Held != 0 || *e.Ledger[1].Available != 1000000 {
		t.Errorf("first expect = %+v", e)
	}
	if sc.Steps[3].Ref != "p" || sc.Steps[3].Amount != 6000 {
		t.Errorf("complete = %+v", sc.Steps[3])
	}
	if got := sc.Steps[16].DeviceFault; got.Kind != "power_loss" || got.At != "before_send" || got.Count != 2 {
		t.Errorf("device fault = %+v", got)
	}
	if sc.Steps[14].FaultClear != "cut" || sc.Steps[15].FaultClear != "*" || len(sc.Steps[13].FaultAdd) != 1 {
		t.Errorf("fault steps = %+v %+v %+v", sc.Steps[13], sc.Steps[14], sc.Steps[15])
	}
	if sc.Expect == nil || sc.Expect.SAF.Count != 1 || sc.Drill == nil || sc.Drill.Customer.Entry != "contactless" {
		t.Errorf("final expect %+v drill %+v", sc.Expect, sc.Drill)
	}
}

// TestLoadArgs resolves files, directories and library names, and reports a name that is
// none of them.
func TestLoadArgs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("sub/a.yaml", "title: A\nsteps: [echo]\n")
	write("sub/deeper/b.yml", "title: B\nsteps: [echo]\n")
	write("sub/notes.txt", "not a scenario")
	scs, err := Load(filepath.Join(dir, "sub"), "approved-sale")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range scs {
		names = append(names, sc.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "approved-sale"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	_, err = Load("aproved-sale")
	if err == nil || !strings.Contains(err.Error(), `aproved-sale: no such file, directory or library scenario (did you mean "approved-sale"?)`) {
		t.Errorf("unknown name: %v", err)
	}
	write("dup/x.yaml", "name: approved-sale\ntitle: X\nsteps: [echo]\n")
	_, err = Load("approved-sale", filepath.Join(dir, "dup"))
	if err == nil || !strings.Contains(err.Error(), `scenario name "approved-sale" is already used by library/approved-sale.yaml`) {
		t.Errorf("duplicate name: %v", err)
	}
}

// TestLibraryShape keeps the library what the issue asks: at least 30 scenarios, each with
// a plain title, a description of the situation and the recovery, tags, and money checked.
func TestLibraryShape(t *testing.T) {
	scs, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) < 30 {
		t.Errorf("library has %d scenarios, want at least 30", len(scs))
	}
	for _, sc := range scs {
		if sc.Title.IsZero() || len(sc.Description.En) < 80 || !strings.Contains(sc.Description.En, "Right recovery:") {
			t.Errorf("%s: needs a title and a description with the situation and a \"Right recovery:\" part", sc.Name)
		}
		if len(sc.Tags) == 0 {
			t.Errorf("%s: no tags", sc.Name)
		}
		if sc.Drill == nil {
			t.Errorf("%s: no drill block", sc.Name)
		}
		moves, ledger := false, false
		for _, st := range sc.Steps {
			if st.Payment != nil && st.Kind != StepBalance || st.Kind == StepComplete || st.Kind == StepVoid {
				moves = true
			}
			if st.Expect != nil && st.Expect.Ledger != nil {
				ledger = true
			}
		}
		if sc.Expect != nil && sc.Expect.Ledger != nil {
			ledger = true
		}
		if moves && !ledger {
			t.Errorf("%s: money moves but no ledger is checked", sc.Name)
		}
	}
}
