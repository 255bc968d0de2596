package mac_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/internal/testhex"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
)

func unhex(t testing.TB, s string) []byte { t.Helper(); return testhex.Decode(t, s) }

var retailKey = "0123456789ABCDEFFEDCBA9876543210"

// ISO 9797-1:2011 Annex B.4 (MAC algorithm 3, padding method 1 = ANSI X9.19), key
// 0123456789ABCDEF FEDCBA9876543210: "Now is the time for all " → A1C72E74…, "Now is the
// time for it" → 2E2B1428… (the standard prints the leading 4 bytes; the same vectors are in
// the test suite of Leon Lynch's openemv crypto library). Padding method 2 values were computed
// independently with openssl (des-cbc under K1, then des-ecb decrypt K2 / encrypt K1).
func TestRetailMACPublishedVectors(t *testing.T) {
	tests := []struct {
		name   string
		alg    mac.Algorithm
		data   string
		prefix string
	}{
		{"ISO9797-1 B.4 full blocks (X9.19)", mac.X919, "Now is the time for all ", "A1C72E74"},
		{"ISO9797-1 B.4 partial block (X9.19)", mac.X919, "Now is the time for it", "2E2B1428"},
		{"ISO9797-1 B.4 full blocks (alg3 m1)", mac.ISO9797Alg3M1, "Now is the time for all ", "A1C72E74"},
		{"alg3 m2 full blocks (openssl)", mac.ISO9797Alg3M2, "Now is the time for all ", "E9086230CA3BE796"},
		{"alg3 m2 partial block (openssl)", mac.ISO9797Alg3M2, "Now is the time for it", "5A692CE64F404145"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mac.Compute(tt.alg, unhex(t, retailKey), []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != mac.Size || !strings.HasPrefix(fmt.Sprintf("%X", got), tt.prefix) {
				t.Fatalf("MAC %X, want %s…", got, tt.prefix)
			}
			if err := mac.Verify(tt.alg, unhex(t, retailKey), []byte(tt.data), got[:4]); err != nil {
				t.Fatalf("truncated verify: %v", err)
			}
		})
	}
}

// A published UnionPay POS message and its host-generated MAC (question at
// https://q.cnblogs.com/q/128930: TPDU 6000030000, header 603210320072, a 0200 with DE64
// "B3A092AE", TAK 0723C80DB5F4CD3D0723C80DB5F4CD3D). The MAC element block is the message from
// the MTI up to the byte before DE64, which confirms both the algorithm steps and the byte range.
func TestCUPECBPublishedMessage(t *testing.T) {
	raw := unhex(t, "00:7f:60:00:03:00:00:60:32:10:32:00:72:02:00:30:20:04:80:00:c0:80:15:00:00:00:00:00:00:00:12:34:00:00:02:03:00:99"+
		":30:30:30:30:30:30:30:31:39:35:32:37:31:38:31:38:32:32:31:37:38:37:35:31:35:36:00:19:26:00:00:01:00:06:00:00:00:00:00:43"+
		":5f:01:12:32:38:34:34:31:32:33:34:35:36:37:38:39:30:31:32:33:34:5f:03:06:31:36:30:30:33:36:5f:04:06:32:30:30:38:32:36"+
		":5c:02:30:31:42:33:41:30:39:32:41:45")
	key := unhex(t, "0723C80DB5F4CD3D0723C80DB5F4CD3D")
	mab := raw[2+5+6 : len(raw)-8]
	de64 := raw[len(raw)-8:]
	got, err := mac.Compute(mac.CUPECB, key, mab)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "B3A092AE" || string(got) != string(de64) {
		t.Fatalf("MAC %q, want %q", got, de64)
	}
	// A double-length key with equal halves is single DES: the 8-byte key gives the same MAC.
	got8, _ := mac.Compute(mac.CUPECB, key[:8], mab)
	if string(got8) != "B3A092AE" {
		t.Fatalf("8-byte key MAC %q", got8)
	}
	if err := mac.Verify(mac.CUPECB, key, mab, de64); err != nil {
		t.Fatal(err)
	}
	mab[20] ^= 1
	if err := mac.Verify(mac.CUPECB, key, mab, de64); !errors.Is(err, mac.ErrMismatch) {
		t.Fatalf("tampered message verified: %v", err)
	}
}

