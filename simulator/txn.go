package simulator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// opSpec is how a card operation travels.
type opSpec struct {
	mti, proc  string
	reversible bool // no answer → reversal (balance inquiries move no money)
	amount     bool
}

var cardOps = map[string]opSpec{
	OpSale:    {iso.MTIFinancialRequest, iso.ProcPurchase, true, true},
	OpRefund:  {iso.MTIFinancialRequest, iso.ProcRefund, true, true},
	OpPreAuth: {iso.MTIAuthRequest, iso.ProcPurchase, true, true},
	OpBalance: {iso.MTIFinancialRequest, iso.ProcBalance, false, false},
}

// Sale charges the card (0200, processing code 000000).
func (t *Terminal) Sale(ctx context.Context, p Payment) Outcome {
	return t.run(ctx, OpSale, func(ctx context.Context) Outcome { return t.cardTxn(ctx, OpSale, p) })
}

// Refund credits the card (0200, processing code 200000).
func (t *Terminal) Refund(ctx context.Context, p Payment) Outcome {
	return t.run(ctx, OpRefund, func(ctx context.Context) Outcome { return t.cardTxn(ctx, OpRefund, p) })
}

// PreAuth holds an amount on the card (0100); Complete captures it.
func (t *Terminal) PreAuth(ctx context.Context, p Payment) Outcome {
	return t.run(ctx, OpPreAuth, func(ctx context.Context) Outcome { return t.cardTxn(ctx, OpPreAuth, p) })
}

// Balance asks for the card's balance (0200, processing code 310000); Outcome.Balance is the
// available balance from DE54. Payment.Amount is ignored.
func (t *Terminal) Balance(ctx context.Context, p Payment) Outcome {
	return t.run(ctx, OpBalance, func(ctx context.Context) Outcome { return t.cardTxn(ctx, OpBalance, p) })
}

func (t *Terminal) refuse(out Outcome, guidance string, err error) Outcome {
	t.emit(Event{Kind: EventRefused, STAN: out.STAN, Detail: err.Error()})
	out.Kind, out.Guidance = KindRefusedAtTerminal, guidance
	out.Err = err
	return out
}

// pinPrompt says whether the terminal asks for a PIN with this entry mode (contactless and
// QR payments below the CVM limit do not).
func pinPrompt(entry string) bool { return entry != iso.EntryContactless && entry != iso.EntryQR }

// waitPIN is the PIN pad waiting for digits that never come.
func (t *Terminal) waitPIN(ctx context.Context) error {
	d := t.profile.PINTimeout
	t.setPhase(PhasePINEntry, t.clk.Now().Add(d))
	t.emit(Event{Kind: EventPINEntry, Detail: "waiting for the PIN, " + d.String()})
	timer := t.clk.NewTimer(d)
	t.clk.Release()
	select {
	case <-timer.C():
		return nil
	case <-ctx.Done():
		timer.Stop()
		t.clk.Hold()
		return ctx.Err()
	}
}

