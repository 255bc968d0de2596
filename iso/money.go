package iso

import (
	"fmt"
	"strconv"
	"strings"
)

// Money in posdrill: amounts are int64 minor units everywhere inside; people and files write
// major units ("25.00"). This file is the one place that reads and writes major units and
// names currencies, so that a scenario, a fault rule, a card file, the terminal and the
// acquirer agree on what "10.999" means (it is refused).

// MaxMinor is the largest amount posdrill accepts: what DE4 (n12, minor units) can carry.
// Every amount can go on the wire, so every parser has this one limit.
const MaxMinor = 999_999_999_999

// ParseMoney reads an amount in major units with at most two decimals ("25.00", "25.5",
// "25"; blanks around it are ignored) and returns minor units. It refuses a sign, more than
// two decimals (never rounds or truncates), and more than DE4 can carry; the error quotes
// the input (masked) and says what is wrong. Every currency posdrill uses has two decimals.
func ParseMoney(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, hasDot := strings.Cut(s, ".")
	if !AllDigits(whole) || (hasDot && !AllDigits(frac)) {
		return 0, fmt.Errorf("amount %q: want major units like 25.00 (digits, at most 2 decimals)", MaskText(s))
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("amount %q: %d decimals; an amount has at most 2, e.g. 25.00", MaskText(s), len(frac))
	}
	if len(whole) > 10 {
		return 0, fmt.Errorf("amount %q: too large; DE4 carries at most %s", MaskText(s), FormatMoney(MaxMinor))
	}
	w, _ := strconv.ParseInt(whole, 10, 64) // at most 10 digits: no overflow
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	return w*100 + f, nil
}

// FormatMoney writes minor units as major units with two decimals ("-" before a negative).
func FormatMoney(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

// Currency is an ISO 4217 currency as DE49/DE50/DE51 carry it.
type Currency struct {
	Numeric  string // "156"
	Alpha    string // "CNY"
	Exponent int    // decimals of the minor unit (JPY 0)
}

// currencies are those posdrill names; others are shown by their numeric code.
var currencies = map[string]Currency{}

func init() {
	for _, c := range []Currency{
		{"036", "AUD", 2}, {"124", "CAD", 2}, {"156", "CNY", 2}, {"344", "HKD", 2}, {"392", "JPY", 0},
		{"410", "KRW", 0}, {"446", "MOP", 2}, {"458", "MYR", 2}, {"702", "SGD", 2}, {"756", "CHF", 2},
		{"826", "GBP", 2}, {"840", "USD", 2}, {"901", "TWD", 2}, {"978", "EUR", 2},
	} {
		currencies[c.Numeric] = c
	}
}

// CurrencyByNumeric returns the currency of a numeric code ("156").
func CurrencyByNumeric(code string) (Currency, bool) {
	c, ok := currencies[code]
	return c, ok
}

// CurrencyName is the alphabetic code of a numeric one ("156" → "CNY"), or the numeric code
// itself when posdrill does not know it.
func CurrencyName(code string) string {
	if c, ok := currencies[code]; ok {
		return c.Alpha
	}
	return code
}
