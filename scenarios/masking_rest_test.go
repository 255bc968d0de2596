package scenarios_test

// Card data at rest (issue 16, class 5): the terminal's journal file keeps a full PAN only
// while recovery needs it, and the acquirer's admin API never shows more than first 6 /
// last 4 of anything that could be a PAN.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator"
)

func cardPAN(t *testing.T, name string) string {
	t.Helper()
	c, ok := cards.Builtin().ByName(name)
	if !ok {
		t.Fatalf("no card %s", name)
	}
	return c.PAN
}

// journalBytes is everything of the journal on disk: the database and its WAL and index.
func journalBytes(t *testing.T, path string) string {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		b, err := os.ReadFile(p)
		if err == nil {
			all = append(all, b...)
		}
	}
	if len(all) == 0 {
		t.Fatalf("no journal at %s", path)
	}
	return string(all)
}

// TestNoCardDataInJournalFile: a declined sale, a voided sale and a sale whose answer was
// lost (reversed) leave no full PAN or expiry in the terminal's journal file once final;
// an approved sale keeps its PAN (a void may still need it) until the batch is settled,
// then loses it too. The acquirer's ledger after: only what stays approved is charged.
func TestNoCardDataInJournalFile(t *testing.T) {
	e := newE2E(t, "tcp")
	path := filepath.Join(t.TempDir(), "terminal.db")
	term := e.terminal(path)
	ctx := context.Background()
	if out := term.Sale(ctx, simulator.Payment{Card: "low-funds", Amount: 990000}); out.Kind != simulator.KindDeclined {
		t.Fatalf("low-funds: %s (%v)", out.Kind, out.Err)
	}
	sale := term.Sale(ctx, simulator.Payment{Card: card, Amount: 1000})
	if sale.Kind != simulator.KindApproved {
		t.Fatalf("visa-ok: %s (%v)", sale.Kind, sale.Err)
	}
	if v := term.Void(ctx, sale.Ref()); v.Kind != simulator.KindVoided {
		t.Fatalf("void: %s (%v)", v.Kind, v.Err)
	}
	if _, err := e.acq.Faults().Add(fault.Rule{Name: "lost", Match: fault.Match{MTI: []string{"0200"}, Card: "unionpay-ok"},
		Action: fault.ActionNoResponse, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if out := term.Sale(ctx, simulator.Payment{Card: "unionpay-ok", Amount: 700}); out.Kind != simulator.KindTimedOutReversed {
		t.Fatalf("unionpay-ok: %s (%v)", out.Kind, out.Err)
	}
	kept := term.Sale(ctx, simulator.Payment{Card: "mc-ok", Amount: 500})
	if kept.Kind != simulator.KindApproved {
		t.Fatalf("mc-ok: %s (%v)", kept.Kind, kept.Err)
	}
	raw := journalBytes(t, path)
	if !strings.Contains(raw, cardPAN(t, "mc-ok")) {
		t.Errorf("the approved, unsettled sale's PAN is not in the journal: a void could not be sent (or the scan sees nothing)")
	}
	for _, name := range []string{"low-funds", card, "unionpay-ok"} {
		if strings.Contains(raw, cardPAN(t, name)) {
			t.Errorf("journal file keeps the full PAN of %s after its transaction was final", name)
		}
	}
	if out := term.Settle(ctx); out.Kind != simulator.KindSettled {
		t.Fatalf("settle: %s (%v)", out.Kind, out.Err)
	}
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	s := &scanner{t: t, secrets: secrets(t)}
	s.scan("journal file after settlement", journalBytes(t, path))
	// The ledger: the settled mc-ok sale is the only charge left.
	for name, want := range map[string]int64{card: 0, "unionpay-ok": 0, "mc-ok": 500} {
		b, err := e.acq.Balance(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Opening - b.Available; got != want {
			t.Errorf("%s charged %d, want %d", name, got, want)
		}
	}
}

// panLike finds digit runs that could be card numbers: 13 to 19 digits, not starting with
// 0 (amounts are zero-padded n12; RRNs are 12 digits).
var panLike = regexp.MustCompile(`[1-9][0-9]{12,18}`)

func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum, double = sum+d, !double
	}
	return sum%10 == 0
}

// TestNoCardDataInAdminAPI: after traffic (approvals, a decline, an undecodable frame
// quoting a PAN, fault rules naming a full PAN and a 16-digit pan_prefix), no admin
// listing shows a full test PAN, a Luhn-valid card-length number, or a pan_prefix of more
// than 6 digits. The healthy terminal's sales are all charged, nothing else.
func TestNoCardDataInAdminAPI(t *testing.T) {
	e := newE2E(t, "tcp")
	visa, mc := cardPAN(t, card), cardPAN(t, "mc-ok")
	if _, err := e.acq.Faults().Add(
		fault.Rule{Name: "by pan " + visa, Match: fault.Match{PAN: mc, MTI: []string{"0100"}}, Action: fault.ActionDecline, Params: fault.Params{Code: "05"}},
		fault.Rule{Name: "by prefix", Match: fault.Match{PANPrefix: mc, MTI: []string{"0100"}}, Action: fault.ActionDecline, Params: fault.Params{Code: "05"}},
	); err != nil {
		t.Fatal(err)
	}
	term := e.terminal(":memory:")
	ctx := context.Background()
	charged := int64(0)
	for i := range 3 {
		if out := term.Sale(ctx, simulator.Payment{Card: card, Amount: int64(100 * (i + 1))}); out.Kind != simulator.KindApproved {
			t.Fatalf("sale %d: %s (%v)", i, out.Kind, out.Err)
		}
		charged += int64(100 * (i + 1))
	}
	if out := term.Sale(ctx, simulator.Payment{Card: "low-funds", Amount: 990000}); out.Kind != simulator.KindDeclined {
		t.Fatalf("low-funds: %s", out.Kind)
	}
	h := e.acq.Admin()
	s := &scanner{t: t, secrets: secrets(t)}
	for _, path := range []string{"/journal", "/transactions", "/cards", "/cards/visa-ok", "/faults", "/metrics", "/healthz",
		"/journal?card=" + visa, "/cards/" + visa, "/faults/f1"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(rec.Body)
		where := "GET " + iso.MaskText(path)
		s.scan(where, string(body))
		if path == "/metrics" {
			continue // byte counts and timestamps: long numbers that are not card data
		}
		for _, m := range panLike.FindAllString(string(body), -1) {
			if luhn(m) {
				t.Errorf("%s shows a card-length Luhn-valid number %s", where, iso.MaskPAN(m))
			}
		}
		if path == "/faults" {
			if !regexp.MustCompile(`"pan_prefix": ?"555555\*{10}"`).Match(body) {
				t.Errorf("/faults: the 16-digit pan_prefix is not cut to its first 6 digits:\n%s", iso.MaskText(string(body)))
			}
		}
	}
	if got := e.charged(); got != charged {
		t.Errorf("charged %d, want the healthy sales' %d", got, charged)
	}
}

// TestNoCardDataInScenarioTitles: a scenario whose title and description quote a full
// card number shows it masked in every report (text, JSON, JUnit); the scenario itself
// runs (its sale is approved and charged at its own acquirer, checked by its ledger step).
func TestNoCardDataInScenarioTitles(t *testing.T) {
	visa := cardPAN(t, card)
	src := "title: refund for card " + visa + "\n" +
		"description: |\n  The customer's card " + visa + " was charged twice.\n" +
		"steps:\n  - sale: {card: visa-ok, amount: \"10.00\", pin: \"1234\"}\n" +
		"    expect: {outcome: approved, ledger: {visa-ok: \"9990.00\"}}\n"
	sc, err := scenarios.Parse([]byte(src), "titles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rep := scenarios.RunAll(context.Background(), []*scenarios.Scenario{sc}, scenarios.Options{TempDir: t.TempDir()})
	reports := reportOutputs(t, rep)
	s := &scanner{t: t, secrets: secrets(t)}
	for where, out := range reports {
		s.scan(where, out)
		if !strings.Contains(out, iso.MaskPAN(visa)) {
			t.Errorf("%s does not show the masked title at all:\n%s", where, out)
		}
	}
	if len(rep.Results) != 1 || !rep.Results[0].Passed {
		t.Errorf("the scenario did not pass: %s", reports[verboseText])
	}
}
