package dukpt

import (
	"crypto/aes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/posdrill/posdrill/iso/keys"
)

// AES DUKPT (ANSI X9.24-3:2017) sizes.
const (
	AESKSNLen       = 12 // initial key ID (8) + transaction counter (4)
	InitialKeyIDLen = 8
	// AESMaxOneBits: a device skips counters with more than 16 one bits.
	AESMaxOneBits = 16
)

// KeyType is the type of a key AES DUKPT derives (and of the BDK / initial key).
type KeyType int

// X9.24-3 key types; the values are the standard's algorithm indicators.
const (
	TDES2  KeyType = 0
	TDES3  KeyType = 1
	AES128 KeyType = 2
	AES192 KeyType = 3
	AES256 KeyType = 4
)

func (t KeyType) String() string {
	switch t {
	case TDES2:
		return "2TDEA"
	case TDES3:
		return "3TDEA"
	case AES128:
		return "AES-128"
	case AES192:
		return "AES-192"
	case AES256:
		return "AES-256"
	}
	return fmt.Sprintf("dukpt.KeyType(%d)", int(t))
}

// Len is the key length in bytes.
func (t KeyType) Len() int {
	switch t {
	case TDES2, AES128:
		return 16
	case TDES3, AES192:
		return 24
	case AES256:
		return 32
	}
	return 0
}

func aesKeyType(n int) (KeyType, bool) {
	switch n {
	case 16:
		return AES128, true
	case 24:
		return AES192, true
	case 32:
		return AES256, true
	}
	return 0, false
}

// KeyUsage is an X9.24-3 key usage indicator.
type KeyUsage uint16

// Key usages of X9.24-3 working keys.
const (
	KeyEncryptionKey     KeyUsage = 0x0002
	PINEncryption        KeyUsage = 0x1000
	MACGeneration        KeyUsage = 0x2000
	MACVerification      KeyUsage = 0x2001
	MACBoth              KeyUsage = 0x2002
	DataEncrypt          KeyUsage = 0x3000
	DataDecrypt          KeyUsage = 0x3001
	DataBoth             KeyUsage = 0x3002
	keyDerivation        KeyUsage = 0x8000
	keyDerivationInitial KeyUsage = 0x8001
)

// derivationData is the 16-byte block X9.24-3 encrypts under the derivation key: version
// 01, block counter (set by deriveKey), usage, algorithm, length in bits, then the initial
// key ID (initial key) or its last 4 bytes and the counter (every other key).
func derivationData(u KeyUsage, t KeyType, ikID []byte, counter uint32) [16]byte {
	var d [16]byte
	d[0], d[1] = 0x01, 0x01
	binary.BigEndian.PutUint16(d[2:], uint16(u))
	binary.BigEndian.PutUint16(d[4:], uint16(t))
	binary.BigEndian.PutUint16(d[6:], uint16(t.Len()*8))
	if u == keyDerivationInitial {
		copy(d[8:], ikID[:8])
	} else {
		copy(d[8:12], ikID[4:8])
		binary.BigEndian.PutUint32(d[12:], counter)
	}
	return d
}

// deriveKey encrypts the derivation data (block counter 1, 2, … for keys longer than one
// AES block) under the derivation key and keeps t.Len() bytes.
func deriveKey(derivationKey []byte, t KeyType, d [16]byte) ([]byte, error) {
	b, err := aes.NewCipher(derivationKey)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 32)
	for i := 1; len(out) < t.Len(); i++ {
		d[1] = byte(i)
		var blk [16]byte
		b.Encrypt(blk[:], d[:])
		out = append(out, blk[:]...)
	}
	return out[:t.Len()], nil
}

// AESInitialKey derives a device's initial key from an AES BDK (16, 24 or 32 bytes) and its
// 8-byte initial key ID; the initial key has the BDK's type.
func AESInitialKey(bdk, initialKeyID []byte) (keys.Key, error) {
	t, ok := aesKeyType(len(bdk))
	if !ok {
		return nil, fmt.Errorf("derive AES initial key: %w", keys.NewKeyLengthError("BDK", len(bdk), "16, 24 or 32 (AES)"))
	}
	if len(initialKeyID) != InitialKeyIDLen {
		return nil, fmt.Errorf("derive AES initial key: %w: initial key ID is %d bytes, want 8", ErrKSN, len(initialKeyID))
	}
	k, err := deriveKey(bdk, t, derivationData(keyDerivationInitial, t, initialKeyID, 0))
	if err != nil {
		return nil, fmt.Errorf("derive AES initial key: %w", err)
	}
	return keys.Key(k), nil
}

