package iso

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
)

// Message is an ISO 8583:1987 message with the fields the card-present flows use as named
// values and anything else in Other. Numeric fields are strings of digits as they travel
// (leading zeros kept); binary fields are bytes.
type Message struct {
	MTI               string
	PAN               string // 2
	ProcessingCode    string // 3
	Amount            string // 4, minor units, n12
	TransmissionTime  string // 7, MMDDhhmmss (UTC)
	STAN              string // 11
	LocalTime         string // 12, hhmmss
	LocalDate         string // 13, MMDD
	Expiry            string // 14, YYMM
	EntryMode         string // 22, n3
	CardSeq           string // 23
	ConditionCode     string // 25
	AcquirerID        string // 32
	Track2            string // 35
	RRN               string // 37
	AuthCode          string // 38
	ResponseCode      string // 39 (in a reversal request: the reversal reason)
	TerminalID        string // 41
	MerchantID        string // 42
	AdditionalResp    string // 44
	Currency          string // 49
	PINBlock          []byte // 52
	AdditionalAmounts string // 54
	EMV               []byte // 55
	Batch             string // 60: batch number in 0500/0320
	Private63         string // 63
	MAC               []byte // 64
	NetworkCode       string // 70: 001 sign-on, 002 sign-off, 301 echo
	CreditsNumber     string // 74: refunds in the batch
	DebitsNumber      string // 76: sales in the batch
	CreditsAmount     string // 86
	DebitsAmount      string // 88
	OriginalData      string // 90
	ReplacementAmts   string // 95
	NetSettlement     string // 97
	MAC2              []byte // 128

	// Other holds fields without a name above, as they travel (binary ones hex-encoded).
	Other map[int]string

	// Header is the frame's application header (the CUP 6-byte message header), not part of
	// the packed message: a Conn sets it on what it reads when the framing has one, and
	// writes it in front of the payload (nil: the Conn's default header).
	Header []byte
}

func (m *Message) str(id int) *string {
	switch id {
	case 2:
		return &m.PAN
	case 3:
		return &m.ProcessingCode
	case 4:
		return &m.Amount
	case 7:
		return &m.TransmissionTime
	case 11:
		return &m.STAN
	case 12:
		return &m.LocalTime
	case 13:
		return &m.LocalDate
	case 14:
		return &m.Expiry
	case 22:
		return &m.EntryMode
	case 23:
		return &m.CardSeq
	case 25:
		return &m.ConditionCode
	case 32:
		return &m.AcquirerID
	case 35:
		return &m.Track2
	case 37:
		return &m.RRN
	case 38:
		return &m.AuthCode
	case 39:
		return &m.ResponseCode
	case 41:
		return &m.TerminalID
	case 42:
		return &m.MerchantID
	case 44:
		return &m.AdditionalResp
	case 49:
		return &m.Currency
	case 54:
		return &m.AdditionalAmounts
	case 60:
		return &m.Batch
	case 63:
		return &m.Private63
	case 70:
		return &m.NetworkCode
	case 74:
		return &m.CreditsNumber
	case 76:
		return &m.DebitsNumber
	case 86:
		return &m.CreditsAmount
	case 88:
		return &m.DebitsAmount
	case 90:
		return &m.OriginalData
	case 95:
		return &m.ReplacementAmts
	case 97:
		return &m.NetSettlement
	}
	return nil
}

func (m *Message) bin(id int) *[]byte {
	switch id {
	case 52:
		return &m.PINBlock
	case 55:
		return &m.EMV
	case 64:
		return &m.MAC
	case 128:
		return &m.MAC2
	}
	return nil
}

// namedIDs are the fields with a name in Message, in order.
var namedIDs = []int{2, 3, 4, 7, 11, 12, 13, 14, 22, 23, 25, 32, 35, 37, 38, 39, 41, 42, 44, 49, 52, 54, 55, 60, 63, 64, 70, 74, 76, 86, 88, 90, 95, 97, 128}

// Get returns a field's value as it travels (binary fields hex-encoded, upper case) and
// whether it is present.
func (m *Message) Get(id int) (string, bool) {
	if p := m.str(id); p != nil {
		return *p, *p != ""
	}
	if p := m.bin(id); p != nil {
		return strings.ToUpper(hex.EncodeToString(*p)), len(*p) > 0
	}
	v, ok := m.Other[id]
	return v, ok
}

