package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Values of the top-level `terminal` key.
const (
	TerminalOwn      = "posdrill" // posdrill's own terminal plays the case (the default)
	TerminalExternal = "external" // the user's terminal does: posdrill check-terminal
)

// DefaultCaseLimit bounds an external case that names no limit: room for a 30 s response
// timeout, a reversal, its 30 s repeat and its answer.
const DefaultCaseLimit = 2 * time.Minute

// externalStepKinds are what a cashier (or a --drive command) can do at a terminal we do
// not control, plus waiting and changing the host's faults.
var externalStepKinds = []string{
	StepSale, StepRefund, StepPreAuth, StepBalance, StepComplete, StepVoid, StepEcho,
	StepSignOn, StepSignOff, StepSettle, StepAdvance, StepFault,
}

// externalExpectKeys are what can be judged of a terminal seen only from the wire and the
// host: its messages, their fields and timing, and the money.
var externalExpectKeys = []string{"flow", "within", "messages", "charged"}

// Window is a time rule between two of the terminal's messages: the first message
// matching Later that follows the first matching Earlier must come within Max of it.
type Window struct {
	Pos     Pos
	Text    string // as written, for reports
	Later   string // MTI alternatives, "0400|0420"
	Earlier string
	Max     time.Duration
}

// MessageRule is a field rule for every message of the case with one of the MTIs.
type MessageRule struct {
	Pos            Pos
	MTI            string // alternatives, "0400|0420"
	Mandatory      []int  // fields that must be present
	Absent         []int  // fields that must not be
	SameAsOriginal []int  // equal to the original's (the 0200 a reversal reverses, the message a repeat repeats)
}

// ChargeExpect is what a card's available balance at the host went down by during the
// case: the customer charged exactly once (or not at all). Any of Amounts passes.
type ChargeExpect struct {
	Pos     Pos
	Card    string
	Amounts []int64
}

// windowRe reads "0420|0400 within 35s of 0200".
var windowRe = regexp.MustCompile(`^(\d{4}(?:\|\d{4})*)\s+within\s+(\S+)\s+of\s+(?:the\s+)?(\d{4}(?:\|\d{4})*)$`)

// ParseWindow reads one time rule: "MTI within DURATION of MTI" (MTIs may be alternatives).
func ParseWindow(s string) (Window, error) {
	m := windowRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Window{}, fmt.Errorf(`time rule %q is not "MTI within DURATION of MTI", e.g. "0400|0420 within 35s of 0200"`, s)
	}
	d, err := time.ParseDuration(m[2])
	if err != nil || d <= 0 {
		return Window{}, fmt.Errorf("time rule %q: %q is not a duration like 35s", s, m[2])
	}
	return Window{Text: strings.TrimSpace(s), Later: m[1], Earlier: m[3], Max: d}, nil
}

// externalExpectKey reads the keys only external cases have; it reports whether it
// handled kv (also when it refused it).
func (p *parser) externalExpectKey(e *Expect, kv pair, known []string) bool {
	switch kv.key {
	case "within", "messages", "charged":
	default:
		if p.sc.External && !slices.Contains(known, kv.key) && slices.Contains(finalExpectKeys, kv.key) {
			p.errorf(kv.keyN, "%s cannot be seen from outside an external terminal; its cases check %s", kv.key, list(externalExpectKeys))
			return true
		}
		return false
	}
	if !p.sc.External {
		p.errorf(kv.keyN, "%s judges a terminal under test: it needs `terminal: external` (posdrill check-terminal)", kv.key)
		return true
	}
	switch kv.key {
	case "within":
		seq, ok := unwrap(kv.value).(*ast.SequenceNode)
		if !ok {
			p.errorf(kv.value, `within must be a list like ["0400|0420 within 35s of 0200"], not %s`, kindOf(kv.value))
			return true
		}
		for _, v := range seq.Values {
			s, ok := p.text(v, "each time rule")
			if !ok {
				continue
			}
			w, err := ParseWindow(s)
			if err != nil {
				p.errorf(v, "%v", err)
				continue
			}
			w.Pos = p.pos(v)
			e.Within = append(e.Within, w)
		}
	case "messages":
		e.Messages = p.messageRules(kv.value)
	case "charged":
		e.Charged = p.charged(kv.value)
	}
	return true
}

var messageRuleKeys = []string{"mti", "mandatory", "absent", "same_as_original"}

func (p *parser) messageRules(n ast.Node) []MessageRule {
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, `messages must be a list like [{mti: "0400|0420", mandatory: [2, 3, 4, 11, 90]}], not %s`, kindOf(n))
		return nil
	}
	var out []MessageRule
	for _, item := range seq.Values {
		kvs, ok := p.pairs(item, "a message rule")
		if !ok {
			continue
		}
		r := MessageRule{Pos: p.pos(item)}
		for _, kv := range kvs {
			switch kv.key {
			case "mti":
				if s, ok := p.textLike(kv.value, "mti", mtiAltsRe, `mti %q must be four digits or alternatives, quoted: mti: "0400|0420"`); ok {
					r.MTI = s
				}
			case "mandatory":
				r.Mandatory = p.fieldList(kv.value, "mandatory")
			case "absent":
				r.Absent = p.fieldList(kv.value, "absent")
			case "same_as_original":
				r.SameAsOriginal = p.fieldList(kv.value, "same_as_original")
			default:
				p.unknownKey(kv, "a message rule", messageRuleKeys)
			}
		}
		if r.MTI == "" {
			p.errorf(item, "a message rule needs mti: the messages it is about")
		}
		for _, f := range r.Mandatory {
			if slices.Contains(r.Absent, f) {
				p.errorf(item, "field %d is both mandatory and absent", f)
			}
		}
		out = append(out, r)
	}
	return out
}

