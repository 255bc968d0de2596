package mac

import (
	"encoding/hex"
	"fmt"

	"github.com/posdrill/posdrill/iso/keys"
)

// cupECB is the UnionPay POS ECB MAC (see the package doc). Steps as public terminal code
// and UnionPay integration notes describe them (e.g. "POS终端MAC的算法",
// https://e-com-net.com/article/1288790201933570048.htm; 365seal.com/y/JBnZjY3anM.html):
//  1. XOR all 8-byte blocks of the data, the last one zero-padded;
//  2. expand the 8-byte result to 16 hex characters (upper case);
//  3. encrypt the first 8 characters with the MAC key;
//  4. XOR the result with the last 8 characters;
//  5. encrypt again with the MAC key;
//  6. expand to 16 hex characters and keep the first 8 as the MAC.
func cupECB(key, data []byte) ([]byte, error) {
	b, err := keys.Cipher(key)
	if err != nil {
		return nil, fmt.Errorf("compute MAC (cup-ecb): MAC key: %w", err)
	}
	var x [8]byte
	for i := 0; i < len(data); i += 8 {
		end := min(i+8, len(data))
		for j := i; j < end; j++ {
			x[j-i] ^= data[j]
		}
	}
	var hx [16]byte
	hexUpper(hx[:], x[:])
	var e [8]byte
	b.Encrypt(e[:], hx[:8])
	for j := 0; j < 8; j++ {
		e[j] ^= hx[8+j]
	}
	b.Encrypt(e[:], e[:])
	hexUpper(hx[:], e[:])
	out := make([]byte, Size)
	copy(out, hx[:8])
	return out, nil
}

func hexUpper(dst, src []byte) {
	hex.Encode(dst, src)
	for i, c := range dst {
		if c >= 'a' && c <= 'f' {
			dst[i] = c - 'a' + 'A'
		}
	}
}
