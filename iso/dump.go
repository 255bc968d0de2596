package iso

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DumpFormat names the layout a user-supplied message dump was written in.
type DumpFormat string

// Dump layouts understood by ParseDump.
const (
	// DumpHex: plain hex digits, upper or lower case, optionally separated by spaces,
	// newlines, ':', ',', ';' or '-', with an optional 0x prefix per byte or once.
	DumpHex DumpFormat = "hex"
	// DumpXXD: xxd output ("00000000: 0200 7238 …  ascii"), any -g grouping, "*" lines of
	// xxd -a.
	DumpXXD DumpFormat = "xxd"
	// DumpHexdumpC: hexdump -C / hd output ("00000000  02 00 …  |ascii|"), with "*"
	// repetition lines and the final offset-only line.
	DumpHexdumpC DumpFormat = "hexdump-C"
	// DumpBase64: standard or URL-safe base64, padded or not, possibly wrapped.
	DumpBase64 DumpFormat = "base64"
	// DumpBinary: the input is the message bytes themselves.
	DumpBinary DumpFormat = "binary"
)

// DumpError is a dump that looks like one of the text layouts but cannot be read. Line and
// Column are 1-based (Column counts characters, not bytes); both are 0 when the problem is
// not tied to a place.
type DumpError struct {
	Format DumpFormat
	Line   int
	Column int
	Msg    string
}

func (e *DumpError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	b.WriteString(e.Msg)
	if e.Format != "" && e.Format != DumpHex {
		fmt.Fprintf(&b, " (reading %s output)", e.Format)
	}
	return b.String()
}

