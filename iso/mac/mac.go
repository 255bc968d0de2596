package mac

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/posdrill/posdrill/iso/keys"
)

// Algorithm names a MAC algorithm. The zero value is no MAC.
type Algorithm int

// The algorithms; see the package doc.
const (
	None Algorithm = iota
	X919
	ISO9797Alg3M1
	ISO9797Alg3M2
	CUPECB
	AESCMAC
)

// Size is the length of a MAC as Compute returns it.
const Size = 8

// Errors, tested with errors.Is.
var (
	// ErrMismatch: the MAC does not verify (the acquirer answers A0).
	ErrMismatch = errors.New("MAC mismatch")
	// ErrAlgorithm: unknown or unusable algorithm.
	ErrAlgorithm = errors.New("MAC algorithm")
)

var names = map[Algorithm]string{
	None:          "none",
	X919:          "x9.19",
	ISO9797Alg3M1: "iso9797-alg3-m1",
	ISO9797Alg3M2: "iso9797-alg3-m2",
	CUPECB:        "cup-ecb",
	AESCMAC:       "aes-cmac",
}

// String returns the algorithm's profile name (ParseAlgorithm reads it back).
func (a Algorithm) String() string {
	if n, ok := names[a]; ok {
		return n
	}
	return fmt.Sprintf("mac.Algorithm(%d)", int(a))
}

// Algorithms lists the usable algorithms in a fixed order (for help texts and "did you mean").
func Algorithms() []Algorithm {
	return []Algorithm{X919, ISO9797Alg3M1, ISO9797Alg3M2, CUPECB, AESCMAC}
}

// ParseAlgorithm reads a profile's MAC algorithm name: "none", "x9.19" (also "x919",
// "ansi-x9.19", "retail"), "iso9797-alg3-m1", "iso9797-alg3-m2", "cup-ecb" (also "unionpay-ecb").
// Case does not matter.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return None, nil
	case "x9.19", "x919", "ansi-x9.19", "ansix9.19", "retail":
		return X919, nil
	case "iso9797-alg3-m1", "iso9797-3-m1", "iso9797-alg3":
		return ISO9797Alg3M1, nil
	case "iso9797-alg3-m2", "iso9797-3-m2":
		return ISO9797Alg3M2, nil
	case "cup-ecb", "cupecb", "unionpay-ecb", "ecb":
		return CUPECB, nil
	case "aes-cmac", "cmac":
		return AESCMAC, nil
	}
	var valid []string
	for _, a := range Algorithms() {
		valid = append(valid, a.String())
	}
	return None, fmt.Errorf("%w %q: want none or one of %s", ErrAlgorithm, s, strings.Join(valid, ", "))
}

// MarshalText and UnmarshalText let profiles carry the algorithm by name in YAML/JSON.
func (a Algorithm) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads a name accepted by ParseAlgorithm.
func (a *Algorithm) UnmarshalText(b []byte) error {
	v, err := ParseAlgorithm(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Compute returns the 8-byte MAC of data under key with algorithm a.
// X919 and the ISO 9797-1 algorithms need a 16-byte key; CUPECB takes 8 or 16 bytes;
// AESCMAC an AES key (its leftmost 8 bytes are returned; CMAC gives all 16).
func Compute(a Algorithm, key, data []byte) ([]byte, error) {
	switch a {
	case X919, ISO9797Alg3M1:
		return retail(key, data, false)
	case ISO9797Alg3M2:
		return retail(key, data, true)
	case CUPECB:
		return cupECB(key, data)
	case AESCMAC:
		full, err := CMAC(key, data)
		if err != nil {
			return nil, err
		}
		return full[:Size], nil
	}
	return nil, fmt.Errorf("compute MAC: %w %v is not usable", ErrAlgorithm, a)
}

// Verify recomputes the MAC of data and compares it in constant time with got, which may be
// truncated to 4..8 bytes (the leading bytes are compared). A mismatch wraps ErrMismatch.
func Verify(a Algorithm, key, data, got []byte) error {
	if len(got) < 4 || len(got) > Size {
		return fmt.Errorf("verify MAC: %w: MAC field is %d bytes, want 4 to 8", ErrMismatch, len(got))
	}
	want, err := Compute(a, key, data)
	if err != nil {
		return fmt.Errorf("verify MAC: %w", err)
	}
	if subtle.ConstantTimeCompare(want[:len(got)], got) != 1 {
		// The MAC values are not secret and help an operator see a key or byte-range problem;
		// still, print only the received one.
		return fmt.Errorf("verify MAC (%v): %w: received %X", a, ErrMismatch, got)
	}
	return nil
}

// retail is ISO 9797-1 MAC algorithm 3 (ANSI X9.19 when pad2 is false).
func retail(key, data []byte, pad2 bool) ([]byte, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("compute MAC: %w", keys.NewKeyLengthError("MAC key", len(key), "16 for ISO 9797-1 algorithm 3"))
	}
	k1, err := keys.Cipher(key[:8])
	if err != nil {
		return nil, err
	}
	k2, err := keys.Cipher(key[8:])
	if err != nil {
		return nil, err
	}
	var state, blk [8]byte
	n := len(data)
	full := n / 8 * 8
	for i := 0; i < full; i += 8 {
		for j := 0; j < 8; j++ {
			state[j] ^= data[i+j]
		}
		k1.Encrypt(state[:], state[:])
	}
	// Padding: method 1 adds zeros only to complete a block (and one zero block for empty
	// data); method 2 always adds 0x80 and zeros.
	rest := data[full:]
	if len(rest) > 0 || pad2 || n == 0 {
		copy(blk[:], rest)
		if pad2 {
			blk[len(rest)] = 0x80
		}
		for j := 0; j < 8; j++ {
			state[j] ^= blk[j]
		}
		k1.Encrypt(state[:], state[:])
	}
	k2.Decrypt(state[:], state[:])
	k1.Encrypt(state[:], state[:])
	return state[:], nil
}
