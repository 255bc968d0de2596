package iso

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
	"github.com/moov-io/iso8583/specs"

	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/suggest"
)

// Dialect is one wire layout of ISO 8583 messages: a moov-io spec value plus its name.
// The terminal and the acquirer import the same values; nothing builds fields ad hoc.
type Dialect struct {
	Name string
	Spec *iso8583.MessageSpec

	// pad fills short values of fixed-length fields on pack (numeric: '0' on the left,
	// text: ' ' on the right). The spec itself has no padder, because moov strips padding
	// on unpack and a STAN of 000123 must come back as 000123.
	pad map[int]fixedPad
	// defs is the field table the dialect was built from (nil for a user's JSON spec).
	defs []fieldDef
}

type fixedPad struct {
	length int
	char   byte
	left   bool
}

// The built-in dialects. Every field of ISO 8583:1987 is defined in each, so any legal
// subset a peer sends can be unpacked.
var (
	// ASCII is the default: ASCII MTI and fields, 8-byte binary bitmap, ASCII LL/LLL length
	// prefixes (jPOS ISO87APackagerBBitmap).
	ASCII = buildDialect("ascii", asciiLayout(false))
	// ASCIIHex is ASCII with a 16-character hex bitmap (jPOS ISO87APackager).
	ASCIIHex = buildDialect("ascii-hex", asciiLayout(true))
	// BCD packs numerics and length prefixes as BCD and the bitmap as binary (jPOS
	// ISO87BPackager style).
	BCD = buildDialect("bcd", bcdLayout())
)

// Dialects lists the built-in dialects, default first.
func Dialects() []*Dialect { return []*Dialect{ASCII, ASCIIHex, BCD, CUP} }

// DialectByName returns a built-in dialect, or loads a moov-io JSON spec file when name is
// a path to one (anything ending in .json or containing a path separator).
func DialectByName(name string) (*Dialect, error) {
	if name == "" {
		return ASCII, nil
	}
	for _, d := range Dialects() {
		if d.Name == name {
			return d, nil
		}
	}
	if strings.HasSuffix(name, ".json") || strings.ContainsRune(name, os.PathSeparator) {
		return LoadDialect(name)
	}
	return nil, fmt.Errorf("%w, or a moov-io JSON spec file", suggest.Unknown("dialect", name, DialectNames()))
}

// DialectNames lists the names of the built-in dialects, default first.
func DialectNames() []string {
	var names []string
	for _, d := range Dialects() {
		names = append(names, d.Name)
	}
	return names
}

// LoadDialect reads a user's own moov-io JSON spec.
func LoadDialect(path string) (*Dialect, error) {
	raw, err := bounded.ReadFile(path, bounded.MaxDocument)
	if err != nil {
		return nil, fmt.Errorf("reading dialect: %w", err)
	}
	if err := bounded.CheckJSON(raw, bounded.Document); err != nil {
		return nil, fmt.Errorf("dialect %s: %w", path, err)
	}
	spec, err := specs.Builder.ImportJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("dialect %s: %w", path, err)
	}
	if err := checkSpec(spec); err != nil {
		return nil, fmt.Errorf("dialect %s: %w", path, err)
	}
	name := spec.Name
	if name == "" {
		name = path
	}
	return &Dialect{Name: name, Spec: spec}, nil
}

// ExportJSON renders the dialect as a moov-io JSON spec, a starting point for a user's own.
func (d *Dialect) ExportJSON() ([]byte, error) { return specs.Builder.ExportJSON(d.Spec) }

func checkSpec(spec *iso8583.MessageSpec) error {
	if spec.Fields[0] == nil || spec.Fields[1] == nil {
		return fmt.Errorf("spec must define field 0 (MTI) and field 1 (bitmap)")
	}
	return nil
}

// kind is the ISO 8583 attribute of a field.
type kind int

const (
	kN  kind = iota // numeric digits
	kAN             // alphanumeric (and ans, a, ns, x+n: carried as text)
	kB              // binary
	kZ              // track data (digits and a separator)
)

type fieldDef struct {
	id     int
	k      kind
	length int // maximum (or fixed) length: digits/characters, bytes for kB
	vary   int // 0 fixed, 2 LL, 3 LLL
	desc   string
}

