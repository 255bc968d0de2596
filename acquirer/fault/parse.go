package fault

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
)

// ParseYAML reads rules from a YAML file: a list of rules, a single rule, or a mapping with a
// "faults" list; several documents are concatenated. Every problem is reported, each as
// "file:line:column: sentence", in a *ParseError that wraps ErrInvalidRule. Aliases come back
// normalised to decline with their code.
func ParseYAML(data []byte, filename string) ([]Rule, error) {
	if err := bounded.CheckYAML(data, bounded.Document); err != nil {
		pe := fileErr([]PosError{limitError(err)}, filename).(*ParseError)
		pe.limit = err
		return nil, pe
	}
	docs, errs := yamlTree(data)
	if len(errs) > 0 && docs == nil {
		return nil, fileErr(errs, filename)
	}
	b := &builder{errs: errs}
	for _, d := range docs {
		b.top(d)
	}
	if len(b.errs) > 0 {
		return nil, fileErr(b.errs, filename)
	}
	return b.rules, nil
}

func fileErr(errs []PosError, filename string) error {
	for i := range errs {
		errs[i].File = filename
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Column < errs[j].Column
	})
	return &ParseError{Errs: errs}
}

// ParseJSON reads one rule object or a list of them. Errors name the rule's index in the list
// (0-based, as in the JSON array) and the field: `rule 2: params.ms: must be > 0 for delay`.
func ParseJSON(data []byte) ([]Rule, error) {
	v, err := jsonTree(data)
	if err != nil {
		pe := &ParseError{Errs: []PosError{{Rule: -1, Reason: err.Error(), Msg: err.Error()}}}
		if errors.Is(err, bounded.ErrLimit) {
			pe.limit = err
		}
		return nil, pe
	}
	b := &builder{json: true}
	b.top(v)
	if len(b.errs) > 0 {
		for i := range b.errs {
			b.errs[i].Line, b.errs[i].Column = 0, 0
		}
		return nil, &ParseError{Errs: b.errs}
	}
	return b.rules, nil
}

type builder struct {
	json  bool
	rules []Rule
	errs  []PosError
	n     int // rules seen, for indices across YAML documents
}

func (b *builder) top(v *val) {
	switch v.kind {
	case kNull:
	case kList:
		for _, r := range v.list {
			b.rule(r)
		}
	case kMap:
		if len(v.keys) == 1 && v.keys[0].key == "faults" {
			inner := v.keys[0].v
			switch inner.kind {
			case kList:
				for _, r := range inner.list {
					b.rule(r)
				}
			case kNull:
			default:
				b.add(-1, inner.pos, "faults", fmt.Sprintf("must be a list of rules, got %s", inner.kind))
			}
			return
		}
		b.rule(v)
	default:
		b.add(-1, v.pos, "", fmt.Sprintf("expected a rule (mapping) or a list of rules, got %s", v.kind))
	}
}

func (b *builder) add(rule int, p pos, field, reason string) {
	msg := reason
	if field != "" {
		msg = field + ": " + reason
	}
	msg = iso.MaskText(msg)
	b.errs = append(b.errs, PosError{Line: p.line, Column: p.col, Rule: rule, Field: field, Reason: iso.MaskText(reason), Msg: msg})
}

var ruleKeys = []string{"name", "match", "action", "params", "after", "count", "probability", "id", "matched", "fired"}
var matchKeys = []string{"mti", "card", "pan", "pan_prefix", "terminal", "stan", "amount", "amount_min", "amount_max", "processing_code", "entry_mode"}

// ruleSrc remembers where each field of one rule was written.
type ruleSrc struct {
	b      *builder
	idx    int
	pos    pos
	fields map[string]pos
	bad    map[string]bool // fields that already have a type error: no second complaint
	params map[string]bool
}

func (s *ruleSrc) fail(p pos, field, reason string) {
	s.bad[field] = true
	s.b.add(s.idx, p, field, reason)
}

func (b *builder) rule(v *val) {
	s := &ruleSrc{b: b, idx: b.n, pos: v.pos, fields: map[string]pos{}, bad: map[string]bool{}, params: map[string]bool{}}
	b.n++
	if v.kind != kMap {
		b.add(s.idx, v.pos, "", fmt.Sprintf("a rule must be a mapping of fields, got %s", v.kind))
		return
	}
	before := len(b.errs)
	var r Rule
	for _, kv := range v.keys {
		s.fields[kv.key] = kv.v.pos
		switch kv.key {
		case "name":
			r.Name = s.str(kv.key, kv.v)
		case "action":
			r.Action = s.str(kv.key, kv.v)
		case "after":
			r.After = s.integer(kv.key, kv.v)
		case "count":
			r.Count = s.integer(kv.key, kv.v)
		case "probability":
			if kv.v.kind == kInt || kv.v.kind == kFloat {
				p := kv.v.f
				r.Probability = &p
			} else if kv.v.kind != kNull {
				s.fail(kv.v.pos, kv.key, "must be a number between 0 and 1, got "+describe(kv.v))
			}
		case "id", "matched", "fired":
			// Read-only fields from a GET /faults listing: accepted so a listing can be
			// posted back, and ignored (the engine assigns ids and counts).
		case "match":
			s.match(&r.Match, kv.v)
		case "params":
			s.paramsOf(&r.Params, kv.v)
		default:
			b.add(s.idx, kv.keyPos, kv.key, "unknown field (known: "+strings.Join(ruleKeys[:7], ", ")+")")
		}
	}
	findings := normalize(&r, s.params)
	if v.broken {
		findings = nil // the rule lost a field to an error already reported
	}
	for _, f := range findings {
		if s.hasBad(f.field) {
			continue
		}
		p := s.where(f.field)
		b.errs = append(b.errs, PosError{Line: p.line, Column: p.col, Rule: s.idx, Field: f.field, Reason: f.reason, Msg: f.msg})
	}
	if len(b.errs) == before {
		b.rules = append(b.rules, r)
	}
}