func (t *Terminal) cardTxn(ctx context.Context, op string, p Payment) Outcome {
	spec := cardOps[op]
	out := Outcome{}
	if spec.amount {
		out.Amount = p.Amount
	}
	c, err := t.resolveCard(p.Card)
	if err != nil {
		return t.refuse(out, iso.GuidanceInvalidCardNumber, fmt.Errorf("%s: %w", op, err))
	}
	entry := normalizeEntry(p.Entry, c)
	out.MaskedPAN, out.Entry = iso.MaskPAN(c.PAN), entry
	if r := t.checkPayment(c, entry, p, spec.amount); r != nil {
		return t.refuse(out, r.guidance, fmt.Errorf("%s: %w", op, r))
	}
	// The card reader and the PIN pad, before anything is sent.
	if entry == iso.EntryChip && (c.ChipDamaged || t.fault(DeviceChipUnreadable, "")) {
		t.emit(Event{Kind: EventDeviceFault, Detail: "chip of card " + out.MaskedPAN + " unreadable: offer fallback to swipe"})
		out.Kind, out.Guidance = KindDeviceFault, iso.GuidanceChipFallback
		return out
	}
	if pinPrompt(entry) && t.fault(DevicePINTimeout, "") {
		if err := t.waitPIN(ctx); err != nil {
			out.Kind, out.Guidance, out.Err = KindNotSent, iso.GuidancePINTimeout, fmt.Errorf("%s: PIN entry: %w", op, err)
			return out
		}
		t.emit(Event{Kind: EventDeviceFault, Detail: "no PIN entered within " + t.profile.PINTimeout.String() + ": nothing sent"})
		out.Kind, out.Guidance = KindDeviceFault, iso.GuidancePINTimeout
		return out
	}

	conn, err := t.connectAndDrain(ctx)
	if err != nil {
		if t.isCrashed() {
			return out
		}
		// Offline only when the host cannot be reached at all: a host that refuses the
		// sign-on is there, and says no.
		if op == OpSale && !errors.As(err, new(*hostCode)) {
			if off, ok := t.offline(c, entry, p, out); ok {
				return off
			}
		}
		return t.notSent(out, op, err)
	}

	stan, err := t.j.nextSTAN()
	if err != nil {
		return t.notSent(out, op, err)
	}
	t.setSTAN(stan)
	out.STAN = stan
	now := t.clk.Now()
	m := t.baseMessage(spec.mti, stan, now)
	m.ProcessingCode = spec.proc
	if spec.amount {
		m.Amount = iso.FormatAmount(p.Amount)
	}
	m.ConditionCode = "00"
	m.Currency = t.profile.Currency
	m.AcquirerID = t.profile.AcquirerID
	if err := t.cardFields(m, c, entry, p.PIN, now); err != nil {
		return t.refuse(out, iso.GuidanceIncorrectPIN, fmt.Errorf("%s: %w", op, err))
	}
	batch, err := t.j.batch()
	if err != nil {
		return t.notSent(out, op, err)
	}
	txn := &txnRow{Txn: Txn{Batch: batch, Operation: op, MTI: m.MTI, STAN: stan, MaskedPAN: out.MaskedPAN, Entry: entry,
		Status: StatusSending, Amount: out.Amount, Time: now}, Msg: stored(m)}
	var rev *safRow
	// Persist first: the reversal exists before the request can reach the host.
	err = t.j.tx("journal "+op, func(tx *sql.Tx) error {
		if err := insertTxn(tx, txn); err != nil {
			return err
		}
		if !spec.reversible {
			return nil
		}
		rev = t.newReversal(txn.Msg, txn.ID, iso.ReasonTimeout, safPending, now)
		return insertSAF(tx, rev)
	})
	if err != nil {
		return t.notSent(out, op, err)
	}

	resp, err := t.send(ctx, conn, m)
	if err != nil {
		if t.isCrashed() {
			return out
		}
		if errors.Is(err, iso.ErrNotSent) {
			// Nothing reached the host: nothing to reverse.
			if jerr := t.j.tx("forget "+op, func(tx *sql.Tx) error {
				if rev != nil {
					if err := deleteSAF(tx, rev.ID); err != nil {
						return err
					}
				}
				return setTxnStatus(tx, txn.ID, StatusNotSent)
			}); jerr != nil {
				err = errors.Join(err, jerr)
			}
			return t.notSent(out, op, err)
		}
		// An answer about something else than what was asked (iso.CheckEcho) is no
		// approval: handled like no answer, with an outcome that says why.
		mismatch := errors.Is(err, iso.ErrEchoMismatch)
		if rev == nil {
			_ = t.j.tx("mark "+op+" unknown", func(tx *sql.Tx) error { return setTxnStatus(tx, txn.ID, StatusUnknown) })
			out.Kind, out.Guidance, out.Err = KindNoAnswer, iso.GuidanceIssuerUnavailable, fmt.Errorf("%s: %w", op, err)
			if mismatch {
				out.Kind, out.Guidance = KindAnswerRejected, iso.GuidanceAnswerMismatch
			}
			return out
		}
		// The host may have approved: reverse, whatever the screen shows.
		out.Err = fmt.Errorf("%s: %w", op, err)
		if t.profile.SkipReversal {
			return t.skipReversal(out, op, txn, rev)
		}
		if mismatch {
			return t.reverseNow(ctx, out, txn, rev, KindAnswerRejected, iso.GuidanceAnswerMismatch)
		}
		ackGuidance := iso.GuidanceNoAnswerReversed
		if errors.Is(err, iso.ErrAnswerMAC) {
			ackGuidance = iso.GuidanceAnswerMACBad
		}
		return t.reverseNow(ctx, out, txn, rev, KindTimedOutReversed, ackGuidance)
	}
	if t.fault(DevicePowerLoss, PowerAfterAnswer) {
		t.Crash()
		return out
	}
	return t.answered(ctx, op, out, txn, rev, m, resp, entry)
}

// connectAndDrain gets a live link and sends the SAF queue first (before the next
// transaction and after sign-on). A queue that does not drain does not stop the
// transaction: its head stays at the head and is reported.
func (t *Terminal) connectAndDrain(ctx context.Context) (*iso.Conn, error) {
	if _, err := t.link(ctx); err != nil {
		return nil, err
	}
	_ = t.drainSAF(ctx, false)
	return t.link(ctx)
}

