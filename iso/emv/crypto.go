package emv

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
)

// Errors, tested with errors.Is.
var (
	// ErrARQC: the ARQC does not verify (wrong card keys or changed transaction data).
	ErrARQC = errors.New("ARQC does not verify")
	// ErrMissing: a tag the cryptogram needs is absent or has the wrong length.
	ErrMissing = errors.New("chip data incomplete")
)

// ARQCTags are the data elements, in order, over which posdrill's cards compute the ARQC:
// the EMV Book 2 recommended minimum set (amount, other amount, terminal country, TVR,
// currency, date, type, unpredictable number, AIP, ATC) plus the issuer application data.
// Lengths are fixed except 9F10, which is included whole.
var ARQCTags = []struct {
	Tag Tag
	Len int // 0: any
}{
	{TagAmount, 6}, {TagAmountOther, 6}, {TagCountry, 2}, {TagTVR, 5}, {TagCurrency, 2},
	{TagTxnDate, 3}, {TagTxnType, 1}, {TagUN, 4}, {TagAIP, 2}, {TagATC, 2}, {TagIAD, 0},
}

// ARQCData concatenates the ARQCTags values from l; a missing tag or a wrong length wraps
// ErrMissing and names the tag.
func ARQCData(l List) ([]byte, error) {
	var out []byte
	for _, e := range ARQCTags {
		o, ok := l.Find(e.Tag)
		if !ok {
			return nil, fmt.Errorf("ARQC data: %w: tag %s (%s) absent", ErrMissing, e.Tag, e.Tag.Name())
		}
		if e.Len != 0 && len(o.Value) != e.Len {
			return nil, fmt.Errorf("ARQC data: %w: tag %s is %d bytes, want %d", ErrMissing, e.Tag, len(o.Value), e.Len)
		}
		out = append(out, o.Value...)
	}
	return out, nil
}

// MasterKeyA derives the ICC master key for AC (the card's unique key) from the issuer
// master key by EMV Option A (Book 2 A1.4.1): Y = the rightmost 16 digits of PAN‖PSN (zero
// padded on the left), ZL = 3DES(IMK, Y), ZR = 3DES(IMK, Y ⊕ FF…FF), key = ZL‖ZR with odd
// parity. psn is two digits ("" means 00).
func MasterKeyA(imk []byte, pan, psn string) (keys.Key, error) {
	if len(imk) != 16 {
		return nil, fmt.Errorf("derive ICC master key: %w", keys.NewKeyLengthError("issuer master key", len(imk), "16"))
	}
	if psn == "" {
		psn = "00"
	}
	if len(pan) < 12 || len(pan) > 19 || !iso.AllDigits(pan) || len(psn) != 2 || !iso.AllDigits(psn) {
		return nil, fmt.Errorf("derive ICC master key: PAN must be 12 to 19 digits and PSN 2 digits (got %d and %d characters)", len(pan), len(psn))
	}
	s := pan + psn
	if len(s) < 16 {
		s = "0000000000000000"[len(s):] + s
	}
	s = s[len(s)-16:]
	var y [8]byte
	for i := range y {
		y[i] = (s[2*i]-'0')<<4 | (s[2*i+1] - '0')
	}
	zl, err := keys.EncryptECB(imk, y[:])
	if err != nil {
		return nil, fmt.Errorf("derive ICC master key: %w", err)
	}
	for i := range y {
		y[i] ^= 0xFF
	}
	zr, err := keys.EncryptECB(imk, y[:])
	if err != nil {
		return nil, fmt.Errorf("derive ICC master key: %w", err)
	}
	return keys.Key(oddParity(append(zl, zr...))), nil
}

// oddParity sets each byte's low bit so the byte has an odd number of one bits (DES keys).
func oddParity(k []byte) []byte {
	for i, b := range k {
		b &^= 1
		n := 0
		for x := b; x != 0; x &= x - 1 {
			n++
		}
		if n%2 == 0 {
			b |= 1
		}
		k[i] = b
	}
	return k
}

// SessionKey derives the EMV common session key (Book 2 A1.3.1) from the ICC master key and
// the 8-byte diversification value r: SK = 3DES(MK, r0 r1 F0 r3…r7) ‖ 3DES(MK, r0 r1 0F r3…r7).
// posdrill's cards use r = ATC ‖ 00 00 00 00 00 00 (CSKDiversifier).
func SessionKey(mk, r []byte) (keys.Key, error) {
	if len(mk) != 16 {
		return nil, fmt.Errorf("derive session key: %w", keys.NewKeyLengthError("ICC master key", len(mk), "16"))
	}
	if len(r) != 8 {
		return nil, fmt.Errorf("derive session key: diversification value is %d bytes, want 8", len(r))
	}
	var l, rr [8]byte
	copy(l[:], r)
	copy(rr[:], r)
	l[2], rr[2] = 0xF0, 0x0F
	a, err := keys.EncryptECB(mk, l[:])
	if err != nil {
		return nil, fmt.Errorf("derive session key: %w", err)
	}
	b, err := keys.EncryptECB(mk, rr[:])
	if err != nil {
		return nil, fmt.Errorf("derive session key: %w", err)
	}
	return keys.Key(oddParity(append(a, b...))), nil
}

