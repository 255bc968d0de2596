package fault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/posdrill/posdrill/iso/bounded"
)

// The YAML and JSON front ends both produce this small tree so that field checks are written
// once; YAML values carry their position, JSON values do not (JSON errors name the rule index
// and the field instead).

type kind int

const (
	kNull kind = iota
	kString
	kInt
	kFloat
	kBool
	kList
	kMap
)

func (k kind) String() string {
	return [...]string{"null", "string", "integer", "number", "boolean", "list", "mapping"}[k]
}

type pos struct{ line, col int }

type val struct {
	kind kind
	// raw is the scalar as written. String fields take it even from numbers so that an
	// unquoted `mti: 0200` or `code: 05` keeps its leading zero (YAML would read 0200 as octal).
	raw  string
	i    int64
	f    float64
	list []*val
	keys []keyVal
	pos  pos
	// broken marks a mapping that lost an entry to an error already reported (bad alias,
	// merge key): checks for missing fields would only repeat that error.
	broken bool
}

type keyVal struct {
	key    string
	keyPos pos
	v      *val
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack; real rule files nest 3 deep.
const maxDepth = 64

// yamlTree converts a parsed YAML file. Multiple documents are concatenated as if they were
// one list.
func yamlTree(data []byte) (docs []*val, errs []PosError) {
	var f *ast.File
	var perr error
	func() {
		// The parser is third-party code fed untrusted bytes: a panic there must become an
		// error, not take the acquirer down.
		defer func() {
			if r := recover(); r != nil {
				perr = fmt.Errorf("YAML parser failed: %v", r)
			}
		}()
		f, perr = parser.ParseBytes(data, 0)
	}()
	if perr != nil {
		var ye yaml.Error
		if errors.As(perr, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			p := ye.GetToken().Position
			return nil, []PosError{{Line: p.Line, Column: p.Column, Rule: -1, Reason: ye.GetMessage(), Msg: ye.GetMessage()}}
		}
		return nil, []PosError{{Line: 1, Column: 1, Rule: -1, Reason: perr.Error(), Msg: perr.Error()}}
	}
	c := &yconv{anchors: map[string]*val{}}
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		v := c.conv(d.Body, 0)
		if v != nil {
			docs = append(docs, v)
		}
	}
	return docs, c.errs
}

// limitError is a bounded.Error as a PosError.
func limitError(err error) PosError {
	pe := PosError{Line: 1, Column: 1, Rule: -1, Reason: err.Error(), Msg: err.Error()}
	var le *bounded.Error
	if errors.As(err, &le) && le.Line > 0 {
		pe.Line, pe.Column, pe.Reason, pe.Msg = le.Line, le.Column, le.Msg, le.Msg
	}
	return pe
}

type yconv struct {
	anchors map[string]*val
	errs    []PosError
}

func posOf(n ast.Node) pos {
	if n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
		return pos{1, 1}
	}
	p := n.GetToken().Position
	return pos{p.Line, p.Column}
}

func (c *yconv) fail(p pos, msg string) {
	c.errs = append(c.errs, PosError{Line: p.line, Column: p.col, Rule: -1, Reason: msg, Msg: msg})
}

func rawText(n ast.Node) string {
	if t := n.GetToken(); t != nil {
		return t.Value
	}
	return n.String()
}

func (c *yconv) conv(n ast.Node, depth int) *val {
	if depth > maxDepth {
		c.fail(posOf(n), fmt.Sprintf("nested deeper than %d levels", maxDepth))
		return nil
	}
	p := posOf(n)
	switch n := n.(type) {
	case *ast.NullNode:
		return &val{kind: kNull, pos: p}
	case *ast.StringNode:
		return &val{kind: kString, raw: n.Value, pos: p}
	case *ast.LiteralNode:
		s := ""
		if n.Value != nil {
			s = n.Value.Value
		}
		return &val{kind: kString, raw: s, pos: p}
	case *ast.IntegerNode:
		v := &val{kind: kInt, raw: rawText(n), pos: p}
		switch x := n.Value.(type) {
		case int64:
			v.i = x
		case uint64:
			if x > math.MaxInt64 {
				v.kind = kFloat // too big for any field; the range check reports it
				v.f = float64(x)
			} else {
				v.i = int64(x)
			}
		}
		v.f = float64(v.i)
		return v
	case *ast.FloatNode:
		return &val{kind: kFloat, raw: rawText(n), f: n.Value, pos: p}
	case *ast.InfinityNode:
		return &val{kind: kFloat, raw: rawText(n), f: n.Value, pos: p}
	case *ast.NanNode:
		return &val{kind: kFloat, raw: rawText(n), f: math.NaN(), pos: p}
	case *ast.BoolNode:
		return &val{kind: kBool, raw: rawText(n), pos: p}
	case *ast.TagNode:
		if n.Value == nil {
			return &val{kind: kNull, pos: p}
		}
		v := c.conv(n.Value, depth+1)
		// An explicit !!str turns `!!str 25` into the string "25"; other tags change nothing here.
		if v != nil && n.Start != nil && n.Start.Value == "!!str" && v.kind != kList && v.kind != kMap {
			cp := *v
			cp.kind = kString
			return &cp
		}
		return v
	case *ast.AnchorNode:
		v := c.conv(n.Value, depth+1)
		if n.Name != nil && v != nil {
			c.anchors[rawText(n.Name)] = v
		}
		return v
	case *ast.AliasNode:
		name := ""
		if n.Value != nil {
			name = rawText(n.Value)
		}
		v, ok := c.anchors[name]
		if !ok {
			c.fail(p, fmt.Sprintf("alias *%s refers to no anchor defined before it", name))
			return nil
		}
		return v // shared read-only; no copy, so alias chains cannot blow up memory
	case *ast.SequenceNode:
		v := &val{kind: kList, pos: p}
		for _, e := range n.Values {
			if e == nil {
				v.list = append(v.list, &val{kind: kNull, pos: p})
				continue
			}
			if x := c.conv(e, depth+1); x != nil {
				v.list = append(v.list, x)
			}
		}
		return v
	case *ast.MappingNode:
		// A mapping is where its first key is, which is where a reader looks for the rule.
		if len(n.Values) > 0 && n.Values[0] != nil && n.Values[0].Key != nil {
			p = posOf(n.Values[0].Key)
		}
		v := &val{kind: kMap, pos: p}
		for _, mv := range n.Values {
			c.mapEntry(v, mv, depth)
		}
		return v
	case *ast.MappingValueNode:
		if n.Key != nil {
			p = posOf(n.Key)
		}
		v := &val{kind: kMap, pos: p}
		c.mapEntry(v, n, depth)
		return v
	default:
		c.fail(p, fmt.Sprintf("unsupported YAML construct (%s)", n.Type()))
		return nil
	}
}

