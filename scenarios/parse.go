package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	yamlparser "github.com/goccy/go-yaml/parser"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/simulator"
)

// Defaults of optional top-level keys.
var (
	// DefaultSeed is the seed of a scenario that names none.
	DefaultSeed int64 = 1
	// DefaultStart is the start time of a scenario that names none: a Monday morning.
	DefaultStart = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
)

// ParseFile reads and validates one scenario file. The error, if any, is an ErrorList.
func ParseFile(file string) (*Scenario, error) {
	data, err := readRegular(file)
	if err != nil {
		return nil, ErrorList{{Pos{File: file}, fmt.Sprintf("cannot read the file: %v", err)}}
	}
	return parse(data, file, osReader(file))
}

// Parse reads and validates a scenario from data; file names it in positions, and relative
// paths inside it (a cards fixture) are resolved against file's directory. The error, if
// any, is an ErrorList with every problem found.
func Parse(data []byte, file string) (*Scenario, error) {
	return parse(data, file, osReader(file))
}

// osReader resolves files a scenario names (a cards fixture) against the scenario's
// directory.
func osReader(file string) readFunc {
	return func(rel string) ([]byte, string, error) {
		p := rel
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), rel)
		}
		b, err := readRegular(p)
		return b, p, err
	}
}

// readRegular reads a regular file of at most bounded.MaxDocument bytes: a path such as
// /dev/zero or a FIFO must give an error, not a hang.
func readRegular(p string) ([]byte, error) {
	return bounded.ReadFile(p, bounded.MaxDocument)
}

// parseFS reads a scenario from an fs.FS (the embedded library).
func parseFS(fsys fs.FS, file, display string) (*Scenario, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, ErrorList{{Pos{File: display}, fmt.Sprintf("cannot read the file: %v", err)}}
	}
	return parse(data, display, func(rel string) ([]byte, string, error) {
		p := path.Join(path.Dir(file), rel)
		b, err := fs.ReadFile(fsys, p)
		return b, path.Join(path.Dir(display), rel), err
	})
}

type readFunc func(rel string) (data []byte, display string, err error)

type parser struct {
	file     string
	src      *source
	readFile readFunc
	errs     ErrorList
	sc       *Scenario

	cardRefs  []cardRef
	refs      []stepRef
	stepIDs   map[string]stepID
	ruleNames map[string]bool // fault rule names defined so far, in file order
}

type cardRef struct {
	name string
	pos  Pos
	what string // "step sale", "ledger", ...
}

type stepID struct {
	kind  string
	index int
}

type stepRef struct {
	ref   string
	pos   Pos
	index int // the referring step
}

func parse(data []byte, file string, read readFunc) (*Scenario, error) {
	// Bounded before anything is built (the line index, the parser's tree): depth, nodes
	// and size.
	if err := bounded.CheckYAML(data, bounded.Document); err != nil {
		var le *bounded.Error
		pos := Pos{File: file, Line: 1, Col: 1}
		if errors.As(err, &le) && le.Line > 0 {
			pos.Line, pos.Col = le.Line, le.Column
			err = errors.New(le.Msg)
		}
		return nil, ErrorList{{pos, iso.MaskText(err.Error())}}
	}
	p := &parser{
		file:      file,
		src:       newSource(data),
		readFile:  read,
		stepIDs:   map[string]stepID{},
		ruleNames: map[string]bool{},
		sc: &Scenario{
			File:  file,
			Seed:  DefaultSeed,
			Start: DefaultStart,
			raw:   data,
		},
	}
	f, err := yamlparser.ParseBytes(data, 0)
	if err != nil {
		p.yamlError(err, Pos{File: file, Line: 1, Col: 1})
		return nil, p.errs
	}
	var body ast.Node
	if len(f.Docs) > 0 {
		body = f.Docs[0].Body
	}
	if len(f.Docs) > 1 {
		p.errorAt(nodePos(file, f.Docs[1].Body), "a scenario file holds one document; remove the extra \"---\"")
	}
	if body == nil || isNull(body) {
		p.errorAt(Pos{File: file, Line: 1, Col: 1}, "the file is empty; a scenario needs at least a title and steps")
		return nil, p.errs
	}
	p.top(body)
	p.errs.sort()
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return p.sc, nil
}

// errorAt records a problem. Messages quote what the file says, which may be a card
// number: they are masked like every other output.
func (p *parser) errorAt(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{pos, iso.MaskText(fmt.Sprintf(format, args...))})
}

func (p *parser) appendErrs(l ErrorList) {
	for _, e := range l {
		p.errorAt(e.Pos, "%s", e.Msg)
	}
}

func (p *parser) errorf(n ast.Node, format string, args ...any) {
	p.errorAt(p.pos(n), format, args...)
}

func (p *parser) pos(n ast.Node) Pos { return nodePos(p.file, n) }

// yamlError records a goccy/go-yaml error at its token, as a sentence without the source
// excerpt the library appends.
func (p *parser) yamlError(err error, at Pos) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		pos := at
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pos = tokenPos(p.file, tk)
		}
		msg := "YAML syntax: " + ye.GetMessage()
		if strings.Contains(msg, "unexpected key name") && (bareStepLine.MatchString(p.src.line(pos.Line)) || bareStepLine.MatchString(p.src.line(pos.Line-1))) {
			msg += "; a step without arguments that has an id or expect needs a colon, as in `- restart_terminal:`"
		}
		p.errorAt(pos, "%s", msg)
		return
	}
	p.appendErrs(splitErrors(err, p.file, at))
}

