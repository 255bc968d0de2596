package decode

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

var mtiClasses = map[byte]string{
	'1': "authorization", '2': "financial", '3': "file action", '4': "reversal",
	'5': "reconciliation", '6': "administrative", '7': "fee collection", '8': "network management",
}

var mtiFunctions = map[byte]string{
	'0': "request", '1': "response", '2': "advice", '3': "advice response",
	'4': "notification", '5': "notification acknowledgement",
}

// MTIMeaning says what a message type is for people: "financial request", "reversal advice
// repeat". Unknown digits give "".
func MTIMeaning(mti string) string {
	if !iso.ValidMTI(mti) {
		return ""
	}
	class, ok1 := mtiClasses[mti[1]]
	fn, ok2 := mtiFunctions[mti[2]]
	if !ok1 || !ok2 {
		return ""
	}
	if mti[1:3] == "32" || mti[1:3] == "33" {
		class = "batch upload"
	}
	s := class + " " + fn
	switch mti[3] {
	case '1':
		s += " repeat"
	case '2', '3':
		s += " from issuer"
	}
	return s
}

// PIN capability: the third digit of DE22 (the first two are iso.EntryMeaning).
var pinCapabilities = map[byte]string{
	'0': "PIN capability unknown", '1': "terminal can accept PIN", '2': "terminal cannot accept PIN",
	'8': "PIN pad down", '9': "PIN verified by terminal",
}

var processingTypes = map[string]string{
	"00": "purchase", "01": "cash withdrawal", "02": "debit adjustment", "09": "purchase with cashback",
	"20": "refund", "22": "credit adjustment", "30": "available funds inquiry", "31": "balance inquiry",
	"40": "transfer",
}

var networkCodes = map[string]string{
	iso.NetSignOn: "sign-on", iso.NetSignOff: "sign-off", iso.NetEcho: "echo test",
	"101": "key change", "161": "key exchange", "201": "cutover",
}

var conditionCodes = map[string]string{
	"00": "normal presentment", "01": "cardholder not present", "02": "unattended terminal",
	"05": "customer present, card not present", "06": "pre-authorization request", "08": "mail/telephone order",
	"59": "e-commerce",
}

var reversalReasons = map[string]string{
	iso.ReasonTimeout:     "reversal reason: response received too late or not at all",
	iso.ReasonCancel:      "reversal reason: customer cancellation",
	iso.ReasonMalfunction: "reversal reason: suspected malfunction",
	"06":                  "reversal reason: error",
	"32":                  "reversal reason: partial reversal",
}

// Explanation is what a field value means: one line for people and, for structured fields,
// named parts for tools (stable keys).
type Explanation struct {
	Text  string
	Parts map[string]string
}

