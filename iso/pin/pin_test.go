package pin_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/pin"
)

// testPINKey is the classic double-length test key (also iso.TestPINKey).
var testPINKey = unhex("0123456789ABCDEFFEDCBA9876543210")

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// zeros is a fill source that always gives fill nibble A (0 % 6 = 0 → 0xA).
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Clear blocks. The format 0 vector is the ISO 9564 worked example reproduced on Wikipedia's
// "ISO 9564" page (PIN 1234, PAN 43219876543210987 → 0412AC89ABCDEF67). The format 3 one is
// computed by hand from the same PIN/PAN with every fill nibble A (the zero reader):
// 341234AAAAAAAAAA XOR 0000987654321098.
func TestBuildClearBlocks(t *testing.T) {
	tests := []struct {
		name     string
		f        pin.Format
		pin, pan string
		want     string
	}{
		{"format 0 published example", pin.Format0, "1234", "43219876543210987", "0412AC89ABCDEF67"},
		{"format 0 visa test PAN", pin.Format0, "1234", "4111111111111111", "041225EEEEEEEEEE"},
		// By hand: 0C123456789012FF XOR 0000111111111111.
		{"format 0 12 digits", pin.Format0, "123456789012", "4111111111111111", "0C122547698103EE"},
		{"format 3 fill A", pin.Format3, "1234", "43219876543210987", "3412ACDCFE98BA32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pin.Build(tt.f, tt.pin, tt.pan, zeros{})
			if err != nil {
				t.Fatal(err)
			}
			if h := fmt.Sprintf("%X", got); h != tt.want {
				t.Fatalf("block %s, want %s", h, tt.want)
			}
			p, f, err := pin.Parse(got, tt.pan)
			if err != nil || p != tt.pin || f != tt.f {
				t.Fatalf("parse = %q %v %v", p, f, err)
			}
		})
	}
}

// Encrypted blocks, computed independently with
// `openssl enc -des-ede -K 0123456789ABCDEFFEDCBA9876543210 -nopad` on the clear blocks
// above (the first also matches iso/pin_test.go's vector).
func TestEncryptKnownVectors(t *testing.T) {
	tests := []struct {
		name     string
		f        pin.Format
		pin, pan string
		want     string
	}{
		{"format 0 visa", pin.Format0, "1234", "4111111111111111", "2A3D408A1977DDE9"},
		{"format 0 published example", pin.Format0, "1234", "43219876543210987", "C967C8198151A458"},
		{"format 3 fill A", pin.Format3, "1234", "43219876543210987", "BEB9343881402359"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pin.Encrypt(testPINKey, tt.f, tt.pin, tt.pan, zeros{})
			if err != nil {
				t.Fatal(err)
			}
			if h := fmt.Sprintf("%X", got); h != tt.want {
				t.Fatalf("block %s, want %s", h, tt.want)
			}
			p, f, err := pin.Decrypt(testPINKey, got, tt.pan)
			if err != nil || p != tt.pin || f != tt.f {
				t.Fatalf("decrypt = %q %v %v", p, f, err)
			}
		})
	}
}

// Format 3 fill comes from the reader: the same seed gives the same block, another seed
// another block, and every fill nibble is A..F.
func TestFormat3FillFromReader(t *testing.T) {
	a, _ := pin.Build(pin.Format3, "1234", "4111111111111111", bytes.NewReader(bytes.Repeat([]byte{7}, 14)))
	b, _ := pin.Build(pin.Format3, "1234", "4111111111111111", bytes.NewReader(bytes.Repeat([]byte{7}, 14)))
	c, _ := pin.Build(pin.Format3, "1234", "4111111111111111", bytes.NewReader(bytes.Repeat([]byte{8}, 14)))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatalf("a %X b %X c %X", a, b, c)
	}
	for i := 0; i < 300; i++ {
		blk, err := pin.Build(pin.Format3, "98765", "6212345678901265", nil)
		if err != nil {
			t.Fatal(err)
		}
		if p, f, err := pin.Parse(blk, "6212345678901265"); err != nil || p != "98765" || f != pin.Format3 {
			t.Fatalf("%X: %q %v %v", blk, p, f, err)
		}
	}
	if _, err := pin.Build(pin.Format3, "1234", "4111111111111111", bytes.NewReader([]byte{1})); err == nil {
		t.Fatal("short fill reader accepted")
	}
}