// fields87 is ISO 8583:1987, field by field. Amounts with a sign (x+n) are carried as text.
var fields87 = []fieldDef{
	{2, kN, 19, 2, "Primary Account Number"},
	{3, kN, 6, 0, "Processing Code"},
	{4, kN, 12, 0, "Amount, Transaction"},
	{5, kN, 12, 0, "Amount, Settlement"},
	{6, kN, 12, 0, "Amount, Cardholder Billing"},
	{7, kN, 10, 0, "Transmission Date & Time"},
	{8, kN, 8, 0, "Amount, Cardholder Billing Fee"},
	{9, kN, 8, 0, "Conversion Rate, Settlement"},
	{10, kN, 8, 0, "Conversion Rate, Cardholder Billing"},
	{11, kN, 6, 0, "System Trace Audit Number"},
	{12, kN, 6, 0, "Time, Local Transaction"},
	{13, kN, 4, 0, "Date, Local Transaction"},
	{14, kN, 4, 0, "Date, Expiration"},
	{15, kN, 4, 0, "Date, Settlement"},
	{16, kN, 4, 0, "Date, Conversion"},
	{17, kN, 4, 0, "Date, Capture"},
	{18, kN, 4, 0, "Merchant Type"},
	{19, kN, 3, 0, "Acquiring Institution Country Code"},
	{20, kN, 3, 0, "PAN Extended, Country Code"},
	{21, kN, 3, 0, "Forwarding Institution Country Code"},
	{22, kN, 3, 0, "Point of Service Entry Mode"},
	{23, kN, 3, 0, "Card Sequence Number"},
	{24, kN, 3, 0, "Network International Identifier"},
	{25, kN, 2, 0, "Point of Service Condition Code"},
	{26, kN, 2, 0, "Point of Service PIN Capture Code"},
	{27, kN, 1, 0, "Authorization Identification Response Length"},
	{28, kAN, 9, 0, "Amount, Transaction Fee"},
	{29, kAN, 9, 0, "Amount, Settlement Fee"},
	{30, kAN, 9, 0, "Amount, Transaction Processing Fee"},
	{31, kAN, 9, 0, "Amount, Settlement Processing Fee"},
	{32, kN, 11, 2, "Acquiring Institution Identification Code"},
	{33, kN, 11, 2, "Forwarding Institution Identification Code"},
	{34, kAN, 28, 2, "Primary Account Number, Extended"},
	{35, kZ, 37, 2, "Track 2 Data"},
	{36, kN, 104, 3, "Track 3 Data"},
	{37, kAN, 12, 0, "Retrieval Reference Number"},
	{38, kAN, 6, 0, "Authorization Identification Response"},
	{39, kAN, 2, 0, "Response Code"},
	{40, kAN, 3, 0, "Service Restriction Code"},
	{41, kAN, 8, 0, "Card Acceptor Terminal Identification"},
	{42, kAN, 15, 0, "Card Acceptor Identification Code"},
	{43, kAN, 40, 0, "Card Acceptor Name/Location"},
	{44, kAN, 25, 2, "Additional Response Data"},
	{45, kAN, 76, 2, "Track 1 Data"},
	{46, kAN, 999, 3, "Additional Data - ISO"},
	{47, kAN, 999, 3, "Additional Data - National"},
	{48, kAN, 999, 3, "Additional Data - Private"},
	{49, kN, 3, 0, "Currency Code, Transaction"},
	{50, kN, 3, 0, "Currency Code, Settlement"},
	{51, kN, 3, 0, "Currency Code, Cardholder Billing"},
	{52, kB, 8, 0, "Personal Identification Number Data"},
	{53, kB, 48, 2, "Security Related Control Information (DUKPT KSN)"},
	{54, kAN, 120, 3, "Additional Amounts"},
	{55, kB, 255, 3, "ICC Data - EMV Having Multiple Tags"},
	{56, kAN, 999, 3, "Reserved ISO"},
	{57, kAN, 999, 3, "Reserved National"},
	{58, kAN, 999, 3, "Reserved National"},
	{59, kAN, 999, 3, "Reserved National"},
	{60, kAN, 999, 3, "Reserved National (batch number)"},
	{61, kAN, 999, 3, "Reserved Private"},
	{62, kAN, 999, 3, "Reserved Private"},
	{63, kAN, 999, 3, "Reserved Private"},
	{64, kB, 8, 0, "Message Authentication Code"},
	{66, kN, 1, 0, "Settlement Code"},
	{67, kN, 2, 0, "Extended Payment Code"},
	{68, kN, 3, 0, "Receiving Institution Country Code"},
	{69, kN, 3, 0, "Settlement Institution Country Code"},
	{70, kN, 3, 0, "Network Management Information Code"},
	{71, kN, 4, 0, "Message Number"},
	{72, kN, 4, 0, "Message Number, Last"},
	{73, kN, 6, 0, "Date, Action"},
	{74, kN, 10, 0, "Credits, Number"},
	{75, kN, 10, 0, "Credits, Reversal Number"},
	{76, kN, 10, 0, "Debits, Number"},
	{77, kN, 10, 0, "Debits, Reversal Number"},
	{78, kN, 10, 0, "Transfer, Number"},
	{79, kN, 10, 0, "Transfer, Reversal Number"},
	{80, kN, 10, 0, "Inquiries, Number"},
	{81, kN, 10, 0, "Authorizations, Number"},
	{82, kN, 12, 0, "Credits, Processing Fee Amount"},
	{83, kN, 12, 0, "Credits, Transaction Fee Amount"},
	{84, kN, 12, 0, "Debits, Processing Fee Amount"},
	{85, kN, 12, 0, "Debits, Transaction Fee Amount"},
	{86, kN, 16, 0, "Credits, Amount"},
	{87, kN, 16, 0, "Credits, Reversal Amount"},
	{88, kN, 16, 0, "Debits, Amount"},
	{89, kN, 16, 0, "Debits, Reversal Amount"},
	{90, kN, 42, 0, "Original Data Elements"},
	{91, kAN, 1, 0, "File Update Code"},
	{92, kAN, 2, 0, "File Security Code"},
	{93, kAN, 5, 0, "Response Indicator"},
	{94, kAN, 7, 0, "Service Indicator"},
	{95, kAN, 42, 0, "Replacement Amounts"},
	{96, kB, 8, 0, "Message Security Code"},
	{97, kAN, 17, 0, "Amount, Net Settlement"},
	{98, kAN, 25, 0, "Payee"},
	{99, kN, 11, 2, "Settlement Institution Identification Code"},
	{100, kN, 11, 2, "Receiving Institution Identification Code"},
	{101, kAN, 17, 2, "File Name"},
	{102, kAN, 28, 2, "Account Identification 1"},
	{103, kAN, 28, 2, "Account Identification 2"},
	{104, kAN, 100, 3, "Transaction Description"},
	{105, kAN, 999, 3, "Reserved ISO"},
	{106, kAN, 999, 3, "Reserved ISO"},
	{107, kAN, 999, 3, "Reserved ISO"},
	{108, kAN, 999, 3, "Reserved ISO"},
	{109, kAN, 999, 3, "Reserved ISO"},
	{110, kAN, 999, 3, "Reserved ISO"},
	{111, kAN, 999, 3, "Reserved ISO"},
	{112, kAN, 999, 3, "Reserved National"},
	{113, kAN, 999, 3, "Reserved National"},
	{114, kAN, 999, 3, "Reserved National"},
	{115, kAN, 999, 3, "Reserved National"},
	{116, kAN, 999, 3, "Reserved National"},
	{117, kAN, 999, 3, "Reserved National"},
	{118, kAN, 999, 3, "Reserved National"},
	{119, kAN, 999, 3, "Reserved National"},
	{120, kAN, 999, 3, "Reserved Private"},
	{121, kAN, 999, 3, "Reserved Private"},
	{122, kAN, 999, 3, "Reserved Private"},
	{123, kAN, 999, 3, "Reserved Private"},
	{124, kAN, 999, 3, "Reserved Private"},
	{125, kAN, 999, 3, "Reserved Private"},
	{126, kAN, 999, 3, "Reserved Private"},
	{127, kAN, 999, 3, "Reserved Private"},
	{128, kB, 8, 0, "Message Authentication Code"},
}

