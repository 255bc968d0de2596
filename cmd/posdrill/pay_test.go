package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/acquirer"
)

// TestPay runs `posdrill pay` against the real acquirer on loopback.
func TestPay(t *testing.T) {
	// The default journal lives in the user cache directory: STANs carry over between runs.
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acq, err := acquirer.New(acquirer.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = acq.Serve(ln) }()
	t.Cleanup(func() { _ = acq.Close() })
	host := ln.Addr().String()

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
