package bounded

import (
	"errors"
	"fmt"
)

// Limits bound a YAML or JSON document.
type Limits struct {
	// Size is the most bytes (default MaxDocument).
	Size int
	// Depth is the deepest nesting of collections (default 64).
	Depth int
	// Nodes is the most scalars and collections (default 20,000).
	Nodes int
	// Aliases is the most YAML aliases (*name) allowed; a negative value allows none. The
	// zero value allows DefaultAliases. Decoders that expand aliases into copies (goccy's
	// Unmarshal) turn a few aliases into an exponential document, so readers that decode
	// into structs should allow none.
	Aliases int
}

// Defaults of Limits.
const (
	DefaultDepth   = 64
	DefaultNodes   = 20_000
	DefaultAliases = 100
)

// Document is the default Limits: no real configuration file of posdrill comes near it
// (the largest scenario in the library is 2 KiB and 200 nodes).
var Document = Limits{}

// Strict is Document with no YAML aliases, for documents decoded into structs.
var Strict = Limits{Aliases: -1}

func (l Limits) norm() Limits {
	if l.Size <= 0 {
		l.Size = MaxDocument
	}
	if l.Depth <= 0 {
		l.Depth = DefaultDepth
	}
	if l.Nodes <= 0 {
		l.Nodes = DefaultNodes
	}
	if l.Aliases == 0 {
		l.Aliases = DefaultAliases
	} else if l.Aliases < 0 {
		l.Aliases = 0
	}
	return l
}

// ErrLimit is wrapped by every *Error.
var ErrLimit = errors.New("document exceeds a limit")

// Error says which limit a document broke and where (1-based line and column of the byte
// where the scan stopped; 0 for the size limit).
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d column %d: %s", e.Line, e.Column, e.Msg)
}

func (e *Error) Unwrap() error { return ErrLimit }

// scanner tracks the position and the counts common to both formats.
type scanner struct {
	data      []byte
	lim       Limits
	i         int
	line, col int // of data[i]; col counts bytes
	nodes     int
	aliases   int
}

func (s *scanner) fail(format string, a ...any) error {
	return &Error{Line: s.line, Column: s.col, Msg: fmt.Sprintf(format, a...)}
}

func (s *scanner) node() error {
	s.nodes++
	if s.nodes > s.lim.Nodes {
		return s.fail("more than %d nodes (values, keys and collections)", s.lim.Nodes)
	}
	return nil
}

func (s *scanner) depth(d int) error {
	if d > s.lim.Depth {
		return s.fail("nested deeper than %d levels", s.lim.Depth)
	}
	return nil
}

// advance moves past data[s.i], keeping line and column.
func (s *scanner) advance() {
	if s.data[s.i] == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	s.i++
}

func sizeCheck(n int, l Limits) error {
	if n > l.Size {
		return &Error{Msg: fmt.Sprintf("%s: %s, more than the %s allowed", ErrTooLarge, Size(int64(n)), Size(int64(l.Size)))}
	}
	return nil
}
