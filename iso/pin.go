package iso

import (
	"github.com/posdrill/posdrill/iso/pin"
)

// TestPINKey is the fixed double-length triple-DES key (K1 K2, used as K1 K2 K1) under which
// posdrill's terminal encrypts PIN blocks and its acquirer decrypts them when a profile sets
// no PIN key of its own (no sign-on key exchange). It is the classic test key
// 0123456789ABCDEF FEDCBA9876543210: a training tool has no secrets, and a client written with
// another ISO 8583 implementation must be able to build DE52 itself.
var TestPINKey = []byte{
	0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF,
	0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
}

// PIN block errors, tested with errors.Is. They are the iso/pin sentinels, kept here for
// callers of the format 0 helpers below.
var (
	// ErrPINFormat: the PIN is not 4 to 12 digits.
	ErrPINFormat = pin.ErrPIN
	// ErrPINBlock: the block does not decrypt to a valid ISO 9564 block for this PAN.
	ErrPINBlock = pin.ErrFormat
)

// EncryptPINBlock builds the ISO 9564 format 0 (ANSI X9.8) PIN block of pin for pan and
// encrypts it with triple DES (ECB, one 8-byte block) under key. The result is what travels
// in DE52. Format 3 and the rest live in iso/pin.
func EncryptPINBlock(pinDigits, pan string, key []byte) ([]byte, error) {
	return pin.Encrypt(key, pin.Format0, pinDigits, pan, nil)
}

// DecryptPINBlock reverses EncryptPINBlock: it returns the clear PIN carried in block for pan.
// A block that is not a valid format 0 or 3 block for pan (e.g. built for another PAN or under
// another key) gives an error wrapping ErrPINBlock.
func DecryptPINBlock(block []byte, pan string, key []byte) (string, error) {
	p, _, err := pin.Decrypt(key, block, pan)
	return p, err
}
