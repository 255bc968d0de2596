package dukpt

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/posdrill/posdrill/iso/keys"
)

// KSNLen is the length of a TDES DUKPT key serial number in bytes (20 hex digits).
const KSNLen = 10

// CounterBits is the width of the TDES DUKPT transaction counter.
const CounterBits = 21

// MaxOneBits: an originating device skips counters with more than this many one bits
// (X9.24-1 keeps at most 21 future keys, one per counter bit, and never uses a key twice).
const MaxOneBits = 10

// Errors, tested with errors.Is.
var (
	// ErrKSN: a key serial number of the wrong length or not hex.
	ErrKSN = errors.New("key serial number")
	// ErrExhausted: the transaction counter has no valid next value: the device needs a new key.
	ErrExhausted = errors.New("DUKPT transaction counter exhausted")
	// ErrCounter: a counter value a device never uses (too many one bits, or zero).
	ErrCounter = errors.New("DUKPT transaction counter not valid")
)

// Usage selects a TDES DUKPT working key variant.
type Usage int

// TDES DUKPT key usages. Transaction is the bare transaction key (no variant).
const (
	Transaction Usage = iota
	PIN
	MACRequest
	MACResponse
	DataRequest
	DataResponse
)

func (u Usage) String() string {
	switch u {
	case Transaction:
		return "transaction"
	case PIN:
		return "PIN"
	case MACRequest:
		return "MAC request"
	case MACResponse:
		return "MAC response"
	case DataRequest:
		return "data request"
	case DataResponse:
		return "data response"
	}
	return fmt.Sprintf("dukpt.Usage(%d)", int(u))
}

// variant masks (X9.24-1:2009 A.6; the same byte in each half of the key).
var variants = map[Usage][2]byte{
	PIN:          {7, 0xFF}, // 00000000000000FF
	MACRequest:   {6, 0xFF}, // 000000000000FF00
	MACResponse:  {4, 0xFF}, // 00000000FF000000
	DataRequest:  {5, 0xFF}, // 0000000000FF0000
	DataResponse: {3, 0xFF}, // 000000FF00000000
}

// keyMask turns the IPEK's left half derivation into the right half's, and likewise inside
// the non-reversible key generation process.
var keyMask = [16]byte{0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0, 0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0}

func checkKSN(ksn []byte) error {
	if len(ksn) != KSNLen {
		return fmt.Errorf("%w: %d bytes, want %d", ErrKSN, len(ksn), KSNLen)
	}
	return nil
}

func checkDouble(field string, k []byte) error {
	if len(k) != 16 {
		return keys.NewKeyLengthError(field, len(k), "16 (double-length TDES)")
	}
	return nil
}

// ParseKSN reads a KSN written as hex: 20 digits for TDES, 24 for AES (spaces allowed).
func ParseKSN(s string) ([]byte, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("parse KSN: %w: not hex", ErrKSN)
	}
	if len(b) != KSNLen && len(b) != AESKSNLen {
		return nil, fmt.Errorf("parse KSN: %w: %d bytes, want %d (TDES) or %d (AES)", ErrKSN, len(b), KSNLen, AESKSNLen)
	}
	return b, nil
}

// FormatKSN writes a KSN as upper-case hex, as messages and logs carry it (a KSN is not secret).
func FormatKSN(ksn []byte) string { return strings.ToUpper(hex.EncodeToString(ksn)) }

// Counter returns the 21-bit transaction counter of a TDES KSN.
func Counter(ksn []byte) (uint32, error) {
	if err := checkKSN(ksn); err != nil {
		return 0, fmt.Errorf("KSN counter: %w", err)
	}
	return (uint32(ksn[7]&0x1F)<<16 | uint32(ksn[8])<<8 | uint32(ksn[9])), nil
}

// WithCounter returns a copy of ksn with its transaction counter set to c (< 2^21).
func WithCounter(ksn []byte, c uint32) ([]byte, error) {
	if err := checkKSN(ksn); err != nil {
		return nil, fmt.Errorf("set KSN counter: %w", err)
	}
	if c >= 1<<CounterBits {
		return nil, fmt.Errorf("set KSN counter: %w: %d needs more than %d bits", ErrCounter, c, CounterBits)
	}
	out := append([]byte(nil), ksn...)
	out[7] = out[7]&0xE0 | byte(c>>16)
	out[8], out[9] = byte(c>>8), byte(c)
	return out, nil
}

// Next returns the KSN a terminal uses for its next transaction: the counter plus one,
// skipping values with more than MaxOneBits one bits (X9.24-1: add the counter's lowest one
// bit until the count is allowed). ErrExhausted when the counter would overflow.
func Next(ksn []byte) ([]byte, error) {
	c, err := Counter(ksn)
	if err != nil {
		return nil, fmt.Errorf("next KSN: %w", err)
	}
	c = nextCounter(c, MaxOneBits)
	if c >= 1<<CounterBits {
		return nil, fmt.Errorf("next KSN: %w", ErrExhausted)
	}
	return WithCounter(ksn, c)
}

func nextCounter(c uint32, maxOnes int) uint32 {
	c++
	for c != 0 && bits.OnesCount32(c) > maxOnes {
		c += c & -c
	}
	return c
}

