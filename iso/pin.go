package iso

import (
	"crypto/cipher"
	"crypto/des"
	"errors"
	"fmt"
)

// TestPINKey is the fixed double-length triple-DES key (K1 K2, used as K1 K2 K1) under which
// posdrill's terminal encrypts PIN blocks and its acquirer decrypts them. It is the classic
// test key 0123456789ABCDEF FEDCBA9876543210: a training tool has no secrets, and a client
// written with another ISO 8583 implementation must be able to build DE52 itself.
var TestPINKey = []byte{
	0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF,
	0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
}

// PIN block errors, tested with errors.Is.
var (
	// ErrPINFormat: the PIN is not 4 to 12 digits.
	ErrPINFormat = errors.New("PIN must be 4 to 12 digits")
	// ErrPINBlock: the block does not decrypt to an ISO 9564 format 0 block for this PAN.
	ErrPINBlock = errors.New("PIN block is not a valid ISO 9564 format 0 block")
)

// EncryptPINBlock builds the ISO 9564 format 0 (ANSI X9.8) PIN block of pin for pan and
// encrypts it with triple DES (ECB, one 8-byte block) under key, a 16- or 24-byte key. The
// result is what travels in DE52.
//
// Clear block = (0, PIN length, PIN digits, F padding: 16 nibbles) XOR (0000, the 12 rightmost
// PAN digits excluding the check digit).
func EncryptPINBlock(pin, pan string, key []byte) ([]byte, error) {
	if len(pin) < 4 || len(pin) > 12 || !allDigits(pin) {
		return nil, fmt.Errorf("encrypt PIN block: %w (got %d characters)", ErrPINFormat, len(pin))
	}
	pf, err := panField(pan)
	if err != nil {
		return nil, fmt.Errorf("encrypt PIN block: %w", err)
	}
	var nib [16]byte
	nib[0] = 0
	nib[1] = byte(len(pin))
	for i := 2; i < 16; i++ {
		nib[i] = 0xF
	}
	for i := 0; i < len(pin); i++ {
		nib[2+i] = pin[i] - '0'
	}
	var clear [8]byte
	for i := range clear {
		clear[i] = (nib[2*i]<<4 | nib[2*i+1]) ^ pf[i]
	}
	b, err := tdes(key)
	if err != nil {
		return nil, fmt.Errorf("encrypt PIN block: %w", err)
	}
	out := make([]byte, 8)
	b.Encrypt(out, clear[:])
	return out, nil
}

// DecryptPINBlock reverses EncryptPINBlock: it returns the clear PIN carried in block for pan.
// A block that is not format 0, or whose PIN digits or padding are wrong (e.g. built for
// another PAN or under another key), gives an error wrapping ErrPINBlock.
func DecryptPINBlock(block []byte, pan string, key []byte) (string, error) {
	if len(block) != 8 {
		return "", fmt.Errorf("decrypt PIN block: %w: %d bytes, want 8", ErrPINBlock, len(block))
	}
	pf, err := panField(pan)
	if err != nil {
		return "", fmt.Errorf("decrypt PIN block: %w", err)
	}
	b, err := tdes(key)
	if err != nil {
		return "", fmt.Errorf("decrypt PIN block: %w", err)
	}
	var clear [8]byte
	b.Decrypt(clear[:], block)
	var nib [16]byte
	for i := range clear {
		x := clear[i] ^ pf[i]
		nib[2*i], nib[2*i+1] = x>>4, x&0xF
	}
	n := int(nib[1])
	if nib[0] != 0 || n < 4 || n > 12 {
		return "", fmt.Errorf("decrypt PIN block: %w: control nibble %X, length %d", ErrPINBlock, nib[0], n)
	}
	pin := make([]byte, n)
	for i := 0; i < n; i++ {
		if nib[2+i] > 9 {
			return "", fmt.Errorf("decrypt PIN block: %w: PIN digit %d is not a digit", ErrPINBlock, i+1)
		}
		pin[i] = '0' + nib[2+i]
	}
	for i := 2 + n; i < 16; i++ {
		if nib[i] != 0xF {
			return "", fmt.Errorf("decrypt PIN block: %w: padding nibble %d is not F", ErrPINBlock, i)
		}
	}
	return string(pin), nil
}

// panField is the PAN half of a format 0 block: 0000 and the 12 rightmost digits of the PAN
// without its check digit, as 8 bytes.
func panField(pan string) ([8]byte, error) {
	var out [8]byte
	if len(pan) < 13 || len(pan) > 19 || !allDigits(pan) {
		return out, fmt.Errorf("PAN must be 13 to 19 digits for a format 0 PIN block (got %d characters)", len(pan))
	}
	d := pan[len(pan)-13 : len(pan)-1]
	for i := 0; i < 6; i++ {
		out[2+i] = (d[2*i]-'0')<<4 | (d[2*i+1] - '0')
	}
	return out, nil
}

func tdes(key []byte) (cipher.Block, error) {
	var k []byte
	switch len(key) {
	case 16:
		// Double-length key: K1 K2 K1.
		k = make([]byte, 0, 24)
		k = append(append(k, key...), key[:8]...)
	case 24:
		k = key
	default:
		return nil, fmt.Errorf("PIN key must be 16 or 24 bytes, got %d", len(key))
	}
	return des.NewTripleDESCipher(k)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
