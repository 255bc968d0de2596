package acquirer_test

// Resource exhaustion (issue 16, class 1): running out of descriptors, connections that
// never send, one address taking every slot. Each test keeps a healthy terminal paying on
// its own connection throughout and checks the ledger after.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
)

// checkCharged: card's available balance fell by exactly want (minor units), nothing held.
func checkCharged(t *testing.T, a *acquirer.Acquirer, card string, want int64) {
	t.Helper()
	b, err := a.Balance(card)
	if err != nil {
		t.Fatal(err)
	}
	if b.Opening-b.Available != want || b.Held != 0 {
		t.Errorf("%s: opening %d available %d held %d; the healthy terminal's approvals were %d", card, b.Opening, b.Available, b.Held, want)
	}
}

func healthz(t *testing.T, a *acquirer.Acquirer) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Admin().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("/healthz: %v: %s", err, rec.Body.String())
	}
	return rec.Code, body
}

// TestHostileSilentConnections: connections that never send a frame are closed once the
// first-frame deadline passes (here 300 ms) and give their slots back; meanwhile /healthz
// and /metrics say the acquirer is saturated, and the healthy terminal is served throughout.
func TestHostileSilentConnections(t *testing.T) {
	s := startHostile(t, acquirer.Options{MaxConns: 10, FirstFrameTimeout: 300 * time.Millisecond})
	h := s.healthy(t)
	h.sale(t, "visa-ok", 100, "before")
	if code, body := healthz(t, s.a); code != 200 || body["status"] != "ok" {
		t.Fatalf("/healthz before: %d %v", code, body)
	}
	stop := h.during(t)
	var silent []net.Conn
	dialed := time.Now()
	for range 9 { // with the healthy one: 10 of 10
		silent = append(silent, dialRaw(t, s.addr))
	}
	// Saturated as soon as the server holds them: wait for that on /healthz itself.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := healthz(t, s.a)
		if code == http.StatusServiceUnavailable && body["status"] == "saturated" && strings.Contains(fmt.Sprint(body["why"]), "connections open") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz with every slot taken: %d %v", code, body)
		}
	}
	if v := metric(t, s, "posdrill_acquirer_saturated"); v != 1 {
		t.Errorf("posdrill_acquirer_saturated = %v, want 1", v)
	}
	for i, nc := range silent {
		closedWithin(t, nc, 5*time.Second)
		if d := time.Since(dialed); d < 300*time.Millisecond {
			t.Errorf("silent connection %d closed %s after it was opened, before its first-frame deadline", i, d)
		}
	}
	// Their slots are back: a new terminal is served.
	c := iso.NewConn(dialRaw(t, s.addr))
	if r, err := c.Send(context.Background(), saleMsg(t, "visa-ok", 100, "TERM0007", "000001"), 5*time.Second); err != nil || r.ResponseCode != iso.RCApproved {
		t.Errorf("new terminal after the silent ones were closed: %v %v", err, r)
	}
	stop()
	h.sale(t, "visa-ok", 100, "after")
	checkCharged(t, s.a, "visa-ok", 300)
}

// TestHostilePerSource: one address cannot take more than MaxPerSource slots; the others
// stay free for everyone else, and the rejections are counted.
func TestHostilePerSource(t *testing.T) {
	s := startHostile(t, acquirer.Options{MaxConns: 100, MaxPerSource: 5, PerSourceLoopback: true})
	h := s.healthy(t) // one of the five
	h.sale(t, "visa-ok", 100, "before")
	stop := h.during(t)
	var hogs []net.Conn
	for range 4 {
		hogs = append(hogs, dialRaw(t, s.addr))
	}
	const extra = 10
	for i := range extra {
		nc := dialRaw(t, s.addr)
		if b, _ := closedWithin(t, nc, 5*time.Second); len(b) != 0 {
			t.Errorf("extra connection %d answered", i)
		}
	}
	if n := metric(t, s, `posdrill_acquirer_connections_total{result="over_source_limit"}`); n != extra {
		t.Errorf("over_source_limit = %v, want %d", n, extra)
	}
	if code, body := healthz(t, s.a); code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(body["why"]), "too many connections from 127.0.0.1") {
		t.Errorf("/healthz after rejections: %d %v", code, body)
	}
	for _, c := range hogs {
		c.Close()
	}
	stop()
	h.sale(t, "visa-ok", 100, "after")
	checkCharged(t, s.a, "visa-ok", 200)
}

