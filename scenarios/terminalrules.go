package scenarios

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/posdrill/posdrill/iso"
)

// The checks of what a terminal under test sent. They read only the session's log (frames
// as the host saw them, stamped by the injected clock), so they are tested on a virtual
// clock without a network.

// Rule names, as failures name them (Failure.What).
const (
	RuleFlow             = "flow"
	RuleWithin           = "within"
	RuleMessage          = "messages"
	RuleCharged          = "charged"
	RuleSilence          = "silence"
	RuleGarbage          = "garbage"
	RuleUnknownMTI       = "unknown_mti"
	RuleTerminalID       = "terminal_id"
	RuleFreshSTAN        = "fresh_stan"
	RuleRepeat           = "repeat"
	RuleReversalOriginal = "reversal_original"
	RuleEntryMode        = "entry_mode"
	RuleSecondCharge     = "second_charge"
)

// requestMTIs are the requests and advices a terminal may send to this host.
var requestMTIs = []string{"0100", "0101", "0120", "0121", "0200", "0201", "0220", "0221", "0320", "0321",
	"0400", "0401", "0420", "0421", "0500", "0501", "0800", "0801", "0820", "0821"}

// judgement applies the checks to one case.
type judgement struct {
	all   []seen // the whole session, for STANs and originals of earlier cases
	cas   int
	tid   string        // the terminal under test's DE41 ("" unknown)
	rt    time.Duration // its response timeout: later answers are late
	scale float64
	d     *iso.Dialect
	f     iso.Framing
	steps []Step
	fails []Failure
}

func (j *judgement) fail(what, format string, args ...any) {
	j.fails = append(j.fails, Failure{Step: -1, What: what, Message: iso.MaskText(fmt.Sprintf(format, args...))})
}

func (j *judgement) failDiff(what, diff, format string, args ...any) {
	j.fails = append(j.fails, Failure{Step: -1, What: what, Message: iso.MaskText(fmt.Sprintf(format, args...)), Diff: iso.MaskText(diff)})
}

// caseLog is the case's part of the session.
func (j *judgement) caseLog() []seen {
	var out []seen
	for _, e := range j.all {
		if e.cas == j.cas {
			out = append(out, e)
		}
	}
	return out
}

// requests are the messages the terminal sent during the case that unpacked.
func (j *judgement) requests() []seen {
	var out []seen
	for _, e := range j.caseLog() {
		if e.dir == iso.In && e.msg != nil {
			out = append(out, e)
		}
	}
	return out
}

// judge runs every check of the case.
func (c *caseRun) judge() {
	s := c.s
	s.mu.Lock()
	j := &judgement{all: slices.Clone(s.log), cas: c.idx, tid: s.tid, rt: s.o.ResponseTimeout, scale: s.scale,
		d: s.o.Dialect, f: s.o.Framing, steps: c.sc.Steps}
	s.mu.Unlock()
	e := c.sc.Expect
	if e == nil {
		e = &Expect{}
	}
	j.check(e)
	for _, ch := range e.Charged {
		c.checkCharged(j, ch)
	}
	for _, f := range j.fails {
		f.Label = c.label()
		c.res.Failures = append(c.res.Failures, f)
	}
	c.res.Steps = len(c.sc.Steps)
	c.res.SimTime = s.clk.Now().Sub(c.start)
	c.res.Trace = traceLines(j.caseLog(), c.start)
	if len(c.res.Failures) > 0 {
		for i, d := range c.drives {
			c.res.Trace = append(c.res.Trace, fmt.Sprintf("drive %d exit status %d: %s", i+1, d.ExitCode, iso.MaskText(d.Command)))
			for _, l := range strings.Split(strings.TrimRight(d.Output, "\n"), "\n") {
				if l != "" {
					c.res.Trace = append(c.res.Trace, "    | "+iso.MaskText(l))
				}
			}
		}
	}
	for _, e := range j.caseLog() {
		if e.dir == iso.Out && e.msg != nil && e.msg.ResponseCode != "" {
			c.res.ResponseCodes = appendUnique(c.res.ResponseCodes, e.msg.ResponseCode)
		}
		if e.fault != "" {
			c.res.FaultActions = appendUnique(c.res.FaultActions, e.fault)
		}
	}
	slices.Sort(c.res.ResponseCodes)
	slices.Sort(c.res.FaultActions)
}