// AESCounter returns the 32-bit transaction counter of an AES KSN.
func AESCounter(ksn []byte) (uint32, error) {
	if len(ksn) != AESKSNLen {
		return 0, fmt.Errorf("AES KSN counter: %w: %d bytes, want %d", ErrKSN, len(ksn), AESKSNLen)
	}
	return binary.BigEndian.Uint32(ksn[8:]), nil
}

// AESNext returns the next AES KSN a device uses (counters with more than 16 one bits are
// skipped), or ErrExhausted.
func AESNext(ksn []byte) ([]byte, error) {
	c, err := AESCounter(ksn)
	if err != nil {
		return nil, fmt.Errorf("next AES KSN: %w", err)
	}
	n := uint64(c) + 1
	for n < 1<<32 && bits.OnesCount64(n) > AESMaxOneBits {
		n += n & -n
	}
	if n >= 1<<32 {
		return nil, fmt.Errorf("next AES KSN: %w", ErrExhausted)
	}
	out := append([]byte(nil), ksn...)
	binary.BigEndian.PutUint32(out[8:], uint32(n))
	return out, nil
}

// AESDerivationKey returns the intermediate derivation key for the KSN's counter (what the
// X9.24-3 test vectors call the transaction key): from the initial key, one derivation per
// one bit of the counter, most significant first.
func AESDerivationKey(ik, ksn []byte) (keys.Key, error) {
	t, ok := aesKeyType(len(ik))
	if !ok {
		return nil, fmt.Errorf("derive AES transaction key: %w", keys.NewKeyLengthError("initial key", len(ik), "16, 24 or 32 (AES)"))
	}
	c, err := AESCounter(ksn)
	if err != nil {
		return nil, fmt.Errorf("derive AES transaction key: %w", err)
	}
	if c == 0 || bits.OnesCount32(c) > AESMaxOneBits {
		return nil, fmt.Errorf("derive AES transaction key: %w: %#x", ErrCounter, c)
	}
	key := append([]byte(nil), ik...)
	var work uint32
	for bit := uint32(1) << 31; bit != 0; bit >>= 1 {
		if c&bit == 0 {
			continue
		}
		work |= bit
		key, err = deriveKey(key, t, derivationData(keyDerivation, t, ksn[:8], work))
		if err != nil {
			return nil, fmt.Errorf("derive AES transaction key: %w", err)
		}
	}
	return keys.Key(key), nil
}

// AESWorkingKey derives the working key of type t for usage u at the KSN's counter from the
// device's initial key: what a device uses to encrypt a PIN block, compute a CMAC or
// encrypt data, and what the host derives again from the BDK (AESHostKey).
func AESWorkingKey(ik, ksn []byte, u KeyUsage, t KeyType) (keys.Key, error) {
	if t.Len() == 0 {
		return nil, fmt.Errorf("derive AES working key: unknown key type %v", t)
	}
	dk, err := AESDerivationKey(ik, ksn)
	if err != nil {
		return nil, err
	}
	c, _ := AESCounter(ksn)
	k, err := deriveKey(dk, t, derivationData(u, t, ksn[:8], c))
	if err != nil {
		return nil, fmt.Errorf("derive AES working key: %w", err)
	}
	return keys.Key(k), nil
}

// AESHostKey is the host's path: AES BDK and the message's KSN to the working key.
func AESHostKey(bdk, ksn []byte, u KeyUsage, t KeyType) (keys.Key, error) {
	if len(ksn) != AESKSNLen {
		return nil, fmt.Errorf("derive AES working key: %w: %d bytes, want %d", ErrKSN, len(ksn), AESKSNLen)
	}
	ik, err := AESInitialKey(bdk, ksn[:8])
	if err != nil {
		return nil, err
	}
	return AESWorkingKey(ik, ksn, u, t)
}
