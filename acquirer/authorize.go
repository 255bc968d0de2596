package acquirer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
)

// maxPINTries is how many wrong PINs in a row block a card's PIN (75).
const maxPINTries = 3

// exchange is one request on its way through the acquirer: what came in, what the host
// decided and what goes back.
type exchange struct {
	conn   int64
	req    *iso.Message
	at     time.Time // arrival, on the injected clock: the transaction date for expiry
	firing *fault.Firing
	card   cards.Card // resolved from the PAN
	known  bool       // card found in the fixtures

	// Results, reset by decide (it may run more than once, see store.update).
	resp     *iso.Message // the answer (nil: none)
	code     string       // DE39 decided
	decision string       // why, for the journal
	rrn      string
	outNote  string // how the answer travels (fault), for the journal's out line
	noOut    bool   // nothing goes out on the wire
}

// terminal and merchant ids as the host compares them (fixed-length fields arrive padded).
func (ex *exchange) terminal() string { return strings.TrimSpace(ex.req.TerminalID) }
func (ex *exchange) merchant() string { return strings.TrimSpace(ex.req.MerchantID) }

// answer sets the response and decision.
func (ex *exchange) answer(code string, format string, args ...any) *iso.Message {
	ex.code = code
	ex.decision = fmt.Sprintf(format, args...)
	ex.resp = ex.req.Reply(code)
	return ex.resp
}

func (ex *exchange) faultName() string {
	if ex.firing == nil {
		return ""
	}
	if ex.firing.RuleName != "" {
		return ex.firing.RuleName
	}
	return ex.firing.RuleID
}

func (ex *exchange) faultAction() string {
	if ex.firing == nil {
		return ""
	}
	return ex.firing.Action
}

// decide runs in the store's writer: it makes the decision, changes the ledger and writes
// the journal lines, all in the batch transaction, so the answer goes out only after they
// are durable.
func (a *Acquirer) decide(tx storeTx, ex *exchange) error {
	ex.resp, ex.code, ex.decision, ex.rrn = nil, "", "", ""
	var err error
	base := iso.BaseMTI(ex.req.MTI)
	chip, mk, checked, chipCode, chipWhy := a.chipRequest(ex)
	if code, ok := declineCode(ex.firing); ok {
		err = a.faultDecline(tx, ex, code)
	} else if chipCode != "" {
		err = a.declineEarly(tx, ex, chipCode, chipWhy)
	} else if code, why, berr := a.batchInSync(tx, ex); berr != nil || code != "" {
		err = berr
		if err == nil {
			err = a.declineEarly(tx, ex, code, why)
		}
	} else {
		switch base {
		case iso.MTIAuthRequest, iso.MTIFinancialRequest:
			err = a.authorize(tx, ex)
		case iso.MTIFinancialAdvice:
			err = a.advice(tx, ex)
		case iso.MTIReversalRequest, iso.MTIReversalAdvice:
			err = a.reverse(tx, ex)
		case iso.MTISettlement:
			err = a.settle(tx, ex)
		case iso.MTIBatchUpload:
			err = a.upload(tx, ex)
		case iso.MTINetworkRequest:
			err = a.network(tx, ex)
		default:
			ex.answer(iso.RCInvalidTransaction, "MTI %s is not supported by this host", ex.req.MTI)
		}
	}
	if err != nil {
		return err
	}
	if checked {
		a.chipAnswer(ex, chip, mk)
	}
	shapeOutput(ex)
	return a.writeJournal(tx, ex)
}

// writeJournal writes the in line (with the decision) and, when something goes out, the
// out line.
func (a *Acquirer) writeJournal(tx storeTx, ex *exchange) error {
	m := ex.req
	amt, _ := iso.ParseAmount(m.Amount)
	rrn := ex.rrn // the host's reference for the transaction, when it has one
	if rrn == "" {
		rrn = m.RRN
	}
	in := Entry{Time: ex.at, Conn: ex.conn, Direction: "in", MTI: m.MTI, STAN: m.STAN, RRN: rrn,
		Terminal: ex.terminal(), MaskedPAN: iso.MaskPAN(m.PANOf()), ProcessingCode: m.ProcessingCode,
		Amount: amt, ResponseCode: ex.code, Decision: iso.MaskText(ex.decision),
		Fault: ex.faultName(), FaultAction: ex.faultAction()}
	if ex.known {
		in.Card = ex.card.Name
	}
	if err := tx.appendJournal(&in); err != nil {
		return err
	}
	if ex.resp == nil || ex.noOut {
		return nil
	}
	r := ex.resp
	ramt, _ := iso.ParseAmount(r.Amount)
	out := in
	out.ID = 0
	out.Direction = "out"
	out.MTI, out.STAN, out.RRN, out.Amount, out.ResponseCode = r.MTI, r.STAN, r.RRN, ramt, r.ResponseCode
	out.MaskedPAN = iso.MaskPAN(r.PANOf())
	out.Decision = "answer"
	if ex.outNote != "" {
		out.Decision = "answer " + ex.outNote
	}
	return tx.appendJournal(&out)
}

