package acquirer

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
)

// advice handles a 0220/0221: the completion of a pre-auth (identified by DE90, or by the
// pre-auth answer's DE37/DE38), or else an offline-approved sale reported after the fact.
func (a *Acquirer) advice(tx storeTx, ex *exchange) error {
	m := ex.req
	if fe := a.checkFields(m, adviceFields); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}
	completion := m.OriginalData != "" || strings.TrimSpace(m.AuthCode) != ""
	if !completion {
		if fe := checkCardData(m); fe != nil {
			ex.answer(iso.RCFormatError, "format error: %s (an advice without DE90 or DE38 is an offline sale)", fe)
			return nil
		}
		if m.EntryMode == "" {
			ex.answer(iso.RCFormatError, "format error: %s (an advice without DE90 or DE38 is an offline sale)", a.fieldErr(22, "missing"))
			return nil
		}
	}
	// Advices are repeated until answered: the same DE41 + DE11 + DE7 gets the first answer.
	prev, found, err := tx.txnByKey(ex.terminal(), m.STAN, m.TransmissionTime, iso.MTIFinancialAdvice)
	if err != nil {
		return err
	}
	if found && prev.Response != "" {
		return a.resend(ex, prev)
	}

	rec := a.newTxn(tx, ex, iso.MTIFinancialAdvice)
	decline := func(code, format string, args ...any) error {
		resp := ex.answer(code, format, args...)
		resp.RRN = rec.RRN
		rec.State = StateDeclined
		return a.insertTxn(tx, rec, resp)
	}
	if code, why := a.checkMerchant(ex, true); code != "" {
		return decline(code, "%s", why)
	}
	merchant := a.merchants[ex.merchant()]
	if m.Currency != merchant.Currency {
		return decline(iso.RCInvalidAmount, "currency %s (DE49) is not the merchant's currency %s", m.Currency, merchant.Currency)
	}
	amount := rec.Requested

	if !completion {
		// Offline sale: it already happened, so the host records it whatever the balance.
		if !ex.known {
			return decline(iso.RCInvalidCardNumber, "offline sale advice: card number %s is unknown to the host", iso.MaskPAN(m.PANOf()))
		}
		cs, ok, err := tx.card(ex.card.Name)
		if err != nil {
			return err
		}
		if !ok {
			return decline(iso.RCInvalidCardNumber, "card %s has no ledger line", ex.card.Name)
		}
		cs.Available -= amount
		if err := tx.putCard(cs); err != nil {
			return err
		}
		rec.Amount, rec.State = amount, StateApproved
		rec.AuthCode = strings.TrimSpace(m.AuthCode)
		if rec.AuthCode == "" {
			rec.AuthCode = a.authCode(tx.nextID())
		}
		resp := ex.answer(iso.RCApproved, "offline sale advice recorded: %s debited", iso.FormatMoney(amount))
		resp.RRN, resp.AuthCode = rec.RRN, rec.AuthCode
		return a.insertTxn(tx, rec, resp)
	}

	// Completion: find the pre-auth.
	var pre txnRecord
	if m.OriginalData != "" {
		od, err := iso.ParseOriginalData(m.OriginalData)
		if err != nil {
			ex.answer(iso.RCFormatError, "format error: %s", a.fieldErr(90, "%v", err))
			return nil
		}
		pre, found, err = tx.txnByKey(ex.terminal(), od.STAN, od.Transmitted, iso.BaseMTI(od.MTI))
		if err != nil {
			return err
		}
		if found && pre.MTI != iso.MTIAuthRequest {
			return decline(iso.RCRecordNotFound, "DE90 points at a %s, not a pre-authorization", pre.MTI)
		}
	} else {
		pre, found, err = tx.txnByApproval(ex.terminal(), strings.TrimSpace(m.RRN), strings.TrimSpace(m.AuthCode))
		if err != nil {
			return err
		}
	}
	if !found {
		return decline(iso.RCRecordNotFound, "completion: no pre-authorization of terminal %s matches (DE90 or DE37/DE38)", ex.terminal())
	}
	rec.Card, rec.MaskedPAN, rec.OrigID = pre.Card, pre.MaskedPAN, pre.ID
	switch pre.State {
	case StateHeld:
	case StateCaptured:
		return decline(iso.RCDuplicate, "pre-authorization %d was already captured", pre.ID)
	default:
		return decline(iso.RCRecordNotFound, "pre-authorization %d holds nothing (state %s)", pre.ID, pre.State)
	}
	hold := pre.Amount - pre.Reversed
	if amount <= 0 || amount > hold {
		return decline(iso.RCInvalidAmount, "completion amount %s must be above zero and at most the hold %s", iso.FormatMoney(amount), iso.FormatMoney(hold))
	}
	cs, ok, err := tx.card(pre.Card)
	if err != nil {
		return err
	}
	if !ok {
		return decline(iso.RCInvalidCardNumber, "card %s has no ledger line", pre.Card)
	}
	// Capture the amount and release the rest of the hold.
	cs.Held -= hold
	cs.Available += hold - amount
	if err := tx.putCard(cs); err != nil {
		return err
	}
	pre.Captured, pre.State = amount, StateCaptured
	if err := tx.updateTxn(&pre); err != nil {
		return err
	}
	rec.Amount, rec.State, rec.RRN, rec.AuthCode = amount, StateApproved, pre.RRN, pre.AuthCode
	ex.rrn = pre.RRN
	resp := ex.answer(iso.RCApproved, "completion of pre-authorization %d: %s captured, %s released", pre.ID, iso.FormatMoney(amount), iso.FormatMoney(hold-amount))
	resp.RRN, resp.AuthCode = rec.RRN, rec.AuthCode
	return a.insertTxn(tx, rec, resp)
}