func (c *caseRun) checkCharged(j *judgement, ch ChargeExpect) {
	name := c.cardName(ch.Card)
	b, err := c.s.acq.Balance(name)
	if err != nil {
		j.fail(RuleCharged+" "+ch.Card, "cannot read the host's balance: %v", err)
		return
	}
	open, ok := c.opening[ch.Card]
	if !ok {
		j.fail(RuleCharged+" "+ch.Card, "the balance at the start of the case was not read")
		return
	}
	got := open - b.Available
	if slices.Contains(ch.Amounts, got) {
		return
	}
	want := make([]string, len(ch.Amounts))
	for i, a := range ch.Amounts {
		want[i] = iso.FormatMoney(a)
	}
	j.fail(RuleCharged+" "+ch.Card, "the customer was charged %s during the case (host balance %s → %s, held %s); expected %s",
		iso.FormatMoney(got), iso.FormatMoney(open), iso.FormatMoney(b.Available), iso.FormatMoney(b.Held), strings.Join(want, " or "))
}

// check applies the case's expectations and the rules every terminal must keep.
func (j *judgement) check(e *Expect) {
	reqs := j.requests()
	flow := buildFlow(j.all, j.cas, j.rt, j.f, j.d)
	wantsRequests := slices.ContainsFunc(e.Flow, func(f FlowEntry) bool { return !f.Any })
	if len(reqs) == 0 && wantsRequests {
		j.fail(RuleSilence, "the terminal sent nothing the host could read during the case; expected %s", quoteList(FormatFlow(e.Flow)))
	} else if e.Flow != nil && !matchFlow(e.Flow, flow) {
		want, have := FormatFlow(e.Flow), FormatFlow(flow)
		msg := fmt.Sprintf("expected %s, got %s", quoteList(want), quoteList(have))
		if missing := missingRequests(e.Flow, flow); len(missing) > 0 {
			msg += "; the terminal never sent " + strings.Join(missing, ", ")
		}
		j.failDiff(RuleFlow, "-expected +got\n"+cmp.Diff(want, have), "%s", msg)
	}
	for _, w := range e.Within {
		j.checkWindow(w)
	}
	for _, r := range e.Messages {
		j.checkMessageRule(r)
	}
	j.checkWire()
	j.checkSTANs()
	j.checkReversals()
	j.checkEntry()
	j.checkSecondCharge()
}

// missingRequests lists the requests of want (MTI alternatives) that got has none of.
func missingRequests(want, got []FlowEntry) []string {
	var out []string
	for _, w := range want {
		if w.Any {
			continue
		}
		if !slices.ContainsFunc(got, func(g FlowEntry) bool { return mtiIn(g.Request, w.Request) }) {
			out = appendUnique(out, strings.ReplaceAll(w.Request, "|", "/"))
		}
	}
	return out
}

// buildFlow pairs the terminal's requests with the host's answers as a terminal's
// connection would (iso.Answers: MTI class, DE11, DE41), in the flow grammar, for the requests of case
// cas (log is the whole session: an answer to an earlier case's request is that case's).
// An answer later than the terminal's response timeout is late; a second answer a
// duplicate; one that matches nothing (wrong STAN) unmatched; a raw frame that does not
// unpack garbled. A frame cut short (truncate) reaches the terminal as nothing and is left
// out.
func buildFlow(log []seen, cas int, rt time.Duration, f iso.Framing, d *iso.Dialect) []FlowEntry {
	type pend struct {
		entry    int // index in out; -1: another case's request
		msg      *iso.Message
		at       time.Time
		answered bool
	}
	var out []FlowEntry
	var pending []*pend
	attach := func(e seen, a Answer) {
		if e.cas == cas && len(out) > 0 {
			out[len(out)-1].Answers = append(out[len(out)-1].Answers, a)
		}
	}
	for _, e := range log {
		switch {
		case e.dir == iso.In && e.msg != nil && !iso.IsResponse(e.msg.MTI):
			p := &pend{entry: -1, msg: e.msg, at: e.at}
			if e.cas == cas {
				out = append(out, FlowEntry{Request: e.msg.MTI})
				p.entry = len(out) - 1
			}
			pending = append(pending, p)
		case e.dir == iso.Out:
			m := e.msg
			if m == nil {
				fr, err := f.ReadFrame(bytes.NewReader(e.raw), 1<<16)
				if err != nil {
					continue // cut short: the terminal gets nothing it can read
				}
				if m, err = d.Unpack(fr.Payload); err != nil {
					attach(e, Answer{Kind: AnswerGarbled})
					continue
				}
			}
			a := Answer{MTI: m.MTI, Code: m.ResponseCode}
			var p *pend
			for i := len(pending) - 1; i >= 0; i-- {
				q := pending[i]
				if iso.Answers(q.msg.AnswerKey(), m.AnswerKey()) {
					p = q
					break
				}
			}
			switch {
			case p == nil:
				a.Kind = AnswerUnmatched
				attach(e, a)
				continue
			case p.answered:
				a.Kind = AnswerDuplicate
			case e.at.Sub(p.at) > rt:
				a.Kind = AnswerLate
			}
			p.answered = true
			if p.entry >= 0 {
				out[p.entry].Answers = append(out[p.entry].Answers, a)
			}
		}
	}
	return out
}