// declineCode reads a decline firing: the decline action with its code. The engine
// normalises aliases (issuer_down, system_error, ...) to decline; an alias that reaches us
// anyway is resolved here too.
func declineCode(f *fault.Firing) (string, bool) {
	if f == nil {
		return "", false
	}
	if f.Action == fault.ActionDecline {
		if f.Params.Code == "" {
			return iso.RCDoNotHonour, true
		}
		return f.Params.Code, true
	}
	code, ok := fault.Aliases[f.Action]
	return code, ok
}

// faultDecline answers with the rule's code without looking at the ledger. A financial
// request is still recorded (declined), so that its duplicate gets 94 and its reversal 00.
func (a *Acquirer) faultDecline(tx storeTx, ex *exchange, code string) error {
	return a.declineEarly(tx, ex, code, fmt.Sprintf("declined %s by fault rule %q", code, ex.faultName()))
}

// declineEarly answers code without looking at the ledger (fault rules, chip data that
// fails its checks), recording a financial request as declined like faultDecline.
func (a *Acquirer) declineEarly(tx storeTx, ex *exchange, code, why string) error {
	resp := ex.answer(code, "%s", why)
	base := iso.BaseMTI(ex.req.MTI)
	if base != iso.MTIAuthRequest && base != iso.MTIFinancialRequest && base != iso.MTIFinancialAdvice {
		return nil
	}
	if a.checkFields(ex.req, keyFields) != nil {
		return nil
	}
	rec := a.newTxn(tx, ex, base)
	rec.State = StateDeclined
	resp.RRN = rec.RRN
	return a.insertTxn(tx, rec, resp)
}

// keyFields identify a transaction: DE7, DE11, DE41.
var keyFields = []fieldRule{{7, "n", 10, false}, {11, "n", 6, false}, {41, "ans", 0, false}}

// newTxn starts a transaction record for the request, with the host's RRN.
func (a *Acquirer) newTxn(tx storeTx, ex *exchange, base string) *txnRecord {
	m := ex.req
	amt, _ := iso.ParseAmount(m.Amount)
	id := tx.nextID()
	rrn := m.RRN
	if strings.TrimSpace(rrn) == "" {
		rrn = a.rrn(id)
	}
	ex.rrn = rrn
	rec := &txnRecord{Time: ex.at, Terminal: ex.terminal(), Merchant: ex.merchant(), STAN: m.STAN,
		DE7: m.TransmissionTime, MTI: base, Proc: m.ProcessingCode, MaskedPAN: iso.MaskPAN(m.PANOf()),
		Requested: amt, Currency: m.Currency, RRN: rrn, Fault: ex.faultName()}
	if ex.known {
		rec.Card = ex.card.Name
	}
	return rec
}

// insertTxn stores the record with the answer (for repeats) and its code.
func (a *Acquirer) insertTxn(tx storeTx, rec *txnRecord, resp *iso.Message) error {
	rec.Code = resp.ResponseCode
	rec.Response = storedResponse(resp)
	return tx.insertTxn(rec)
}

// storedResponse keeps an answer for repeats, without card data: the PAN is put back from
// the repeat itself.
func storedResponse(r *iso.Message) string {
	c := r.Clone()
	c.PAN, c.Track2 = "", ""
	b, _ := json.Marshal(c)
	return string(b)
}

func restoreResponse(s string, req *iso.Message) (*iso.Message, error) {
	var r iso.Message
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("stored response: %w", err)
	}
	r.PAN = req.PAN
	return &r, nil
}