// ParseDump turns a user-supplied dump into message bytes and says which layout it found.
//
// Detection, in order: input that is not UTF-8 text (or holds control characters other than
// tab, CR and LF) is raw binary and returned unchanged; a first line like "00000000: " is
// xxd; a first line like "00000000  xx " in a dump with a "|ascii|" column is hexdump -C;
// text that reads as hex is hex (so a string of only hex digits of even length is always
// hex, never base64); one token per line in the base64 alphabet that decodes is base64.
// Text that clearly tries to be hex but is not valid gives a *DumpError naming line, column
// and what was found; any other text is taken as raw binary.
func ParseDump(input []byte) ([]byte, DumpFormat, error) {
	if !dumpIsText(input) {
		return input, DumpBinary, nil
	}
	lines := dumpLines(input)
	first := -1
	for i, l := range lines {
		if strings.TrimSpace(l.text) != "" {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, "", &DumpError{Msg: "empty input: no dump found"}
	}
	fl := strings.TrimLeft(lines[first].text, " \t")
	switch {
	case looksLikeXXD(fl):
		b, err := parseOffsetDump(lines, DumpXXD)
		return b, DumpXXD, err
	case looksLikeHexdumpC(fl):
		b, err := parseOffsetDump(lines, DumpHexdumpC)
		return b, DumpHexdumpC, err
	case looksLikeWordDump(fl):
		return nil, "", &DumpError{Line: lines[first].num, Column: 1,
			Msg: "looks like hexdump or od output without -C (16-bit words, byte order unknown); use hexdump -C or xxd"}
	}
	b, hexErr := parseHexDump(lines)
	if hexErr == nil {
		return b, DumpHex, nil
	}
	if !hexLike(lines) {
		if b, ok := parseBase64Dump(lines); ok {
			return b, DumpBase64, nil
		}
	}
	if hexIntended(lines) {
		return nil, "", hexErr
	}
	return input, DumpBinary, nil
}

// ParseDumpAs reads input in the given layout, without detection (for a --format flag when
// detection guesses wrong, e.g. an all-digit ASCII message taken for hex).
func ParseDumpAs(input []byte, f DumpFormat) ([]byte, error) {
	switch f {
	case DumpBinary:
		return input, nil
	case DumpHex, DumpXXD, DumpHexdumpC, DumpBase64:
	default:
		return nil, fmt.Errorf("unknown dump format %q", string(f))
	}
	if !utf8.Valid(input) {
		return nil, &DumpError{Format: f, Msg: "input is not text"}
	}
	lines := dumpLines(input)
	switch f {
	case DumpHex:
		return parseHexDump(lines)
	case DumpBase64:
		b, ok := parseBase64Dump(lines)
		if !ok {
			return nil, &DumpError{Format: f, Msg: "not valid base64 (standard or URL alphabet, one token per line)"}
		}
		return b, nil
	default:
		return parseOffsetDump(lines, f)
	}
}

type dumpLine struct {
	num  int // 1-based
	text string
}

func dumpLines(input []byte) []dumpLine {
	s := string(bytes.TrimPrefix(input, []byte("\ufeff")))
	raw := strings.Split(s, "\n")
	out := make([]dumpLine, len(raw))
	for i, l := range raw {
		out[i] = dumpLine{num: i + 1, text: strings.TrimRight(l, "\r")}
	}
	return out
}

func dumpIsText(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// leadingHex counts the hex digits at the start of s.
func leadingHex(s string) int {
	n := 0
	for n < len(s) && isHexDigit(s[n]) {
		n++
	}
	return n
}

func looksLikeXXD(l string) bool {
	n := leadingHex(l)
	return n >= 8 && n <= 16 && strings.HasPrefix(l[n:], ": ")
}

func looksLikeHexdumpC(l string) bool {
	n := leadingHex(l)
	if n < 8 || n > 16 {
		return false
	}
	rest := l[n:]
	return strings.HasPrefix(rest, "  ") && len(rest) >= 4 && isHexDigit(rest[2]) && isHexDigit(rest[3]) &&
		strings.Contains(rest, "|")
}

func looksLikeWordDump(l string) bool {
	n := leadingHex(l)
	return n == 7 && len(l) > 8 && l[7] == ' ' && leadingHex(l[8:]) == 4
}

// column converts a byte index in s to a 1-based character column.
func column(s string, i int) int {
	if i > len(s) {
		i = len(s)
	}
	return utf8.RuneCountInString(s[:i]) + 1
}

// quoteTok quotes a token for an error message, shortening long ones.
func quoteTok(t string) string {
	if utf8.RuneCountInString(t) > 20 {
		r := []rune(t)
		return fmt.Sprintf("%q…", string(r[:20]))
	}
	return fmt.Sprintf("%q", t)
}

func isHexSep(c byte) bool {
	return c == ' ' || c == '\t' || c == ':' || c == ',' || c == ';' || c == '-'
}

type hexToken struct {
	line  dumpLine
	start int // byte index in line.text
	text  string
}

func hexTokens(lines []dumpLine) []hexToken {
	var toks []hexToken
	for _, l := range lines {
		s := l.text
		i := 0
		for i < len(s) {
			if isHexSep(s[i]) {
				i++
				continue
			}
			j := i
			for j < len(s) && !isHexSep(s[j]) {
				j++
			}
			toks = append(toks, hexToken{l, i, s[i:j]})
			i = j
		}
	}
	return toks
}

// decodeHexToken decodes one token (optional 0x prefix) or explains what is wrong with it.
func decodeHexToken(t hexToken, dst []byte) ([]byte, *DumpError) {
	s, off := t.text, 0
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s, off = s[2:], 2
	}
	bad := func(i int, msg string) *DumpError {
		return &DumpError{Format: DumpHex, Line: t.line.num, Column: column(t.line.text, t.start+i), Msg: msg}
	}
	if len(s) <= 2 {
		if len(s) != 2 || !isHexDigit(s[0]) || !isHexDigit(s[1]) {
			return nil, bad(0, quoteTok(t.text)+" is not a hex byte")
		}
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			_, size := utf8.DecodeRuneInString(s[i:])
			return nil, bad(off+i, fmt.Sprintf("%q is not a hex digit (in %s)", s[i:i+size], quoteTok(t.text)))
		}
	}
	if len(s)%2 != 0 {
		return nil, bad(0, fmt.Sprintf("%s has an odd number of hex digits (%d)", quoteTok(t.text), len(s)))
	}
	for i := 0; i < len(s); i += 2 {
		dst = append(dst, hexVal(s[i])<<4|hexVal(s[i+1]))
	}
	return dst, nil
}