func (t *Terminal) notSent(out Outcome, op string, err error) Outcome {
	out.Kind, out.Guidance = KindNotSent, iso.GuidanceHostUnreachable
	if errors.Is(err, iso.ErrMismatch) {
		out.Guidance = iso.GuidanceHostMismatch
	}
	var hc *hostCode
	if errors.As(err, &hc) {
		out.ResponseCode, out.Guidance = hc.code, t.lookup(hc.code).Guidance
	}
	if errors.Is(err, errKeyCheck) {
		out.Guidance = iso.GuidanceKeyCheckFailed
	}
	out.Err = fmt.Errorf("%s: %w", op, err)
	return out
}

// send writes the request and waits for the answer. A link found dead before anything went
// out is re-established once. Power-loss faults strike here.
func (t *Terminal) send(ctx context.Context, conn *iso.Conn, m *iso.Message) (*iso.Message, error) {
	if t.fault(DevicePowerLoss, PowerBeforeSend) {
		t.Crash()
		return nil, ErrCrashed
	}
	if t.fault(DevicePowerLoss, PowerAfterSend) {
		t.emit(Event{Kind: EventSent, STAN: m.STAN, MTI: m.MTI, Detail: describe(m)})
		t.deaf.Store(true)
		_ = conn.Write(t.tpdu, m)
		t.Crash()
		return nil, ErrCrashed
	}
	resp, err := t.exchange(ctx, conn, m)
	if errors.Is(err, iso.ErrNotSent) && !t.isCrashed() && ctx.Err() == nil {
		c2, lerr := t.link(ctx)
		if lerr != nil {
			return nil, fmt.Errorf("%w (reconnect: %w)", err, lerr)
		}
		return t.exchange(ctx, c2, m)
	}
	return resp, err
}

// answered turns a valid answer into the outcome.
func (t *Terminal) answered(ctx context.Context, op string, out Outcome, txn *txnRow, rev *safRow, req, resp *iso.Message, entry string) Outcome {
	code := resp.ResponseCode
	info := t.lookup(code)
	out.ResponseCode, out.RRN, out.AuthCode = code, strings.TrimSpace(resp.RRN), strings.TrimSpace(resp.AuthCode)
	txn.ResponseCode, txn.RRN, txn.AuthCode = out.ResponseCode, out.RRN, out.AuthCode
	if info.Approved {
		txn.Approved = txn.Amount
		if code == iso.RCPartial {
			if v, err := iso.ParseAmount(resp.Amount); err == nil && v > 0 && v < txn.Amount {
				txn.Approved = v
			}
		}
	}
	out.Approved = txn.Approved
	if rev != nil {
		// The reversal of an answered request can name it by the host's references too.
		rev.Msg.RRN, rev.Msg.AuthCode = txn.RRN, txn.AuthCode
	}

	chipErr := error(nil)
	if info.Approved && rev != nil && rev.Kind == SAFReversal {
		chipErr = t.secondAC(req, resp) // the request as sent: the stored copy keeps no chip data
	}
	switch {
	case chipErr != nil:
		t.emit(Event{Kind: EventChipDeclined, STAN: txn.STAN, Code: iso.ReasonMalfunction,
			Detail: "the chip declined the approved transaction (" + chipErr.Error() + "); reversing"})
		rev.Reason, rev.Msg.ResponseCode = iso.ReasonMalfunction, iso.ReasonMalfunction
		if err := t.j.tx("update reversal reason", func(tx *sql.Tx) error { return updateSAF(tx, rev) }); err != nil {
			out.Err = err
		}
		return t.reverseNow(ctx, out, txn, rev, KindDeclined, iso.GuidanceChipDeclined)
	case info.Approved && rev != nil && rev.Kind == SAFReversal && entry == iso.EntryChip && (op == OpSale || op == OpPreAuth) && t.fault(DeviceCardRemoved, ""):
		t.emit(Event{Kind: EventDeviceFault, STAN: txn.STAN, Code: iso.ReasonMalfunction,
			Detail: "card removed before the chip completed: the chip declines the approved transaction; reversing"})
		rev.Reason, rev.Msg.ResponseCode = iso.ReasonMalfunction, iso.ReasonMalfunction
		if err := t.j.tx("update reversal reason", func(tx *sql.Tx) error { return updateSAF(tx, rev) }); err != nil {
			out.Err = err
		}
		return t.reverseNow(ctx, out, txn, rev, KindDeviceFault, iso.GuidanceCardRemoved)
	case code == iso.RCPartial && rev != nil && rev.Kind == SAFReversal && !t.profile.PartialApproval:
		t.emit(Event{Kind: EventRefused, STAN: txn.STAN, Code: code,
			Detail: "partial approval is not supported by this terminal: cancelling it"})
		rev.Reason, rev.Msg.ResponseCode = iso.ReasonCancel, iso.ReasonCancel
		if err := t.j.tx("update reversal reason", func(tx *sql.Tx) error { return updateSAF(tx, rev) }); err != nil {
			out.Err = err
		}
		return t.reverseNow(ctx, out, txn, rev, KindVoided, iso.GuidanceVoided)
	}

	switch {
	case info.Approved:
		txn.Status = StatusApproved
		out.Kind = KindApproved
		if code == iso.RCPartial {
			txn.Status, out.Kind = StatusPartial, KindPartiallyApproved
		}
	default:
		txn.Status, out.Kind = StatusDeclined, KindDeclined
	}
	out.Guidance = info.Guidance
	if err := t.j.tx("record answer", func(tx *sql.Tx) error {
		if rev != nil {
			if err := deleteSAF(tx, rev.ID); err != nil {
				return err
			}
		}
		return updateTxn(tx, txn)
	}); err != nil {
		out.Err = err
	}
	if op == OpBalance && resp.AdditionalAmounts != "" {
		out.AdditionalAmounts = resp.AdditionalAmounts
		if v, ok := availableBalance(resp.AdditionalAmounts); ok {
			out.Balance = &v
		}
	}
	if code == iso.RCDuplicate {
		// Never send again: show what the journal knows about the previous transaction.
		if last, err := t.j.lastTxn(txn.ID); err == nil && last != nil {
			l := last.Txn
			out.Last = &l
		}
	}
	s := t.slipOf(op, txn, t.resultLine(code))
	kind := receiptKinds[op]
	if !info.Approved {
		kind = ReceiptDeclined
		s.notes = append(s.notes, info.Meaning)
		if out.Last != nil {
			s.notes = append(s.notes, fmt.Sprintf("LAST: %s %s %s", strings.ToUpper(out.Last.Operation), out.Last.STAN, strings.ToUpper(out.Last.Status)))
		}
	}
	if out.Balance != nil {
		s.notes = append(s.notes, "AVAILABLE "+t.currencyName()+" "+iso.FormatMoney(*out.Balance))
	}
	s.sign = info.Approved && op != OpBalance && op != OpRefund
	t.issue(&out, txn.ID, kind, s)
	return out
}

