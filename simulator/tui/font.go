package tui

import (
	"strings"

	"github.com/gdamore/tcell/v2"
)

// A small pixel font for the result banner ("APPROVED", "DECLINED", "NO ANSWER"): glyphs
// are 5 pixels high and drawn with half-block characters, two pixel rows per text row, so
// a word is 3 rows high and about 4 cells per letter. Only the Latin capitals, digits and a
// few signs are defined; other text (Chinese) is drawn as a plain banner instead.
var glyphs = map[rune][5]string{
	'A': {".#.", "#.#", "###", "#.#", "#.#"},
	'B': {"##.", "#.#", "##.", "#.#", "##."},
	'C': {".##", "#..", "#..", "#..", ".##"},
	'D': {"##.", "#.#", "#.#", "#.#", "##."},
	'E': {"###", "#..", "##.", "#..", "###"},
	'F': {"###", "#..", "##.", "#..", "#.."},
	'G': {".##", "#..", "#.#", "#.#", ".##"},
	'H': {"#.#", "#.#", "###", "#.#", "#.#"},
	'I': {"###", ".#.", ".#.", ".#.", "###"},
	'J': {"..#", "..#", "..#", "#.#", ".#."},
	'K': {"#.#", "#.#", "##.", "#.#", "#.#"},
	'L': {"#..", "#..", "#..", "#..", "###"},
	'M': {"#...#", "##.##", "#.#.#", "#...#", "#...#"},
	'N': {"#..#", "##.#", "#.##", "#..#", "#..#"},
	'O': {"###", "#.#", "#.#", "#.#", "###"},
	'P': {"##.", "#.#", "##.", "#..", "#.."},
	'Q': {".#.", "#.#", "#.#", "##.", ".##"},
	'R': {"##.", "#.#", "##.", "#.#", "#.#"},
	'S': {".##", "#..", ".#.", "..#", "##."},
	'T': {"###", ".#.", ".#.", ".#.", ".#."},
	'U': {"#.#", "#.#", "#.#", "#.#", "###"},
	'V': {"#.#", "#.#", "#.#", "#.#", ".#."},
	'W': {"#...#", "#...#", "#.#.#", "##.##", "#...#"},
	'X': {"#.#", "#.#", ".#.", "#.#", "#.#"},
	'Y': {"#.#", "#.#", ".#.", ".#.", ".#."},
	'Z': {"###", "..#", ".#.", "#..", "###"},
	'0': {"###", "#.#", "#.#", "#.#", "###"},
	'1': {".#.", "##.", ".#.", ".#.", "###"},
	'2': {"##.", "..#", ".#.", "#..", "###"},
	'3': {"##.", "..#", ".#.", "..#", "##."},
	'4': {"#.#", "#.#", "###", "..#", "..#"},
	'5': {"###", "#..", "##.", "..#", "##."},
	'6': {".##", "#..", "###", "#.#", "###"},
	'7': {"###", "..#", ".#.", ".#.", ".#."},
	'8': {"###", "#.#", "###", "#.#", "###"},
	'9': {"###", "#.#", "###", "..#", "##."},
	' ': {"..", "..", "..", "..", ".."},
	'-': {"...", "...", "###", "...", "..."},
	'.': {".", ".", ".", ".", "#"},
	'!': {"#", "#", "#", ".", "#"},
}

// bigRows renders text in the pixel font: 3 rows of half-block characters. ok is false when
// the text has a character the font lacks.
func bigRows(text string) (rows [3]string, ok bool) {
	var px [5]strings.Builder
	for i, r := range text {
		g, found := glyphs[r]
		if !found {
			return rows, false
		}
		for y := range 5 {
			if i > 0 {
				px[y].WriteByte('.')
			}
			px[y].WriteString(g[y])
		}
	}
	var p [6]string
	for y := range 5 {
		p[y] = px[y].String()
	}
	p[5] = strings.Repeat(".", len(p[0]))
	for row := range 3 {
		var b strings.Builder
		top, bot := p[2*row], p[2*row+1]
		for x := 0; x < len(top); x++ {
			t, u := top[x] == '#', bot[x] == '#'
			switch {
			case t && u:
				b.WriteString("█")
			case t:
				b.WriteString("▀")
			case u:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		rows[row] = b.String()
	}
	return rows, true
}

// drawBanner draws a 3-row result banner centred in r: the pixel font when the text fits
// and the font has every character, otherwise the text spaced out on a coloured band.
func drawBanner(s tcell.Screen, r rect, text string, st tcell.Style) {
	if r.h < 3 || r.w < 4 {
		putText(s, r.x, r.y, r.w, truncate(text, r.w), st.Reverse(true))
		return
	}
	if rows, ok := bigRows(strings.ToUpper(text)); ok && textWidth(rows[0]) <= r.w {
		x := r.x + (r.w-textWidth(rows[0]))/2
		for i, row := range rows {
			putText(s, x, r.y+i, r.w, row, st)
		}
		return
	}
	band := st.Reverse(true)
	for i := range 3 {
		fill(s, rect{r.x, r.y + i, r.w, 1}, band)
	}
	label := spaced(text, r.w-2)
	x := r.x + (r.w-textWidth(label))/2
	putText(s, x, r.y+1, r.w, label, band.Bold(true))
}

// spaced puts a space between wide characters when there is room, so a short Chinese word
// reads as a headline.
func spaced(text string, w int) string {
	var b strings.Builder
	rs := []rune(text)
	for i, r := range rs {
		b.WriteRune(r)
		if i < len(rs)-1 && textWidth(string(r)) == 2 {
			b.WriteRune(' ')
		}
	}
	if out := b.String(); textWidth(out) <= w {
		return out
	}
	return truncate(text, w)
}
