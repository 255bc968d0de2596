package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/isotest"
)

// TestPay runs `posdrill pay` against the real acquirer on loopback.
func TestPay(t *testing.T) {
	// The default journal lives in the user cache directory: STANs carry over between runs.
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	_, host := startAcquirerWith(t, acquirer.Options{Seed: 1})

	tests := []struct {
		name string
		args []string
		code int
		want []string // in stdout
	}{
		{"approved", []string{"--card", "visa-ok", "--amount", "12.34", "--pin", "1234"}, 0,
			[]string{"APPROVED  (00 approved)", "STAN 0", "411111******1111", "MERCHANT COPY", "CUSTOMER COPY"}},
		{"tap by PAN", []string{"--card", "5555555555554444", "--amount", "1", "--entry", "tap"}, 0,
			[]string{"APPROVED", "ENTRY", "CONTACTLESS"}},
		{"declined", []string{"--card", "low-funds", "--amount", "99.00"}, 1,
			[]string{"DECLINED  (51 not sufficient funds)", "DECLINED 51"}},
		{"wallet QR not accepted here", []string{"--card", "wallet-qr", "--amount", "1.00", "--entry", "qr"}, 1,
			[]string{"DECLINED  (58"}},
		{"unknown card", []string{"--card", "no-such-card", "--amount", "1.00"}, 2, nil},
		{"Chinese guidance", []string{"--card", "low-funds", "--amount", "99.00", "--lang", "zh"}, 1,
			[]string{"DECLINED  (51 not sufficient funds)", "余额"}},
		{"Chinese slip", []string{"--card", "visa-ok", "--amount", "25.00", "--entry", "tap", "--lang", "zh"}, 0,
			[]string{"POS签购单", "商户存根 MERCHANT COPY", "持卡人存根 CARDHOLDER COPY", "消费 SALE", "411111******1111 /C",
				"金额(AMOUNT): RMB 25.00", "免签 NO SIGNATURE REQUIRED"}},
		{"English guidance", []string{"--card", "low-funds", "--amount", "99.00", "--lang", "en"}, 1,
			[]string{"DECLINED  (51 not sufficient funds)", "funds"}},
		{"bad amount", []string{"--card", "visa-ok", "--amount", "1.234"}, 2, nil},
		{"missing card", []string{"--amount", "1.00"}, 2, nil},
		{"missing amount", []string{"--card", "visa-ok"}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"pay", "--host", host}, tc.args...)
			code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, pan := range []string{"4111111111111111", "5555555555554444", "4000000000009995"} {
				if strings.Contains(stdout.String()+stderr.String(), pan) {
					t.Errorf("output carries the full PAN %s", pan)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"pay", "--host", host, "--card", "visa-ok", "--amount", "2.50", "--json"},
			strings.NewReader(""), &stdout, &stderr)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		var got struct {
			Outcome, ResponseCode, STAN, RRN, Card, Amount string
			Events                                         []struct{ Kind, MTI string }
		}
		dec := json.NewDecoder(&stdout)
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.Outcome != "approved" || got.Card != "411111******1111" || got.Amount != "2.50" || got.STAN == "" || len(got.RRN) != 12 {
			t.Errorf("json %+v", got)
		}
		var kinds []string
		for _, e := range got.Events {
			kinds = append(kinds, e.Kind)
		}
		if !strings.Contains(strings.Join(kinds, " "), "sent waiting answered") {
			t.Errorf("events %v", kinds)
		}
	})

	t.Run("host down", func(t *testing.T) {
		dead, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := dead.Addr().String()
		dead.Close() // nothing listens there now: connection refused
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"pay", "--host", addr, "--card", "visa-ok", "--amount", "1.00"},
			strings.NewReader(""), &stdout, &stderr)
		if code != 1 || !strings.Contains(stdout.String(), "NOT SENT") {
			t.Errorf("exit %d\n%s", code, stdout.String())
		}
	})
}

