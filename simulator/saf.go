package simulator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// stored is the copy of a request the journal keeps: the PAN comes out of track 2 into DE2,
// and track 2, the PIN block and the EMV data are dropped (a terminal must not keep them
// after the authorization, and a reversal or advice does not need them).
func stored(m *iso.Message) *iso.Message {
	s := m.Clone()
	s.PAN = m.PANOf()
	s.Expiry = m.ExpiryOf()
	s.Track2, s.PINBlock, s.EMV, s.CardSeq = "", nil, nil, ""
	_ = s.Set(iso.AESPINField, "") // the AES DUKPT PIN block: never kept either
	return s
}

// newReversal builds the reversal of an original request (as stored) with a reason. Its
// DE11 is the original's until it is queued (see promote); its DE7 is set when queued, and
// then kept for every repeat, so that the host recognizes a repeat.
func (t *Terminal) newReversal(orig *iso.Message, txnID int64, reason, state string, now time.Time) *safRow {
	r := orig.Clone()
	r.MTI = t.profile.ReversalMTI
	r.ResponseCode = reason
	r.OriginalData = iso.OriginalData{MTI: orig.MTI, STAN: orig.STAN, Transmitted: orig.TransmissionTime,
		AcquirerID: t.profile.AcquirerID}.String()
	r.NetworkCode = ""
	amount, _ := iso.ParseAmount(orig.Amount)
	return &safRow{
		SAFEntry: SAFEntry{Kind: SAFReversal, OriginalMTI: orig.MTI, OriginalSTAN: orig.STAN, Reason: reason,
			MaskedPAN: iso.MaskPAN(orig.PANOf()), Amount: amount, Created: now, NextAt: now,
			Expires: now.Add(t.profile.ReversalExpiry)},
		TxnID: txnID, State: state, Msg: r,
	}
}

// newAdvice wraps an advice (0220) for the queue.
func (t *Terminal) newAdvice(m *iso.Message, txnID int64, state string, now time.Time) *safRow {
	amount, _ := iso.ParseAmount(m.Amount)
	return &safRow{
		SAFEntry: SAFEntry{Kind: SAFAdvice, OriginalMTI: m.MTI, OriginalSTAN: m.STAN,
			MaskedPAN: iso.MaskPAN(m.PANOf()), Amount: amount, Created: now, NextAt: now,
			Expires: now.Add(t.profile.ReversalExpiry)},
		TxnID: txnID, State: state, Msg: m.Clone(),
	}
}

// promote turns a pending reversal (or advice) into a queued one, inside tx: it gets its DE7
// (and its own STAN under the "new" policy) and the transaction is marked accordingly.
func (t *Terminal) promote(tx *sql.Tx, r *safRow, now time.Time) error {
	if r.Kind == SAFReversal {
		if t.profile.ReversalSTAN == STANNew {
			stan, err := allocSTAN(tx)
			if err != nil {
				return err
			}
			r.Msg.STAN = stan
		}
		r.Msg.TransmissionTime = now.UTC().Format("0102150405")
	}
	r.State = safQueued
	r.NextAt = now
	r.STAN, r.MTI = r.Msg.STAN, r.Msg.MTI
	if _, err := tx.Exec(`UPDATE saf SET state = ?, msg = ?, next_at = ?, attempts = ? WHERE id = ?`,
		safQueued, mustEncode(r.Msg), nanos(now), r.Attempts, r.ID); err != nil {
		return err
	}
	if r.Kind == SAFAdvice {
		return nil // the transaction keeps its status until the advice is answered
	}
	return setTxnStatus(tx, r.TxnID, statusWhileReversing(r.Reason))
}

func statusWhileReversing(reason string) string {
	if reason == iso.ReasonCancel {
		return StatusVoidPending
	}
	return StatusReversalPending
}

func mustEncode(m *iso.Message) string {
	s, err := encodeMsg(m)
	if err != nil {
		panic(err) // a Message always marshals
	}
	return s
}