// fieldList reads a list of data element numbers, 2 to 128.
func (p *parser) fieldList(n ast.Node, what string) []int {
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, "%s must be a list of field numbers like [2, 3, 4], not %s", what, kindOf(n))
		return nil
	}
	var out []int
	for _, v := range seq.Values {
		s, _ := scalarText(v)
		s = strings.TrimPrefix(strings.ToUpper(s), "DE")
		f, err := strconv.Atoi(s)
		if err != nil || f < 2 || f > 128 {
			p.errorf(v, "%s: %q is not a field number from 2 to 128", what, s)
			continue
		}
		out = append(out, f)
	}
	return out
}

func (p *parser) charged(n ast.Node) []ChargeExpect {
	kvs, ok := p.pairs(n, "charged")
	if !ok {
		return nil
	}
	var out []ChargeExpect
	for _, kv := range kvs {
		c := ChargeExpect{Pos: p.pos(kv.keyN), Card: kv.key}
		p.cardRefs = append(p.cardRefs, cardRef{kv.key, p.pos(kv.keyN), "charged"})
		if seq, ok := unwrap(kv.value).(*ast.SequenceNode); ok {
			for _, v := range seq.Values {
				if a, ok := p.money(v, "what "+kv.key+" may be charged"); ok {
					c.Amounts = append(c.Amounts, a)
				}
			}
			if len(seq.Values) == 0 {
				p.errorf(kv.value, "charged %s needs at least one amount", kv.key)
			}
		} else if a, ok := p.money(kv.value, "what "+kv.key+" is charged"); ok {
			c.Amounts = []int64{a}
		}
		out = append(out, c)
	}
	return out
}

// checkExternal refuses what an external case cannot have.
func (p *parser) checkExternal(root, profileN, drillN, cardsN ast.Node) {
	sc := p.sc
	if !sc.External {
		if sc.Limit != 0 {
			p.errorf(keyAt(root, "limit"), "limit bounds a case for an external terminal (terminal: external); posdrill's own runs on a virtual clock")
		}
		return
	}
	if profileN != nil {
		p.errorf(keyAt(root, "profile"), "an external terminal has its own profile: remove profile (set up the terminal itself)")
	}
	if drillN != nil {
		p.errorf(keyAt(root, "drill"), "a case for an external terminal is not a drill: remove drill")
	}
	if cardsN != nil {
		p.errorf(keyAt(root, "cards"), "the host's cards are the whole session's (posdrill check-terminal --cards FILE): remove cards from the case")
	}
	if sc.Limit == 0 {
		sc.Limit = DefaultCaseLimit
	}
}

//go:embed terminal/*.yaml
var terminalSuite embed.FS

// TerminalSuiteFS is the built-in suite of cases for external terminals (terminal/*.yaml).
func TerminalSuiteFS() fs.FS { return terminalSuite }

// TerminalSuite parses the built-in cases for external terminals, in file order (the
// settlement comes last, after the sales it settles).
func TerminalSuite() ([]*Scenario, error) {
	entries, err := fs.Glob(terminalSuite, "terminal/*.yaml")
	if err != nil {
		return nil, err
	}
	var scs []*Scenario
	var errs ErrorList
	for _, e := range entries {
		sc, err := parseFS(terminalSuite, e, e)
		if err != nil {
			errs = append(errs, asList(err)...)
			continue
		}
		scs = append(scs, sc)
	}
	errs = append(errs, checkNames(scs)...)
	errs.sort()
	return scs, errs.Err()
}

// LoadCases resolves arguments as `posdrill check-terminal` does: files, directories and
// names of the built-in suite's cases; none: the whole suite. Every case must be for an
// external terminal.
func LoadCases(args ...string) ([]*Scenario, error) {
	suite, err := TerminalSuite()
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return suite, nil
	}
	var out []*Scenario
	var errs ErrorList
	var files []string
	for _, a := range args {
		if i := slices.IndexFunc(suite, func(sc *Scenario) bool { return sc.Name == a }); i >= 0 {
			out = append(out, suite[i])
			continue
		}
		if _, statErr := os.Stat(a); statErr != nil && !strings.ContainsAny(a, "/.") {
			names := make([]string, len(suite))
			for i, sc := range suite {
				names[i] = sc.Name
			}
			errs = append(errs, &Error{Pos{File: a}, fmt.Sprintf("no such file, and no built-in case of that name%s; cases are %s", suggest(a, names), list(names))})
			continue
		}
		files = append(files, a)
	}
	if len(files) > 0 {
		scs, err := Load(files...)
		if err != nil {
			errs = append(errs, asList(err)...)
		}
		for _, sc := range scs {
			if !sc.External {
				errs = append(errs, &Error{Pos{File: sc.File, Line: 1, Col: 1}, "this scenario is for posdrill's own terminal (posdrill run); a case for yours says `terminal: external`"})
				continue
			}
			out = append(out, sc)
		}
	}
	errs = append(errs, checkNames(out)...)
	errs.sort()
	return out, errs.Err()
}