// pairs returns the key-value pairs of a mapping, reporting a non-mapping (as "what must
// be a mapping") and duplicate or non-text keys.
func (p *parser) pairs(n ast.Node, what string) ([]pair, bool) {
	var kvs []*ast.MappingValueNode
	switch v := unwrap(n).(type) {
	case *ast.MappingNode:
		kvs = v.Values
	case *ast.MappingValueNode:
		kvs = []*ast.MappingValueNode{v}
	default:
		p.errorf(n, "%s must be a mapping of keys to values, not %s", what, kindOf(n))
		return nil, false
	}
	seen := map[string]bool{}
	out := make([]pair, 0, len(kvs))
	for _, kv := range kvs {
		key, ok := scalarText(kv.Key)
		if !ok {
			p.errorf(kv.Key, "a key of %s must be a word, not %s", what, kindOf(kv.Key))
			continue
		}
		if seen[key] {
			p.errorf(kv.Key, "key %q appears twice in %s", key, what)
			continue
		}
		seen[key] = true
		val := kv.Value
		if val == nil {
			val = ast.Null(nil)
		}
		out = append(out, pair{key: key, keyN: kv.Key, value: val})
	}
	return out, true
}

func (p *parser) unknownKey(kv pair, what string, known []string) {
	p.errorf(kv.keyN, "unknown key %q in %s%s; known keys are %s", kv.key, what, suggest(kv.key, known), list(known))
}

// text reads a scalar as text.
func (p *parser) text(n ast.Node, what string) (string, bool) {
	s, ok := scalarText(n)
	if !ok {
		p.errorf(n, "%s must be text, not %s", what, kindOf(n))
	}
	return s, ok
}

// textLike reads text that must match re. A mismatch is reported with hint (a format
// taking the text as %q), and the text is still returned so that a later "is it given?"
// check does not report the same field a second time.
func (p *parser) textLike(n ast.Node, what string, re *regexp.Regexp, hint string) (string, bool) {
	s, ok := p.text(n, what)
	if ok && !re.MatchString(s) {
		p.errorf(n, hint, s)
	}
	return s, ok
}

func (p *parser) textList(n ast.Node, what string) []string {
	if s, ok := scalarText(n); ok {
		return []string{s}
	}
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, "%s must be a list of words, not %s", what, kindOf(n))
		return nil
	}
	out := make([]string, 0, len(seq.Values))
	for _, v := range seq.Values {
		if s, ok := p.text(v, "each of "+what); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) integer(n ast.Node, what string) (int64, bool) {
	v, ok := unwrap(n).(*ast.IntegerNode)
	if !ok {
		p.errorf(n, "%s must be a whole number, not %s", what, kindOf(n))
		return 0, false
	}
	i, err := strconv.ParseInt(v.GetToken().Value, 0, 64)
	if err != nil {
		p.errorf(n, "%s %q is not a whole number that fits in 64 bits", what, v.GetToken().Value)
		return 0, false
	}
	return i, true
}

func (p *parser) count(n ast.Node, what string) (int, bool) {
	i, ok := p.integer(n, what)
	if ok && (i < 0 || i > 1_000_000) {
		p.errorf(n, "%s must be between 0 and 1000000, not %d", what, i)
		return 0, false
	}
	return int(i), ok
}

// money reads an amount written as text ("25.00") or as a bare YAML number (25.00).
func (p *parser) money(n ast.Node, what string) (int64, bool) {
	s, ok := scalarText(n)
	if !ok {
		p.errorf(n, "%s must be an amount like \"25.00\", not %s", what, kindOf(n))
		return 0, false
	}
	if _, isBool := unwrap(n).(*ast.BoolNode); isBool {
		p.errorf(n, "%s must be an amount like \"25.00\", not true/false", what)
		return 0, false
	}
	v, err := iso.ParseMoney(s)
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
		return 0, false
	}
	return v, true
}

func (p *parser) duration(n ast.Node, what string) (time.Duration, bool) {
	s, ok := scalarText(n)
	if !ok {
		p.errorf(n, "%s must be a duration like \"45s\" or \"2m30s\", not %s", what, kindOf(n))
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errorf(n, "%s %q is not a duration; write it like \"45s\", \"2m30s\" or \"24h\"", what, s)
		return 0, false
	}
	if d <= 0 {
		p.errorf(n, "%s must be longer than zero, not %s", what, s)
		return 0, false
	}
	return d, true
}

// bareStepLine is "- echo" alone on its line: followed by "expect:", it is a YAML error.
var bareStepLine = regexp.MustCompile(`^\s*-\s+[a-z_]+\s*$`)

var (
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	stanRe = regexp.MustCompile(`^\d{6}$`)
	codeRe = regexp.MustCompile(`^[0-9A-Za-z]{2}$`)
)

var topKeys = []string{"name", "title", "description", "tags", "seed", "start", "cards", "profile", "faults", "steps", "expect", "drill", "terminal", "limit"}