// checkWindow: the first message matching w.Later after the first matching w.Earlier
// came within w.Max (scaled) of it.
func (j *judgement) checkWindow(w Window) {
	max := time.Duration(float64(w.Max) * j.scale).Round(time.Millisecond)
	note := ""
	if j.scale != 1 {
		note = fmt.Sprintf(" (%s scaled to the terminal's %s response timeout)", w.Max, j.rt)
	}
	reqs := j.requests()
	first := slices.IndexFunc(reqs, func(e seen) bool { return mtiIn(e.msg.MTI, w.Earlier) })
	if first < 0 {
		j.fail(RuleWithin, "%q: the terminal sent no %s, so the time rule cannot hold", w.Text, slashes(w.Earlier))
		return
	}
	start := reqs[first]
	for _, e := range reqs[first+1:] {
		if !mtiIn(e.msg.MTI, w.Later) {
			continue
		}
		if gap := e.at.Sub(start.at); gap > max {
			j.fail(RuleWithin, "%q: the %s (stan %s) came %s after the %s (stan %s); expected within %s%s", w.Text,
				e.msg.MTI, e.msg.STAN, gap.Round(time.Millisecond), start.msg.MTI, start.msg.STAN, max, note)
		}
		return
	}
	j.fail(RuleWithin, "%q: no %s came after the %s (stan %s); expected one within %s%s", w.Text, slashes(w.Later),
		start.msg.MTI, start.msg.STAN, max, note)
}

func slashes(alts string) string { return strings.ReplaceAll(alts, "|", "/") }

