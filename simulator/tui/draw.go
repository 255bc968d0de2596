package tui

import (
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/uniseg"
)

// rect is a region of the screen.
type rect struct{ x, y, w, h int }

func (r rect) empty() bool { return r.w <= 0 || r.h <= 0 }

// inset shrinks r by n cells on every side.
func (r rect) inset(n int) rect {
	return rect{r.x + n, r.y + n, max(0, r.w-2*n), max(0, r.h-2*n)}
}

// textWidth is the number of cells s occupies: East Asian wide characters take two.
func textWidth(s string) int { return uniseg.StringWidth(s) }

// putText draws s at (x, y), never past x+maxW, one grapheme at a time so that wide
// characters are never cut in half. It returns the number of cells used.
func putText(s tcell.Screen, x, y, maxW int, text string, st tcell.Style) int {
	used := 0
	state := -1
	rest := text
	for rest != "" {
		var g string
		var w int
		g, rest, w, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if w == 0 {
			continue
		}
		if used+w > maxW {
			break
		}
		s.Put(x+used, y, g, st)
		used += w
	}
	return used
}

// fill paints r with blanks in style st.
func fill(s tcell.Screen, r rect, st tcell.Style) {
	for y := r.y; y < r.y+r.h; y++ {
		for x := r.x; x < r.x+r.w; x++ {
			s.Put(x, y, " ", st)
		}
	}
}

// truncate shortens text to at most w cells, ending with "…" when it was cut.
func truncate(text string, w int) string {
	if w <= 0 {
		return ""
	}
	if textWidth(text) <= w {
		return text
	}
	var b strings.Builder
	used := 0
	state := -1
	rest := text
	for rest != "" {
		var g string
		var gw int
		g, rest, gw, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if used+gw > w-1 {
			break
		}
		b.WriteString(g)
		used += gw
	}
	b.WriteString("…")
	return b.String()
}

// padRight pads text with spaces to w cells (or truncates it).
func padRight(text string, w int) string {
	text = truncate(text, w)
	return text + strings.Repeat(" ", max(0, w-textWidth(text)))
}

// wrap breaks text into lines of at most w cells. Latin text breaks at spaces; CJK text,
// which has no spaces, may break between any two wide characters. Explicit newlines are kept.
func wrap(text string, w int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	for _, para := range strings.Split(text, "\n") {
		out = append(out, wrapLine(para, w)...)
	}
	return out
}

func wrapLine(text string, w int) []string {
	var lines []string
	var cur strings.Builder
	curW := 0
	flush := func() {
		lines = append(lines, strings.TrimRight(cur.String(), " "))
		cur.Reset()
		curW = 0
	}
	for _, word := range splitWords(text) {
		ww := textWidth(word)
		if word == " " {
			if curW > 0 && curW < w {
				cur.WriteString(" ")
				curW++
			}
			continue
		}
		if curW+ww > w && curW > 0 {
			flush()
		}
		for ww > w { // a single word longer than the line: hard-cut it
			head := truncateExact(word, w)
			lines = append(lines, head)
			word = word[len(head):]
			ww = textWidth(word)
		}
		cur.WriteString(word)
		curW += ww
	}
	if curW > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

// closing is the punctuation that must not begin a line (”’ are narrow, the rest wide).
const closing = "，。、；：！？）」』】”’》"

// splitWords splits text into words, single spaces and single wide characters (each wide
// character is its own word so CJK lines can break anywhere). Closing punctuation stays
// attached to the word before it.
func splitWords(text string) []string {
	var words []string
	var cur strings.Builder
	state := -1
	rest := text
	for rest != "" {
		var g string
		var w int
		g, rest, w, state = uniseg.FirstGraphemeClusterInString(rest, state)
		switch {
		case g == " ":
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
			words = append(words, " ")
		case strings.Contains("（「『【“‘《", g):
			// (“ and ‘ are narrow in uniseg's widths, but they open a quotation all the same)
			// opening punctuation: keep it with the character after it
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
			cur.WriteString(g)
		case w == 2 && !strings.Contains(closing, g):
			if cur.Len() > 0 && !endsWithOpening(cur.String()) {
				words = append(words, cur.String())
				cur.Reset()
			}
			cur.WriteString(g)
			words = append(words, cur.String())
			cur.Reset()
		case strings.Contains(closing, g): // closing punctuation: glue to the previous word
			if cur.Len() == 0 && len(words) > 0 && words[len(words)-1] != " " {
				words[len(words)-1] += g
			} else {
				cur.WriteString(g)
			}
		default:
			cur.WriteString(g)
		}
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

func endsWithOpening(s string) bool {
	for _, p := range []string{"（", "「", "『", "【", "“", "‘", "《"} {
		if strings.HasSuffix(s, p) {
			return true
		}
	}
	return false
}

// truncateExact returns the longest prefix of text that fits in w cells (at least one
// grapheme, so callers always make progress).
func truncateExact(text string, w int) string {
	used := 0
	n := 0
	state := -1
	rest := text
	for rest != "" {
		g, r, gw, st := uniseg.FirstGraphemeClusterInString(rest, state)
		if used+gw > w && n > 0 {
			break
		}
		used += gw
		n += len(g)
		rest, state = r, st
	}
	return text[:n]
}

// box draws a frame around r with a title in its top border and returns the inside.
func box(s tcell.Screen, r rect, title string, st, titleSt tcell.Style) rect {
	if r.w < 2 || r.h < 2 {
		return rect{}
	}
	x2, y2 := r.x+r.w-1, r.y+r.h-1
	for x := r.x + 1; x < x2; x++ {
		s.Put(x, r.y, "─", st)
		s.Put(x, y2, "─", st)
	}
	for y := r.y + 1; y < y2; y++ {
		s.Put(r.x, y, "│", st)
		s.Put(x2, y, "│", st)
	}
	s.Put(r.x, r.y, "┌", st)
	s.Put(x2, r.y, "┐", st)
	s.Put(r.x, y2, "└", st)
	s.Put(x2, y2, "┘", st)
	if title != "" && r.w > 4 {
		putText(s, r.x+1, r.y, r.w-2, " "+truncate(title, r.w-4)+" ", titleSt)
	}
	return r.inset(1)
}

// writer draws lines top-down inside a rect, wrapping and clipping.
type writer struct {
	s tcell.Screen
	r rect
	y int
}

func newWriter(s tcell.Screen, r rect) *writer { return &writer{s: s, r: r, y: r.y} }

func (w *writer) full() bool { return w.y >= w.r.y+w.r.h }

func (w *writer) left() int { return w.r.y + w.r.h - w.y }

// line draws one line, truncated to the width.
func (w *writer) line(text string, st tcell.Style) {
	if w.full() {
		return
	}
	putText(w.s, w.r.x, w.y, w.r.w, truncate(text, w.r.w), st)
	w.y++
}

// para draws text wrapped to the width, with an optional hanging indent for continuation
// lines.
func (w *writer) para(text string, st tcell.Style, indent int) {
	first := true
	for _, l := range wrap(text, w.r.w-indent) {
		if w.full() {
			return
		}
		if first {
			first = false
			// the first line may use the whole width
		} else {
			l = strings.Repeat(" ", indent) + l
		}
		putText(w.s, w.r.x, w.y, w.r.w, l, st)
		w.y++
	}
}

func (w *writer) blank() {
	if !w.full() {
		w.y++
	}
}
