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
	fateApproved  = "approved"
	fatePartial   = "partially approved"
	fateDeclined  = "declined"
	fateLost      = "lost"
	fateLate      = "late"
	fateGarbled   = "answered garbled"
	fateWrongSTAN = "answered with a wrong STAN"
	fateRejected  = "answer not accepted"
)

type genStep struct {
	kind      string // StepSale, ...
	card      cards.Card
	amount    int64
	entry     string
	pin       string
	mti       string
	stan      string
	fate      string
	code      string
	approved  int64  // partial approvals: the amount the host approved
	wrongSTAN string // fateWrongSTAN: the answer as it came ("0210 000003 00")
	// revMTI and revCode: the reversal the terminal sent for this request and the code it
	// was answered with ("" when none was answered in the trace).
	revMTI, revCode string
	revRefused      int    // reversal answers that refused it
	voided          bool   // approved, then voided by the cashier (reversal reason 17)
	cardRemoved     bool   // approved, then reversed because the card left too early (reason 22)
	chipDeclined    bool   // approved, then reversed because the chip rejected the ARPC (bad_arpc)
	key             string // mti+card: the requests a rule for this one would match
	action          string // the fault rule's action and params (YAML flow), "" for none
	params          string
	ruleName        string
	ruleWhy         string
	ruleLabel       string // what happened, in the rule's name: "declined 05"
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
		st.key = q.MTI + " " + card.Name
		st.ruleName = fmt.Sprintf("%s STAN %s", q.MTI, q.STAN)
		setRule := func(action, params, why, label string) {
			if st.action == "" {
				st.action, st.params, st.ruleWhy, st.ruleLabel = action, params, why, label
			}
		}
		f := faultFor(recs, q)
		if f != nil {
			setRule(f.Action, paramsYAML(f.Params), "the trace records this fault", f.Action+" as recorded")
		}
		var revReason string
		st.revMTI, st.revCode, revReason, st.revRefused = reversalOf(exs, q)
		// A proxy records the host's answer as it read it, before a fault spoilt it on the
		// way to the terminal: with such a fault recorded, the terminal got no usable answer.
		a, hostAnswer := ex.Recorded, ex.Recorded
		if f != nil {
			switch f.Action {
			case "garble_response", "wrong_stan", "no_response", "drop_after_commit", "reset", "truncate_response", "drop_before_processing":
				a = nil
			case "delay":
				if ms, err := strconv.Atoi(f.Params["ms"]); err == nil && a != nil && time.Duration(ms)*time.Millisecond > o.ResponseTimeout &&
					a.Time.Sub(q.Time) <= o.ResponseTimeout {
					late := *a
					late.Time = q.Time.Add(time.Duration(ms) * time.Millisecond)
					a = &late
				}
			}
		}
		switch {
		case a == nil:
			st.fate = fateLost
			bad := strayAnswer(src, recs, exs, i)
			if bad == nil && hostAnswer != nil && f != nil && f.Action == "wrong_stan" {
				bad = hostAnswer // the proxy's record: the answer before its STAN was changed
			}
			switch {
			case f != nil && f.Action == "garble_response", bad != nil && bad.Err != "":
				st.fate = fateGarbled
				setRule("garble_response", "", "the answer arrived unreadable", "answer garbled")
			case f != nil && f.Action == "wrong_stan", bad != nil:
				st.fate = fateWrongSTAN
				if bad != nil && bad.Err == "" {
					st.wrongSTAN = strings.TrimSpace(bad.MTI + " " + bad.ResponseCode)
				} else {
					st.wrongSTAN = iso.ResponseMTI(q.MTI)
				}
				setRule("wrong_stan", "", "the answer came with another STAN", "answer with a wrong STAN")
			case cutAfter(recs, exs, i):
				setRule("drop_after_commit", "", "no answer recorded and the connection ended", "answer lost, connection cut")
			default:
				setRule("no_response", "", "no answer recorded", "no answer")
			}
		case !a.Time.IsZero() && !q.Time.IsZero() && a.Time.Sub(q.Time) > o.ResponseTimeout:
			st.fate = fateLate
			setRule("delay", fmt.Sprintf("{ms: %d}", a.Time.Sub(q.Time).Milliseconds()),
				fmt.Sprintf("answered after %s, later than the %s timeout", a.Time.Sub(q.Time).Round(time.Millisecond), o.ResponseTimeout), "answer late")
		case a.ResponseCode == iso.RCPartial:
			st.fate, st.code = fatePartial, a.ResponseCode
			st.approved, _ = iso.ParseAmount(a.Fields[4])
			if st.approved <= 0 || st.approved > st.amount {
				return nil, fmt.Errorf("%s STAN %s: partial approval (10) without an approved amount in DE4 of the answer", q.MTI, q.STAN)
			}
			setRule("partial_approval", fmt.Sprintf("{amount: %q}", iso.FormatMoney(st.approved)), "approved for a part of the amount (10)", "partial approval")
		case a.ResponseCode != iso.RCApproved:
			st.fate, st.code = fateDeclined, a.ResponseCode
			setRule("decline", fmt.Sprintf("{code: %q}", a.ResponseCode),
				"declined "+a.ResponseCode+" ("+iso.LookupCode(a.ResponseCode).Meaning+")", "declined "+a.ResponseCode)
		default:
			st.fate = fateApproved
			// An approval the terminal reversed itself: the cashier voided it, or the card
			// left the reader before the chip completed. Reproduce the cause, not just the
			// approval.
			switch {
			case revReason == iso.ReasonCancel:
				st.voided = true
			case revReason == iso.ReasonMalfunction && f != nil && f.Action == "bad_arpc":
				// The host's ARPC was spoilt: the chip declined the approval (the rule
				// reproduces it; no device fault).
				st.chipDeclined = true
			case revReason == iso.ReasonMalfunction:
				st.cardRemoved = true
			case st.revMTI != "":
				// Reversed as if no answer had come: the terminal could not accept it (its
				// MAC did not verify, say).
				st.fate = fateRejected
			}
		}
		steps = append(steps, st)
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("the trace holds no sale, refund, balance inquiry or pre-authorization to reproduce")
	}
	rules := mergeRules(steps)
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
	text := writeScenario(steps, rules, src, reversalMTI, exs[0].Request.Time, balance, o)
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