// rrn derives the host's retrieval reference number from the seed and the transaction's
// sequence number: 12 digits, distinct for every transaction of this host.
func (a *Acquirer) rrn(seq int64) string {
	off := splitmix(uint64(a.o.Seed)) % 1e12
	return fmt.Sprintf("%012d", (off+uint64(seq))%1e12)
}

// authCode derives DE38 from the seed and the sequence number: 6 characters 0-9A-Z.
func (a *Acquirer) authCode(seq int64) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	x := splitmix(uint64(a.o.Seed) ^ uint64(seq)*0x9E3779B97F4A7C15)
	var b [6]byte
	for i := range b {
		b[i] = digits[x%36]
		x /= 36
	}
	return string(b[:])
}

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// txnKind classifies a 0100/0200 by MTI and processing code.
func txnKind(m *iso.Message) string {
	if len(m.ProcessingCode) < 2 {
		return ""
	}
	tt := m.ProcessingCode[:2]
	switch iso.BaseMTI(m.MTI) {
	case iso.MTIAuthRequest:
		if tt == "00" {
			return "preauth"
		}
	case iso.MTIFinancialRequest:
		switch tt {
		case "00":
			return "sale"
		case "20":
			return "refund"
		case "31":
			return "balance"
		}
	}
	return ""
}

