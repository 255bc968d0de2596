package iso_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
)

func TestCheckEcho(t *testing.T) {
	req := &iso.Message{MTI: "0200", ProcessingCode: "000000", Amount: "000000001000", Currency: "156",
		TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", STAN: "000001"}
	tests := []struct {
		name string
		edit func(r *iso.Message)
		want string // "" = acceptable
	}{
		{"echo", func(*iso.Message) {}, ""},
		{"fields left out", func(r *iso.Message) {
			r.Amount, r.Currency, r.ProcessingCode, r.MerchantID, r.TerminalID = "", "", "", "", ""
		}, ""},
		{"blank-padded ids", func(r *iso.Message) { r.TerminalID, r.MerchantID = "TERM0001 ", " POSDRILL0000001" }, ""},
		{"decline echoes", func(r *iso.Message) { r.ResponseCode = "51" }, ""},
		{"partial below", func(r *iso.Message) { r.ResponseCode, r.Amount = "10", "000000000600" }, ""},
		{"partial 100x", func(r *iso.Message) { r.ResponseCode, r.Amount = "10", "000000100000" }, "DE4 (partial amount) is 000000100000"},
		{"partial equal", func(r *iso.Message) { r.ResponseCode = "10" }, "partial amount"},
		{"partial zero", func(r *iso.Message) { r.ResponseCode, r.Amount = "10", "000000000000" }, "partial amount"},
		{"partial missing", func(r *iso.Message) { r.ResponseCode, r.Amount = "10", "" }, "is nothing"},
		{"partial unreadable", func(r *iso.Message) { r.ResponseCode, r.Amount = "10", "12AB" }, "partial amount"},
		{"amount", func(r *iso.Message) { r.Amount = "000000001001" }, "DE4 (amount)"},
		{"currency", func(r *iso.Message) { r.Currency = "840" }, "DE49 (currency)"},
		{"processing code", func(r *iso.Message) { r.ProcessingCode = "200000" }, "DE3 (processing code)"},
		{"terminal", func(r *iso.Message) { r.TerminalID = "TERM0002" }, "DE41 (terminal)"},
		{"merchant", func(r *iso.Message) { r.MerchantID = "OTHER" }, "DE42 (merchant)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := req.Reply("00")
			tc.edit(r)
			err := iso.CheckEcho(req, r)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, iso.ErrEchoMismatch) {
				t.Fatalf("CheckEcho = %v, want an ErrEchoMismatch saying %q", err, tc.want)
			}
		})
	}
}