// TestPayDialectMismatch: a terminal and an acquirer set up with different dialects each
// say so (the acquirer in its log, answering 30 its own way; the terminal from that answer),
// instead of "no connection to the bank, check the cable" after a 30-second timeout.
func TestPayDialectMismatch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs isotest.Buffer
	acq, err := acquirer.New(acquirer.Options{Seed: 1, Dialect: iso.BCD, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = acq.Serve(ln) }()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"pay", "--host", ln.Addr().String(), "--card", "visa-ok", "--amount", "1.00",
		"--journal", ":memory:", "--dialect", "ascii", "--lang", "en"}, strings.NewReader(""), &stdout, &stderr)
	_ = acq.Close()
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"NOT SENT", "Terminal and bank do not understand each other",
		"dialect mismatch: the peer's message reads as dialect bcd, framing len2; this end speaks dialect ascii, framing len2"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "No connection to the bank") || strings.Contains(stdout.String(), "Check the terminal's network") {
		t.Errorf("a mismatch still reads as a network problem:\n%s", stdout.String())
	}
	if !strings.Contains(logs.String(), `msg="client speaks another dialect or framing: answering 30"`) ||
		!strings.Contains(logs.String(), "ours=bcd/len2 theirs=ascii/len2") {
		t.Errorf("acquirer log does not name the mismatch:\n%s", logs.String())
	}
}

// TestPayTypes: every --type, each with --json, against the real acquirer; exit 0 when the
// operation succeeded.
func TestPayTypes(t *testing.T) {
	_, host := startAcquirerWith(t, acquirer.Options{Seed: 1})
	journal := filepath.Join(t.TempDir(), "terminal.db")
	for _, tc := range []struct {
		args    []string
		typ     string // the JSON "type"
		outcome string
	}{
		{[]string{"--type", "sign-on"}, "sign_on", "approved"},
		{[]string{"--card", "visa-ok", "--amount", "10.00"}, "sale", "approved"},
		{[]string{"--type", "refund", "--card", "visa-ok", "--amount", "1.00"}, "refund", "approved"},
		{[]string{"--type", "preauth", "--card", "mc-ok", "--amount", "50.00"}, "preauth", "approved"},
		{[]string{"--type", "completion", "--amount", "40.00"}, "completion", "approved"},
		{[]string{"--type", "balance", "--card", "visa-ok"}, "balance", "approved"},
		{[]string{"--type", "sale", "--card", "visa-ok", "--amount", "3.00"}, "sale", "approved"},
		{[]string{"--type", "void"}, "void", "voided"},
		{[]string{"--type", "echo"}, "echo", "approved"},
		{[]string{"--type", "settle"}, "settle", "settled"},
		{[]string{"--type", "sign-off"}, "sign_off", "approved"},
	} {
		t.Run(tc.typ+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"pay", "--host", host, "--journal", journal, "--json"}, tc.args...)
			code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
			var got struct{ Type, Outcome string }
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("exit %d, no JSON: %v\n%s%s", code, err, stdout.String(), stderr.String())
			}
			if code != 0 || got.Type != tc.typ || got.Outcome != tc.outcome {
				t.Errorf("exit %d type %q outcome %q, want 0 %q %q\n%s", code, got.Type, got.Outcome, tc.typ, tc.outcome, stderr.String())
			}
		})
	}
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"--type", "refnud"}, {"--type", "refund", "--amount", "1.00"}, {"--type", "completion"}, {"--type", "void", "--ref", "12"}} {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"pay", "--host", host, "--journal", journal}, args...), strings.NewReader(""), &stdout, &stderr); code != 2 {
				t.Errorf("%v: exit %d, want 2: %s", args, code, stderr.String())
			}
		}
	})
}

