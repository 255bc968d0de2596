package iso

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/prefix"
)

// The UnionPay (CUP) domestic POS profile: the wire facts shared by terminal and acquirer.
// Sources: docs/cup.md (public facts only; the scheme documents are confidential). Values
// that could not be verified are profile settings, not constants here.

// CUP is the UnionPay domestic POS dialect: BCD MTI, binary bitmap, numerics as packed BCD
// with an odd count aligned left and padded with a 0 nibble on the right (the CUP rule; the
// generic "bcd" dialect pads on the left), BCD length prefixes counting digits (numerics)
// or bytes (binary), text in ASCII. DE48/60/61 are BCD numerics, DE62 binary (key delivery
// at sign-on), DE63 text, DE49 an3.
var CUP = buildDialectDefs("cup", cupLayout(), cupFields())

func cupFields() []fieldDef {
	defs := append([]fieldDef(nil), fields87...)
	over := map[int]fieldDef{
		48: {48, kN, 322, 3, "Additional Data - Private (batch totals)"},
		49: {49, kAN, 3, 0, "Currency Code, Transaction"},
		60: {60, kN, 100, 3, "Reserved Private (60.1 type, 60.2 batch, 60.3 network code)"},
		61: {61, kN, 29, 3, "Original Message (batch, STAN, date)"},
		62: {62, kB, 512, 3, "Reserved Private (working keys at sign-on)"},
		63: {63, kAN, 163, 3, "Reserved Private (operator, card organisation)"},
	}
	for i, d := range defs {
		if o, ok := over[d.id]; ok {
			defs[i] = o
		}
	}
	return defs
}

func cupLayout() layout {
	l := bcdLayout()
	l.enc = func(k kind) (encoding.Encoder, prefix.Prefixers) {
		e, p := bcdLayout().enc(k)
		if k == kN {
			return cupBCD, p
		}
		return e, p
	}
	return l
}

// cupBCD packs digits two to a byte; an odd count is aligned left and the last byte's low
// nibble is a 0 filler (CUP: "左靠，右补0"). Decoding accepts a 0 or F filler.
var cupBCD encoding.Encoder = leftBCDEncoder{}

type leftBCDEncoder struct{}

func (leftBCDEncoder) Encode(src []byte) ([]byte, error) {
	// The 0 filler of an odd count is what packLeft leaves.
	return packLeft(src, func(c byte, i int) (byte, error) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("BCD character %q at %d is not a digit", c, i)
		}
		return c - '0', nil
	})
}

func (leftBCDEncoder) Decode(src []byte, length int) ([]byte, int, error) {
	out, read, err := unpackLeft(src, length, func(n byte, i int) (byte, error) {
		if n > 9 {
			return 0, fmt.Errorf("packed BCD nibble %X at digit %d (byte %d) is not a decimal digit", n, i, i/2)
		}
		return '0' + n, nil
	})
	if err != nil {
		return nil, 0, err
	}
	if length%2 == 1 {
		if f := src[read-1] & 0x0F; f != 0 && f != 0xF {
			return nil, 0, fmt.Errorf("filler nibble %X in byte %d is not 0 or F", f, read-1)
		}
	}
	return out, read, nil
}

// ErrMalformed marks a CUP structure (message header, DE60, DE62) that does not parse; the
// error is a *PartError saying which part and which byte.
var ErrMalformed = errors.New("malformed")

// PartError says where a structured value failed: which part, at which byte (of the part's
// own bytes, or digit for BCD digit strings) and what was wrong.
type PartError struct {
	Part   string // e.g. "message header", "DE60.2 batch number", "DE62 MAC key"
	Byte   int    // byte offset in the part's input (digit offset for digit strings)
	Unit   string // "byte" or "digit"
	Reason string
}

func (e *PartError) Error() string {
	u := e.Unit
	if u == "" {
		u = "byte"
	}
	return fmt.Sprintf("%s, %s %d: %s", e.Part, u, e.Byte, e.Reason)
}

// Unwrap lets errors.Is(err, ErrMalformed) hold.
func (e *PartError) Unwrap() error { return ErrMalformed }

// ---- the 6-byte message header ----------------------------------------------------------

// CUPHeaderLen is the size of the CUP message header after the TPDU.
const CUPHeaderLen = 6