// availableBalance reads the available balance (amount type 02, else the first) from DE54:
// 20-character amounts of account type, amount type, currency, C/D and 12 digits.
func availableBalance(de54 string) (int64, bool) {
	var first *int64
	for i := 0; i+20 <= len(de54); i += 20 {
		a := de54[i : i+20]
		v, err := iso.ParseAmount(a[8:20])
		if err != nil {
			continue
		}
		if a[7] == 'D' {
			v = -v
		}
		if a[2:4] == "02" {
			return v, true
		}
		if first == nil {
			first = &v
		}
	}
	if first != nil {
		return *first, true
	}
	return 0, false
}

// skipReversal is the broken behaviour Profile.SkipReversal asks for: the pending reversal
// is thrown away and the till shows a plain "no answer", as a careless terminal would.
func (t *Terminal) skipReversal(out Outcome, op string, txn *txnRow, rev *safRow) Outcome {
	if jerr := t.j.tx("skip reversal of "+op, func(tx *sql.Tx) error {
		if err := deleteSAF(tx, rev.ID); err != nil {
			return err
		}
		return setTxnStatus(tx, txn.ID, StatusUnknown)
	}); jerr != nil {
		out.Err = errors.Join(out.Err, jerr)
	}
	out.Kind, out.Guidance = KindNoAnswer, iso.GuidanceCheckLast
	return out
}

