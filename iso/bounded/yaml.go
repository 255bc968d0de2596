package bounded

// CheckYAML refuses a YAML document (or stream of documents) over the limits, scanning it
// once in constant memory before any parser builds a tree. Like CheckJSON it checks only the
// limits; a syntax error is left to the parser.
//
// Depth is estimated the way YAML nests: block collections by indentation (a stack of the
// columns where nested content starts, one entry per line indent and per compact "- " or
// "? " indicator), flow collections by brackets on top of that. The estimate counts each real
// level once, plus at most one for a scalar item of a sequence.
func CheckYAML(data []byte, l Limits) error {
	l = l.norm()
	if err := sizeCheck(len(data), l); err != nil {
		return err
	}
	y := &yscan{scanner: scanner{data: data, lim: l, line: 1, col: 1}, blockParent: -1}
	for y.i < len(data) {
		if err := y.lineStart(); err != nil {
			return err
		}
		if err := y.rest(); err != nil {
			return err
		}
	}
	return nil
}

type yscan struct {
	scanner
	stack       []int // columns (0-based) where block content starts
	flow        int   // open [ and {
	quote       byte  // '"' or '\'' while inside a quoted scalar
	blockParent int   // >= 0 while inside a block scalar: its parent's column
}

func (y *yscan) atEOL() bool { return y.i >= len(y.data) || y.data[y.i] == '\n' }

