package iso

import (
	"encoding/hex"
	"slices"
	"sync/atomic"

	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
)

// A hand-written packer and unpacker for the built-in dialects. The generic path builds a
// moov field instance per field, encodes through interfaces and converts every value twice;
// this one writes and reads the same bytes directly (profile: BENCHMARKS.md).
//
// Contract, checked by fastpath_test.go against the generic path on many random and
// mutated messages: when the fast path says ok, its bytes (pack) or its Message (unpack)
// are exactly what the generic path produces. Anything it does not handle exactly the same
// way (errors of every kind, Other fields on pack, a tertiary bitmap, odd BCD fillers,
// non-digit length prefixes, bytes above 0x7F) makes it say !ok, and the caller takes the
// generic path, which also produces the detailed errors.
//
// The codec is compiled from the dialect's moov spec, not from fields87, so it follows the
// spec if a layout changes; a field it does not recognise disables it for that dialect.

type fastEnc uint8

const (
	fastASCII   fastEnc = iota + 1 // text as it is (encoding.ASCII)
	fastHexBin                     // bytes as upper-case hex characters (encoding.BytesToASCIIHex)
	fastBCD                        // digits as packed BCD, an odd count padded on the left with 0 (encoding.BCD)
	fastBinary                     // bytes as they are (encoding.Binary)
	fastTrack2                     // track2BCD: digits and separator D, an odd count padded on the right with F
	fastBCDLeft                    // cupBCD: digits as packed BCD, an odd count padded on the right with 0
)

type fastField struct {
	enc       fastEnc // 0: field not defined in the dialect
	binary    bool    // a moov Binary field: the value is bytes, its text form hex
	digits    int     // length prefix digits: 0 fixed, 2 LL, 3 LLL
	bcdPrefix bool    // the length prefix is BCD (else ASCII digits)
	length    int     // fixed length or maximum, in characters/digits (bytes for binary)
	pad       fixedPad
	hasPad    bool
}

type fastCodec struct {
	mtiBCD    bool
	bitmapHex bool
	fields    [129]fastField
}

// fastCodecs holds a compiled codec for each built-in dialect whose spec it understands.
var fastCodecs = func() map[*Dialect]*fastCodec {
	m := map[*Dialect]*fastCodec{}
	for _, d := range Dialects() {
		if fc := compileFast(d); fc != nil {
			m[d] = fc
		}
	}
	return m
}()

// compileFast returns nil when any part of the spec is something the fast path does not
// reproduce exactly.
func compileFast(d *Dialect) *fastCodec {
	fc := &fastCodec{}
	mti, ok := d.Spec.Fields[0].(*field.String)
	if !ok {
		return nil
	}
	ms := mti.Spec()
	switch {
	case ms.Length == 4 && ms.Pad == nil && ms.Enc == encoding.ASCII && ms.Pref == prefix.ASCII.Fixed:
	case ms.Length == 4 && ms.Pad == nil && ms.Enc == encoding.BCD && ms.Pref == prefix.BCD.Fixed:
		fc.mtiBCD = true
	default:
		return nil
	}
	bm, ok := d.Spec.Fields[1].(*field.Bitmap)
	if !ok {
		return nil
	}
	bs := bm.Spec()
	switch {
	case bs.Length != 8 || bs.DisableAutoExpand:
		return nil
	case bs.Enc == encoding.Binary && bs.Pref == prefix.Binary.Fixed:
	case bs.Enc == encoding.BytesToASCIIHex && bs.Pref == prefix.Hex.Fixed:
		fc.bitmapHex = true
	default:
		return nil
	}
	for id, f := range d.Spec.Fields {
		if id < 2 {
			continue
		}
		if id > 128 || id == 65 {
			return nil
		}
		var ff fastField
		switch f.(type) {
		case *field.String:
		case *field.Binary:
			ff.binary = true
		default:
			return nil
		}
		s := f.Spec()
		if s.Pad != nil || s.Packer != nil || s.Unpacker != nil || s.Length <= 0 {
			return nil
		}
		ff.length = s.Length
		switch s.Pref {
		case prefix.ASCII.Fixed, prefix.BCD.Fixed:
		case prefix.ASCII.LL:
			ff.digits = 2
		case prefix.ASCII.LLL:
			ff.digits = 3
		case prefix.BCD.LL:
			ff.digits, ff.bcdPrefix = 2, true
		case prefix.BCD.LLL:
			ff.digits, ff.bcdPrefix = 3, true
		default:
			return nil
		}
		switch {
		case s.Enc == encoding.ASCII && !ff.binary:
			ff.enc = fastASCII
		case s.Enc == encoding.BCD && !ff.binary:
			ff.enc = fastBCD
		case s.Enc == track2BCD && !ff.binary:
			ff.enc = fastTrack2
		case s.Enc == cupBCD && !ff.binary:
			ff.enc = fastBCDLeft
		case s.Enc == encoding.BytesToASCIIHex && ff.binary:
			ff.enc = fastHexBin
		case s.Enc == encoding.Binary && ff.binary:
			ff.enc = fastBinary
		default:
			return nil
		}
		if ff.digits == 2 && ff.length > 99 || ff.digits == 3 && ff.length > 999 {
			return nil
		}
		// Named fields must have the type the generic path expects of them.
		if (new(Message).bin(id) != nil) != ff.binary && (new(Message).bin(id) != nil || new(Message).str(id) != nil) {
			return nil
		}
		if p, ok := d.pad[id]; ok {
			ff.pad, ff.hasPad = p, true
		}
		fc.fields[id] = ff
	}
	return fc
}