func (p *parser) top(root ast.Node) {
	kvs, ok := p.pairs(root, "a scenario")
	if !ok {
		return
	}
	sc := p.sc
	var cardsN, profileN, faultsN, stepsN, expectN, drillN ast.Node
	hasTitle := false
	for _, kv := range kvs {
		switch kv.key {
		case "name":
			if s, ok := p.textLike(kv.value, "name", nameRe, "name %q must be lower-case letters, digits, '-' and '_' (it is used on the command line)"); ok {
				sc.Name = s
			}
		case "title":
			// An invalid title has been reported; do not report it missing too.
			t, ok := p.localText(kv.value, "title", true)
			sc.Title = t
			hasTitle = !ok || !t.IsZero()
		case "description":
			sc.Description, _ = p.localText(kv.value, "description", false)
		case "tags":
			sc.Tags = p.textList(kv.value, "tags")
		case "seed":
			if v, ok := p.integer(kv.value, "seed"); ok {
				sc.Seed = v
			}
		case "start":
			if s, ok := p.text(kv.value, "start"); ok {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					p.errorf(kv.value, "start %q is not an RFC 3339 time like \"2025-01-06T09:00:00Z\"", s)
				} else {
					sc.Start = t
				}
			}
		case "cards":
			cardsN = kv.value
		case "profile":
			profileN = kv.value
		case "faults":
			faultsN = kv.value
		case "steps":
			stepsN = kv.value
		case "expect":
			expectN = kv.value
		case "drill":
			drillN = kv.value
		case "terminal":
			if s, ok := p.text(kv.value, "terminal"); ok {
				switch s {
				case TerminalExternal:
					sc.External = true
				case TerminalOwn:
				default:
					p.errorf(kv.value, "terminal must be %q (the user's own terminal, for posdrill check-terminal) or %q (posdrill's, the default), not %q", TerminalExternal, TerminalOwn, s)
				}
			}
		case "limit":
			if d, ok := p.duration(kv.value, "limit"); ok {
				sc.Limit = d
			}
		default:
			p.unknownKey(kv, "a scenario", topKeys)
		}
	}
	start := p.pos(root)
	if sc.Name == "" {
		base := path.Base(filepath.ToSlash(p.file))
		sc.Name = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
	}
	if !hasTitle {
		p.errorAt(start, "the scenario has no title; add a line like `title: Sale approved`")
	}

	// Cards first: steps, faults and expectations name them.
	sc.Cards, sc.CardsFrom = p.cards(cardsN)
	sc.Profile = p.profile(profileN)
	if profileN != nil && !isNull(profileN) {
		if hn := childAt(profileN, "host"); hn != profileN {
			// Written out, the host is a promise about where the scenario runs: the runner
			// honours it or refuses the run, never ignores it.
			sc.Host, sc.HostPos = sc.Profile.Host, p.pos(hn)
		}
	}
	if faultsN != nil && !isNull(faultsN) {
		sc.Faults = p.faultRules(faultsN, "faults")
	}
	if stepsN == nil || isNull(stepsN) {
		p.errorAt(start, "the scenario has no steps; add `steps:` with at least one step")
	} else {
		p.steps(stepsN)
	}
	if expectN != nil {
		sc.Expect = p.expect(expectN, "the final expect", true)
	}
	if drillN != nil {
		sc.Drill = p.drill(drillN)
	}
	p.checkExternal(root, profileN, drillN, cardsN)
	p.checkRefs()
	p.checkCards()
	p.checkWork()
}

// MaxScheduled bounds the periodic work a scenario may schedule: echo tests every
// echo_interval through its advance steps. Each echo is about five records (two frames,
// three events), so this keeps a run well inside MaxWork; the runner still stops any run
// that passes MaxWork another way.
const MaxScheduled = 10_000

// checkWork refuses a scenario whose advance steps, with its echo_interval, schedule more
// than MaxScheduled echo tests: echoing every millisecond for 100 days is 8.64 billion of
// them, gigabytes before the first second of wall time is up.
func (p *parser) checkWork() {
	every := p.sc.Profile.EchoInterval
	if every <= 0 {
		return
	}
	var total time.Duration
	for _, st := range p.sc.Steps {
		if st.Kind != StepAdvance {
			continue
		}
		total += st.Duration
		if n := total / every; n > MaxScheduled {
			p.errorAt(st.Pos, "with echo_interval %s, the advance steps up to here schedule about %d echo tests; a scenario may schedule at most %d: lengthen echo_interval or shorten the advance",
				every, int64(n), MaxScheduled)
			return
		}
	}
}