// reverse handles 0400/0420 and their repeats. The original is the transaction DE90 points
// at (MTI, STAN, DE7) on the same terminal, or, without DE90, the latest one of the terminal
// with the reversal's own STAN (the "reuse" STAN policy). A reversal restores what is still
// in effect minus DE95's actual amount, so repeating it changes nothing.
func (a *Acquirer) reverse(tx storeTx, ex *exchange) error {
	m := ex.req
	if fe := a.checkFields(m, reversalFields); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}
	var actual int64
	if m.ReplacementAmts != "" {
		if len(m.ReplacementAmts) < 12 || !iso.AllDigits(m.ReplacementAmts[:12]) {
			ex.answer(iso.RCFormatError, "format error: %s", a.fieldErr(95, "must start with the actual amount, 12 digits"))
			return nil
		}
		actual, _ = iso.ParseAmount(m.ReplacementAmts[:12])
	}
	if m.MerchantID != "" {
		if code, why := a.checkMerchant(ex, true); code != "" {
			ex.answer(code, "%s", why)
			return nil
		}
	}

	var orig txnRecord
	var found bool
	var err error
	how := "DE90"
	originals := []string{iso.MTIAuthRequest, iso.MTIFinancialRequest, iso.MTIFinancialAdvice}
	if m.OriginalData != "" {
		od, perr := iso.ParseOriginalData(m.OriginalData)
		if perr != nil {
			ex.answer(iso.RCFormatError, "format error: %s", a.fieldErr(90, "%v", perr))
			return nil
		}
		orig, found, err = tx.txnByKey(ex.terminal(), od.STAN, od.Transmitted, iso.BaseMTI(od.MTI))
	} else {
		how = "DE11 (STAN reused)"
		orig, found, err = tx.txnBySTAN(ex.terminal(), m.STAN, originals...)
	}
	if err != nil {
		return err
	}
	if !found {
		ex.answer(iso.RCRecordNotFound, "reversal: original not found by %s on terminal %s", how, ex.terminal())
		return nil
	}
	ex.rrn = orig.RRN
	done := func(format string, args ...any) error {
		resp := ex.answer(iso.RCApproved, "reversal of transaction %d: "+format, append([]any{orig.ID}, args...)...)
		resp.RRN = orig.RRN
		return nil
	}
	switch {
	case orig.Batch != "" && orig.State == StateSettled:
		resp := ex.answer(iso.RCInvalidTransaction, "reversal of transaction %d refused: it was settled in batch %s", orig.ID, orig.Batch)
		resp.RRN = orig.RRN
		return nil
	case orig.State == StateDeclined:
		return done("the original was declined (%s): nothing to restore", orig.Code)
	case orig.State == StateCaptured:
		resp := ex.answer(iso.RCInvalidTransaction, "reversal of pre-authorization %d refused: it was captured, reverse its completion instead", orig.ID)
		resp.RRN = orig.RRN
		return nil
	case txnKind(&iso.Message{MTI: orig.MTI, ProcessingCode: orig.Proc}) == "balance":
		return done("a balance inquiry moves no money: nothing to restore")
	}
	remaining := orig.Amount - orig.Reversed
	restore := remaining - actual
	if restore <= 0 {
		return done("already reversed to %s: no change", iso.FormatMoney(remaining))
	}
	cs, ok, err := tx.card(orig.Card)
	if err != nil {
		return err
	}
	if ok {
		switch {
		case orig.State == StateHeld:
			cs.Held -= restore
			cs.Available += restore
		case orig.State == StateRefunded:
			cs.Available -= restore
		default:
			cs.Available += restore
		}
		if err := tx.putCard(cs); err != nil {
			return err
		}
	}
	orig.Reversed += restore
	if orig.Amount-orig.Reversed == 0 {
		orig.State = StateReversed
	}
	if err := tx.updateTxn(&orig); err != nil {
		return err
	}
	if actual > 0 {
		return done("partial, %s restored, %s stays", iso.FormatMoney(restore), iso.FormatMoney(actual))
	}
	return done("%s restored", iso.FormatMoney(restore))
}

