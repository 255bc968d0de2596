package simulator

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

// The UnionPay domestic conventions (profile preset "cup"): what the terminal adds to each
// request, and what it does about the host's requests to sign on again.

// lookup reads a response code with the profile's table.
func (t *Terminal) lookup(code string) iso.Code { return t.codes.Lookup(code) }

// cupFields gives a request its UnionPay DE60 (60.1 transaction type, 60.2 the open batch,
// 60.3 network management code). CUP messages have no secondary bitmap, so a network code
// travels in DE60.3, not DE70. Settlement totals travel in DE48 (settle.go).
func (t *Terminal) cupFields(m *iso.Message) {
	if iso.BatchNumber(m) != "" && len(m.Batch) >= 11 {
		return // already a CUP DE60 (a repeat of a queued message)
	}
	batch, err := t.j.batch()
	if err != nil || len(batch) != 6 {
		batch = "000001"
	}
	d := iso.DE60{Type: iso.CUPTypeManagement, Batch: batch, NetCode: iso.CUPNetNone}
	switch iso.BaseMTI(m.MTI) {
	case iso.MTINetworkRequest:
		switch m.NetworkCode {
		case iso.NetSignOn:
			d.NetCode = iso.CUPNetSignOnTDES
		case iso.NetSignOff:
			d.NetCode = iso.CUPNetSignOff
		case iso.NetEcho:
			d.NetCode = iso.CUPNetEcho
		}
		m.NetworkCode = ""
		if m.MerchantID == "" {
			m.MerchantID = t.profile.MID
		}
		m.Private63 = "001" // operator number: the sign-on is made by operator 001
	case iso.MTISettlement, iso.MTIBatchUpload:
		if b := strings.TrimSpace(m.Batch); len(b) == 6 {
			d.Batch = b // the batch being settled, not a newer one
		}
		d.NetCode = iso.CUPNetSettle
	default:
		d.Type = cupType(m)
		d.ReadCap, d.ICCond = "5", "0" // reads chip, contactless and stripe; IC condition normal
	}
	m.Batch = d.String()
}

// cupType is DE60.1 of a financial message; a reversal carries its original's type.
func cupType(m *iso.Message) string {
	mti := iso.BaseMTI(m.MTI)
	if mti == iso.MTIReversalRequest || mti == iso.MTIReversalAdvice {
		if od, err := iso.ParseOriginalData(m.OriginalData); err == nil {
			mti = od.MTI
		}
	}
	proc := m.ProcessingCode
	switch {
	case mti == iso.MTIAuthRequest:
		return iso.CUPTypePreAuth
	case mti == iso.MTIFinancialAdvice && m.OriginalData != "" && iso.BaseMTI(m.MTI) == iso.MTIFinancialAdvice:
		return iso.CUPTypeCompletion
	case mti == iso.MTIFinancialAdvice:
		return iso.CUPTypeOfflineAdvice
	case strings.HasPrefix(proc, "20"):
		return iso.CUPTypeRefund
	case strings.HasPrefix(proc, "31"):
		return iso.CUPTypeBalance
	}
	return iso.CUPTypeSale
}

// noteSignOnRequests remembers that the host wants a sign-on after this operation: the
// UnionPay message header's processing requirement 3, or a response code whose action is
// sign_on (A0, 99, A7, 77, C1 in the CUP table). Answers to a sign-on itself do not count.
func (t *Terminal) noteSignOnRequests(req, resp *iso.Message) {
	if iso.BaseMTI(req.MTI) == iso.MTINetworkRequest && iso.NetworkCodeOf(req) == iso.NetSignOn {
		return
	}
	var why string
	if len(resp.Header) == iso.CUPHeaderLen {
		if h, err := iso.ParseCUPHeader(resp.Header); err == nil && h.Processing == iso.CUPProcSignOn {
			why = "message header processing requirement 3 (sign on again)"
		}
	}
	if c := t.lookup(resp.ResponseCode); c.Action == iso.ActionSignOn {
		why = fmt.Sprintf("response code %s (%s)", resp.ResponseCode, c.Meaning)
	}
	if why == "" {
		return
	}
	t.mu.Lock()
	t.resignOn = why
	t.mu.Unlock()
	t.emit(Event{Kind: EventSignOnRequested, STAN: resp.STAN, MTI: resp.MTI, Code: resp.ResponseCode,
		Detail: "host asks for a new sign-on after this transaction: " + why})
}

// honourSignOnRequest signs on again when the host asked for it during the operation that
// just ended (the current transaction finishes first). A failure is reported by sign-on's
// own events; the request stays, so the next operation's link signs on.
func (t *Terminal) honourSignOnRequest(ctx context.Context) {
	t.mu.Lock()
	why := t.resignOn
	if why != "" {
		t.signedOn = false
	}
	t.mu.Unlock()
	if why == "" {
		return
	}
	conn, err := t.link(ctx)
	if err != nil {
		return
	}
	t.mu.Lock()
	done := t.signedOn
	t.mu.Unlock()
	if !done {
		_ = t.signOn(ctx, conn)
	}
}

// syncBatch adopts the batch number a UnionPay sign-on answer gives in DE60.2 when it is not
// the terminal's: the host has settled the terminal's batch (its settlement answer never
// arrived), so what the terminal still holds open is closed and the host's number opens.
func (t *Terminal) syncBatch(resp *iso.Message) error {
	d, err := iso.ParseDE60(resp.Batch)
	if err != nil || len(resp.Batch) < 11 {
		return nil
	}
	cur, err := t.j.batch()
	if err != nil || cur == d.Batch {
		return err
	}
	n, err := strconv.Atoi(d.Batch)
	if err != nil || n <= 0 {
		return nil
	}
	if err := t.j.tx("sync batch number", func(tx *sql.Tx) error {
		if _, err := tx.Exec(`UPDATE txns SET settled = 1 WHERE settled = 0 AND NOT (op = ? AND status IN (?, ?))`,
			OpPreAuth, StatusApproved, StatusPartial); err != nil {
			return err
		}
		return setMeta(tx, "batch", n)
	}); err != nil {
		return err
	}
	t.emit(Event{Kind: EventBatchClosed, STAN: resp.STAN, Code: resp.ResponseCode,
		Detail: fmt.Sprintf("the host gave batch %s at sign-on: batch %s was settled at the host (its settlement answer never arrived); batch %s open", d.Batch, cur, d.Batch)})
	return nil
}
