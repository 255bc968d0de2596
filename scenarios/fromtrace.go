package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/simulator"
)

// This file is `posdrill scenario from-trace`: it turns a recorded trace into a scenario
// that reproduces its flow and failures, with the expectations of a correct terminal.

// FromTraceOptions say how FromTrace names the scenario and maps the trace's cards.
type FromTraceOptions struct {
	Name            string
	File            string // the trace's name, quoted in the scenario
	Cards           *cards.Set
	Map             trace.Mapping
	ResponseTimeout time.Duration
}

// What happened to one recorded request.
const (
	fateApproved = "approved"
	fateDeclined = "declined"
	fateLost     = "lost"
	fateLate     = "late"
)

type genStep struct {
	kind    string // StepSale, ...
	card    cards.Card
	amount  int64
	entry   string
	pin     string
	mti     string
	stan    string
	fate    string
	code    string
	rule    string // the fault rule's YAML (flow style), "" for none
	ruleWhy string
}

// FromTrace builds the text of a scenario reproducing recs and checks it with the scenario
// parser.
func FromTrace(recs []trace.Record, o FromTraceOptions) ([]byte, error) {
	src, exs := trace.Requests(recs)
	if len(exs) == 0 {
		return nil, fmt.Errorf("the trace holds no request sent by a terminal")
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = simulator.DefaultProfile().ResponseTimeout
	}
	reversalMTI := ""
	var steps []genStep
	seen := map[string]int{} // mti+card → earlier steps that a rule for it would match
	for i, ex := range exs {
		q := ex.Request
		if q.MTI[1] == '4' && reversalMTI == "" {
			reversalMTI = iso.BaseMTI(q.MTI)
		}
		kind := stepKind(q)
		if kind == "" {
			continue // sign-on, echo, reversals, advices: the terminal does them itself
		}
		st := genStep{kind: kind, mti: q.MTI, stan: q.STAN}
		masked := q.Fields[2]
		if masked == "" {
			if t2 := q.Fields[35]; t2 != "" {
				masked, _, _ = strings.Cut(t2, "=")
			}
		}
		if masked == "" {
			return nil, fmt.Errorf("%s STAN %s has no card number (DE2 or DE35)", q.MTI, q.STAN)
		}
		card, err := trace.CardFor(masked, o.Cards, o.Map)
		if err != nil {
			return nil, fmt.Errorf("%s STAN %s: %w", q.MTI, q.STAN, err)
		}
		st.card = card
		if st.amount, err = iso.ParseAmount(q.Fields[4]); err != nil && kind != StepBalance {
			return nil, fmt.Errorf("%s STAN %s: %w", q.MTI, q.STAN, err)
		}
		st.entry = iso.EntryModeOf(q.Fields[22])
		if _, ok := q.Fields[52]; ok {
			st.pin = card.PIN
		}
		key := q.MTI + " " + card.Name
		after := seen[key]
		seen[key]++
		match := fmt.Sprintf("{mti: %q, card: %s}", q.MTI, card.Name)
		rule := func(name, action, params string) string {
			r := fmt.Sprintf("{name: %q, match: %s, action: %s", name, match, action)
			if params != "" {
				r += ", params: " + params
			}
			if after > 0 {
				r += fmt.Sprintf(", after: %d", after)
			}
			return r + ", count: 1}"
		}
		ruleName := fmt.Sprintf("%s STAN %s", q.MTI, q.STAN)
		if f := faultFor(recs, q); f != nil {
			st.rule = rule(ruleName+": "+f.Action+" as recorded", f.Action, paramsYAML(f.Params))
			st.ruleWhy = "the trace records this fault"
		}
		switch a := ex.Recorded; {
		case a == nil:
			st.fate = fateLost
			if st.rule == "" {
				if cutAfter(recs, exs, i) {
					st.rule, st.ruleWhy = rule(ruleName+": answer lost, connection cut", "drop_after_commit", ""), "no answer recorded and the connection ended"
				} else {
					st.rule, st.ruleWhy = rule(ruleName+": no answer", "no_response", ""), "no answer recorded"
				}
			}
		case !a.Time.IsZero() && !q.Time.IsZero() && a.Time.Sub(q.Time) > o.ResponseTimeout:
			st.fate = fateLate
			if st.rule == "" {
				ms := a.Time.Sub(q.Time).Milliseconds()
				st.rule = rule(ruleName+": answer late", "delay", fmt.Sprintf("{ms: %d}", ms))
				st.ruleWhy = fmt.Sprintf("answered after %s, later than the %s timeout", a.Time.Sub(q.Time).Round(time.Millisecond), o.ResponseTimeout)
			}
		case a.ResponseCode != iso.RCApproved:
			st.fate, st.code = fateDeclined, a.ResponseCode
			if st.rule == "" {
				st.rule = rule(ruleName+": declined "+a.ResponseCode, "decline", fmt.Sprintf("{code: %q}", a.ResponseCode))
				st.ruleWhy = "declined " + a.ResponseCode + " (" + iso.LookupCode(a.ResponseCode).Meaning + ")"
			}
		default:
			st.fate = fateApproved
		}
		steps = append(steps, st)
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("the trace holds no sale, refund, balance inquiry or pre-authorization to reproduce")
	}
	// The opening balances the ledger expectations start from; one that is not an amount
	// (say "10.999") would make every expectation wrong, so it is refused, not rounded.
	balance := map[string]int64{}
	for _, st := range steps {
		n, err := iso.ParseMoney(st.card.Balance)
		if err != nil {
			return nil, fmt.Errorf("card %q: balance: %w", st.card.Name, err)
		}
		balance[st.card.Name] = n
	}
	text := writeScenario(steps, src, reversalMTI, exs[0].Request.Time, balance, o)
	if _, err := Parse(text, "from-trace.yaml"); err != nil {
		return nil, fmt.Errorf("the generated scenario does not parse (please report): %w\n%s", err, text)
	}
	return text, nil
}

