package iso_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
)

// goldenCUPSettlement is a UnionPay 0500 as the terminal sends it: 2 sales of 155.50, 1
// refund of 20.00 in DE48 (domestic side, result 0), DE60 00/000001/201, framed with the TPDU
// and the default message header. cmd/posdrill/testdata/script/decode.txtar decodes the same
// bytes, so the profile round-trips through `posdrill decode`.
const goldenCUPSettlement = "005B600006000060310031100305002020000000C100109200000000125445524D30303031504F534452494C4C303030303030310062000000015550002000000002000001000000000000000000000000000000000011000000012010"

func TestCUPTotalsDE48(t *testing.T) {
	tot := iso.CUPTotals{Domestic: iso.CUPSideTotals{DebitAmount: 15550, DebitCount: 2, CreditAmount: 2000, CreditCount: 1, Result: iso.CUPRecAsked},
		Foreign: iso.CUPSideTotals{Result: iso.CUPRecAsked}}
	m := &iso.Message{MTI: "0500", ProcessingCode: "920000", STAN: "000012", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
		Batch: iso.DE60{Type: iso.CUPTypeManagement, Batch: "000001", NetCode: iso.CUPNetSettle}.String()}
	if err := m.Set(48, tot.String()); err != nil {
		t.Fatal(err)
	}
	payload, err := iso.CUP.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	framed, err := iso.CUPFraming.AppendFrameHeader(nil, []byte{0x60, 0, 6, 0, 0}, iso.DefaultCUPHeader.Bytes(), payload)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(framed)); got != goldenCUPSettlement {
		t.Fatalf("golden 0500 changed:\n got %s\nwant %s", got, goldenCUPSettlement)
	}
	back, err := iso.CUP.Unpack(payload)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := back.Get(48)
	if len(v) != 2*iso.CUPSideLen {
		t.Fatalf("DE48 %q: want 62 digits", v)
	}
	got, err := iso.ParseCUPTotals(v)
	if err != nil || got != tot {
		t.Fatalf("DE48 round trip = %+v, %v; want %+v", got, err, tot)
	}
	if _, ok := back.Get(74); ok {
		t.Fatal("a UnionPay settlement carries DE74")
	}

	for _, tc := range []struct{ name, in, want string }{
		{"short", "12345", "5 digits, want 62 or 31"},
		{"letters in an amount", strings.Repeat("0", 15) + "00000000000x" + strings.Repeat("0", 35), `credit amount: "00000000000x" at byte 15`},
		{"result out of range", strings.Repeat("0", 30) + "7" + strings.Repeat("0", 31), `result: "7" at byte 30`},
		{"foreign result", strings.Repeat("0", 61) + "9", `result: "9" at byte 61`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iso.ParseCUPTotals(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "field 48") {
				t.Fatalf("ParseCUPTotals = %v, want an error with %q", err, tc.want)
			}
		})
	}
	t.Run("domestic only", func(t *testing.T) {
		got, err := iso.ParseCUPTotals(tot.String()[:iso.CUPSideLen])
		if err != nil || got != (iso.CUPTotals{Domestic: tot.Domestic}) {
			t.Fatalf("31 digits = %+v, %v; want the domestic side, foreign zero", got, err)
		}
	})
	if err := (iso.CUPTotals{Domestic: iso.CUPSideTotals{DebitCount: 1000}}).Validate(); err == nil {
		t.Fatal("a count of 1000 fits n3")
	}
	for _, s := range []string{"0003", "12", "abcd"} {
		n, err := iso.ParseCUPUploadCount(s)
		if (err == nil) != (s == "0003") || (err == nil && n != 3) {
			t.Errorf("ParseCUPUploadCount(%q) = %d, %v", s, n, err)
		}
	}
	if !iso.IsCUPUploadEnd("202") || !iso.IsCUPUploadEnd("207") || iso.IsCUPUploadEnd("201") {
		t.Fatal("IsCUPUploadEnd")
	}
}
