package keys

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Errors, tested with errors.Is.
var (
	// ErrKeyLength: a key is not 8, 16 or 24 bytes.
	ErrKeyLength = errors.New("key length")
	// ErrDataLength: data to encrypt or decrypt, or a key block, is not a whole number of
	// 8-byte blocks (or is empty).
	ErrDataLength = errors.New("data length")
	// ErrKCVMismatch: an unwrapped key's check value differs from the one delivered with it
	// (usually: the key was wrapped under another TMK).
	ErrKCVMismatch = errors.New("key check value mismatch")
)

// BlockSize is the DES block size in bytes.
const BlockSize = des.BlockSize

// LengthError says which field had the wrong length, how long it was and what was wanted.
// It matches ErrKeyLength or ErrDataLength with errors.Is.
type LengthError struct {
	Field string // "TMK", "key block", "check value", "data", …
	Got   int    // bytes received
	Want  string // what would have been accepted, e.g. "8, 16 or 24"
	kind  error
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("%s is %d bytes, want %s", e.Field, e.Got, e.Want)
}

// Is lets errors.Is(err, ErrKeyLength) / ErrDataLength match a LengthError.
func (e *LengthError) Is(target error) bool { return target == e.kind }

// CheckKey reports whether key has a DES/TDES length (8, 16 or 24 bytes); field names the
// key in the error.
func CheckKey(field string, key []byte) error {
	switch len(key) {
	case 8, 16, 24:
		return nil
	}
	return &LengthError{Field: field, Got: len(key), Want: "8, 16 or 24", kind: ErrKeyLength}
}

func checkBlocks(field string, b []byte) error {
	if len(b) == 0 || len(b)%BlockSize != 0 {
		return &LengthError{Field: field, Got: len(b), Want: "a non-zero multiple of 8", kind: ErrDataLength}
	}
	return nil
}

// Cipher returns the block cipher for key: single DES for 8 bytes, TDES K1 K2 K1 for 16,
// TDES K1 K2 K3 for 24. Ciphers are cached by key (see cache): the DES key schedule costs
// more than MACing a whole message (BENCHMARKS.md §8), and a terminal's working keys only
// change at sign-on. The returned cipher is safe for concurrent use.
func Cipher(key []byte) (cipher.Block, error) {
	if err := CheckKey("key", key); err != nil {
		return nil, err
	}
	cache.RLock()
	b, ok := cache.m[string(key)]
	cache.RUnlock()
	if ok {
		return b, nil
	}
	b, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	cache.Lock()
	if len(cache.m) >= cacheMax {
		// Rotating keys (DUKPT: one key per transaction) would grow the map without end:
		// start over rather than track ages.
		clear(cache.m)
	}
	cache.m[string(key)] = b
	cache.Unlock()
	return b, nil
}

// cacheMax bounds the cipher cache (a few hundred bytes per entry).
const cacheMax = 4096

var cache = struct {
	sync.RWMutex
	m map[string]cipher.Block
}{m: map[string]cipher.Block{}}

func newCipher(key []byte) (cipher.Block, error) {
	switch len(key) {
	case 8:
		return des.NewCipher(key)
	case 16:
		k := make([]byte, 24)
		copy(k, key)
		copy(k[16:], key[:8])
		return des.NewTripleDESCipher(k)
	default:
		return des.NewTripleDESCipher(key)
	}
}

// EncryptECB encrypts data (a non-zero multiple of 8 bytes) block by block under key.
func EncryptECB(key, data []byte) ([]byte, error) {
	return ecb(key, data, true)
}

// DecryptECB decrypts data (a non-zero multiple of 8 bytes) block by block under key.
func DecryptECB(key, data []byte) ([]byte, error) {
	return ecb(key, data, false)
}

func ecb(key, data []byte, enc bool) ([]byte, error) {
	op := "decrypt ECB"
	if enc {
		op = "encrypt ECB"
	}
	b, err := Cipher(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := checkBlocks("data", data); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := make([]byte, len(data))
	for i := 0; i < len(data); i += BlockSize {
		if enc {
			b.Encrypt(out[i:i+BlockSize], data[i:i+BlockSize])
		} else {
			b.Decrypt(out[i:i+BlockSize], data[i:i+BlockSize])
		}
	}
	return out, nil
}

// EncryptCBC encrypts data (a non-zero multiple of 8 bytes) in CBC mode under key with iv
// (8 bytes; nil means zeros, the usual choice in card payments).
func EncryptCBC(key, iv, data []byte) ([]byte, error) {
	return cbc(key, iv, data, true)
}

// DecryptCBC reverses EncryptCBC.
func DecryptCBC(key, iv, data []byte) ([]byte, error) {
	return cbc(key, iv, data, false)
}

func cbc(key, iv, data []byte, enc bool) ([]byte, error) {
	op := "decrypt CBC"
	if enc {
		op = "encrypt CBC"
	}
	b, err := Cipher(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := checkBlocks("data", data); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if iv == nil {
		iv = make([]byte, BlockSize)
	}
	if len(iv) != BlockSize {
		return nil, fmt.Errorf("%s: %w", op, &LengthError{Field: "IV", Got: len(iv), Want: "8", kind: ErrDataLength})
	}
	out := make([]byte, len(data))
	if enc {
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, data)
	} else {
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, data)
	}
	return out, nil
}