// recover runs at New: what a crashed run left pending is queued now, since the request may
// have reached the host.
func (t *Terminal) recover() error {
	pending, err := t.j.safRows(safPending)
	if err != nil {
		return err
	}
	now := t.clk.Now()
	for _, r := range pending {
		err := t.j.tx("recover pending reversal", func(tx *sql.Tx) error { return t.promote(tx, r, now) })
		if err != nil {
			return err
		}
		t.emit(Event{Kind: EventRecovered, STAN: r.OriginalSTAN, MTI: r.OriginalMTI,
			Detail: fmt.Sprintf("the %s %s was in flight when power was lost", r.Kind, r.OriginalMTI)})
		t.emitQueued(r)
	}
	// A transaction in flight that needed no reversal (balance inquiry) is simply unknown.
	return t.j.tx("recover transactions", func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE txns SET status = ? WHERE status = ?`, StatusUnknown, StatusSending)
		return err
	})
}

func (t *Terminal) emitQueued(r *safRow) {
	kind := EventReversalQueued
	if r.Kind == SAFAdvice {
		kind = EventAdviceQueued
	}
	t.emit(Event{Kind: kind, STAN: r.Msg.STAN, MTI: r.Msg.MTI, Code: r.Reason,
		Detail: fmt.Sprintf("queued for %s/%s: %s", r.OriginalMTI, r.OriginalSTAN, describe(r.Msg))})
}

// queueNow moves the pending entry of txn to the queue (or inserts r when it is new) and
// updates the transaction, in one journal transaction.
func (t *Terminal) queueNow(r *safRow, txn *txnRow) error {
	now := t.clk.Now()
	err := t.j.tx("queue "+r.Kind, func(tx *sql.Tx) error {
		if r.ID == 0 {
			r.State = safPending
			if err := insertSAF(tx, r); err != nil {
				return err
			}
		}
		if txn != nil {
			if err := updateTxn(tx, txn); err != nil {
				return err
			}
		}
		return t.promote(tx, r, now)
	})
	if err != nil {
		return err
	}
	t.emitQueued(r)
	return nil
}

// Reversal answers that end a reversal: done, or nothing to undo.
var reversalDone = []string{iso.RCApproved, iso.RCNoActionTaken, iso.RCRecordNotFound, iso.RCOriginalNotFound}

// ReversalDone reports whether a reversal answered with code is over (done, or nothing to
// undo); any other code refuses it and the terminal keeps it queued.
func ReversalDone(code string) bool { return slices.Contains(reversalDone, code) }

// Advice answers that mean "not processed, send it again"; any other answer acknowledges it
// (an advice reports what already happened: the host cannot decline it, only record it).
var adviceRetry = []string{iso.RCIssuerUnavailable, iso.RCSystemMalfunction, iso.RCReEnter}

// drainSAF sends the queue head first until it is empty or an entry fails. With due, only
// entries whose repeat time has come are sent (the timer); otherwise everything is tried
// now (before a transaction, after sign-on, DrainSAF). The caller holds the line.
func (t *Terminal) drainSAF(ctx context.Context, due bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := t.j.safRows(safQueued)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		h := rows[0]
		now := t.clk.Now()
		if !now.Before(h.Expires) {
			if err := t.toManual(h, fmt.Sprintf("unacknowledged after %s (%d transmissions)", t.profile.ReversalExpiry, h.Attempts)); err != nil {
				return err
			}
			continue
		}
		if due && now.Before(h.NextAt) {
			return nil
		}
		if err := t.attempt(ctx, h); err != nil {
			return err
		}
	}
}

// attempt transmits the head once and records what came of it. It returns nil when the
// entry left the queue (acknowledged, or moved to manual reconciliation).
func (t *Terminal) attempt(ctx context.Context, h *safRow) error {
	conn, err := t.link(ctx)
	if err != nil {
		if errors.Is(err, ErrCrashed) || t.isCrashed() {
			return ErrCrashed
		}
		h.LastError = err.Error()
		h.NextAt = t.clk.Now().Add(t.profile.ReversalInterval)
		if jerr := t.j.tx("record SAF attempt", func(tx *sql.Tx) error { return updateSAF(tx, h) }); jerr != nil {
			return jerr
		}
		t.emitNoAnswer(h, h.Msg.MTI, "host unreachable: "+err.Error())
		return fmt.Errorf("%w: %s %s: %w", ErrSAFPending, h.Kind, h.Msg.STAN, err)
	}
	m := h.Msg.Clone()
	if h.Attempts > 0 {
		m.MTI = iso.RepeatMTI(m.MTI)
	}
	// Counted before it goes out: after a crash the next transmission is then a repeat,
	// which is always safe.
	h.Attempts++
	if err := t.j.tx("record SAF attempt", func(tx *sql.Tx) error { return updateSAF(tx, h) }); err != nil {
		return err
	}
	t.setPhase(PhaseReversing, time.Time{})
	sent := EventReversalSent
	if h.Kind == SAFAdvice {
		sent = EventAdviceSent
	}
	t.emit(Event{Kind: sent, STAN: m.STAN, MTI: m.MTI, Code: h.Reason,
		Detail: fmt.Sprintf("transmission %d for %s/%s", h.Attempts, h.OriginalMTI, h.OriginalSTAN)})
	resp, err := t.exchange(ctx, conn, m)
	now := t.clk.Now()
	if err != nil {
		if errors.Is(err, ErrCrashed) || t.isCrashed() {
			return ErrCrashed
		}
		if errors.Is(err, iso.ErrNotSent) {
			h.Attempts--
		}
		// A missing answer does not use up a try (docs/domain.md §3): repeating an
		// unanswered reversal is always safe.
		h.LastError = err.Error()
		h.NextAt = now.Add(t.profile.ReversalInterval)
		if jerr := t.j.tx("record SAF attempt", func(tx *sql.Tx) error { return updateSAF(tx, h) }); jerr != nil {
			return jerr
		}
		t.emitNoAnswer(h, m.MTI, err.Error())
		return fmt.Errorf("%w: %s %s: %w", ErrSAFPending, h.Kind, m.STAN, err)
	}
	code := resp.ResponseCode
	h.LastCode = code
	switch {
	case h.Kind == SAFReversal && slices.Contains(reversalDone, code),
		h.Kind == SAFAdvice && !slices.Contains(adviceRetry, code):
		return t.acknowledged(h, resp)
	case h.Kind == SAFReversal && code == iso.RCOriginalMismatch:
		return t.toManual(h, "host found the original with inconsistent data (77): back office must reconcile")
	}
	h.Tries++
	h.LastError = "refused: " + t.lookup(code).Meaning
	h.NextAt = now.Add(t.profile.ReversalInterval)
	newlyBlocked := h.Tries > t.profile.ReversalRepeats && !h.Blocked
	if newlyBlocked {
		h.Blocked = true
	}
	if err := t.j.tx("record SAF refusal", func(tx *sql.Tx) error { return updateSAF(tx, h) }); err != nil {
		return err
	}
	detail := fmt.Sprintf("%s refused (%s), try %d of %d", h.Kind, t.lookup(code).Meaning, h.Tries, t.profile.ReversalRepeats+1)
	if h.Tries > t.profile.ReversalRepeats+1 {
		// Past its tries the head is blocked but still repeated: say so rather than "5 of 4".
		detail = fmt.Sprintf("%s refused again (%s), refusal %d; the queue stays blocked", h.Kind, t.lookup(code).Meaning, h.Tries)
	}
	t.emit(Event{Kind: EventReversalRefused, STAN: m.STAN, MTI: resp.MTI, Code: code, Detail: detail})
	if newlyBlocked {
		t.emit(Event{Kind: EventSAFBlocked, STAN: m.STAN, MTI: m.MTI, Code: code,
			Detail: fmt.Sprintf("the queue head (%s for %s/%s) was refused %d times; it blocks the queue and keeps being repeated until %s",
				h.Kind, h.OriginalMTI, h.OriginalSTAN, h.Tries, h.Expires.Format(time.RFC3339))})
	}
	return fmt.Errorf("%w: %s %s refused with %s", ErrSAFPending, h.Kind, m.STAN, code)
}

func (t *Terminal) emitNoAnswer(h *safRow, mti, why string) {
	t.emit(Event{Kind: EventReversalNoAnswer, STAN: h.Msg.STAN, MTI: mti, Code: h.Reason,
		Detail: fmt.Sprintf("%s not acknowledged (%s); next try at %s", h.Kind, why, h.NextAt.Format(time.RFC3339))})
}

// acknowledged removes the entry and settles its transaction's status.
func (t *Terminal) acknowledged(h *safRow, resp *iso.Message) error {
	status := StatusReversed
	switch {
	case h.Kind == SAFAdvice && resp.ResponseCode == iso.RCApproved:
		status = StatusApproved
	case h.Kind == SAFAdvice:
		status = StatusDeclined
	case h.Reason == iso.ReasonCancel:
		status = StatusVoided
	}
	err := t.j.tx("acknowledge "+h.Kind, func(tx *sql.Tx) error {
		if err := deleteSAF(tx, h.ID); err != nil {
			return err
		}
		if h.Kind == SAFAdvice {
			// An offline sale stays "offline" in the batch (it counts); a completion whose
			// advice was queued becomes approved or declined now.
			_, err := tx.Exec(`UPDATE txns SET rc = ?, rrn = CASE WHEN rrn = '' THEN ? ELSE rrn END,
				status = CASE WHEN status = ? THEN status ELSE ? END,
				approved = CASE WHEN ? = ? THEN amount ELSE approved END WHERE id = ?`,
				resp.ResponseCode, resp.RRN, StatusOffline, status, status, StatusApproved, h.TxnID)
			return err
		}
		return setTxnStatus(tx, h.TxnID, status)
	})
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.acked = h
	t.mu.Unlock()
	kind := EventReversalAcknowledged
	if h.Kind == SAFAdvice {
		kind = EventAdviceAcknowledged
	}
	t.emit(Event{Kind: kind, STAN: resp.STAN, MTI: resp.MTI, Code: resp.ResponseCode,
		Detail: fmt.Sprintf("%s for %s/%s acknowledged: %s", h.Kind, h.OriginalMTI, h.OriginalSTAN, t.lookup(resp.ResponseCode).Meaning)})
	return nil
}

// toManual gives up on an entry: it leaves the queue for the manual reconciliation list.
func (t *Terminal) toManual(h *safRow, note string) error {
	h.State, h.Note = safManual, note
	// A manual entry is never sent again: it keeps the masked card number, like the
	// transaction it refers to.
	stored := h.Msg.Clone()
	scrubMsg(stored)
	row := *h
	row.Msg = stored
	if err := t.j.tx("move to manual reconciliation", func(tx *sql.Tx) error {
		if err := updateSAF(tx, &row); err != nil {
			return err
		}
		return scrubTxn(tx, h.TxnID)
	}); err != nil {
		return err
	}
	t.emit(Event{Kind: EventManualReconciliation, STAN: h.Msg.STAN, MTI: h.Msg.MTI, Code: h.Reason,
		Detail: fmt.Sprintf("%s for %s/%s (%s %s): %s", h.Kind, h.OriginalMTI, h.OriginalSTAN, h.MaskedPAN, iso.FormatMoney(h.Amount), note)})
	return nil
}

// safEntry reads entry id; nil once it was acknowledged (deleted).
func (t *Terminal) safEntry(id int64) (*safRow, error) {
	var out []*safRow
	err := t.j.tx("read SAF entry", func(tx *sql.Tx) error {
		var err error
		out, err = querySAF(tx, `WHERE id = ?`, id)
		return err
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out[0], nil
}

// DrainSAF sends the store-and-forward queue now (connecting and signing on if needed). It
// returns nil when the queue is empty, or an error wrapping ErrSAFPending.
func (t *Terminal) DrainSAF(ctx context.Context) error {
	var err error
	out := t.runOp(ctx, "drain_saf", false, func(ctx context.Context) Outcome {
		err = t.drainSAF(ctx, false)
		if err == nil && len(t.SAF()) > 0 {
			err = ErrSAFPending
		}
		return Outcome{}
	})
	if out.Err != nil {
		return out.Err
	}
	return err
}
