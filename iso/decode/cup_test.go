package decode_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/decode"
)

// cupGolden are UnionPay domestic messages built the way terminal and host build them; each
// must come back through decode's detection as framing cup, dialect cup, field for field.
func cupGolden() map[string]*iso.Message {
	keys := make([]byte, 40)
	for i := range keys {
		keys[i] = byte(0xA0 + i)
	}
	return map[string]*iso.Message{
		"0800 sign-on": {MTI: "0800", STAN: "000001", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
			Batch: iso.DE60{Type: "00", Batch: "000001", NetCode: iso.CUPNetSignOnTDES}.String(), Private63: "001"},
		"0810 with keys": {MTI: "0810", STAN: "000001", LocalTime: "101500", LocalDate: "1205", RRN: "120510150001",
			ResponseCode: "00", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
			Batch: iso.DE60{Type: "00", Batch: "000001", NetCode: iso.CUPNetSignOnTDES}.String(),
			Other: map[int]string{62: strings.ToUpper(hexOf(keys))}},
		"0200 sale": {MTI: "0200", PAN: "6212345678901265", ProcessingCode: "000000", Amount: "000000002500",
			STAN: "000123", Expiry: "3012", EntryMode: "051", CardSeq: "001", ConditionCode: "00",
			TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Currency: "156",
			PINBlock: []byte{1, 2, 3, 4, 5, 6, 7, 8},
			Batch:    iso.DE60{Type: "22", Batch: "000001", NetCode: "000", ReadCap: "5", ICCond: "0"}.String(),
			MAC:      []byte{9, 9, 9, 9, 9, 9, 9, 9}},
		"0210 A0": {MTI: "0210", ProcessingCode: "000000", Amount: "000000002500", STAN: "000123",
			RRN: "120510150002", ResponseCode: "A0", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
			Batch: iso.DE60{Type: "22", Batch: "000001", NetCode: "000"}.String()},
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0x0F])
	}
	return string(out)
}

func TestCUPMessagesRoundTripThroughDecode(t *testing.T) {
	hdr := iso.CUPHeader{AppType: "60", Version: "31", Processing: iso.CUPProcSignOn, Software: "311003"}
	for name, m := range cupGolden() {
		t.Run(name, func(t *testing.T) {
			payload, err := iso.CUP.Pack(m)
			if err != nil {
				t.Fatal(err)
			}
			framed, err := iso.CUPFraming.AppendFrameHeader(nil, []byte{0x60, 0x00, 0x06, 0x00, 0x00}, hdr.Bytes(), payload)
			if err != nil {
				t.Fatal(err)
			}
			r, err := decode.Bytes(framed, decode.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Framing != "cup" || r.Dialect != iso.CUP || !r.HeaderExact || r.Start != 13 {
				t.Fatalf("detected framing %s dialect %s exact %v start %d (also %v)", r.Framing, r.Dialect.Name, r.HeaderExact, r.Start, r.Also)
			}
			if !bytes.Equal(r.AppHeader, hdr.Bytes()) {
				t.Fatalf("header % X", r.AppHeader)
			}
			back, err := r.Decoded.Message()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, back); diff != "" {
				t.Fatalf("decode (-built +decoded):\n%s", diff)
			}
			v := r.View()
			if v.MessageHeaderParts["processing_requirement"] != "3" || v.MessageHeaderParts["processing_meaning"] != "sign on again" {
				t.Fatalf("header parts %v", v.MessageHeaderParts)
			}
			var text strings.Builder
			if err := decode.WriteText(&text, v); err != nil {
				t.Fatal(err)
			}
			out := text.String()
			for _, want := range []string{"header:   603103311003 (CUP: application 60, version 31", "processing requirement 3 = sign on again", "dialect:  cup"} {
				if !strings.Contains(out, want) {
					t.Errorf("text lacks %q:\n%s", want, out)
				}
			}
			for _, leak := range []string{"A0A1A2A3", "0102030405060708", "6212345678901265"} {
				if strings.Contains(out, leak) {
					t.Errorf("text shows %s:\n%s", leak, out)
				}
			}
			if m.Batch != "" && !strings.Contains(out, "CUP: type "+m.Batch[:2]) {
				t.Errorf("DE60 not explained:\n%s", out)
			}
		})
	}
}

func TestDecodeGenericHeaderLen(t *testing.T) {
	m := cupGolden()["0800 sign-on"]
	payload, _ := iso.BCD.Pack(&iso.Message{MTI: m.MTI, STAN: m.STAN, TerminalID: m.TerminalID, NetworkCode: "301"})
	f, _ := iso.ParseFraming("len2+hdr12")
	hdr := []byte("HDR-ABCDEFGH")
	framed, err := f.AppendFrameHeader(nil, nil, hdr, payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decode.Bytes(framed, decode.Options{}); err == nil {
		t.Log("decodes without --header-len too (by luck of the bytes)")
	}
	r, err := decode.Bytes(framed, decode.Options{HeaderLen: 12})
	if err != nil {
		t.Fatal(err)
	}
	if r.Framing != "len2+hdr12" || !bytes.Equal(r.AppHeader, hdr) || r.Dialect != iso.BCD || r.Decoded.MTI != "0800" {
		t.Fatalf("framing %s header %q dialect %s", r.Framing, r.AppHeader, r.Dialect.Name)
	}
	// Forced: a frame too short for its header says where.
	_, err = decode.Bytes(framed[:9], decode.Options{Framings: []string{"len2"}, HeaderLen: 12})
	if err == nil || !strings.Contains(err.Error(), "12-byte message header") {
		t.Fatalf("short input: %v", err)
	}
	// A forced cup framing whose header is not BCD names the byte.
	bad := append([]byte(nil), framed...)
	_, err = decode.Bytes(append([]byte{0, byte(len(bad) + 5 - 2), 0x60, 0, 0, 0, 0}, bad[2:]...), decode.Options{Framings: []string{"cup"}})
	if err == nil || !strings.Contains(err.Error(), "bytes 7-12: message header software version, byte 3: 2D is not two BCD digits") {
		t.Fatalf("bad CUP header: %v", err)
	}
}

// TestTruncatedCUPMessage: a UnionPay sale cut short inside its MAC is still read as cup/cup
// (the header and DE60 point there), failing at DE64 with the byte.
func TestTruncatedCUPMessage(t *testing.T) {
	m := cupGolden()["0200 sale"]
	payload, err := iso.CUP.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	framed, _ := iso.CUPFraming.AppendFrameHeader(nil, nil, iso.DefaultCUPHeader.Bytes(), payload)
	_, err = decode.Bytes(framed[:len(framed)-4], decode.Options{})
	var de *decode.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v", err)
	}
	if de.Framing != "cup" || de.Dialect != "cup" || de.Field.FieldID != 64 || de.Offset != len(framed)-8 {
		t.Fatalf("best reading %s/%s, field %d at byte %d (want cup/cup, 64 at %d)", de.Framing, de.Dialect, de.Field.FieldID, de.Offset, len(framed)-8)
	}
}