// Processing requirement values of the header (处理要求): what the host asks the terminal to
// do after the current transaction (docs/domain.md §7).
const (
	CUPProcNone           = 0 // nothing
	CUPProcDownloadParams = 1 // download magnetic-stripe parameters
	CUPProcUploadStatus   = 2 // upload terminal status
	CUPProcSignOn         = 3 // sign on again (new working keys)
	CUPProcCAKeys         = 4 // update CA public keys
	CUPProcICParams       = 5 // download IC card parameters
	CUPProcTMSParams      = 6 // download TMS parameters
	CUPProcBlacklist      = 7 // download the BIN blacklist
	CUPProcRates          = 8 // download rates and fees
)

var cupProcNames = [...]string{"none", "download parameters", "upload status", "sign on again",
	"update CA public keys", "download IC parameters", "download TMS parameters",
	"download BIN blacklist", "download rates"}

// CUPProcessingMeaning names a processing requirement value.
func CUPProcessingMeaning(p int) string {
	if p >= 0 && p < len(cupProcNames) {
		return cupProcNames[p]
	}
	return fmt.Sprintf("unknown (%d)", p)
}

// CUPHeader is the 6-byte BCD message header: application type n2 (60 = POS), version n2,
// terminal status n1, processing requirement n1 (a request carries 0; an answer may ask for
// an action), software version n6.
type CUPHeader struct {
	AppType        string // 2 digits
	Version        string // 2 digits
	TerminalStatus int    // 0-9 (0 normal, 1 test)
	Processing     int    // 0-9, CUPProc*
	Software       string // 6 digits
}

// DefaultCUPHeader is what a terminal sends unless its profile says otherwise (the layout of
// a public 0200 dump: 60 31 00 31 10 03).
var DefaultCUPHeader = CUPHeader{AppType: "60", Version: "31", Software: "311003"}

// ParseCUPHeader reads a 6-byte message header. Every nibble must be a decimal digit.
func ParseCUPHeader(b []byte) (CUPHeader, error) {
	if len(b) != CUPHeaderLen {
		return CUPHeader{}, &PartError{Part: "message header", Byte: min(len(b), CUPHeaderLen),
			Reason: fmt.Sprintf("expected %d bytes, found %d", CUPHeaderLen, len(b))}
	}
	names := [...]string{"application type", "version", "terminal status / processing requirement", "software version", "software version", "software version"}
	d := make([]byte, 0, 12)
	for i, c := range b {
		if !bcdByte(c) {
			return CUPHeader{}, &PartError{Part: "message header " + names[i], Byte: i,
				Reason: fmt.Sprintf("%02X is not two BCD digits", c)}
		}
		d = append(d, '0'+c>>4, '0'+c&0x0F)
	}
	return CUPHeader{AppType: string(d[0:2]), Version: string(d[2:4]), TerminalStatus: int(d[4] - '0'),
		Processing: int(d[5] - '0'), Software: string(d[6:12])}, nil
}

// Bytes packs the header (invalid parts as zeros; Validate first where it matters).
func (h CUPHeader) Bytes() []byte {
	s := fmt.Sprintf("%2.2s%2.2s%d%d%6.6s", pad0(h.AppType, 2), pad0(h.Version, 2), h.TerminalStatus%10, h.Processing%10, pad0(h.Software, 6))
	out, err := cupBCD.Encode([]byte(s))
	if err != nil {
		return make([]byte, CUPHeaderLen)
	}
	return out
}

// Validate checks every part's digits.
func (h CUPHeader) Validate() error {
	switch {
	case len(h.AppType) != 2 || !AllDigits(h.AppType):
		return &PartError{Part: "message header application type", Byte: 0, Reason: fmt.Sprintf("expected 2 digits, found %q", h.AppType)}
	case len(h.Version) != 2 || !AllDigits(h.Version):
		return &PartError{Part: "message header version", Byte: 1, Reason: fmt.Sprintf("expected 2 digits, found %q", h.Version)}
	case h.TerminalStatus < 0 || h.TerminalStatus > 9:
		return &PartError{Part: "message header terminal status", Byte: 2, Reason: fmt.Sprintf("expected 0-9, found %d", h.TerminalStatus)}
	case h.Processing < 0 || h.Processing > 9:
		return &PartError{Part: "message header processing requirement", Byte: 2, Reason: fmt.Sprintf("expected 0-9, found %d", h.Processing)}
	case len(h.Software) != 6 || !AllDigits(h.Software):
		return &PartError{Part: "message header software version", Byte: 3, Reason: fmt.Sprintf("expected 6 digits, found %q", h.Software)}
	}
	return nil
}