// cards reads `cards:`: a fixture path, or the fixture inline.
func (p *parser) cards(n ast.Node) (*cards.Set, string) {
	if n == nil || isNull(n) {
		return cards.Builtin(), "built-in"
	}
	if s, ok := scalarText(n); ok {
		data, display, err := p.readFile(s)
		if err != nil {
			p.errorf(n, "cannot read the cards file %q: %v", s, unwrapPathError(err))
			return nil, s
		}
		set, err := cards.Parse(data, display)
		if err != nil {
			p.appendErrs(splitErrors(err, display, p.pos(n)))
			return nil, s
		}
		return set, display
	}
	if _, ok := p.pairs(n, "cards"); !ok {
		return nil, "inline"
	}
	doc, err := p.src.isolate(n)
	if err != nil {
		p.errorf(n, "cards: %v", err)
		return nil, "inline"
	}
	set, err := cards.Parse(doc, p.file)
	if err != nil {
		p.appendErrs(splitErrors(err, p.file, p.pos(n)))
		return nil, "inline"
	}
	return set, "inline"
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// faultRules hands a rule list to the fault package's own parser, on a copy of the file
// in which everything else is blanked out, so its errors keep this file's positions.
func (p *parser) faultRules(n ast.Node, what string) []fault.Rule {
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, "%s must be a list of fault rules (each starting with \"- \"), not %s", what, kindOf(n))
		return nil
	}
	if len(seq.Values) == 0 {
		return nil
	}
	// Cards and rule names are checked on the tree, so that they are reported even when
	// another rule of the list is broken.
	for _, ruleN := range seq.Values {
		if match := childAt(ruleN, "match"); match != ruleN && keyAt(match, "card") != match {
			if c, ok := scalarText(childAt(match, "card")); ok {
				p.cardRefs = append(p.cardRefs, cardRef{c, p.pos(childAt(match, "card")), "fault rule"})
			}
		}
		if keyAt(ruleN, "name") != ruleN {
			if name, ok := scalarText(childAt(ruleN, "name")); ok {
				p.ruleNames[iso.MaskText(name)] = true
			}
		}
	}
	doc, err := p.src.isolate(n)
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
		return nil
	}
	rules, err := fault.ParseYAML(doc, p.file)
	if err != nil {
		var pe *fault.ParseError
		if !errors.As(err, &pe) {
			p.appendErrs(splitErrors(err, p.file, p.pos(n)))
			return nil
		}
		for _, e := range pe.Errs {
			at := p.pos(n)
			if e.Line > 0 {
				at = Pos{File: p.file, Line: e.Line, Col: e.Column}
			}
			p.errorAt(at, "%s", e.Msg)
		}
		return nil
	}
	for _, r := range rules {
		if r.Name != "" {
			p.ruleNames[r.Name] = true
		}
	}
	return rules
}

// keyAt returns the key node of key in mapping n (n itself when there is none).
func keyAt(n ast.Node, key string) ast.Node {
	var kvs []*ast.MappingValueNode
	switch v := unwrap(n).(type) {
	case *ast.MappingNode:
		kvs = v.Values
	case *ast.MappingValueNode:
		kvs = []*ast.MappingValueNode{v}
	}
	for _, kv := range kvs {
		if s, _ := scalarText(kv.Key); s == key {
			return kv.Key
		}
	}
	return n
}

// childAt walks mapping keys down from n and returns the last node found.
func childAt(n ast.Node, keys ...string) ast.Node {
	for _, k := range keys {
		var kvs []*ast.MappingValueNode
		switch v := unwrap(n).(type) {
		case *ast.MappingNode:
			kvs = v.Values
		case *ast.MappingValueNode:
			kvs = []*ast.MappingValueNode{v}
		default:
			return n
		}
		found := false
		for _, kv := range kvs {
			if s, _ := scalarText(kv.Key); s == k {
				n, found = kv.Value, true
				break
			}
		}
		if !found {
			return n
		}
	}
	return n
}

func (p *parser) steps(n ast.Node) {
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, "steps must be a list (each step starting with \"- \"), not %s", kindOf(n))
		return
	}
	if len(seq.Values) == 0 {
		p.errorf(n, "steps is empty; a scenario needs at least one step")
	}
	for i, item := range seq.Values {
		if st, ok := p.step(item, i); ok {
			p.sc.Steps = append(p.sc.Steps, st)
		}
	}
}

var paymentKeys = []string{"card", "amount", "entry", "pin"}

