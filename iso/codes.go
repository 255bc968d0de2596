package iso

import (
	"fmt"
	"slices"
	"strings"
)

// Retry says whether, and how, a declined transaction may be tried again. It is advice for
// the operator and the scenario runner; the terminal itself never retries a financial
// request on its own (only reversals and advices are repeated, see docs/domain.md §3).
type Retry int

const (
	// RetryNotApplicable: the code is not a decline (approved, partial approval) or is
	// handled by the terminal rather than the cashier (reconciliation, reversal answers).
	RetryNotApplicable Retry = iota
	// RetryNo: retrying the same transaction will not help; use another payment method.
	RetryNo
	// RetryOnce: retry exactly once; if it fails again, stop and call the help desk or
	// take another payment.
	RetryOnce
	// RetryLater: not now. The same card may work after some time (system back up, limits
	// reset); at the till take another payment, or wait and try once more.
	RetryLater
	// RetryAfterFix: retry after correcting the input (amount, PIN).
	RetryAfterFix
	// RetryReread: retry only by reading the card again (re-insert, re-tap).
	RetryReread
	// RetryOtherCard: only a different card (or another payment method) can succeed.
	RetryOtherCard
	// RetryNever: must not be retried at all — neither this card (pick-up codes) nor
	// this transaction (duplicate transmission: check the last transaction instead).
	RetryNever
	// RetryAfterAction: the terminal or back office must act first (key exchange and
	// sign-on, batch upload) before the operation is repeated.
	RetryAfterAction
)

var retryNames = [...]string{
	RetryNotApplicable: "n/a",
	RetryNo:            "no",
	RetryOnce:          "once",
	RetryLater:         "later",
	RetryAfterFix:      "after-fix",
	RetryReread:        "reread",
	RetryOtherCard:     "other-card",
	RetryNever:         "never",
	RetryAfterAction:   "after-action",
}

// String returns a short lower-case name ("once", "never", …).
func (r Retry) String() string {
	if r >= 0 && int(r) < len(retryNames) {
		return retryNames[r]
	}
	return fmt.Sprintf("Retry(%d)", int(r))
}

// Code is one DE39 response code with what it means for the operator.
type Code struct {
	Code     string // two characters, as carried in DE39
	Meaning  string // short English meaning
	Approved bool   // the transaction went through (fully or partially)
	Retry    Retry
	Guidance string // stable snake_case key into the operator guidance catalog
	// MeaningZH is the Chinese meaning (the tables of Chinese networks carry one; "" when
	// the table has none: Text falls back to Meaning).
	MeaningZH string
	// Action is what the terminal itself must do before it can go on (Action*): sign on
	// again, upload the batch. "" for nothing.
	Action string
}

// Terminal actions a response code asks for (Code.Action).
const (
	ActionNone        = ""
	ActionSignOn      = "sign_on"      // sign on again (fresh working keys, batch number in sync) before the next transaction
	ActionBatchUpload = "batch_upload" // upload the batch (0320), then settle again
)

// Text is the meaning in a language ("zh" or anything else for English).
func (c Code) Text(lang string) string {
	if lang == "zh" && c.MeaningZH != "" {
		return c.MeaningZH
	}
	return c.Meaning
}

// Known reports whether c came from the table (LookupCode of an unknown code returns a Code
// with Guidance GuidanceUnknownCode).
func (c Code) Known() bool { return c.Guidance != GuidanceUnknownCode }

// Response codes (DE39) used in code. One constant per code of the table.
const (
	RCApproved               = "00"
	RCReferToIssuer          = "01"
	RCInvalidMerchant        = "03"
	RCPickUp                 = "04"
	RCDoNotHonour            = "05"
	RCPickUpSpecial          = "07"
	RCPartial                = "10"
	RCInvalidTransaction     = "12"
	RCInvalidAmount          = "13"
	RCInvalidCardNumber      = "14"
	RCNoSuchIssuer           = "15"
	RCReEnter                = "19"
	RCNoActionTaken          = "21"
	RCRecordNotFound         = "25"
	RCFormatError            = "30"
	RCLostCard               = "41"
	RCStolenCard             = "43"
	RCInsufficientFunds      = "51"
	RCExpiredCard            = "54"
	RCIncorrectPIN           = "55"
	RCNotPermittedCardholder = "57"
	RCNotPermittedTerminal   = "58"
	RCSuspectedFraud         = "59"
	RCExceedsLimit           = "61"
	RCRestrictedCard         = "62"
	RCExceedsFrequency       = "65"
	RCPINTriesExceeded       = "75"
	RCOriginalNotFound       = "76"
	RCOriginalMismatch       = "77"
	RCIssuerUnavailable      = "91"
	RCCannotRoute            = "92"
	RCDuplicate              = "94"
	RCReconcileError         = "95"
	RCSystemMalfunction      = "96"
	RCMACError               = "98"
)