func (y *yscan) skipLine() {
	for !y.atEOL() {
		y.advance()
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// lineStart handles what only matters at the start of a line: block scalar content,
// indentation, document markers and compact indicators. It leaves y.i on the first byte
// rest must scan (or at the end of the line).
func (y *yscan) lineStart() error {
	if y.quote != 0 || y.flow > 0 {
		return nil // a continuation line: indentation means nothing there
	}
	indent := 0
	for y.i < len(y.data) && y.data[y.i] == ' ' {
		indent++
		y.advance()
	}
	for y.i < len(y.data) && isSpace(y.data[y.i]) {
		y.advance()
	}
	if y.atEOL() {
		return nil // blank lines belong to whatever is open
	}
	if y.blockParent >= 0 {
		if indent > y.blockParent {
			y.skipLine()
			return nil
		}
		y.blockParent = -1
	}
	if y.data[y.i] == '#' {
		y.skipLine()
		return nil
	}
	if indent == 0 && (y.hasPrefix("---") || y.hasPrefix("...")) && (y.i+3 >= len(y.data) || isSpace(y.data[y.i+3]) || y.data[y.i+3] == '\n') {
		y.stack = y.stack[:0]
		for range 3 {
			y.advance()
		}
		return nil
	}
	for len(y.stack) > 0 && y.stack[len(y.stack)-1] > indent {
		y.stack = y.stack[:len(y.stack)-1]
	}
	if len(y.stack) == 0 || y.stack[len(y.stack)-1] < indent {
		if err := y.push(indent); err != nil {
			return err
		}
	}
	// Compact indicators: "- - x", "? a", each a collection level on this line.
	for y.i < len(y.data) && (y.data[y.i] == '-' || y.data[y.i] == '?') && (y.i+1 >= len(y.data) || isSpace(y.data[y.i+1]) || y.data[y.i+1] == '\n') {
		if err := y.node(); err != nil {
			return err
		}
		y.advance()
		for y.i < len(y.data) && isSpace(y.data[y.i]) {
			y.advance()
		}
		if y.atEOL() {
			break
		}
		if err := y.push(y.col - 1); err != nil {
			return err
		}
	}
	return nil
}

func (y *yscan) hasPrefix(p string) bool {
	return len(y.data)-y.i >= len(p) && string(y.data[y.i:y.i+len(p)]) == p
}

func (y *yscan) push(col int) error {
	y.stack = append(y.stack, col)
	return y.depth(len(y.stack) + y.flow)
}

// rest scans the remainder of a line: quoted and plain scalars, flow collections,
// aliases, comments, and the start of a block scalar.
func (y *yscan) rest() error {
	tok := false // inside a plain scalar already counted
	for y.i < len(y.data) {
		c := y.data[y.i]
		if c == '\n' {
			y.advance()
			return nil
		}
		if y.quote != 0 {
			y.inQuote()
			continue
		}
		prevSpace := y.i == 0 || isSpace(y.data[y.i-1]) || y.data[y.i-1] == '\n'
		switch {
		case isSpace(c):
			tok = false
		case c == '#' && prevSpace:
			y.skipLine()
			continue
		case c == ':' && y.indicatorEnd(y.i+1):
			tok = false
		case y.flow > 0 && c == ',':
			tok = false
		case c == '[' || c == '{':
			if tok && y.flow == 0 {
				break // part of a plain scalar such as a[0]
			}
			y.flow++
			if err := y.depth(len(y.stack) + y.flow); err != nil {
				return err
			}
			if err := y.node(); err != nil {
				return err
			}
			tok = false
		case (c == ']' || c == '}') && y.flow > 0:
			y.flow--
			tok = false
		case tok:
		case c == '"' || c == '\'':
			if err := y.node(); err != nil {
				return err
			}
			y.quote = c
		case c == '*':
			y.aliases++
			if y.aliases > y.lim.Aliases {
				if y.lim.Aliases == 0 {
					return y.fail("YAML aliases (*name) are not allowed here")
				}
				return y.fail("more than %d YAML aliases (*name)", y.lim.Aliases)
			}
			if err := y.node(); err != nil {
				return err
			}
			tok = true
		case (c == '|' || c == '>') && y.flow == 0 && y.blockHeader():
			y.blockParent = 0
			if len(y.stack) > 0 {
				y.blockParent = y.stack[len(y.stack)-1]
			}
			if err := y.node(); err != nil {
				return err
			}
			y.skipLine()
			continue
		case c == '&' || c == '!':
			tok = true // anchor or tag: it names the node that follows, counted then
			y.advance()
			for y.i < len(y.data) && !isSpace(y.data[y.i]) && y.data[y.i] != '\n' {
				y.advance()
			}
			tok = false
			continue
		default:
			if err := y.node(); err != nil {
				return err
			}
			tok = true
		}
		y.advance()
	}
	return nil
}

// indicatorEnd says whether the byte at j ends a ':' indicator: a space, the end of the
// line, or in a flow collection a flow indicator.
func (y *yscan) indicatorEnd(j int) bool {
	if j >= len(y.data) {
		return true
	}
	c := y.data[j]
	return isSpace(c) || c == '\n' || (y.flow > 0 && (c == ',' || c == ']' || c == '}'))
}

// blockHeader says whether the '|' or '>' at y.i starts a block scalar: only chomping and
// indentation indicators, then spaces or a comment, up to the end of the line.
func (y *yscan) blockHeader() bool {
	j := y.i + 1
	for j < len(y.data) && (y.data[j] == '+' || y.data[j] == '-' || (y.data[j] >= '0' && y.data[j] <= '9')) {
		j++
	}
	for j < len(y.data) && isSpace(y.data[j]) {
		j++
	}
	return j >= len(y.data) || y.data[j] == '\n' || (y.data[j] == '#' && isSpace(y.data[j-1]))
}

// inQuote consumes one step of a quoted scalar, leaving the quote at its closing mark.
func (y *yscan) inQuote() {
	c := y.data[y.i]
	switch {
	case y.quote == '"' && c == '\\' && y.i+1 < len(y.data):
		y.advance()
	case c == y.quote:
		if y.quote == '\'' && y.i+1 < len(y.data) && y.data[y.i+1] == '\'' {
			y.advance() // '' is an escaped quote
		} else {
			y.quote = 0
		}
	}
	y.advance()
}