func (c *yconv) mapEntry(m *val, mv *ast.MappingValueNode, depth int) {
	if mv == nil || mv.Key == nil {
		return
	}
	kp := posOf(mv.Key)
	if mv.Key.IsMergeKey() {
		c.fail(kp, "merge keys (<<) are not supported: write the fields out")
		m.broken = true
		return
	}
	var key string
	switch k := ast.Node(mv.Key).(type) {
	case *ast.MappingKeyNode:
		if k.Value == nil {
			c.fail(kp, "empty mapping key")
			return
		}
		key = rawText(k.Value)
	case *ast.StringNode:
		key = k.Value
	case ast.ScalarNode:
		key = rawText(k)
	default:
		c.fail(kp, "mapping keys must be plain names")
		return
	}
	for _, kv := range m.keys {
		if kv.key == key {
			c.fail(kp, fmt.Sprintf("duplicate key %q (first at line %d)", key, kv.keyPos.line))
			return
		}
	}
	var v *val
	if mv.Value == nil {
		v = &val{kind: kNull, pos: kp}
	} else if v = c.conv(mv.Value, depth+1); v == nil {
		m.broken = true
		return
	}
	m.keys = append(m.keys, keyVal{key: key, keyPos: kp, v: v})
}

// jsonTree reads one JSON value keeping object key order and rejecting duplicate keys.
func jsonTree(data []byte) (*val, error) {
	if err := bounded.CheckJSON(data, bounded.Document); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return nil, jsonSyntax(data, dec, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		// Point at the stray data itself, not past it.
		for end < int64(len(data)) && strings.ContainsRune(" \t\r\n", rune(data[end])) {
			end++
		}
		return nil, jsonSyntaxAt(data, end, errors.New("unexpected data after the top-level value"))
	}
	return v, nil
}

func jsonSyntax(data []byte, dec *json.Decoder, err error) error {
	return jsonSyntaxAt(data, dec.InputOffset(), err)
}

func jsonSyntaxAt(data []byte, off int64, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("unexpected end of input")
	}
	return fmt.Errorf("JSON line %d column %d: %s", line, col, strings.TrimPrefix(err.Error(), "json: "))
}

func jsonValue(dec *json.Decoder, depth int) (*val, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case nil:
		return &val{kind: kNull}, nil
	case bool:
		return &val{kind: kBool, raw: strconv.FormatBool(t)}, nil
	case string:
		return &val{kind: kString, raw: t}, nil
	case json.Number:
		v := &val{raw: t.String()}
		if i, err := t.Int64(); err == nil {
			v.kind, v.i, v.f = kInt, i, float64(i)
		} else {
			f, _ := t.Float64() // out of range gives ±Inf, which the range checks reject
			v.kind, v.f = kFloat, f
		}
		return v, nil
	case json.Delim:
		switch t {
		case '[':
			v := &val{kind: kList}
			for dec.More() {
				e, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.list = append(v.list, e)
			}
			_, err := dec.Token()
			return v, err
		case '{':
			v := &val{kind: kMap}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				for _, kv := range v.keys {
					if kv.key == key {
						return nil, fmt.Errorf("duplicate key %q", key)
					}
				}
				e, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, keyVal{key: key, v: e})
			}
			_, err := dec.Token()
			return v, err
		}
	}
	return nil, fmt.Errorf("unexpected token %v", t)
}