func (p *parser) step(n ast.Node, index int) (Step, bool) {
	st := Step{Pos: p.pos(n)}
	// A bare word is a step without arguments: "- echo".
	if s, ok := scalarText(n); ok {
		st.Kind = s
		if !slices.Contains(stepKinds, s) {
			p.errorf(n, "unknown step %q%s; steps are %s", s, suggest(s, stepKinds), list(stepKinds))
			return st, false
		}
		if p.sc.External && !slices.Contains(externalStepKinds, s) {
			p.errorf(n, "step %s needs posdrill's own terminal; a case for an external terminal (terminal: external) may use %s", s, list(externalStepKinds))
			return st, false
		}
		return st, p.stepArgs(&st, n, ast.Null(nil), index)
	}
	kvs, ok := p.pairs(n, "a step")
	if !ok {
		return st, false
	}
	var action *pair
	var expectN ast.Node
	good := true
	for i, kv := range kvs {
		switch {
		case kv.key == "id":
			if s, ok := p.text(kv.value, "id"); ok {
				if !nameRe.MatchString(s) {
					p.errorf(kv.value, "step id %q must be lower-case letters, digits, '-' and '_'", s)
				} else if _, dup := p.stepIDs[s]; dup {
					p.errorf(kv.value, "step id %q is used twice", s)
				}
				st.ID = s
			}
		case kv.key == "expect":
			expectN = kv.value
		case slices.Contains(stepKinds, kv.key):
			if action != nil {
				p.errorf(kv.keyN, "a step does one thing, but this one has both %s and %s; split it into two steps", action.key, kv.key)
				good = false
				continue
			}
			action = &kvs[i]
		default:
			p.errorf(kv.keyN, "unknown step %q%s; steps are %s (plus id and expect)", kv.key, suggest(kv.key, append(slices.Clone(stepKinds), "id", "expect")), list(stepKinds))
			good = false
		}
	}
	if action == nil {
		if good {
			p.errorf(n, "the step does nothing; give it one of %s", list(stepKinds))
		}
		return st, false
	}
	st.Kind = action.key
	if p.sc.External && !slices.Contains(externalStepKinds, st.Kind) {
		p.errorf(action.keyN, "step %s needs posdrill's own terminal; a case for an external terminal (terminal: external) may use %s", st.Kind, list(externalStepKinds))
		good = false
	}
	if !p.stepArgs(&st, action.keyN, action.value, index) {
		good = false
	}
	if st.ID != "" {
		if _, dup := p.stepIDs[st.ID]; !dup {
			p.stepIDs[st.ID] = stepID{st.Kind, index}
		}
	}
	if expectN != nil && p.sc.External {
		p.errorf(keyAt(n, "expect"), "a case for an external terminal is checked once, at the end: move this expect to the top-level expect")
		expectN = nil
	}
	if expectN != nil {
		st.Expect = p.expect(expectN, "the expect of step "+st.Kind, false)
		if e := st.Expect; e != nil && !producesOutcome(st.Kind) {
			for _, k := range []struct {
				set  bool
				name string
			}{{e.Outcome != "", "outcome"}, {e.ResponseCode != "", "response_code"}, {e.Guidance != "", "guidance"}, {e.Approved != nil, "approved"}, {e.ReceiptContains != nil && st.Kind != StepReprint, "receipt_contains"}} {
				if k.set {
					p.errorf(keyAt(expectN, k.name), "step %s has no outcome, so its expect cannot check %s", st.Kind, k.name)
				}
			}
		}
	}
	return st, good
}

// stepArgs reads the value of a step's action key.
func (p *parser) stepArgs(st *Step, keyN, v ast.Node, index int) bool {
	before := len(p.errs)
	what := "step " + st.Kind
	switch st.Kind {
	case StepSale, StepRefund, StepPreAuth, StepBalance:
		if isNull(v) {
			p.errorf(keyN, "%s needs a card%s, e.g. `%s: {card: visa-ok%s}`", what, map[bool]string{true: "", false: " and an amount"}[st.Kind == StepBalance], st.Kind, map[bool]string{true: "", false: `, amount: "25.00"`}[st.Kind == StepBalance])
			return false
		}
		pay := p.payment(v, what, st.Kind != StepBalance)
		st.Payment = pay
	case StepReprint:
		if isNull(v) {
			break // the latest receipt
		}
		kvs, ok := p.pairs(v, what)
		if !ok {
			return false
		}
		for _, kv := range kvs {
			if kv.key != "ref" {
				p.unknownKey(kv, what, []string{"ref"})
				continue
			}
			if s, ok := p.text(kv.value, "ref"); ok {
				st.Ref = s
				p.refs = append(p.refs, stepRef{s, p.pos(kv.value), index})
			}
		}
	case StepComplete, StepVoid:
		kvs, ok := p.pairs(v, what)
		if !ok {
			return false
		}
		var haveRef, haveAmount bool
		for _, kv := range kvs {
			switch {
			case kv.key == "ref":
				if s, ok := p.text(kv.value, "ref"); ok {
					st.Ref, haveRef = s, true
					p.refs = append(p.refs, stepRef{s, p.pos(kv.value), index})
				}
			case kv.key == "amount" && st.Kind == StepComplete:
				if a, ok := p.money(kv.value, "amount"); ok {
					st.Amount, haveAmount = a, true
				}
			default:
				known := []string{"ref"}
				if st.Kind == StepComplete {
					known = append(known, "amount")
				}
				p.unknownKey(kv, what, known)
			}
		}
		if !haveRef && len(p.errs) == before {
			p.errorf(keyN, "%s needs ref: the id of an earlier step or a STAN like \"000001\"", what)
		}
		if st.Kind == StepComplete && !haveAmount && len(p.errs) == before {
			p.errorf(keyN, "%s needs the amount to capture, e.g. amount: \"20.00\"", what)
		}
	case StepAdvance:
		if isNull(v) {
			p.errorf(keyN, "advance needs a duration, e.g. `advance: 45s`")
			return false
		}
		if d, ok := p.duration(v, "advance"); ok {
			st.Duration = d
		}
	case StepFault:
		p.faultStep(st, keyN, v)
	case StepDeviceFault:
		st.DeviceFault = p.deviceFault(keyN, v)
	default: // steps without arguments
		if kvs, ok := unwrap(v).(*ast.MappingNode); ok && len(kvs.Values) == 0 {
			break
		}
		if !isNull(v) {
			p.errorf(v, "%s takes no arguments; write just `- %s`", what, st.Kind)
		}
	}
	return len(p.errs) == before
}

