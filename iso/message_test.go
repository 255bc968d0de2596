package iso_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/posdrill/posdrill/iso"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sale() *iso.Message {
	return &iso.Message{
		MTI: "0200", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000002500",
		TransmissionTime: "1126021500", STAN: "000123", LocalTime: "101500", LocalDate: "1126",
		Expiry: "3012", EntryMode: "051", ConditionCode: "00", TerminalID: "TERM0001",
		MerchantID: "POSDRILL0000001", Currency: "156",
		PINBlock: []byte{0x04, 0x12, 0x34, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE},
		EMV:      []byte{0x9F, 0x26, 0x02, 0xAB, 0xCD},
	}
}

func TestRoundTripEveryDialectAndFraming(t *testing.T) {
	msgs := map[string]*iso.Message{
		"0200":   sale(),
		"0210":   func() *iso.Message { r := sale().Reply("00"); r.AuthCode = "A1B2C3"; r.RRN = "000000000001"; return r }(),
		"track2": {MTI: "0100", Track2: "4111111111111111=30122011234", ProcessingCode: "000000", Amount: "000000000100", STAN: "000001", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001"},
		"0420":   {MTI: "0420", ProcessingCode: "000000", Amount: "000000002500", STAN: "000124", TerminalID: "TERM0001", ResponseCode: "68", OriginalData: iso.OriginalData{MTI: "0200", STAN: "000123", Transmitted: "1126021500"}.String()},
		"0800":   {MTI: "0800", TransmissionTime: "1126021500", STAN: "000001", TerminalID: "TERM0001", NetworkCode: "301"},
		"0500":   {MTI: "0500", STAN: "000009", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Batch: "000001", DebitsNumber: "0000000002", DebitsAmount: "0000000000005000", CreditsNumber: "0000000000", CreditsAmount: "0000000000000000"},
		"other":  {MTI: "0200", STAN: "000001", TerminalID: "TERM0001", Other: map[int]string{43: "POSDRILL TEST SHOP      SHANGHAI      CN", 47: "hello"}},
	}
	for _, d := range iso.Dialects() {
		for _, fname := range iso.Framings() {
			fr, err := iso.ParseFraming(fname)
			if err != nil {
				t.Fatal(err)
			}
			for name, m := range msgs {
				t.Run(d.Name+"/"+fname+"/"+name, func(t *testing.T) {
					payload, err := d.Pack(m)
					if err != nil {
						t.Fatalf("pack: %v", err)
					}
					framed, err := fr.AppendFrame(nil, []byte{0x60, 0x00, 0x01, 0x00, 0x02}, payload)
					if err != nil {
						t.Fatal(err)
					}
					got, err := fr.ReadFrame(bytes.NewReader(framed), 0)
					if err != nil {
						t.Fatalf("read frame: %v", err)
					}
					if fr.TPDU && !bytes.Equal(got.TPDU, []byte{0x60, 0x00, 0x01, 0x00, 0x02}) {
						t.Fatalf("TPDU = % X", got.TPDU)
					}
					back, err := d.Unpack(got.Payload)
					if err != nil {
						t.Fatalf("unpack: %v", err)
					}
					want := m.Clone()
					if d == iso.BCD && want.Track2 != "" {
						want.Track2 = strings.ReplaceAll(want.Track2, "D", "=")
					}
					if diff := cmp.Diff(want, back); diff != "" {
						t.Fatalf("round trip (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// TestGolden pins the exact bytes of a 0200 and its 0210 in each dialect (len2 framing):
// another implementation can be checked against testdata/golden.
func TestGolden(t *testing.T) {
	resp := sale().Reply("00")
	resp.AuthCode, resp.RRN = "A1B2C3", "633012000001"
	for _, d := range iso.Dialects() {
		for name, m := range map[string]*iso.Message{"0200": sale(), "0210": resp} {
			t.Run(d.Name+"/"+name, func(t *testing.T) {
				payload, err := d.Pack(m)
				if err != nil {
					t.Fatal(err)
				}
				framed, _ := iso.DefaultFraming.AppendFrame(nil, nil, payload)
				path := filepath.Join("..", "testdata", "golden", d.Name+"-"+name+".hex")
				got := strings.ToUpper(hex.EncodeToString(framed)) + "\n"
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create)", err)
				}
				if got != string(want) {
					t.Fatalf("bytes differ from %s:\n got %s\nwant %s", path, got, want)
				}
			})
		}
	}
}

func TestASCIILayoutIsWhatTheREADMESays(t *testing.T) {
	payload, err := iso.ASCII.Pack(&iso.Message{MTI: "0800", STAN: "000001", TerminalID: "TERM0001", NetworkCode: "301"})
	if err != nil {
		t.Fatal(err)
	}
	// MTI, 8-byte binary bitmap (bits 11, 41, 70 → secondary bitmap present), fields in order.
	want := "0800" + string([]byte{0x80, 0x20, 0, 0, 0, 0x80, 0, 0}) + string([]byte{0x04, 0, 0, 0, 0, 0, 0, 0}) + "000001" + "TERM0001" + "301"
	if string(payload) != want {
		t.Fatalf("got % X\nwant % X", payload, want)
	}
}

func TestUnpackErrorsSayWhere(t *testing.T) {
	good, err := iso.ASCII.Pack(sale())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"empty", nil, "MTI"},
		{"bad MTI", append([]byte("02X0"), good[4:]...), "expected 4 digits"},
		{"no bitmap", good[:4], "bitmap"},
		{"truncated in PAN", good[:14], "field 2 (Primary Account Number)"},
		{"truncated at the end", good[:len(good)-3], "field 55"},
		{"trailing bytes", append(append([]byte{}, good...), 'x', 'y'), "2 bytes left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := iso.ASCII.Unpack(tt.in)
			var de *iso.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *DecodeError", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "4111111111111111") {
				t.Fatalf("error leaks the PAN: %q", err)
			}
		})
	}
}

func TestSecondaryBitmapPresentButEmpty(t *testing.T) {
	payload, err := iso.ASCII.Pack(&iso.Message{MTI: "0800", STAN: "000001", TerminalID: "TERM0001"})
	if err != nil {
		t.Fatal(err)
	}
	// Set bit 1 and insert an all-zero secondary bitmap, as some peers do.
	withSecondary := append([]byte{}, payload[:12]...)
	withSecondary[4] |= 0x80
	withSecondary = append(withSecondary, make([]byte, 8)...)
	withSecondary = append(withSecondary, payload[12:]...)
	m, err := iso.ASCII.Unpack(withSecondary)
	if err != nil {
		t.Fatalf("unpack: %v", err)
	}
	if m.STAN != "000001" || m.TerminalID != "TERM0001" {
		t.Fatalf("got %+v", m)
	}
}

func TestPackRejectsBadMTI(t *testing.T) {
	for _, mti := range []string{"", "200", "02a0", "02000"} {
		if _, err := iso.ASCII.Pack(&iso.Message{MTI: mti}); !errors.Is(err, iso.ErrBadMTI) {
			t.Errorf("MTI %q: err = %v, want ErrBadMTI", mti, err)
		}
	}
}

func TestFramingErrors(t *testing.T) {
	tests := []struct {
		framing string
		in      []byte
		want    error
	}{
		{"len2", []byte{0, 0}, iso.ErrEmptyFrame},
		{"len2", []byte{0xFF, 0xFF}, iso.ErrFrameTooLarge},
		{"len2", []byte{0, 10, 1, 2}, io.ErrUnexpectedEOF},
		{"len2", []byte{0}, io.ErrUnexpectedEOF},
		{"len2", nil, io.EOF},
		{"len2-bcd", []byte{0x0A, 0x00}, iso.ErrBadHeader},
		{"len4-ascii", []byte("00x1"), iso.ErrBadHeader},
		{"len4", []byte{0x7F, 0xFF, 0xFF, 0xFF}, iso.ErrFrameTooLarge},
		{"len2+tpdu", []byte{0, 3, 0x60, 0, 0}, iso.ErrShortFrame},
	}
	for _, tt := range tests {
		t.Run(tt.framing+"/"+hex.EncodeToString(tt.in), func(t *testing.T) {
			f, _ := iso.ParseFraming(tt.framing)
			_, err := f.ReadFrame(bytes.NewReader(tt.in), 4096)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := iso.ParseFraming("len3"); err == nil {
		t.Fatal("len3 accepted")
	}
}

func TestHeaderEncodings(t *testing.T) {
	payload := bytes.Repeat([]byte{'x'}, 1234)
	want := map[string]string{"len2": "04D2", "len2-bcd": "1234", "len4-ascii": "31323334", "len4": "000004D2"}
	for name, hdr := range want {
		f, _ := iso.ParseFraming(name)
		out, err := f.AppendFrame(nil, nil, payload)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ToUpper(hex.EncodeToString(out[:f.HeaderLen()])); got != hdr {
			t.Errorf("%s header = %s, want %s", name, got, hdr)
		}
	}
}

func TestReplyTPDUSwapsAddresses(t *testing.T) {
	got := iso.ReplyTPDU([]byte{0x60, 0x00, 0x01, 0x00, 0x02})
	if !bytes.Equal(got, []byte{0x60, 0x00, 0x02, 0x00, 0x01}) {
		t.Fatalf("got % X", got)
	}
}

func TestOriginalDataRoundTrip(t *testing.T) {
	o := iso.OriginalData{MTI: "0200", STAN: "000123", Transmitted: "1126021500", AcquirerID: "1", ForwarderID: ""}
	s := o.String()
	if len(s) != 42 {
		t.Fatalf("len = %d", len(s))
	}
	back, err := iso.ParseOriginalData(s)
	if err != nil || back.STAN != "000123" || back.MTI != "0200" {
		t.Fatalf("back = %+v, %v", back, err)
	}
}

func TestMTIHelpers(t *testing.T) {
	for in, want := range map[string]string{"0200": "0210", "0201": "0210", "0420": "0430", "0800": "0810"} {
		if got := iso.ResponseMTI(in); got != want {
			t.Errorf("ResponseMTI(%s) = %s, want %s", in, got, want)
		}
	}
	if iso.RepeatMTI("0420") != "0421" || iso.BaseMTI("0421") != "0420" || !iso.IsRepeat("0401") || iso.IsResponse("0200") || !iso.IsResponse("0430") {
		t.Fatal("MTI helpers wrong")
	}
}

func TestPANAndExpiryFromTrack2(t *testing.T) {
	m := &iso.Message{Track2: "4111111111111111=3012201"}
	if m.PANOf() != "4111111111111111" || m.ExpiryOf() != "3012" {
		t.Fatalf("PAN %s expiry %s", m.PANOf(), m.ExpiryOf())
	}
}

func TestAnswers(t *testing.T) {
	req := iso.AnswerKeyOf("0200", "000123", "TERM0001")
	tests := []struct {
		name string
		mti  string
		stan string
		tid  string
		want bool
	}{
		{"answer", "0210", "000123", "TERM0001", true},
		{"padded DE41", "0210", "000123", "TERM0001  ", true},
		{"no DE41", "0210", "000123", "", true},
		{"advice response of the same class", "0230", "000123", "TERM0001", true}, // its MTI is the caller's check
		{"another class", "0410", "000123", "TERM0001", false},
		{"another STAN", "0210", "000124", "TERM0001", false},
		{"another terminal", "0210", "000123", "TERM0002", false},
		{"no MTI", "", "000123", "TERM0001", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := iso.Answers(req, iso.AnswerKeyOf(tt.mti, tt.stan, tt.tid)); got != tt.want {
				t.Errorf("Answers(0200/000123/TERM0001, %s/%s/%q) = %v, want %v", tt.mti, tt.stan, tt.tid, got, tt.want)
			}
		})
	}
	if iso.Answers(iso.AnswerKeyOf("02", "000123", ""), iso.AnswerKeyOf("02", "000123", "")) {
		t.Error("keys of malformed MTIs answer each other")
	}
}
