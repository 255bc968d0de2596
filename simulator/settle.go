package simulator

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/posdrill/posdrill/iso"
)

// Processing code of a settlement request (DE3). The host reads the totals, not this code.
const procSettlement = "920000"

// totalsOf counts what a batch settles: approved (or partially approved, at the approved
// amount) sales, completions and offline sales, and refunds. Pre-auths (their completion
// counts), declined, reversed and voided transactions and balance inquiries do not count.
func totalsOf(rows []*txnRow) Totals {
	var tot Totals
	for _, r := range rows {
		sale, refund := counts(r)
		switch {
		case sale:
			tot.SalesCount++
			tot.SalesAmount += r.Approved
		case refund:
			tot.RefundsCount++
			tot.RefundsAmount += r.Approved
		}
	}
	return tot
}

func counts(r *txnRow) (sale, refund bool) {
	if r.Settled {
		return false, false
	}
	switch r.Status {
	case StatusApproved, StatusPartial, StatusOffline:
	default:
		return false, false
	}
	switch r.Operation {
	case OpSale, OpCompletion, OpOffline:
		return true, false
	case OpRefund:
		return false, true
	}
	return false, false
}

// Settle closes the batch (0500 with DE60 batch number, DE74/DE86 refunds count/amount,
// DE76/DE88 sales count/amount; UnionPay: the totals in DE48). The SAF queue must be empty
// first. On 95 (UnionPay: or DE48 "out of balance") every counted transaction is uploaded
// (0320 with its original STAN) and the 0500 is sent again — UnionPay instead sends the
// end-of-upload 0320 (DE60.3 202), whose answer ends the settlement. On 00 the batch closes
// and the next batch number opens.
func (t *Terminal) Settle(ctx context.Context) Outcome {
	return t.run(ctx, OpSettle, func(ctx context.Context) Outcome {
		out := Outcome{}
		fail := func(guidance string, err error) Outcome {
			out.Kind, out.Guidance, out.Err = KindSettleFailed, guidance, fmt.Errorf("settle: %w", err)
			return out
		}
		conn, err := t.connectAndDrain(ctx)
		if err != nil {
			return fail(iso.GuidanceHostUnreachable, err)
		}
		if saf := t.SAF(); len(saf) > 0 {
			return fail(iso.GuidanceReversalPending, fmt.Errorf("%w: %d entries, head %s for %s/%s",
				ErrSAFPending, len(saf), saf[0].Kind, saf[0].OriginalMTI, saf[0].OriginalSTAN))
		}
		rows, err := t.j.openTxns()
		if err != nil {
			return fail(iso.GuidanceCheckLast, err)
		}
		batch, err := t.j.batch()
		if err != nil {
			return fail(iso.GuidanceCheckLast, err)
		}
		tot := totalsOf(rows)
		out.Amount = tot.SalesAmount - tot.RefundsAmount
		t.setPhase(PhaseSettling, t.clk.Now())
		resp, err := t.settlement(ctx, conn, batch, tot, &out)
		if err != nil {
			return fail(iso.GuidanceIssuerUnavailable, err)
		}
		if t.unbalanced(resp) {
			t.emit(Event{Kind: EventBatchUpload, STAN: resp.STAN, Code: resp.ResponseCode,
				Detail: fmt.Sprintf("totals differ from the host's: uploading batch %s", batch)})
			uploaded := 0
			for _, r := range rows {
				if s, rf := counts(r); !s && !rf {
					continue
				}
				if err := t.upload(ctx, conn, batch, r); err != nil {
					out.ResponseCode = iso.RCReconcileError
					return fail(iso.GuidanceReconcileError, err)
				}
				uploaded++
			}
			if t.cup {
				// UnionPay: the end-of-upload message ends the settlement; no second 0500.
				resp, err = t.uploadEnd(ctx, conn, batch, uploaded, &out)
			} else {
				resp, err = t.settlement(ctx, conn, batch, tot, &out)
			}
			if err != nil {
				return fail(iso.GuidanceIssuerUnavailable, err)
			}
		}
		out.ResponseCode = resp.ResponseCode
		if resp.ResponseCode != iso.RCApproved {
			return fail(t.lookup(resp.ResponseCode).Guidance, fmt.Errorf("host answered %s (%s)", resp.ResponseCode, t.lookup(resp.ResponseCode).Meaning))
		}
		if err := t.closeBatch(); err != nil {
			return fail(iso.GuidanceCheckLast, err)
		}
		next, _ := t.j.batch()
		t.emit(Event{Kind: EventBatchClosed, STAN: resp.STAN, Code: resp.ResponseCode,
			Detail: fmt.Sprintf("batch %s closed: sales %d / %s, refunds %d / %s; batch %s open",
				batch, tot.SalesCount, iso.FormatMoney(tot.SalesAmount), tot.RefundsCount, iso.FormatMoney(tot.RefundsAmount), next)})
		out.Kind, out.Guidance = KindSettled, iso.GuidanceSettled
		s := slip{title: "SETTLEMENT", when: t.clk.Now(), stan: out.STAN, result: "BATCH " + batch + " CLOSED",
			notes: []string{
				fmt.Sprintf("SALES    %4d  %s %s", tot.SalesCount, t.currencyName(), iso.FormatMoney(tot.SalesAmount)),
				fmt.Sprintf("REFUNDS  %4d  %s %s", tot.RefundsCount, t.currencyName(), iso.FormatMoney(tot.RefundsAmount)),
			}}
		t.issue(&out, 0, ReceiptSettlement, s)
		return out
	})
}