// Guidance keys of host response codes (Code.Guidance). Several codes share a key when the
// operator does the same thing for all of them (e.g. 04, 07, 41 and 43 → pick_up_card).
const (
	GuidanceApproved              = "approved"
	GuidancePartialApproval       = "partial_approval"
	GuidanceReferToIssuer         = "refer_to_issuer"
	GuidanceInvalidMerchant       = "invalid_merchant"
	GuidancePickUpCard            = "pick_up_card"
	GuidanceDoNotHonour           = "do_not_honour"
	GuidanceInvalidTransaction    = "invalid_transaction"
	GuidanceInvalidAmount         = "invalid_amount"
	GuidanceInvalidCardNumber     = "invalid_card_number"
	GuidanceCardNotSupported      = "card_not_supported"
	GuidanceReEnterTransaction    = "re_enter_transaction"
	GuidanceOriginalNotFound      = "original_not_found"
	GuidanceOriginalMismatch      = "original_mismatch"
	GuidanceFormatError           = "format_error"
	GuidanceInsufficientFunds     = "insufficient_funds"
	GuidanceExpiredCard           = "expired_card"
	GuidanceIncorrectPIN          = "incorrect_pin"
	GuidancePINTriesExceeded      = "pin_tries_exceeded"
	GuidanceNotPermitted          = "not_permitted"
	GuidanceCardRestricted        = "card_restricted"
	GuidanceLimitExceeded         = "limit_exceeded"
	GuidanceIssuerUnavailable     = "issuer_unavailable"
	GuidanceDuplicateTransmission = "duplicate_transmission"
	GuidanceReconcileError        = "reconcile_error"
	GuidanceMACError              = "mac_error"
	// GuidanceUnknownCode is the key of a DE39 value that is not in the table.
	GuidanceUnknownCode = "unknown_code"
)

// Guidance keys of terminal-side outcomes: things the cashier sees that are not a host
// response code.
const (
	// GuidanceNoAnswerReversed: the host did not answer in time; the terminal sent a
	// reversal and the host acknowledged it. Nothing was charged.
	GuidanceNoAnswerReversed = "no_answer_reversed"
	// GuidanceReversalPending: the host did not answer in time and the reversal is not yet
	// acknowledged (queued, being repeated). Do NOT charge again.
	GuidanceReversalPending = "reversal_pending"
	// GuidanceHostUnreachable: the connection failed before anything was sent; safe to
	// retry or take another payment.
	GuidanceHostUnreachable = "host_unreachable"
	// GuidanceHostMismatch: the host answered in another dialect or framing (ErrMismatch):
	// a set-up problem, not the network; nothing was charged when nothing was read as sent.
	GuidanceHostMismatch = "host_format_mismatch"
	// GuidanceChipFallback: the chip could not be read; magnetic-stripe fallback.
	GuidanceChipFallback = "chip_unreadable_fallback"
	// GuidanceCardRemoved: the card was removed before the transaction finished.
	GuidanceCardRemoved = "card_removed"
	// GuidancePINTimeout: the cardholder did not enter the PIN in time.
	GuidancePINTimeout = "pin_timeout"
	// GuidancePrinterOut: approved, but the receipt could not be printed; reprint later.
	GuidancePrinterOut = "printer_out_of_paper"
	// GuidanceVoided: the transaction was cancelled (voided / reversed on purpose).
	GuidanceVoided = "voided"
	// GuidanceOfflineApproved: approved by the terminal offline; an advice follows.
	GuidanceOfflineApproved = "offline_approved"
	// GuidanceNotAccepted: refused at the terminal before sending (method or brand not
	// accepted here).
	GuidanceNotAccepted = "method_not_accepted"
	// GuidanceSettled: the batch was settled (0510 with 00).
	GuidanceSettled = "settled"
	// GuidanceManualReconciliation: a reversal or advice gave up after its expiry and
	// needs back-office reconciliation.
	GuidanceManualReconciliation = "manual_reconciliation"
	// GuidanceCheckLast: the outcome of the last transaction is uncertain; check it
	// before doing anything else.
	GuidanceCheckLast = "check_last_transaction"
	// GuidanceAnswerMismatch: the host's answer did not match the request (another amount,
	// currency, processing code, terminal or merchant, or a partial approval with no usable
	// amount): not an approval; the terminal reversed it.
	GuidanceAnswerMismatch = "answer_mismatch"
)

