package acquirer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
)

// Admin returns the admin HTTP API (cmd binds it to loopback):
//
//	GET  /healthz               {"status":"ok",...}, or 503 {"status":"saturated","why":...} (no token needed)
//	GET  /journal               ?terminal=&card=&stan=&since=RFC3339&limit=N — messages in and out
//	GET  /transactions          same filters
//	GET  /cards                 every card: masked PAN, brand, status, expiry, balance
//	GET  /cards/{name}          one card's balance and open holds
//	POST /reset                 ledger back to the fixtures; journal, transactions, batches emptied
//	GET  /metrics               Prometheus
//	     /faults, /faults/{id}  the fault rules (see fault.Handler)
//
// With Options.AdminToken set, everything but /healthz needs "Authorization: Bearer TOKEN".
// Card numbers are masked. Amounts: every amount field (amount, requested, opening,
// available, held) is an integer in minor units, as ISO 8583 carries it (1234 is 12.34), and
// comes with NAME_major, the same in major units as the CLI writes them ("12.34"), and
// "amount_unit": "minor" saying so. The integers stay for the tools already reading them.
func (a *Acquirer) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Not a bare "ok": a balancer or a trainer must see when no one else can connect.
		s := a.Saturation()
		if s.Saturated {
			writeJSON(w, http.StatusServiceUnavailable, struct {
				Status string `json:"status"`
				Saturation
			}{"saturated", s})
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Status string `json:"status"`
			Saturation
		}{"ok", s})
	})
	mux.HandleFunc("GET /journal", func(w http.ResponseWriter, r *http.Request) {
		f, err := parseFilter(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		entries, err := a.Journal(f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, iso.MaskText(err.Error()))
			return
		}
		out := make([]entryJSON, len(entries))
		for i, e := range entries {
			out[i] = entryJSON{e, minorUnit, iso.FormatMoney(e.Amount)}
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /transactions", func(w http.ResponseWriter, r *http.Request) {
		f, err := parseFilter(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		txns, err := a.Transactions(f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, iso.MaskText(err.Error()))
			return
		}
		writeJSON(w, http.StatusOK, txnsJSON(txns))
	})
	mux.HandleFunc("GET /cards", func(w http.ResponseWriter, r *http.Request) {
		out, err := a.cardViews()
		if err != nil {
			writeError(w, http.StatusInternalServerError, iso.MaskText(err.Error()))
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /cards/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		v, ok, err := a.cardView(name)
		if err != nil {
			writeError(w, http.StatusInternalServerError, iso.MaskText(err.Error()))
			return
		}
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no card named %q", iso.MaskText(name)))
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Reset(); err != nil {
			writeError(w, http.StatusInternalServerError, iso.MaskText(err.Error()))
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
	})
	mux.Handle("GET /metrics", a.m.handler())
	fh := fault.Handler(a.faults)
	mux.Handle("/faults", fh)
	mux.Handle("/faults/", fh)

	return fault.RequireToken(a.o.AdminToken, "posdrill acquirer", mux)
}

// parseFilter reads the query parameters terminal, card, stan, since (RFC 3339) and limit.
func parseFilter(r *http.Request) (Filter, error) {
	q := r.URL.Query()
	f := Filter{Terminal: q.Get("terminal"), Card: q.Get("card"), STAN: q.Get("stan")}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return f, fmt.Errorf("query parameter since: %q is not an RFC 3339 time like 2030-01-02T15:04:05Z", iso.MaskText(s))
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return f, fmt.Errorf("query parameter limit: %q is not a non-negative number", iso.MaskText(s))
		}
		f.Limit = n
	}
	return f, nil
}

// cardView is a card as the admin API shows it.
type cardView struct {
	Name      string `json:"name"`
	MaskedPAN string `json:"masked_pan"`
	Brand     string `json:"brand"`
	Status    string `json:"status"`
	Expiry    string `json:"expiry"`
	Balance
	AmountUnit     string    `json:"amount_unit"`
	OpeningMajor   string    `json:"opening_major"`
	AvailableMajor string    `json:"available_major"`
	HeldMajor      string    `json:"held_major"`
	PINTries       int       `json:"pin_tries"`
	Holds          []txnJSON `json:"holds,omitempty"`
	Note           string    `json:"note,omitempty"`
}

// minorUnit is the "amount_unit" of every admin API object with amounts.
const minorUnit = "minor"

// withMajor fills a card view's amounts in major units from its balance.
func (v cardView) withMajor() cardView {
	v.AmountUnit = minorUnit
	v.OpeningMajor, v.AvailableMajor, v.HeldMajor = iso.FormatMoney(v.Opening), iso.FormatMoney(v.Available), iso.FormatMoney(v.Held)
	return v
}

// entryJSON is a journal entry with its amount also in major units.
type entryJSON struct {
	Entry
	AmountUnit  string `json:"amount_unit"`
	AmountMajor string `json:"amount_major"`
}

// txnJSON is a transaction with its amounts also in major units.
type txnJSON struct {
	Txn
	AmountUnit     string `json:"amount_unit"`
	RequestedMajor string `json:"requested_major"`
	AmountMajor    string `json:"amount_major"`
}

func txnsJSON(txns []Txn) []txnJSON {
	out := make([]txnJSON, len(txns))
	for i, t := range txns {
		out[i] = txnJSON{t, minorUnit, iso.FormatMoney(t.Requested), iso.FormatMoney(t.Amount)}
	}
	return out
}

func (a *Acquirer) cardViews() ([]cardView, error) {
	states, err := a.st.cards()
	if err != nil {
		return nil, err
	}
	byName := map[string]cardState{}
	for _, s := range states {
		byName[s.Name] = s
	}
	out := []cardView{}
	for _, c := range a.o.Cards.Cards {
		s := byName[c.Name]
		out = append(out, cardView{Name: c.Name, MaskedPAN: iso.MaskPAN(c.PAN), Brand: c.Brand, Status: c.Status,
			Expiry: c.Expiry, Balance: Balance{Card: c.Name, Opening: s.Opening, Available: s.Available, Held: s.Held},
			PINTries: s.PINTries, Note: c.Note}.withMajor())
	}
	return out, nil
}

func (a *Acquirer) cardView(name string) (cardView, bool, error) {
	card, ok := a.o.Cards.ByName(name)
	if !ok {
		return cardView{}, false, nil
	}
	s, ok, err := a.st.card(name)
	if err != nil || !ok {
		return cardView{}, ok, err
	}
	v := cardView{Name: card.Name, MaskedPAN: iso.MaskPAN(card.PAN), Brand: card.Brand, Status: card.Status,
		Expiry: card.Expiry, Balance: Balance{Card: name, Opening: s.Opening, Available: s.Available, Held: s.Held},
		PINTries: s.PINTries, Note: card.Note, Holds: []txnJSON{}}.withMajor()
	txns, err := a.Transactions(Filter{Card: name})
	if err != nil {
		return cardView{}, false, err
	}
	for _, t := range txns {
		if t.State == StateHeld {
			v.Holds = append(v.Holds, txnsJSON([]Txn{t})...)
		}
	}
	return v, true, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