// Set sets a field from its text form (binary fields as hex). An empty value unsets it.
func (m *Message) Set(id int, v string) error {
	if p := m.str(id); p != nil {
		*p = v
		return nil
	}
	if p := m.bin(id); p != nil {
		b, err := hex.DecodeString(v)
		if err != nil {
			return fmt.Errorf("field %d: binary value must be hex: %w", id, err)
		}
		*p = b
		return nil
	}
	if id < 2 || id > 128 {
		return fmt.Errorf("field %d does not exist", id)
	}
	if v == "" {
		delete(m.Other, id)
		return nil
	}
	if m.Other == nil {
		m.Other = map[int]string{}
	}
	m.Other[id] = v
	return nil
}

// Present lists the field numbers set, in order.
func (m *Message) Present() []int {
	var ids []int
	for _, id := range namedIDs {
		if _, ok := m.Get(id); ok {
			ids = append(ids, id)
		}
	}
	for id := range m.Other {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// Clone returns a deep copy.
func (m *Message) Clone() *Message {
	c := *m
	for _, id := range []int{52, 55, 64, 128} {
		if p := c.bin(id); *p != nil {
			*p = append([]byte(nil), *p...)
		}
	}
	if c.Header != nil {
		c.Header = append([]byte(nil), c.Header...)
	}
	if m.Other != nil {
		c.Other = make(map[int]string, len(m.Other))
		for k, v := range m.Other {
			c.Other[k] = v
		}
	}
	return &c
}

// ValidMTI reports whether s is four decimal digits.
func ValidMTI(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ErrBadMTI is returned when packing a message without a valid MTI (moov packs an empty one
// silently).
var ErrBadMTI = errors.New("MTI must be 4 digits")

// Pack encodes the message in the dialect.
func (d *Dialect) Pack(m *Message) ([]byte, error) {
	return d.AppendPack(nil, m)
}

// AppendPack appends the encoded message to dst.
func (d *Dialect) AppendPack(dst []byte, m *Message) ([]byte, error) {
	// The hand-written codec gives the same bytes ten times faster; anything it does not
	// handle exactly as below falls through (see fastpath.go).
	if out, ok := d.fastAppendPack(dst, m); ok {
		return out, nil
	}
	if !ValidMTI(m.MTI) {
		return nil, fmt.Errorf("%w, got %q", ErrBadMTI, m.MTI)
	}
	mti := field.NewInstanceOf(d.Spec.Fields[0])
	if err := mti.SetBytes([]byte(m.MTI)); err != nil {
		return nil, err
	}
	out, err := mti.Pack()
	if err != nil {
		return nil, fmt.Errorf("failed to pack MTI: %w", err)
	}
	dst = append(dst, out...)
	bm, ok := field.NewInstanceOf(d.Spec.Fields[1]).(*field.Bitmap)
	if !ok {
		return nil, fmt.Errorf("dialect %s: field 1 is not a bitmap", d.Name)
	}
	ids := m.Present()
	for _, id := range ids {
		bm.Set(id)
	}
	out, err = bm.Pack()
	if err != nil {
		return nil, fmt.Errorf("failed to pack bitmap: %w", err)
	}
	dst = append(dst, out...)
	for _, id := range ids {
		spec, ok := d.Spec.Fields[id]
		if !ok {
			return nil, fmt.Errorf("failed to pack field %d: not defined in dialect %s", id, d.Name)
		}
		f := field.NewInstanceOf(spec)
		var raw []byte
		if p := m.bin(id); p != nil {
			raw = *p
			if _, isBin := f.(*field.Binary); !isBin {
				raw = []byte(strings.ToUpper(hex.EncodeToString(raw)))
			}
		} else {
			v, _ := m.Get(id)
			if _, isBin := f.(*field.Binary); isBin {
				if raw, err = hex.DecodeString(v); err != nil {
					return nil, fmt.Errorf("failed to pack field %d (%s): binary value is not hex", id, spec.Spec().Description)
				}
			} else {
				raw = []byte(v)
				if p, ok := d.pad[id]; ok && len(raw) < p.length {
					raw = padTo(raw, p)
				}
			}
		}
		if err := f.SetBytes(raw); err != nil {
			return nil, fmt.Errorf("failed to pack field %d (%s): %w", id, spec.Spec().Description, err)
		}
		out, err := f.Pack()
		if err != nil {
			return nil, fmt.Errorf("failed to pack field %d (%s): %w", id, spec.Spec().Description, safeErr(err))
		}
		dst = append(dst, out...)
	}
	return dst, nil
}

// DecodeError says where an unpack failed. It never carries the raw message (which holds
// the PAN).
type DecodeError struct {
	FieldID   int    // -1 for the MTI, 1 for the bitmap
	FieldName string // from the dialect
	Offset    int    // byte offset in the payload where the field starts
	Reason    string // what was expected and what was found
}

func (e *DecodeError) Error() string {
	what := fmt.Sprintf("field %d (%s)", e.FieldID, e.FieldName)
	if e.FieldID == -1 {
		what = "MTI"
	}
	return fmt.Sprintf("byte %d, %s: %s", e.Offset, what, e.Reason)
}

// Field is one unpacked field, for tools that show every field.
type Field struct {
	ID     int
	Offset int    // where it starts in the payload
	Len    int    // bytes it took on the wire
	Value  string // text form (binary fields hex-encoded)
	Binary bool
}

// Decoded is a message as it was unpacked, field by field.
type Decoded struct {
	MTI      string
	Bitmap   []byte
	Fields   []Field
	Trailing int // bytes after the last field (moov ignores them silently; we report them)
}

// Decode walks the payload field by field so that an error can say at which byte and
// which field it failed. On a failure after the MTI it also returns what it decoded so far
// (the fields before the one that failed), for tools that show them. It recovers from
// panics in the codec: input is untrusted.
func (d *Dialect) Decode(b []byte) (dec *Decoded, err error) {
	cur := &DecodeError{FieldID: -1, FieldName: "Message Type Indicator"}
	defer func() {
		if r := recover(); r != nil {
			cur.Reason = fmt.Sprintf("malformed input (codec panic: %v)", r)
			dec, err = nil, cur
		}
	}()
	fail := func(reason string) (*Decoded, error) {
		cur.Reason = reason
		return dec, cur
	}
	mti := field.NewInstanceOf(d.Spec.Fields[0])
	n, err := mti.Unpack(b)
	if err != nil {
		return fail(safeErr(err).Error())
	}
	raw, _ := mti.Bytes()
	if !ValidMTI(string(raw)) {
		return fail(fmt.Sprintf("expected 4 digits, found %q", printable(raw)))
	}
	dec = &Decoded{MTI: string(raw)}
	off := n
	cur = &DecodeError{FieldID: 1, FieldName: "Bitmap", Offset: off}
	bm, ok := field.NewInstanceOf(d.Spec.Fields[1]).(*field.Bitmap)
	if !ok {
		return fail("dialect field 1 is not a bitmap")
	}
	if off >= len(b) {
		return fail("expected a bitmap, found end of message")
	}
	n, err = bm.Unpack(b[off:])
	if err != nil {
		return fail(safeErr(err).Error())
	}
	dec.Bitmap, _ = bm.Bytes()
	off += n
	last := min(bm.Len(), 128)
	for id := 2; id <= last; id++ {
		if bm.IsBitmapPresenceBit(id) || !bm.IsSet(id) {
			continue
		}
		spec, ok := d.Spec.Fields[id]
		name := "undefined"
		if ok {
			name = spec.Spec().Description
		}
		cur = &DecodeError{FieldID: id, FieldName: name, Offset: off}
		if !ok {
			return fail("bit is set but the dialect does not define this field")
		}
		if off >= len(b) {
			return fail("bit is set but the message ended")
		}
		f := field.NewInstanceOf(spec)
		n, err := f.Unpack(b[off:])
		if err != nil {
			return fail(safeErr(err).Error())
		}
		v, _ := f.Bytes()
		if spec.Spec().Enc == encoding.BCD && !AllDigits(string(v)) {
			// moov decodes a nibble F anywhere as a space and packs nothing but digits: a
			// numeric BCD field must hold digits only (regression seed
			// testdata/fuzz/FuzzUnpackBCD/regress-bcd-filler-nibble).
			return fail("packed BCD holds a nibble that is not a decimal digit")
		}
		fd := Field{ID: id, Offset: off, Len: n}
		if _, isBin := f.(*field.Binary); isBin {
			fd.Binary = true
			fd.Value = strings.ToUpper(hex.EncodeToString(v))
		} else {
			fd.Value = string(v)
		}
		dec.Fields = append(dec.Fields, fd)
		off += n
	}
	dec.Trailing = len(b) - off
	return dec, nil
}

// Unpack decodes a payload into a Message. Trailing bytes after the last field are an
// error: a peer that sends them has a different dialect.
func (d *Dialect) Unpack(b []byte) (*Message, error) {
	if m, ok := d.fastUnpack(b); ok {
		return m, nil
	}
	dec, err := d.Decode(b)
	if err != nil {
		return nil, err
	}
	if dec.Trailing > 0 {
		return nil, &DecodeError{FieldID: 0, FieldName: "end of message", Offset: len(b) - dec.Trailing,
			Reason: fmt.Sprintf("%d bytes left after the last field the bitmap announces", dec.Trailing)}
	}
	return dec.Message()
}

// Message converts the decoded fields into a Message.
func (dec *Decoded) Message() (*Message, error) {
	m := &Message{MTI: dec.MTI}
	for _, f := range dec.Fields {
		if p := m.bin(f.ID); p != nil {
			b, err := hex.DecodeString(f.Value)
			if err != nil && !f.Binary {
				// A user dialect may carry it as text that is not hex: keep the bytes.
				b = []byte(f.Value)
			}
			*p = b
			continue
		}
		if err := m.Set(f.ID, f.Value); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// safeErr drops anything a codec error may carry beyond its text: moov's UnpackError holds
// the raw message, and with it the PAN.
func safeErr(err error) error {
	return errors.New(MaskText(err.Error()))
}

func padTo(v []byte, p fixedPad) []byte {
	out := make([]byte, p.length)
	fill := p.length - len(v)
	if p.left {
		for i := 0; i < fill; i++ {
			out[i] = p.char
		}
		copy(out[fill:], v)
		return out
	}
	copy(out, v)
	for i := len(v); i < p.length; i++ {
		out[i] = p.char
	}
	return out
}

func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7F {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, `\x%02X`, c)
		}
	}
	return sb.String()
}

// MTI helpers. Digits: version, class, function, origin.

// IsResponse reports whether the MTI is a response or advice response (function 1 or 3).
func IsResponse(mti string) bool {
	return len(mti) == 4 && (mti[2] == '1' || mti[2] == '3')
}

// ResponseMTI is the MTI that answers a request or advice: 0200/0201 → 0210, 0420 → 0430.
func ResponseMTI(mti string) string {
	if len(mti) != 4 {
		return mti
	}
	return mti[:2] + string(mti[2]+1) + "0"
}

// RepeatMTI is the repeat of a request or advice: 0400 → 0401, 0420 → 0421.
func RepeatMTI(mti string) string {
	if len(mti) != 4 {
		return mti
	}
	return mti[:3] + "1"
}

// BaseMTI drops the repeat digit: 0421 → 0420.
func BaseMTI(mti string) string {
	if len(mti) != 4 {
		return mti
	}
	return mti[:3] + "0"
}

// IsRepeat reports whether the MTI is a repeat (origin digit 1).
func IsRepeat(mti string) bool { return len(mti) == 4 && mti[3] == '1' }

// Amount parses an n12 amount in minor units.
func ParseAmount(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("amount is missing")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("amount %q is not a number of minor units", s)
	}
	return n, nil
}

// FormatAmount renders minor units as n12 (a value of more than 12 digits is written whole,
// and the packer refuses it). It runs once per message in the load generator: no fmt.
func FormatAmount(minor int64) string {
	s := strconv.FormatInt(minor, 10)
	if len(s) >= 12 || minor < 0 {
		return s
	}
	return "000000000000"[:12-len(s)] + s
}

// AllDigits reports whether s is one or more ASCII digits.
func AllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// AnswerKey is what pairs an answer with the request it answers: the message class (the
// MTI's second digit: a 0210 answers a 0200 or its repeat 0201, a 0430 a 0420), the STAN and
// the terminal id (DE41, blanks trimmed). Build it with AnswerKeyOf; compare with Answers.
type AnswerKey struct {
	Class    byte // 0 when the MTI is not 4 characters: such a key answers nothing
	STAN     string
	Terminal string
}

// AnswerKeyOf is the key of a message with this MTI, STAN and terminal id.
func AnswerKeyOf(mti, stan, terminal string) AnswerKey {
	var class byte
	if len(mti) == 4 {
		class = mti[1]
	}
	return AnswerKey{Class: class, STAN: stan, Terminal: strings.TrimSpace(terminal)}
}

// AnswerKey is m's key (AnswerKeyOf).
func (m *Message) AnswerKey() AnswerKey { return AnswerKeyOf(m.MTI, m.STAN, m.TerminalID) }

// Answers reports whether the answer keyed answer answers the request keyed req: the same
// class and STAN, and the same terminal unless the answer names none (some hosts leave DE41
// out of answers). This is the one rule every side pairs by — the terminal's connection
// (Conn), the fault proxy (acquirer/fault.Shaper), trace readers (iso/trace) and the scenario
// runner's flows — so that what one calls an answer the others do too. Whether the answer
// is acceptable (its exact MTI, DE39, amount) is the caller's next question.
func Answers(req, answer AnswerKey) bool {
	return req.Class != 0 && req.Class == answer.Class && req.STAN == answer.STAN &&
		(answer.Terminal == "" || answer.Terminal == req.Terminal)
}