// CSKDiversifier is the EMV CSK diversification value for an ATC: ATC ‖ 000000000000.
func CSKDiversifier(atc []byte) ([]byte, error) {
	if len(atc) != 2 {
		return nil, fmt.Errorf("CSK diversifier: %w: ATC (9F36) is %d bytes, want 2", ErrMissing, len(atc))
	}
	return append(append([]byte{}, atc...), 0, 0, 0, 0, 0, 0), nil
}

// ComputeAC is an application cryptogram over data under a session key: ISO 9797-1 MAC
// algorithm 3 with padding method 2.
func ComputeAC(sessionKey, data []byte) ([]byte, error) {
	return mac.Compute(mac.ISO9797Alg3M2, sessionKey, data)
}

// ARQC computes the ARQC a card with master key mk produces for the chip data l: the session
// key from l's ATC, the cryptogram over ARQCData(l).
func ARQC(mk []byte, l List) ([]byte, error) {
	sk, data, err := sessionAndData(mk, l)
	if err != nil {
		return nil, err
	}
	return ComputeAC(sk, data)
}

// VerifyARQC recomputes the ARQC for l (its 9F26 must be present) and compares it in
// constant time; a mismatch wraps ErrARQC.
func VerifyARQC(mk []byte, l List) error {
	got := l.Value(TagAC)
	if len(got) != 8 {
		return fmt.Errorf("verify ARQC: %w: tag 9F26 is %d bytes, want 8", ErrMissing, len(got))
	}
	want, err := ARQC(mk, l)
	if err != nil {
		return fmt.Errorf("verify ARQC: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("verify ARQC: %w", ErrARQC)
	}
	return nil
}

func sessionAndData(mk []byte, l List) (keys.Key, []byte, error) {
	r, err := CSKDiversifier(l.Value(TagATC))
	if err != nil {
		return nil, nil, err
	}
	sk, err := SessionKey(mk, r)
	if err != nil {
		return nil, nil, err
	}
	data, err := ARQCData(l)
	if err != nil {
		return nil, nil, err
	}
	return sk, data, nil
}

// ARPC1 is ARPC method 1 (Book 2 A1.2.1): 3DES(key, ARQC ⊕ (ARC ‖ 000000000000)), with arc
// the 2-byte authorisation response code as tag 8A carries it ([]byte("00") for an approval).
func ARPC1(key, arqc, arc []byte) ([]byte, error) {
	if len(arqc) != 8 {
		return nil, fmt.Errorf("ARPC: ARQC is %d bytes, want 8", len(arqc))
	}
	if len(arc) != 2 {
		return nil, fmt.Errorf("ARPC: response code is %d bytes, want 2", len(arc))
	}
	var x [8]byte
	copy(x[:], arqc)
	x[0] ^= arc[0]
	x[1] ^= arc[1]
	out, err := keys.EncryptECB(key, x[:])
	if err != nil {
		return nil, fmt.Errorf("ARPC: %w", err)
	}
	return out, nil
}

// IssuerAuthData is the host's answer to an ARQC for tag 91: the method 1 ARPC under the
// card's session key for that ARQC, followed by the ARC.
func IssuerAuthData(mk []byte, request List, arc string) ([]byte, error) {
	sk, _, err := sessionAndData(mk, request)
	if err != nil {
		return nil, fmt.Errorf("issuer authentication data: %w", err)
	}
	if len(arc) != 2 {
		return nil, fmt.Errorf("issuer authentication data: response code %q, want 2 characters", arc)
	}
	arpc, err := ARPC1(sk, request.Value(TagAC), []byte(arc))
	if err != nil {
		return nil, fmt.Errorf("issuer authentication data: %w", err)
	}
	return append(arpc, arc...), nil
}

// VerifyIssuerAuthData is the card's check of tag 91 (the second GENERATE AC's input): the
// ARPC must match the ARQC it sent. It returns the ARC the host put in tag 91.
func VerifyIssuerAuthData(mk []byte, request List, tag91 []byte) (string, error) {
	if len(tag91) != 10 {
		return "", fmt.Errorf("verify ARPC: %w: tag 91 is %d bytes, want 10 (ARPC + ARC)", ErrMissing, len(tag91))
	}
	arc := string(tag91[8:])
	want, err := IssuerAuthData(mk, request, arc)
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare(want[:8], tag91[:8]) != 1 {
		return arc, fmt.Errorf("verify ARPC: %w: tag 91 does not match the ARQC", ErrARQC)
	}
	return arc, nil
}
