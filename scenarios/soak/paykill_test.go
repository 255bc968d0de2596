package soak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
)

// buildPosdrill builds the posdrill binary into a temporary directory.
func buildPosdrill(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build posdrill: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "posdrill")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/posdrill/posdrill/cmd/posdrill")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestPayKilledMidTransaction is the process-level proof of "persist first": a real
// `posdrill pay` process is SIGKILLed while it waits for the answer to a sale the host has
// already approved (a no_response rule swallows the answer). The customer is charged at that
// moment. A second `posdrill pay` on the same journal sends the pending reversal before its
// own sale: the first card's balance is back to the opening balance, the host shows that
// sale reversed, and the second sale is charged once.
func TestPayKilledMidTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs child processes")
	}
	bin := buildPosdrill(t)
	engine := fault.NewEngine(1, nil)
	if _, err := engine.Add(fault.Rule{Name: "answer lost", Match: fault.Match{MTI: fault.StringList{"0200"}, Card: "visa-ok"}, Action: fault.ActionNoResponse}); err != nil {
		t.Fatal(err)
	}
	a, err := acquirer.New(acquirer.Options{Faults: engine})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	t.Cleanup(func() {
		a.Close()
		<-served
	})
	addr := ln.Addr().String()
	opening := balance(t, a, "visa-ok")
	journal := filepath.Join(t.TempDir(), "terminal.db")

	var out1 bytes.Buffer
	first := exec.Command(bin, "pay", "--host", addr, "--card", "visa-ok", "--amount", "43.21", "--pin", "1234", "--journal", journal)
	first.Stdout, first.Stderr = &out1, &out1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	// Wait (bounded) until the host has committed the sale: from then on the customer is
	// charged and only the terminal's journal knows it must be reversed.
	var sale acquirer.Txn
	deadline := time.Now().Add(30 * time.Second)
	for sale.ID == 0 {
		txns, err := a.Transactions(acquirer.Filter{Card: "visa-ok"})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range txns {
			if x.State == acquirer.StateApproved {
				sale = x
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("posdrill pay ended before the host committed the sale: %v\n%s", err, out1.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host never committed the sale\n%s", out1.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("posdrill pay was not killed: %v\n%s", err, out1.String())
	}
	if got := opening - balance(t, a, "visa-ok"); got != 4321 {
		t.Fatalf("after the kill the host charged %d, want 4321 (the sale approved, its answer lost)", got)
	}

	// Power is back: the next payment on the same journal reverses the lost one first.
	engine.Clear()
	mcOpening := balance(t, a, "mc-ok")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "pay", "--host", addr, "--card", "mc-ok", "--amount", "1.00", "--pin", "1234", "--journal", journal, "--json")
	var stdout, stderr bytes.Buffer
	second.Stdout, second.Stderr = &stdout, &stderr
	if err := second.Run(); err != nil {
		t.Fatalf("second posdrill pay: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var res struct {
		Outcome string `json:"outcome"`
		STAN    string `json:"stan"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Outcome != "approved" {
		t.Fatalf("second payment: %v %+v\n%s", err, res, stdout.String())
	}
	if got := balance(t, a, "visa-ok"); got != opening {
		t.Errorf("visa-ok available %d after recovery, want the opening balance %d", got, opening)
	}
	if got := mcOpening - balance(t, a, "mc-ok"); got != 100 {
		t.Errorf("mc-ok charged %d, want 100", got)
	}
	txns, err := a.Transactions(acquirer.Filter{Card: "visa-ok"})
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 1 || txns[0].STAN != sale.STAN || txns[0].State != acquirer.StateReversed {
		t.Errorf("host transactions of visa-ok %+v, want STAN %s reversed", txns, sale.STAN)
	}
	// The reversal went out before the second sale (SAF first).
	var order []string
	j, _ := a.Journal(acquirer.Filter{Terminal: "TERM0001"})
	for _, e := range j {
		if e.Direction == "in" && e.MTI != "0800" {
			order = append(order, e.MTI+"/"+e.STAN)
		}
	}
	if len(order) < 3 || !strings.HasPrefix(order[1], "04") || order[2] != "0200/"+res.STAN {
		t.Errorf("host saw %v, want the sale, its reversal, then the second sale", order)
	}
	all := out1.String() + stdout.String() + stderr.String()
	for _, c := range cards.Builtin().Cards {
		if strings.Contains(all, c.PAN) {
			t.Errorf("posdrill pay output shows the full PAN of %s (%s)", c.Name, iso.MaskPAN(c.PAN))
		}
	}
}

func balance(t *testing.T, a *acquirer.Acquirer, card string) int64 {
	t.Helper()
	b, err := a.Balance(card)
	if err != nil {
		t.Fatal(err)
	}
	return b.Available
}
