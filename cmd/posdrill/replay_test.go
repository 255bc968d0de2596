package main

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/trace"
)

// writeTrace writes messages as a terminal's trace (what it sent, and the answers).
func writeTrace(t *testing.T, msgs ...*iso.Message) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := trace.NewWriter(f)
	at := time.Date(2026, 11, 26, 2, 15, 0, 0, time.UTC)
	for i, m := range msgs {
		dir := iso.Out
		if iso.IsResponse(m.MTI) {
			dir = iso.In
		}
		rec := trace.FromMessage(iso.ASCII, dir, m)
		rec.Time, rec.Source, rec.Conn = at.Add(time.Duration(i)*time.Millisecond), trace.SourceTerminal, "t1"
		if err := w.Message(rec); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// A replay that cannot reach its host is a usage error (2) that says so, never "no
// differences".
func TestReplayUnreachableHost(t *testing.T) {
	path := writeTrace(t, saleRequest("000002", "000000002500"), saleRequest("000002", "000000002500").Reply("00"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, out, errOut := cli(context.Background(), "replay", path, "--host", addr, "--timeout", "2s")
	if code != 2 || !strings.Contains(errOut, "--host: cannot reach "+addr) || strings.Contains(out, "no differences") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// Replaying to the host that saw the recording meets 94 (duplicate) on every payment;
// --refresh gives the requests new STANs and times, and the replay is clean.
func TestReplayRefresh(t *testing.T) {
	_, host := startAcquirer(t)
	ctx := context.Background()
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc)
	req := saleRequest("000002", "000000002500")
	ans, err := c.Send(ctx, req, 10*time.Second)
	c.Close()
	if err != nil || ans.ResponseCode != "00" {
		t.Fatalf("recording the sale: %v %+v", err, ans)
	}
	path := writeTrace(t, req, ans)

	code, out, _ := cli(ctx, "replay", path, "--host", host, "--timeout", "5s")
	if code != 1 || !strings.Contains(out, `DE39: recorded "00" approved, now "94"`) {
		t.Errorf("without --refresh: exit %d, want the 94 as the difference:\n%s", code, out)
	}
	code, out, errOut := cli(ctx, "replay", path, "--host", host, "--timeout", "5s", "--refresh")
	if code != 0 || !strings.Contains(out, "no differences") {
		t.Errorf("with --refresh: exit %d\n%s%s", code, out, errOut)
	}
}

// A 30 answer names the field the host objected to: from a posdrill acquirer's journal
// with --admin, and says that the answer alone does not tell without it.
func TestReplayExplainsFormatError(t *testing.T) {
	acq, host := startAcquirerWith(t, acquirer.Options{Seed: 1})
	srv := httptest.NewServer(acq.Admin())
	defer srv.Close()
	req := saleRequest("000007", "000000001000")
	req.EntryMode = "" // DE22 missing: the acquirer answers 30
	path := writeTrace(t, req, req.Reply("00"))
	ctx := context.Background()

	code, out, _ := cli(ctx, "replay", path, "--host", host, "--timeout", "5s", "--refresh", "--admin", srv.URL)
	if code != 1 || !strings.Contains(out, "note: 30 format error: the host's journal says: format error: field 22 (Point of Service Entry Mode): missing") {
		t.Errorf("with --admin: exit %d\n%s", code, out)
	}
	code, out, _ = cli(ctx, "replay", path, "--host", host, "--timeout", "5s", "--refresh")
	if code != 1 || !strings.Contains(out, "note: 30 format error: the answer does not say which field (no DE44)") {
		t.Errorf("without --admin: exit %d\n%s", code, out)
	}
}