// totals are a batch's counts and amounts.
type totals struct {
	saleCount, saleAmount, refundCount, refundAmount int64
}

func (t totals) String() string {
	return fmt.Sprintf("sales %d / %s, refunds %d / %s", t.saleCount, iso.FormatMoney(t.saleAmount), t.refundCount, iso.FormatMoney(t.refundAmount))
}

// counted says whether a transaction is in a batch's totals, and as a sale or a refund:
// approved sales, completions and offline sales, and refunds, at the amount still in
// effect. Pre-auths (their completion counts), declined, reversed and balance inquiries do
// not count.
func counted(r txnRecord) (sale, refund bool) {
	if r.Amount-r.Reversed <= 0 {
		return false, false
	}
	switch r.State {
	case StateApproved:
		if r.MTI == iso.MTIFinancialAdvice || (r.MTI == iso.MTIFinancialRequest && strings.HasPrefix(r.Proc, "00")) {
			return true, false
		}
	case StateRefunded:
		return false, true
	}
	return false, false
}

// settle handles a 0500: the terminal's totals (DE74/DE86 refunds, DE76/DE88 sales) against
// the host's view of the terminal's open batch. Equal → 00 and the batch closes; different →
// 95, unless the terminal has uploaded the batch (0320) since, in which case the host takes
// the terminal's word, closes the batch and journals the difference.
func (a *Acquirer) settle(tx storeTx, ex *exchange) error {
	m := ex.req
	cup := a.o.Dialect == iso.CUP
	rules := settlementFields
	if cup {
		rules = cupSettlementFields
	}
	if fe := a.checkFields(m, rules); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}
	if code, why := a.checkMerchant(ex, false); code != "" {
		ex.answer(code, "%s", why)
		return nil
	}
	var term totals
	var cupTot iso.CUPTotals
	if cup {
		// UnionPay: the totals travel in DE48 (domestic then foreign cards); the host's
		// ledger does not tell the two apart, so both sides are summed against it.
		v, _ := m.Get(48)
		t, err := iso.ParseCUPTotals(v)
		if err != nil {
			ex.answer(iso.RCFormatError, "format error: %s", err)
			return nil
		}
		cupTot = t
		term = totals{saleCount: t.Domestic.DebitCount + t.Foreign.DebitCount, saleAmount: t.Domestic.DebitAmount + t.Foreign.DebitAmount,
			refundCount: t.Domestic.CreditCount + t.Foreign.CreditCount, refundAmount: t.Domestic.CreditAmount + t.Foreign.CreditAmount}
	} else {
		num := func(s string) int64 { v, _ := iso.ParseAmount(s); return v }
		term = totals{saleCount: num(m.DebitsNumber), saleAmount: num(m.DebitsAmount),
			refundCount: num(m.CreditsNumber), refundAmount: num(m.CreditsAmount)}
	}
	batchNo := iso.BatchNumber(m)
	reply := func(code, format string, args ...any) error {
		r := ex.answer(code, format, args...)
		if cup {
			// The answer echoes the totals with the reconciliation result of each side.
			res := iso.CUPRecBalanced
			if code != iso.RCApproved {
				res = iso.CUPRecUnbalanced
			}
			echo := cupTot
			echo.Domestic.Result, echo.Foreign.Result = res, res
			_ = r.Set(48, echo.String())
			return nil
		}
		r.DebitsNumber, r.DebitsAmount, r.CreditsNumber, r.CreditsAmount = m.DebitsNumber, m.DebitsAmount, m.CreditsNumber, m.CreditsAmount
		return nil
	}

	open, err := tx.openTxns(ex.terminal())
	if err != nil {
		return err
	}
	host := hostTotals(open)
	b, exists, err := tx.batch(ex.terminal(), batchNo)
	if err != nil {
		return err
	}
	if exists && b.State == batchSettled && host == (totals{}) &&
		term == (totals{b.SaleCount, b.SaleAmount, b.RefundCount, b.RefundAmount}) {
		return reply(iso.RCApproved, "batch %s was already settled with these totals: no change", batchNo)
	}
	closeBatch := func(why string) error {
		if err := closeOpen(tx, ex, open, batchNo, term); err != nil {
			return err
		}
		return reply(iso.RCApproved, "%s", why)
	}
	switch {
	case term == host:
		return closeBatch(fmt.Sprintf("batch %s settled: %s", batchNo, host))
	case exists && b.State == batchUploaded:
		return closeBatch(fmt.Sprintf("batch %s settled after upload: terminal %s, host %s", batchNo, term, host))
	}
	if err := tx.putBatch(batchRecord{Terminal: ex.terminal(), Number: batchNo, State: batchUnbalanced,
		SaleCount: term.saleCount, SaleAmount: term.saleAmount, RefundCount: term.refundCount,
		RefundAmount: term.refundAmount, Time: ex.at}); err != nil {
		return err
	}
	return reply(iso.RCReconcileError, "batch %s out of balance: terminal %s, host %s: upload the batch (0320)", batchNo, term, host)
}

