package iso

import (
	"errors"
	"fmt"

	"github.com/moov-io/iso8583/encoding"

	"github.com/posdrill/posdrill/iso/mac"
)

// MAC over a packed message (DE64, or DE128 with a secondary bitmap). Which bytes are
// MACed: everything from the MTI up to the MAC field, the MAC field being the message's last
// (the UnionPay MAB and the usual X9.19 practice). The algorithm is a setting of both sides
// (terminal profile "mac", acquirer --mac): a host computing another one is the classic A0.

// Errors of the MAC layer, tested with errors.Is.
var (
	// ErrMACMissing: the message carries no DE64/DE128 where one is required.
	ErrMACMissing = errors.New("MAC missing")
	// ErrMACInvalid: the MAC does not verify (wrong key, wrong algorithm, changed bytes).
	ErrMACInvalid = errors.New("MAC does not verify")
	// ErrAnswerMAC marks an answer whose MAC does not verify: the terminal must treat it
	// as no answer (reversal) and sign on again.
	ErrAnswerMAC = errors.New("answer MAC does not verify")
)

// MACPlaceholder asks for a MAC: set m.MAC (or m.MAC2 when the message has a secondary
// bitmap) to it, and a Conn with a signer fills it in after packing.
func MACPlaceholder() []byte { return make([]byte, mac.Size) }

// RequestMAC asks for a MAC on m: DE64, or DE128 when m has fields of the secondary
// bitmap (the MAC is always the last field).
func RequestMAC(m *Message) {
	if secondaryField(m) != 0 {
		m.MAC, m.MAC2 = nil, MACPlaceholder()
		return
	}
	m.MAC, m.MAC2 = MACPlaceholder(), nil
}

// secondaryField is a field of the secondary bitmap m carries besides DE128, or 0. It runs
// for every MACed message: no allocation (presentIDs, not Present).
func secondaryField(m *Message) int {
	var ids [len(namedIDsArray)]uint8
	n := m.presentIDs(&ids)
	for _, id := range ids[:n] {
		if id > 64 && id != 128 {
			return int(id)
		}
	}
	for id := range m.Other {
		if id > 64 && id != 128 {
			return id
		}
	}
	return 0
}

// macField is the MAC field a message carries (64, or 128 with a secondary bitmap), or 0.
func macField(m *Message) int {
	switch {
	case len(m.MAC2) > 0:
		return 128
	case len(m.MAC) > 0:
		return 64
	}
	return 0
}

// macLast checks that the MAC is the message's last field (what SignMAC and VerifyMAC
// assume): DE64 with secondary-bitmap fields after it is not.
func macLast(m *Message, id int) error {
	if id != 64 {
		return nil
	}
	if f := secondaryField(m); f != 0 {
		return fmt.Errorf("field 64 holds the MAC but field %d follows it: a message with a secondary bitmap carries its MAC in field 128", f)
	}
	return nil
}

// macWire is the wire size of the MAC field in the dialect (8 bytes as binary, 16 as hex).
func (d *Dialect) macWire(id int) (int, error) {
	f, ok := d.Spec.Fields[id]
	if !ok {
		return 0, fmt.Errorf("dialect %s defines no field %d for the MAC", d.Name, id)
	}
	enc := f.Spec().Enc
	switch enc {
	case encoding.Binary:
		return mac.Size, nil
	case encoding.BytesToASCIIHex:
		return 2 * mac.Size, nil
	}
	b, err := enc.Encode(make([]byte, mac.Size))
	if err != nil {
		return 0, fmt.Errorf("field %d: %w", id, err)
	}
	return len(b), nil
}

// SignMAC fills the MAC field at the end of payload (m packed with a placeholder MAC) with
// the MAC of the bytes before it under key. payload is changed in place.
func (d *Dialect) SignMAC(a mac.Algorithm, key []byte, m *Message, payload []byte) error {
	id := macField(m)
	if id == 0 {
		return nil
	}
	if err := macLast(m, id); err != nil {
		return fmt.Errorf("sign MAC: %w", err)
	}
	n, err := d.macWire(id)
	if err != nil || len(payload) < n {
		return fmt.Errorf("sign MAC: %w", errors.Join(err, ErrMACMissing))
	}
	sum, err := mac.Compute(a, key, payload[:len(payload)-n])
	if err != nil {
		return fmt.Errorf("sign MAC (field %d): %w", id, err)
	}
	enc := d.Spec.Fields[id].Spec().Enc
	wire, err := enc.Encode(sum)
	if err != nil || len(wire) != n {
		return fmt.Errorf("sign MAC (field %d): encoding: %v", id, err)
	}
	copy(payload[len(payload)-n:], wire)
	switch id {
	case 128:
		copy(m.MAC2, sum)
	default:
		copy(m.MAC, sum)
	}
	return nil
}

// VerifyMAC checks the MAC m carries (as unpacked from payload) against the bytes before
// it. A message without DE64/DE128 gives ErrMACMissing; a wrong MAC ErrMACInvalid naming
// the field.
func (d *Dialect) VerifyMAC(a mac.Algorithm, key []byte, m *Message, payload []byte) error {
	id := macField(m)
	if id == 0 {
		return ErrMACMissing
	}
	if err := macLast(m, id); err != nil {
		return fmt.Errorf("verify MAC: %w: %w", ErrMACInvalid, err)
	}
	n, err := d.macWire(id)
	if err != nil || len(payload) < n {
		return fmt.Errorf("verify MAC: %w", errors.Join(err, ErrMACMissing))
	}
	got := m.MAC
	if id == 128 {
		got = m.MAC2
	}
	if err := mac.Verify(a, key, payload[:len(payload)-n], got); err != nil {
		if errors.Is(err, mac.ErrMismatch) {
			return fmt.Errorf("field %d (MAC over bytes 0-%d, %s): %w", id, len(payload)-n-1, a, ErrMACInvalid)
		}
		return fmt.Errorf("field %d: %w", id, err)
	}
	return nil
}
