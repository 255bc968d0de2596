package decode_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/decode"
)

// DE55 is broken into named tags; PAN-bearing tags are masked; a DE55 whose TLV lengths are
// broken still decodes as a message, the field masked whole and the break located.
func TestChipDataTags(t *testing.T) {
	de55 := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		emv     []byte
		want    []string // in the text view
		notWant []string
	}{
		{"tags with names, 57 and 5A masked",
			de55("9F2608 1122334455667788 9F3602 001C 5A08 6212345678901265 5711 6212345678901265D3012201123456789F 7107 9F1804 00000001"),
			[]string{"[54 bytes, 6 EMV tags below]", "DE55 chip data (BER-TLV):", "9F26    Application Cryptogram", "001C",
				"Application Transaction Counter", "5A      Application PAN", "621234******1265", "621234******1265D****",
				"71      Issuer Script Template 1", "\n    9F18  Issuer Script Identifier"},
			[]string{"6212345678901265", "3012201123456789"}},
		{"broken length",
			de55("5A08 6212345678901265 9F2608 11223344"),
			[]string{"[17 bytes masked]", "chip data does not parse: TLV at byte 10 (tag 9F26): length 8 but only 4 bytes remain"},
			[]string{"6212345678901265", "EMV tags below"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &iso.Message{MTI: "0200", ProcessingCode: "000000", Amount: "000000001000", STAN: "000001",
				TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", EMV: tt.emv}
			payload, err := iso.ASCII.Pack(m)
			if err != nil {
				t.Fatal(err)
			}
			res, err := decode.Bytes(payload, decode.Options{Dialects: []*iso.Dialect{iso.ASCII}, Framings: []string{"none"}})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := decode.WriteText(&out, res.View()); err != nil {
				t.Fatal(err)
			}
			var js bytes.Buffer
			_ = decode.WriteJSON(&js, res.View())
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, out.String())
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(out.String(), nw) || strings.Contains(js.String(), nw) {
					t.Errorf("output shows %q:\n%s", nw, out.String())
				}
			}
		})
	}
}