// upload handles a 0320 batch upload entry: one transaction of the terminal's batch (DE11
// the original STAN, DE3, DE4, DE37, DE60 the batch number).
func (a *Acquirer) upload(tx storeTx, ex *exchange) error {
	m := ex.req
	if a.o.Dialect == iso.CUP && len(m.Batch) >= 11 {
		if d, err := iso.ParseDE60(m.Batch); err == nil && iso.IsCUPUploadEnd(d.NetCode) {
			return a.uploadEnd(tx, ex, d)
		}
	}
	if fe := a.checkFields(m, uploadFields); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}
	if code, why := a.checkMerchant(ex, false); code != "" {
		ex.answer(code, "%s", why)
		return nil
	}
	batchNo := iso.BatchNumber(m)
	amount, _ := iso.ParseAmount(m.Amount)
	orig, found, err := tx.txnBySTAN(ex.terminal(), m.STAN, iso.MTIFinancialRequest, iso.MTIFinancialAdvice, iso.MTIAuthRequest)
	if err != nil {
		return err
	}
	u := uploadRecord{Terminal: ex.terminal(), Batch: batchNo, STAN: m.STAN, Proc: m.ProcessingCode, Amount: amount,
		RRN: strings.TrimSpace(m.RRN), Time: ex.at}
	note := "unknown to the host"
	if found {
		u.TxnID = orig.ID
		note = fmt.Sprintf("host has transaction %d, %s, %s", orig.ID, orig.State, iso.FormatMoney(orig.Amount-orig.Reversed))
	}
	if err := tx.addUpload(u); err != nil {
		return err
	}
	b, exists, err := tx.batch(ex.terminal(), batchNo)
	if err != nil {
		return err
	}
	if !exists {
		b = batchRecord{Terminal: ex.terminal(), Number: batchNo}
	}
	if b.State != batchSettled {
		b.State, b.Time = batchUploaded, ex.at
		if err := tx.putBatch(b); err != nil {
			return err
		}
	}
	r := ex.answer(iso.RCApproved, "batch %s upload: STAN %s %s (%s)", batchNo, m.STAN, iso.FormatMoney(amount), note)
	if found {
		r.RRN = orig.RRN
	}
	return nil
}