// checkMessageRule applies a field rule to every message of its MTIs.
func (j *judgement) checkMessageRule(r MessageRule) {
	for _, e := range j.requests() {
		m := e.msg
		if !mtiIn(m.MTI, r.MTI) {
			continue
		}
		var missing, extra []string
		for _, f := range r.Mandatory {
			if !has(m, f) {
				missing = append(missing, fmt.Sprintf("DE%d", f))
			}
		}
		for _, f := range r.Absent {
			if has(m, f) {
				extra = append(extra, fmt.Sprintf("DE%d", f))
			}
		}
		if len(missing) > 0 {
			j.failDiff(RuleMessage, describeMsg(m), "%s stan %s: mandatory %s absent", m.MTI, m.STAN, strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			j.failDiff(RuleMessage, describeMsg(m), "%s stan %s: %s present, but must be absent", m.MTI, m.STAN, strings.Join(extra, ", "))
		}
		if len(r.SameAsOriginal) == 0 {
			continue
		}
		orig, why := j.originalOf(e)
		if orig == nil {
			j.fail(RuleMessage, "%s stan %s: cannot compare fields with the original: %s", m.MTI, m.STAN, why)
			continue
		}
		var diffs []string
		for _, f := range r.SameAsOriginal {
			got, want := fieldValue(m, f), fieldValue(orig.msg, f)
			if got != want {
				diffs = append(diffs, fmt.Sprintf("DE%d: expected %s (the %s's), got %s", f, orNone(showField(f, want)), orig.msg.MTI, orNone(showField(f, got))))
			}
		}
		if len(diffs) > 0 {
			j.failDiff(RuleMessage, "original: "+describeMsg(orig.msg)+"\nthis:     "+describeMsg(m),
				"%s stan %s differs from its original %s stan %s: %s", m.MTI, m.STAN, orig.msg.MTI, orig.msg.STAN, strings.Join(diffs, "; "))
		}
	}
}

func has(m *iso.Message, f int) bool {
	if f == 2 {
		return m.PANOf() != ""
	}
	v, ok := m.Get(f)
	return ok && v != ""
}

// showField writes a value for a report: an amount (DE4) in major units and DE90 in its
// parts, since their long digit runs would otherwise be masked as card numbers.
func showField(f int, v string) string {
	switch f {
	case 4:
		if n, err := iso.ParseAmount(v); err == nil {
			return iso.FormatMoney(n)
		}
	case 90:
		if od, err := iso.ParseOriginalData(v); err == nil {
			return od.MTI + "/" + od.STAN + "/" + od.Transmitted
		}
	}
	return v
}

// fieldValue is a field's value for comparison; DE2 is the PAN wherever the message carries it.
func fieldValue(m *iso.Message, f int) string {
	if f == 2 {
		return m.PANOf()
	}
	v, _ := m.Get(f)
	return v
}

// originalOf finds what a message refers to: for a repeat (xxx1), the message it repeats;
// for a reversal or a completion, the request named by DE90, else the latest 0100/0200
// with its STAN. why says what is missing when there is none.
func (j *judgement) originalOf(e seen) (*seen, string) {
	m := e.msg
	before := j.before(e)
	if iso.IsRepeat(m.MTI) {
		base := iso.BaseMTI(m.MTI)
		for i := len(before) - 1; i >= 0; i-- {
			o := before[i]
			if (o.msg.MTI == base || o.msg.MTI == m.MTI) && o.msg.STAN == m.STAN && o.msg.TerminalID == m.TerminalID {
				if o.msg.MTI == base {
					return &before[i], ""
				}
			}
		}
		// A repeat's own original is the one its base refers to.
	}
	if m.OriginalData != "" {
		od, err := iso.ParseOriginalData(m.OriginalData)
		if err != nil {
			return nil, "DE90 " + err.Error()
		}
		for i := len(before) - 1; i >= 0; i-- {
			o := before[i].msg
			if o.MTI == od.MTI && o.STAN == od.STAN && o.TerminalID == m.TerminalID && (od.Transmitted == "0000000000" || o.TransmissionTime == od.Transmitted) {
				return &before[i], ""
			}
		}
		return nil, fmt.Sprintf("DE90 names %s stan %s sent at %s, which the terminal never sent to this host", od.MTI, od.STAN, od.Transmitted)
	}
	for i := len(before) - 1; i >= 0; i-- {
		o := before[i].msg
		if (o.MTI == iso.MTIFinancialRequest || o.MTI == iso.MTIAuthRequest) && o.STAN == m.STAN && o.TerminalID == m.TerminalID {
			return &before[i], ""
		}
	}
	return nil, fmt.Sprintf("it has no DE90 and no 0100/0200 with its STAN %s came before", m.STAN)
}

// before is every readable request of the session sent before e.
func (j *judgement) before(e seen) []seen {
	var out []seen
	for _, o := range j.all {
		if o.at.After(e.at) || o.msg == e.msg {
			break
		}
		if o.dir == iso.In && o.msg != nil {
			out = append(out, o)
		}
	}
	return out
}

// checkWire: every frame readable, every MTI a request this host knows, every DE41 the
// terminal under test's.
func (j *judgement) checkWire() {
	for _, e := range j.caseLog() {
		if e.dir != iso.In {
			continue
		}
		if e.msg == nil {
			j.fail(RuleGarbage, "the terminal sent a frame on %s that does not unpack: %s", e.conn, e.bad)
			continue
		}
		m := e.msg
		if !slices.Contains(requestMTIs, m.MTI) {
			j.fail(RuleUnknownMTI, "the terminal sent MTI %q (stan %s), which is not a request or advice a host takes (%s)", m.MTI, m.STAN, strings.Join(requestMTIs, " "))
		}
		if j.tid != "" && m.TerminalID != j.tid {
			j.fail(RuleTerminalID, "the %s (stan %s) carries terminal id DE41 %q, expected %q (the terminal under test)", m.MTI, m.STAN, m.TerminalID, j.tid)
		}
	}
}

// checkSTANs: a new transaction has a STAN no earlier transaction of the session used.
func (j *judgement) checkSTANs() {
	for _, e := range j.requests() {
		m := e.msg
		if iso.IsRepeat(m.MTI) || len(m.MTI) != 4 || (m.MTI[1] != '1' && m.MTI[1] != '2') {
			continue
		}
		for _, o := range j.before(e) {
			om := o.msg
			if !iso.IsRepeat(om.MTI) && len(om.MTI) == 4 && om.MTI[1] == m.MTI[1] && om.STAN == m.STAN && om.TerminalID == m.TerminalID {
				where := "in this case"
				if o.cas != e.cas {
					where = "in an earlier case"
				}
				j.fail(RuleFreshSTAN, "the %s re-uses STAN %s of an earlier %s (%s): a new transaction needs a new STAN, or the host takes it for the old one", m.MTI, m.STAN, om.MTI, where)
				break
			}
		}
	}
}

// checkReversals: a reversal names its original (DE90, or its STAN); a re-sent reversal
// is a repeat (xxx1) that keeps the STAN.
func (j *judgement) checkReversals() {
	sent := map[*iso.Message][]*iso.Message{} // original → reversals so far
	for _, e := range j.requests() {
		m := e.msg
		if iso.IsRepeat(m.MTI) {
			if !slices.ContainsFunc(j.before(e), func(o seen) bool {
				return o.msg.MTI == iso.BaseMTI(m.MTI) && o.msg.STAN == m.STAN && o.msg.TerminalID == m.TerminalID
			}) {
				j.fail(RuleRepeat, "the repeat %s has STAN %s, but no %s with that STAN came before: a repeat keeps the STAN of the message it repeats", m.MTI, m.STAN, iso.BaseMTI(m.MTI))
			}
		}
		if len(m.MTI) != 4 || m.MTI[1] != '4' {
			continue
		}
		orig, why := j.originalOf(e)
		if orig == nil {
			j.fail(RuleReversalOriginal, "the %s (stan %s) does not identify the transaction it reverses: %s", m.MTI, m.STAN, why)
			continue
		}
		if iso.IsRepeat(m.MTI) {
			continue
		}
		// orig is the reversed 0100/0200 here (not a repeat).
		if prev := sent[orig.msg]; len(prev) > 0 {
			p := prev[0]
			j.fail(RuleRepeat, "the %s (stan %s) reverses %s stan %s again: a re-sent reversal must be the repeat %s with the first one's STAN %s", m.MTI, m.STAN,
				orig.msg.MTI, orig.msg.STAN, iso.RepeatMTI(p.MTI), p.STAN)
		}
		sent[orig.msg] = append(sent[orig.msg], m)
	}
}

// checkEntry: DE22 of a card request says the entry the cashier was asked for.
func (j *judgement) checkEntry() {
	for _, e := range j.requests() {
		m := e.msg
		if e.step < 0 || e.step >= len(j.steps) || (m.MTI != iso.MTIFinancialRequest && m.MTI != iso.MTIAuthRequest) {
			continue
		}
		p := j.steps[e.step].Payment
		if p == nil {
			continue
		}
		entry, ok := iso.EntryModeNamed(p.Entry)
		if p.Entry == "" || p.Entry == "tap" {
			entry, ok = map[string]string{"": iso.EntryChip, "tap": iso.EntryContactless}[p.Entry], true
		}
		if !ok {
			continue
		}
		if got := iso.EntryModeOf(m.EntryMode); got != entry {
			j.fail(RuleEntryMode, "the %s (stan %s) has DE22 %s (%s), but the card was presented by %s (DE22 %s)", m.MTI, m.STAN,
				orNone(m.EntryMode), orNone(iso.EntryMeaning(m.EntryMode)), entry, iso.EntryDE22(entry))
		}
	}
}

// checkSecondCharge: after a purchase that got no answer in time, or a 94, the terminal
// does not send the same purchase again unless it reversed the first.
func (j *judgement) checkSecondCharge() {
	reqs := j.requests()
	answers := map[*iso.Message]string{} // purchase → what came back ("" none in time)
	for _, e := range j.caseLog() {
		if e.dir != iso.Out || e.msg == nil {
			continue
		}
		for i := len(reqs) - 1; i >= 0; i-- {
			q := reqs[i]
			if q.msg.MTI == iso.MTIFinancialRequest && e.msg.MTI == iso.MTIFinancialResponse &&
				iso.Answers(q.msg.AnswerKey(), e.msg.AnswerKey()) && !e.at.Before(q.at) {
				if _, done := answers[q.msg]; !done && e.at.Sub(q.at) <= j.rt {
					answers[q.msg] = e.msg.ResponseCode
				}
				break
			}
		}
	}
	for i, e := range reqs {
		m := e.msg
		if m.MTI != iso.MTIFinancialRequest || !strings.HasPrefix(m.ProcessingCode, "00") {
			continue
		}
		code, answered := answers[m]
		if answered && code != iso.RCDuplicate {
			continue
		}
		why := "got no answer in time"
		if answered {
			why = "was answered 94 (duplicate)"
		}
		for _, later := range reqs[i+1:] {
			lm := later.msg
			if len(lm.MTI) == 4 && lm.MTI[1] == '4' {
				if o, _ := j.originalOf(later); o != nil && o.msg == m {
					break // reversed first: a new attempt is fine
				}
			}
			if lm.MTI == iso.MTIFinancialRequest && strings.HasPrefix(lm.ProcessingCode, "00") &&
				lm.PANOf() == m.PANOf() && lm.Amount == m.Amount {
				j.fail(RuleSecondCharge, "the 0200 stan %s %s and was not reversed, yet the terminal sent the same purchase again (0200 stan %s, amount %s): the customer may pay twice",
					m.STAN, why, lm.STAN, lm.Amount)
				break
			}
		}
	}
}
