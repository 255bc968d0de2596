package pin_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/pin"
)

// ANSI X9.24-3:2017 supplement, "Calculation of AES PIN Block Format 4": PIN 1234, PAN
// 4111111111111111, PIN field 441234AAAAAAAAAA 2F69ADDE2E9E7ACE, PAN field
// 44111111111111111000000000000000, and the first two AES-128 DUKPT PIN keys with their
// encrypted blocks (also in Leon Lynch's dukpt library tests).
func TestFormat4PublishedVectors(t *testing.T) {
	fill := unhex("2F69ADDE2E9E7ACE")
	tests := []struct{ key, want string }{
		{"AF8CB133A78F8DC2D1359F18527593FB", "A912150391AB65A67E52883D81CE2D15"},
		{"D30BDC73EC9714B000BEC66BDB7B6D09", "52A00503BD34BA1383F6A7EE9FE2547F"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			key := unhex(tt.key)
			got, err := pin.EncryptAES(key, "1234", "4111111111111111", bytes.NewReader(fill))
			if err != nil || fmt.Sprintf("%X", got) != tt.want {
				t.Fatalf("block %X, %v; want %s", got, err, tt.want)
			}
			p, err := pin.DecryptAES(key, got, "4111111111111111")
			if err != nil || p != "1234" {
				t.Fatalf("decrypt %q %v", p, err)
			}
			if ok, err := pin.VerifyAES(key, got, "4111111111111111", "4321"); ok || err != nil {
				t.Fatalf("wrong PIN: %v %v", ok, err)
			}
		})
	}
}

func TestFormat4RoundTripAndErrors(t *testing.T) {
	key := unhex("000102030405060708090A0B0C0D0E0F1011121314151617")
	for _, pan := range []string{"4111111111111111", "6212345678901265123", "12345678901", "1"} {
		blk, err := pin.EncryptAES(key, "987654321", pan, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := pin.DecryptAES(key, blk, pan); err != nil || p != "987654321" {
			t.Fatalf("PAN of %d digits: %q %v", len(pan), p, err)
		}
	}
	good, _ := pin.EncryptAES(key, "1234", "4111111111111111", nil)
	tests := []struct {
		name string
		run  func() error
		is   error
		msg  string
	}{
		{"another PAN", func() error { _, err := pin.DecryptAES(key, good, "4111111111111129"); return err }, pin.ErrFormat, ""},
		{"another key", func() error { _, err := pin.DecryptAES(key[:16], good, "4111111111111111"); return err }, pin.ErrFormat, ""},
		{"8-byte block", func() error { _, err := pin.DecryptAES(key, good[:8], "4111111111111111"); return err }, pin.ErrFormat, "8 bytes, want 16"},
		{"TDES-length key", func() error { _, err := pin.EncryptAES(key[:8], "1234", "4111111111111111", nil); return err }, nil, "AES PIN key is 8 bytes"},
		{"short PIN", func() error { _, err := pin.EncryptAES(key, "12", "4111111111111111", nil); return err }, pin.ErrPIN, ""},
		{"20-digit PAN", func() error { _, err := pin.EncryptAES(key, "1234", "41111111111111111111", nil); return err }, pin.ErrPAN, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