// layout says how each kind of field is encoded in one dialect.
type layout struct {
	mti    *field.Spec
	bitmap *field.Spec
	enc    func(k kind) (encoding.Encoder, prefix.Prefixers)
}

func asciiLayout(hexBitmap bool) layout {
	bm := &field.Spec{Length: 8, Description: "Bitmap", Enc: encoding.Binary, Pref: prefix.Binary.Fixed}
	if hexBitmap {
		bm = &field.Spec{Length: 8, Description: "Bitmap", Enc: encoding.BytesToASCIIHex, Pref: prefix.Hex.Fixed}
	}
	return layout{
		mti:    &field.Spec{Length: 4, Description: "Message Type Indicator", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed},
		bitmap: bm,
		enc: func(k kind) (encoding.Encoder, prefix.Prefixers) {
			if k == kB {
				// Binary fields travel as hex characters in an ASCII message; a length
				// prefix counts bytes.
				return encoding.BytesToASCIIHex, prefix.ASCII
			}
			return encoding.ASCII, prefix.ASCII
		},
	}
}

func bcdLayout() layout {
	return layout{
		mti:    &field.Spec{Length: 4, Description: "Message Type Indicator", Enc: encoding.BCD, Pref: prefix.BCD.Fixed},
		bitmap: &field.Spec{Length: 8, Description: "Bitmap", Enc: encoding.Binary, Pref: prefix.Binary.Fixed},
		enc: func(k kind) (encoding.Encoder, prefix.Prefixers) {
			switch k {
			case kN:
				return encoding.BCD, prefix.BCD
			case kZ:
				return track2BCD, prefix.BCD
			case kB:
				return encoding.Binary, prefix.BCD
			}
			return encoding.ASCII, prefix.BCD
		},
	}
}

