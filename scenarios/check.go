package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
)

// check compares one expect block with what happened. step is the step's index, or -1 for
// the final expect (whole-run flow and events). out is the step's outcome, nil if none.
func (r *runner) check(step int, e *Expect, out *simulator.Outcome) {
	if out != nil {
		r.checkOutcome(step, e, out)
	}
	wire, events, _ := r.rec.snapshot()
	if e.Flow != nil {
		items := r.rec.flowItems(wire)
		var got []FlowEntry
		if step >= 0 {
			got = stepFlow(items, step)
		} else {
			got = runFlow(items)
		}
		if !matchFlow(e.Flow, got) {
			want := FormatFlow(e.Flow)
			have := FormatFlow(got)
			r.failDiff(step, "flow", fmt.Sprintf("expected %s, got %s", quoteList(want), quoteList(have)),
				"-expected +got\n"+cmp.Diff(want, have))
		}
	}
	if e.EventsContain != nil {
		var kinds []string
		for _, ev := range events {
			if step < 0 || ev.step == step {
				kinds = appendUnique(kinds, ev.ev.Kind)
			}
		}
		var missing []string
		for _, k := range e.EventsContain {
			if !slices.Contains(kinds, k) {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			r.fail(step, "events_contain", "expected events %s, got %s (missing %s)", quoteList(e.EventsContain), quoteList(kinds), quoteList(missing))
		}
	}
	r.checkHost(step, e)
	r.checkTerminal(step, e)
}

func (r *runner) checkOutcome(step int, e *Expect, out *simulator.Outcome) {
	errNote := ""
	if out.Err != nil {
		errNote = " (" + out.Err.Error() + ")"
	}
	if e.Outcome != "" && out.Kind != e.Outcome {
		r.fail(step, "outcome", "expected %q, got %q%s", e.Outcome, out.Kind, errNote)
	}
	if e.ResponseCode != "" && out.ResponseCode != e.ResponseCode {
		r.fail(step, "response_code", "expected %q, got %s", e.ResponseCode, orNone(out.ResponseCode))
	}
	if e.Guidance != "" && out.Guidance != e.Guidance {
		r.fail(step, "guidance", "expected %q, got %s", e.Guidance, orNone(out.Guidance))
	}
	if e.Approved != nil && out.Approved != *e.Approved {
		r.fail(step, "approved", "expected %s, got %s", iso.FormatMoney(*e.Approved), iso.FormatMoney(out.Approved))
	}
	if len(e.ReceiptContains) > 0 {
		text := out.Receipt.String() // nil-safe
		var missing []string
		for _, s := range e.ReceiptContains {
			if !strings.Contains(text, s) {
				missing = append(missing, s)
			}
		}
		switch {
		case out.Receipt == nil:
			r.fail(step, "receipt_contains", "expected a receipt containing %s, got no receipt", quoteList(e.ReceiptContains))
		case len(missing) > 0:
			r.failDiff(step, "receipt_contains", fmt.Sprintf("expected the receipt to contain %s, got a receipt without them", quoteList(missing)),
				"receipt:\n"+text)
		}
	}
}

func (r *runner) checkHost(step int, e *Expect) {
	if e.Ledger == nil && e.Journal == nil {
		return
	}
	if r.host != "" {
		r.checkExternalHost(step, e)
		return
	}
	r.mu.Lock()
	a := r.acq
	r.mu.Unlock()
	if a == nil {
		r.fail(step, "ledger", "the acquirer is not running")
		return
	}
	for _, le := range e.Ledger {
		name := r.cardName(le.Card)
		b, err := a.Balance(name)
		if err != nil {
			r.fail(step, "ledger "+le.Card, "cannot read the balance: %v", err)
			continue
		}
		if le.Available != nil && b.Available != *le.Available {
			r.fail(step, "ledger "+le.Card, "expected available %s, got %s (opening %s, held %s)",
				iso.FormatMoney(*le.Available), iso.FormatMoney(b.Available), iso.FormatMoney(b.Opening), iso.FormatMoney(b.Held))
		}
		if le.Held != nil && b.Held != *le.Held {
			r.fail(step, "ledger "+le.Card, "expected held %s, got %s (available %s)",
				iso.FormatMoney(*le.Held), iso.FormatMoney(b.Held), iso.FormatMoney(b.Available))
		}
	}
	if e.Journal == nil {
		return
	}
	txns, err := a.Transactions(acquirer.Filter{})
	if err != nil {
		r.fail(step, "journal", "cannot read the host's transactions: %v", err)
		return
	}
	for _, je := range e.Journal {
		r.checkJournal(step, je, txns)
	}
}

// checkJournal finds the host transactions the entry is about (by STAN, MTI and card) and
// passes if one of them has every other field given.
func (r *runner) checkJournal(step int, je JournalExpect, txns []acquirer.Txn) {
	var cands []acquirer.Txn
	for _, t := range txns {
		if (je.STAN == "" || t.STAN == je.STAN) && (je.MTI == "" || t.MTI == je.MTI) &&
			(je.Card == "" || t.Card == r.cardName(je.Card)) {
			cands = append(cands, t)
		}
	}
	want := describeJournalExpect(je)
	if len(cands) == 0 {
		var all []string
		for _, t := range txns {
			all = append(all, describeTxn(t))
		}
		r.fail(step, "journal", "expected a host transaction %s, got none with that identity (host has %s)", want, quoteList(all))
		return
	}
	var got []string
	for _, t := range cands {
		if (je.State == "" || t.State == je.State) && (je.Amount == nil || t.Amount == *je.Amount) &&
			(je.ResponseCode == "" || t.ResponseCode == je.ResponseCode) {
			return
		}
		got = append(got, describeTxn(t))
	}
	r.fail(step, "journal", "expected %s, got %s", want, strings.Join(got, "; "))
}

func describeJournalExpect(je JournalExpect) string {
	var parts []string
	for _, kv := range [][2]string{{"stan", je.STAN}, {"mti", je.MTI}, {"card", je.Card}, {"state", je.State}, {"response_code", je.ResponseCode}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if je.Amount != nil {
		parts = append(parts, "amount "+iso.FormatMoney(*je.Amount))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func describeTxn(t acquirer.Txn) string {
	return fmt.Sprintf("{stan %s, mti %s, card %s, state %s, response_code %s, amount %s}",
		t.STAN, t.MTI, t.Card, t.State, orNone(t.ResponseCode), iso.FormatMoney(t.Amount))
}

func (r *runner) checkTerminal(step int, e *Expect) {
	if e.SAF != nil {
		var mtis []string
		for _, s := range r.term.SAF() {
			mtis = append(mtis, s.MTI)
		}
		switch {
		case e.SAF.MTIs != nil && !slices.Equal(e.SAF.MTIs, mtis):
			r.failDiff(step, "saf", fmt.Sprintf("expected %s, got %s", quoteList(e.SAF.MTIs), quoteList(mtis)),
				"-expected +got\n"+cmp.Diff(e.SAF.MTIs, mtis))
		case e.SAF.MTIs == nil && len(mtis) != e.SAF.Count:
			r.fail(step, "saf", "expected %d queued, got %d%s", e.SAF.Count, len(mtis), listSuffix(mtis))
		}
	}
	if e.ManualReconciliation != nil {
		m := r.term.ManualReconciliation()
		if len(m) != *e.ManualReconciliation {
			var what []string
			for _, s := range m {
				what = append(what, s.Kind+" "+s.OriginalMTI+"/"+s.OriginalSTAN)
			}
			r.fail(step, "manual_reconciliation", "expected %d, got %d%s", *e.ManualReconciliation, len(m), listSuffix(what))
		}
	}
}

// cardName maps a PAN written in a scenario to its fixture name (the host's ledger key).
func (r *runner) cardName(s string) string {
	if c, ok := r.sc.Cards.ByPAN(s); ok {
		return c.Name
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return fmt.Sprintf("%q", s)
}

func listSuffix(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return " " + quoteList(list)
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