// Explain says what value means in field id of a message with the given MTI. The value must
// already be masked when it is card data; the explanation never repeats card data.
func Explain(mti string, id int, value string) Explanation {
	switch id {
	case 3:
		if len(value) == 6 {
			t := processingTypes[value[:2]]
			if t == "" {
				t = "transaction type " + value[:2]
			}
			return Explanation{Text: fmt.Sprintf("%s, from account %s, to account %s", t, value[2:4], value[4:6]),
				Parts: map[string]string{"transaction_type": value[:2], "from_account": value[2:4], "to_account": value[4:6]}}
		}
	case 4, 5, 6:
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			return Explanation{Text: fmt.Sprintf("%d minor units", n)}
		}
	case 7:
		if t, ok := formatMMDDhhmmss(value); ok {
			return Explanation{Text: t + " UTC"}
		}
	case 12:
		if len(value) == 6 && iso.AllDigits(value) {
			return Explanation{Text: fmt.Sprintf("%s:%s:%s local", value[:2], value[2:4], value[4:])}
		}
	case 13, 15, 16, 17:
		if len(value) == 4 && iso.AllDigits(value) {
			return Explanation{Text: fmt.Sprintf("month %s, day %s", value[:2], value[2:])}
		}
	case 14:
		if len(value) == 4 && iso.AllDigits(value) {
			return Explanation{Text: fmt.Sprintf("expires %s/20%s", value[2:], value[:2])}
		}
	case 22:
		if len(value) == 3 {
			mode := iso.EntryMeaning(value)
			if mode == "" {
				mode = "entry mode " + value[:2]
			}
			pin := pinCapabilities[value[2]]
			if pin == "" {
				pin = "PIN capability " + value[2:]
			}
			return Explanation{Text: mode + ", " + pin,
				Parts: map[string]string{"pan_entry": value[:2], "pan_entry_meaning": mode, "pin_capability": value[2:], "pin_capability_meaning": pin}}
		}
	case 25:
		if c := conditionCodes[value]; c != "" {
			return Explanation{Text: c}
		}
	case 39:
		return explainCode(mti, value)
	case 49, 50, 51:
		if c, ok := iso.CurrencyByNumeric(value); ok {
			return Explanation{Text: c.Alpha}
		}
	case 48:
		// Only the UnionPay settlement layout is explained; other DE48s are private data.
		if len(value) == 2*iso.CUPSideLen && (mti == iso.MTISettlement || mti == iso.MTISettlementResp) {
			return explainCUPTotals(value)
		}
	case 60:
		if len(value) >= 11 {
			return explainDE60(value)
		}
	case 70:
		if c := networkCodes[value]; c != "" {
			return Explanation{Text: c}
		}
	case 90:
		od, err := iso.ParseOriginalData(value)
		if err != nil {
			return Explanation{Text: err.Error()}
		}
		text := fmt.Sprintf("original %s (%s) STAN %s", od.MTI, MTIMeaning(od.MTI), od.STAN)
		if t, ok := formatMMDDhhmmss(od.Transmitted); ok {
			text += " sent " + t + " UTC"
		}
		text += fmt.Sprintf(", acquirer %s, forwarder %s", od.AcquirerID, od.ForwarderID)
		return Explanation{Text: text, Parts: map[string]string{
			"original_mti": od.MTI, "original_stan": od.STAN, "original_transmission": od.Transmitted,
			"acquirer_id": od.AcquirerID, "forwarder_id": od.ForwarderID}}
	}
	return Explanation{}
}

// explainCode explains DE39: a response code in an answer, a reversal reason in a reversal
// request.
func explainCode(mti string, value string) Explanation {
	if len(mti) == 4 && mti[1] == '4' && !iso.IsResponse(mti) {
		if r := reversalReasons[strings.TrimSpace(value)]; r != "" {
			return Explanation{Text: r, Parts: map[string]string{"reversal_reason": value}}
		}
	}
	c := iso.LookupCode(value)
	return Explanation{
		Text: fmt.Sprintf("%s (guidance: %s, retry: %s)", c.Meaning, c.Guidance, c.Retry),
		Parts: map[string]string{"meaning": c.Meaning, "guidance": c.Guidance, "retry": c.Retry.String(),
			"approved": strconv.FormatBool(c.Approved)},
	}
}

func formatMMDDhhmmss(v string) (string, bool) {
	if len(v) != 10 || !iso.AllDigits(v) {
		return "", false
	}
	return fmt.Sprintf("%s-%s %s:%s:%s", v[:2], v[2:4], v[4:6], v[6:8], v[8:]), true
}

// fieldNames are the names encode files may use instead of numbers, from iso.Message.
var fieldNames = map[string]int{
	"pan": 2, "processing_code": 3, "amount": 4, "transmission_time": 7, "stan": 11,
	"local_time": 12, "local_date": 13, "expiry": 14, "entry_mode": 22, "card_seq": 23,
	"condition_code": 25, "acquirer_id": 32, "track2": 35, "rrn": 37, "auth_code": 38,
	"response_code": 39, "terminal_id": 41, "merchant_id": 42, "additional_response": 44,
	"currency": 49, "pin_block": 52, "additional_amounts": 54, "emv": 55, "batch": 60,
	"private63": 63, "mac": 64, "network_code": 70, "credits_number": 74, "debits_number": 76,
	"credits_amount": 86, "debits_amount": 88, "original_data": 90, "replacement_amounts": 95,
	"net_settlement": 97, "mac2": 128,
}