// hostTotals is the host's view of a terminal's open batch: what counted() counts, net of
// reversals.
func hostTotals(open []txnRecord) totals {
	var host totals
	for _, r := range open {
		switch sale, refund := counted(r); {
		case sale:
			host.saleCount++
			host.saleAmount += r.Amount - r.Reversed
		case refund:
			host.refundCount++
			host.refundAmount += r.Amount - r.Reversed
		}
	}
	return host
}

// closeOpen settles the terminal's open transactions into batch batchNo (open pre-auth holds
// stay for their completion) and records the batch as settled with the terminal's totals.
func closeOpen(tx storeTx, ex *exchange, open []txnRecord, batchNo string, term totals) error {
	for _, r := range open {
		if r.State == StateHeld {
			continue
		}
		r.Batch = batchNo
		if sale, refund := counted(r); sale || refund {
			r.State = StateSettled
		}
		if err := tx.updateTxn(&r); err != nil {
			return err
		}
	}
	return tx.putBatch(batchRecord{Terminal: ex.terminal(), Number: batchNo, State: batchSettled,
		SaleCount: term.saleCount, SaleAmount: term.saleAmount, RefundCount: term.refundCount,
		RefundAmount: term.refundAmount, Time: ex.at})
}

// uploadEnd handles the UnionPay end-of-upload 0320 (DE60.3 202, or 207 after chip
// uploads; DE48 the number of transactions uploaded): the last message of a settlement out
// of balance. The host takes the terminal's word as uploaded and closes the batch with the
// totals of the terminal's 0500 (the host's own when it never read them) — the end of the
// settlement; no second 0500 follows.
func (a *Acquirer) uploadEnd(tx storeTx, ex *exchange, d iso.DE60) error {
	m := ex.req
	if fe := a.checkFields(m, cupUploadEndFields); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}
	if code, why := a.checkMerchant(ex, false); code != "" {
		ex.answer(code, "%s", why)
		return nil
	}
	v, _ := m.Get(48)
	n, err := iso.ParseCUPUploadCount(v)
	if err != nil {
		ex.answer(iso.RCFormatError, "format error: %s", err)
		return nil
	}
	b, exists, err := tx.batch(ex.terminal(), d.Batch)
	if err != nil {
		return err
	}
	switch {
	case exists && b.State == batchSettled:
		ex.answer(iso.RCApproved, "batch %s end of upload (%d transactions): already settled", d.Batch, n)
		return nil
	case !exists || (b.State != batchUploaded && b.State != batchUnbalanced):
		ex.answer(iso.RCReconcileError, "batch %s end of upload (%d transactions) with no settlement out of balance before it", d.Batch, n)
		return nil
	}
	open, err := tx.openTxns(ex.terminal())
	if err != nil {
		return err
	}
	term := totals{b.SaleCount, b.SaleAmount, b.RefundCount, b.RefundAmount}
	host := hostTotals(open)
	if term == (totals{}) {
		term = host // the 0500 never reached the host's books (a fault answered it)
	}
	if err := closeOpen(tx, ex, open, d.Batch, term); err != nil {
		return err
	}
	ex.answer(iso.RCApproved, "batch %s settled after upload of %d transactions (end of upload, DE60.3 %s): terminal %s, host %s",
		d.Batch, n, d.NetCode, term, host)
	return nil
}

