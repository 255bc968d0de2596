package iso

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// domainCodes are the DE39 codes of docs/domain.md §2.
var codesTestDomain = []string{"00", "01", "03", "04", "05", "07", "10", "12", "13", "14", "15", "19", "21",
	"25", "30", "41", "43", "51", "54", "55", "57", "58", "59", "61", "62", "65", "75", "76", "77",
	"91", "92", "94", "95", "96", "98"}

func TestCodesCoverDomain(t *testing.T) {
	var got []string
	for _, c := range Codes() {
		got = append(got, c.Code)
	}
	if !slices.Equal(got, codesTestDomain) {
		t.Errorf("Codes() = %v\nwant      %v", got, codesTestDomain)
	}
}

func TestCodesWellFormed(t *testing.T) {
	key := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	codes := Codes()
	if !slices.IsSortedFunc(codes, func(a, b Code) int { return strings.Compare(a.Code, b.Code) }) {
		t.Error("Codes() not sorted")
	}
	for _, c := range codes {
		t.Run(c.Code, func(t *testing.T) {
			if len(c.Code) != 2 {
				t.Errorf("code %q is not 2 characters", c.Code)
			}
			if c.Meaning == "" {
				t.Error("empty Meaning")
			}
			if !key.MatchString(c.Guidance) {
				t.Errorf("Guidance %q is not a snake_case key", c.Guidance)
			}
			if !c.Known() {
				t.Error("table entry not Known")
			}
			if c.Approved != (c.Code == RCApproved || c.Code == RCPartial) {
				t.Errorf("Approved = %v", c.Approved)
			}
			if LookupCode(c.Code) != c {
				t.Errorf("LookupCode(%q) differs from Codes() entry", c.Code)
			}
		})
	}
	for _, k := range TerminalOutcomes() {
		if !key.MatchString(k) {
			t.Errorf("terminal outcome key %q is not snake_case", k)
		}
		for _, c := range codes {
			if c.Guidance == k {
				t.Errorf("terminal outcome key %q reused by code %s", k, c.Code)
			}
		}
	}
}

func TestLookupCode(t *testing.T) {
	tests := []struct {
		name     string
		code     string
		approved bool
		retry    Retry
		guidance string
	}{
		{"approved", RCApproved, true, RetryNotApplicable, GuidanceApproved},
		{"partial", RCPartial, true, RetryNotApplicable, GuidancePartialApproval},
		{"pick up", RCPickUp, false, RetryNever, GuidancePickUpCard},
		{"lost", RCLostCard, false, RetryNever, GuidancePickUpCard},
		{"stolen", RCStolenCard, false, RetryNever, GuidancePickUpCard},
		{"do not honour", RCDoNotHonour, false, RetryOtherCard, GuidanceDoNotHonour},
		{"invalid amount", RCInvalidAmount, false, RetryAfterFix, GuidanceInvalidAmount},
		{"invalid card number", RCInvalidCardNumber, false, RetryReread, GuidanceInvalidCardNumber},
		{"re-enter", RCReEnter, false, RetryOnce, GuidanceReEnterTransaction},
		{"format error", RCFormatError, false, RetryOnce, GuidanceFormatError},
		{"insufficient funds", RCInsufficientFunds, false, RetryAfterFix, GuidanceInsufficientFunds},
		{"expired", RCExpiredCard, false, RetryOtherCard, GuidanceExpiredCard},
		{"incorrect PIN", RCIncorrectPIN, false, RetryAfterFix, GuidanceIncorrectPIN},
		{"PIN tries exceeded", RCPINTriesExceeded, false, RetryOtherCard, GuidancePINTriesExceeded},
		{"original not found 25", RCRecordNotFound, false, RetryNotApplicable, GuidanceOriginalNotFound},
		{"original not found 76", RCOriginalNotFound, false, RetryNotApplicable, GuidanceOriginalNotFound},
		{"issuer down", RCIssuerUnavailable, false, RetryLater, GuidanceIssuerUnavailable},
		{"system malfunction", RCSystemMalfunction, false, RetryLater, GuidanceIssuerUnavailable},
		{"duplicate", RCDuplicate, false, RetryNever, GuidanceDuplicateTransmission},
		{"reconcile", RCReconcileError, false, RetryAfterAction, GuidanceReconcileError},
		{"mac", RCMACError, false, RetryAfterAction, GuidanceMACError},
		{"padded", " 51 ", false, RetryAfterFix, GuidanceInsufficientFunds},
		{"unknown", "Z9", false, RetryNo, GuidanceUnknownCode},
		{"empty", "", false, RetryNo, GuidanceUnknownCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := LookupCode(tt.code)
			if c.Approved != tt.approved || c.Retry != tt.retry || c.Guidance != tt.guidance {
				t.Errorf("LookupCode(%q) = %+v, want approved=%v retry=%v guidance=%s",
					tt.code, c, tt.approved, tt.retry, tt.guidance)
			}
			if tt.guidance == GuidanceUnknownCode {
				if c.Meaning != "unknown response code" || c.Code != tt.code || c.Known() {
					t.Errorf("unknown code: got %+v", c)
				}
			}
		})
	}
}

func TestRetryString(t *testing.T) {
	tests := []struct {
		r    Retry
		want string
	}{
		{RetryNotApplicable, "n/a"},
		{RetryOnce, "once"},
		{RetryNever, "never"},
		{RetryAfterAction, "after-action"},
		{Retry(99), "Retry(99)"},
		{Retry(-1), "Retry(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