// TerminalOutcomes returns the guidance keys of terminal-side outcomes (not host codes), in
// a fixed order.
func TerminalOutcomes() []string {
	return []string{
		GuidanceNoAnswerReversed,
		GuidanceReversalPending,
		GuidanceHostUnreachable,
		GuidanceHostMismatch,
		GuidanceChipFallback,
		GuidanceCardRemoved,
		GuidancePINTimeout,
		GuidancePrinterOut,
		GuidanceVoided,
		GuidanceOfflineApproved,
		GuidanceNotAccepted,
		GuidanceSettled,
		GuidanceManualReconciliation,
		GuidanceCheckLast,
		GuidanceAnswerMismatch,
		GuidanceKeyCheckFailed,
		GuidanceAnswerMACBad,
		GuidanceChipDeclined,
	}
}

// responseCodes is the DE39 table (docs/domain.md §2). Meanings follow ISO 8583:1987; 76/77
// are the Visa reversal answers.
var responseCodes = map[string]Code{
	RCApproved:               {RCApproved, "approved", true, RetryNotApplicable, GuidanceApproved, "", ActionNone},
	RCReferToIssuer:          {RCReferToIssuer, "refer to card issuer", false, RetryNo, GuidanceReferToIssuer, "", ActionNone},
	RCInvalidMerchant:        {RCInvalidMerchant, "invalid merchant", false, RetryNo, GuidanceInvalidMerchant, "", ActionNone},
	RCPickUp:                 {RCPickUp, "pick up card", false, RetryNever, GuidancePickUpCard, "", ActionNone},
	RCDoNotHonour:            {RCDoNotHonour, "do not honour", false, RetryOtherCard, GuidanceDoNotHonour, "", ActionNone},
	RCPickUpSpecial:          {RCPickUpSpecial, "pick up card, special condition", false, RetryNever, GuidancePickUpCard, "", ActionNone},
	RCPartial:                {RCPartial, "approved for partial amount", true, RetryNotApplicable, GuidancePartialApproval, "", ActionNone},
	RCInvalidTransaction:     {RCInvalidTransaction, "invalid transaction", false, RetryNo, GuidanceInvalidTransaction, "", ActionNone},
	RCInvalidAmount:          {RCInvalidAmount, "invalid amount", false, RetryAfterFix, GuidanceInvalidAmount, "", ActionNone},
	RCInvalidCardNumber:      {RCInvalidCardNumber, "invalid card number", false, RetryReread, GuidanceInvalidCardNumber, "", ActionNone},
	RCNoSuchIssuer:           {RCNoSuchIssuer, "no such issuer", false, RetryNo, GuidanceCardNotSupported, "", ActionNone},
	RCReEnter:                {RCReEnter, "re-enter transaction", false, RetryOnce, GuidanceReEnterTransaction, "", ActionNone},
	RCNoActionTaken:          {RCNoActionTaken, "no action taken", false, RetryNotApplicable, GuidanceOriginalNotFound, "", ActionNone},
	RCRecordNotFound:         {RCRecordNotFound, "unable to locate record", false, RetryNotApplicable, GuidanceOriginalNotFound, "", ActionNone},
	RCFormatError:            {RCFormatError, "format error", false, RetryOnce, GuidanceFormatError, "", ActionNone},
	RCLostCard:               {RCLostCard, "lost card, pick up", false, RetryNever, GuidancePickUpCard, "", ActionNone},
	RCStolenCard:             {RCStolenCard, "stolen card, pick up", false, RetryNever, GuidancePickUpCard, "", ActionNone},
	RCInsufficientFunds:      {RCInsufficientFunds, "not sufficient funds", false, RetryAfterFix, GuidanceInsufficientFunds, "", ActionNone},
	RCExpiredCard:            {RCExpiredCard, "expired card", false, RetryOtherCard, GuidanceExpiredCard, "", ActionNone},
	RCIncorrectPIN:           {RCIncorrectPIN, "incorrect PIN", false, RetryAfterFix, GuidanceIncorrectPIN, "", ActionNone},
	RCNotPermittedCardholder: {RCNotPermittedCardholder, "transaction not permitted to cardholder", false, RetryNo, GuidanceNotPermitted, "", ActionNone},
	RCNotPermittedTerminal:   {RCNotPermittedTerminal, "transaction not permitted to terminal", false, RetryNo, GuidanceNotPermitted, "", ActionNone},
	RCSuspectedFraud:         {RCSuspectedFraud, "suspected fraud", false, RetryLater, GuidanceCardRestricted, "", ActionNone},
	RCExceedsLimit:           {RCExceedsLimit, "exceeds withdrawal amount limit", false, RetryLater, GuidanceLimitExceeded, "", ActionNone},
	RCRestrictedCard:         {RCRestrictedCard, "restricted card", false, RetryLater, GuidanceCardRestricted, "", ActionNone},
	RCExceedsFrequency:       {RCExceedsFrequency, "exceeds withdrawal frequency limit", false, RetryLater, GuidanceLimitExceeded, "", ActionNone},
	RCPINTriesExceeded:       {RCPINTriesExceeded, "allowable number of PIN tries exceeded", false, RetryOtherCard, GuidancePINTriesExceeded, "", ActionNone},
	RCOriginalNotFound:       {RCOriginalNotFound, "unable to locate previous message", false, RetryNotApplicable, GuidanceOriginalNotFound, "", ActionNone},
	RCOriginalMismatch:       {RCOriginalMismatch, "previous message located, inconsistent data", false, RetryNever, GuidanceOriginalMismatch, "", ActionNone},
	RCIssuerUnavailable:      {RCIssuerUnavailable, "issuer or switch inoperative", false, RetryLater, GuidanceIssuerUnavailable, "", ActionNone},
	RCCannotRoute:            {RCCannotRoute, "financial institution cannot be found for routing", false, RetryNo, GuidanceCardNotSupported, "", ActionNone},
	RCDuplicate:              {RCDuplicate, "duplicate transmission", false, RetryNever, GuidanceDuplicateTransmission, "", ActionNone},
	RCReconcileError:         {RCReconcileError, "reconcile error", false, RetryAfterAction, GuidanceReconcileError, "", ActionBatchUpload},
	RCSystemMalfunction:      {RCSystemMalfunction, "system malfunction", false, RetryLater, GuidanceIssuerUnavailable, "", ActionNone},
	RCMACError:               {RCMACError, "MAC error", false, RetryAfterAction, GuidanceMACError, "", ActionSignOn},
}

