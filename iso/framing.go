package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/posdrill/posdrill/iso/suggest"
)

// Framing errors, tested with errors.Is.
var (
	ErrFrameTooLarge = errors.New("frame length exceeds the maximum")
	ErrEmptyFrame    = errors.New("frame length is zero")
	ErrBadHeader     = errors.New("length header is not valid")
	ErrShortFrame    = errors.New("frame shorter than its TPDU")
)

// DefaultMaxFrame bounds a frame's length before anything is allocated for it.
const DefaultMaxFrame = 8192

// TPDULen is the size of the Transport Protocol Data Unit that dial-era POS networks put
// after the length header: 0x60, destination NII (2 bytes), source NII (2 bytes).
const TPDULen = 5

type headerKind int

const (
	len2 headerKind = iota
	len2BCD
	len4ASCII
	len4
)

var headerNames = map[string]headerKind{"len2": len2, "len2-bcd": len2BCD, "len4-ascii": len4ASCII, "len4": len4}

// Framing is the length header in front of each message, optionally followed by a TPDU and
// an application header of a fixed size (the UnionPay domestic POS header: 6 bytes).
type Framing struct {
	header headerKind
	TPDU   bool
	// AppHeader is the size in bytes of the application header after the TPDU (0: none).
	// The UnionPay domestic profile ("cup") has a 6-byte one, see CUPHeader.
	AppHeader int
}

// CUPFraming is the UnionPay domestic POS framing: a 2-byte binary length, the 5-byte TPDU
// and the 6-byte message header (application type, version, terminal status, processing
// requirement, software version).
var CUPFraming = Framing{header: len2, TPDU: true, AppHeader: CUPHeaderLen}

// MaxAppHeader bounds an application header's size (--header-len).
const MaxAppHeader = 64

// DefaultFraming is a 2-byte big-endian length header without TPDU.
var DefaultFraming = Framing{}

// Framings lists every built-in framing name.
func Framings() []string {
	return []string{"len2", "len2-bcd", "len4-ascii", "len4", "len2+tpdu", "len2-bcd+tpdu", "len4-ascii+tpdu", "len4+tpdu", "cup"}
}

// ParseFraming reads a framing name: len2 (default), len2-bcd, len4-ascii or len4, each
// optionally with "+tpdu" and then "+hdrN" (an N-byte application header after the TPDU);
// "cup" is len2+tpdu+hdr6, the UnionPay domestic POS framing.
func ParseFraming(name string) (Framing, error) {
	if name == "" {
		return DefaultFraming, nil
	}
	if name == "cup" {
		return CUPFraming, nil
	}
	unknown := func() (Framing, error) {
		return Framing{}, fmt.Errorf("%w; optionally +hdrN after +tpdu or the length", suggest.Unknown("framing", name, Framings()))
	}
	base, hdr := name, 0
	if i := strings.LastIndex(name, "+hdr"); i >= 0 {
		n, err := strconv.Atoi(name[i+len("+hdr"):])
		if err != nil || n < 1 || n > MaxAppHeader {
			return Framing{}, fmt.Errorf("framing %q: +hdrN needs N from 1 to %d", name, MaxAppHeader)
		}
		base, hdr = name[:i], n
	}
	base, tpdu := strings.CutSuffix(base, "+tpdu")
	h, ok := headerNames[base]
	if !ok {
		return unknown()
	}
	return Framing{header: h, TPDU: tpdu, AppHeader: hdr}, nil
}

// WithAppHeader returns the framing with an n-byte application header after the TPDU.
func (f Framing) WithAppHeader(n int) Framing {
	f.AppHeader = n
	return f
}

// String is the framing's name as ParseFraming reads it.
func (f Framing) String() string {
	if f == CUPFraming {
		return "cup"
	}
	for n, h := range headerNames {
		if h == f.header {
			if f.TPDU {
				n += "+tpdu"
			}
			if f.AppHeader > 0 {
				n += fmt.Sprintf("+hdr%d", f.AppHeader)
			}
			return n
		}
	}
	return "?"
}

// prefixLen is what comes between the length header and the ISO 8583 payload.
func (f Framing) prefixLen() int {
	n := f.AppHeader
	if f.TPDU {
		n += TPDULen
	}
	return n
}

// HeaderLen is the size of the length header in bytes.
func (f Framing) HeaderLen() int {
	if f.header == len4ASCII || f.header == len4 {
		return 4
	}
	return 2
}

// maxLen is the largest length the header can express.
func (f Framing) maxLen() int {
	switch f.header {
	case len2:
		return 0xFFFF
	case len2BCD:
		return 9999
	case len4ASCII:
		return 9999
	}
	return 1<<31 - 1
}

// Frame is one message as read off the wire.
type Frame struct {
	TPDU    []byte // nil unless the framing has one
	Header  []byte // the application header (CUP: 6 bytes); nil unless the framing has one
	Payload []byte // the packed ISO 8583 message
}

