package iso

import (
	"encoding/hex"
	"fmt"
)

// DUKPT on the wire (docs/cup.md "DUKPT"): the request carries its key serial number (KSN)
// so that the host can derive the same per-transaction keys from its base derivation key.

// DefaultKSNField is where the KSN travels unless a profile says otherwise: DE53, Security
// Related Control Information, defined in the built-in dialects as ISO 8583:1993 does it
// (LL binary up to 48 bytes) so that the raw 10-byte TDES or 12-byte AES KSN fits. A host
// that wants it elsewhere (a private field, as text) is served by the terminal profile's
// ksn_field and the acquirer's Options.KSNField.
const DefaultKSNField = 53

// AESPINField carries the 16-byte ISO 9564 format 4 PIN block of AES DUKPT: DE52 is fixed
// at 8 bytes in ISO 8583:1987, so the block travels in DE110 ("encryption data", where Visa
// carries AES PIN blocks), hex-encoded. It is masked like DE52 everywhere.
const AESPINField = 110

// KSNOf reads the KSN a message carries in field id (binary fields and text fields both as
// hex): nil, nil when absent.
func KSNOf(m *Message, id int) ([]byte, error) {
	v, ok := m.Get(id)
	if !ok || v == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("field %d (DUKPT KSN): not hex", id)
	}
	return b, nil
}

// SetKSN writes ksn into field id (nil removes it).
func SetKSN(m *Message, id int, ksn []byte) error {
	if err := m.Set(id, hex.EncodeToString(ksn)); err != nil {
		return fmt.Errorf("field %d (DUKPT KSN): %w", id, err)
	}
	return nil
}

// HasPINBlock reports a PIN block in the request: DE52, or the AES one in AESPINField.
func HasPINBlock(m *Message) bool {
	_, aes := m.Get(AESPINField)
	return len(m.PINBlock) > 0 || aes
}