func parseHexDump(lines []dumpLine) ([]byte, error) {
	toks := hexTokens(lines)
	if len(toks) == 0 {
		return nil, &DumpError{Format: DumpHex, Msg: "empty input: no hex digits found"}
	}
	out := make([]byte, 0, 64)
	for _, t := range toks {
		var err *DumpError
		if out, err = decodeHexToken(t, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// hexLike: the text starts with a 0x prefix, or at least 90% of the characters of the
// non-separator text are hex digits (after 0x prefixes) and none of the base64-only
// punctuation appears. Such text is reported as
// broken hex rather than decoded as base64.
func hexLike(lines []dumpLine) bool {
	total, hex := 0, 0
	for i, t := range hexTokens(lines) {
		s := t.text
		if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
			if i == 0 {
				return true // a 0x prefix says hex
			}
			s = s[2:]
		}
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '=' || c == '+' || c == '/' || c == '_':
				return false
			case isHexDigit(c):
				hex++
			}
			total++
		}
	}
	return total > 0 && hex*10 >= total*9
}

// hexIntended: the text reads as an attempt at hex — hexLike, or several tokens of which at
// least half are valid hex.
func hexIntended(lines []dumpLine) bool {
	if hexLike(lines) {
		return true
	}
	toks := hexTokens(lines)
	if len(toks) < 2 {
		return false
	}
	good := 0
	for _, t := range toks {
		// Not decodeHexToken: its error for a bad token counts the line's runes up to the
		// token, which made a long line of bad tokens quadratic (a 1 MiB line: 40 s).
		if validHexToken(t.text) {
			good++
		}
	}
	return good*2 >= len(toks)
}

// validHexToken says whether decodeHexToken would accept s, without building an error.
func validHexToken(s string) bool {
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	if len(s) < 2 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func parseBase64Dump(lines []dumpLine) ([]byte, bool) {
	var b strings.Builder
	for _, l := range lines {
		t := strings.TrimSpace(l.text)
		if strings.ContainsAny(t, " \t") {
			return nil, false
		}
		b.WriteString(t)
	}
	s := b.String()
	if s == "" {
		return nil, false
	}
	std, url := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '=':
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			url = true
		default:
			return nil, false
		}
	}
	if std && url {
		return nil, false
	}
	enc := base64.StdEncoding
	if url {
		enc = base64.URLEncoding
	}
	if !strings.Contains(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	out, err := enc.Strict().DecodeString(s)
	if err != nil || len(out) == 0 {
		return nil, false
	}
	return out, true
}

