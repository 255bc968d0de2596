package suggest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnknown is wrapped by every UnknownError, for errors.Is.
var ErrUnknown = errors.New("unknown name")

// Closest returns the known name nearest to word, or "" when none is near enough to be a typo.
// Near means: equal ignoring case, a prefix of at least three letters of exactly one known name,
// or within two edits (one edit for words of up to four letters, where two edits reach almost
// anything).
func Closest(word string, known []string) string {
	if word == "" {
		return ""
	}
	lw := strings.ToLower(word)
	for _, k := range known {
		if strings.ToLower(k) == lw {
			return k
		}
	}
	limit := 2
	if len([]rune(word)) <= 4 {
		limit = 1
	}
	best, bestD := "", limit+1
	for _, k := range known {
		if d := distance(lw, strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return best
	}
	if len(word) >= 3 {
		var hits []string
		for _, k := range known {
			if strings.HasPrefix(strings.ToLower(k), lw) {
				hits = append(hits, k)
			}
		}
		if len(hits) == 1 {
			return hits[0]
		}
	}
	return ""
}

// Hint returns ` (did you mean "x"?)` for the closest known name, or "".
func Hint(word string, known []string) string {
	if c := Closest(word, known); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// UnknownError is a name that is not among the known ones of its kind.
type UnknownError struct {
	Kind  string   // "card", "scenario", "dialect", "framing", "entry mode", "command", "flag"
	Name  string   // as the user wrote it (masked by the caller if it may be a PAN)
	Known []string // the names that would have been accepted
}

// Unknown returns an *UnknownError for name among known.
func Unknown(kind, name string, known []string) error {
	return &UnknownError{Kind: kind, Name: name, Known: known}
}

// maxListed is how many known names an error lists when it has no suggestion; beyond that the
// list would drown the message, and the command's help or completion shows them.
const maxListed = 12

// Error reads `unknown card "visa-okk" (did you mean "visa-ok"?)`, or, with nothing near,
// `unknown card "x" (known: a, b, c)`.
func (e *UnknownError) Error() string {
	msg := fmt.Sprintf("unknown %s %q", e.Kind, e.Name)
	if h := Hint(e.Name, e.Known); h != "" {
		return msg + h
	}
	if len(e.Known) == 0 {
		return msg
	}
	names := append([]string(nil), e.Known...)
	sort.Strings(names)
	if len(names) > maxListed {
		return fmt.Sprintf("%s (known: %s, … %d more)", msg, strings.Join(names[:maxListed], ", "), len(names)-maxListed)
	}
	return fmt.Sprintf("%s (known: %s)", msg, strings.Join(names, ", "))
}

// Unwrap makes errors.Is(err, ErrUnknown) true.
func (e *UnknownError) Unwrap() error { return ErrUnknown }

// distance is the edit distance between a and b, by rune, where swapping two neighbouring
// letters counts as one edit ("sael" is one typo from "sale"; optimal string alignment).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	pp := make([]int, len(rb)+1) // row i-2
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
		pp, prev, cur = prev, cur, pp
	}
	return prev[len(rb)]
}