// fastPathOff makes fastAppendPack and fastUnpack decline, so that tests can get the
// generic path's answer through AppendPack and Unpack.
var fastPathOff atomic.Bool

// fastAppendPack packs m after dst the way AppendPack does. ok is false when the generic
// path must do it (dst is then returned unchanged).
func (d *Dialect) fastAppendPack(dst []byte, m *Message) (out []byte, ok bool) {
	fc := fastCodecs[d]
	if fc == nil || fastPathOff.Load() {
		return dst, false
	}
	return fc.appendPack(dst, m)
}

// fastUnpack is Unpack for payloads the fast path reads exactly as the generic path does.
func (d *Dialect) fastUnpack(b []byte) (*Message, bool) {
	fc := fastCodecs[d]
	if fc == nil || fastPathOff.Load() {
		return nil, false
	}
	return fc.unpack(b)
}

func (fc *fastCodec) appendPack(dst []byte, m *Message) ([]byte, bool) {
	if len(m.Other) > 0 || !ValidMTI(m.MTI) {
		return dst, false
	}
	var ids [len(namedIDsArray)]uint8
	n := m.presentIDs(&ids)
	var bm [16]byte
	secondary := false
	for _, id := range ids[:n] {
		if fc.fields[id].enc == 0 {
			return dst, false
		}
		if id > 64 {
			secondary = true
		}
		bm[(id-1)/8] |= 0x80 >> ((id - 1) % 8)
	}
	bml := 8
	if secondary {
		bm[0] |= 0x80
		bml = 16
	}

	start := len(dst)
	if cap(dst)-start < 384 {
		dst = slices.Grow(dst, 384) // one allocation for a typical message, not one per doubling
	}
	if fc.mtiBCD {
		dst = append(dst, (m.MTI[0]-'0')<<4|(m.MTI[1]-'0'), (m.MTI[2]-'0')<<4|(m.MTI[3]-'0'))
	} else {
		dst = append(dst, m.MTI...)
	}
	if fc.bitmapHex {
		dst = appendUpperHex(dst, bm[:bml])
	} else {
		dst = append(dst, bm[:bml]...)
	}
	for _, id := range ids[:n] {
		f := &fc.fields[id]
		var ok bool
		if f.binary {
			dst, ok = f.appendBinary(dst, *m.bin(int(id)))
		} else {
			dst, ok = f.appendText(dst, *m.str(int(id)))
		}
		if !ok {
			return dst[:start], false
		}
	}
	return dst, true
}

// namedIDsArray is namedIDs as an array, so that appendPack keeps its list on the stack.
var namedIDsArray = [...]uint8{2, 3, 4, 7, 11, 12, 13, 14, 22, 23, 25, 32, 35, 37, 38, 39, 41, 42, 44, 49, 52, 54, 55, 60, 63, 64, 70, 74, 76, 86, 88, 90, 95, 97, 128}

