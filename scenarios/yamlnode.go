package scenarios

import (
	"fmt"
	namehint "github.com/posdrill/posdrill/iso/suggest"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Helpers over goccy/go-yaml's AST. The parser walks the tree itself (rather than decoding
// into structs) so that it can report every problem of a file, each at its own position,
// instead of stopping at the first.

// unwrap strips anchors and tags, which carry no meaning in scenario files.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

// pair is one key: value of a mapping.
type pair struct {
	key   string
	keyN  ast.Node
	value ast.Node // never nil: a missing value is a NullNode
}

// nodePos is where a node starts. A block mapping's own token is the ':' of its first key,
// so mappings and key-value pairs report the first key's position instead.
func nodePos(file string, n ast.Node) Pos {
	switch v := n.(type) {
	case nil:
		return Pos{File: file}
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 {
			return nodePos(file, v.Values[0])
		}
		if v.Start != nil {
			return tokenPos(file, v.Start)
		}
	case *ast.MappingValueNode:
		return nodePos(file, v.Key)
	case *ast.SequenceNode:
		if v.Start != nil {
			return tokenPos(file, v.Start)
		}
	case *ast.AnchorNode:
		return tokenPos(file, v.Start)
	}
	tk := n.GetToken()
	if tk == nil {
		return Pos{File: file}
	}
	return tokenPos(file, tk)
}

func tokenPos(file string, tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: tk.Position.Line, Col: tk.Position.Column}
}

// kindOf names a node's type the way error sentences need it.
func kindOf(n ast.Node) string {
	switch unwrap(n).(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.StringNode, *ast.LiteralNode:
		return "text"
	case *ast.IntegerNode:
		return "a whole number"
	case *ast.FloatNode:
		return "a decimal number"
	case *ast.BoolNode:
		return "true/false"
	case *ast.SequenceNode:
		return "a list"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.AliasNode:
		return "an alias"
	default:
		return "an unsupported value"
	}
}

func isNull(n ast.Node) bool {
	switch unwrap(n).(type) {
	case nil, *ast.NullNode:
		return true
	}
	return false
}

// scalarText is the text of any scalar except null, as written (numbers keep their digits:
// "000001" stays "000001" only when quoted, which is why STANs should be quoted).
func scalarText(n ast.Node) (string, bool) {
	switch v := unwrap(n).(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

// subtreeTokens returns every token of n's subtree, closing brackets of flow collections
// included.
func subtreeTokens(n ast.Node) []*token.Token {
	var out []*token.Token
	ast.Walk(visitFunc(func(m ast.Node) {
		if tk := m.GetToken(); tk != nil && tk.Position != nil {
			out = append(out, tk)
		}
		switch v := m.(type) {
		case *ast.SequenceNode:
			if v.End != nil && v.End.Position != nil {
				out = append(out, v.End)
			}
		case *ast.MappingNode:
			if v.End != nil && v.End.Position != nil {
				out = append(out, v.End)
			}
		case *ast.MappingValueNode:
			if v.Start != nil && v.Start.Position != nil {
				out = append(out, v.Start)
			}
		}
	}), n)
	return out
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	f(n)
	return f
}

// source is a file's text indexed by line and column (in characters, as the YAML scanner
// counts them).
type source struct {
	runes      []rune
	lineStarts []int // rune offset of each line's first character
}

func newSource(data []byte) *source {
	s := &source{runes: []rune(string(data)), lineStarts: []int{0}}
	for i, r := range s.runes {
		if r == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	return s
}

// line returns the text of a 1-based line ("" out of range).
func (s *source) line(n int) string {
	if n < 1 || n > len(s.lineStarts) {
		return ""
	}
	end := len(s.runes)
	if n < len(s.lineStarts) {
		end = s.lineStarts[n] - 1
	}
	return string(s.runes[s.lineStarts[n-1]:end])
}

func (s *source) offset(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(s.lineStarts) {
		return len(s.runes)
	}
	return min(s.lineStarts[line-1]+col-1, len(s.runes))
}

// isolate returns a copy of the source in which everything outside node n is blanked out
// (newlines kept, every other character replaced by a space). Parsed on its own, the result
// is n as a YAML document whose lines and columns are those of the original file: this is
// how a sub-node is handed to another package's parser (fault rules, card fixtures) without
// losing error positions.
//
// n spans from its first token to just before the token that follows its last one (which
// covers closing quotes and block scalars, whose tokens do not say where they end).
func (s *source) isolate(n ast.Node) ([]byte, error) {
	tks := subtreeTokens(n)
	if len(tks) == 0 {
		return nil, fmt.Errorf("empty node")
	}
	first, last := tks[0], tks[0]
	for _, tk := range tks[1:] {
		if before(tk, first) {
			first = tk
		}
		if before(last, tk) {
			last = tk
		}
	}
	start := s.offset(first.Position.Line, first.Position.Column)
	end := len(s.runes)
	for nx := last.Next; nx != nil; nx = nx.Next {
		if nx.Position != nil && before(last, nx) {
			end = s.offset(nx.Position.Line, nx.Position.Column)
			break
		}
	}
	out := make([]rune, len(s.runes))
	for i, r := range s.runes {
		if (i >= start && i < end) || r == '\n' {
			out[i] = r
		} else {
			out[i] = ' '
		}
	}
	return []byte(strings.TrimRight(string(out), " \n") + "\n"), nil
}

func before(a, b *token.Token) bool {
	if a.Position.Line != b.Position.Line {
		return a.Position.Line < b.Position.Line
	}
	return a.Position.Column < b.Position.Column
}

// suggest returns ` (did you mean "x"?)` for the closest known word, or "" (iso/suggest).
func suggest(word string, known []string) string { return namehint.Hint(word, known) }

// list writes words as `a, b or c`.
func list(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
