package iso

import (
	"fmt"
	"strconv"
)

// UnionPay settlement totals (DE48 of a cup 0500/0510) and the end-of-upload count (DE48 of
// the 0320 with DE60.3 202/207). Layout as public descriptions of the CUP POS interface give
// it, all numeric: for domestic cards (内卡) then foreign cards (外卡), debit amount n12,
// debit count n3, credit amount n12, credit count n3, reconciliation result (对账应答代码)
// n1 — 31 digits a side, 62 in all. The terminal sends result 0; the host answers 1
// (balanced), 2 (out of balance) or 3 (error) for each side.

// DE48 reconciliation result codes (对账应答代码).
const (
	CUPRecAsked      = "0" // in a request: not reconciled yet
	CUPRecBalanced   = "1" // 对账平
	CUPRecUnbalanced = "2" // 对账不平
	CUPRecError      = "3" // 对账出错
)

// CUPSideLen is the length in digits of one side's totals in DE48.
const CUPSideLen = 31

// CUPSideTotals is one side (domestic or foreign cards) of a settlement's DE48. Debits are
// sales (and completions); credits are refunds.
type CUPSideTotals struct {
	DebitAmount, DebitCount   int64
	CreditAmount, CreditCount int64
	Result                    string // CUPRec*
}

// CUPTotals is DE48 of a UnionPay settlement.
type CUPTotals struct {
	Domestic, Foreign CUPSideTotals
}

// String packs t in the DE48 layout (62 digits). Counts above 999 or amounts above 12 digits
// do not fit the layout and would widen it: callers check with Validate first.
func (t CUPTotals) String() string {
	return t.Domestic.digits() + t.Foreign.digits()
}

func (s CUPSideTotals) digits() string {
	r := s.Result
	if r == "" {
		r = CUPRecAsked
	}
	return fmt.Sprintf("%012d%03d%012d%03d%s", s.DebitAmount, s.DebitCount, s.CreditAmount, s.CreditCount, r)
}

// Validate says whether t fits the DE48 layout.
func (t CUPTotals) Validate() error {
	for _, s := range []struct {
		name string
		v    CUPSideTotals
	}{{"domestic", t.Domestic}, {"foreign", t.Foreign}} {
		switch {
		case s.v.DebitCount < 0 || s.v.DebitCount > 999 || s.v.CreditCount < 0 || s.v.CreditCount > 999:
			return fmt.Errorf("field 48 (%s totals): a count outside 0-999 does not fit n3", s.name)
		case s.v.DebitAmount < 0 || s.v.DebitAmount > 999999999999 || s.v.CreditAmount < 0 || s.v.CreditAmount > 999999999999:
			return fmt.Errorf("field 48 (%s totals): an amount outside n12", s.name)
		case len(s.v.Result) > 1:
			return fmt.Errorf("field 48 (%s totals): result %q is not one digit", s.name, s.v.Result)
		}
	}
	return nil
}

// ParseCUPTotals reads DE48 of a UnionPay 0500/0510: 62 digits, or 31 (domestic only; the
// foreign side is then zero). Errors name field 48, the part and its byte offset.
func ParseCUPTotals(s string) (CUPTotals, error) {
	if len(s) != CUPSideLen && len(s) != 2*CUPSideLen {
		return CUPTotals{}, fmt.Errorf("field 48 (settlement totals): %d digits, want %d or %d", len(s), 2*CUPSideLen, CUPSideLen)
	}
	var t CUPTotals
	for i, side := range []*CUPSideTotals{&t.Domestic, &t.Foreign} {
		base := i * CUPSideLen
		if base >= len(s) {
			break
		}
		parts := []struct {
			name   string
			off, n int
			dst    *int64
		}{
			{"debit amount", 0, 12, &side.DebitAmount}, {"debit count", 12, 3, &side.DebitCount},
			{"credit amount", 15, 12, &side.CreditAmount}, {"credit count", 27, 3, &side.CreditCount},
		}
		for _, p := range parts {
			v, err := strconv.ParseUint(s[base+p.off:base+p.off+p.n], 10, 64)
			if err != nil {
				return CUPTotals{}, fmt.Errorf("field 48 (settlement totals) %s: %q at byte %d is not %d digits",
					p.name, s[base+p.off:base+p.off+p.n], base+p.off, p.n)
			}
			*p.dst = int64(v)
		}
		r := s[base+30 : base+31]
		switch r {
		case CUPRecAsked, CUPRecBalanced, CUPRecUnbalanced, CUPRecError:
		default:
			return CUPTotals{}, fmt.Errorf("field 48 (settlement totals) result: %q at byte %d is not 0-3", r, base+30)
		}
		side.Result = r
	}
	return t, nil
}

// CUPUploadCountLen is the length of DE48 in an end-of-upload 0320: the number of
// transactions uploaded (n4).
const CUPUploadCountLen = 4

// CUPUploadCount formats DE48 of an end-of-upload message.
func CUPUploadCount(n int) string { return fmt.Sprintf("%04d", n) }

// ParseCUPUploadCount reads DE48 of an end-of-upload message.
func ParseCUPUploadCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if len(s) != CUPUploadCountLen || err != nil || n < 0 {
		return 0, fmt.Errorf("field 48 (upload count): %q is not %d digits", s, CUPUploadCountLen)
	}
	return n, nil
}

// IsCUPUploadEnd says whether a CUP DE60.3 network code ends a batch upload (202, or 207
// when chip transactions were uploaded).
func IsCUPUploadEnd(netCode string) bool {
	return netCode == CUPNetUploadEnd || netCode == CUPNetUploadEndIC
}
