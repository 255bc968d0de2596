package decode

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

// sensitiveBinary are fields never shown: PIN block, EMV data, MACs, security code, and
// DE110 (encryption data: the AES DUKPT PIN block, iso.AESPINField).
var sensitiveBinary = map[int]bool{52: true, 55: true, 64: true, 96: true, 110: true, 128: true}

// sensitive: a field shown only as "[n bytes masked]". Besides sensitiveBinary, a binary
// DE62 (UnionPay: the working keys delivered at sign-on, encrypted under the master key)
// is never shown either.
func sensitive(id int, binary bool) bool { return sensitiveBinary[id] || (binary && id == 62) }

// freeText are text fields that may carry a card number somewhere inside.
func freeText(id int) bool {
	return (id >= 43 && id <= 48) || (id >= 56 && id <= 63) || (id >= 101 && id <= 127)
}

// MaskedBinary is how a masked binary field is shown: "[8 bytes masked]".
func MaskedBinary(n int) string { return fmt.Sprintf("[%d bytes masked]", n) }

// IsMaskedBinary reports whether v is a MaskedBinary text, and of how many bytes.
func IsMaskedBinary(v string) (int, bool) {
	var n int
	if _, err := fmt.Sscanf(v, "[%d bytes masked]", &n); err != nil || MaskedBinary(n) != v {
		return 0, false
	}
	return n, true
}

// MaskValue returns a field's value as it may be shown or recorded, and whether it differs
// from the input. Binary values come hex-encoded (as iso.Field.Value and Message.Get give
// them).
func MaskValue(id int, value string, binary bool) (string, bool) {
	var m string
	switch {
	case sensitive(id, binary):
		n := len(value) / 2
		if !binary {
			// A user dialect may carry it as text: still never shown.
			n = len(value)
		}
		return MaskedBinary(n), true
	case id == 2 || id == 34:
		m = iso.MaskPAN(value)
	case id == 35:
		m = iso.MaskTrack2(value)
	case id == 36:
		m = strings.Repeat("*", len(value))
	case id == 45:
		m = maskTrack1(value)
	case id == 48 && !binary && cupTotals(value):
		// UnionPay settlement totals: amounts and counts in a fixed layout whose long digit
		// run would otherwise read as a card number and hide what a reconciliation is about.
		return value, false
	case freeText(id) && !binary:
		m = iso.MaskText(value)
	default:
		return value, false
	}
	return m, m != value
}

// maskTrack1 keeps the format code and the masked PAN; the name and everything after it are
// hidden ("B411111******1111^****").
func maskTrack1(t string) string {
	start := ""
	if strings.HasPrefix(t, "%") {
		start, t = "%", t[1:]
	}
	i := strings.IndexByte(t, '^')
	if i < 0 {
		return start + strings.Repeat("*", len(t))
	}
	pan := t[:i]
	code := ""
	if pan != "" && (pan[0] < '0' || pan[0] > '9') {
		code, pan = pan[:1], pan[1:]
	}
	return start + code + iso.MaskPAN(pan) + "^****"
}

// maskPositions says which characters of a text field's value must not be shown in raw
// bytes (the length is kept there, unlike in MaskValue). nil: nothing to mask.
func maskPositions(id int, value string) []bool {
	pos := make([]bool, len(value))
	any := false
	mark := func(i int) { pos[i], any = true, true }
	panPart := func(p string, from int) {
		masked := iso.MaskPAN(p)
		for i := range p {
			if masked[i] != p[i] {
				mark(from + i)
			}
		}
	}
	switch {
	case id == 35:
		i := strings.IndexAny(value, "=Dd")
		if i < 0 {
			i = len(value)
		}
		panPart(value[:i], 0)
		for k := i + 1; k < len(value); k++ {
			mark(k)
		}
	case id == 45:
		i := strings.IndexByte(value, '^')
		if i < 0 {
			i = 0
		}
		start := 0
		for start < i && (value[start] < '0' || value[start] > '9') {
			start++
		}
		panPart(value[start:i], start)
		for k := i; k < len(value); k++ {
			if value[k] != '^' {
				mark(k)
			}
		}
	case id == 36:
		for k := range value {
			mark(k)
		}
	default:
		m, changed := MaskValue(id, value, false)
		if !changed {
			return nil
		}
		if len(m) == len(value) {
			for k := range value {
				if m[k] != value[k] {
					mark(k)
				}
			}
		} else {
			// The mask changed the length (a track-2 tail in free text): hide every digit.
			for k := range value {
				if value[k] >= '0' && value[k] <= '9' {
					mark(k)
				}
			}
		}
	}
	if !any {
		return nil
	}
	return pos
}

