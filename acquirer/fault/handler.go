package fault

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

// MaxBodyBytes bounds a POST /faults body.
const MaxBodyBytes = 1 << 20

// Handler serves the admin API for e:
//
//	GET    /faults       the running rules with their counters (JSON list; PANs masked)
//	POST   /faults       add one rule or a list (JSON, or YAML with a yaml Content-Type):
//	                     201 {"ids":[...]}; invalid → 400 {"error","field","reason","rule","errors"}
//	                     and nothing changes; body over 1 MiB → 413
//	DELETE /faults/{id}  remove one rule (404 if unknown)
//	DELETE /faults       remove every rule
//
// It works both mounted at the root of a mux (paths as above) and behind
// http.StripPrefix("/faults", ...).
func Handler(e *Engine) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/faults")
		rest = strings.Trim(rest, "/")
		if rest == "" {
			switch r.Method {
			case http.MethodGet, http.MethodHead:
				list(e, w)
			case http.MethodPost:
				post(e, w, r)
			case http.MethodDelete:
				e.Clear()
				w.WriteHeader(http.StatusNoContent)
			default:
				w.Header().Set("Allow", "GET, HEAD, POST, DELETE")
				writeJSON(w, http.StatusMethodNotAllowed, errBody{Error: r.Method + " is not allowed on /faults"})
			}
			return
		}
		if strings.Contains(rest, "/") {
			writeJSON(w, http.StatusNotFound, errBody{Error: "no such resource"})
			return
		}
		if r.Method != http.MethodDelete {
			w.Header().Set("Allow", "DELETE")
			writeJSON(w, http.StatusMethodNotAllowed, errBody{Error: r.Method + " is not allowed on /faults/{id}"})
			return
		}
		if !e.Remove(rest) {
			writeJSON(w, http.StatusNotFound, errBody{Error: "no fault rule with id " + quoteMasked(rest)})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func quoteMasked(s string) string {
	b, _ := json.Marshal(iso.MaskText(s))
	return string(b)
}

type errBody struct {
	Error  string     `json:"error"`
	Field  string     `json:"field,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Rule   *int       `json:"rule,omitempty"`
	Errors []errEntry `json:"errors,omitempty"`
}

type errEntry struct {
	Rule   int    `json:"rule"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

func list(e *Engine, w http.ResponseWriter) {
	rules := e.List()
	for i := range rules {
		// The listing is a report: card numbers in it are masked like everywhere else.
		rules[i] = rules[i].Masked()
	}
	writeJSON(w, http.StatusOK, rules)
}

func post(e *Engine, w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errBody{Error: "request body is larger than 1 MiB"})
			return
		}
		writeJSON(w, http.StatusBadRequest, errBody{Error: "reading request body: " + err.Error()})
		return
	}
	var rules []Rule
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if strings.Contains(mt, "yaml") {
		rules, err = ParseYAML(body, "request")
	} else {
		rules, err = ParseJSON(body)
	}
	if err == nil && len(rules) == 0 {
		writeJSON(w, http.StatusBadRequest, errBody{Error: "no rules in request body", Reason: "no rules in request body"})
		return
	}
	var ids []string
	if err == nil {
		ids, err = e.Add(rules...)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, badRequest(err))
		return
	}
	writeJSON(w, http.StatusCreated, map[string][]string{"ids": ids})
}

func badRequest(err error) errBody {
	b := errBody{Error: iso.MaskText(err.Error())}
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Errs) == 0 {
		return b
	}
	first := pe.Errs[0]
	// Field and reason may quote what the client sent (a syntax error quotes the bad token):
	// mask them like the message.
	b.Field, b.Reason = iso.MaskText(first.Field), iso.MaskText(first.Reason)
	if first.Rule >= 0 {
		n := first.Rule
		b.Rule = &n
	}
	for _, x := range pe.Errs {
		b.Errors = append(b.Errors, errEntry{Rule: x.Rule, Field: iso.MaskText(x.Field), Reason: iso.MaskText(x.Reason), Line: x.Line, Column: x.Column})
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing useful to do
}

// RequireToken wraps an admin API (the acquirer's, the fault proxy's) so that, with token
// set, every path but /healthz needs "Authorization: Bearer TOKEN"; realm names the server
// in the challenge. Bodies are bounded by MaxBodyBytes.
func RequireToken(token, realm string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if token != "" && r.URL.Path != "/healthz" {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
				writeJSON(w, http.StatusUnauthorized, errBody{Error: "missing or wrong bearer token"})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
