package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator"
)

// recordLostAnswer records, through the proxy, posdrill's terminal paying three times
// against a real acquirer: approved, declined 05 (a fault), and approved by the bank but the
// answer lost after the commit. With -update the trace becomes the checked-in fixture.
func recordLostAnswer(t *testing.T) string {
	t.Helper()
	a, acqAddr := startAcquirer(t)
	if _, err := a.Faults().Add(
		fault.Rule{Name: "declined", Match: fault.Match{MTI: fault.StringList{"0200"}, Card: "mc-ok"},
			Action: "decline", Params: fault.Params{Code: "05"}, Count: 1},
		fault.Rule{Name: "lost", Match: fault.Match{MTI: fault.StringList{"0200"}, Card: "visa-ok"},
			Action: "drop_after_commit", After: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	tracePath := filepath.Join(t.TempDir(), "shop.jsonl")
	proxy, stop := startRecord(t, acqAddr, tracePath)
	p := simulator.DefaultProfile()
	p.Host = proxy
	// Real time here; nothing waits for it (the lost answer comes with a dropped connection),
	// it only has to be long enough for a slow machine.
	p.ResponseTimeout = 5 * time.Second
	term, err := simulator.New(p, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if out := term.Sale(ctx, simulator.Payment{Card: "visa-ok", Amount: 2500, Entry: "chip", PIN: "1234"}); out.Kind != "approved" {
		t.Fatalf("first sale: %s %v", out.Kind, out.Err)
	}
	if out := term.Sale(ctx, simulator.Payment{Card: "mc-ok", Amount: 4500, Entry: "chip", PIN: "1234"}); out.Kind != "declined" {
		t.Fatalf("declined sale: %s %v", out.Kind, out.Err)
	}
	if out := term.Sale(ctx, simulator.Payment{Card: "visa-ok", Amount: 1000, Entry: "contactless"}); out.Kind != "timed_out_reversed" {
		t.Fatalf("second sale: %s %v", out.Kind, out.Err)
	}
	term.Close()
	stop()
	if *update {
		b, err := os.ReadFile(tracePath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lostAnswerFixture, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tracePath
}

const lostAnswerFixture = "../../testdata/traces/lost-answer.jsonl"

// A trace with a lost answer becomes a scenario that passes with posdrill's terminal.
func TestScenarioFromTraceLostAnswer(t *testing.T) {
	tracePath := recordLostAnswer(t)
	code, out, errOut := cli(context.Background(), "scenario", "from-trace", tracePath)
	if code != 0 {
		t.Fatalf("from-trace exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"action: drop_after_commit",
		`sale: {card: visa-ok, amount: "25.00", entry: chip, pin: "1234"}`,
		`sale: {card: visa-ok, amount: "10.00", entry: contactless}`,
		"outcome: timed_out_reversed",
		`response_code: "05"`,
		`flow: ["...", "0200 → (none)", "...", "0420 → 0430 00", "..."]`,
		`ledger: {visa-ok: "9975.00"}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scenario lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "4111111111111111") {
		t.Errorf("scenario holds the card number")
	}
	file := filepath.Join(t.TempDir(), "case.yaml")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if !res.Passed {
		t.Errorf("the scenario fails with posdrill's terminal: %+v\n%s\n%s", res.Failures, out, strings.Join(res.Trace, "\n"))
	}
}

// The checked-in trace of a decline and a lost answer gives the golden scenario.
func TestScenarioFromTraceGolden(t *testing.T) {
	code, out, errOut := cli(context.Background(), "scenario", "from-trace", lostAnswerFixture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	goldenFile(t, "../../testdata/traces/lost-answer.scenario.yaml", out)
	sc, err := scenarios.Parse([]byte(out), "lost-answer.scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if res := scenarios.Run(context.Background(), sc, scenarios.Options{}); !res.Passed {
		t.Errorf("the golden scenario fails with posdrill's terminal: %+v\n%s", res.Failures, strings.Join(res.Trace, "\n"))
	}
}

func TestScenarioFromTraceErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	code, _, errOut := cli(context.Background(), "scenario", "from-trace", empty)
	if code != 1 || !strings.Contains(errOut, "no request sent by a terminal") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	code, _, errOut = cli(context.Background(), "scenario", "from-trace")
	if code != 2 {
		t.Errorf("no argument: exit %d: %s", code, errOut)
	}
}

// The scenario made from a lost-answer trace must catch a terminal that does not reverse:
// with profile skip_reversal the customer stays charged and the expectations fail.
func TestScenarioFromTraceCatchesTerminalWithoutReversal(t *testing.T) {
	code, out, errOut := cli(context.Background(), "scenario", "from-trace", lostAnswerFixture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	sc, err := scenarios.Parse([]byte(out), "lost-answer.scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc.Profile.SkipReversal = true
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if res.Passed {
		t.Fatalf("a terminal that skips the reversal passed the lost-answer scenario:\n%s", strings.Join(res.Trace, "\n"))
	}
	if len(res.Failures) == 0 {
		t.Fatal("failed without saying why")
	}
	t.Logf("failures, as expected: %+v", res.Failures)
}
