package decode

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

// dateLayouts are the date and time fields of ISO 8583:1987 and their layouts.
var dateLayouts = map[int]string{
	7: "MMDDhhmmss", 12: "hhmmss", 13: "MMDD", 14: "YYMM", 15: "MMDD", 16: "MMDD", 17: "MMDD",
}

// fieldWarning checks a decoded value against its field's type: digits only in a numeric
// field, a real date or time in a date field. It returns "" when the value fits. The text
// never quotes the value (it may be card data), only the position of the first bad character.
func fieldWarning(d *iso.Dialect, id int, value string, binary bool) string {
	if binary {
		return ""
	}
	format := d.Describe(id).Format
	if strings.HasPrefix(format, "n") {
		for i := 0; i < len(value); i++ {
			if value[i] < '0' || value[i] > '9' {
				return fmt.Sprintf("not numeric: a %s field holds a character that is not a digit at position %d", format, i+1)
			}
		}
	}
	if layout, ok := dateLayouts[id]; ok && len(value) == len(layout) && iso.AllDigits(value) {
		if why := badDate(layout, value); why != "" {
			return fmt.Sprintf("not a valid %s: %s", layout, why)
		}
	}
	return ""
}

// badDate says what is out of range in a digits-only value of layout, or "".
func badDate(layout, v string) string {
	part := func(name string) (int, bool) {
		i := strings.Index(layout, name)
		if i < 0 {
			return 0, false
		}
		n, _ := strconv.Atoi(v[i : i+2])
		return n, true
	}
	if m, ok := part("MM"); ok && (m < 1 || m > 12) {
		return fmt.Sprintf("month %02d", m)
	}
	if dd, ok := part("DD"); ok && (dd < 1 || dd > 31) {
		return fmt.Sprintf("day %02d", dd)
	}
	if h, ok := part("hh"); ok && h > 23 {
		return fmt.Sprintf("hour %02d", h)
	}
	if mi, ok := part("mm"); ok && mi > 59 {
		return fmt.Sprintf("minute %02d", mi)
	}
	if s, ok := part("ss"); ok && s > 59 {
		return fmt.Sprintf("second %02d", s)
	}
	return ""
}
