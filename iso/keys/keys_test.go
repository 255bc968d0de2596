package keys_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/internal/testhex"
	"github.com/posdrill/posdrill/iso/keys"
)

func unhex(t testing.TB, s string) []byte { t.Helper(); return testhex.Decode(t, s) }

// Published vectors:
//   - FIPS PUB 81 (DES modes of operation), Appendix B Table B1 (ECB) and Appendix C Table C1
//     (CBC): key 0123456789ABCDEF, plaintext "Now is the time for all ", CBC IV 1234567890ABCDEF.
//   - NIST SP 800-67 (TDEA) example: keys 0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123,
//     plaintext "The qufck brown fox jump" (the typo is the standard's).
func TestCipherPublishedVectors(t *testing.T) {
	tests := []struct {
		name      string
		key, iv   string
		plaintext string
		cbc       bool
		want      string
	}{
		{"FIPS81 B1 DES ECB", "0123456789ABCDEF", "", "Now is the time for all ", false,
			"3FA40E8A984D4815 6A271787AB8883F9 893D51EC4B563B53"},
		{"FIPS81 C1 DES CBC", "0123456789ABCDEF", "1234567890ABCDEF", "Now is the time for all ", true,
			"E5C7CDDE872BF27C 43E934008C389C0F 683788499A7C05F6"},
		{"SP800-67 TDEA 3-key ECB", "0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123", "", "The qufck brown fox jump", false,
			"A826FD8CE53B855F CCE21C8112256FE6 68D5C05DD9B6B900"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, want := unhex(t, tt.key), unhex(t, tt.want)
			var got []byte
			var err error
			if tt.cbc {
				got, err = keys.EncryptCBC(key, unhex(t, tt.iv), []byte(tt.plaintext))
			} else {
				got, err = keys.EncryptECB(key, []byte(tt.plaintext))
			}
			if err != nil {
				t.Fatal(err)
			}
			if !keys.Equal(got, want) {
				t.Fatalf("ciphertext %X, want %X", got, want)
			}
			var back []byte
			if tt.cbc {
				back, err = keys.DecryptCBC(key, unhex(t, tt.iv), got)
			} else {
				back, err = keys.DecryptECB(key, got)
			}
			if err != nil || string(back) != tt.plaintext {
				t.Fatalf("decrypt = %q, %v", back, err)
			}
		})
	}
}

// A double-length key K1 K2 is used as K1 K2 K1; with K1 = K2 it must equal single DES
// (the FIPS 81 vector again), which is how double-length terminals run single-length keys.
func TestDoubleLengthIsK1K2K1(t *testing.T) {
	single, _ := keys.EncryptECB(unhex(t, "0123456789ABCDEF"), []byte("Now is t"))
	double, err := keys.EncryptECB(unhex(t, "0123456789ABCDEF0123456789ABCDEF"), []byte("Now is t"))
	if err != nil {
		t.Fatal(err)
	}
	if !keys.Equal(single, double) || fmt.Sprintf("%X", []byte(double)) != "3FA40E8A984D4815" {
		t.Fatalf("single %X, double %X", single, double)
	}
	k2 := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	k3 := append(append([]byte{}, k2...), k2[:8]...)
	a, _ := keys.EncryptECB(k2, []byte("12345678"))
	b, _ := keys.EncryptECB(k3, []byte("12345678"))
	if !keys.Equal(a, b) {
		t.Fatalf("16-byte %X != K1K2K1 %X", a, b)
	}
}

// KCV of the X9.24-1 sample BDK 0123456789ABCDEFFEDCBA9876543210 is published as 08D7B4
// (ANSI X9.24-1:2009 Annex A test data; the same key is the classic HSM test key).
func TestKCV(t *testing.T) {
	tests := []struct{ name, key, want string }{
		{"X9.24 sample BDK", "0123456789ABCDEFFEDCBA9876543210", "08D7B4"},
		// Not a published value: single DES under the FIPS 81 key, a regression guard for 8-byte keys.
		{"FIPS81 single DES key", "0123456789ABCDEF", "D5D44F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.KCV(unhex(t, tt.key))
			if err != nil {
				t.Fatal(err)
			}
			if h := fmt.Sprintf("%X", got); h != tt.want {
				t.Fatalf("KCV %s, want %s", h, tt.want)
			}
		})
	}
	cv, err := keys.CheckValue(unhex(t, "0123456789ABCDEFFEDCBA9876543210"), 4)
	if err != nil || len(cv) != 4 || fmt.Sprintf("%X", cv[:3]) != "08D7B4" {
		t.Fatalf("4-byte check value %X, %v", cv, err)
	}
	if _, err := keys.CheckValue(unhex(t, "0123456789ABCDEF"), 9); err == nil {
		t.Fatal("9-byte check value accepted")
	}
}