// authorize decides a 0100 (pre-auth) or 0200 (sale, refund, balance inquiry), in the
// documented order (docs/acquirer.md).
func (a *Acquirer) authorize(tx storeTx, ex *exchange) error {
	m := ex.req
	base := iso.BaseMTI(m.MTI)
	kind := txnKind(m)

	// 1. Format.
	rules := financialFields
	if kind == "balance" {
		rules = balanceFields
	}
	if fe := a.checkFields(m, rules); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}
	if fe := checkCardData(m); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}

	// Repeats and duplicates: DE41 + DE11 + DE7.
	prev, found, err := tx.txnByKey(ex.terminal(), m.STAN, m.TransmissionTime, iso.MTIAuthRequest, iso.MTIFinancialRequest)
	if err != nil {
		return err
	}
	if found {
		if iso.IsRepeat(m.MTI) && prev.MTI == base && prev.Response != "" {
			return a.resend(ex, prev)
		}
		ex.answer(iso.RCDuplicate, "duplicate of transaction %d (%s STAN %s, same DE41, DE11 and DE7): nothing changed", prev.ID, prev.MTI, prev.STAN)
		return nil
	}

	rec := a.newTxn(tx, ex, base)
	decline := func(code, format string, args ...any) error {
		resp := ex.answer(code, format, args...)
		resp.RRN = rec.RRN
		rec.State = StateDeclined
		return a.insertTxn(tx, rec, resp)
	}
	if kind == "" {
		return decline(iso.RCInvalidTransaction, "processing code %s is not supported with %s", m.ProcessingCode, m.MTI)
	}

	// 2, 3. Merchant and terminal.
	if code, why := a.checkMerchant(ex, true); code != "" {
		return decline(code, "%s", why)
	}
	merchant := a.merchants[ex.merchant()]

	// 4. Card number.
	pan := m.PANOf()
	if !cards.Luhn(pan) {
		return decline(iso.RCInvalidCardNumber, "card number %s fails the Luhn check", iso.MaskPAN(pan))
	}
	if !ex.known {
		return decline(iso.RCInvalidCardNumber, "card number %s is unknown to the host", iso.MaskPAN(pan))
	}
	card := ex.card

	// 5. Card status.
	switch card.Status {
	case "", "active":
	case "lost":
		return decline(iso.RCLostCard, "card %s is reported lost", card.Name)
	case "stolen":
		return decline(iso.RCStolenCard, "card %s is reported stolen", card.Name)
	default:
		return decline(iso.RCDoNotHonour, "card %s: status %s, do not honour", card.Name, card.Status)
	}

	// 6. Expiry: a card is valid through the last day of its expiry month.
	exp := m.ExpiryOf()
	if end := expiryEnd(exp); !ex.at.Before(end) {
		return decline(iso.RCExpiredCard, "card %s expired: %s (YYMM) ended before the transaction date %s", card.Name, exp, ex.at.UTC().Format("2006-01-02"))
	}

	// 7. Entry mode and brand.
	mode := iso.EntryModeOf(m.EntryMode)
	if mode == "" {
		return decline(iso.RCNotPermittedTerminal, "entry mode %s (DE22) is not one this host knows", m.EntryMode)
	}
	if !slices.Contains(merchant.Entry, mode) {
		return decline(iso.RCNotPermittedTerminal, "%s entry (DE22 %s) is not accepted at merchant %s", mode, m.EntryMode, merchant.ID)
	}
	if !slices.Contains(merchant.Brands, card.Brand) {
		return decline(iso.RCNotPermittedTerminal, "brand %s is not accepted at merchant %s", card.Brand, merchant.ID)
	}

	// 8. Amount and currency.
	amount := rec.Requested
	if kind != "balance" {
		if amount <= 0 {
			return decline(iso.RCInvalidAmount, "amount is zero")
		}
		if max, ok := a.maxAmount[merchant.ID]; ok && amount > max {
			return decline(iso.RCInvalidAmount, "amount %s is over the per-transaction maximum %s", iso.FormatMoney(amount), iso.FormatMoney(max))
		}
		if m.Currency != merchant.Currency {
			return decline(iso.RCInvalidAmount, "currency %s (DE49) is not the merchant's currency %s", m.Currency, merchant.Currency)
		}
	}

	// 9. PIN.
	cs, ok, err := tx.card(card.Name)
	if err != nil {
		return err
	}
	if !ok {
		return decline(iso.RCInvalidCardNumber, "card %s has no ledger line", card.Name)
	}
	if iso.HasPINBlock(m) {
		code, why := checkPIN(&cs, card, a.pinDecrypter(m), a.pinFormatCode())
		if err := tx.putCard(cs); err != nil {
			return err
		}
		if code != "" {
			return decline(code, "%s", why)
		}
	}

	// 10. Funds; partial approval.
	approved := amount
	partial := false
	var note string
	if ex.firing != nil && ex.firing.Action == fault.ActionPartialApproval {
		approved, partial, note = partialAmount(ex.firing, kind, amount)
	}
	if (kind == "sale" || kind == "preauth") && approved > cs.Available {
		return decline(iso.RCInsufficientFunds, "not sufficient funds: %s asked, %s available%s", iso.FormatMoney(approved), iso.FormatMoney(cs.Available), note)
	}

	// 11. Approved.
	code := iso.RCApproved
	if partial {
		code = iso.RCPartial
	}
	rec.Amount = approved
	rec.AuthCode = a.authCode(tx.nextID())
	resp := ex.answer(code, "approved %s %s%s", kind, iso.FormatMoney(approved), note)
	resp.RRN, resp.AuthCode = rec.RRN, rec.AuthCode
	switch kind {
	case "sale":
		cs.Available -= approved
		rec.State = StateApproved
	case "preauth":
		cs.Available -= approved
		cs.Held += approved
		rec.State = StateHeld
	case "refund":
		cs.Available += approved
		rec.State = StateRefunded
	case "balance":
		rec.State = StateApproved
		rec.Amount = 0
		resp.AdditionalAmounts = additionalAmounts(merchant.Currency, cs)
		ex.decision = fmt.Sprintf("balance inquiry: %s available", iso.FormatMoney(cs.Available))
	}
	if partial {
		resp.Amount = iso.FormatAmount(approved)
		ex.decision = fmt.Sprintf("partially approved %s of %s by fault rule %q", iso.FormatMoney(approved), iso.FormatMoney(amount), ex.faultName())
	}
	if kind != "balance" {
		if err := tx.putCard(cs); err != nil {
			return err
		}
	}
	return a.insertTxn(tx, rec, resp)
}

// resend answers a repeat with the stored answer of the original.
func (a *Acquirer) resend(ex *exchange, prev txnRecord) error {
	r, err := restoreResponse(prev.Response, ex.req)
	if err != nil {
		return err
	}
	ex.resp, ex.code = r, r.ResponseCode
	ex.decision = fmt.Sprintf("repeat of transaction %d: original answer %s sent again", prev.ID, r.ResponseCode)
	return nil
}

// expiryEnd is the first instant after the expiry month YYMM (UTC). Format was checked.
func expiryEnd(yymm string) time.Time {
	yy := int(yymm[0]-'0')*10 + int(yymm[1]-'0')
	mm := int(yymm[2]-'0')*10 + int(yymm[3]-'0')
	return time.Date(2000+yy, time.Month(mm)+1, 1, 0, 0, 0, 0, time.UTC)
}

