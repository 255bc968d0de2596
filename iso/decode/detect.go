package decode

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/moov-io/iso8583/field"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/suggest"
)

// Framing names besides iso's: "none" (the payload alone) and "tpdu" (a TPDU without a
// length header).
const (
	FramingNone = "none"
	FramingTPDU = "tpdu"
)

// FramingNames lists every framing Detect tries, in the order ties are broken.
func FramingNames() []string {
	return append([]string{FramingNone}, append(iso.Framings(), FramingTPDU)...)
}

// checkFraming validates a framing name: one of FramingNames, or an iso framing with an
// application header ("len2+tpdu+hdr6").
func checkFraming(name string) error {
	for _, n := range FramingNames() {
		if n == name {
			return nil
		}
	}
	if _, err := iso.ParseFraming(name); err == nil {
		return nil
	}
	return fmt.Errorf("%w; optionally +hdrN", suggest.Unknown("framing", name, FramingNames()))
}

// Options narrow what Detect tries. Empty means everything built in.
type Options struct {
	Dialects []*iso.Dialect
	Framings []string // names from FramingNames, or iso framing names with +hdrN
	// HeaderLen, when > 0, is the size of an application header after the length header
	// and TPDU (a network's own message header): every length-header framing is tried
	// with it, with and without a TPDU (or only the framings given, each with the header).
	HeaderLen int
}

// Result is a decoded input and how it was read.
type Result struct {
	Format      iso.DumpFormat // layout of the dump the bytes came from ("" when given bytes)
	Input       int            // bytes in the input
	Framing     string         // a name from FramingNames
	HeaderLen   int            // bytes of length header (0 without one)
	HeaderValue int            // what the header says (-1 without one)
	HeaderExact bool           // the header counts exactly the rest of the input
	TPDU        []byte         // nil without one
	AppHeader   []byte         // the application header after the TPDU (CUP: 6 bytes); nil without one
	Start       int            // offset of the payload in the input
	Payload     []byte         // the ISO 8583 message (header and TPDU stripped)
	Dialect     *iso.Dialect
	Decoded     *iso.Decoded
	// Extra is bytes in the input after the frame the header announces (0 when the header
	// covers everything, or there is no header). Decoded.Trailing counts bytes inside the
	// frame after the last field.
	Extra int
	// Also lists other framing/dialect pairs that decode the input just as well.
	Also []string
	// Chosen says in a sentence why this framing and dialect won; Tried counts the readings.
	Chosen string
	Tried  int
}

// Error says why no framing and dialect decoded the input, for the candidate that got
// furthest.
type Error struct {
	Framing     string
	Dialect     string
	HeaderLen   int
	HeaderValue int // -1 without header
	Start       int // payload offset in the input
	Input       int // bytes in the input
	Offset      int // byte offset in the whole input (header and TPDU counted) where it failed
	Field       *iso.DecodeError
	Tried       int // candidates tried

	// What the best candidate decoded before failing, for View.
	dialect *iso.Dialect
	partial *iso.Decoded
	payload []byte
}

func (e *Error) Error() string {
	what := fmt.Sprintf("field %d (%s)", e.Field.FieldID, e.Field.FieldName)
	switch e.Field.FieldID {
	case -1:
		what = "MTI"
	case 0:
		what = "end of message"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "does not decode: byte %d, %s: %s", e.Offset, what, e.Field.Reason)
	fmt.Fprintf(&b, "\n  best candidate: framing %s, dialect %s", e.Framing, e.Dialect)
	if e.HeaderValue >= 0 {
		fmt.Fprintf(&b, "; %d-byte header says %d bytes, %d follow it", e.HeaderLen, e.HeaderValue, e.Input-e.HeaderLen)
	}
	if e.Start > 0 {
		fmt.Fprintf(&b, "; message starts at byte %d (byte %d of the message)", e.Start, e.Offset-e.Start)
	}
	fmt.Fprintf(&b, "\n  %d framing/dialect combinations tried", e.Tried)
	return b.String()
}

