package scenarios

import (
	"fmt"
	"regexp"
	"strings"
)

// The flow grammar: one string per request the terminal sent, with what came back for it.
//
//	entry    = "..." | request arrow answers
//	         | request                     ; answers not checked (external terminals)
//	request  = [ "earlier " ] mtis         ; "earlier": sent in an earlier step
//	arrow    = "→" | "->"                  ; spaces around it are optional
//	answers  = "(none)" | answer { "," answer }
//	answer   = reply                       ; matched and in time
//	         | "(late " reply ")"          ; matched, after the terminal stopped waiting
//	         | "(duplicate " reply ")"     ; a second answer to an answered request
//	         | "(unmatched " reply ")"     ; matches no request sent (e.g. wrong STAN)
//	         | "(garbled)"                 ; a frame that did not unpack
//	reply    = mtis [ " " code ]           ; code: the answer's DE39, when it has one
//	mtis     = mti { "|" mti }             ; any of these (a reversal: "0400|0420")
//	mti      = 4 digits
//
// "..." stands for any number of entries (zero included), e.g. for repeats.

// Answer kinds.
const (
	AnswerTimely    = ""
	AnswerLate      = "late"
	AnswerDuplicate = "duplicate"
	AnswerUnmatched = "unmatched"
	AnswerGarbled   = "garbled"
)

// FlowEntry is one request the terminal sent and what came back for it.
type FlowEntry struct {
	Any     bool   // the "..." wildcard
	Earlier bool   // the request was sent in an earlier step; only answers are new
	Request string // MTI, or alternatives "0400|0420" (in expectations)
	Answers []Answer
	// AnyAnswers: the entry was written without an arrow; what came back is not compared.
	AnyAnswers bool
}

// Answer is one frame received for a request.
type Answer struct {
	Kind string // one of the Answer* constants
	MTI  string // or alternatives "0410|0430" (in expectations)
	Code string // DE39, "" when absent
}

func (a Answer) String() string {
	if a.Kind == AnswerGarbled {
		return "(garbled)"
	}
	r := a.MTI
	if a.Code != "" {
		r += " " + a.Code
	}
	if a.Kind == AnswerTimely {
		return r
	}
	return "(" + a.Kind + " " + r + ")"
}

// String writes the entry in the canonical form of the grammar.
func (e FlowEntry) String() string {
	if e.Any {
		return "..."
	}
	var b strings.Builder
	if e.Earlier {
		b.WriteString("earlier ")
	}
	b.WriteString(e.Request)
	if e.AnyAnswers {
		return b.String()
	}
	b.WriteString(" → ")
	if len(e.Answers) == 0 {
		b.WriteString("(none)")
	}
	for i, a := range e.Answers {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}

var (
	mtiRe     = regexp.MustCompile(`^\d{4}$`)
	mtiAltsRe = regexp.MustCompile(`^\d{4}(?:\|\d{4})*$`)
	replyRe   = regexp.MustCompile(`^(\d{4}(?:\|\d{4})*)(?: ([0-9A-Za-z]{2}))?$`)
)

// ParseFlowEntry reads one entry of the grammar above.
func ParseFlowEntry(s string) (FlowEntry, error) {
	s = strings.TrimSpace(s)
	if s == "..." {
		return FlowEntry{Any: true}, nil
	}
	req, ans, ok := strings.Cut(s, "→")
	if !ok {
		req, ans, ok = strings.Cut(s, "->")
	}
	if !ok {
		if r := strings.TrimPrefix(s, "earlier "); mtiAltsRe.MatchString(r) {
			return FlowEntry{Earlier: r != s, Request: r, AnyAnswers: true}, nil
		}
		return FlowEntry{}, fmt.Errorf(`flow entry %q has no arrow; write it like "0200 → 0210 00" or "0200 → (none)"`, s)
	}
	var e FlowEntry
	req = strings.TrimSpace(req)
	if r, found := strings.CutPrefix(req, "earlier "); found {
		e.Earlier, req = true, strings.TrimSpace(r)
	}
	if !mtiAltsRe.MatchString(req) {
		return FlowEntry{}, fmt.Errorf("flow entry %q: the request %q is not a 4-digit MTI (or alternatives like 0400|0420)", s, req)
	}
	e.Request = req
	ans = strings.TrimSpace(ans)
	if ans == "(none)" {
		return e, nil
	}
	if ans == "" {
		return FlowEntry{}, fmt.Errorf(`flow entry %q: nothing after the arrow; write "(none)" when no answer came`, s)
	}
	for _, part := range strings.Split(ans, ",") {
		a, err := parseAnswer(strings.TrimSpace(part))
		if err != nil {
			return FlowEntry{}, fmt.Errorf("flow entry %q: %w", s, err)
		}
		e.Answers = append(e.Answers, a)
	}
	return e, nil
}

func parseAnswer(s string) (Answer, error) {
	if s == "(garbled)" {
		return Answer{Kind: AnswerGarbled}, nil
	}
	if s == "(none)" {
		return Answer{}, fmt.Errorf(`"(none)" cannot be combined with answers`)
	}
	kind, reply := AnswerTimely, s
	if strings.HasPrefix(s, "(") {
		if !strings.HasSuffix(s, ")") {
			return Answer{}, fmt.Errorf("%q has no closing parenthesis", s)
		}
		k, r, _ := strings.Cut(s[1:len(s)-1], " ")
		switch k {
		case AnswerLate, AnswerDuplicate, AnswerUnmatched:
		default:
			return Answer{}, fmt.Errorf("unknown answer marker %q; use late, duplicate, unmatched, garbled or none", k)
		}
		kind, reply = k, r
	}
	m := replyRe.FindStringSubmatch(reply)
	if m == nil {
		return Answer{}, fmt.Errorf("answer %q is not an MTI optionally followed by a 2-character response code", s)
	}
	return Answer{Kind: kind, MTI: m[1], Code: m[2]}, nil
}

// FormatFlow writes entries one string each.
func FormatFlow(entries []FlowEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.String()
	}
	return out
}

// matchFlow reports whether got matches want, where "..." in want matches any run of
// entries (classic glob matching with backtracking on the last wildcard).
func matchFlow(want, got []FlowEntry) bool {
	w, g := 0, 0
	star, mark := -1, 0
	for g < len(got) {
		switch {
		case w < len(want) && !want[w].Any && sameEntry(want[w], got[g]):
			w++
			g++
		case w < len(want) && want[w].Any:
			star, mark = w, g
			w++
		case star >= 0:
			w = star + 1
			mark++
			g = mark
		default:
			return false
		}
	}
	for w < len(want) && want[w].Any {
		w++
	}
	return w == len(want)
}

// sameEntry reports whether got (an observed entry) is what want (an expected one) says;
// want may hold MTI alternatives and may leave the answers out.
func sameEntry(want, got FlowEntry) bool {
	if !mtiIn(got.Request, want.Request) || want.Earlier != got.Earlier {
		return false
	}
	if want.AnyAnswers {
		return true
	}
	if len(want.Answers) != len(got.Answers) {
		return false
	}
	for i, w := range want.Answers {
		g := got.Answers[i]
		if w.Kind != g.Kind || w.Code != g.Code || !mtiIn(g.MTI, w.MTI) {
			return false
		}
	}
	return true
}

// mtiIn reports whether mti is one of the alternatives alts ("0400|0420", or one MTI).
func mtiIn(mti, alts string) bool {
	if mti == alts {
		return true
	}
	for a := range strings.SplitSeq(alts, "|") {
		if a == mti {
			return true
		}
	}
	return false
}
