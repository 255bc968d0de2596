package pin

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/posdrill/posdrill/iso/keys"
)

// Format is an ISO 9564-1 PIN block format.
type Format int

// The supported formats; the values are the control nibble.
const (
	Format0 Format = 0
	Format3 Format = 3
)

func (f Format) String() string {
	switch f {
	case Format0:
		return "ISO 9564 format 0"
	case Format3:
		return "ISO 9564 format 3"
	case Format4:
		return "ISO 9564 format 4 (AES)"
	}
	return fmt.Sprintf("PIN block format %d", int(f))
}

// ParseFormat reads a profile's PIN block format: "0", "iso0", "format0", "3", "iso3",
// "format3", "4", "iso4", "format4" (format 4 is AES: EncryptAES/DecryptAES).
func ParseFormat(s string) (Format, error) {
	switch s {
	case "0", "iso0", "iso-0", "format0", "format-0":
		return Format0, nil
	case "3", "iso3", "iso-3", "format3", "format-3":
		return Format3, nil
	case "4", "iso4", "iso-4", "format4", "format-4":
		return Format4, nil
	}
	return 0, fmt.Errorf("PIN block format %q: want 0 (iso0), 3 (iso3) or 4 (iso4, AES)", s)
}

// BlockSize is the length of a PIN block in bytes.
const BlockSize = 8

// Errors, tested with errors.Is.
var (
	// ErrPIN: the PIN to encode is not 4 to 12 digits.
	ErrPIN = errors.New("PIN must be 4 to 12 digits")
	// ErrPAN: the PAN is not 13 to 19 digits.
	ErrPAN = errors.New("PAN must be 13 to 19 digits")
	// ErrFormat: the block is not a valid format 0 or 3 block for this PAN (answer 99).
	ErrFormat = errors.New("PIN block format error")
)

// Build returns the clear PIN block of pin for pan in format f. Format 3 draws its fill
// nibbles from random (nil means crypto/rand); format 0 ignores random.
func Build(f Format, pin, pan string, random io.Reader) ([]byte, error) {
	if len(pin) < 4 || len(pin) > 12 || !digits(pin) {
		return nil, fmt.Errorf("build PIN block: %w (got %d characters)", ErrPIN, len(pin))
	}
	pf, err := panField(pan)
	if err != nil {
		return nil, fmt.Errorf("build PIN block: %w", err)
	}
	var nib [16]byte
	nib[0], nib[1] = byte(f), byte(len(pin))
	for i := 0; i < len(pin); i++ {
		nib[2+i] = pin[i] - '0'
	}
	fill := nib[2+len(pin):]
	switch f {
	case Format0:
		for i := range fill {
			fill[i] = 0xF
		}
	case Format3:
		if random == nil {
			random = rand.Reader
		}
		var r [14]byte
		if _, err := io.ReadFull(random, r[:len(fill)]); err != nil {
			return nil, fmt.Errorf("build PIN block: format 3 fill: %w", err)
		}
		for i := range fill {
			// Six fill values A..F; the modulo bias is irrelevant for a fill nibble.
			fill[i] = 0xA + r[i]%6
		}
	default:
		return nil, fmt.Errorf("build PIN block: %v is not supported here (0 or 3; format 4 is EncryptAES)", f)
	}
	out := make([]byte, BlockSize)
	for i := range out {
		out[i] = (nib[2*i]<<4 | nib[2*i+1]) ^ pf[i]
	}
	return out, nil
}

// Parse reads a clear PIN block for pan and returns the PIN and the block's format. Any
// structural fault wraps ErrFormat and says which nibble is wrong (never which PIN digits
// were read).
func Parse(block []byte, pan string) (string, Format, error) {
	if len(block) != BlockSize {
		return "", 0, fmt.Errorf("parse PIN block: %w: %d bytes, want 8", ErrFormat, len(block))
	}
	pf, err := panField(pan)
	if err != nil {
		return "", 0, fmt.Errorf("parse PIN block: %w", err)
	}
	var nib [16]byte
	for i := range block {
		x := block[i] ^ pf[i]
		nib[2*i], nib[2*i+1] = x>>4, x&0xF
	}
	f := Format(nib[0])
	if f != Format0 && f != Format3 {
		return "", 0, fmt.Errorf("parse PIN block: %w: control nibble %X, want 0 or 3", ErrFormat, nib[0])
	}
	n := int(nib[1])
	if n < 4 || n > 12 {
		return "", f, fmt.Errorf("parse PIN block: %w: PIN length nibble %d, want 4 to 12", ErrFormat, n)
	}
	pin := make([]byte, n)
	for i := 0; i < n; i++ {
		if nib[2+i] > 9 {
			return "", f, fmt.Errorf("parse PIN block: %w: nibble %d is not a PIN digit", ErrFormat, 2+i)
		}
		pin[i] = '0' + nib[2+i]
	}
	for i := 2 + n; i < 16; i++ {
		if f == Format0 && nib[i] != 0xF || f == Format3 && nib[i] < 0xA {
			return "", f, fmt.Errorf("parse PIN block: %w: fill nibble %d is %X for %v", ErrFormat, i, nib[i], f)
		}
	}
	return string(pin), f, nil
}

// Encrypt builds the format f block of pin for pan and encrypts it under key (8, 16 or 24
// bytes; TDES ECB). The result is DE52.
func Encrypt(key []byte, f Format, pin, pan string, random io.Reader) ([]byte, error) {
	if err := keys.CheckKey("PIN key", key); err != nil {
		return nil, fmt.Errorf("encrypt PIN block: %w", err)
	}
	clear, err := Build(f, pin, pan, random)
	if err != nil {
		return nil, err
	}
	out, err := keys.EncryptECB(key, clear)
	if err != nil {
		return nil, fmt.Errorf("encrypt PIN block: %w", err)
	}
	return out, nil
}

// Decrypt decrypts block under key and parses it for pan: the PIN and the block's format.
// A block of the wrong length or one that decrypts to garbage (often: another PIN key)
// wraps ErrFormat.
func Decrypt(key, block []byte, pan string) (string, Format, error) {
	if len(block) != BlockSize {
		return "", 0, fmt.Errorf("decrypt PIN block: %w: %d bytes, want 8", ErrFormat, len(block))
	}
	if err := keys.CheckKey("PIN key", key); err != nil {
		return "", 0, fmt.Errorf("decrypt PIN block: %w", err)
	}
	clear, err := keys.DecryptECB(key, block)
	if err != nil {
		return "", 0, fmt.Errorf("decrypt PIN block: %w", err)
	}
	return Parse(clear, pan)
}

// Verify decrypts block under key for pan and compares the PIN with want in constant time.
// It returns (false, nil) for a well-formed block with another PIN (answer 55) and an error
// wrapping ErrFormat for a bad block (answer 99).
func Verify(key, block []byte, pan, want string) (bool, error) {
	got, _, err := Decrypt(key, block, pan)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, nil
}

// panField is 0000 and the 12 rightmost PAN digits excluding the check digit, as 8 bytes.
func panField(pan string) ([8]byte, error) {
	var out [8]byte
	if len(pan) < 13 || len(pan) > 19 || !digits(pan) {
		return out, fmt.Errorf("%w (got %d characters)", ErrPAN, len(pan))
	}
	d := pan[len(pan)-13 : len(pan)-1]
	for i := 0; i < 6; i++ {
		out[2+i] = (d[2*i]-'0')<<4 | (d[2*i+1] - '0')
	}
	return out, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
