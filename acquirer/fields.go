package acquirer

import (
	"fmt"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

// fieldRule is one field a message type requires (or checks when present).
type fieldRule struct {
	id       int
	kind     string // n: digits; ans: any non-blank text
	length   int    // exact length for n (0: any)
	optional bool   // checked only when present
}

// Field requirements per flow; docs/acquirer.md lists them.
var (
	financialFields = []fieldRule{{3, "n", 6, false}, {4, "n", 12, false}, {7, "n", 10, false}, {11, "n", 6, false},
		{22, "n", 3, false}, {41, "ans", 0, false}, {42, "ans", 0, false}, {49, "n", 3, false}}
	balanceFields = []fieldRule{{3, "n", 6, false}, {4, "n", 12, true}, {7, "n", 10, false}, {11, "n", 6, false},
		{22, "n", 3, false}, {41, "ans", 0, false}, {42, "ans", 0, false}, {49, "n", 3, true}}
	adviceFields = []fieldRule{{3, "n", 6, false}, {4, "n", 12, false}, {7, "n", 10, false}, {11, "n", 6, false},
		{22, "n", 3, true}, {41, "ans", 0, false}, {42, "ans", 0, false}, {49, "n", 3, false}, {90, "n", 42, true}}
	reversalFields = []fieldRule{{4, "n", 12, true}, {7, "n", 10, false}, {11, "n", 6, false}, {41, "ans", 0, false},
		{90, "n", 42, true}}
	settlementFields = []fieldRule{{11, "n", 6, false}, {41, "ans", 0, false}, {60, "ans", 0, false},
		{74, "n", 10, false}, {76, "n", 10, false}, {86, "n", 16, false}, {88, "n", 16, false}}
	// UnionPay: the totals travel in DE48 (checked by iso.ParseCUPTotals), not DE74-DE88.
	cupSettlementFields = []fieldRule{{11, "n", 6, false}, {41, "ans", 0, false}, {60, "ans", 0, false}, {48, "n", 0, false}}
	// UnionPay end of upload (0320, DE60.3 202/207): the same fields, DE48 the number uploaded.
	cupUploadEndFields = cupSettlementFields
	uploadFields       = []fieldRule{{3, "n", 6, false}, {4, "n", 12, false}, {11, "n", 6, false}, {41, "ans", 0, false},
		{60, "ans", 0, false}}
	// DE70 is checked by network(): a UnionPay 0800 carries its code in DE60.3 instead.
	networkFields = []fieldRule{{11, "n", 6, false}, {41, "ans", 0, false}}
)

// fieldError says which field is wrong and how.
type fieldError struct {
	id     int
	name   string
	reason string
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("field %d (%s): %s", e.id, e.name, e.reason)
}

func (a *Acquirer) fieldErr(id int, format string, args ...any) *fieldError {
	return &fieldError{id: id, name: a.o.Dialect.Describe(id).Name, reason: fmt.Sprintf(format, args...)}
}

// checkFields returns the first rule the message breaks, in field order.
func (a *Acquirer) checkFields(m *iso.Message, rules []fieldRule) *fieldError {
	for _, r := range rules {
		v, ok := m.Get(r.id)
		if !ok || strings.TrimSpace(v) == "" {
			if r.optional {
				continue
			}
			return a.fieldErr(r.id, "missing")
		}
		if r.kind == "n" {
			if !iso.AllDigits(v) {
				return a.fieldErr(r.id, "must be digits, found %q", iso.MaskText(v))
			}
			if r.length > 0 && len(v) != r.length {
				return a.fieldErr(r.id, "must be %d digits, found %d", r.length, len(v))
			}
		}
	}
	return nil
}

// checkCardData checks the card fields of an authorization: the PAN from DE2 or track 2,
// the expiry from DE14 or track 2, and the PIN block size.
func checkCardData(m *iso.Message) *fieldError {
	switch {
	case m.PAN != "":
		if len(m.PAN) < 12 || len(m.PAN) > 19 || !iso.AllDigits(m.PAN) {
			return &fieldError{2, "Primary Account Number", fmt.Sprintf("must be 12 to 19 digits, found %d characters", len(m.PAN))}
		}
	case m.Track2 != "":
		i := strings.IndexAny(m.Track2, "=D")
		if i < 12 || i > 19 || !iso.AllDigits(m.Track2[:i]) || len(m.Track2) < i+5 {
			return &fieldError{35, "Track 2 Data", "must be PAN (12-19 digits), '=' or 'D', YYMM and service code"}
		}
	default:
		return &fieldError{2, "Primary Account Number", "missing (and no track 2 in field 35)"}
	}
	exp := m.ExpiryOf()
	src, name := 14, "Date, Expiration"
	if m.Expiry == "" && m.Track2 != "" {
		src, name = 35, "Track 2 Data"
	}
	if exp == "" {
		return &fieldError{14, name, "missing (and no track 2 in field 35)"}
	}
	if len(exp) != 4 || !iso.AllDigits(exp) || exp[2:] < "01" || exp[2:] > "12" {
		return &fieldError{src, name, fmt.Sprintf("expiry must be YYMM with a month 01-12, found %q", exp)}
	}
	if len(m.PINBlock) != 0 && len(m.PINBlock) != 8 {
		return &fieldError{52, "Personal Identification Number Data", fmt.Sprintf("must be 8 bytes, found %d", len(m.PINBlock))}
	}
	return nil
}
