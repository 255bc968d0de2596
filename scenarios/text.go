package scenarios

import (
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// textLangs are the language keys of a bilingual text, as files write them.
var textLangs = []string{"en", "zh"}

// localText reads prose that may be given in one language or both:
//
//	title: Expired card declined                      # plain: its language is detected
//	title: {en: Expired card declined, zh: 卡片过期被拒}  # both
//
// A plain string is Chinese when it contains Han characters and English otherwise. A
// mapping takes only en and zh, each text, at least one of them not empty. oneLine rejects
// line breaks (titles).
func (p *parser) localText(n ast.Node, what string, oneLine bool) (guidance.Text, bool) {
	check := func(at ast.Node, s, label string) (string, bool) {
		// Masked here, once: titles and descriptions go into every report.
		s = iso.MaskText(strings.TrimSpace(s))
		if oneLine && strings.Contains(s, "\n") {
			p.errorf(at, "%s must be one line", label)
			return s, false
		}
		return s, true
	}
	if s, ok := scalarText(n); ok {
		s, ok := check(n, s, what)
		return guidance.PlainText(s), ok
	}
	switch unwrap(n).(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		p.errorf(n, "%s must be text, or a mapping {en: ..., zh: ...}, not %s", what, kindOf(n))
		return guidance.Text{}, false
	}
	kvs, ok := p.pairs(n, what)
	if !ok {
		return guidance.Text{}, false
	}
	var t guidance.Text
	good := true
	for _, kv := range kvs {
		var dst *string
		switch kv.key {
		case "en":
			dst = &t.En
		case "zh":
			dst = &t.Zh
		default:
			p.errorf(kv.keyN, "unknown language %q in %s%s; write en (English) or zh (Simplified Chinese)", kv.key, what, suggest(kv.key, textLangs))
			good = false
			continue
		}
		s, ok := p.text(kv.value, what+" ("+kv.key+")")
		if !ok {
			good = false
			continue
		}
		s, ok = check(kv.value, s, what+" ("+kv.key+")")
		good = good && ok
		if s == "" {
			p.errorf(kv.value, "%s (%s) is empty; give the text or leave the language out", what, kv.key)
			good = false
		}
		*dst = s
	}
	if good && t.IsZero() {
		p.errorf(n, "%s gives no language; write {en: ..., zh: ...}", what)
		good = false
	}
	return t, good
}
