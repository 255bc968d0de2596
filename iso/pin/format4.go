package pin

import (
	"crypto/aes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
)

// Format4 is ISO 9564-1:2017 format 4, the AES PIN block AES DUKPT (X9.24-3) uses: a 16-byte
// PIN field (control 4, PIN length, PIN digits, fill A up to nibble 16, then 8 random bytes)
// enciphered, XORed with the 16-byte PAN field (M = PAN length − 12, the PAN, zero fill) and
// enciphered again under an AES key.
const Format4 Format = 4

// BlockSize4 is the length of a format 4 block in bytes.
const BlockSize4 = 16

// pinField4 is the clear PIN field of a format 4 block; random fills its last 8 bytes.
func pinField4(pin string, random io.Reader) ([16]byte, error) {
	var f [16]byte
	if len(pin) < 4 || len(pin) > 12 || !digits(pin) {
		return f, fmt.Errorf("build format 4 PIN field: %w (got %d characters)", ErrPIN, len(pin))
	}
	var nib [16]byte
	nib[0], nib[1] = 4, byte(len(pin))
	for i := 2; i < 16; i++ {
		nib[i] = 0xA
	}
	for i := 0; i < len(pin); i++ {
		nib[2+i] = pin[i] - '0'
	}
	for i := 0; i < 8; i++ {
		f[i] = nib[2*i]<<4 | nib[2*i+1]
	}
	if random == nil {
		random = rand.Reader
	}
	if _, err := io.ReadFull(random, f[8:]); err != nil {
		return f, fmt.Errorf("build format 4 PIN field: random fill: %w", err)
	}
	return f, nil
}

// panField4 is the format 4 PAN field: M (PAN length − 12; a PAN shorter than 12 digits is
// zero-padded on the left to 12 and M is 0), the PAN digits, then zero nibbles.
func panField4(pan string) ([16]byte, error) {
	var f [16]byte
	if len(pan) < 1 || len(pan) > 19 || !digits(pan) {
		return f, fmt.Errorf("%w (got %d characters; format 4 takes 1 to 19)", ErrPAN, len(pan))
	}
	m := 0
	if len(pan) < 12 {
		pan = "000000000000"[len(pan):] + pan
	} else {
		m = len(pan) - 12
	}
	nib := make([]byte, 32)
	nib[0] = byte(m)
	for i := 0; i < len(pan); i++ {
		nib[1+i] = pan[i] - '0'
	}
	for i := range f {
		f[i] = nib[2*i]<<4 | nib[2*i+1]
	}
	return f, nil
}

// EncryptAES builds the format 4 block of pin for pan and enciphers it under an AES key
// (16, 24 or 32 bytes): AES(K, AES(K, PIN field) ⊕ PAN field). random fills the PIN field
// (nil means crypto/rand).
func EncryptAES(key []byte, pin, pan string, random io.Reader) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encrypt format 4 PIN block: AES PIN key is %d bytes, want 16, 24 or 32", len(key))
	}
	pf, err := pinField4(pin, random)
	if err != nil {
		return nil, err
	}
	af, err := panField4(pan)
	if err != nil {
		return nil, fmt.Errorf("encrypt format 4 PIN block: %w", err)
	}
	var x [16]byte
	b.Encrypt(x[:], pf[:])
	for i := range x {
		x[i] ^= af[i]
	}
	out := make([]byte, BlockSize4)
	b.Encrypt(out, x[:])
	return out, nil
}

// DecryptAES reverses EncryptAES and returns the PIN. A block that does not decipher to a
// format 4 PIN field for pan (wrong key, wrong PAN, bad control, length or fill) wraps
// ErrFormat.
func DecryptAES(key, block []byte, pan string) (string, error) {
	if len(block) != BlockSize4 {
		return "", fmt.Errorf("decrypt format 4 PIN block: %w: %d bytes, want 16", ErrFormat, len(block))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("decrypt format 4 PIN block: AES PIN key is %d bytes, want 16, 24 or 32", len(key))
	}
	af, err := panField4(pan)
	if err != nil {
		return "", fmt.Errorf("decrypt format 4 PIN block: %w", err)
	}
	var x, pf [16]byte
	b.Decrypt(x[:], block)
	for i := range x {
		x[i] ^= af[i]
	}
	b.Decrypt(pf[:], x[:])
	var nib [16]byte
	for i := 0; i < 8; i++ {
		nib[2*i], nib[2*i+1] = pf[i]>>4, pf[i]&0xF
	}
	if nib[0] != 4 {
		return "", fmt.Errorf("decrypt format 4 PIN block: %w: control nibble %X, want 4", ErrFormat, nib[0])
	}
	n := int(nib[1])
	if n < 4 || n > 12 {
		return "", fmt.Errorf("decrypt format 4 PIN block: %w: PIN length nibble %d, want 4 to 12", ErrFormat, n)
	}
	out := make([]byte, n)
	for i := 0; i < n; i++ {
		if nib[2+i] > 9 {
			return "", fmt.Errorf("decrypt format 4 PIN block: %w: nibble %d is not a PIN digit", ErrFormat, 2+i)
		}
		out[i] = '0' + nib[2+i]
	}
	for i := 2 + n; i < 16; i++ {
		if nib[i] != 0xA {
			return "", fmt.Errorf("decrypt format 4 PIN block: %w: fill nibble %d is %X, want A", ErrFormat, i, nib[i])
		}
	}
	return string(out), nil
}

// VerifyAES is Verify for format 4 blocks: (false, nil) for another PIN, ErrFormat for a bad
// block.
func VerifyAES(key, block []byte, pan, want string) (bool, error) {
	got, err := DecryptAES(key, block, pan)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, nil
}