// A public UnionPay terminal walk-through (blog.csdn.net/zhu244912654/article/details/80005341,
// "MAC算法演示") delivers TAK 96D605EA176B7E9E under TMK 70F2A84CCBC2AE8625CBB0F2C22AB923 and
// shows the clear TAK C24A8FB57AA20123.
func TestUnwrapPublishedSignOnKey(t *testing.T) {
	tmk := unhex(t, "70F2A84CCBC2AE8625CBB0F2C22AB923")
	clear := unhex(t, "C24A8FB57AA20123")
	kcv, _ := keys.CheckValue(clear, 4)
	k, err := keys.Unwrap(tmk, unhex(t, "96D605EA176B7E9E"), kcv)
	if err != nil {
		t.Fatal(err)
	}
	if !keys.Equal(k, clear) {
		t.Fatalf("unwrapped %X", []byte(k))
	}
	block, kcv2, err := keys.WrapN(tmk, clear, 4)
	if err != nil || fmt.Sprintf("%X", block) != "96D605EA176B7E9E" || !keys.Equal(kcv, kcv2) {
		t.Fatalf("wrap = %X %X %v", block, kcv2, err)
	}
}

func TestWrapUnwrapRoundTrip(t *testing.T) {
	tmk := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	for _, n := range []int{8, 16, 24} {
		t.Run(fmt.Sprintf("%d-byte key", n), func(t *testing.T) {
			wk := make([]byte, n)
			for i := range wk {
				wk[i] = byte(0x11 * (i%15 + 1))
			}
			block, kcv, err := keys.Wrap(tmk, wk)
			if err != nil {
				t.Fatal(err)
			}
			if len(block) != n || len(kcv) != keys.KCVLen || keys.Equal(block, wk) {
				t.Fatalf("block %d bytes, kcv %d bytes", len(block), len(kcv))
			}
			got, err := keys.Unwrap(tmk, block, kcv)
			if err != nil || !keys.Equal(got, wk) {
				t.Fatalf("unwrap: %v", err)
			}
		})
	}
}

func TestUnwrapErrors(t *testing.T) {
	tmk := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	wk := unhex(t, "11111111111111112222222222222222")
	block, kcv, err := keys.Wrap(tmk, wk)
	if err != nil {
		t.Fatal(err)
	}
	otherTMK := unhex(t, "FEDCBA98765432100123456789ABCDEF")
	tests := []struct {
		name      string
		tmk, blk  []byte
		kcv       []byte
		wantIs    error
		wantInMsg string
	}{
		{"wrong TMK", otherTMK, block, kcv, keys.ErrKCVMismatch, "delivered"},
		{"corrupted KCV", tmk, block, []byte{kcv[0], kcv[1], kcv[2] ^ 1}, keys.ErrKCVMismatch, "key gives"},
		{"short key block", tmk, block[:7], kcv, keys.ErrKeyLength, "key block is 7 bytes"},
		{"long key block", tmk, append(append([]byte{}, block...), 0), kcv, keys.ErrKeyLength, "key block is 17 bytes"},
		{"short TMK", tmk[:5], block, kcv, keys.ErrKeyLength, "TMK is 5 bytes"},
		{"empty check value", tmk, block, []byte{}, keys.ErrDataLength, "check value is 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := keys.Unwrap(tt.tmk, tt.blk, tt.kcv)
			if err == nil {
				t.Fatal("no error")
			}
			if k != nil {
				t.Error("a key came back with the error")
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantInMsg)
			}
		})
	}
}

func TestDataLengthErrors(t *testing.T) {
	key := unhex(t, "0123456789ABCDEF")
	for _, n := range []int{0, 7, 9} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, err := keys.EncryptECB(key, make([]byte, n))
			var le *keys.LengthError
			if !errors.Is(err, keys.ErrDataLength) || !errors.As(err, &le) || le.Got != n {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := keys.EncryptCBC(key, []byte{1, 2, 3}, make([]byte, 8)); !errors.Is(err, keys.ErrDataLength) {
		t.Fatalf("short IV: %v", err)
	}
	if _, err := keys.Cipher(make([]byte, 12)); !errors.Is(err, keys.ErrKeyLength) {
		t.Fatalf("12-byte key: %v", err)
	}
}

// Keys never print: every fmt verb, %#v, JSON.
func TestKeyNeverPrints(t *testing.T) {
	k := keys.Key(unhex(t, "0123456789ABCDEFFEDCBA9876543210"))
	js, _ := json.Marshal(struct{ K keys.Key }{k})
	outs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v", k), fmt.Sprintf("%x", k), fmt.Sprintf("%X", k),
		fmt.Sprintf("%s", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%q", k), fmt.Sprintf("%+v", struct{ K keys.Key }{k}),
		string(js),
	}
	for _, out := range outs {
		low := strings.ToLower(out)
		if strings.Contains(low, "0123456789abcdef") || strings.Contains(low, "fedcba") || strings.Contains(low, "01 23") {
			t.Errorf("key bytes printed: %s", out)
		}
		if !strings.Contains(out, "16 bytes, KCV 08D7B4") {
			t.Errorf("masked form missing: %s", out)
		}
	}
}

func TestParseHex(t *testing.T) {
	k, err := keys.ParseHex("TMK", "0123 4567 89AB CDEF FEDC BA98 7654 3210")
	if err != nil || len(k) != 16 {
		t.Fatalf("%v %d", err, len(k))
	}
	if _, err := keys.ParseHex("TMK", "0123"); !errors.Is(err, keys.ErrKeyLength) || !strings.Contains(err.Error(), "TMK is 2 bytes") {
		t.Fatalf("short: %v", err)
	}
	if _, err := keys.ParseHex("TMK", "zz"); err == nil || !strings.Contains(err.Error(), "parse TMK") {
		t.Fatalf("not hex: %v", err)
	}
}