// ReadFrame reads one frame. It checks the length against max before allocating, and a
// frame cut short gives io.ErrUnexpectedEOF. A clean EOF before any byte gives io.EOF.
func (f Framing) ReadFrame(r io.Reader, max int) (Frame, error) {
	var hdr [4]byte
	h := hdr[:f.HeaderLen()]
	if _, err := io.ReadFull(r, h); err != nil {
		return Frame{}, err
	}
	n, err := f.DecodeLength(h)
	if err != nil {
		return Frame{}, err
	}
	if n == 0 {
		return Frame{}, ErrEmptyFrame
	}
	if max <= 0 {
		max = DefaultMaxFrame
	}
	if n > max {
		return Frame{}, fmt.Errorf("%w: header says %d bytes, maximum is %d", ErrFrameTooLarge, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, fmt.Errorf("reading %d-byte frame: %w", n, err)
	}
	if !f.TPDU && f.AppHeader == 0 {
		return Frame{Payload: body}, nil
	}
	return f.SplitFrame(body)
}

// SplitFrame splits a frame's body (what the length header counts) into TPDU, application
// header and payload. A body too short for them is an ErrShortFrame naming the part.
func (f Framing) SplitFrame(body []byte) (Frame, error) {
	var fr Frame
	off := 0
	if f.TPDU {
		if len(body) < TPDULen {
			return Frame{}, fmt.Errorf("%w: %d bytes, the TPDU needs %d", ErrShortFrame, len(body), TPDULen)
		}
		fr.TPDU = body[:TPDULen:TPDULen]
		off = TPDULen
	}
	if f.AppHeader > 0 {
		if len(body)-off < f.AppHeader {
			return Frame{}, fmt.Errorf("%w: %d bytes after byte %d, the %d-byte message header needs %d",
				ErrShortFrame, len(body)-off, off, f.AppHeader, f.AppHeader)
		}
		fr.Header = body[off : off+f.AppHeader : off+f.AppHeader]
		off += f.AppHeader
	}
	fr.Payload = body[off:]
	return fr, nil
}

// DecodeLength reads a length header of this framing (HeaderLen bytes). Tools that scan
// bytes themselves (frame trackers, dump detection) use it rather than a copy.
func (f Framing) DecodeLength(h []byte) (int, error) {
	if len(h) != f.HeaderLen() {
		return 0, fmt.Errorf("%w: %d bytes, a %s header has %d", ErrBadHeader, len(h), f, f.HeaderLen())
	}
	switch f.header {
	case len2:
		return int(binary.BigEndian.Uint16(h)), nil
	case len4:
		n := binary.BigEndian.Uint32(h)
		if n > 1<<31-1 {
			return 0, fmt.Errorf("%w: % X", ErrBadHeader, h)
		}
		return int(n), nil
	case len2BCD:
		n := 0
		for _, b := range h {
			hi, lo := b>>4, b&0x0F
			if hi > 9 || lo > 9 {
				return 0, fmt.Errorf("%w: % X is not BCD", ErrBadHeader, h)
			}
			n = n*100 + int(hi)*10 + int(lo)
		}
		return n, nil
	default: // len4ASCII
		n := 0
		for _, c := range h {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("%w: %q is not 4 ASCII digits", ErrBadHeader, h)
			}
			n = n*10 + int(c-'0')
		}
		return n, nil
	}
}

// AppendFrame appends the framed message (header, TPDU when the framing has one, payload)
// to dst. A nil tpdu with a TPDU framing writes the default 60 0000 0000; an application
// header, when the framing has one, is the default (DefaultAppHeader).
func (f Framing) AppendFrame(dst, tpdu, payload []byte) ([]byte, error) {
	return f.AppendFrameHeader(dst, tpdu, nil, payload)
}

// DefaultAppHeader is the application header written when none is given: the CUP default
// header for a 6-byte one, zeros otherwise.
func (f Framing) DefaultAppHeader() []byte {
	if f.AppHeader == CUPHeaderLen {
		return DefaultCUPHeader.Bytes()
	}
	return make([]byte, f.AppHeader)
}

// AppendFrameHeader is AppendFrame with an application header (nil: DefaultAppHeader). It is
// ignored when the framing has none.
func (f Framing) AppendFrameHeader(dst, tpdu, hdr, payload []byte) ([]byte, error) {
	n := len(payload)
	if f.TPDU {
		n += TPDULen
		if tpdu == nil {
			tpdu = []byte{0x60, 0, 0, 0, 0}
		}
		if len(tpdu) != TPDULen {
			return nil, fmt.Errorf("TPDU must be %d bytes, got %d", TPDULen, len(tpdu))
		}
	}
	if f.AppHeader > 0 {
		n += f.AppHeader
		if hdr == nil {
			hdr = f.DefaultAppHeader()
		}
		if len(hdr) != f.AppHeader {
			return nil, fmt.Errorf("message header must be %d bytes, got %d", f.AppHeader, len(hdr))
		}
	}
	if n > f.maxLen() {
		return nil, fmt.Errorf("%w: %d bytes do not fit a %s header", ErrFrameTooLarge, n, f)
	}
	switch f.header {
	case len2:
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	case len4:
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	case len2BCD:
		dst = append(dst, byte((n/1000)<<4|(n/100)%10), byte(((n/10)%10)<<4|n%10))
	default:
		dst = fmt.Appendf(dst, "%04d", n)
	}
	if f.TPDU {
		dst = append(dst, tpdu...)
	}
	if f.AppHeader > 0 {
		dst = append(dst, hdr...)
	}
	return append(dst, payload...), nil
}

// ReplyTPDU swaps the destination and source addresses of a request's TPDU, as a host does
// in its reply. A nil or short TPDU is returned unchanged.
func ReplyTPDU(t []byte) []byte {
	if len(t) != TPDULen {
		return t
	}
	return []byte{t[0], t[3], t[4], t[1], t[2]}
}