// reverseNow queues rev for txn and tries the queue at once (FIFO: older entries go first).
// ack/ackGuidance is the outcome when the reversal is acknowledged now.
func (t *Terminal) reverseNow(ctx context.Context, out Outcome, txn *txnRow, rev *safRow, ack, ackGuidance string) Outcome {
	txn.Status = statusWhileReversing(rev.Reason)
	if err := t.queueNow(rev, txn); err != nil {
		if t.isCrashed() {
			return out
		}
		out.Err = errors.Join(out.Err, err)
		out.Kind, out.Guidance = KindReversalPending, iso.GuidanceCheckLast
		return out
	}
	_ = t.drainSAF(ctx, false)
	if t.isCrashed() {
		return out
	}
	now, err := t.safEntry(rev.ID)
	if err != nil {
		out.Err = errors.Join(out.Err, err)
	}
	title := "REVERSAL"
	if rev.Reason == iso.ReasonCancel {
		title = "VOID"
	}
	s := t.slipOf(txn.Operation, txn, "")
	s.title = title + " OF " + s.title
	switch {
	case now == nil:
		out.Kind, out.Guidance = ack, ackGuidance
		out.Err = nil // recovered: the customer is not charged
		t.mu.Lock()
		if t.acked != nil && t.acked.ID == rev.ID {
			e := t.publicSAF(t.acked)
			out.Reversal = &e
		}
		t.mu.Unlock()
		s.result = "REVERSED"
		if rev.Reason == iso.ReasonCancel {
			s.result = "VOIDED"
		}
		s.notes = append(s.notes, "CUSTOMER NOT CHARGED")
	case now.State == safManual:
		e := t.publicSAF(now)
		out.Reversal = &e
		out.Kind, out.Guidance = KindReversalPending, iso.GuidanceManualReconciliation
		s.result = "REVERSAL NOT CONFIRMED"
		s.notes = append(s.notes, "REFER TO BACK OFFICE", "DO NOT CHARGE OR REFUND BY HAND")
	default:
		e := t.publicSAF(now)
		out.Reversal = &e
		out.Kind, out.Guidance = KindReversalPending, iso.GuidanceReversalPending
		s.result = "REVERSAL PENDING"
		s.notes = append(s.notes, "THE TERMINAL WILL REPEAT IT", "DO NOT CHARGE AGAIN OR REFUND BY HAND")
	}
	t.issue(&out, txn.ID, ReceiptReversal, s)
	if ack == KindVoided && now == nil {
		out.Receipt.Kind = ReceiptVoid
	}
	return out
}

func (t *Terminal) slipOf(op string, txn *txnRow, result string) slip {
	title := opTitles[op]
	if title == "" {
		title = strings.ToUpper(op)
	}
	return slip{title: title, when: t.clk.Now(), stan: txn.STAN, rrn: txn.RRN, auth: txn.AuthCode, pan: txn.MaskedPAN,
		entry: txn.Entry, amount: txn.Amount, approved: txn.Approved, result: result}
}

// issue renders, journals and prints a receipt. Without paper the receipt is kept for
// Reprint and an approval's guidance says so.
func (t *Terminal) issue(out *Outcome, txnID int64, kind string, s slip) {
	batch, _ := t.j.batch()
	r := t.render(kind, s, batch)
	r.Printed = !t.fault(DevicePrinterOut, "")
	if err := t.j.tx("store receipt", func(tx *sql.Tx) error { return insertReceipt(tx, txnID, r, t.clk.Now()) }); err != nil {
		out.Err = errors.Join(out.Err, err)
	}
	out.Receipt = r
	if r.Printed {
		t.emit(Event{Kind: EventReceiptPrinted, STAN: s.stan, Detail: kind + " receipt printed"})
		return
	}
	t.emit(Event{Kind: EventReceiptHeld, STAN: s.stan, Detail: "printer out of paper: " + kind + " receipt kept for reprint"})
	switch out.Kind {
	case KindApproved, KindPartiallyApproved, KindOfflineApproved, KindVoided, KindSettled:
		out.Guidance = iso.GuidancePrinterOut
	}
}

// Reprint prints a kept receipt again: the transaction's latest (zero Ref: the latest of
// all). It fails with ErrPrinterOut while the printer has no paper.
func (t *Terminal) Reprint(ref Ref) (*Receipt, error) {
	var txnID int64
	if ref != (Ref{}) {
		row, err := t.find(ref, nil)
		if err != nil {
			return nil, fmt.Errorf("reprint: %w", err)
		}
		txnID = row.ID
	}
	id, r, err := t.j.receipt(txnID)
	if err != nil {
		return nil, fmt.Errorf("reprint: %w", err)
	}
	if t.fault(DevicePrinterOut, "") {
		t.emit(Event{Kind: EventReceiptHeld, STAN: r.STAN, Detail: "printer out of paper: reprint failed"})
		return nil, fmt.Errorf("reprint %s receipt of STAN %s: %w", r.Kind, r.STAN, ErrPrinterOut)
	}
	if r.Printed {
		// Marked in the slip's own language: a Chinese slip is reprinted as one.
		mark := "*** DUPLICATE (REPRINT) ***\n"
		if guidance.HasHan(r.Merchant) {
			mark = "*** 重打印 REPRINT ***\n"
		}
		r.Merchant, r.Customer = mark+r.Merchant, mark+r.Customer
	}
	if err := t.j.markPrinted(id); err != nil {
		return nil, fmt.Errorf("reprint: %w", err)
	}
	r.Printed = true
	t.emit(Event{Kind: EventReceiptPrinted, STAN: r.STAN, Detail: r.Kind + " receipt reprinted"})
	return r, nil
}