// LookupCode returns the table entry for a DE39 value in the ISO table (ISOCodes).
// Surrounding spaces are ignored. An unknown code gives a Code carrying the input, Meaning
// "unknown response code", Retry RetryNo and Guidance GuidanceUnknownCode.
func LookupCode(code string) Code { return ISOCodes.Lookup(code) }

// Codes returns every code of the ISO table sorted by code.
func Codes() []Code { return ISOCodes.Codes() }

// CodeTable is one network's DE39 table. Tables differ: 98 is "MAC error" in the ISO table
// and "no answer from the issuer" at UnionPay, 77 "original data inconsistent" and "batch
// out of sync, sign on".
type CodeTable struct {
	Name  string
	codes map[string]Code
}

// The built-in code tables.
var (
	// ISOCodes is ISO 8583:1987 with the Visa reversal answers (docs/domain.md §2).
	ISOCodes = &CodeTable{Name: "iso", codes: responseCodes}
	// CUPCodes is the UnionPay domestic POS table (docs/domain.md §7), with Chinese
	// and English meanings and the terminal action each asks for.
	CUPCodes = &CodeTable{Name: "cup", codes: cupCodes}
)

// CodeTables lists the built-in tables, default first.
func CodeTables() []*CodeTable { return []*CodeTable{ISOCodes, CUPCodes} }

// CodeTableByName returns a built-in table ("" is the ISO one).
func CodeTableByName(name string) (*CodeTable, error) {
	if name == "" {
		return ISOCodes, nil
	}
	for _, t := range CodeTables() {
		if t.Name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("unknown response-code table %q: use iso or cup", name)
}

// Lookup returns the table's entry for a DE39 value (see LookupCode for unknown codes).
func (t *CodeTable) Lookup(code string) Code {
	if t == nil {
		t = ISOCodes
	}
	if c, ok := t.codes[strings.TrimSpace(code)]; ok {
		return c
	}
	return Code{Code: code, Meaning: "unknown response code", MeaningZH: "未知应答码", Retry: RetryNo, Guidance: GuidanceUnknownCode}
}

// Codes returns every code of the table sorted by code.
func (t *CodeTable) Codes() []Code {
	out := make([]Code, 0, len(t.codes))
	for _, c := range t.codes {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Code) int { return strings.Compare(a.Code, b.Code) })
	return out
}
