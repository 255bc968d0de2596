package decode

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/suggest"
)

// Literal is a YAML or JSON value with every scalar kept exactly as written: "000123" and
// 000123 both read as the string 000123 (a YAML decoder would make the second the number
// 123, or worse, octal 83), which is what field values need. Maps keep their keys in order.
type Literal struct {
	Line, Column int
	// KeyLine and KeyColumn: where the key of this value is, when it is a map value.
	KeyLine, KeyColumn int
	Scalar             string   // set for scalars
	Null               bool     // ~, null or nothing
	Keys               []string // set for maps, in order
	Map                map[string]*Literal
	List               []*Literal
}

// ParseLiteral reads YAML (or JSON, which is YAML) into a Literal tree. Errors read
// file:line:column: message.
func ParseLiteral(data []byte, filename string) (*Literal, error) {
	if err := bounded.CheckYAML(data, bounded.Document); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", filename, strings.TrimSpace(yaml.FormatError(err, false, false)))
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return &Literal{Null: true, Line: 1, Column: 1}, nil
	}
	return literal(f.Docs[0].Body, filename)
}

func literal(n ast.Node, filename string) (*Literal, error) {
	l := &Literal{}
	if t := n.GetToken(); t != nil && t.Position != nil {
		l.Line, l.Column = t.Position.Line, t.Position.Column
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		l.Map = map[string]*Literal{}
		for _, mv := range v.Values {
			if err := l.add(mv, filename); err != nil {
				return nil, err
			}
		}
	case *ast.MappingValueNode:
		l.Map = map[string]*Literal{}
		if err := l.add(v, filename); err != nil {
			return nil, err
		}
	case *ast.SequenceNode:
		l.List = []*Literal{}
		for _, x := range v.Values {
			c, err := literal(x, filename)
			if err != nil {
				return nil, err
			}
			l.List = append(l.List, c)
		}
	case *ast.NullNode:
		l.Null = true
	case *ast.TagNode:
		return literal(v.Value, filename)
	case *ast.AnchorNode:
		return literal(v.Value, filename)
	case *ast.CommentNode:
		l.Null = true
	default:
		t := n.GetToken()
		if t == nil {
			return nil, fmt.Errorf("%s:%d:%d: unsupported YAML here", filename, l.Line, l.Column)
		}
		l.Scalar = t.Value
		if s, ok := n.(*ast.LiteralNode); ok {
			l.Scalar = s.Value.Value
		}
	}
	return l, nil
}

func (l *Literal) add(mv *ast.MappingValueNode, filename string) error {
	k := mv.Key.GetToken()
	if k == nil {
		return fmt.Errorf("%s:%d:%d: map key must be a plain value", filename, l.Line, l.Column)
	}
	key := k.Value
	if _, dup := l.Map[key]; dup {
		return fmt.Errorf("%s:%d:%d: %q appears twice", filename, k.Position.Line, k.Position.Column, key)
	}
	c, err := literal(mv.Value, filename)
	if err != nil {
		return err
	}
	c.KeyLine, c.KeyColumn = k.Position.Line, k.Position.Column
	if c.Line == 0 {
		c.Line, c.Column = c.KeyLine, c.KeyColumn
	}
	l.Keys = append(l.Keys, key)
	l.Map[key] = c
	return nil
}

// MessageFile is what encode reads:
//
//	mti: "0200"
//	tpdu: "6000030000"      # optional, for +tpdu framings
//	fields:
//	  2: "4111111111111111"  # numbers, DE numbers ("DE11") or names (stan, pan, …)
//	  stan: 000123           # leading zeros are kept, quoted or not
//	  52: 0412EEEEEEEEEEEE   # binary fields as hex
type MessageFile struct {
	Message *iso.Message
	TPDU    []byte
}

// FileErrors is every problem found in an encode input file, one "file:line:column: message"
// per line, in file order.
type FileErrors []string

func (e FileErrors) Error() string { return strings.Join(e, "\n") }

// MultiLine says the errors read best one per line.
func (e FileErrors) MultiLine() bool { return len(e) > 1 }

// ParseMessageFile reads an encode input file (YAML or JSON) without checking values against
// a dialect; see ParseMessageFileFor.
func ParseMessageFile(data []byte, filename string) (*MessageFile, error) {
	return ParseMessageFileFor(data, filename, nil)
}