// find looks a transaction of the open batch up by Ref; the zero Ref is the latest
// transaction accepted by ok (nil: any).
func (t *Terminal) find(ref Ref, ok func(*txnRow) bool) (*txnRow, error) {
	rows, err := t.j.openTxns()
	if err != nil {
		return nil, err
	}
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		switch {
		case ref.STAN != "" && r.STAN != ref.STAN:
			continue
		case ref.RRN != "" && r.RRN != ref.RRN:
			continue
		case ref == (Ref{}) && ok != nil && !ok(r):
			continue
		}
		return r, nil
	}
	return nil, fmt.Errorf("transaction %+v: %w", ref, ErrNotFound)
}

// offline approves a sale without the host, below the floor limit, and queues its advice.
func (t *Terminal) offline(c cards.Card, entry string, p Payment, out Outcome) (Outcome, bool) {
	floor := int64(t.profile.OfflineFloorLimit)
	if floor == 0 || p.Amount > floor || entry == iso.EntryQR || entry == iso.EntryKeyed {
		return out, false
	}
	if t.profile.SAFMax > 0 && len(t.SAF()) >= t.profile.SAFMax {
		t.emit(Event{Kind: EventRefused, Detail: fmt.Sprintf("offline approval refused: the SAF queue is full (%d)", t.profile.SAFMax)})
		return out, false
	}
	stan, err := t.j.nextSTAN()
	if err != nil {
		return out, false
	}
	batch, err := t.j.batch()
	if err != nil {
		return out, false
	}
	now := t.clk.Now()
	m := t.baseMessage(iso.MTIFinancialAdvice, stan, now)
	m.ProcessingCode = iso.ProcPurchase
	m.Amount = iso.FormatAmount(p.Amount)
	m.PAN, m.Expiry = c.PAN, c.Expiry
	m.EntryMode = iso.EntryDE22(entry)
	m.ConditionCode = "00"
	m.Currency = t.profile.Currency
	m.AcquirerID = t.profile.AcquirerID
	// No DE38: to the host an advice with an authorization code is a completion.
	txn := &txnRow{Txn: Txn{Batch: batch, Operation: OpOffline, MTI: m.MTI, STAN: stan, MaskedPAN: out.MaskedPAN, Entry: entry,
		Status: StatusOffline, Amount: p.Amount, Approved: p.Amount, Time: now}, Msg: m}
	if err := t.j.tx("journal offline sale", func(tx *sql.Tx) error { return insertTxn(tx, txn) }); err != nil {
		return out, false
	}
	adv := t.newAdvice(m, txn.ID, "", now)
	if err := t.queueNow(adv, nil); err != nil {
		return out, false
	}
	out.STAN, out.Approved = stan, p.Amount
	t.setSTAN(stan)
	t.emit(Event{Kind: EventOfflineApproved, STAN: stan, MTI: m.MTI,
		Detail: fmt.Sprintf("host unreachable: approved offline below the floor limit %s; advice queued", iso.FormatMoney(floor))})
	out.Kind, out.Guidance = KindOfflineApproved, iso.GuidanceOfflineApproved
	e := t.publicSAF(adv)
	out.Reversal = &e
	s := t.slipOf(OpOffline, txn, "APPROVED (OFFLINE)")
	s.sign = true
	t.issue(&out, txn.ID, ReceiptOffline, s)
	return out, true
}

// Void cancels an approved transaction of the open batch at the customer's request: a
// reversal with reason 17 (the zero Ref: the last approved transaction). It also cancels a
// partial approval (reversing the approved part).
func (t *Terminal) Void(ctx context.Context, ref Ref) Outcome {
	return t.run(ctx, OpVoid, func(ctx context.Context) Outcome {
		txn, err := t.find(ref, voidable)
		if err == nil && !voidable(txn) {
			err = fmt.Errorf("transaction %s is %s %s: %w", txn.STAN, txn.Operation, txn.Status, ErrNotFound)
		}
		if err != nil {
			return t.refuse(Outcome{}, iso.GuidanceCheckLast, fmt.Errorf("void: %w", err))
		}
		out := Outcome{STAN: txn.STAN, RRN: txn.RRN, AuthCode: txn.AuthCode, MaskedPAN: txn.MaskedPAN, Entry: txn.Entry,
			Amount: txn.Amount, Approved: txn.Approved}
		t.setSTAN(txn.STAN)
		rev := t.newReversal(txn.Msg, txn.ID, iso.ReasonCancel, "", t.clk.Now())
		rev.Msg.RRN, rev.Msg.AuthCode = txn.RRN, txn.AuthCode
		rev.Amount = txn.Approved
		out = t.reverseNow(ctx, out, txn, rev, KindVoided, iso.GuidanceVoided)
		if out.Reversal != nil {
			out.ResponseCode = out.Reversal.LastCode
		}
		return out
	})
}