// network handles 0800: sign-on, sign-off, echo.
func (a *Acquirer) network(tx storeTx, ex *exchange) error {
	m := ex.req
	if fe := a.checkFields(m, networkFields); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}
	if code, why := a.checkMerchant(ex, false); code != "" {
		ex.answer(code, "%s", why)
		return nil
	}
	code := iso.NetworkCodeOf(m)
	if code == "" {
		if m.Batch != "" {
			ex.answer(iso.RCFormatError, "format error: field 60 (DE60.3): %q is not a network management code (001, 003, 004, 002, 301)", m.Batch)
		} else {
			ex.answer(iso.RCFormatError, "format error: %s", a.fieldErr(70, "missing"))
		}
		return nil
	}
	if fe := a.checkFields(m, []fieldRule{{70, "n", 3, true}}); fe != nil {
		ex.answer(iso.RCFormatError, "format error: %s", fe)
		return nil
	}
	switch code {
	case iso.NetSignOn:
		if d, err := iso.ParseDE60(m.Batch); err == nil && len(m.Batch) >= 11 {
			return a.signOnWithKeys(tx, ex, d)
		}
		// A sign-on without key exchange starts a session without working keys: the
		// terminal's requests are no longer expected to carry a MAC.
		a.keys.forget(ex.terminal())
		ex.answer(iso.RCApproved, "sign-on")
	case iso.NetSignOff:
		ex.answer(iso.RCApproved, "sign-off")
	case iso.NetEcho:
		ex.answer(iso.RCApproved, "echo test")
	default:
		ex.answer(iso.RCInvalidTransaction, "network management code %s (DE70) is not supported", code)
	}
	return nil
}

// signOnWithKeys answers a UnionPay sign-on: new working keys for the terminal in DE62,
// encrypted under its TMK with check values (length by DE60.3: 001 single, 003 double, 004
// double with a track key). A terminal without a TMK in the fixture is refused (97).
// The answer's DE60.2 is the batch the terminal must use: the one it sent, or the next one
// when the host has already settled that batch (its 0510 was lost): sign-on syncs the batch.
func (a *Acquirer) signOnWithKeys(tx storeTx, ex *exchange, d iso.DE60) error {
	de62, err := a.deliverKeys(ex.terminal(), d.NetCode)
	if err != nil {
		ex.answer(iso.RCCUPNotRegistered, "sign-on refused: %v", err)
		return nil
	}
	note := ""
	if b, settled, err := tx.batch(ex.terminal(), d.Batch); err != nil {
		return err
	} else if settled && b.State == batchSettled {
		old := d.Batch
		d.Batch = nextBatch(d.Batch)
		note = fmt.Sprintf("; batch %s is settled here: the terminal continues with batch %s (DE60.2)", old, d.Batch)
	}
	r := ex.answer(iso.RCApproved, "sign-on: new working keys delivered under the terminal's master key (DE60.3 %s, %d bytes in DE62)%s", d.NetCode, len(de62), note)
	r.Batch = d.String()
	return r.Set(62, strings.ToUpper(hex.EncodeToString(de62)))
}

// nextBatch is the batch number after n (six digits, 999999 wraps to 000001).
func nextBatch(n string) string {
	v, err := strconv.Atoi(n)
	if err != nil || v >= 999999 || v < 0 {
		return "000001"
	}
	return fmt.Sprintf("%06d", v+1)
}

// batchInSync is the UnionPay host's batch check: a financial request whose DE60.2 names a
// batch the host has already settled for the terminal is refused 77 (batch out of sync: the
// terminal signs on, and the answer gives it the batch to continue with).
func (a *Acquirer) batchInSync(tx storeTx, ex *exchange) (code, why string, err error) {
	m := ex.req
	switch iso.BaseMTI(m.MTI) {
	case iso.MTIAuthRequest, iso.MTIFinancialRequest, iso.MTIFinancialAdvice:
	default:
		return "", "", nil
	}
	if a.o.Dialect != iso.CUP || len(m.Batch) < 11 {
		return "", "", nil
	}
	d, perr := iso.ParseDE60(m.Batch)
	if perr != nil {
		return "", "", nil // the format checks report it
	}
	b, exists, err := tx.batch(ex.terminal(), d.Batch)
	if err != nil || !exists || b.State != batchSettled {
		return "", "", err
	}
	return iso.RCCUPBatchOutOfSync, fmt.Sprintf("batch %s (DE60.2) of terminal %s is already settled at the host: batch out of sync, the terminal must sign on", d.Batch, ex.terminal()), nil
}

// resolveCard finds the fixture card for a request's PAN.
func (a *Acquirer) resolveCard(m *iso.Message) (cards.Card, bool) {
	pan := m.PANOf()
	if pan == "" {
		return cards.Card{}, false
	}
	c, ok := a.cardsByPAN[pan]
	return c, ok
}
