package iso_test

import (
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
)

// TestParseMoney: the one reader of major units. "10.999" is refused, never truncated to
// 10.99 (posdrill scenario from-trace used to truncate it), and the one limit is what DE4
// can carry.
func TestParseMoney(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string // "" = accepted
	}{
		{"25.00", 2500, ""},
		{"25", 2500, ""},
		{"25.5", 2550, ""},
		{"0.01", 1, ""},
		{" 12.34 ", 1234, ""},
		{"9999999999.99", iso.MaxMinor, ""},
		{"10.999", 0, `amount "10.999": 3 decimals; an amount has at most 2`},
		{"1.001", 0, "3 decimals"},
		{"10000000000", 0, "too large; DE4 carries at most 9999999999.99"},
		{"", 0, "want major units like 25.00"},
		{"-1.00", 0, "want major units"},
		{"+1", 0, "want major units"},
		{"1.", 0, "want major units"},
		{".5", 0, "want major units"},
		{"1e3", 0, "want major units"},
		{"1,000.00", 0, "want major units"},
		{"lots", 0, `amount "lots"`},
		{"4111111111111111", 0, "411111******1111"}, // a card number typed as an amount stays masked
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := iso.ParseMoney(tt.in)
			switch {
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("ParseMoney(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ParseMoney(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}

func TestFormatMoney(t *testing.T) {
	for minor, want := range map[int64]string{0: "0.00", 1: "0.01", 123456: "1234.56", -250: "-2.50", iso.MaxMinor: "9999999999.99"} {
		if got := iso.FormatMoney(minor); got != want {
			t.Errorf("FormatMoney(%d) = %q, want %q", minor, got, want)
		}
		if back, err := iso.ParseMoney(want); minor >= 0 && (err != nil || back != minor) {
			t.Errorf("ParseMoney(FormatMoney(%d)) = %d, %v", minor, back, err)
		}
	}
}

func TestCurrencies(t *testing.T) {
	if c, ok := iso.CurrencyByNumeric("392"); !ok || c.Alpha != "JPY" || c.Exponent != 0 {
		t.Errorf("392 = %+v, %v; want JPY with no decimals", c, ok)
	}
	if got := iso.CurrencyName("156"); got != "CNY" {
		t.Errorf("CurrencyName(156) = %q", got)
	}
	if got := iso.CurrencyName("999"); got != "999" {
		t.Errorf("an unknown currency is shown by its code, got %q", got)
	}
}