func voidable(r *txnRow) bool {
	switch r.Operation {
	case OpSale, OpRefund, OpPreAuth, OpCompletion, OpOffline:
	default:
		return false
	}
	switch r.Status {
	case StatusApproved, StatusPartial, StatusOffline:
		return true
	}
	return false
}

// Complete captures a pre-authorization (0220 with DE90, DE37 and DE38 of the pre-auth) for
// amount, at most the approved hold. If no answer comes, the advice waits in the SAF queue.
func (t *Terminal) Complete(ctx context.Context, preauth Ref, amount int64) Outcome {
	return t.run(ctx, OpCompletion, func(ctx context.Context) Outcome {
		isPre := func(r *txnRow) bool {
			return r.Operation == OpPreAuth && (r.Status == StatusApproved || r.Status == StatusPartial)
		}
		pre, err := t.find(preauth, isPre)
		if err == nil && !isPre(pre) {
			err = fmt.Errorf("transaction %s is %s %s, not an open pre-authorization: %w", pre.STAN, pre.Operation, pre.Status, ErrNotFound)
		}
		if err != nil {
			return t.refuse(Outcome{Amount: amount}, iso.GuidanceCheckLast, fmt.Errorf("completion: %w", err))
		}
		out := Outcome{Amount: amount, MaskedPAN: pre.MaskedPAN, Entry: pre.Entry}
		if amount <= 0 || amount > pre.Approved {
			return t.refuse(out, iso.GuidanceInvalidAmount, fmt.Errorf("completion: amount %s must be above zero and at most the hold %s",
				iso.FormatMoney(amount), iso.FormatMoney(pre.Approved)))
		}
		conn, linkErr := t.connectAndDrain(ctx)
		if t.isCrashed() {
			return out
		}
		stan, err := t.j.nextSTAN()
		if err != nil {
			return t.notSent(out, OpCompletion, err)
		}
		batch, err := t.j.batch()
		if err != nil {
			return t.notSent(out, OpCompletion, err)
		}
		t.setSTAN(stan)
		out.STAN = stan
		now := t.clk.Now()
		m := t.baseMessage(iso.MTIFinancialAdvice, stan, now)
		m.ProcessingCode = iso.ProcPurchase
		m.Amount = iso.FormatAmount(amount)
		m.PAN, m.Expiry = pre.Msg.PAN, pre.Msg.Expiry
		m.EntryMode = pre.Msg.EntryMode
		m.ConditionCode = "00"
		m.Currency = t.profile.Currency
		m.AcquirerID = t.profile.AcquirerID
		m.RRN, m.AuthCode = pre.RRN, pre.AuthCode
		m.OriginalData = iso.OriginalData{MTI: pre.MTI, STAN: pre.STAN, Transmitted: pre.Msg.TransmissionTime,
			AcquirerID: t.profile.AcquirerID}.String()
		txn := &txnRow{Txn: Txn{Batch: batch, Operation: OpCompletion, MTI: m.MTI, STAN: stan, MaskedPAN: pre.MaskedPAN,
			Entry: pre.Entry, RRN: pre.RRN, AuthCode: pre.AuthCode, Status: StatusSending, Amount: amount, Time: now}, Msg: m}
		adv := t.newAdvice(m, 0, safPending, now)
		// The completion is committed from here on: the pre-auth cannot be voided any more.
		err = t.j.tx("journal completion", func(tx *sql.Tx) error {
			if err := insertTxn(tx, txn); err != nil {
				return err
			}
			adv.TxnID = txn.ID
			if err := setTxnStatus(tx, pre.ID, "completed"); err != nil {
				return err
			}
			return insertSAF(tx, adv)
		})
		if err != nil {
			return t.notSent(out, OpCompletion, err)
		}
		var resp *iso.Message
		if linkErr == nil {
			resp, err = t.send(ctx, conn, m)
		} else {
			err = linkErr
		}
		if t.isCrashed() {
			return out
		}
		if err != nil {
			// An advice is never lost: it waits in the queue and is repeated. If the 0220
			// went out, the next transmission is its repeat (0221).
			out.Err = fmt.Errorf("completion: %w", err)
			if linkErr == nil && !errors.Is(err, iso.ErrNotSent) {
				adv.Attempts = 1
			}
			if qerr := t.queueNow(adv, nil); qerr != nil {
				out.Err = errors.Join(out.Err, qerr)
			}
			_ = t.drainSAF(ctx, false)
			if e, _ := t.safEntry(adv.ID); e != nil {
				pub := t.publicSAF(e)
				out.Reversal = &pub
				out.Kind, out.Guidance = KindAdviceQueued, iso.GuidanceOfflineApproved
				return out
			}
			// Delivered by the drain.
			if row, rerr := t.j.txnByID(txn.ID); rerr == nil {
				txn = row
			}
			out.Err = nil
			out.ResponseCode, out.RRN, out.AuthCode = txn.ResponseCode, txn.RRN, txn.AuthCode
			out.Approved = txn.Approved
			out.Kind, out.Guidance = KindApproved, t.lookup(txn.ResponseCode).Guidance
			if txn.Status != StatusApproved {
				out.Kind = KindDeclined
			}
			t.issue(&out, txn.ID, ReceiptCompletion, t.slipOf(OpCompletion, txn, t.resultLine(txn.ResponseCode)))
			return out
		}
		if t.fault(DevicePowerLoss, PowerAfterAnswer) {
			t.Crash()
			return out
		}
		out = t.answered(ctx, OpCompletion, out, txn, adv, m, resp, "")
		if out.Kind == KindDeclined {
			// The hold was not captured: the pre-auth can be completed (or voided) again.
			_ = t.j.tx("reopen pre-authorization", func(tx *sql.Tx) error { return setTxnStatus(tx, pre.ID, pre.Status) })
		}
		return out
	})
}

