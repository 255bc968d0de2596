package mac

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// CMAC returns the full 16-byte AES-CMAC (NIST SP 800-38B, RFC 4493) of data under an AES key
// (16, 24 or 32 bytes): the MAC of AES DUKPT (X9.24-3) working keys. Compute(AESCMAC, …)
// returns its leftmost 8 bytes, the size of DE64/DE128.
func CMAC(key, data []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("compute AES-CMAC: MAC key is %d bytes, want 16, 24 or 32", len(key))
	}
	return cmac(b, data), nil
}

func cmac(b cipher.Block, data []byte) []byte {
	// Subkeys: L = AES(K, 0); K1 = L·x, K2 = K1·x in GF(2^128).
	var l, k1, k2 [16]byte
	b.Encrypt(l[:], l[:])
	double(&k1, &l)
	double(&k2, &k1)

	n := (len(data) + 15) / 16
	complete := n > 0 && len(data)%16 == 0
	if n == 0 {
		n = 1
	}
	var last [16]byte
	rest := data[(n-1)*16:]
	if complete {
		for i := range last {
			last[i] = rest[i] ^ k1[i]
		}
	} else {
		copy(last[:], rest)
		last[len(rest)] = 0x80
		for i := range last {
			last[i] ^= k2[i]
		}
	}
	var x [16]byte
	for i := 0; i < n-1; i++ {
		for j := range x {
			x[j] ^= data[16*i+j]
		}
		b.Encrypt(x[:], x[:])
	}
	for j := range x {
		x[j] ^= last[j]
	}
	b.Encrypt(x[:], x[:])
	return x[:]
}

// double is multiplication by x in GF(2^128) with the CMAC polynomial (Rb = 0x87).
func double(dst, src *[16]byte) {
	carry := src[0] >> 7
	for i := 0; i < 15; i++ {
		dst[i] = src[i]<<1 | src[i+1]>>7
	}
	dst[15] = src[15] << 1
	if carry != 0 {
		dst[15] ^= 0x87
	}
}