func buildDialect(name string, l layout) *Dialect { return buildDialectDefs(name, l, fields87) }

func buildDialectDefs(name string, l layout, defs []fieldDef) *Dialect {
	pad := map[int]fixedPad{}
	fields := map[int]field.Field{
		0: field.NewString(l.mti),
		1: field.NewBitmap(l.bitmap),
	}
	for _, f := range defs {
		enc, pref := l.enc(f.k)
		spec := &field.Spec{Length: f.length, Description: f.desc, Enc: enc}
		switch f.vary {
		case 0:
			spec.Pref = pref.Fixed
		case 2:
			spec.Pref = pref.LL
		case 3:
			spec.Pref = pref.LLL
		}
		switch {
		case f.k == kB:
			fields[f.id] = field.NewBinary(spec)
			continue
		case f.k == kN && f.vary == 0:
			// Numeric codes such as the processing code keep their leading zeros: carried
			// as strings (moov's Numeric drops them, see docs/libraries.md).
			pad[f.id] = fixedPad{f.length, '0', true}
		case f.k == kAN && f.vary == 0:
			pad[f.id] = fixedPad{f.length, ' ', false}
		}
		fields[f.id] = field.NewString(spec)
	}
	return &Dialect{Name: name, Spec: &iso8583.MessageSpec{Name: "posdrill " + name, Fields: fields}, pad: pad, defs: defs}
}

// FieldInfo describes a field of a dialect for people: number, name and format.
type FieldInfo struct {
	ID     int
	Name   string
	Format string // e.g. "n6", "an..25 (LL)", "b8"
}

// Describe returns what the dialect says about a field number.
func (d *Dialect) Describe(id int) FieldInfo {
	f, ok := d.Spec.Fields[id]
	if !ok {
		return FieldInfo{ID: id, Name: "undefined", Format: "?"}
	}
	s := f.Spec()
	info := FieldInfo{ID: id, Name: s.Description}
	defs := d.defs
	if defs == nil {
		defs = fields87
	}
	for _, def := range defs {
		if def.id == id {
			info.Format = def.format()
			return info
		}
	}
	info.Format = fmt.Sprintf("%d", s.Length)
	return info
}

func (f fieldDef) format() string {
	k := map[kind]string{kN: "n", kAN: "ans", kB: "b", kZ: "z"}[f.k]
	switch f.vary {
	case 2:
		return fmt.Sprintf("%s..%d (LL)", k, f.length)
	case 3:
		return fmt.Sprintf("%s..%d (LLL)", k, f.length)
	}
	return fmt.Sprintf("%s%d", k, f.length)
}

// FieldIDs lists the field numbers the dialect defines, in order (MTI and bitmap excluded).
func (d *Dialect) FieldIDs() []int {
	ids := make([]int, 0, len(d.Spec.Fields))
	for id := range d.Spec.Fields {
		if id > 1 {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids
}
