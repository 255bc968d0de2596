package iso_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
)

// The expected blocks were computed independently with
// `openssl enc -des-ede -K 0123456789ABCDEFFEDCBA9876543210 -nopad` on the clear format 0
// block, so a bug shared by our encrypt and decrypt would still be caught.
func TestEncryptPINBlockKnownVectors(t *testing.T) {
	tests := []struct {
		name, pin, pan, want string
	}{
		{"visa 1234", "1234", "4111111111111111", "2A3D408A1977DDE9"},
		{"mastercard 1234", "1234", "5555555555554444", "AC66F4F4F462E997"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := iso.EncryptPINBlock(tt.pin, tt.pan, iso.TestPINKey)
			if err != nil {
				t.Fatal(err)
			}
			if h := strings.ToUpper(hex.EncodeToString(got)); h != tt.want {
				t.Errorf("block = %s, want %s", h, tt.want)
			}
			pin, err := iso.DecryptPINBlock(got, tt.pan, iso.TestPINKey)
			if err != nil || pin != tt.pin {
				t.Errorf("decrypt = %q, %v; want %q", pin, err, tt.pin)
			}
		})
	}
}

func TestPINBlockRoundTripLengths(t *testing.T) {
	for _, pin := range []string{"0000", "12345", "987654", "123456789012"} {
		t.Run(pin, func(t *testing.T) {
			b, err := iso.EncryptPINBlock(pin, "6212345678901265", iso.TestPINKey)
			if err != nil {
				t.Fatal(err)
			}
			got, err := iso.DecryptPINBlock(b, "6212345678901265", iso.TestPINKey)
			if err != nil || got != pin {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestPINBlockErrors(t *testing.T) {
	good, err := iso.EncryptPINBlock("1234", "4111111111111111", iso.TestPINKey)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := []byte("0123456789abcdef")
	tests := []struct {
		name    string
		run     func() error
		wantErr error
		wantMsg string
	}{
		{"short PIN", func() error { _, err := iso.EncryptPINBlock("123", "4111111111111111", iso.TestPINKey); return err }, iso.ErrPINFormat, "4 to 12"},
		{"letters in PIN", func() error { _, err := iso.EncryptPINBlock("12a4", "4111111111111111", iso.TestPINKey); return err }, iso.ErrPINFormat, ""},
		{"short PAN", func() error { _, err := iso.EncryptPINBlock("1234", "41111111", iso.TestPINKey); return err }, nil, "PAN must be 13 to 19 digits"},
		{"bad key length", func() error { _, err := iso.EncryptPINBlock("1234", "4111111111111111", []byte{1, 2, 3}); return err }, nil, "PIN key is 3 bytes, want 8, 16 or 24"},
		{"block for another PAN", func() error { _, err := iso.DecryptPINBlock(good, "5555555555554444", iso.TestPINKey); return err }, iso.ErrPINBlock, ""},
		{"another key", func() error { _, err := iso.DecryptPINBlock(good, "4111111111111111", otherKey); return err }, iso.ErrPINBlock, ""},
		{"7-byte block", func() error { _, err := iso.DecryptPINBlock(good[:7], "4111111111111111", iso.TestPINKey); return err }, iso.ErrPINBlock, "7 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "4111111111111111") {
				t.Errorf("error leaks the PAN: %v", err)
			}
		})
	}
}