// Input reads a dump (hex, xxd, hexdump -C, base64 or binary: see iso.ParseDump) and detects
// its framing and dialect.
func Input(input []byte, o Options) (*Result, error) {
	b, f, err := iso.ParseDump(input)
	if err == nil {
		var r *Result
		if r, err = Bytes(b, o); err == nil {
			r.Format = f
			return r, nil
		}
	}
	// A message made only of ASCII text (an ASCII dialect with an ASCII length header)
	// reads as a broken or wrong hex dump: it may be the message itself.
	if f != iso.DumpBinary {
		if r, berr := Bytes(input, o); berr == nil && r.Extra == 0 && r.Decoded.Trailing == 0 {
			r.Format = iso.DumpBinary
			return r, nil
		}
	}
	return nil, err
}

type candidate struct {
	framing   string
	order     int
	hdrLen    int
	hdrVal    int
	exact     bool
	tpdu      []byte
	appHdr    []byte
	start     int
	payload   []byte
	extra     int
	dialect   *iso.Dialect
	dec       *iso.Decoded
	err       *iso.DecodeError
	tpduScore int   // 2: a TPDU starting 0x60, 1: no TPDU, 0: a TPDU that does not look like one
	odd       int   // fields whose content does not fit their format
	mtiOK     bool  // the MTI is plausible
	forcedBad error // a forced framing whose header is not valid
}

// fit ranks a decoded candidate: lower is better.
func (c *candidate) fit() int {
	switch {
	case c.err != nil:
		return 3
	case c.dec.Trailing == 0 && c.extra == 0 && c.exact:
		return 0
	case c.dec.Trailing == 0 && c.extra == 0 && c.hdrVal < 0:
		return 1
	}
	return 2
}

// tier ranks how believable a candidate's length header is: one that counts exactly the
// input, then none or one that fits a frame (a truncated capture), then nonsense.
func (c *candidate) tier() int {
	switch {
	case c.exact:
		return 0
	case c.hdrVal > 0 && c.hdrVal <= iso.DefaultMaxFrame:
		return 1
	case c.hdrVal < 0:
		return 2
	}
	return 3
}

// reach is how far a failed candidate explained the input: to its end when it ran out of
// bytes (a truncated capture), else to the start of the field that failed.
func (c *candidate) reach() int {
	if c.err.FieldID == -1 || !c.mtiOK {
		// Not even a believable MTI: nothing explained, however far the fields went (ASCII
		// digits read as BCD go a long way).
		return 0
	}
	if ranOut(c.err.Reason) {
		return c.start + len(c.payload)
	}
	return c.errOffset()
}

var ranOutRe = regexp.MustCompile(`not enough data|message ended|end of message|exceeds the data size`)

func ranOut(reason string) bool { return ranOutRe.MatchString(reason) }

func (c *candidate) errOffset() int {
	if c.err == nil {
		return -1
	}
	return c.start + c.err.Offset
}

func (c *candidate) better(o *candidate) bool {
	if c.fit() != o.fit() {
		return c.fit() < o.fit()
	}
	if c.err != nil && (c.tier() == 0) != (o.tier() == 0) {
		return c.tier() == 0
	}
	if c.odd != o.odd {
		return c.odd < o.odd
	}
	if c.err != nil {
		if c.reach() != o.reach() {
			return c.reach() > o.reach()
		}
		if c.tier() != o.tier() {
			return c.tier() < o.tier()
		}
	}
	if c.tpduScore != o.tpduScore {
		return c.tpduScore > o.tpduScore
	}
	if c.cupPair() != o.cupPair() {
		return c.cupPair()
	}
	return c.order < o.order
}

// cupPair: the UnionPay header goes with the UnionPay dialect; between readings that explain
// the input equally well, that pair is the likelier one.
func (c *candidate) cupPair() bool { return c.framing == "cup" && c.dialect == iso.CUP }

