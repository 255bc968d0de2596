package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
)

// TestAcquirerCommand runs `posdrill acquirer` in-process on free ports: the first line
// names both addresses, a sale over ISO 8583 is approved, the admin API needs the token and
// shows the balance, fault rules from --faults are live, and cancelling the context (as
// SIGINT does) stops it cleanly.
func TestAcquirerCommand(t *testing.T) {
	dir := t.TempDir()
	faults := filepath.Join(dir, "faults.yaml")
	if err := os.WriteFile(faults, []byte("- name: down for mc\n  match: {card: mc-ok}\n  action: issuer_down\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"acquirer", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--seed", "42",
			"--db", filepath.Join(dir, "acq.db"), "--faults", faults, "--admin-token", "s3cret"}, nil, outW, &stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("no output; stderr:\n%s", stderr.String())
	}
	m := regexp.MustCompile(`^listening iso=(127\.0\.0\.1:\d+) admin=(127\.0\.0\.1:\d+)$`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("first line %q", lines.Text())
	}
	if !lines.Scan() || lines.Text() != "seed=42" {
		t.Fatalf("second line %q, want seed=42", lines.Text())
	}
	go io.Copy(io.Discard, out)
	isoAddr, adminAddr := m[1], m[2]

	nc, err := net.Dial("tcp", isoAddr)
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc)
	defer c.Close()
	send := func(card, stan string) string {
		t.Helper()
		cd, _ := cards.Builtin().ByName(card)
		r, err := c.Send(ctx, &iso.Message{MTI: "0200", PAN: cd.PAN, ProcessingCode: "000000", Amount: "000000002500",
			TransmissionTime: "0101120000", STAN: stan, Expiry: cd.Expiry, EntryMode: "051", TerminalID: "TERM0001",
			MerchantID: "POSDRILL0000001", Currency: "156"}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return r.ResponseCode
	}
	if got := send("visa-ok", "000001"); got != "00" {
		t.Errorf("visa-ok sale: %s", got)
	}
	if got := send("mc-ok", "000002"); got != "91" {
		t.Errorf("mc-ok sale with the issuer_down rule: %s, want 91", got)
	}

	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+adminAddr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, _ := get("/healthz", ""); st != 200 {
		t.Errorf("/healthz %d", st)
	}
	if st, _ := get("/cards/visa-ok", ""); st != 401 {
		t.Errorf("/cards/visa-ok without token: %d, want 401", st)
	}
	st, body := get("/cards/visa-ok", "s3cret")
	var card struct {
		Available int64  `json:"available"`
		MaskedPAN string `json:"masked_pan"`
	}
	if err := json.Unmarshal([]byte(body), &card); err != nil || st != 200 {
		t.Fatalf("/cards/visa-ok: %d %s", st, body)
	}
	if card.Available != 997500 || card.MaskedPAN != "411111******1111" {
		t.Errorf("card %+v", card)
	}
	if st, body := get("/faults", "s3cret"); st != 200 || !strings.Contains(body, "down for mc") {
		t.Errorf("/faults: %d %s", st, body)
	}

	cancel()
	select {
	case got := <-code:
		if got != 0 {
			t.Errorf("exit %d; stderr:\n%s", got, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("acquirer did not stop after the context was cancelled")
	}
	if strings.Contains(stderr.String(), "4111111111111111") {
		t.Error("stderr shows a full PAN")
	}
}