// IPEK derives the initial PIN encryption key (the initial key a device is loaded with)
// from a double-length BDK and the device's KSN (its counter bits are ignored).
func IPEK(bdk, ksn []byte) (keys.Key, error) {
	if err := checkDouble("BDK", bdk); err != nil {
		return nil, fmt.Errorf("derive IPEK: %w", err)
	}
	if err := checkKSN(ksn); err != nil {
		return nil, fmt.Errorf("derive IPEK: %w", err)
	}
	var base [8]byte
	copy(base[:], ksn[:8])
	base[7] &= 0xE0
	left, err := keys.EncryptECB(bdk, base[:])
	if err != nil {
		return nil, fmt.Errorf("derive IPEK: %w", err)
	}
	var masked [16]byte
	for i := range masked {
		masked[i] = bdk[i] ^ keyMask[i]
	}
	right, err := keys.EncryptECB(masked[:], base[:])
	if err != nil {
		return nil, fmt.Errorf("derive IPEK: %w", err)
	}
	return keys.Key(append(left, right...)), nil
}

// TransactionKey derives the current transaction key for ksn from the IPEK: for each one
// bit of the counter, most significant first, the non-reversible key generation process
// (X9.24-1 A.2) under the key so far with the KSN register holding the bits so far.
func TransactionKey(ipek, ksn []byte) (keys.Key, error) {
	if err := checkDouble("IPEK", ipek); err != nil {
		return nil, fmt.Errorf("derive transaction key: %w", err)
	}
	c, err := Counter(ksn)
	if err != nil {
		return nil, fmt.Errorf("derive transaction key: %w", err)
	}
	var key [16]byte
	copy(key[:], ipek)
	var reg [8]byte
	copy(reg[:], ksn[2:])
	reg[5] &= 0xE0
	reg[6], reg[7] = 0, 0
	for bit := uint32(1) << (CounterBits - 1); bit != 0; bit >>= 1 {
		if c&bit == 0 {
			continue
		}
		reg[5] |= byte(bit >> 16)
		reg[6] |= byte(bit >> 8)
		reg[7] |= byte(bit)
		key = nrkgp(key, reg)
	}
	return keys.Key(key[:]), nil
}

// nrkgp is the non-reversible key generation process: each half of the new key is
// DES(K_left, reg ⊕ K_right) ⊕ K_right, the left half with the key masked by C0C0C0C0….
func nrkgp(key [16]byte, reg [8]byte) [16]byte {
	half := func(k [16]byte) [8]byte {
		var msg [8]byte
		for i := range msg {
			msg[i] = reg[i] ^ k[8+i]
		}
		b, _ := keys.Cipher(k[:8]) // 8 bytes: cannot fail
		b.Encrypt(msg[:], msg[:])
		for i := range msg {
			msg[i] ^= k[8+i]
		}
		return msg
	}
	var masked [16]byte
	for i := range masked {
		masked[i] = key[i] ^ keyMask[i]
	}
	r, l := half(key), half(masked)
	var out [16]byte
	copy(out[:8], l[:])
	copy(out[8:], r[:])
	return out
}

// Variant applies a usage's variant to a transaction key. Data keys then go through the
// one-way step of X9.24-1:2009 (each half encrypted under the variant key), so a data key
// does not reveal the MAC or PIN key.
func Variant(txKey []byte, u Usage) (keys.Key, error) {
	if err := checkDouble("transaction key", txKey); err != nil {
		return nil, fmt.Errorf("%v key: %w", u, err)
	}
	out := append([]byte(nil), txKey...)
	if u == Transaction {
		return keys.Key(out), nil
	}
	v, ok := variants[u]
	if !ok {
		return nil, fmt.Errorf("%v key: unknown usage", u)
	}
	out[v[0]] ^= v[1]
	out[8+v[0]] ^= v[1]
	if u == DataRequest || u == DataResponse {
		enc, err := keys.EncryptECB(out, out)
		if err != nil {
			return nil, fmt.Errorf("%v key: %w", u, err)
		}
		out = enc
	}
	return keys.Key(out), nil
}

// DeriveKey is the host's path: BDK and the message's KSN to the working key for u.
func DeriveKey(bdk, ksn []byte, u Usage) (keys.Key, error) {
	ipek, err := IPEK(bdk, ksn)
	if err != nil {
		return nil, err
	}
	return DeviceKey(ipek, ksn, u)
}

// DeviceKey is the device's path: its IPEK and current KSN to the working key for u.
func DeviceKey(ipek, ksn []byte, u Usage) (keys.Key, error) {
	c, err := Counter(ksn)
	if err != nil {
		return nil, fmt.Errorf("derive %v key: %w", u, err)
	}
	if c == 0 || bits.OnesCount32(c) > MaxOneBits {
		return nil, fmt.Errorf("derive %v key: %w: %d", u, ErrCounter, c)
	}
	tk, err := TransactionKey(ipek, ksn)
	if err != nil {
		return nil, err
	}
	return Variant(tk, u)
}

// Device splits a TDES (10-byte) or AES (12-byte) KSN into what a host tracks: the device,
// as upper-case hex of the KSN without its counter (TDES: counter bits zeroed; AES: the
// initial key ID), and the transaction counter.
func Device(ksn []byte) (device string, counter uint32, err error) {
	switch len(ksn) {
	case AESKSNLen:
		c, _ := AESCounter(ksn)
		return FormatKSN(ksn[:InitialKeyIDLen]), c, nil
	case KSNLen:
		c, _ := Counter(ksn)
		z, _ := WithCounter(ksn, 0)
		return FormatKSN(z), c, nil
	}
	return "", 0, fmt.Errorf("KSN device: %w: %d bytes, want %d (TDES) or %d (AES)", ErrKSN, len(ksn), KSNLen, AESKSNLen)
}