// Bytes detects the framing and dialect of a message. A candidate that decodes with its
// length header counting exactly the rest of the input and no bytes left after the last
// field wins; then one without header that decodes to the last byte; then one with bytes
// left over. When none decodes, the *Error describes the one that got furthest (a header
// that matches the input length is preferred: it is strong evidence of the framing).
func Bytes(b []byte, o Options) (*Result, error) {
	dialects := o.Dialects
	if len(dialects) == 0 {
		dialects = iso.Dialects()
	}
	framings := o.Framings
	forced := len(framings) > 0
	if !forced {
		framings = FramingNames()
	}
	if o.HeaderLen < 0 || o.HeaderLen > iso.MaxAppHeader {
		return nil, fmt.Errorf("header length %d: use 1 to %d", o.HeaderLen, iso.MaxAppHeader)
	}
	if o.HeaderLen > 0 {
		framings = withHeader(framings, o.HeaderLen, forced)
		forced = len(framings) > 0 && forced
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("empty input: no message bytes")
	}
	var cands []*candidate
	order := 0
	for _, fn := range framings {
		if err := checkFraming(fn); err != nil {
			return nil, err
		}
		for _, d := range dialects {
			order++
			c, ok := frame(b, fn, forced)
			if !ok {
				continue
			}
			c.order, c.dialect = order, d
			if c.forcedBad != nil {
				if len(framings) == 1 {
					return nil, c.forcedBad
				}
				continue
			}
			c.dec, c.err = decodeSafe(d, c.payload)
			if c.err == nil {
				c.err = inconsistent(c, len(b))
			}
			c.odd, c.mtiOK = oddFields(d, c.payload)
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("input of %d bytes is too short for any framing", len(b))
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.better(best) {
			best = c
		}
	}
	if best.err != nil {
		return nil, &Error{Framing: best.framing, Dialect: best.dialect.Name, HeaderLen: best.hdrLen,
			HeaderValue: best.hdrVal, Start: best.start, Input: len(b), Offset: best.errOffset(),
			Field: humanize(best.err, best.payload), Tried: len(cands),
			dialect: best.dialect, partial: best.dec, payload: best.payload}
	}
	r := &Result{Input: len(b), Framing: best.framing, HeaderLen: best.hdrLen, HeaderValue: best.hdrVal,
		HeaderExact: best.exact, TPDU: best.tpdu, AppHeader: best.appHdr, Start: best.start, Payload: best.payload,
		Dialect: best.dialect, Decoded: best.dec, Extra: best.extra, Tried: len(cands), Chosen: best.why(forced)}
	for _, c := range cands {
		if c != best && c.fit() == best.fit() && c.odd == best.odd {
			r.Also = append(r.Also, c.framing+"/"+c.dialect.Name)
		}
	}
	return r, nil
}

// withHeader gives each length-header framing of names an n-byte application header
// (with and without TPDU when detecting); "none" and "tpdu" cannot carry one.
func withHeader(names []string, n int, forced bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, name := range names {
		f, err := iso.ParseFraming(name)
		if err != nil {
			continue
		}
		variants := []iso.Framing{f.WithAppHeader(n)}
		if !forced {
			t := f
			t.TPDU = !f.TPDU
			variants = append(variants, t.WithAppHeader(n))
		}
		for _, v := range variants {
			if s := v.String(); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// frame splits b by a framing. ok is false when the framing cannot apply (too short, a
// header that is not valid, a TPDU that does not start like one) during detection.
func frame(b []byte, name string, forced bool) (*candidate, bool) {
	c := &candidate{framing: name, hdrVal: -1}
	if name == FramingNone {
		c.payload = b
		return c, true
	}
	tpdu := name == FramingTPDU
	appHdr := 0
	if name != FramingTPDU {
		f, err := iso.ParseFraming(name)
		if err != nil {
			return nil, false
		}
		tpdu, appHdr = f.TPDU, f.AppHeader
		c.hdrLen = f.HeaderLen()
		if len(b) < c.hdrLen {
			if forced {
				c.forcedBad = fmt.Errorf("input of %d bytes is shorter than a %s header", len(b), name)
				return c, true
			}
			return nil, false
		}
		n, err := f.DecodeLength(b[:c.hdrLen])
		// While detecting, a header claiming more than any ISO 8583 frame is not one.
		if err != nil || n == 0 || (!forced && n > iso.DefaultMaxFrame) {
			if forced {
				c.forcedBad = fmt.Errorf("bytes 0-%d (% X) are not a valid %s length header", c.hdrLen-1, b[:c.hdrLen], name)
				return c, true
			}
			return nil, false
		}
		c.hdrVal = n
		rest := len(b) - c.hdrLen
		// Exact when re-framing the rest with iso's own code gives the input back.
		if n == rest {
			if fr, err := f.SplitFrame(b[c.hdrLen:]); err == nil {
				if again, err := f.AppendFrameHeader(nil, fr.TPDU, fr.Header, fr.Payload); err == nil && bytes.Equal(again, b) {
					c.exact = true
				}
			}
		}
		if n < rest {
			c.extra = rest - n
		}
	}
	c.start = c.hdrLen
	end := len(b) - c.extra
	if tpdu {
		if end-c.start < iso.TPDULen {
			if forced {
				c.forcedBad = fmt.Errorf("input too short for a %d-byte TPDU", iso.TPDULen)
				return c, true
			}
			return nil, false
		}
		c.tpdu = b[c.start : c.start+iso.TPDULen]
		if c.tpdu[0] == 0x60 {
			c.tpduScore = 2
		}
		if c.tpduScore == 0 && !forced && name == FramingTPDU {
			return nil, false
		}
		c.start += iso.TPDULen
	} else {
		c.tpduScore = 1
	}
	if appHdr > 0 {
		if end-c.start < appHdr {
			if forced {
				c.forcedBad = fmt.Errorf("bytes %d-%d: input too short for the %d-byte message header (%d bytes left)", c.start, end-1, appHdr, end-c.start)
				return c, true
			}
			return nil, false
		}
		c.appHdr = b[c.start : c.start+appHdr]
		if appHdr == iso.CUPHeaderLen {
			// A CUP header is all BCD digits; one that is not is evidence against the
			// framing (it does not stop a forced one: decode shows why).
			h, err := iso.ParseCUPHeader(c.appHdr)
			if err == nil && !forced && h.AppType[0] != '6' {
				// While detecting, only an application type of 6x (60 = POS) is taken
				// for a CUP header: ASCII digits are BCD-valid too.
				return nil, false
			}
			if err != nil {
				if forced {
					c.forcedBad = fmt.Errorf("bytes %d-%d: %v", c.start, c.start+appHdr-1, err)
					return c, true
				}
				return nil, false
			}
		}
		c.start += appHdr
	}
	c.payload = b[c.start:end]
	if len(c.payload) == 0 {
		if forced {
			c.forcedBad = fmt.Errorf("no message after the %s framing", name)
			return c, true
		}
		return nil, false
	}
	return c, true
}

// inconsistent refuses a reading that decodes but cannot be the message: an MTI no version
// of ISO 8583 defines, or a length header announcing more bytes than the input holds while
// the fields end before them (garbage such as 0040... reads as an MTI and an empty bitmap).
func inconsistent(c *candidate, inputLen int) *iso.DecodeError {
	if !plausibleMTI(c.dec.MTI) {
		return &iso.DecodeError{FieldID: -1, FieldName: "Message Type Indicator",
			Reason: fmt.Sprintf("%s is not a message type ISO 8583 defines (version 0, 1, 2, 8 or 9; class 1 to 8)", c.dec.MTI)}
	}
	if rest := inputLen - c.hdrLen; c.hdrVal > rest {
		return &iso.DecodeError{FieldID: 0, FieldName: "end of message", Offset: len(c.payload) - c.dec.Trailing,
			Reason: fmt.Sprintf("the %d-byte length header says %d bytes but %d follow it", c.hdrLen, c.hdrVal, rest)}
	}
	return nil
}

// why says why a decoded candidate was chosen.
func (c *candidate) why(forced bool) string {
	var s string
	switch {
	case c.exact && c.dec.Trailing == 0:
		s = "its length header counts exactly the rest of the input and the message decodes to its last byte"
	case c.hdrVal < 0 && c.dec.Trailing == 0 && c.extra == 0:
		s = "no length header; the message decodes to the last byte"
	case c.extra > 0:
		s = fmt.Sprintf("the length header announces a frame %d bytes shorter than the input (see the warning)", c.extra)
	default:
		s = "the best of the readings that decode, none of them to the last byte (see the warnings)"
	}
	if forced {
		s = "as forced; " + s
	}
	return s
}

func decodeSafe(d *iso.Dialect, p []byte) (dec *iso.Decoded, derr *iso.DecodeError) {
	defer func() {
		if r := recover(); r != nil {
			dec, derr = nil, &iso.DecodeError{FieldID: -1, FieldName: "Message Type Indicator", Reason: fmt.Sprintf("malformed input (%v)", r)}
		}
	}()
	dec, err := d.Decode(p)
	if err != nil {
		if de, ok := err.(*iso.DecodeError); ok {
			return dec, de // dec: the fields before the failure, when any
		}
		return nil, &iso.DecodeError{FieldID: -1, FieldName: "Message Type Indicator", Reason: iso.MaskText(err.Error())}
	}
	return dec, nil
}

var (
	badPrefix = regexp.MustCompile(`failed to decode length: strconv\.Atoi: parsing "(.*)": invalid syntax`)
	notEnough = regexp.MustCompile(`not enough data to decode\. expected len (\d+), got (\d+)`)
	exceeds   = regexp.MustCompile(`length (\d+) exceeds the data size (\d+)`)
)

// humanize rewrites codec wording into "expected …, found …" and masks anything card-like.
func humanize(e *iso.DecodeError, payload []byte) *iso.DecodeError {
	c := *e
	r := c.Reason
	if m := badPrefix.FindStringSubmatch(r); m != nil {
		r = fmt.Sprintf("expected a length prefix of digits, found %q", m[1])
	} else if m := notEnough.FindStringSubmatch(r); m != nil {
		r = fmt.Sprintf("expected %s bytes, found %s before the input ends", m[1], m[2])
	} else if m := exceeds.FindStringSubmatch(r); m != nil {
		r = fmt.Sprintf("expected %s bytes, found %s before the input ends", m[1], m[2])
	} else {
		r = strings.TrimPrefix(r, "failed to decode content: ")
		r = strings.Replace(r, "not enough data to read", "the input ends inside the field", 1)
	}
	// Say what was found when the codec did not: the first bytes of the field, unless the
	// field holds card data.
	if !strings.Contains(r, "found") && c.Offset < len(payload) && !sensitiveField(c.FieldID) {
		end := min(c.Offset+4, len(payload))
		r += fmt.Sprintf("; found % X", payload[c.Offset:end])
		if end < len(payload) {
			r += " …"
		}
	}
	c.Reason = iso.MaskText(r)
	return &c
}

// sensitiveField: fields whose bytes are never shown, even in an error.
func sensitiveField(id int) bool {
	return sensitiveBinary[id] || id == 2 || id == 34 || id == 35 || id == 36 || id == 45
}

// oddFields counts decoded fields whose content does not fit their format (letters in a
// numeric field), walking as far as the payload decodes. A wrong dialect usually reads
// bytes of the wrong kind, so among candidates that fail at the same place this tells the
// real one. It never panics: input is untrusted.
func oddFields(d *iso.Dialect, p []byte) (odd int, mtiOK bool) {
	defer func() {
		if recover() != nil {
			odd++
		}
	}()
	check := func(id int, v []byte) {
		if !strings.HasPrefix(d.Describe(id).Format, "n") {
			return
		}
		for _, c := range v {
			if c < '0' || c > '9' {
				odd++
				return
			}
		}
	}
	mti := field.NewInstanceOf(d.Spec.Fields[0])
	n, err := mti.Unpack(p)
	if err != nil {
		return 1, false
	}
	v, _ := mti.Bytes()
	if mtiOK = plausibleMTI(string(v)); !mtiOK {
		odd++
	}
	off := n
	bm, ok := field.NewInstanceOf(d.Spec.Fields[1]).(*field.Bitmap)
	if !ok || off >= len(p) {
		return odd, mtiOK
	}
	if n, err = bm.Unpack(p[off:]); err != nil {
		return odd, mtiOK
	}
	off += n
	for id := 2; id <= min(bm.Len(), 128); id++ {
		if bm.IsBitmapPresenceBit(id) || !bm.IsSet(id) {
			continue
		}
		spec, ok := d.Spec.Fields[id]
		if !ok || off >= len(p) {
			return odd, mtiOK
		}
		f := field.NewInstanceOf(spec)
		n, err := f.Unpack(p[off:])
		if err != nil {
			return odd, mtiOK
		}
		if _, isBin := f.(*field.Binary); !isBin {
			v, _ := f.Bytes()
			check(id, v)
		}
		off += n
	}
	return odd, mtiOK
}

// plausibleMTI: four digits with a version ISO defines (0 1987, 1 1993, 2 2003, 8 national,
// 9 private) and a known message class. ASCII digits read as BCD give MTIs like "3032".
func plausibleMTI(s string) bool {
	if !iso.ValidMTI(s) {
		return false
	}
	_, known := mtiClasses[s[1]]
	return strings.IndexByte("01289", s[0]) >= 0 && known
}