// FieldID reads a field number ("11", "DE11", "de11") or name ("stan").
func FieldID(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if id, ok := fieldNames[s]; ok {
		return id, true
	}
	s = strings.TrimPrefix(s, "de")
	id, err := strconv.Atoi(s)
	if err != nil || id < 2 || id > 128 {
		return 0, false
	}
	return id, true
}

// FieldNames lists the names FieldID accepts, sorted.
func FieldNames() []string {
	out := make([]string, 0, len(fieldNames))
	for n := range fieldNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// cupTypes names DE60.1 transaction type codes.
var cupTypes = map[string]string{
	iso.CUPTypeManagement: "management", iso.CUPTypeBalance: "balance inquiry", iso.CUPTypePreAuth: "pre-authorization",
	iso.CUPTypePreAuthCancel: "pre-authorization cancel", iso.CUPTypeCompletion: "completion", iso.CUPTypeSale: "sale",
	iso.CUPTypeSaleVoid: "sale void", iso.CUPTypeRefund: "refund", iso.CUPTypeOfflineAdvice: "offline advice",
}

// cupNetCodes names DE60.3 network management information codes.
var cupNetCodes = map[string]string{
	iso.CUPNetNone: "none", iso.CUPNetSignOn: "sign-on, single-length keys", iso.CUPNetSignOff: "sign-off",
	iso.CUPNetSignOnTDES: "sign-on, double-length keys", iso.CUPNetSignOnTDK: "sign-on, double-length keys and track key",
	iso.CUPNetSettle: "settlement / batch upload", iso.CUPNetUploadEnd: "end of batch upload",
	iso.CUPNetUploadIC: "batch upload, chip", iso.CUPNetUploadEndIC: "end of batch upload, chip", iso.CUPNetEcho: "echo test",
}

// explainDE60 reads a UnionPay DE60 (type, batch, network code).
func explainDE60(value string) Explanation {
	d, err := iso.ParseDE60(value)
	if err != nil {
		return Explanation{Text: err.Error()}
	}
	name := func(m map[string]string, k string) string {
		if n := m[k]; n != "" {
			return n
		}
		return "unknown"
	}
	text := fmt.Sprintf("CUP: type %s (%s), batch %s, network code %s (%s)", d.Type, name(cupTypes, d.Type), d.Batch, d.NetCode, name(cupNetCodes, d.NetCode))
	parts := map[string]string{"type": d.Type, "batch": d.Batch, "network_code": d.NetCode}
	if d.ReadCap != "" {
		parts["read_capability"] = d.ReadCap
		text += ", read capability " + d.ReadCap
	}
	if d.ICCond != "" {
		parts["ic_condition"] = d.ICCond
		text += ", IC condition " + d.ICCond
	}
	return Explanation{Text: text, Parts: parts}
}

// cupRecResults names the DE48 reconciliation result codes.
var cupRecResults = map[string]string{
	iso.CUPRecAsked: "asked", iso.CUPRecBalanced: "balanced", iso.CUPRecUnbalanced: "out of balance", iso.CUPRecError: "error",
}

// explainCUPTotals reads the DE48 settlement totals of a UnionPay 0500/0510.
func explainCUPTotals(value string) Explanation {
	t, err := iso.ParseCUPTotals(value)
	if err != nil {
		return Explanation{Text: err.Error()}
	}
	side := func(s iso.CUPSideTotals) string {
		return fmt.Sprintf("debits %d / %s, credits %d / %s, result %s (%s)", s.DebitCount, iso.FormatMoney(s.DebitAmount),
			s.CreditCount, iso.FormatMoney(s.CreditAmount), s.Result, cupRecResults[s.Result])
	}
	return Explanation{
		Text: "CUP settlement totals: domestic " + side(t.Domestic) + "; foreign " + side(t.Foreign),
		Parts: map[string]string{"domestic_result": t.Domestic.Result, "foreign_result": t.Foreign.Result,
			"domestic_debit_count": strconv.FormatInt(t.Domestic.DebitCount, 10), "domestic_debit_amount": strconv.FormatInt(t.Domestic.DebitAmount, 10),
			"domestic_credit_count": strconv.FormatInt(t.Domestic.CreditCount, 10), "domestic_credit_amount": strconv.FormatInt(t.Domestic.CreditAmount, 10)},
	}
}