// TestPayJournalPerHost: the default journal belongs to one host and terminal id. A
// reversal left pending against host A is not sent to host B (which would answer 25 and
// drop it while A keeps the money); it goes to A on the next run against A.
func TestPayJournalPerHost(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	engine := fault.NewEngine(1, clock.Real{})
	if _, err := engine.Add(fault.Rule{Name: "lost", Match: fault.Match{MTI: fault.StringList{"0200", "0420"}}, Action: fault.ActionNoResponse}); err != nil {
		t.Fatal(err)
	}
	a, hostA := startAcquirerWith(t, acquirer.Options{Seed: 1, Faults: engine})
	b, hostB := startAcquirerWith(t, acquirer.Options{Seed: 2})
	prof := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(prof, []byte("response_timeout: 300ms\nreversal_interval: 100ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pay := func(host string, args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"pay", "--host", host, "--profile", prof}, args...), strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if code, out := pay(hostA, "--card", "visa-ok", "--amount", "25.00"); code != 1 || !strings.Contains(out, "not acknowledged") {
		t.Fatalf("against A: exit %d, want 1 with a pending reversal:\n%s", code, out)
	}
	if code, out := pay(hostB, "--card", "visa-ok", "--amount", "1.00"); code != 0 {
		t.Fatalf("against B: exit %d:\n%s", code, out)
	}
	reversals := func(acq *acquirer.Acquirer) []string {
		entries, err := acq.Journal(acquirer.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var mtis []string
		for _, e := range entries {
			if e.Direction == "in" && strings.HasPrefix(e.MTI, "04") {
				mtis = append(mtis, e.MTI)
			}
		}
		return mtis
	}
	if got := reversals(b); len(got) != 0 {
		t.Errorf("host B received A's reversal: %v", got)
	}
	engine.Clear()
	if code, out := pay(hostA, "--type", "echo"); code != 0 {
		t.Fatalf("against A again: exit %d:\n%s", code, out)
	}
	if got := reversals(a); strings.Join(got, " ") != "0420 0421" {
		t.Errorf("host A received reversals %v, want the 0420 and its repeat 0421", got)
	}
	bal, err := a.Balance("visa-ok")
	if err != nil || bal.Available != bal.Opening {
		t.Errorf("A's ledger after the repeat: %+v %v (want the customer uncharged)", bal, err)
	}
}

// TestPayFramingMismatch: a terminal and an acquirer that differ only in framing each say
// so, like a dialect mismatch: the acquirer answers 30 in its own framing instead of
// closing, and the terminal, unable to frame that answer, names the mismatch rather than a
// closed connection.
func TestPayFramingMismatch(t *testing.T) {
	for _, tc := range []struct{ terminal, acquirer string }{
		{"len4-ascii", "len2"},
		{"len2", "len4-ascii"},
		{"len2", "len2+tpdu"},
		{"cup", "len2"},
		{"len4", "len2"},
		// Not here: len2 to len2-bcd is named too, but only once the acquirer's linger
		// (5 s) ends the connection the terminal is still reading; len2-bcd to len2 is not
		// (README, Known limits).
	} {
		t.Run(tc.terminal+" to "+tc.acquirer, func(t *testing.T) {
			f, err := iso.ParseFraming(tc.acquirer)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var logs isotest.Buffer
			acq, err := acquirer.New(acquirer.Options{Seed: 1, Framing: f, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = acq.Serve(ln) }()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"pay", "--host", ln.Addr().String(), "--card", "visa-ok", "--amount", "1.00",
				"--journal", ":memory:", "--framing", tc.terminal, "--lang", "en"}, strings.NewReader(""), &stdout, &stderr)
			_ = acq.Close()
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			want := "framing mismatch: the peer's message reads as dialect ascii, framing " + tc.acquirer +
				"; this end speaks dialect ascii, framing " + tc.terminal
			for _, w := range []string{"Terminal and bank do not understand each other", want} {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if strings.Contains(stdout.String(), "No connection to the bank") || strings.Contains(stdout.String(), "Check the terminal's network") {
				t.Errorf("a mismatch still reads as a network problem:\n%s", stdout.String())
			}
			if !strings.Contains(logs.String(), `msg="client speaks another dialect or framing: answering 30"`) ||
				!strings.Contains(logs.String(), "ours=ascii/"+tc.acquirer+" theirs=ascii/"+tc.terminal) {
				t.Errorf("acquirer log does not name the mismatch:\n%s", logs.String())
			}
		})
	}
}
