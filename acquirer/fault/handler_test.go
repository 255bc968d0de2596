package fault

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/posdrill/posdrill/iso/clock"
)

func do(t *testing.T, h http.Handler, method, path, ctype, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestHandler(t *testing.T) {
	e := NewEngine(1, clock.NewVirtual(t0))
	h := Handler(e)

	t.Run("post one rule", func(t *testing.T) {
		code, body := do(t, h, "POST", "/faults", "application/json", `{"action":"delay","params":{"ms":100}}`)
		if code != http.StatusCreated || strings.TrimSpace(body) != "{\n  \"ids\": [\n    \"f1\"\n  ]\n}" {
			t.Errorf("POST = %d %s", code, body)
		}
	})
	t.Run("post a list", func(t *testing.T) {
		code, body := do(t, h, "POST", "/faults", "", `[{"action":"reset","match":{"pan":"4761739001010010"}},{"action":"issuer_down"}]`)
		var got struct{ IDs []string }
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusCreated || !cmp.Equal(got.IDs, []string{"f2", "f3"}) {
			t.Errorf("POST = %d %s (%v)", code, body, err)
		}
	})
	t.Run("post yaml", func(t *testing.T) {
		code, body := do(t, h, "POST", "/faults", "application/yaml", "- action: wrong_stan\n  match: {mti: 0200}\n")
		if code != http.StatusCreated || !strings.Contains(body, `"f4"`) {
			t.Errorf("POST = %d %s", code, body)
		}
	})
	t.Run("invalid changes nothing", func(t *testing.T) {
		before := e.List()
		code, body := do(t, h, "POST", "/faults", "application/json", `[{"action":"reset"},{"action":"delay","params":{"ms":0}}]`)
		if code != http.StatusBadRequest {
			t.Errorf("status = %d, want 400", code)
		}
		var got errBody
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if got.Field != "params.ms" || got.Reason != "must be > 0 for delay (at most 86400000)" || got.Rule == nil || *got.Rule != 1 ||
			got.Error != "rule 1: params.ms: must be > 0 for delay (at most 86400000)" {
			t.Errorf("error body = %+v", got)
		}
		if diff := cmp.Diff(before, e.List()); diff != "" {
			t.Errorf("rules changed (-before +after):\n%s", diff)
		}
	})
	t.Run("yaml errors carry positions", func(t *testing.T) {
		code, body := do(t, h, "POST", "/faults", "text/yaml", "- action: explode\n")
		if code != http.StatusBadRequest || !strings.Contains(body, `"error": "request:1:11: unknown action \"explode\"`) || !strings.Contains(body, `"line": 1`) {
			t.Errorf("POST = %d %s", code, body)
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		code, body := do(t, h, "POST", "/faults", "application/json", `{"action":`)
		if code != http.StatusBadRequest || !strings.Contains(body, "unexpected end of input") {
			t.Errorf("POST = %d %s", code, body)
		}
	})
	t.Run("empty list", func(t *testing.T) {
		if code, _ := do(t, h, "POST", "/faults", "application/json", `[]`); code != http.StatusBadRequest {
			t.Errorf("status = %d, want 400", code)
		}
	})
	t.Run("body over 1 MiB", func(t *testing.T) {
		big := `[` + strings.Repeat(`{"action":"reset"},`, MaxBodyBytes/19+1) + `{"action":"reset"}]`
		code, _ := do(t, h, "POST", "/faults", "application/json", big)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413", code)
		}
		if n := len(e.List()); n != 4 {
			t.Errorf("%d rules after a rejected body, want 4", n)
		}
	})
	t.Run("list masks card numbers", func(t *testing.T) {
		e.Evaluate(Request{MTI: "0200"})
		code, body := do(t, h, "GET", "/faults", "", "")
		if code != http.StatusOK {
			t.Fatalf("GET = %d", code)
		}
		if strings.Contains(body, "4761739001010010") || !strings.Contains(body, `"pan": "476173******0010"`) {
			t.Errorf("listing leaks or lost the PAN:\n%s", body)
		}
		var rules []Rule
		if err := json.Unmarshal([]byte(body), &rules); err != nil {
			t.Fatal(err)
		}
		if len(rules) != 4 || rules[0].ID != "f1" || rules[0].Matched != 1 || rules[0].Fired != 1 || rules[2].Params.Code != "91" {
			t.Errorf("listing = %+v", rules)
		}
		// A listing posts back, except that a masked card number cannot be matched on.
		_, err := ParseJSON([]byte(body))
		if want := "rule 1: match.pan: is masked (listings hide card numbers): give the full number, or use pan_prefix"; err == nil || err.Error() != want {
			t.Errorf("posting the listing back: %v, want %s", err, want)
		}
	})
	t.Run("delete one", func(t *testing.T) {
		if code, _ := do(t, h, "DELETE", "/faults/f2", "", ""); code != http.StatusNoContent {
			t.Errorf("DELETE f2 = %d", code)
		}
		if code, body := do(t, h, "DELETE", "/faults/f2", "", ""); code != http.StatusNotFound || !strings.Contains(body, `no fault rule with id \"f2\"`) {
			t.Errorf("DELETE f2 again = %d %s", code, body)
		}
		if n := len(e.List()); n != 3 {
			t.Errorf("%d rules, want 3", n)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		req := httptest.NewRequest("PUT", "/faults", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
			t.Errorf("PUT = %d allow=%q", rec.Code, rec.Header().Get("Allow"))
		}
		if code, _ := do(t, h, "GET", "/faults/f1", "", ""); code != http.StatusMethodNotAllowed {
			t.Errorf("GET /faults/f1 = %d", code)
		}
		if code, _ := do(t, h, "DELETE", "/faults/a/b", "", ""); code != http.StatusNotFound {
			t.Errorf("DELETE /faults/a/b = %d", code)
		}
	})
	t.Run("delete all", func(t *testing.T) {
		if code, _ := do(t, h, "DELETE", "/faults", "", ""); code != http.StatusNoContent {
			t.Errorf("DELETE = %d", code)
		}
		if code, body := do(t, h, "GET", "/faults", "", ""); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
			t.Errorf("GET after clear = %d %s", code, body)
		}
	})
}

func TestHandlerMountedBehindStripPrefix(t *testing.T) {
	e := NewEngine(1, clock.NewVirtual(t0))
	mux := http.NewServeMux()
	mux.Handle("/faults", http.StripPrefix("/faults", Handler(e)))
	mux.Handle("/faults/", http.StripPrefix("/faults", Handler(e)))
	srv := httptest.NewServer(mux) // listens on 127.0.0.1:0
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/faults", "application/json", bytes.NewReader([]byte(`{"action":"reset"}`)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"f1"`) {
		t.Fatalf("POST = %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/faults/f1", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || len(e.List()) != 0 {
		t.Errorf("DELETE = %d, %d rules left", resp.StatusCode, len(e.List()))
	}
}