// presentIDs lists the named fields set, in order, as present does one by one but
// without a switch per field (it is the fast path's hottest loop).
func (m *Message) presentIDs(ids *[len(namedIDsArray)]uint8) int {
	n := 0
	if m.PAN != "" {
		ids[n] = 2
		n++
	}
	if m.ProcessingCode != "" {
		ids[n] = 3
		n++
	}
	if m.Amount != "" {
		ids[n] = 4
		n++
	}
	if m.TransmissionTime != "" {
		ids[n] = 7
		n++
	}
	if m.STAN != "" {
		ids[n] = 11
		n++
	}
	if m.LocalTime != "" {
		ids[n] = 12
		n++
	}
	if m.LocalDate != "" {
		ids[n] = 13
		n++
	}
	if m.Expiry != "" {
		ids[n] = 14
		n++
	}
	if m.EntryMode != "" {
		ids[n] = 22
		n++
	}
	if m.CardSeq != "" {
		ids[n] = 23
		n++
	}
	if m.ConditionCode != "" {
		ids[n] = 25
		n++
	}
	if m.AcquirerID != "" {
		ids[n] = 32
		n++
	}
	if m.Track2 != "" {
		ids[n] = 35
		n++
	}
	if m.RRN != "" {
		ids[n] = 37
		n++
	}
	if m.AuthCode != "" {
		ids[n] = 38
		n++
	}
	if m.ResponseCode != "" {
		ids[n] = 39
		n++
	}
	if m.TerminalID != "" {
		ids[n] = 41
		n++
	}
	if m.MerchantID != "" {
		ids[n] = 42
		n++
	}
	if m.AdditionalResp != "" {
		ids[n] = 44
		n++
	}
	if m.Currency != "" {
		ids[n] = 49
		n++
	}
	if len(m.PINBlock) > 0 {
		ids[n] = 52
		n++
	}
	if m.AdditionalAmounts != "" {
		ids[n] = 54
		n++
	}
	if len(m.EMV) > 0 {
		ids[n] = 55
		n++
	}
	if m.Batch != "" {
		ids[n] = 60
		n++
	}
	if m.Private63 != "" {
		ids[n] = 63
		n++
	}
	if len(m.MAC) > 0 {
		ids[n] = 64
		n++
	}
	if m.NetworkCode != "" {
		ids[n] = 70
		n++
	}
	if m.CreditsNumber != "" {
		ids[n] = 74
		n++
	}
	if m.DebitsNumber != "" {
		ids[n] = 76
		n++
	}
	if m.CreditsAmount != "" {
		ids[n] = 86
		n++
	}
	if m.DebitsAmount != "" {
		ids[n] = 88
		n++
	}
	if m.OriginalData != "" {
		ids[n] = 90
		n++
	}
	if m.ReplacementAmts != "" {
		ids[n] = 95
		n++
	}
	if m.NetSettlement != "" {
		ids[n] = 97
		n++
	}
	if len(m.MAC2) > 0 {
		ids[n] = 128
		n++
	}
	return n
}

// present is Get's presence test for named fields, without building the hex text.
func (m *Message) present(id int) bool {
	if p := m.str(id); p != nil {
		return *p != ""
	}
	if p := m.bin(id); p != nil {
		return len(*p) > 0
	}
	return false
}

func (f *fastField) appendPrefix(dst []byte, n int) ([]byte, bool) {
	switch f.digits {
	case 0:
		return dst, n == f.length
	case 2:
		if n > f.length || n > 99 {
			return dst, false
		}
		if f.bcdPrefix {
			return append(dst, byte(n/10)<<4|byte(n%10)), true
		}
		return append(dst, '0'+byte(n/10), '0'+byte(n%10)), true
	default:
		if n > f.length || n > 999 {
			return dst, false
		}
		if f.bcdPrefix {
			return append(dst, byte(n/100), byte(n/10%10)<<4|byte(n%10)), true
		}
		return append(dst, '0'+byte(n/100), '0'+byte(n/10%10), '0'+byte(n%10)), true
	}
}