// String renders the header as its 12 digits.
func (h CUPHeader) String() string {
	return fmt.Sprintf("%s%s%d%d%s", h.AppType, h.Version, h.TerminalStatus, h.Processing, h.Software)
}

// ReplyCUPHeader is the header a host puts on its answer to a request header: the same,
// with the processing requirement set (CUPProcNone unless the host wants an action). An
// unreadable request header gives the default with the requirement.
func ReplyCUPHeader(req []byte, processing int) []byte {
	h, err := ParseCUPHeader(req)
	if err != nil {
		h = DefaultCUPHeader
	}
	h.Processing = processing
	return h.Bytes()
}

func pad0(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return strings.Repeat("0", n-len(s)) + s
}

// ---- DE60 ---------------------------------------------------------------------------------

// Transaction type codes of DE60.1.
const (
	CUPTypeManagement    = "00" // sign-on, sign-off, settlement, batch upload, echo
	CUPTypeBalance       = "01"
	CUPTypePreAuth       = "10"
	CUPTypePreAuthCancel = "11"
	CUPTypeCompletion    = "20"
	CUPTypeSale          = "22"
	CUPTypeSaleVoid      = "23"
	CUPTypeRefund        = "25"
	CUPTypeOfflineAdvice = "30"
)

// Network management information codes of DE60.3.
const (
	CUPNetNone        = "000"
	CUPNetSignOn      = "001" // sign-on, single-length working keys (DE62: 24 bytes)
	CUPNetSignOff     = "002"
	CUPNetSignOnTDES  = "003" // sign-on, double-length keys (40 bytes)
	CUPNetSignOnTDK   = "004" // double-length keys and a track key (60 bytes)
	CUPNetSettle      = "201" // settlement (0500) and batch upload of magnetic-stripe transactions (0320)
	CUPNetUploadEnd   = "202" // end of batch upload (0320)
	CUPNetUploadIC    = "206" // batch upload of chip transactions (docs/domain.md §7; profile-specific)
	CUPNetUploadEndIC = "207" // end of batch upload including chip transactions (docs/domain.md §7; profile-specific)
	CUPNetEcho        = "301"
)

// DE60 is the CUP "reserved private" field 60, as digits: 60.1 transaction type n2, 60.2
// batch number n6, 60.3 network management information code n3, then optional 60.4 terminal
// read capability n1, 60.5 IC condition code n1 and further digits kept as they are.
type DE60 struct {
	Type    string
	Batch   string
	NetCode string
	ReadCap string // "" when absent
	ICCond  string // "" when absent
	Rest    string // digits after 60.5
}

// ParseDE60 reads DE60 digits (as Message.Batch holds them after a CUP unpack).
func ParseDE60(s string) (DE60, error) {
	parts := []struct {
		name string
		n    int
	}{{"DE60.1 transaction type", 2}, {"DE60.2 batch number", 6}, {"DE60.3 network management code", 3}}
	var got [3]string
	off := 0
	for i, p := range parts {
		if len(s)-off < p.n {
			return DE60{}, &PartError{Part: p.name, Byte: off, Unit: "digit",
				Reason: fmt.Sprintf("expected %d digits, found %d (DE60 has %d digits, at least 11 needed)", p.n, len(s)-off, len(s))}
		}
		v := s[off : off+p.n]
		if !AllDigits(v) {
			return DE60{}, &PartError{Part: p.name, Byte: off, Unit: "digit", Reason: fmt.Sprintf("expected digits, found %q", v)}
		}
		got[i] = v
		off += p.n
	}
	d := DE60{Type: got[0], Batch: got[1], NetCode: got[2]}
	rest := s[off:]
	if !AllDigits(rest) && rest != "" {
		return DE60{}, &PartError{Part: "DE60.4+", Byte: off, Unit: "digit", Reason: fmt.Sprintf("expected digits, found %q", rest)}
	}
	if len(rest) > 0 {
		d.ReadCap, rest = rest[:1], rest[1:]
	}
	if len(rest) > 0 {
		d.ICCond, rest = rest[:1], rest[1:]
	}
	d.Rest = rest
	return d, nil
}

