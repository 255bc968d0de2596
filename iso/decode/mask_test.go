package decode_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/decode"
)

func TestMaskValue(t *testing.T) {
	cases := []struct {
		id     int
		value  string
		binary bool
		want   string
	}{
		{2, "4111111111111111", false, "411111******1111"},
		{35, "4111111111111111=30122011234567890", false, "411111******1111=****"},
		{45, "B4111111111111111^DOE/JOHN^3012201", false, "B411111******1111^****"},
		{36, "0112345678901234=5724724100000", false, strings.Repeat("*", 30)},
		{52, "0412EEEEEEEEEEEE", true, "[8 bytes masked]"},
		{55, "9F260201025A084111111111111111", true, "[15 bytes masked]"},
		{64, "0102030405060708", true, "[8 bytes masked]"},
		{48, "card 4111111111111111 ok", false, "card 411111******1111 ok"},
		{4, "000000002500", false, "000000002500"}, // 12 digits but an amount: shown
		// UnionPay settlement totals (62 digits, results 0-3): shown; a 62-digit DE48 not in
		// that layout (a result digit 9) is masked as any long digit run.
		{48, "00000001555000200000000200000100000000000000000000000000000000", false, "00000001555000200000000200000100000000000000000000000000000000"},
		{48, "41111111111111110000000000000090000000000000000000000000000000", false, iso.MaskText("41111111111111110000000000000090000000000000000000000000000000")},
		{90, "020000012311260215000000001234500000000000", false, "020000012311260215000000001234500000000000"},
	}
	for _, c := range cases {
		got, _ := decode.MaskValue(c.id, c.value, c.binary)
		if got != c.want {
			t.Errorf("MaskValue(%d, %q) = %q, want %q", c.id, c.value, got, c.want)
		}
	}
	if n, ok := decode.IsMaskedBinary("[8 bytes masked]"); !ok || n != 8 {
		t.Errorf("IsMaskedBinary = %d, %v", n, ok)
	}
}

// A masked payload keeps its layout (it still decodes, field by field at the same offsets)
// and no longer holds the card number in any dialect's encoding.
func TestMaskPayloadEveryDialect(t *testing.T) {
	m := &iso.Message{MTI: "0200", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000002500",
		STAN: "000123", Track2: "4111111111111111=30122011234567890", TerminalID: "TERM0001",
		PINBlock: []byte{0x04, 0x12, 0x34, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE},
		EMV:      []byte{0x5A, 0x08, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11},
		Other:    map[int]string{47: "ref 4111111111111111"}}
	for _, d := range iso.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			payload, err := d.Pack(m)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := d.Decode(payload)
			if err != nil {
				t.Fatal(err)
			}
			masked := decode.MaskPayload(d, payload, dec)
			if len(masked) != len(payload) {
				t.Fatalf("length changed: %d → %d", len(payload), len(masked))
			}
			for _, leak := range [][]byte{[]byte("1111111111"), {0x11, 0x11, 0x11, 0x11, 0x11}, {0x04, 0x12, 0x34, 0xEE}} {
				if bytes.Contains(masked, leak) {
					t.Errorf("masked payload still holds % X:\n%X", leak, masked)
				}
			}
			h := decode.MaskedHex(d, payload, dec)
			if strings.Contains(h, "1111111111") || strings.Contains(h, hex.EncodeToString([]byte("1111111111"))) {
				t.Errorf("masked hex leaks the PAN: %s", h)
			}
			if !bytes.Equal(masked[:4], payload[:4]) {
				t.Errorf("MTI bytes changed")
			}
			if d != iso.BCD && d != iso.CUP {
				// In the text dialects the masked bytes decode to exactly what is shown.
				again, err := d.Decode(masked)
				if err != nil {
					t.Fatalf("masked payload no longer decodes: %v", err)
				}
				for _, f := range again.Fields {
					if f.ID == 2 && f.Value != "411111******1111" {
						t.Errorf("DE2 in the masked bytes = %q", f.Value)
					}
				}
			}
		})
	}
}

func TestMaskUnknown(t *testing.T) {
	ascii := []byte("0200xx4111111111111111yy")
	got := decode.MaskUnknown(ascii)
	if bytes.Contains(got, []byte("1111111111")) {
		t.Errorf("ASCII PAN survives: %q", got)
	}
	bcd := []byte{0x02, 0x00, 0xAA, 0x16, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xAA}
	got = decode.MaskUnknown(bcd)
	if bytes.Contains(got, []byte{0x11, 0x11, 0x11}) {
		t.Errorf("BCD PAN survives: % X", got)
	}
	short := []byte{0x02, 0x00, 0xAA, 0x12, 0x34}
	if !bytes.Equal(decode.MaskUnknown(short), short) {
		t.Errorf("short digit runs must stay: % X", decode.MaskUnknown(short))
	}
}

// FuzzDecodeInput runs the whole decode pipeline (dump parsing, framing and dialect
// detection, rendering, masking) on arbitrary input: it must never panic, and what it
// shows never holds the test card number it may have been given.
func FuzzDecodeInput(f *testing.F) {
	for _, fx := range fixtures {
		b := fx.frame(f)
		f.Add(b)
		f.Add([]byte(hex.EncodeToString(b)))
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("00000000: 0200 7238  ..\n"))
	f.Add([]byte("AL1gAAMAADAyMDAy"))
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := decode.Input(in, decode.Options{})
		if err != nil {
			_ = err.Error()
			return
		}
		v := res.View()
		var b bytes.Buffer
		if err := decode.WriteText(&b, v); err != nil {
			t.Fatal(err)
		}
		if err := decode.WriteJSON(&b, v); err != nil {
			t.Fatal(err)
		}
		_ = decode.MaskPayload(res.Dialect, res.Payload, res.Decoded)
		for _, f := range v.Fields {
			if (f.ID == 2 || f.ID == 35) && strings.Contains(f.Value, "4111111111111111") {
				t.Fatalf("DE%d shown unmasked: %q", f.ID, f.Value)
			}
		}
	})
}