func (f *fastField) appendText(dst []byte, v string) ([]byte, bool) {
	n := len(v)
	padded := f.hasPad && n < f.pad.length
	if padded {
		n = f.pad.length
	}
	dst, ok := f.appendPrefix(dst, n)
	if !ok {
		return dst, false
	}
	switch f.enc {
	case fastASCII:
		if padded && !f.pad.left {
			dst = append(dst, v...)
			for i := len(v); i < n; i++ {
				dst = append(dst, f.pad.char)
			}
		} else {
			for i := len(v); i < n; i++ {
				dst = append(dst, f.pad.char)
			}
			dst = append(dst, v...)
		}
		for i := 0; i < len(v); i++ {
			if v[i] > 127 {
				return dst, false
			}
		}
		if padded && f.pad.char > 127 {
			return dst, false
		}
		return dst, true
	case fastBCD, fastBCDLeft:
		// The value (padded if short) with one more '0' nibble in front (BCD) or behind
		// (CUP's left-aligned BCD) when its length is odd.
		var nib byte
		half := false
		put := func(c byte) bool {
			if c < '0' || c > '9' {
				return false
			}
			if half {
				dst = append(dst, nib<<4|(c-'0'))
			} else {
				nib = c - '0'
			}
			half = !half
			return true
		}
		if n%2 == 1 && f.enc == fastBCD {
			put('0')
		}
		if padded && f.pad.left {
			for i := len(v); i < n; i++ {
				if !put(f.pad.char) {
					return dst, false
				}
			}
		}
		for i := 0; i < len(v); i++ {
			if !put(v[i]) {
				return dst, false
			}
		}
		if padded && !f.pad.left {
			for i := len(v); i < n; i++ {
				if !put(f.pad.char) {
					return dst, false
				}
			}
		}
		if n%2 == 1 && f.enc == fastBCDLeft {
			put('0')
		}
		return dst, true
	case fastTrack2:
		if padded {
			return dst, false // no built-in track field is fixed-length
		}
		for i := 0; i < n; i += 2 {
			hi, ok := track2Nibble(v[i])
			if !ok {
				return dst, false
			}
			lo := byte(0xF)
			if i+1 < n {
				if lo, ok = track2Nibble(v[i+1]); !ok {
					return dst, false
				}
			}
			dst = append(dst, hi<<4|lo)
		}
		return dst, true
	}
	return dst, false
}

func track2Nibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c == '=' || c == 'D' || c == 'd':
		return 0xD, true
	}
	return 0, false
}

func (f *fastField) appendBinary(dst []byte, v []byte) ([]byte, bool) {
	dst, ok := f.appendPrefix(dst, len(v))
	if !ok {
		return dst, false
	}
	if f.enc == fastHexBin {
		return appendUpperHex(dst, v), true
	}
	return append(dst, v...), true
}

func appendUpperHex(dst, v []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range v {
		dst = append(dst, digits[c>>4], digits[c&0x0F])
	}
	return dst
}