// String renders DE60 digits. Missing parts are zero-filled.
func (d DE60) String() string {
	s := pad0(d.Type, 2) + pad0(d.Batch, 6) + pad0(d.NetCode, 3)
	switch {
	case d.ICCond != "" || d.Rest != "":
		s += pad0(d.ReadCap, 1) + pad0(d.ICCond, 1) + d.Rest
	case d.ReadCap != "":
		s += d.ReadCap
	}
	return s
}

// BatchNumber is the batch number a message carries in DE60: the whole field in the
// generic dialects (n6), DE60.2 when it holds a CUP DE60 (11 digits or more).
func BatchNumber(m *Message) string {
	v := strings.TrimSpace(m.Batch)
	if len(v) >= 11 {
		if d, err := ParseDE60(v); err == nil {
			return d.Batch
		}
	}
	return v
}

// NetworkCodeOf is the network management code of a message: DE70, or DE60.3 of a CUP DE60
// when DE70 is absent (CUP messages have no secondary bitmap).
func NetworkCodeOf(m *Message) string {
	if m.NetworkCode != "" {
		return m.NetworkCode
	}
	if len(m.Batch) >= 11 {
		if d, err := ParseDE60(m.Batch); err == nil {
			switch d.NetCode {
			case CUPNetSignOn, CUPNetSignOnTDES, CUPNetSignOnTDK:
				return NetSignOn
			case CUPNetSignOff:
				return NetSignOff
			case CUPNetEcho:
				return NetEcho
			}
		}
	}
	return ""
}

// ---- DE62 working keys ------------------------------------------------------------------

// KCVLen is the length of a key check value in CUP key delivery: the first 4 bytes of the
// key encrypting 8 zero bytes.
const KCVLen = 4

// KeyBlock is DE62 of a sign-on answer: each working key encrypted under the terminal's
// master key (TMK), with its check value. TDK (track key) only with DE60.3 = 004.
type KeyBlock struct {
	PIK, PIKCheck []byte
	MAK, MAKCheck []byte
	TDK, TDKCheck []byte
}

// KeyBlockLen is DE62's length for a sign-on network code: 24 (single-length keys), 40
// (double-length) or 60 (double-length with track key).
func KeyBlockLen(netCode string) (keyLen int, total int, err error) {
	switch netCode {
	case CUPNetSignOn:
		return 8, 24, nil
	case CUPNetSignOnTDES:
		return 16, 40, nil
	case CUPNetSignOnTDK:
		return 16, 60, nil
	}
	return 0, 0, fmt.Errorf("DE60.3 %q is not a sign-on code (001, 003 or 004)", netCode)
}

// ParseKeyBlock splits DE62 by the sign-on code it answers. The error names the key and
// byte where the block ended early or runs on.
func ParseKeyBlock(b []byte, netCode string) (KeyBlock, error) {
	kl, total, err := KeyBlockLen(netCode)
	if err != nil {
		return KeyBlock{}, &PartError{Part: "DE62 key block", Byte: 0, Reason: err.Error()}
	}
	var kb KeyBlock
	dst := []*[]byte{&kb.PIK, &kb.PIKCheck, &kb.MAK, &kb.MAKCheck, &kb.TDK, &kb.TDKCheck}
	names := []string{"PIN key", "PIN key check value", "MAC key", "MAC key check value", "track key", "track key check value"}
	off := 0
	for i := 0; off < total; i++ {
		n := kl
		if i%2 == 1 {
			n = KCVLen
		}
		if len(b)-off < n {
			return KeyBlock{}, &PartError{Part: "DE62 " + names[i], Byte: off,
				Reason: fmt.Sprintf("expected %d bytes, found %d: a %d-byte key block for DE60.3 %s is %d bytes, got %d", n, len(b)-off, total, netCode, total, len(b))}
		}
		*dst[i] = append([]byte(nil), b[off:off+n]...)
		off += n
	}
	if len(b) != total {
		return KeyBlock{}, &PartError{Part: "DE62 key block", Byte: total,
			Reason: fmt.Sprintf("%d bytes after the last key: DE60.3 %s delivers %d bytes, got %d", len(b)-total, netCode, total, len(b))}
	}
	return kb, nil
}

// Bytes packs the key block in DE62 order.
func (kb KeyBlock) Bytes() []byte {
	var out []byte
	for _, p := range [][]byte{kb.PIK, kb.PIKCheck, kb.MAK, kb.MAKCheck, kb.TDK, kb.TDKCheck} {
		out = append(out, p...)
	}
	return out
}