// settlement sends one 0500 with the totals.
func (t *Terminal) settlement(ctx context.Context, conn *iso.Conn, batch string, tot Totals, out *Outcome) (*iso.Message, error) {
	stan, err := t.j.nextSTAN()
	if err != nil {
		return nil, err
	}
	t.setSTAN(stan)
	out.STAN = stan
	m := t.baseMessage(iso.MTISettlement, stan, t.clk.Now())
	m.LocalTime, m.LocalDate = "", ""
	m.ProcessingCode = procSettlement
	m.Currency = t.profile.Currency
	m.Batch = batch
	if t.cup {
		// UnionPay: the totals travel in DE48; every card counts as domestic (the terminal
		// does not tell foreign cards apart).
		ct := iso.CUPTotals{Domestic: iso.CUPSideTotals{DebitAmount: tot.SalesAmount, DebitCount: int64(tot.SalesCount),
			CreditAmount: tot.RefundsAmount, CreditCount: int64(tot.RefundsCount), Result: iso.CUPRecAsked}}
		if err := ct.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", iso.ErrNotSent, err)
		}
		if err := m.Set(48, ct.String()); err != nil {
			return nil, fmt.Errorf("%w: field 48: %w", iso.ErrNotSent, err)
		}
		return t.exchange(ctx, conn, m)
	}
	m.CreditsNumber = fmt.Sprintf("%010d", tot.RefundsCount)
	m.CreditsAmount = fmt.Sprintf("%016d", tot.RefundsAmount)
	m.DebitsNumber = fmt.Sprintf("%010d", tot.SalesCount)
	m.DebitsAmount = fmt.Sprintf("%016d", tot.SalesAmount)
	return t.exchange(ctx, conn, m)
}

// unbalanced says whether a settlement answer asks for a batch upload: 95, or (UnionPay) a
// DE48 whose reconciliation result is "out of balance" on either side, as real CUP hosts
// answer with 00.
func (t *Terminal) unbalanced(resp *iso.Message) bool {
	if resp.ResponseCode == iso.RCReconcileError {
		return true
	}
	if !t.cup || resp.ResponseCode != iso.RCApproved {
		return false
	}
	v, _ := resp.Get(48)
	ct, err := iso.ParseCUPTotals(v)
	return err == nil && (ct.Domestic.Result == iso.CUPRecUnbalanced || ct.Foreign.Result == iso.CUPRecUnbalanced)
}

// uploadEnd sends the UnionPay end-of-upload 0320: DE60.3 202 (the uploads were sent as
// magnetic-stripe ones, 201, so not 207), DE48 the number of transactions uploaded.
func (t *Terminal) uploadEnd(ctx context.Context, conn *iso.Conn, batch string, n int, out *Outcome) (*iso.Message, error) {
	stan, err := t.j.nextSTAN()
	if err != nil {
		return nil, err
	}
	t.setSTAN(stan)
	out.STAN = stan
	m := t.baseMessage(iso.MTIBatchUpload, stan, t.clk.Now())
	m.LocalTime, m.LocalDate = "", ""
	m.Batch = iso.DE60{Type: iso.CUPTypeManagement, Batch: batch, NetCode: iso.CUPNetUploadEnd}.String()
	if err := m.Set(48, iso.CUPUploadCount(n)); err != nil {
		return nil, fmt.Errorf("%w: field 48: %w", iso.ErrNotSent, err)
	}
	t.emit(Event{Kind: EventBatchUpload, STAN: stan, Detail: fmt.Sprintf("end of upload: %d transactions of batch %s (DE60.3 %s)", n, batch, iso.CUPNetUploadEnd)})
	return t.exchange(ctx, conn, m)
}

// upload sends one transaction of the batch as a 0320 (DE11 its original STAN).
func (t *Terminal) upload(ctx context.Context, conn *iso.Conn, batch string, r *txnRow) error {
	m := t.baseMessage(iso.MTIBatchUpload, r.STAN, t.clk.Now())
	m.LocalTime, m.LocalDate = r.Msg.LocalTime, r.Msg.LocalDate
	m.ProcessingCode = r.Msg.ProcessingCode
	m.Amount = iso.FormatAmount(r.Approved)
	m.RRN, m.AuthCode = r.RRN, r.AuthCode
	m.EntryMode = r.Msg.EntryMode
	m.Currency = t.profile.Currency
	m.Batch = batch
	m.OriginalData = iso.OriginalData{MTI: r.MTI, STAN: r.STAN, Transmitted: r.Msg.TransmissionTime, AcquirerID: t.profile.AcquirerID}.String()
	resp, err := t.exchange(ctx, conn, m)
	if err != nil {
		return fmt.Errorf("upload of STAN %s: %w", r.STAN, err)
	}
	if resp.ResponseCode != iso.RCApproved {
		return fmt.Errorf("upload of STAN %s refused with %s", r.STAN, resp.ResponseCode)
	}
	return nil
}

// closeBatch marks the batch settled (open pre-auth holds stay for their completion) and
// opens the next batch number.
func (t *Terminal) closeBatch() error {
	return t.j.tx("close batch", func(tx *sql.Tx) error {
		rows, err := tx.Query(`UPDATE txns SET settled = 1 WHERE settled = 0 AND NOT (op = ? AND status IN (?, ?)) RETURNING id`,
			OpPreAuth, StatusApproved, StatusPartial)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Settled: nothing will be voided or reversed any more; the card data goes.
		for _, id := range ids {
			if err := scrubTxn(tx, id); err != nil {
				return err
			}
		}
		b, err := getMeta(tx, "batch", 1)
		if err != nil {
			return err
		}
		return setMeta(tx, "batch", wrap6(b))
	})
}