// KCVLen is the usual key check value length: the first 3 bytes (6 hex digits) of the
// encryption of a zero block.
const KCVLen = 3

// KCV returns the 3-byte key check value of key: the first 3 bytes of key encrypting eight
// zero bytes.
func KCV(key []byte) ([]byte, error) {
	return CheckValue(key, KCVLen)
}

// CheckValue returns the first n (1..8) bytes of key encrypting eight zero bytes. UnionPay
// sign-on answers carry 4-byte check values in DE62; most HSMs show 3.
func CheckValue(key []byte, n int) ([]byte, error) {
	if n < 1 || n > BlockSize {
		return nil, fmt.Errorf("check value: length %d, want 1 to 8", n)
	}
	b, err := Cipher(key)
	if err != nil {
		return nil, fmt.Errorf("check value: %w", err)
	}
	out := make([]byte, BlockSize)
	b.Encrypt(out, out)
	return out[:n], nil
}

// Wrap encrypts workingKey under tmk (ECB, as terminals decrypt it) and returns the key
// block and the working key's check value (KCVLen bytes). Use WrapN for another check
// value length.
func Wrap(tmk, workingKey []byte) (block, kcv []byte, err error) {
	return WrapN(tmk, workingKey, KCVLen)
}

// WrapN is Wrap with an n-byte check value (1..8).
func WrapN(tmk, workingKey []byte, n int) (block, kcv []byte, err error) {
	if err := CheckKey("TMK", tmk); err != nil {
		return nil, nil, fmt.Errorf("wrap key: %w", err)
	}
	if err := CheckKey("working key", workingKey); err != nil {
		return nil, nil, fmt.Errorf("wrap key: %w", err)
	}
	kcv, err = CheckValue(workingKey, n)
	if err != nil {
		return nil, nil, fmt.Errorf("wrap key: %w", err)
	}
	block, err = EncryptECB(tmk, workingKey)
	if err != nil {
		return nil, nil, fmt.Errorf("wrap key: %w", err)
	}
	return block, kcv, nil
}

// Unwrap decrypts block under tmk and checks the result against kcv (1 to 8 bytes, compared
// with the same number of leading bytes of the key's check value, in constant time). A
// mismatch returns an error wrapping ErrKCVMismatch and no key; a block of the wrong length
// returns a *LengthError naming "key block" and its byte count. A nil kcv skips the check:
// use it only for profiles that deliver no check value.
func Unwrap(tmk, block, kcv []byte) (Key, error) {
	if err := CheckKey("TMK", tmk); err != nil {
		return nil, fmt.Errorf("unwrap key: %w", err)
	}
	if err := CheckKey("key block", block); err != nil {
		return nil, fmt.Errorf("unwrap key: %w", err)
	}
	if kcv != nil && (len(kcv) < 1 || len(kcv) > BlockSize) {
		return nil, fmt.Errorf("unwrap key: %w", &LengthError{Field: "check value", Got: len(kcv), Want: "1 to 8", kind: ErrDataLength})
	}
	key, err := DecryptECB(tmk, block)
	if err != nil {
		return nil, fmt.Errorf("unwrap key: %w", err)
	}
	if kcv != nil {
		got, err := CheckValue(key, len(kcv))
		if err != nil {
			return nil, fmt.Errorf("unwrap key: %w", err)
		}
		if subtle.ConstantTimeCompare(got, kcv) != 1 {
			// Both check values may be shown: they are what operators compare by phone.
			return nil, fmt.Errorf("unwrap key: %w: delivered %X, key gives %X", ErrKCVMismatch, kcv, got)
		}
	}
	return Key(key), nil
}

// Key is key material that never prints: String, Format (every verb, %x and %v included)
// and GoString show only the length and the 3-byte check value.
type Key []byte

// String returns "key(16 bytes, KCV 08D7B4)", never the key bytes.
func (k Key) String() string {
	if len(k) == 0 {
		return "key(empty)"
	}
	kcv, err := KCV(k)
	if err != nil {
		return fmt.Sprintf("key(%d bytes)", len(k))
	}
	return fmt.Sprintf("key(%d bytes, KCV %X)", len(k), kcv)
}

// Format masks the key for every fmt verb.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// GoString masks the key for %#v.
func (k Key) GoString() string { return k.String() }

// MarshalText masks the key in JSON/YAML output (traces, reports). There is deliberately no
// UnmarshalText: keys are read with ParseHex.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// ParseHex reads a key written as hex (spaces allowed, as fixtures print keys in groups);
// field names it in errors. The key must be 8, 16 or 24 bytes.
func ParseHex(field, s string) (Key, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("parse %s: not hex: %w", field, err)
	}
	if err := CheckKey(field, b); err != nil {
		return nil, fmt.Errorf("parse %s: %w", field, err)
	}
	return Key(b), nil
}

// Equal compares two keys in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// NewKeyLengthError returns a *LengthError matching ErrKeyLength, for packages that accept
// another set of key lengths than CheckKey (a retail MAC key must be 16 bytes).
func NewKeyLengthError(field string, got int, want string) error {
	return &LengthError{Field: field, Got: got, Want: want, kind: ErrKeyLength}
}