// checkPIN verifies DE52 against the card's PIN and updates the try counter.
// A block that does not decrypt to a valid format under key gets formatCode when the host's
// table has one (99 at UnionPay: the PIN key is out of step) without using up a try.
func checkPIN(cs *cardState, card cards.Card, decrypt func() (string, error), formatCode string) (code, why string) {
	if cs.PINTries >= maxPINTries {
		return iso.RCPINTriesExceeded, fmt.Sprintf("PIN of card %s is blocked after %d wrong tries", card.Name, cs.PINTries)
	}
	pin, err := decrypt()
	if err != nil && formatCode != "" && isPINFormat(err) {
		return formatCode, "PIN block format error: it does not decrypt to an ISO 9564 format 0 or 3 block under the PIN key (PIN key out of step?)"
	}
	if err == nil && pin == card.PIN {
		cs.PINTries = 0
		return "", ""
	}
	cs.PINTries++
	detail := "wrong PIN"
	if err != nil {
		detail = "PIN block does not decrypt to format 0 under the test key"
	}
	if cs.PINTries >= maxPINTries {
		return iso.RCPINTriesExceeded, fmt.Sprintf("%s, try %d of %d: PIN tries exceeded", detail, cs.PINTries, maxPINTries)
	}
	return iso.RCIncorrectPIN, fmt.Sprintf("%s, try %d of %d", detail, cs.PINTries, maxPINTries)
}

// partialAmount applies a partial_approval firing: the rule's amount (major units; half of
// the requested amount when the rule gives none) when the request allows a partial
// approval, i.e. it is a purchase (0200 processing code 00xxxx) or a pre-auth (0100) and
// the partial amount is below the requested one. Otherwise the request is approved in full.
func partialAmount(f *fault.Firing, kind string, amount int64) (approved int64, partial bool, note string) {
	if kind != "sale" && kind != "preauth" {
		return amount, false, fmt.Sprintf(" (partial_approval rule %q not applicable to a %s)", f.RuleName, kind)
	}
	p := amount / 2
	if f.Params.Amount != "" {
		v, err := iso.ParseMoney(f.Params.Amount)
		if err != nil {
			return amount, false, fmt.Sprintf(" (partial_approval rule %q: %v)", f.RuleName, err)
		}
		p = v
	}
	if p <= 0 || p >= amount {
		return amount, false, fmt.Sprintf(" (partial_approval rule %q: %s is not below the amount asked)", f.RuleName, iso.FormatMoney(p))
	}
	return p, true, ""
}

// additionalAmounts renders DE54 for a balance inquiry: two 20-character amounts, ledger
// balance (type 01: available plus held) and available balance (type 02), each
// account type 00, amount type, currency n3, sign C/D, amount n12.
func additionalAmounts(currency string, cs cardState) string {
	one := func(typ string, v int64) string {
		sign := "C"
		if v < 0 {
			sign, v = "D", -v
		}
		return fmt.Sprintf("00%s%03s%s%012d", typ, currency, sign, v)
	}
	return one("01", cs.Available+cs.Held) + one("02", cs.Available)
}

// checkMerchant checks DE42 and DE41: unknown merchant → 03, terminal not of the merchant
// → 58. Without DE42 (when !required) the terminal must belong to some merchant.
func (a *Acquirer) checkMerchant(ex *exchange, required bool) (code, why string) {
	tid, mid := ex.terminal(), ex.merchant()
	if mid == "" && !required {
		for _, m := range a.merchants {
			if slices.Contains(m.Terminals, tid) {
				return "", ""
			}
		}
		return iso.RCNotPermittedTerminal, fmt.Sprintf("terminal %q belongs to no merchant of this host", tid)
	}
	m, ok := a.merchants[mid]
	if !ok {
		return iso.RCInvalidMerchant, fmt.Sprintf("merchant %q (DE42) is unknown", mid)
	}
	if !slices.Contains(m.Terminals, tid) {
		return iso.RCNotPermittedTerminal, fmt.Sprintf("terminal %q (DE41) is not one of merchant %s", tid, mid)
	}
	return "", ""
}
