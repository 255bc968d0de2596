package emv

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// Cryptogram information data (9F27) values.
const (
	CIDAAC  byte = 0x00 // application authentication cryptogram: the card declines
	CIDTC   byte = 0x40 // transaction certificate: the card approves
	CIDARQC byte = 0x80 // authorisation request cryptogram: the card asks the host
)

// Txn is what the terminal knows of a chip transaction when it asks the card for an ARQC.
type Txn struct {
	Amount      string    // minor units, up to 12 digits (DE4's value): 9F02
	AmountOther string    // cashback, "" for none: 9F03
	Currency    string    // ISO 4217 numeric, 3 digits: 5F2A
	Country     string    // terminal country, ISO 3166 numeric, 3 digits: 9F1A
	Date        time.Time // 9A (YYMMDD, the terminal's local date)
	Type        byte      // 9C: 0x00 goods and services, 0x01 cash, 0x20 refund
	UN          []byte    // 9F37, 4 bytes: take them from the run's seeded source
	TVR         []byte    // 95, 5 bytes; nil means all zero (nothing failed)
}

// Card is a simulated chip: its master key for AC (see Keys.CardKey or MasterKeyA), its PAN
// sequence number and its application transaction counter. The caller keeps ATC and
// increments it per transaction (Request does not).
type Card struct {
	MK  []byte
	PSN string // 2 digits; "" means 00
	ATC uint16
	// AIP (82) and IAD (9F10); nil means 1980 (SDA, cardholder verification, terminal risk
	// management) and 06010A03A00000 (a short Visa-style IAD with the CVR).
	AIP, IAD []byte
}

// Request is the card's answer to the first GENERATE AC asking to go online: the chip data a
// terminal sends in DE55 (9F26 ARQC, 9F27, 9F10, 9F37, 9F36, 95, 9A, 9C, 9F02, 9F03, 5F2A,
// 82, 9F1A, 5F34), the ARQC computed with the card's keys over ARQCData.
func (c Card) Request(t Txn) (List, error) {
	amt, err := n12("amount (9F02)", t.Amount)
	if err != nil {
		return nil, err
	}
	other, err := n12("other amount (9F03)", t.AmountOther)
	if err != nil {
		return nil, err
	}
	cur, err := n3("currency (5F2A)", t.Currency)
	if err != nil {
		return nil, err
	}
	country, err := n3("terminal country (9F1A)", t.Country)
	if err != nil {
		return nil, err
	}
	if len(t.UN) != 4 {
		return nil, fmt.Errorf("chip request: %w: unpredictable number (9F37) is %d bytes, want 4", ErrMissing, len(t.UN))
	}
	if t.Date.IsZero() {
		return nil, fmt.Errorf("chip request: %w: transaction date (9A) not set", ErrMissing)
	}
	tvr := t.TVR
	if tvr == nil {
		tvr = make([]byte, 5)
	}
	if len(tvr) != 5 {
		return nil, fmt.Errorf("chip request: TVR (95) is %d bytes, want 5", len(tvr))
	}
	aip, iad := c.AIP, c.IAD
	if aip == nil {
		aip = []byte{0x19, 0x80}
	}
	if iad == nil {
		iad = []byte{0x06, 0x01, 0x0A, 0x03, 0xA0, 0x00, 0x00}
	}
	psn := c.PSN
	if psn == "" {
		psn = "00"
	}
	if len(psn) != 2 || !iso.AllDigits(psn) {
		return nil, fmt.Errorf("chip request: PSN %q, want 2 digits", psn)
	}
	atc := binary.BigEndian.AppendUint16(nil, c.ATC)
	l := List{
		{Tag: TagAC, Value: make([]byte, 8)},
		{Tag: TagCID, Value: []byte{CIDARQC}},
		{Tag: TagIAD, Value: clone(iad)},
		{Tag: TagUN, Value: clone(t.UN)},
		{Tag: TagATC, Value: atc},
		{Tag: TagTVR, Value: clone(tvr)},
		{Tag: TagTxnDate, Value: bcd(t.Date.Format("060102"))},
		{Tag: TagTxnType, Value: []byte{t.Type}},
		{Tag: TagAmount, Value: amt},
		{Tag: TagAmountOther, Value: other},
		{Tag: TagCurrency, Value: cur},
		{Tag: TagAIP, Value: clone(aip)},
		{Tag: TagCountry, Value: country},
		{Tag: TagPSN, Value: bcd(psn)},
	}
	arqc, err := ARQC(c.MK, l)
	if err != nil {
		return nil, fmt.Errorf("chip request: %w", err)
	}
	l[0].Value = arqc
	return l, nil
}

