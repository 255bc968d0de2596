package tui

import (
	"slices"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// Drill is one exercise: the trainer's faults are set up, the trainee is told the
// customer's situation and then does what they would do at the till; the UI watches the
// actions and scores them. package trainer converts the scenario library's drills to this.
type Drill struct {
	Name string
	// Title, Topic, Situation, Says and Debrief are shown in the UI's language (the other one
	// when a drill gives only one).
	Title     guidance.Text // for the menu and the title bar: names the drill, not its answer
	Topic     guidance.Text // what the drill was about, shown with the debrief; may be empty
	Situation guidance.Text // what the cashier sees and hears before acting: never the answer
	Says      guidance.Text // what the customer says at the till
	Debrief   guidance.Text // what happened at the host and the right recovery, after scoring

	Faults       []FaultSpec // installed at the acquirer when the drill starts
	DeviceFaults []string    // injected at the terminal (once each) when the drill starts

	// Profile is the terminal set-up the drill needs (another merchant id, accepted brands,
	// ...); nil: the default terminal.
	Profile *simulator.Profile

	Card   string // the card the customer hands over (a wallet card name); "" if none
	Amount int64  // what the customer owes, minor units
	Entry  string // how the customer presents it ("" = the card's usual way)

	// Expected actions must all be done (any order); Forbidden ones must not be done. Both
	// are drill actions (simulator.DrillActions).
	Expected  []string
	Forbidden []string
}

// declarable are the till actions offered in the drill panel, in key order 1…
var declarable = []string{simulator.ActOtherPayment, simulator.ActCallHelpDesk, simulator.ActKeepCard}

// attempt is one thing the trainee did during a drill.
type attempt struct {
	Time    time.Time
	Op      string
	Card    string
	Amount  int64
	Entry   string
	Actions []string
	Result  *Result // filled when the outcome arrives (terminal operations)
}

// drillRun is a drill in progress.
type drillRun struct {
	drill    Drill
	started  time.Time
	ready    bool   // faults installed
	setupErr string // the faults could not be installed
	log      []attempt
	start    *int64 // the customer's available balance when the drill started
	done     bool
	debrief  *Debrief
}

// lastPayment is the drill's most recent sale or refund with an outcome.
func (d *drillRun) lastPayment() *attempt {
	for i := len(d.log) - 1; i >= 0; i-- {
		a := &d.log[i]
		if (a.Op == simulator.OpSale || a.Op == simulator.OpRefund || a.Op == simulator.OpPreAuth || a.Op == simulator.OpCompletion) && a.Result != nil {
			return a
		}
	}
	return nil
}

// did reports whether the trainee did action a.
func (d *drillRun) did(a string) bool {
	for _, at := range d.log {
		if slices.Contains(at.Actions, a) {
			return true
		}
	}
	return false
}

// complete reports whether every expected action was done and nothing is in flight.
func (d *drillRun) complete() bool {
	if len(d.drill.Expected) == 0 {
		return false
	}
	for _, a := range d.drill.Expected {
		if !d.did(a) {
			return false
		}
	}
	for _, at := range d.log {
		if isTerminalOp(at.Op) && at.Result == nil {
			return false
		}
	}
	return true
}

func isTerminalOp(op string) bool {
	switch op {
	case simulator.OpSale, simulator.OpRefund, simulator.OpPreAuth, simulator.OpCompletion, simulator.OpBalance, simulator.OpVoid, simulator.OpSettle, simulator.OpEcho, simulator.OpSignOn, OpDrainSAF:
		return true
	}
	return false
}

// doubleChargeRisk reports whether a new sale of the same amount after r risks charging
// the customer twice: the money was taken, may be held, or the outcome is not known.
func doubleChargeRisk(r *Result) bool {
	switch r.Kind {
	case simulator.KindApproved, simulator.KindPartiallyApproved, simulator.KindOfflineApproved, simulator.KindTimedOutReversed, simulator.KindReversalPending, simulator.KindAnswerRejected,
		simulator.KindNoAnswer, simulator.KindNotSent, simulator.KindPowerLoss:
		return true
	}
	return r.ResponseCode == iso.RCDuplicate
}

// forbidsRetry reports whether a decline code means the same card must not be tried again.
func forbidsRetry(rc string) bool {
	switch iso.LookupCode(rc).Retry {
	case iso.RetryNo, iso.RetryOtherCard, iso.RetryNever:
		return true
	}
	return false
}

// classify names the actions of a new operation, judged against the drill's previous
// payment (nil for the first).
func classify(op string, p payment, prev *attempt) []string {
	switch op {
	case simulator.OpRefund:
		if prev != nil && prev.Op == simulator.OpSale && !approvedKind(prev.Result.Kind) {
			return []string{simulator.ActRefund, simulator.ActManualRefund}
		}
		return []string{simulator.ActRefund}
	case simulator.OpVoid:
		return []string{simulator.ActVoid}
	case simulator.OpPreAuth:
		return []string{simulator.ActPreAuth}
	case simulator.OpCompletion:
		return []string{simulator.ActComplete}
	case simulator.OpBalance:
		return []string{simulator.ActBalance}
	case simulator.OpSignOn:
		return []string{simulator.ActSignOn}
	case simulator.OpEcho:
		return []string{simulator.ActEcho}
	case simulator.OpSettle:
		return []string{simulator.ActSettle}
	case OpDrainSAF:
		return []string{simulator.ActDrainSAF}
	case OpReprint:
		return []string{simulator.ActReprint}
	case OpCheckLast:
		return []string{simulator.ActCheckLast}
	case simulator.OpSale:
	default:
		return nil
	}
	acts := []string{simulator.ActSale}
	if prev != nil && prev.Op == simulator.OpPreAuth && approvedKind(prev.Result.Kind) && p.Card == prev.Card {
		// the hold is still there: a sale charges the customer a second time
		return append(acts, simulator.ActSaleAgain)
	}
	if prev == nil || prev.Op != simulator.OpSale {
		return acts
	}
	r := prev.Result
	if p.Amount == prev.Amount && doubleChargeRisk(r) {
		acts = append(acts, simulator.ActSaleAgain)
	}
	if p.Card != prev.Card {
		return append(acts, simulator.ActOtherCard)
	}
	switch {
	case p.Entry == iso.EntrySwipe || p.Entry == iso.EntryFallback:
		if r.Kind == simulator.KindDeviceFault && r.Guidance == iso.GuidanceChipFallback {
			acts = append(acts, simulator.ActFallbackSwipe)
		}
	}
	if r.Kind == simulator.KindDeclined {
		switch r.ResponseCode {
		case iso.RCIncorrectPIN:
			acts = append(acts, simulator.ActReenterPIN)
		case iso.RCInvalidAmount, iso.RCInsufficientFunds:
			if p.Amount != prev.Amount {
				acts = append(acts, simulator.ActCorrectAmount)
			}
		}
		if forbidsRetry(r.ResponseCode) {
			acts = append(acts, simulator.ActSameCardAgain)
		}
	}
	return acts
}

func approvedKind(kind string) bool {
	return kind == simulator.KindApproved || kind == simulator.KindPartiallyApproved || kind == simulator.KindOfflineApproved
}

// Debrief is a scored drill: the one scorer's judgement (simulator.ScoreDrill) and what the
// customer paid.
type Debrief struct {
	simulator.DrillScore
	Charged *int64 // what the customer's card paid in the end (host ledger), when known
}

// score judges a finished drill. charged is the card's host ledger change, nil when the
// host could not be asked.
func score(d *drillRun, charged *int64) Debrief {
	var done []string
	for _, at := range d.log {
		done = append(done, at.Actions...)
	}
	return Debrief{DrillScore: simulator.ScoreDrill(d.drill.Expected, d.drill.Forbidden, done), Charged: charged}
}