// testAcquirerDescriptors runs `posdrill acquirer` with RLIMIT_NOFILE lowered to 64 (by
// the shell's ulimit, so the child's hard limit is 64 too and Go cannot raise it) and
// opens 100 connections that never send:
//   - with the default --max-conns, the acquirer chooses a cap below the limit and says so
//     at start-up; the extra connections are closed at once, /healthz says saturated;
//   - with --max-conns 1000, accept runs out of descriptors (EMFILE): the process must
//     back off and keep serving, /healthz (on a connection opened before) says why, and a
//     new client is served once descriptors free.
//
// A healthy terminal pays throughout; the host's ledger holds exactly its approvals.
func testAcquirerDescriptors(t *testing.T, bin string) {
	wrapper := filepath.Join(t.TempDir(), "posdrill-ulimit")
	script := "#!/bin/sh\nulimit -n 64 || exit 97\nexec " + bin + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		log  string // in the start-up log
		why  string // in /healthz while saturated
	}{
		{"default cap", nil, "lowered from 10000 to stay below the descriptor limit 64", "connections"},
		{"cap above the limit", []string{"--max-conns", "1000"}, "accepts will back off when descriptors run out", "too many open files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startAcquirerProc(t, wrapper, append([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "debug"}, tc.args...)...)
			admin := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
			get := func(path string) (int, string) {
				resp, err := admin.Get("http://" + p.admin + path)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if code, body := get("/healthz"); code != 200 {
				t.Fatalf("/healthz before: %d %s", code, body)
			}
			s := &hostile{addr: p.iso, o: acquirer.Options{Dialect: iso.ASCII}}
			h := s.healthy(t)
			h.sale(t, "visa-ok", 100, "before")
			stop := h.during(t)
			var hogs []net.Conn
			for i := range 100 {
				nc, err := net.Dial("tcp", p.iso)
				if err != nil {
					t.Fatalf("hog %d: %v", i, err)
				}
				hogs = append(hogs, nc)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				code, body := get("/healthz")
				if code == http.StatusServiceUnavailable && strings.Contains(body, tc.why) {
					t.Logf("/healthz: %s", body)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/healthz with 100 hogs: %d %s", code, body)
				}
			}
			h.sale(t, "visa-ok", 100, "while exhausted")
			select {
			case err := <-p.exited:
				t.Fatalf("the acquirer exited: %v\n%s", err, p.output.String())
			default:
			}
			for _, nc := range hogs {
				nc.Close()
			}
			// A new client is served once descriptors free (the back-off is at most 1 s).
			deadline = time.Now().Add(20 * time.Second)
			for {
				nc, err := net.Dial("tcp", p.iso)
				if err != nil {
					t.Fatal(err)
				}
				c := iso.NewConn(nc)
				r, err := c.Send(context.Background(), &iso.Message{MTI: "0800", TransmissionTime: "0101000000",
					STAN: "000777", TerminalID: "TERM0005", NetworkCode: iso.NetEcho}, 3*time.Second)
				c.Close()
				if err == nil && r.ResponseCode == "00" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no new client served after the hogs left: %v", err)
				}
			}
			stop()
			code, body := get("/cards/visa-ok")
			var card struct{ Opening, Available, Held int64 }
			if err := json.Unmarshal([]byte(body), &card); code != 200 || err != nil {
				t.Fatalf("/cards/visa-ok: %d %s %v", code, body, err)
			}
			if card.Opening-card.Available != 200 || card.Held != 0 {
				t.Errorf("visa-ok: %s; the healthy terminal's two sales were 2.00", body)
			}
			p.kill() // waits for the process and for its stderr to be copied
			if !strings.Contains(p.output.String(), tc.log) {
				t.Errorf("start-up log lacks %q:\n%s", tc.log, p.output.String())
			}
			if strings.Contains(tc.why, "open files") && !strings.Contains(p.output.String(), "accept failed: backing off") {
				t.Errorf("no back-off logged:\n%s", p.output.String())
			}
		})
	}
}

// TestHostileFaultDocuments: POST /faults with 1 MiB documents nested every way (YAML flow,
// YAML compact sequences, JSON objects) or with too many nodes is refused with 400 and a
// position, allocating at most 16 MiB each (runtime.MemStats TotalAlloc: the body read,
// the scan, the error); the rules in force do not change; the healthy terminal is served
// throughout and its sales are all that is charged.
func TestHostileFaultDocuments(t *testing.T) {
	s := startHostile(t, acquirer.Options{})
	h := s.healthy(t)
	h.sale(t, "visa-ok", 100, "before")
	stop := h.during(t)
	const body = 1<<20 - 64 // just inside the admin API's 1 MiB body limit
	docs := map[string]struct{ ctype, doc string }{
		"yaml flow":       {"application/yaml", "- " + strings.Repeat("[", body-2)},
		"yaml compact":    {"application/yaml", strings.Repeat("- ", body/2)},
		"yaml many nodes": {"application/yaml", strings.Repeat("- a\n", body/4)},
		"json nested":     {"application/json", strings.Repeat(`{"a":`, body/5)},
		"json many nodes": {"application/json", "[" + strings.Repeat("1,", body/2-2) + "1]"},
	}
	admin := s.a.Admin()
	for name, d := range docs {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			req := httptest.NewRequest("POST", "/faults", strings.NewReader(d.doc))
			req.Header.Set("Content-Type", d.ctype)
			rec := httptest.NewRecorder()
			admin.ServeHTTP(rec, req)
			runtime.ReadMemStats(&after)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "nested deeper than 64") && !strings.Contains(rec.Body.String(), "more than 20000 nodes") {
				t.Errorf("POST /faults: %d %s", rec.Code, firstN(rec.Body.String(), 300))
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > 16<<20 {
				t.Errorf("allocated %d MiB for a %d-byte document", a>>20, len(d.doc))
			} else {
				t.Logf("%d KiB allocated", a>>10)
			}
		})
	}
	if rules := s.a.Faults().List(); len(rules) != 0 {
		t.Errorf("rules after refused documents: %v", rules)
	}
	stop()
	h.sale(t, "visa-ok", 100, "after")
	checkCharged(t, s.a, "visa-ok", 200)
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
