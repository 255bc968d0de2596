package acquirer

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// adminDo runs one request against the admin handler.
func adminDo(t *testing.T, h http.Handler, method, path, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestAdminAPI(t *testing.T) {
	s := start(t, Options{AdminToken: "tok"})
	h := s.a.Admin()
	c := s.dial(t)
	wantCode(t, c.send(t, sale(t, "visa-ok", 2500, "000001")), "00")
	pre := preauth(t, "visa-ok", 1000, "000002")
	pre.TerminalID = "TERM0002"
	wantCode(t, c.send(t, pre), "00")
	wantCode(t, c.send(t, sale(t, "lost", 100, "000003")), "41")

	tests := []struct {
		name, method, path, token, body string
		status                          int
		contains                        []string
		absent                          []string
	}{
		{"healthz needs no token", "GET", "/healthz", "", "", 200, []string{`"ok"`}, nil},
		{"journal needs the token", "GET", "/journal", "", "", 401, []string{"bearer token"}, nil},
		{"wrong token", "GET", "/journal", "nope", "", 401, nil, nil},
		{"journal", "GET", "/journal", "tok", "", 200, []string{`"direction": "in"`, `"direction": "out"`, `"411111******1111"`, `"decision": "approved sale 25.00"`}, []string{"4111111111111111"}},
		{"journal by terminal", "GET", "/journal?terminal=TERM0002", "tok", "", 200, []string{`"stan": "000002"`}, []string{`"stan": "000001"`}},
		{"journal since the future", "GET", "/journal?since=2099-01-01T00:00:00Z", "tok", "", 200, []string{"[]"}, []string{`"stan"`}},
		{"journal bad since", "GET", "/journal?since=yesterday", "tok", "", 400, []string{"since", "RFC 3339"}, nil},
		{"journal bad limit", "GET", "/journal?limit=-1", "tok", "", 400, []string{"limit"}, nil},
		{"transactions", "GET", "/transactions?card=visa-ok", "tok", "", 200, []string{`"state": "approved"`, `"state": "held"`}, []string{`"state": "declined"`, "4111111111111111"}},
		{"cards", "GET", "/cards", "tok", "", 200, []string{`"name": "visa-ok"`, `"available": 996500`, `"masked_pan": "` + iso.MaskPAN("378282246310005") + `"`}, []string{"4111111111111111", "378282246310005"}},
		{"card with its holds", "GET", "/cards/visa-ok", "tok", "", 200, []string{`"held": 1000`, `"holds": [`, `"stan": "000002"`}, nil},
		// Amounts say their unit and come in major units too, as the CLI writes them.
		{"card amounts in both units", "GET", "/cards/visa-ok", "tok", "", 200, []string{`"amount_unit": "minor"`,
			`"available": 996500`, `"available_major": "9965.00"`, `"held_major": "10.00"`, `"opening_major": "10000.00"`, `"amount_major": "10.00"`}, nil},
		{"transaction amounts in both units", "GET", "/transactions?stan=000001", "tok", "", 200, []string{`"amount": 2500`,
			`"amount_major": "25.00"`, `"requested_major": "25.00"`, `"amount_unit": "minor"`}, nil},
		{"journal amounts in both units", "GET", "/journal?stan=000001", "tok", "", 200, []string{`"amount": 2500`, `"amount_major": "25.00"`}, nil},
		{"unknown card", "GET", "/cards/nosuch", "tok", "", 404, []string{"no card named"}, nil},
		{"PAN as a card name is masked", "GET", "/cards/4111111111111111", "tok", "", 404, []string{"411111******1111"}, []string{"4111111111111111"}},
		{"metrics", "GET", "/metrics", "tok", "", 200, []string{`posdrill_acquirer_requests_total{code="00",mti="0200"} 1`, `posdrill_acquirer_requests_total{code="41",mti="0200"} 1`, "posdrill_acquirer_request_duration_seconds_bucket"}, nil},
		{"faults mounted", "POST", "/faults", "tok", `{"name":"x","action":"issuer_down"}`, 201, []string{"ids"}, nil},
		{"faults listed", "GET", "/faults", "tok", "", 200, []string{`"name": "x"`}, nil},
		{"bad fault rule", "POST", "/faults", "tok", `{"action":"explode"}`, 400, []string{"explode"}, nil},
		{"oversize body", "POST", "/faults", "tok", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, nil, nil},
		{"method not allowed", "DELETE", "/journal", "tok", "", 405, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := adminDo(t, h, tt.method, tt.path, tt.token, tt.body)
			if status != tt.status {
				t.Fatalf("%s %s: %d, want %d: %.300s", tt.method, tt.path, status, tt.status, body)
			}
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("answer lacks %q: %.2000s", want, body)
				}
			}
			for _, bad := range tt.absent {
				if strings.Contains(body, bad) {
					t.Errorf("answer has %q", bad)
				}
			}
		})
	}

	t.Run("journal entries decode", func(t *testing.T) {
		_, body := adminDo(t, h, "GET", "/journal?stan=000003", "tok", "")
		var entries []Entry
		if err := json.Unmarshal([]byte(body), &entries); err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].ResponseCode != "41" || !entries[0].Time.Equal(entries[0].Time.UTC()) {
			t.Errorf("%+v", entries)
		}
		if entries[0].Time.Before(txnDate) || entries[0].Time.After(txnDate.Add(time.Minute)) {
			t.Errorf("journal time %s is not the injected clock's", entries[0].Time)
		}
	})
	t.Run("reset", func(t *testing.T) {
		status, _ := adminDo(t, h, "POST", "/reset", "tok", "")
		if status != 200 {
			t.Fatalf("reset %d", status)
		}
		if b := s.balance(t, "visa-ok"); b.Available != 1000000 || b.Held != 0 {
			t.Errorf("after reset %+v", b)
		}
		if j := s.journal(t, Filter{}); len(j) != 0 {
			t.Errorf("journal after reset: %d lines", len(j))
		}
		// Fault rules survive a reset (they have their own API): the issuer_down rule
		// added above still answers.
		wantCode(t, c.send(t, sale(t, "visa-ok", 2500, "000001")), "91")
		s.a.Faults().Clear()
		// The ledger and duplicate detection start afresh: STAN 000002 is new again.
		wantCode(t, c.send(t, sale(t, "visa-ok", 2500, "000002")), "00")
		if b := s.balance(t, "visa-ok"); b.Available != 997500 {
			t.Errorf("after a sale %+v", b)
		}
	})
}

func TestAdminNoToken(t *testing.T) {
	s := start(t, Options{})
	if status, _ := adminDo(t, s.a.Admin(), "GET", "/journal", "", ""); status != 200 {
		t.Errorf("without AdminToken the API is open: got %d", status)
	}
}