// The CUP ECB XOR step matches the intermediate values of the public walk-through
// "MAC算法演示" (blog.csdn.net/zhu244912654/article/details/80005341): XOR of M1..M4 =
// 9A1753638ED222D9. Appending blocks whose XOR is zero (M ⊕ M) must not change the MAC, and
// the MAC of M1..M4 equals the MAC of the single block 9A1753638ED222D9.
func TestCUPECBXorStep(t *testing.T) {
	m := unhex(t, "0200302004C020C0 9811000000000000 0000510018340210 0006324392260009")
	key := unhex(t, "C24A8FB57AA20123")
	a, err := mac.Compute(mac.CUPECB, key, m)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := mac.Compute(mac.CUPECB, key, unhex(t, "9A1753638ED222D9"))
	if string(a) != string(b) {
		t.Fatalf("MAC of blocks %q != MAC of their XOR %q", a, b)
	}
	// Zero padding: a trailing partial block is padded with 0x00, so trailing zeros do not count.
	c, _ := mac.Compute(mac.CUPECB, key, append(append([]byte{}, m...), 0, 0, 0))
	if string(a) != string(c) {
		t.Fatalf("zero padding: %q != %q", a, c)
	}
	for _, ch := range a {
		if !(ch >= '0' && ch <= '9' || ch >= 'A' && ch <= 'F') {
			t.Fatalf("CUP MAC %q is not upper-case hex", a)
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	key := unhex(t, retailKey)
	data := []byte("0200 some message")
	good, _ := mac.Compute(mac.X919, key, data)
	bad := append([]byte{}, good...)
	bad[7] ^= 0x40
	tests := []struct {
		name   string
		alg    mac.Algorithm
		key    []byte
		got    []byte
		wantIs error
	}{
		{"flipped bit", mac.X919, key, bad, mac.ErrMismatch},
		{"another algorithm", mac.ISO9797Alg3M2, key, good, mac.ErrMismatch},
		{"3-byte MAC", mac.X919, key, good[:3], mac.ErrMismatch},
		{"9-byte MAC", mac.X919, key, append(good, 0), mac.ErrMismatch},
		{"single-length key for X9.19", mac.X919, key[:8], good, keys.ErrKeyLength},
		{"no algorithm", mac.None, key, good, mac.ErrAlgorithm},
		{"CUP with 5-byte key", mac.CUPECB, key[:5], good, keys.ErrKeyLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mac.Verify(tt.alg, tt.key, data, tt.got)
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
		})
	}
	if err := mac.Verify(mac.X919, key, data, good); err != nil {
		t.Fatal(err)
	}
}

// Padding method 1 of an empty message is one zero block; method 2 always adds a block.
func TestEmptyAndBlockAligned(t *testing.T) {
	key := unhex(t, retailKey)
	empty, err := mac.Compute(mac.X919, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	zero, _ := mac.Compute(mac.X919, key, make([]byte, 8))
	if string(empty) != string(zero) {
		t.Fatalf("empty %X != zero block %X", empty, zero)
	}
	m1, _ := mac.Compute(mac.ISO9797Alg3M1, key, []byte("12345678"))
	m2, _ := mac.Compute(mac.ISO9797Alg3M2, key, []byte("12345678"))
	if string(m1) == string(m2) {
		t.Fatal("padding method 2 added no block to an aligned message")
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, a := range append(mac.Algorithms(), mac.None) {
		got, err := mac.ParseAlgorithm(a.String())
		if err != nil || got != a {
			t.Errorf("%v: %v %v", a, got, err)
		}
		var u mac.Algorithm
		txt, _ := a.MarshalText()
		if err := u.UnmarshalText(txt); err != nil || u != a {
			t.Errorf("text round trip %v: %v %v", a, u, err)
		}
	}
	for in, want := range map[string]mac.Algorithm{"X9.19": mac.X919, "retail": mac.X919, "unionpay-ecb": mac.CUPECB} {
		if got, _ := mac.ParseAlgorithm(in); got != want {
			t.Errorf("%q → %v", in, got)
		}
	}
	if _, err := mac.ParseAlgorithm("cbc-mac"); !errors.Is(err, mac.ErrAlgorithm) || !strings.Contains(err.Error(), "cup-ecb") {
		t.Errorf("unknown: %v", err)
	}
}

// RFC 4493 section 4 test vectors (AES-128 key 2b7e1516 28aed2a6 abf71588 09cf4f3c; messages
// of 0, 16, 40 and 64 bytes of the SP 800-38A example plaintext).
func TestCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710")
	tests := []struct {
		n    int
		want string
	}{
		{0, "BB1D6929E95937287FA37D129B756746"},
		{16, "070A16B46B4D4144F79BDD9DD04A287C"},
		{40, "DFA66747DE9AE63030CA32611497C827"},
		{64, "51F0BEBF7E3B9D92FC49741779363CFE"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d bytes", tt.n), func(t *testing.T) {
			got, err := mac.CMAC(key, msg[:tt.n])
			if err != nil || fmt.Sprintf("%X", got) != tt.want {
				t.Fatalf("CMAC %X, %v; want %s", got, err, tt.want)
			}
			short, _ := mac.Compute(mac.AESCMAC, key, msg[:tt.n])
			if fmt.Sprintf("%X", short) != tt.want[:16] {
				t.Fatalf("Compute %X", short)
			}
			if err := mac.Verify(mac.AESCMAC, key, msg[:tt.n], short); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := mac.CMAC(key[:8], nil); err == nil || !strings.Contains(err.Error(), "8 bytes") {
		t.Fatalf("8-byte key: %v", err)
	}
}