// ParseMessageFileFor reads an encode input file and, with d, checks every value against its
// field in d the way the scenario parser checks a scenario: digits only in a numeric field
// (12.34 is refused: amounts are minor units), no value longer than its field, binary
// fields as hex of the right size. Every problem is reported (FileErrors), each with the
// line and column of the value, not just the first.
func ParseMessageFileFor(data []byte, filename string, d *iso.Dialect) (*MessageFile, error) {
	root, err := ParseLiteral(data, filename)
	if err != nil {
		return nil, err
	}
	var errs FileErrors
	at := func(l *Literal, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d:%d: %s", filename, l.Line, l.Column, fmt.Sprintf(format, args...)))
	}
	atKey := func(l *Literal, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d:%d: %s", filename, l.KeyLine, l.KeyColumn, fmt.Sprintf(format, args...)))
	}
	if root.Map == nil {
		at(root, "expected a map with mti and fields")
		return nil, errs
	}
	out := &MessageFile{Message: &iso.Message{}}
	for _, k := range root.Keys {
		v := root.Map[k]
		switch k {
		case "mti":
			if !iso.ValidMTI(v.Scalar) {
				at(v, "mti must be 4 digits, got %q", v.Scalar)
				continue
			}
			out.Message.MTI = v.Scalar
		case "tpdu":
			b, err := hex.DecodeString(strings.ReplaceAll(v.Scalar, " ", ""))
			if err != nil || len(b) != iso.TPDULen {
				at(v, "tpdu must be %d bytes of hex, got %q", iso.TPDULen, v.Scalar)
				continue
			}
			out.TPDU = b
		case "fields":
			if v.Map == nil {
				at(v, "fields must be a map of field number or name to value")
				continue
			}
			for _, fk := range v.Keys {
				fv := v.Map[fk]
				id, ok := FieldID(fk)
				if !ok {
					atKey(fv, "unknown field %q%s: use a number 2-128, DE2-DE128 or a name (%s)", fk,
						suggest.Hint(strings.ToLower(fk), FieldNames()), strings.Join(FieldNames(), ", "))
					continue
				}
				if _, dup := out.Message.Get(id); dup {
					atKey(fv, "field %d given twice (%q)", id, fk)
					continue
				}
				if fv.Map != nil || fv.List != nil {
					at(fv, "field %s: value must be a single value", fk)
					continue
				}
				if d != nil {
					if why := valueProblem(d, id, fv.Scalar); why != "" {
						at(fv, "field %d (%s): %s", id, d.Describe(id).Name, why)
						continue
					}
				}
				if err := out.Message.Set(id, fv.Scalar); err != nil {
					at(fv, "%v", err)
				}
			}
		default:
			atKey(v, "unknown key %q%s: use mti, tpdu and fields", k, suggest.Hint(k, []string{"mti", "tpdu", "fields"}))
		}
	}
	if out.Message.MTI == "" && root.Map["mti"] == nil {
		at(root, "mti is missing")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// valueProblem says why v cannot go into field id of d, or "".
func valueProblem(d *iso.Dialect, id int, v string) string {
	spec, ok := d.Spec.Fields[id]
	if !ok {
		return "the dialect " + d.Name + " does not define this field"
	}
	format := d.Describe(id).Format
	max := spec.Spec().Length
	fixed := !strings.Contains(format, "..")
	switch {
	case strings.HasPrefix(format, "b"):
		b, err := hex.DecodeString(v)
		if err != nil {
			return fmt.Sprintf("a binary field (%s): give it as hex digits", format)
		}
		if len(b) > max || fixed && len(b) != max {
			return fmt.Sprintf("%d bytes of hex, the field (%s) holds %d", len(b), format, max)
		}
		return ""
	case strings.HasPrefix(format, "n"):
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				hint := ""
				if strings.Contains(v, ".") && (id == 4 || id == 5 || id == 6) {
					hint = " (amounts are minor units: 12.34 is 1234)"
				}
				return fmt.Sprintf("%q: a numeric field (%s) holds digits only; %q at column %d is not one%s", v, format, v[i], i+1, hint)
			}
		}
	}
	if len(v) > max {
		return fmt.Sprintf("%d characters, the field (%s) holds at most %d", len(v), format, max)
	}
	return ""
}
