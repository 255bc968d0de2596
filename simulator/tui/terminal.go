package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
)

// Terminal is what the UI uses of the terminal engine; *simulator.Terminal satisfies it.
// Transactions are called from command goroutines; Snapshot from anywhere.
type Terminal interface {
	Sale(ctx context.Context, p simulator.Payment) simulator.Outcome
	Refund(ctx context.Context, p simulator.Payment) simulator.Outcome
	Balance(ctx context.Context, p simulator.Payment) simulator.Outcome
	PreAuth(ctx context.Context, p simulator.Payment) simulator.Outcome
	Complete(ctx context.Context, preauth simulator.Ref, amount int64) simulator.Outcome
	Void(ctx context.Context, ref simulator.Ref) simulator.Outcome
	Echo(ctx context.Context) simulator.Outcome
	SignOn(ctx context.Context) simulator.Outcome
	Settle(ctx context.Context) simulator.Outcome
	DrainSAF(ctx context.Context) error
	Reprint(ref simulator.Ref) (*simulator.Receipt, error)
	InjectDeviceFault(f simulator.DeviceFault)
	ClearDeviceFaults()
	Snapshot() simulator.Snapshot
	Transactions() []simulator.Txn
	SAF() []simulator.SAFEntry
	Profile() simulator.Profile
	// SetReceiptLang sets the language of the receipts printed from now on ("en", "zh").
	SetReceiptLang(lang string)
}

// runOp runs one terminal operation and turns its Outcome into a Result.
func runOp(ctx context.Context, term Terminal, op string, p payment, ref *simulator.Ref) Result {
	if term == nil {
		return Result{Op: op, Kind: KindError, Err: "no terminal"}
	}
	sp := simulator.Payment{Card: p.Card, Amount: p.Amount, Entry: p.Entry, PIN: p.PIN}
	var out simulator.Outcome
	switch op {
	case simulator.OpSale:
		out = term.Sale(ctx, sp)
	case simulator.OpRefund:
		out = term.Refund(ctx, sp)
	case simulator.OpBalance:
		out = term.Balance(ctx, sp)
	case simulator.OpPreAuth:
		out = term.PreAuth(ctx, sp)
	case simulator.OpCompletion:
		if ref == nil {
			return Result{Op: op, Kind: KindError, Err: "no pre-authorization to complete"}
		}
		out = term.Complete(ctx, *ref, p.Amount)
	case simulator.OpVoid:
		r := simulator.Ref{}
		if ref != nil {
			r = *ref
		}
		out = term.Void(ctx, r)
	case simulator.OpEcho:
		out = term.Echo(ctx)
	case simulator.OpSignOn:
		out = term.SignOn(ctx)
	case simulator.OpSettle:
		out = term.Settle(ctx)
	case OpDrainSAF:
		if err := term.DrainSAF(ctx); err != nil {
			kind := KindError
			if errors.Is(err, simulator.ErrSAFPending) {
				kind = simulator.KindReversalPending
			}
			return Result{Op: op, Kind: kind, Guidance: iso.GuidanceReversalPending, Err: iso.MaskText(err.Error())}
		}
		return Result{Op: op, Kind: KindSAFSent}
	default:
		return Result{Op: op, Kind: KindError, Err: fmt.Sprintf("unknown operation %q", op)}
	}
	return fromOutcome(op, out)
}

// fromOutcome converts the engine's Outcome into what the UI shows.
func fromOutcome(op string, o simulator.Outcome) Result {
	r := Result{
		Op:           op,
		Kind:         o.Kind,
		ResponseCode: o.ResponseCode,
		Guidance:     o.Guidance,
		STAN:         o.STAN,
		RRN:          o.RRN,
		AuthCode:     o.AuthCode,
		Amount:       o.Amount,
		Approved:     o.Approved,
		MaskedPAN:    iso.MaskText(o.MaskedPAN),
		Entry:        o.Entry,
		Balance:      o.Balance,
		Ref:          o.Ref(),
	}
	if r.Kind == "" {
		r.Kind = KindError
	}
	if o.Err != nil {
		r.Err = iso.MaskText(o.Err.Error())
	}
	if o.Receipt != nil {
		r.Receipt = receiptLines(o.Receipt.Customer)
		r.ReceiptHeld = !o.Receipt.Printed
	}
	if o.Last != nil {
		l := *o.Last
		l.MaskedPAN = iso.MaskText(l.MaskedPAN)
		r.Last = &l
	}
	if o.Reversal != nil {
		s := *o.Reversal
		s.MaskedPAN = iso.MaskText(s.MaskedPAN)
		r.Reversal = &s
	}
	for _, e := range o.Events {
		r.Events = append(r.Events, TermEvent{Time: e.Time, Kind: e.Kind, Text: iso.MaskText(e.Detail)})
	}
	return r
}

func receiptLines(text string) []string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		// Masked again here, as everything on screen; but not the retrieval reference
		// number, 12 digits that MaskText would take for a card number (the engine only
		// ever puts the card number on a slip masked).
		if !strings.HasPrefix(l, "RRN ") && !strings.HasPrefix(l, "参考号(REFER NO.):") {
			lines[i] = iso.MaskText(l)
		}
	}
	return lines
}

// reprint prints the last receipt again; the lines come back for the screen.
func reprint(term Terminal) reprintMsg {
	if term == nil {
		return reprintMsg{err: "no terminal"}
	}
	r, err := term.Reprint(simulator.Ref{})
	if err != nil {
		return reprintMsg{err: iso.MaskText(err.Error()), noPaper: errors.Is(err, simulator.ErrPrinterOut)}
	}
	return reprintMsg{lines: receiptLines(r.Customer)}
}

// injectDevice arms a device fault at the terminal: count 1 for the next transaction, 0
// until cleared.
func injectDevice(term Terminal, kind string, count int) {
	if term != nil {
		term.InjectDeviceFault(simulator.DeviceFault{Kind: kind, Count: count})
	}
}