// Respond is the issuer host's chip answer: it verifies the request's ARQC with the card's
// master key and returns the response chip data, tag 91 (ARPC method 1 ‖ ARC) followed by any
// issuer script templates (IssuerScript). A bad ARQC returns an error wrapping ErrARQC and no
// data: the host then declines (and sends no tag 91).
func Respond(mk []byte, request List, arc string, scripts ...TLV) (List, error) {
	if err := VerifyARQC(mk, request); err != nil {
		return nil, err
	}
	t91, err := IssuerAuthData(mk, request, arc)
	if err != nil {
		return nil, err
	}
	return append(List{{Tag: TagIssuerAuth, Value: t91}}, scripts...), nil
}

// IssuerScript builds an issuer script template (tag 71, before the second GENERATE AC, or
// 72, after it) with a script identifier (9F18) and its commands (86, one APDU each).
func IssuerScript(tag Tag, id uint32, commands ...[]byte) TLV {
	kids := List{{Tag: 0x9F18, Value: binary.BigEndian.AppendUint32(nil, id)}}
	for _, c := range commands {
		kids = append(kids, TLV{Tag: 0x86, Value: clone(c)})
	}
	return TLV{Tag: tag, Value: kids.Bytes(), Children: kids}
}

// Decision is the card's answer to the second GENERATE AC.
type Decision struct {
	CID        byte   // CIDTC (approve) or CIDAAC (decline)
	Approved   bool   // CID == CIDTC
	ARC        string // the response code tag 91 carried ("" without tag 91)
	IssuerAuth bool   // tag 91 was present and its ARPC verified
	Reason     string // why the card declined, for guidance and traces
}

// Complete is the card's second GENERATE AC after the host answered: hostCode is DE39 and
// response the answer's chip data. The card approves (TC) only when the host approved, tag 91
// is present and its ARPC matches the ARQC it sent; a missing or wrong tag 91 on an approval
// makes the card decline (AAC) after the host approved, and the terminal must reverse.
func Complete(mk []byte, request, response List, hostCode string) Decision {
	t91, ok := response.Find(TagIssuerAuth)
	if hostCode != "00" {
		return Decision{CID: CIDAAC, Reason: "host declined (" + hostCode + ")"}
	}
	if !ok {
		return Decision{CID: CIDAAC, Reason: "no issuer authentication data (tag 91) in the answer"}
	}
	arc, err := VerifyIssuerAuthData(mk, request, t91.Value)
	if err != nil {
		return Decision{CID: CIDAAC, ARC: arc, Reason: "issuer authentication failed: " + err.Error()}
	}
	if arc != "00" {
		return Decision{CID: CIDAAC, ARC: arc, IssuerAuth: true, Reason: "tag 91 response code " + arc + " is not an approval"}
	}
	return Decision{CID: CIDTC, Approved: true, ARC: arc, IssuerAuth: true}
}

func n12(what, s string) ([]byte, error) {
	if s == "" {
		s = "0"
	}
	if len(s) > 12 || !iso.AllDigits(s) {
		return nil, fmt.Errorf("chip request: %s %q, want up to 12 digits", what, s)
	}
	return bcd(fmt.Sprintf("%012s", s)), nil
}

func n3(what, s string) ([]byte, error) {
	if len(s) != 3 || !iso.AllDigits(s) {
		return nil, fmt.Errorf("chip request: %s %q, want 3 digits", what, s)
	}
	return bcd("0" + s), nil
}

// bcd packs an even number of digits two to a byte.
func bcd(s string) []byte {
	out := make([]byte, len(s)/2)
	for i := range out {
		out[i] = (s[2*i]-'0')<<4 | (s[2*i+1] - '0')
	}
	return out
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
