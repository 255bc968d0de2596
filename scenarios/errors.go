package scenarios

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Pos is a position in a scenario file. Line and Col are 1-based; Col counts characters.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem found in a scenario file.
type Error struct {
	Pos Pos
	Msg string // one sentence, no trailing period
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found in one or more files, sorted by file and position. Its
// Error method writes one "file:line:column: sentence" per line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns l as an error, or nil when l is empty (so that a nil ErrorList never becomes
// a non-nil error interface).
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Files lists the files l is about, in order of first appearance.
func (l ErrorList) Files() []string {
	var files []string
	seen := map[string]bool{}
	for _, e := range l {
		if !seen[e.Pos.File] {
			seen[e.Pos.File] = true
			files = append(files, e.Pos.File)
		}
	}
	return files
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// ErrInvalid marks errors about scenario files (as opposed to failures while running):
// `posdrill run` exits 2 for them. Test with errors.Is.
var ErrInvalid = errors.New("invalid scenario")

// Is lets errors.Is(list, ErrInvalid) hold for any non-empty list.
func (l ErrorList) Is(target error) bool { return target == ErrInvalid && len(l) > 0 }

// positioned matches "file:line:column: message" as written by other parsers (the fault
// rules' and the card fixtures'), so their errors join ours with their positions intact.
var positioned = regexp.MustCompile(`^(.*?):(\d+):(\d+): (.*)$`)

// bracketed matches goccy/go-yaml's "[line:column] message".
var bracketed = regexp.MustCompile(`^\[(\d+):(\d+)\] (.*)$`)

// splitErrors turns another parser's error text into our errors: one per line that carries
// a position, lines without one attached to at (the node being parsed). Source excerpts that
// some parsers append (indented or starting with '>' or a line number and '|') are dropped.
func splitErrors(err error, file string, at Pos) ErrorList {
	var out ErrorList
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" || isSourceExcerpt(line) {
			continue
		}
		if m := positioned.FindStringSubmatch(line); m != nil {
			l, _ := strconv.Atoi(m[2])
			c, _ := strconv.Atoi(m[3])
			out = append(out, &Error{Pos{file, l, c}, m[4]})
			continue
		}
		if m := bracketed.FindStringSubmatch(strings.TrimPrefix(line, file+": ")); m != nil {
			l, _ := strconv.Atoi(m[1])
			c, _ := strconv.Atoi(m[2])
			out = append(out, &Error{Pos{file, l, c}, m[3]})
			continue
		}
		out = append(out, &Error{at, strings.TrimPrefix(line, file+": ")})
	}
	if len(out) == 0 {
		out = append(out, &Error{at, err.Error()})
	}
	return out
}

var excerpt = regexp.MustCompile(`^\s*(>\s*)?\d+\s*\|`)

func isSourceExcerpt(line string) bool {
	return excerpt.MatchString(line) || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")
}