func (fc *fastCodec) unpack(b []byte) (*Message, bool) {
	// One string for the whole payload: text fields are substrings of it, not copies.
	s := string(b)
	m := &Message{}
	off := 0
	if fc.mtiBCD {
		if len(b) < 2 || !bcdByte(b[0]) || !bcdByte(b[1]) {
			return nil, false
		}
		m.MTI = string([]byte{'0' + b[0]>>4, '0' + b[0]&0x0F, '0' + b[1]>>4, '0' + b[1]&0x0F})
		off = 2
	} else {
		if len(b) < 4 || !ValidMTI(s[:4]) {
			return nil, false
		}
		m.MTI = s[:4]
		off = 4
	}

	var bm [16]byte
	readBitmap := func(dst []byte) bool {
		if fc.bitmapHex {
			if len(b)-off < 16 {
				return false
			}
			if _, err := hex.Decode(dst, b[off:off+16]); err != nil {
				return false
			}
			off += 16
			return true
		}
		if len(b)-off < 8 {
			return false
		}
		copy(dst, b[off:off+8])
		off += 8
		return true
	}
	if !readBitmap(bm[:8]) {
		return nil, false
	}
	last := 64
	if bm[0]&0x80 != 0 {
		if !readBitmap(bm[8:]) || bm[8]&0x80 != 0 {
			return nil, false // a tertiary bitmap: the generic path
		}
		last = 128
	}

	for id := 2; id <= last; id++ {
		if id == 65 || bm[(id-1)/8]&(0x80>>((id-1)%8)) == 0 {
			continue
		}
		f := &fc.fields[id]
		if f.enc == 0 {
			return nil, false
		}
		n := f.length
		switch f.digits {
		case 0:
		case 2:
			if f.bcdPrefix {
				if len(b)-off < 1 || !bcdByte(b[off]) {
					return nil, false
				}
				n = int(b[off]>>4)*10 + int(b[off]&0x0F)
				off++
			} else {
				if len(b)-off < 2 || !isDigit(b[off]) || !isDigit(b[off+1]) {
					return nil, false
				}
				n = int(b[off]-'0')*10 + int(b[off+1]-'0')
				off += 2
			}
		case 3:
			if f.bcdPrefix {
				// moov decodes four digits and drops the first.
				if len(b)-off < 2 || !bcdByte(b[off]) || !bcdByte(b[off+1]) {
					return nil, false
				}
				n = int(b[off]&0x0F)*100 + int(b[off+1]>>4)*10 + int(b[off+1]&0x0F)
				off += 2
			} else {
				if len(b)-off < 3 || !isDigit(b[off]) || !isDigit(b[off+1]) || !isDigit(b[off+2]) {
					return nil, false
				}
				n = int(b[off]-'0')*100 + int(b[off+1]-'0')*10 + int(b[off+2]-'0')
				off += 3
			}
		}
		if n > f.length {
			return nil, false
		}
		var text string
		var raw []byte
		switch f.enc {
		case fastASCII:
			if len(b)-off < n {
				return nil, false
			}
			for i := off; i < off+n; i++ {
				if b[i] > 127 {
					return nil, false
				}
			}
			text = s[off : off+n]
			off += n
		case fastHexBin:
			if len(b)-off < 2*n {
				return nil, false
			}
			raw = make([]byte, n)
			if _, err := hex.Decode(raw, b[off:off+2*n]); err != nil {
				return nil, false
			}
			off += 2 * n
		case fastBinary:
			if len(b)-off < n {
				return nil, false
			}
			raw = append(make([]byte, 0, n), b[off:off+n]...)
			off += n
		case fastBCD, fastBCDLeft:
			k := (n + 1) / 2
			if len(b)-off < k {
				return nil, false
			}
			out := make([]byte, 0, 2*k)
			for _, c := range b[off : off+k] {
				if !bcdByte(c) {
					return nil, false
				}
				out = append(out, '0'+c>>4, '0'+c&0x0F)
			}
			switch {
			case f.enc == fastBCD:
				text = string(out[2*k-n:])
			case n%2 == 1 && out[2*k-1] != '0':
				return nil, false // CUP with an F (or other) filler: the generic path decides
			default:
				text = string(out[:n])
			}
			off += k
		case fastTrack2:
			k := (n + 1) / 2
			if len(b)-off < k {
				return nil, false
			}
			out := make([]byte, n)
			for i := 0; i < n; i++ {
				c := b[off+i/2]
				nib := c >> 4
				if i%2 == 1 {
					nib = c & 0x0F
				}
				switch {
				case nib <= 9:
					out[i] = '0' + nib
				case nib == 0xD:
					out[i] = '='
				default:
					return nil, false
				}
			}
			text = string(out)
			off += k
		}
		if f.binary {
			if p := m.bin(id); p != nil {
				*p = raw
				continue
			}
			text = string(appendUpperHex(make([]byte, 0, 2*len(raw)), raw))
		}
		if p := m.str(id); p != nil {
			*p = text
			continue
		}
		if text != "" {
			if m.Other == nil {
				m.Other = map[int]string{}
			}
			m.Other[id] = text
		}
	}
	if off != len(b) {
		return nil, false // trailing bytes: the generic path explains
	}
	return m, true
}

func bcdByte(c byte) bool { return c>>4 <= 9 && c&0x0F <= 9 }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