func TestVerify(t *testing.T) {
	blk, err := pin.Encrypt(testPINKey, pin.Format0, "1234", "4111111111111111", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := pin.Verify(testPINKey, blk, "4111111111111111", "1234"); !ok || err != nil {
		t.Fatalf("right PIN: %v %v", ok, err)
	}
	if ok, err := pin.Verify(testPINKey, blk, "4111111111111111", "1235"); ok || err != nil {
		t.Fatalf("wrong PIN (55, not 99): %v %v", ok, err)
	}
}

// Everything that must answer 99 wraps ErrFormat and says what was wrong.
func TestFormatErrors(t *testing.T) {
	good, _ := pin.Encrypt(testPINKey, pin.Format0, "1234", "4111111111111111", nil)
	otherKey := unhex("FEDCBA98765432100123456789ABCDEF")
	clearWith := func(s string) []byte { return unhex(s) }
	tests := []struct {
		name   string
		run    func() error
		wantIs error
		msg    string
	}{
		{"7-byte block", func() error { _, _, err := pin.Decrypt(testPINKey, good[:7], "4111111111111111"); return err }, pin.ErrFormat, "7 bytes"},
		{"another PIN key", func() error { _, _, err := pin.Decrypt(otherKey, good, "4111111111111111"); return err }, pin.ErrFormat, ""},
		{"another PAN", func() error { _, _, err := pin.Decrypt(testPINKey, good, "5555555555554444"); return err }, pin.ErrFormat, ""},
		{"control nibble 1", func() error { _, _, err := pin.Parse(clearWith("1412 34FF FFFF FFFF"), "4000000000000002"); return err }, pin.ErrFormat, "control nibble 1"},
		{"length 3", func() error { _, _, err := pin.Parse(clearWith("0312 3FFF FFFF FFFF"), "4000000000000002"); return err }, pin.ErrFormat, "length nibble 3"},
		{"letter in PIN", func() error { _, _, err := pin.Parse(clearWith("0412 3AFF FFFF FFFF"), "4000000000000002"); return err }, pin.ErrFormat, "nibble 5"},
		{"format 0 fill not F", func() error { _, _, err := pin.Parse(clearWith("0412 34FF FFFF FFFE"), "4000000000000002"); return err }, pin.ErrFormat, "fill nibble 15"},
		{"format 3 fill digit", func() error { _, _, err := pin.Parse(clearWith("3412 34AA AAAA AA9A"), "4000000000000002"); return err }, pin.ErrFormat, "fill nibble 14"},
		{"short PIN", func() error { _, err := pin.Build(pin.Format0, "123", "4111111111111111", nil); return err }, pin.ErrPIN, "3 characters"},
		{"PIN with letter", func() error { _, err := pin.Build(pin.Format0, "12a4", "4111111111111111", nil); return err }, pin.ErrPIN, ""},
		{"short PAN", func() error { _, err := pin.Build(pin.Format0, "1234", "411111", nil); return err }, pin.ErrPAN, "6 characters"},
		{"5-byte PIN key", func() error {
			_, err := pin.Encrypt(testPINKey[:5], pin.Format0, "1234", "4111111111111111", nil)
			return err
		}, nil, "PIN key is 5 bytes"},
		{"format 1", func() error { _, err := pin.Build(pin.Format(1), "1234", "4111111111111111", nil); return err }, nil, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("%q is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("%q lacks %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "1234") {
				t.Errorf("error shows PIN digits: %q", err)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]pin.Format{"0": pin.Format0, "iso0": pin.Format0, "3": pin.Format3, "format3": pin.Format3} {
		if got, err := pin.ParseFormat(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := pin.ParseFormat("iso5"); err == nil {
		t.Error("iso5 accepted")
	}
}