// hasBad reports whether field or one of its parents already has a type error.
func (s *ruleSrc) hasBad(field string) bool {
	for f := field; ; {
		if s.bad[f] {
			return true
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			return false
		}
		f = f[:i]
	}
}

// where finds the position of a field, falling back to its parent and then the rule.
func (s *ruleSrc) where(field string) pos {
	for f := field; f != ""; {
		if p, ok := s.fields[f]; ok {
			return p
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return s.pos
}

func (s *ruleSrc) str(field string, v *val) string {
	switch v.kind {
	case kString, kInt, kFloat:
		return v.raw
	case kNull:
		return ""
	}
	s.fail(v.pos, field, "must be a string, got "+describe(v))
	return ""
}

func (s *ruleSrc) integer(field string, v *val) int {
	switch v.kind {
	case kInt:
		if v.i < math.MinInt32 || v.i > math.MaxInt32 {
			s.fail(v.pos, field, "number out of range")
			return 0
		}
		return int(v.i)
	case kFloat:
		s.fail(v.pos, field, fmt.Sprintf("must be a whole number, got %s", v.raw))
		return 0
	case kNull:
		return 0
	}
	s.fail(v.pos, field, "must be a whole number, got "+describe(v))
	return 0
}

func (s *ruleSrc) match(m *Match, v *val) {
	if v.kind == kNull {
		return
	}
	if v.kind != kMap {
		s.fail(v.pos, "match", "must be a mapping of match fields, got "+v.kind.String())
		return
	}
	for _, kv := range v.keys {
		f := "match." + kv.key
		s.fields[f] = kv.v.pos
		switch kv.key {
		case "mti":
			switch kv.v.kind {
			case kList:
				if len(kv.v.list) == 0 {
					s.fail(kv.v.pos, f, "must list at least one message type (leave mti out to match any)")
				}
				for i, e := range kv.v.list {
					ef := fmt.Sprintf("match.mti[%d]", i)
					s.fields[ef] = e.pos
					m.MTI = append(m.MTI, s.str(ef, e))
				}
			default:
				if x := s.str(f, kv.v); x != "" {
					m.MTI = StringList{x}
				}
			}
		case "card":
			m.Card = s.str(f, kv.v)
		case "pan":
			m.PAN = s.str(f, kv.v)
		case "pan_prefix":
			m.PANPrefix = s.str(f, kv.v)
		case "terminal":
			m.Terminal = s.str(f, kv.v)
		case "stan":
			m.STAN = s.str(f, kv.v)
		case "amount":
			m.Amount = s.str(f, kv.v)
		case "amount_min":
			m.AmountMin = s.str(f, kv.v)
		case "amount_max":
			m.AmountMax = s.str(f, kv.v)
		case "processing_code":
			m.ProcessingCode = s.str(f, kv.v)
		case "entry_mode":
			m.EntryMode = s.str(f, kv.v)
		default:
			s.b.add(s.idx, kv.keyPos, f, "unknown match field (known: "+strings.Join(matchKeys, ", ")+")")
		}
	}
}

func (s *ruleSrc) paramsOf(p *Params, v *val) {
	if v.kind == kNull {
		return
	}
	if v.kind != kMap {
		s.fail(v.pos, "params", "must be a mapping of parameters, got "+v.kind.String())
		return
	}
	for _, kv := range v.keys {
		f := "params." + kv.key
		s.fields[f] = kv.v.pos
		pr, ok := paramByKey(kv.key)
		if !ok {
			s.b.add(s.idx, kv.keyPos, f, "unknown parameter (known: "+strings.Join(ParamKeys(), ", ")+")")
			continue
		}
		s.params[kv.key] = kv.v.kind != kNull
		if pr.Number {
			*pr.IntPtr(p) = s.integer(f, kv.v)
		} else {
			*pr.StringPtr(p) = s.str(f, kv.v)
		}
	}
}

// describe names a wrong value for an error: its kind, and a scalar's text (masked by add).
func describe(v *val) string {
	switch v.kind {
	case kString:
		if len(v.raw) > 40 {
			return fmt.Sprintf("string %q...", v.raw[:40])
		}
		return fmt.Sprintf("string %q", v.raw)
	case kBool:
		return "boolean " + v.raw
	}
	return v.kind.String()
}