// Echo sends a network echo test (0800/301).
func (t *Terminal) Echo(ctx context.Context) Outcome {
	return t.run(ctx, OpEcho, func(ctx context.Context) Outcome { return t.netOp(ctx, iso.NetEcho) })
}

// SignOn signs the terminal on (0800/001), connecting first if needed, then sends the SAF
// queue.
func (t *Terminal) SignOn(ctx context.Context) Outcome {
	return t.run(ctx, OpSignOn, func(ctx context.Context) Outcome {
		t.mu.Lock()
		c, live := t.conn, t.conn != nil && !t.connDead
		t.mu.Unlock()
		if !live || !t.profile.SignOnAtConnect {
			var err error
			if c, err = t.link(ctx); err != nil {
				return t.notSent(Outcome{}, OpSignOn, err)
			}
			if t.profile.SignOnAtConnect {
				_ = t.drainSAF(ctx, false)
				return Outcome{Kind: KindApproved, ResponseCode: iso.RCApproved, Guidance: iso.GuidanceApproved}
			}
		}
		if err := t.signOn(ctx, c); err != nil {
			out := t.notSent(Outcome{}, OpSignOn, err)
			if errors.Is(err, errKeyCheck) {
				out.Kind = KindDeclined
				t.dropLink(c, "")
			} else if !errors.As(err, new(*hostCode)) {
				out.Kind, out.Guidance = KindNoAnswer, iso.GuidanceIssuerUnavailable
				t.dropLink(c, "sign-on not answered")
			} else {
				out.Kind = KindDeclined
			}
			return out
		}
		_ = t.drainSAF(ctx, false)
		return Outcome{Kind: KindApproved, ResponseCode: iso.RCApproved, Guidance: iso.GuidanceApproved}
	})
}

// SignOff signs the terminal off (0800/002) and closes the link; the next operation
// connects (and signs on) again.
func (t *Terminal) SignOff(ctx context.Context) Outcome {
	return t.run(ctx, OpSignOff, func(ctx context.Context) Outcome {
		out := t.netOp(ctx, iso.NetSignOff)
		t.mu.Lock()
		c := t.conn
		t.wantLink = false
		t.mu.Unlock()
		if c != nil {
			t.dropLink(c, "")
		}
		if out.Kind == KindApproved {
			t.emit(Event{Kind: EventSignedOff, STAN: out.STAN})
		}
		return out
	})
}

func (t *Terminal) netOp(ctx context.Context, code string) Outcome {
	c, err := t.link(ctx)
	if err != nil {
		return t.notSent(Outcome{}, "network "+code, err)
	}
	resp, stan, err := t.network(ctx, c, code)
	out := Outcome{STAN: stan}
	switch {
	case err != nil && errors.Is(err, iso.ErrNotSent):
		return t.notSent(out, "network "+code, err)
	case err != nil:
		out.Kind, out.Guidance, out.Err = KindNoAnswer, iso.GuidanceIssuerUnavailable, fmt.Errorf("network %s: %w", code, err)
		return out
	}
	out.ResponseCode = resp.ResponseCode
	out.Guidance = t.lookup(resp.ResponseCode).Guidance
	out.Kind = KindDeclined
	if resp.ResponseCode == iso.RCApproved {
		out.Kind = KindApproved
	}
	return out
}