// reversalOf finds the reversals the terminal sent for q (by DE90, or by the STAN a profile
// that reuses it gives the reversal): the first one's MTI, the code of the first recorded
// answer, and how many answers refused it (a code that does not end a reversal).
func reversalOf(exs []trace.Exchange, q trace.Message) (mti, code, reason string, refused int) {
	for _, ex := range exs {
		r := ex.Request
		if len(r.MTI) != 4 || r.MTI[1] != '4' || r.Terminal != q.Terminal {
			continue
		}
		orig := r.Fields[90]
		if !(strings.HasPrefix(orig, q.MTI+q.STAN) || orig == "" && r.STAN == q.STAN) {
			continue
		}
		if mti == "" {
			mti, reason = iso.BaseMTI(r.MTI), r.ResponseCode
		}
		if ex.Recorded == nil || ex.Recorded.ResponseCode == "" {
			continue
		}
		if code == "" {
			code = ex.Recorded.ResponseCode
		}
		if !simulator.ReversalDone(ex.Recorded.ResponseCode) {
			refused++
		}
	}
	return mti, code, reason, refused
}

// strayAnswer is what came back on request i's connection, before the next request there,
// that answers no request: a frame that does not decode, or an answer of q's kind with
// another STAN. nil when there is none.
func strayAnswer(src trace.Source, recs []trace.Record, exs []trace.Exchange, i int) *trace.Message {
	q := exs[i].Request
	sent := iso.Out
	if src == trace.SourceProxy || src == trace.SourceAcquirer {
		sent = iso.In
	}
	after := false
	for _, r := range recs {
		m := r.Message
		if m == nil || m.Source != src || m.Conn != q.Conn {
			continue
		}
		if !after {
			after = m.Dir == q.Dir && m.MTI == q.MTI && m.STAN == q.STAN && m.Time.Equal(q.Time)
			continue
		}
		if m.Dir == sent {
			return nil // the next request: nothing stray came before it
		}
		if m.Err != "" && m.MTI == "" {
			return m
		}
		if m.MTI != iso.ResponseMTI(q.MTI) || m.STAN == q.STAN {
			continue
		}
		answersOther := false
		for _, ex := range exs {
			if ex.Recorded != nil && ex.Recorded.Time.Equal(m.Time) && ex.Recorded.STAN == m.STAN {
				answersOther = true
			}
		}
		if !answersOther {
			return m
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

// genRule is one fault rule of the generated scenario: the same fault on consecutive
// requests of one kind and card (a rule that fired twice) is one rule with count 2.
type genRule struct {
	key, action, params, name, why string
	first, label                   string   // the first request's "MTI STAN n"; what happened
	mtis                           []string // several MTIs (a reversal and its repeat)
	after, count                   int
}

func (r genRule) yaml() string {
	mti, card, _ := strings.Cut(r.key, " ")
	mtiYAML := fmt.Sprintf("%q", mti)
	if len(r.mtis) > 0 {
		mtiYAML = `["` + strings.Join(r.mtis, `", "`) + `"]`
	}
	y := fmt.Sprintf("{name: %q, match: {mti: %s, card: %s}, action: %s", r.name, mtiYAML, card, r.action)
	if r.params != "" {
		y += ", params: " + r.params
	}
	if r.after > 0 {
		y += fmt.Sprintf(", after: %d", r.after)
	}
	return y + fmt.Sprintf(", count: %d}", r.count)
}

// mergeRules turns the steps' faults into rules in request order. The engine tries rules in
// order and the first that fires wins, so a later rule only counts the requests no earlier
// rule fired on: its after is the number of earlier requests of its kind that went through
// unharmed, not of all earlier requests.
func mergeRules(steps []genStep) []genRule {
	var rules []genRule
	passed := map[string]int{}    // key → earlier requests no rule fired on
	last := map[string]*genRule{} // key → the rule of the key's previous request, if it had one
	for _, st := range steps {
		if st.revRefused > 0 {
			// The host refused the reversal: reproduce the refusals, as many as recorded.
			_, card, _ := strings.Cut(st.key, " ")
			rules = append(rules, genRule{key: st.revMTI + " " + card, mtis: []string{st.revMTI, iso.RepeatMTI(st.revMTI)},
				action: "decline", params: fmt.Sprintf("{code: %q}", st.revCode), count: st.revRefused,
				name: fmt.Sprintf("reversal of %s refused %s", st.ruleName, st.revCode),
				why:  fmt.Sprintf("the host refused the reversal %d time(s)", st.revRefused)})
		}
		if st.action == "" {
			passed[st.key]++
			last[st.key] = nil
			continue
		}
		if prev := last[st.key]; prev != nil && prev.action == st.action && prev.params == st.params {
			prev.count++
			prev.name = fmt.Sprintf("%s and the next %d: %s", prev.first, prev.count-1, prev.label)
			continue
		}
		rules = append(rules, genRule{key: st.key, action: st.action, params: st.params, why: st.ruleWhy,
			first: st.ruleName, label: st.ruleLabel, name: st.ruleName + ": " + st.ruleLabel, after: passed[st.key], count: 1})
		last[st.key] = &rules[len(rules)-1]
	}
	return rules
}

func writeScenario(steps []genStep, rules []genRule, src trace.Source, reversalMTI string, start time.Time, balance map[string]int64, o FromTraceOptions) []byte {
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
	var profile []string
	if reversalMTI == iso.MTIReversalRequest {
		profile = append(profile, `reversal_mti: "0400"`)
	} else {
		reversalMTI = iso.MTIReversalAdvice
	}
	if o.ResponseTimeout != simulator.DefaultProfile().ResponseTimeout {
		// The recording terminal's timeout decided what was late: the scenario's terminal
		// waits as long.
		profile = append(profile, "response_timeout: "+o.ResponseTimeout.String())
	}
	if len(profile) > 0 {
		fmt.Fprintf(&b, "profile: {%s}\n", strings.Join(profile, ", "))
	}
	if len(rules) > 0 {
		b.WriteString("faults:\n")
		for _, r := range rules {
			why := r.why
			if r.count > 1 {
				why += fmt.Sprintf("; it happened to %d requests in a row", r.count)
			}
			fmt.Fprintf(&b, "  # %s\n  - %s\n", why, r.yaml())
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
		if st.cardRemoved {
			// The device fault goes first: it is armed for the next transaction.
			fmt.Fprintf(&b, "    device_fault: card_removed\n  - id: t%d-sale\n", i+1)
		}
		fmt.Fprintf(&b, "    %s: {%s}\n", st.kind, strings.Join(pay, ", "))
		b.WriteString("    expect:\n")
		switch st.fate {
		case fateLost, fateLate, fateGarbled, fateWrongSTAN, fateRejected:
			if st.revRefused > 0 {
				// The reversal stays queued; the money stays where the host left it.
				b.WriteString("      outcome: reversal_pending\n")
				if allSales && st.action != "drop_before_processing" {
					balance[st.card.Name] -= st.amount
				}
			} else {
				b.WriteString("      outcome: timed_out_reversed\n")
				if st.fate != fateRejected { // why an answer was refused has its own guidance
					b.WriteString("      guidance: no_answer_reversed\n")
				}
			}
			answer := map[string]string{fateLost: "(none)", fateGarbled: "(garbled)", fateWrongSTAN: "(unmatched " + st.wrongSTAN + ")",
				fateRejected: iso.ResponseMTI(st.mti) + " " + iso.RCApproved}[st.fate]
			revMTI, revCode := st.revMTI, st.revCode
			if revMTI == "" {
				revMTI = reversalMTI
			}
			if revCode == "" {
				revCode = iso.RCApproved
			}
			if answer != "" {
				fmt.Fprintf(&b, "      flow: [\"...\", \"%s → %s\", \"...\", \"%s → %s %s\", \"...\"]\n",
					st.mti, answer, revMTI, iso.ResponseMTI(revMTI), revCode)
			}
			if st.revRefused > 0 {
				b.WriteString("      events_contain: [reversal_sent, reversal_refused]\n")
			} else {
				b.WriteString("      events_contain: [reversal_sent, reversal_acknowledged]\n")
			}
		case fateDeclined:
			b.WriteString("      outcome: declined\n")
			fmt.Fprintf(&b, "      response_code: %q\n", st.code)
		case fatePartial:
			b.WriteString("      outcome: partially_approved\n")
			fmt.Fprintf(&b, "      response_code: %q\n", st.code)
			fmt.Fprintf(&b, "      approved: %q\n", iso.FormatMoney(st.approved))
			if allSales {
				balance[st.card.Name] -= st.approved
			}
		case fateApproved:
			switch {
			case st.cardRemoved:
				b.WriteString("      outcome: device_fault\n")
				b.WriteString("      events_contain: [reversal_sent, reversal_acknowledged]\n")
			case st.chipDeclined:
				b.WriteString("      outcome: declined\n")
				b.WriteString("      guidance: chip_declined_after_approval\n")
				b.WriteString("      events_contain: [chip_declined, reversal_acknowledged]\n")
			default:
				b.WriteString("      outcome: approved\n")
				if allSales {
					balance[st.card.Name] -= st.amount
				}
			}
		}
		if allSales {
			fmt.Fprintf(&b, "      ledger: {%s: %q}\n", st.card.Name, iso.FormatMoney(balance[st.card.Name]))
		}
		if st.voided {
			fmt.Fprintf(&b, "  - void: {ref: t%d}  # recorded: voided by the cashier (reversal reason 17)\n", i+1)
			b.WriteString("    expect:\n      outcome: voided\n")
			if allSales {
				balance[st.card.Name] += st.amount
				fmt.Fprintf(&b, "      ledger: {%s: %q}\n", st.card.Name, iso.FormatMoney(balance[st.card.Name]))
			}
		}
	}
	return []byte(b.String())
}