// parseOffsetDump reads xxd or hexdump -C output: an offset, hex, an ASCII column; "*"
// repeats the previous line up to the next offset; hexdump -C ends with an offset-only line
// holding the total length. Offsets are checked so that lost or doubled lines are reported.
func parseOffsetDump(lines []dumpLine, f DumpFormat) ([]byte, error) {
	var (
		out      []byte
		base     uint64
		started  bool
		prev     []byte // bytes of the previous data line, for "*"
		star     *dumpLine
		finalSet bool
	)
	errAt := func(l dumpLine, i int, format string, args ...any) error {
		return &DumpError{Format: f, Line: l.num, Column: column(l.text, i), Msg: fmt.Sprintf(format, args...)}
	}
	// fill handles a pending "*" and checks that off is where the next byte belongs.
	fill := func(l dumpLine, indent int, off uint64) error {
		want := base + uint64(len(out))
		if star != nil {
			if off < want || len(prev) == 0 || (off-want)%uint64(len(prev)) != 0 {
				return errAt(l, indent, "offset %08x does not continue the \"*\" repetition of line %d (%d-byte lines from %08x)",
					off, star.num, len(prev), want)
			}
			n := (off - want) / uint64(len(prev))
			if n > 1<<20 || uint64(len(out))+n*uint64(len(prev)) > 64<<20 {
				return errAt(l, indent, "\"*\" repetition up to offset %08x is too large", off)
			}
			for range n {
				out = append(out, prev...)
			}
			star = nil
			return nil
		}
		if off != want {
			return errAt(l, indent, "offset %08x, expected %08x (a line is missing or repeated?)", off, want)
		}
		return nil
	}
	for _, l := range lines {
		s := l.text
		indent := len(s) - len(strings.TrimLeft(s, " \t"))
		body := strings.TrimRight(s[indent:], " \t")
		if body == "" {
			continue
		}
		if finalSet {
			return nil, errAt(l, indent, "unexpected text after the final offset line: %s", quoteTok(body))
		}
		if body == "*" {
			if !started || star != nil {
				return nil, errAt(l, indent, "\"*\" must follow a data line")
			}
			star = &l
			continue
		}
		n := leadingHex(body)
		if n < 1 || n > 16 {
			return nil, errAt(l, indent, "expected an offset like 00000010, found %s", quoteTok(firstField(body)))
		}
		var off uint64
		for i := 0; i < n; i++ {
			off = off<<4 | uint64(hexVal(body[i]))
		}
		if !started {
			base, started = off, true
		}
		p := indent + n // byte index in s after the offset
		if n == len(body) {
			if f != DumpHexdumpC {
				return nil, errAt(l, indent, "offset %s without data", quoteTok(body))
			}
			if err := fill(l, indent, off); err != nil {
				return nil, err
			}
			finalSet = true
			continue
		}
		if err := fill(l, indent, off); err != nil {
			return nil, err
		}
		var hexStart, hexEnd int
		if f == DumpXXD {
			if s[p] != ':' {
				return nil, errAt(l, p, "expected ':' after the offset, found %s", quoteTok(s[p:p+1]))
			}
			hexStart = p + 1
			from := min(hexStart+1, len(s))
			if k := strings.Index(s[from:], "  "); k >= 0 {
				hexEnd = from + k
			} else {
				hexEnd = len(s)
			}
		} else {
			if s[p] != ' ' && s[p] != '\t' {
				return nil, errAt(l, p, "expected spaces after the offset, found %s", quoteTok(s[p:p+1]))
			}
			hexStart = p
			if k := strings.IndexByte(s[p:], '|'); k >= 0 {
				hexEnd = p + k
			} else {
				hexEnd = len(s)
			}
		}
		lineBytes := make([]byte, 0, 16)
		i := hexStart
		for i < hexEnd {
			if s[i] == ' ' || s[i] == '\t' {
				i++
				continue
			}
			j := i
			for j < hexEnd && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			tok := s[i:j]
			ok := len(tok)%2 == 0
			for k := 0; ok && k < len(tok); k++ {
				ok = isHexDigit(tok[k])
			}
			if f == DumpHexdumpC && len(tok) != 2 {
				ok = false
			}
			if !ok {
				what := "a hex byte"
				if f == DumpXXD && len(tok) > 2 {
					what = "a hex group"
				}
				return nil, errAt(l, i, "%s is not %s", quoteTok(tok), what)
			}
			for k := 0; k < len(tok); k += 2 {
				lineBytes = append(lineBytes, hexVal(tok[k])<<4|hexVal(tok[k+1]))
			}
			i = j
		}
		if len(lineBytes) == 0 {
			return nil, errAt(l, hexStart, "no hex bytes after the offset")
		}
		out = append(out, lineBytes...)
		prev = lineBytes
	}
	if star != nil {
		return nil, errAt(*star, 0, "\"*\" is not followed by an offset line, so the number of repeated lines is unknown (was the dump cut off?)")
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func firstField(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}
