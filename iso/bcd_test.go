package iso

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moov-io/iso8583/encoding"
)

// TestPackedEncoders pins the wire bytes and the error texts of the two left-aligned packed
// encoders (track 2 and CUP numerics), which share packLeft and unpackLeft.
func TestPackedEncoders(t *testing.T) {
	tests := []struct {
		name    string
		enc     encoding.Encoder
		in      string
		wire    []byte
		decoded string
	}{
		{"track2 even", track2BCD, "4761=30", []byte{0x47, 0x61, 0xD3, 0x0F}, "4761=30"},
		{"track2 D separator", track2BCD, "12D4", []byte{0x12, 0xD4}, "12=4"},
		{"cup odd pads 0", cupBCD, "123", []byte{0x12, 0x30}, "123"},
		{"cup even", cupBCD, "0042", []byte{0x00, 0x42}, "0042"},
		{"cup empty", cupBCD, "", []byte{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc.Encode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Encode(%q): %v", tt.in, err)
			}
			if !bytes.Equal(got, tt.wire) {
				t.Fatalf("Encode(%q) = % X, want % X", tt.in, got, tt.wire)
			}
			back, read, err := tt.enc.Decode(append(got, 0x99), len(tt.in))
			if err != nil {
				t.Fatalf("Decode(% X): %v", got, err)
			}
			if string(back) != tt.decoded || read != len(tt.wire) {
				t.Fatalf("Decode(% X) = %q, %d bytes; want %q, %d", got, back, read, tt.decoded, len(tt.wire))
			}
		})
	}
}

func TestPackedEncoderErrors(t *testing.T) {
	tests := []struct {
		name   string
		run    func() error
		reason string
	}{
		{"track2 letter", func() error { _, err := track2BCD.Encode([]byte("12X4")); return err },
			`track 2 character 'X' at 2 is not a digit or separator`},
		{"track2 bad nibble", func() error { _, _, err := track2BCD.Decode([]byte{0x1A}, 2); return err },
			"track 2 nibble A at 1 is not a digit or separator"},
		{"cup letter", func() error { _, err := cupBCD.Encode([]byte("1=")); return err },
			`BCD character '=' at 1 is not a digit`},
		{"cup bad nibble", func() error { _, _, err := cupBCD.Decode([]byte{0x1C}, 2); return err },
			"packed BCD nibble C at digit 1 (byte 0) is not a decimal digit"},
		{"cup filler", func() error { _, _, err := cupBCD.Decode([]byte{0x15}, 1); return err },
			"filler nibble 5 in byte 0 is not 0 or F"},
		{"cup F filler accepted", func() error { _, _, err := cupBCD.Decode([]byte{0x1F}, 1); return err }, ""},
		{"short input", func() error { _, _, err := cupBCD.Decode([]byte{0x12}, 3); return err },
			"not enough data to decode: need 2 bytes, have 1"},
		{"negative length", func() error { _, _, err := track2BCD.Decode(nil, -1); return err },
			"length should be positive, got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.reason != "" && (err == nil || !strings.Contains(err.Error(), tt.reason)):
				t.Fatalf("error = %v, want %q", err, tt.reason)
			}
		})
	}
}
