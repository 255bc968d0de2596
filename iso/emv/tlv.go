package emv

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrTLV marks malformed BER-TLV data; the concrete error is a *ParseError.
var ErrTLV = errors.New("malformed BER-TLV")

// ParseError says where BER-TLV data broke: the byte offset from the start of the data
// given to Parse, the tag being read (empty if the tag itself was broken) and why.
type ParseError struct {
	Offset int
	Tag    string
	Reason string
}

func (e *ParseError) Error() string {
	if e.Tag == "" {
		return fmt.Sprintf("TLV at byte %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("TLV at byte %d (tag %s): %s", e.Offset, e.Tag, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTLV) true.
func (e *ParseError) Unwrap() error { return ErrTLV }

// Tag is a BER-TLV tag of 1 to 3 bytes, held as its big-endian value (0x9F26).
type Tag uint32

// Common tags used by name in code.
const (
	TagPAN           Tag = 0x5A
	TagTrack2        Tag = 0x57
	TagAIP           Tag = 0x82
	TagTVR           Tag = 0x95
	TagTxnDate       Tag = 0x9A
	TagTxnType       Tag = 0x9C
	TagCurrency      Tag = 0x5F2A
	TagPSN           Tag = 0x5F34
	TagAmount        Tag = 0x9F02
	TagAmountOther   Tag = 0x9F03
	TagIAD           Tag = 0x9F10
	TagCountry       Tag = 0x9F1A
	TagAC            Tag = 0x9F26
	TagCID           Tag = 0x9F27
	TagATC           Tag = 0x9F36
	TagUN            Tag = 0x9F37
	TagIssuerAuth    Tag = 0x91
	TagIssuerScript1 Tag = 0x71
	TagIssuerScript2 Tag = 0x72
	TagARC           Tag = 0x8A
)

// ParseTag reads a tag written in hex ("9F26").
func ParseTag(s string) (Tag, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) == 0 || len(b) > 3 {
		return 0, fmt.Errorf("EMV tag %q: want 1 to 3 bytes of hex", s)
	}
	t, n, perr := readTag(b, 0)
	if perr != nil || n != len(b) {
		return 0, fmt.Errorf("EMV tag %q: not a valid BER-TLV tag", s)
	}
	return t, nil
}

// String is the tag in upper-case hex, as EMV documents write it.
func (t Tag) String() string { return strings.ToUpper(hex.EncodeToString(t.Bytes())) }

// Bytes is the tag's wire form.
func (t Tag) Bytes() []byte {
	switch {
	case t > 0xFFFF:
		return []byte{byte(t >> 16), byte(t >> 8), byte(t)}
	case t > 0xFF:
		return []byte{byte(t >> 8), byte(t)}
	}
	return []byte{byte(t)}
}

// Constructed reports whether the tag's value is itself TLV data (bit 6 of the first byte).
func (t Tag) Constructed() bool { return t.Bytes()[0]&0x20 != 0 }

// TLV is one data object. A constructed object keeps its raw Value and its parsed Children.
type TLV struct {
	Tag      Tag
	Value    []byte
	Children List
}

// List is a sequence of data objects in wire order (order is kept: DE55 may be MACed).
type List []TLV

// maxDepth bounds nesting of constructed tags (issuer scripts nest two levels).
const maxDepth = 8

// Parse reads BER-TLV data (all of it). Malformed input gives a *ParseError.
func Parse(b []byte) (List, error) { return parse(b, 0, 0) }

func parse(b []byte, base, depth int) (List, error) {
	var out List
	off := 0
	for off < len(b) {
		start := off
		t, n, err := readTag(b, off)
		if err != nil {
			err.Offset += base
			return out, err
		}
		off += n
		l, n, err := readLen(b, off)
		if err != nil {
			err.Offset += base
			err.Tag = t.String()
			return out, err
		}
		off += n
		if l > len(b)-off {
			return out, &ParseError{Offset: base + start, Tag: t.String(),
				Reason: fmt.Sprintf("length %d but only %d bytes remain", l, len(b)-off)}
		}
		v := b[off : off+l : off+l]
		obj := TLV{Tag: t, Value: v}
		if t.Constructed() {
			if depth >= maxDepth {
				return out, &ParseError{Offset: base + start, Tag: t.String(), Reason: "constructed tags nested too deep"}
			}
			kids, err := parse(v, base+off, depth+1)
			if err != nil {
				return out, err
			}
			obj.Children = kids
		}
		out = append(out, obj)
		off += l
	}
	return out, nil
}

func readTag(b []byte, off int) (Tag, int, *ParseError) {
	if off >= len(b) {
		return 0, 0, &ParseError{Offset: off, Reason: "tag missing"}
	}
	first := b[off]
	if first == 0x00 || first == 0xFF {
		return 0, 0, &ParseError{Offset: off, Reason: fmt.Sprintf("byte %02X is not a tag (padding?)", first)}
	}
	t := Tag(first)
	n := 1
	if first&0x1F == 0x1F {
		for {
			if off+n >= len(b) {
				return 0, 0, &ParseError{Offset: off, Reason: "tag cut short"}
			}
			if n == 3 {
				return 0, 0, &ParseError{Offset: off, Reason: "tag longer than 3 bytes"}
			}
			c := b[off+n]
			t = t<<8 | Tag(c)
			n++
			if c&0x80 == 0 {
				break
			}
		}
	}
	return t, n, nil
}

func readLen(b []byte, off int) (int, int, *ParseError) {
	if off >= len(b) {
		return 0, 0, &ParseError{Offset: off, Reason: "length missing"}
	}
	c := b[off]
	switch {
	case c < 0x80:
		return int(c), 1, nil
	case c == 0x81:
		if off+1 >= len(b) {
			return 0, 0, &ParseError{Offset: off, Reason: "length 81 cut short"}
		}
		return int(b[off+1]), 2, nil
	case c == 0x82:
		if off+2 >= len(b) {
			return 0, 0, &ParseError{Offset: off, Reason: "length 82 cut short"}
		}
		return int(b[off+1])<<8 | int(b[off+2]), 3, nil
	case c == 0x80:
		return 0, 0, &ParseError{Offset: off, Reason: "indefinite length (80) is not allowed in EMV"}
	}
	return 0, 0, &ParseError{Offset: off, Reason: fmt.Sprintf("length byte %02X: more than 2 length bytes", c)}
}

// Bytes encodes the list. A constructed object with Children is encoded from them;
// otherwise from Value.
func (l List) Bytes() []byte {
	var out []byte
	for _, o := range l {
		out = o.append(out)
	}
	return out
}

func (o TLV) append(out []byte) []byte {
	v := o.Value
	if len(o.Children) > 0 {
		v = o.Children.Bytes()
	}
	out = append(out, o.Tag.Bytes()...)
	switch n := len(v); {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xFF:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, v...)
}

// Find returns the first object with tag t, searching constructed objects depth first.
func (l List) Find(t Tag) (TLV, bool) {
	for _, o := range l {
		if o.Tag == t {
			return o, true
		}
		if f, ok := o.Children.Find(t); ok {
			return f, true
		}
	}
	return TLV{}, false
}

// Value returns the value of tag t (nil when absent).
func (l List) Value(t Tag) []byte {
	o, _ := l.Find(t)
	return o.Value
}

// Set replaces the value of the first top-level object with tag t, or appends one.
func (l List) Set(t Tag, v []byte) List {
	for i := range l {
		if l[i].Tag == t {
			l[i].Value, l[i].Children = v, nil
			return l
		}
	}
	return append(l, TLV{Tag: t, Value: v})
}