func (p *parser) payment(n ast.Node, what string, needAmount bool) *Payment {
	kvs, ok := p.pairs(n, what)
	if !ok {
		return nil
	}
	pay := &Payment{}
	haveCard, haveAmount := false, false
	for _, kv := range kvs {
		switch kv.key {
		case "card":
			if s, ok := p.text(kv.value, "card"); ok {
				pay.Card, haveCard = s, true
				p.cardRefs = append(p.cardRefs, cardRef{s, p.pos(kv.value), what})
			}
		case "amount":
			if a, ok := p.money(kv.value, "amount"); ok {
				pay.Amount, haveAmount = a, true
			}
		case "entry":
			if s, ok := p.text(kv.value, "entry"); ok {
				if !slices.Contains(EntryModes(), s) {
					p.errorf(kv.value, "unknown entry %q%s; entries are %s", s, suggest(s, EntryModes()), list(EntryModes()))
				}
				pay.Entry = s
			}
		case "pin":
			if s, ok := p.text(kv.value, "pin"); ok {
				if len(s) < 4 || len(s) > 12 || strings.Trim(s, "0123456789") != "" {
					p.errorf(kv.value, "pin must be 4 to 12 digits (quote it: pin: \"1234\")")
				}
				pay.PIN = s
			}
		default:
			p.unknownKey(kv, what, paymentKeys)
		}
	}
	if !haveCard {
		p.errorf(n, "%s needs a card: a card name of the fixture or a PAN", what)
	}
	if needAmount && !haveAmount && !slices.ContainsFunc(kvs, func(kv pair) bool { return kv.key == "amount" }) {
		p.errorf(n, "%s needs an amount, e.g. amount: \"25.00\"", what)
	}
	return pay
}

func (p *parser) faultStep(st *Step, keyN, v ast.Node) {
	kvs, ok := p.pairs(v, "step fault")
	if !ok {
		return
	}
	if len(kvs) != 1 {
		p.errorf(keyN, "step fault takes exactly one of add (a list of rules) or clear (true, or a rule name)")
		return
	}
	kv := kvs[0]
	switch kv.key {
	case "add":
		st.FaultAdd = p.faultRules(kv.value, "fault add")
		if isNull(kv.value) {
			p.errorf(kv.keyN, "fault add needs a list of rules")
		}
	case "clear":
		if b, ok := unwrap(kv.value).(*ast.BoolNode); ok {
			if !b.Value {
				p.errorf(kv.value, "clear: false does nothing; write clear: true, or clear: <rule name>")
			}
			st.FaultClear = "*"
			return
		}
		if s, ok := p.text(kv.value, "clear"); ok {
			if !p.ruleNames[s] {
				known := make([]string, 0, len(p.ruleNames))
				for k := range p.ruleNames {
					known = append(known, k)
				}
				slices.Sort(known)
				p.errorf(kv.value, "clear names rule %q, but no rule of that name was added before this step%s", s, suggest(s, known))
			}
			st.FaultClear = s
		}
	default:
		p.unknownKey(kv, "step fault", []string{"add", "clear"})
	}
}

// deviceFaultClear is `device_fault: clear`: every armed device fault goes (paper refilled).
const deviceFaultClear = "clear"

func (p *parser) deviceFault(keyN, v ast.Node) *DeviceFault {
	df := &DeviceFault{Count: 1}
	if s, ok := scalarText(v); ok {
		df.Kind = s
		if s == deviceFaultClear {
			return df
		}
	} else if kvs, ok := p.pairs(v, "step device_fault"); ok {
		for _, kv := range kvs {
			switch kv.key {
			case "kind":
				if s, ok := p.text(kv.value, "kind"); ok {
					df.Kind = s
				}
			case "count":
				if c, ok := p.count(kv.value, "count"); ok {
					if c == 0 {
						p.errorf(kv.value, "count must be at least 1")
					}
					df.Count = c
				}
			case "at":
				if s, ok := p.text(kv.value, "at"); ok {
					if !slices.Contains(PowerLossPoints(), s) {
						p.errorf(kv.value, "unknown power-loss point %q%s; points are %s", s, suggest(s, PowerLossPoints()), list(PowerLossPoints()))
					}
					df.At = s
				}
			default:
				p.unknownKey(kv, "step device_fault", []string{"kind", "count", "at"})
			}
		}
	} else {
		return nil
	}
	if df.Kind == deviceFaultClear {
		p.errorf(childAt(v, "kind"), "to clear device faults write just `device_fault: clear`")
	} else if df.Kind == "" {
		p.errorf(keyN, "device_fault needs a kind: %s (or `device_fault: clear`)", list(DeviceFaultKinds()))
	} else if !slices.Contains(DeviceFaultKinds(), df.Kind) {
		p.errorf(childAt(v, "kind"), "unknown device fault %q%s; kinds are %s", df.Kind, suggest(df.Kind, DeviceFaultKinds()), list(DeviceFaultKinds()))
	} else if df.At != "" && df.Kind != simulator.DevicePowerLoss {
		p.errorf(childAt(v, "at"), "at only applies to power_loss, not to %s", df.Kind)
	}
	return df
}

var (
	stepExpectKeys  = []string{"outcome", "response_code", "guidance", "approved", "receipt_contains", "flow", "ledger", "journal", "saf", "manual_reconciliation", "events_contain"}
	finalExpectKeys = []string{"flow", "ledger", "journal", "saf", "manual_reconciliation", "events_contain"}
	journalKeys     = []string{"stan", "mti", "card", "amount", "state", "response_code"}
)