// MaskPayload returns a copy of a decoded payload with card data replaced in place, so that
// the bytes keep their length and layout and can be shown as hex. Text carried one byte per
// character becomes '*' (in the field's own encoding); digits packed two to a byte (BCD)
// become the nibble F; sensitive binary fields (PIN block, EMV, MAC) become zero bytes.
// A field whose layout cannot be worked out is masked whole. Trailing bytes after the last
// field are masked like an undecodable frame (MaskUnknown).
func MaskPayload(d *iso.Dialect, payload []byte, dec *iso.Decoded) []byte {
	out := append([]byte(nil), payload...)
	end := len(out)
	if dec.Trailing > 0 && dec.Trailing <= len(out) {
		end = len(out) - dec.Trailing
		copy(out[end:], MaskUnknown(out[end:]))
	}
	for _, f := range dec.Fields {
		if f.Offset < 0 || f.Offset+f.Len > end {
			continue
		}
		wire := out[f.Offset : f.Offset+f.Len]
		if sensitive(f.ID, f.Binary) {
			maskBinary(d, f, wire)
			continue
		}
		if f.Binary {
			continue
		}
		pos := maskPositions(f.ID, f.Value)
		if pos == nil {
			continue
		}
		maskText(d, f, wire, pos)
	}
	return out
}

// body returns the part of a field's wire bytes after its length prefix.
func body(d *iso.Dialect, id int, wire []byte) ([]byte, bool) {
	spec, ok := d.Spec.Fields[id]
	if !ok {
		return nil, false
	}
	s := spec.Spec()
	if s.Pref == nil {
		return wire, true
	}
	_, read, err := s.Pref.DecodeLength(s.Length, wire)
	if err != nil || read > len(wire) {
		return nil, false
	}
	return wire[read:], true
}

func fill(b []byte, c byte) {
	for i := range b {
		b[i] = c
	}
}

func maskBinary(d *iso.Dialect, f iso.Field, wire []byte) {
	b, ok := body(d, f.ID, wire)
	if !ok {
		fill(wire, 0)
		return
	}
	n := len(f.Value) / 2
	if !f.Binary {
		n = len(f.Value)
	}
	enc := d.Spec.Fields[f.ID].Spec().Enc
	if enc != nil {
		if z, err := enc.Encode(make([]byte, n)); err == nil && len(z) == len(b) {
			copy(b, z)
			return
		}
	}
	fill(b, 0)
}

func maskText(d *iso.Dialect, f iso.Field, wire []byte, pos []bool) {
	b, ok := body(d, f.ID, wire)
	enc := d.Spec.Fields[f.ID].Spec().Enc
	if !ok || enc == nil {
		fill(wire, 0xFF)
		return
	}
	star := []byte(f.Value)
	flip := []byte(f.Value)
	for i, m := range pos {
		if m {
			star[i] = '*'
			if flip[i] == '0' {
				flip[i] = '1'
			} else {
				flip[i] = '0'
			}
		}
	}
	// One byte per character (ASCII, EBCDIC): write the encoding of '*'.
	if len(b) == len(f.Value) {
		if e, err := enc.Encode(star); err == nil && len(e) == len(b) {
			copy(b, e)
			return
		}
	}
	// Packed digits: find the nibbles that carry the masked characters by encoding the value
	// with those characters changed, and set them to F.
	orig, err1 := enc.Encode([]byte(f.Value))
	alt, err2 := enc.Encode(flip)
	if err1 == nil && err2 == nil && len(orig) == len(b) && len(alt) == len(b) {
		for i := range b {
			if orig[i]&0xF0 != alt[i]&0xF0 {
				b[i] |= 0xF0
			}
			if orig[i]&0x0F != alt[i]&0x0F {
				b[i] |= 0x0F
			}
		}
		return
	}
	fill(b, 0xFF)
}

// MaskUnknown masks bytes that could not be decoded, so their fields are unknown. It errs on
// the side of hiding: every run of 12 or more ASCII digits is masked like a PAN ('*'), and
// every run of 12 or more decimal nibbles (BCD digits) is masked the same way with the
// nibble F. Numbers that are not card numbers may be hidden too.
func MaskUnknown(b []byte) []byte {
	out := append([]byte(nil), b...)
	for i := 0; i < len(out); {
		if out[i] < '0' || out[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(out) && out[j] >= '0' && out[j] <= '9' {
			j++
		}
		if j-i >= 12 {
			m := iso.MaskPAN(string(out[i:j]))
			copy(out[i:j], m)
		}
		i = j
	}
	nib := func(k int) byte {
		if k%2 == 0 {
			return out[k/2] >> 4
		}
		return out[k/2] & 0x0F
	}
	set := func(k int) {
		if k%2 == 0 {
			out[k/2] |= 0xF0
		} else {
			out[k/2] |= 0x0F
		}
	}
	n := 2 * len(out)
	for k := 0; k < n; {
		if nib(k) > 9 {
			k++
			continue
		}
		j := k
		for j < n && nib(j) <= 9 {
			j++
		}
		if j-k >= 12 {
			first, last := 6, 4
			for x := k + first; x < j-last; x++ {
				set(x)
			}
		}
		k = j
	}
	return out
}

// MaskedHex is the masked payload as upper-case hex, for traces and reports.
func MaskedHex(d *iso.Dialect, payload []byte, dec *iso.Decoded) string {
	if dec == nil {
		return strings.ToUpper(hex.EncodeToString(MaskUnknown(payload)))
	}
	return strings.ToUpper(hex.EncodeToString(MaskPayload(d, payload, dec)))
}

// cupTotals says whether a DE48 is exactly the UnionPay settlement totals layout (62 digits,
// a reconciliation result 0-3 closing each side).
func cupTotals(v string) bool {
	if len(v) != 2*iso.CUPSideLen {
		return false
	}
	_, err := iso.ParseCUPTotals(v)
	return err == nil
}