func stepKind(q trace.Message) string {
	if !iso.ValidMTI(q.MTI) || iso.IsRepeat(q.MTI) {
		return ""
	}
	proc := q.Fields[3]
	switch q.MTI {
	case iso.MTIAuthRequest:
		return StepPreAuth
	case iso.MTIFinancialRequest:
		switch {
		case strings.HasPrefix(proc, "20"):
			return StepRefund
		case strings.HasPrefix(proc, "31"), strings.HasPrefix(proc, "30"):
			return StepBalance
		}
		return StepSale
	}
	return ""
}

// faultFor finds a fault record for a request (an acquirer's trace has them).
func faultFor(recs []trace.Record, q trace.Message) *trace.Fault {
	for _, r := range recs {
		if f := r.Fault; f != nil && f.STAN == q.STAN && (f.Terminal == "" || f.Terminal == q.Terminal) &&
			(f.MTI == "" || f.MTI == q.MTI) && f.Action != "" {
			return f
		}
	}
	return nil
}

func paramsYAML(p map[string]string) string {
	if len(p) == 0 {
		return ""
	}
	var parts []string
	for _, pr := range fault.ParamList() {
		v, ok := p[pr.Key]
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(v); err == nil && pr.Number {
			parts = append(parts, pr.Key+": "+v)
		} else {
			parts = append(parts, fmt.Sprintf("%s: %q", pr.Key, v))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// cutAfter: the connection of request i ended before anything else came on it (a close or
// cut event on that connection, or the next request went on another connection).
func cutAfter(recs []trace.Record, exs []trace.Exchange, i int) bool {
	q := exs[i].Request
	for _, r := range recs {
		if e := r.Event; e != nil && e.Conn == q.Conn && e.Time.After(q.Time) &&
			(e.Kind == "cut" || e.Kind == "close" || e.Kind == simulator.EventConnLost) {
			return true
		}
	}
	return i+1 < len(exs) && exs[i+1].Request.Conn != q.Conn
}

func writeScenario(steps []genStep, src trace.Source, reversalMTI string, start time.Time, balance map[string]int64, o FromTraceOptions) []byte {
	var b strings.Builder
	name := o.Name
	if name == "" {
		base := o.File[strings.LastIndexAny(o.File, `/\`)+1:]
		name = "from-" + strings.TrimSuffix(strings.TrimSuffix(base, ".jsonl"), ".json")
	}
	var failures []string
	for _, st := range steps {
		if st.fate != fateApproved {
			failures = append(failures, fmt.Sprintf("%s STAN %s %s", st.mti, st.stan, st.fate))
		}
	}
	title := "Reproduces " + o.File
	if len(failures) > 0 {
		title += ": " + strings.Join(failures, ", ")
	}
	fmt.Fprintf(&b, "# Generated by posdrill scenario from-trace from %s (the %s's records).\n", o.File, src)
	fmt.Fprintf(&b, "name: %s\n", name)
	fmt.Fprintf(&b, "title: %q\n", title)
	b.WriteString("description: |\n")
	fmt.Fprintf(&b, "  The flow recorded in %s, replayed with test cards: %d transaction(s).\n", o.File, len(steps))
	b.WriteString("  Each failure seen in the trace is a fault rule; each step expects what a correct\n")
	b.WriteString("  terminal does: reverse after a lost or late answer, report declines, charge approvals.\n")
	b.WriteString("tags: [from-trace]\n")
	b.WriteString("seed: 1\n")
	if !start.IsZero() {
		fmt.Fprintf(&b, "start: %s\n", start.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	if reversalMTI == iso.MTIReversalRequest {
		b.WriteString("profile: {reversal_mti: \"0400\"}\n")
	} else {
		reversalMTI = iso.MTIReversalAdvice
	}
	hasRules := false
	for _, st := range steps {
		hasRules = hasRules || st.rule != ""
	}
	if hasRules {
		b.WriteString("faults:\n")
		for _, st := range steps {
			if st.rule != "" {
				fmt.Fprintf(&b, "  # %s\n  - %s\n", st.ruleWhy, st.rule)
			}
		}
	}
	// Ledger expectations only when every step is a sale: holds and refunds move balances
	// in ways the trace does not show.
	allSales := true
	for _, st := range steps {
		allSales = allSales && st.kind == StepSale
	}
	b.WriteString("steps:\n")
	for i, st := range steps {
		fmt.Fprintf(&b, "  - id: t%d  # recorded %s STAN %s: %s\n", i+1, st.mti, st.stan, st.fate)
		pay := []string{"card: " + st.card.Name}
		if st.kind != StepBalance {
			pay = append(pay, fmt.Sprintf("amount: %q", iso.FormatMoney(st.amount)))
		}
		if st.entry != "" {
			pay = append(pay, "entry: "+st.entry)
		}
		if st.pin != "" {
			pay = append(pay, fmt.Sprintf("pin: %q", st.pin))
		}
		fmt.Fprintf(&b, "    %s: {%s}\n", st.kind, strings.Join(pay, ", "))
		b.WriteString("    expect:\n")
		switch st.fate {
		case fateLost, fateLate:
			b.WriteString("      outcome: timed_out_reversed\n")
			b.WriteString("      guidance: no_answer_reversed\n")
			if st.fate == fateLost {
				fmt.Fprintf(&b, "      flow: [\"...\", \"%s → (none)\", \"...\", \"%s → %s 00\", \"...\"]\n",
					st.mti, reversalMTI, iso.ResponseMTI(reversalMTI))
			}
			b.WriteString("      events_contain: [reversal_sent, reversal_acknowledged]\n")
		case fateDeclined:
			b.WriteString("      outcome: declined\n")
			fmt.Fprintf(&b, "      response_code: %q\n", st.code)
		default:
			b.WriteString("      outcome: approved\n")
			if allSales {
				balance[st.card.Name] -= st.amount
			}
		}
		if allSales {
			fmt.Fprintf(&b, "      ledger: {%s: %q}\n", st.card.Name, iso.FormatMoney(balance[st.card.Name]))
		}
	}
	return []byte(b.String())
}