func (p *parser) expect(n ast.Node, what string, final bool) *Expect {
	kvs, ok := p.pairs(n, what)
	if !ok {
		return nil
	}
	e := &Expect{Pos: p.pos(n)}
	known := stepExpectKeys
	if final {
		known = finalExpectKeys
	}
	if p.sc.External {
		known = externalExpectKeys
	}
	for _, kv := range kvs {
		if p.externalExpectKey(e, kv, known) {
			continue
		}
		if !slices.Contains(known, kv.key) {
			if final && slices.Contains(stepExpectKeys, kv.key) {
				p.errorf(kv.keyN, "%s is checked after a step, not at the end; move it into the expect of the step it is about", kv.key)
				continue
			}
			p.unknownKey(kv, what, known)
			continue
		}
		switch kv.key {
		case "outcome":
			if s, ok := p.text(kv.value, "outcome"); ok {
				if !slices.Contains(OutcomeKinds(), s) {
					p.errorf(kv.value, "unknown outcome %q%s; outcomes are %s", s, suggest(s, OutcomeKinds()), list(OutcomeKinds()))
				}
				e.Outcome = s
			}
		case "response_code":
			if s, ok := p.textLike(kv.value, "response_code", codeRe, "response_code %q must be two characters, quoted: response_code: \"05\""); ok {
				e.ResponseCode = s
			}
		case "guidance":
			if s, ok := p.text(kv.value, "guidance"); ok {
				if !slices.Contains(GuidanceKeys(), s) {
					p.errorf(kv.value, "unknown guidance key %q%s", s, suggest(s, GuidanceKeys()))
				}
				e.Guidance = s
			}
		case "approved":
			if a, ok := p.money(kv.value, "approved"); ok {
				e.Approved = &a
			}
		case "receipt_contains":
			e.ReceiptContains = p.textList(kv.value, "receipt_contains")
		case "events_contain":
			e.EventsContain = p.textList(kv.value, "events_contain")
			for i, ev := range e.EventsContain {
				if !slices.Contains(EventKinds(), ev) {
					at := kv.value
					if seq, ok := unwrap(kv.value).(*ast.SequenceNode); ok && i < len(seq.Values) {
						at = seq.Values[i]
					}
					p.errorf(at, "unknown terminal event %q%s; events are %s", ev, suggest(ev, EventKinds()), list(EventKinds()))
				}
			}
		case "flow":
			e.Flow = p.flow(kv.value)
		case "ledger":
			e.Ledger = p.ledger(kv.value)
		case "journal":
			e.Journal = p.journal(kv.value)
		case "saf":
			e.SAF = p.saf(kv.value)
		case "manual_reconciliation":
			if c, ok := p.count(kv.value, "manual_reconciliation"); ok {
				e.ManualReconciliation = &c
			}
		}
	}
	return e
}

func (p *parser) flow(n ast.Node) []FlowEntry {
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, `flow must be a list like ["0200 → (none)", "0420 → 0430 00"], not %s`, kindOf(n))
		return nil
	}
	out := make([]FlowEntry, 0, len(seq.Values))
	for _, v := range seq.Values {
		s, ok := p.text(v, "each flow entry")
		if !ok {
			continue
		}
		fe, err := ParseFlowEntry(s)
		if err != nil {
			p.errorf(v, "%v", err)
			continue
		}
		out = append(out, fe)
	}
	return out
}

func (p *parser) ledger(n ast.Node) []LedgerExpect {
	kvs, ok := p.pairs(n, "ledger")
	if !ok {
		return nil
	}
	var out []LedgerExpect
	for _, kv := range kvs {
		le := LedgerExpect{Card: kv.key}
		p.cardRefs = append(p.cardRefs, cardRef{kv.key, p.pos(kv.keyN), "ledger"})
		if _, isScalar := scalarText(kv.value); isScalar {
			if a, ok := p.money(kv.value, "the balance of "+kv.key); ok {
				le.Available = &a
			}
		} else if bal, ok := p.pairs(kv.value, "the ledger entry of "+kv.key); ok {
			for _, b := range bal {
				switch b.key {
				case "available", "balance":
					if a, ok := p.money(b.value, b.key); ok {
						le.Available = &a
					}
				case "held":
					if a, ok := p.money(b.value, "held"); ok {
						le.Held = &a
					}
				default:
					p.unknownKey(b, "the ledger entry of "+kv.key, []string{"available", "held"})
				}
			}
		}
		out = append(out, le)
	}
	return out
}

