package acquirer

import (
	"context"
	"strings"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
)

// Hand answers: a person (the classroom's trainer) decides a terminal's request instead of
// the host, for free-form role play. The acquirer asks Options.ByHand for every
// authorization and financial request before deciding it; the answer becomes the
// request's fault firing (a decline, or no answer), so the ledger, journal and duplicate
// checks treat it exactly as they treat a fault — nothing of the authorizer is copied.

// Hand verdicts.
const (
	HandApprove = "approve" // the host decides as usual (its ledger and checks apply)
	HandDecline = "decline" // answer with Code
	HandSilent  = "never"   // decided and committed, never answered: the terminal times out
)

// HandRequest is what the person deciding is shown: masked, no card data beyond 6/4.
type HandRequest struct {
	Terminal       string `json:"terminal"`
	MTI            string `json:"mti"`
	STAN           string `json:"stan"`
	ProcessingCode string `json:"processing_code"`
	MaskedPAN      string `json:"masked_pan"`
	Card           string `json:"card,omitempty"` // fixture name, when known
	Amount         int64  `json:"amount"`         // minor units
}

// HandAnswer is the person's decision.
type HandAnswer struct {
	Verdict string // HandApprove, HandDecline, HandSilent
	Code    string // DE39 for HandDecline (default 05)
}

// ByHand lets a person answer a terminal's request. Answer returns ok=false for requests it
// does not hold (the host decides as usual); otherwise it may block until the person
// decides or ctx ends (the acquirer closing), in which case the host decides as usual.
type ByHand interface {
	Answer(ctx context.Context, r HandRequest) (HandAnswer, bool)
}

// handFiring asks Options.ByHand about msg and returns the firing its answer stands for:
// firing unchanged when nobody holds the request or the answer is approve.
func (a *Acquirer) handFiring(conn int64, msg *iso.Message, card string, firing *fault.Firing) *fault.Firing {
	if a.o.ByHand == nil {
		return firing
	}
	switch iso.BaseMTI(msg.MTI) {
	case iso.MTIAuthRequest, iso.MTIFinancialRequest:
	default:
		return firing
	}
	amt, _ := iso.ParseAmount(msg.Amount)
	req := HandRequest{Terminal: strings.TrimSpace(msg.TerminalID), MTI: msg.MTI, STAN: msg.STAN,
		ProcessingCode: msg.ProcessingCode, MaskedPAN: iso.MaskPAN(msg.PANOf()), Card: card, Amount: amt}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	// A person is not part of virtual time: while they think, this goroutine does not
	// count as busy, so a virtual clock can move the terminal's timeout on.
	a.clk.Release()
	ans, ok := a.o.ByHand.Answer(ctx, req)
	a.clk.Hold()
	if !ok || ctx.Err() != nil {
		return firing
	}
	var f *fault.Firing
	switch ans.Verdict {
	case HandDecline:
		code := ans.Code
		if code == "" {
			code = iso.RCDoNotHonour
		}
		f = &fault.Firing{RuleID: "hand", RuleName: "by hand", Action: fault.ActionDecline, Params: fault.Params{Code: code}}
	case HandSilent:
		f = &fault.Firing{RuleID: "hand", RuleName: "by hand", Action: fault.ActionNoResponse}
	default:
		return nil // approve: the host decides, and no fault of the engine applies
	}
	a.m.faults.WithLabelValues(f.Action).Inc()
	a.fired(conn, f, msg)
	return f
}