func (p *parser) journal(n ast.Node) []JournalExpect {
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, `journal must be a list like [{stan: "000001", state: reversed}], not %s`, kindOf(n))
		return nil
	}
	var out []JournalExpect
	for _, item := range seq.Values {
		kvs, ok := p.pairs(item, "a journal entry")
		if !ok {
			continue
		}
		je := JournalExpect{Pos: p.pos(item)}
		for _, kv := range kvs {
			switch kv.key {
			case "stan":
				if s, ok := p.textLike(kv.value, "stan", stanRe, "stan %q must be six digits, quoted: stan: \"000001\""); ok {
					je.STAN = s
				}
			case "mti":
				if s, ok := p.textLike(kv.value, "mti", mtiRe, "mti %q must be four digits, quoted: mti: \"0200\""); ok {
					je.MTI = s
				}
			case "card":
				if s, ok := p.text(kv.value, "card"); ok {
					je.Card = s
					p.cardRefs = append(p.cardRefs, cardRef{s, p.pos(kv.value), "journal"})
				}
			case "amount":
				if a, ok := p.money(kv.value, "amount"); ok {
					je.Amount = &a
				}
			case "state":
				if s, ok := p.text(kv.value, "state"); ok {
					if !slices.Contains(TxnStates(), s) {
						p.errorf(kv.value, "unknown host state %q%s; states are %s", s, suggest(s, TxnStates()), list(TxnStates()))
					}
					je.State = s
				}
			case "response_code":
				if s, ok := p.textLike(kv.value, "response_code", codeRe, "response_code %q must be two characters, quoted"); ok {
					je.ResponseCode = s
				}
			default:
				p.unknownKey(kv, "a journal entry", journalKeys)
			}
		}
		if je.STAN == "" && je.MTI == "" && je.Card == "" {
			p.errorf(item, "a journal entry must say which transaction it is about: give stan, mti or card")
		}
		out = append(out, je)
	}
	return out
}

func (p *parser) saf(n ast.Node) *SAFExpect {
	if _, ok := unwrap(n).(*ast.IntegerNode); ok {
		c, ok := p.count(n, "saf")
		if !ok {
			return nil
		}
		return &SAFExpect{Count: c}
	}
	seq, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, `saf must be a count (saf: 0) or a list of MTIs (saf: ["0420"]), not %s`, kindOf(n))
		return nil
	}
	s := &SAFExpect{MTIs: []string{}}
	for _, v := range seq.Values {
		if m, ok := p.text(v, "each saf entry"); ok {
			if !mtiRe.MatchString(m) {
				p.errorf(v, "saf entry %q must be a four-digit MTI, quoted: \"0420\"", m)
			}
			s.MTIs = append(s.MTIs, m)
		}
	}
	s.Count = len(s.MTIs)
	return s
}

var drillKeys = []string{"title", "situation", "says", "customer", "expected_actions", "forbidden_actions", "debrief"}

func (p *parser) drill(n ast.Node) *Drill {
	kvs, ok := p.pairs(n, "drill")
	if !ok {
		return nil
	}
	d := &Drill{}
	actions := func(kv pair) []string {
		out := p.textList(kv.value, kv.key)
		for i, a := range out {
			if !slices.Contains(simulator.DrillActions(), a) {
				at := kv.value
				if seq, ok := unwrap(kv.value).(*ast.SequenceNode); ok && i < len(seq.Values) {
					at = seq.Values[i]
				}
				p.errorf(at, "unknown drill action %q%s; actions are %s", a, suggest(a, simulator.DrillActions()), list(simulator.DrillActions()))
			}
		}
		return out
	}
	for _, kv := range kvs {
		switch kv.key {
		case "title":
			d.Title, _ = p.localText(kv.value, "the drill's title", true)
		case "situation":
			d.Situation, _ = p.localText(kv.value, "situation", false)
		case "says":
			d.Says, _ = p.localText(kv.value, "says", false)
		case "customer":
			d.Customer = p.payment(kv.value, "the drill's customer", true)
		case "expected_actions":
			d.ExpectedActions = actions(kv)
		case "forbidden_actions":
			d.ForbiddenActions = actions(kv)
		case "debrief":
			d.Debrief, _ = p.localText(kv.value, "debrief", false)
		default:
			p.unknownKey(kv, "drill", drillKeys)
		}
	}
	for _, a := range d.ExpectedActions {
		if slices.Contains(d.ForbiddenActions, a) {
			p.errorf(n, "drill action %q is both expected and forbidden", a)
		}
	}
	return d
}

// checkRefs resolves complete/void refs: an earlier step's id, or a six-digit STAN.
func (p *parser) checkRefs() {
	for _, r := range p.refs {
		if stanRe.MatchString(r.ref) {
			continue
		}
		id, ok := p.stepIDs[r.ref]
		if !ok {
			p.errorAt(r.pos, "ref %q is neither the id of a step nor a six-digit STAN", r.ref)
			continue
		}
		if id.index >= r.index {
			p.errorAt(r.pos, "ref %q names this or a later step; a ref must name a step that ran before", r.ref)
			continue
		}
		switch kind := id.kind; kind {
		case StepSale, StepRefund, StepPreAuth, StepComplete, StepBalance, StepVoid:
		default:
			p.errorAt(r.pos, "ref %q names a %s step, which leaves no transaction to refer to", r.ref, kind)
		}
	}
}

// checkCards makes sure every card named exists in the fixture (a PAN is taken as is: a
// scenario may present a number the host does not know).
func (p *parser) checkCards() {
	set := p.sc.Cards
	if set == nil {
		return // the fixture itself is broken, already reported
	}
	names := make([]string, 0, len(set.Cards))
	for _, c := range set.Cards {
		names = append(names, c.Name)
	}
	for _, r := range p.cardRefs {
		if _, ok := set.ByName(r.name); ok {
			continue
		}
		if len(r.name) >= 12 && len(r.name) <= 19 && strings.Trim(r.name, "0123456789") == "" {
			continue
		}
		p.errorAt(r.pos, "unknown card %q in %s%s; cards are %s", iso.MaskText(r.name), r.what, suggest(r.name, names), list(names))
	}
}
