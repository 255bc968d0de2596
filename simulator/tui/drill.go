package tui

import (
	"slices"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
)

// Drill is one exercise: the trainer's faults are set up, the trainee is told the
// customer's situation and then does what they would do at the till; the UI watches the
// actions and scores them. cmd/posdrill converts the scenario library's drills to this.
type Drill struct {
	Name      string
	Title     string
	Situation string // what the customer wants and what is going on, for the trainee
	Debrief   string // why the right recovery is right, shown after scoring

	Faults       []FaultSpec // installed at the acquirer when the drill starts
	DeviceFaults []string    // injected at the terminal (once each) when the drill starts

	// Profile is the terminal set-up the drill needs (another merchant id, accepted brands,
	// ...); nil: the default terminal.
	Profile *simulator.Profile

	Card   string // the card the customer hands over (a wallet card name); "" if none
	Amount int64  // what the customer owes, minor units
	Entry  string // how the customer presents it ("" = the card's usual way)

	// Expected actions must all be done (any order); Forbidden ones must not be done.
	Expected  []Action
	Forbidden []Action
}

// Action is something a trainee does at the till, as drills name it (the scenario
// format's drill actions).
type Action string

// Actions the UI recognises. Terminal actions are detected from what the trainee keys in,
// judged against the drill's previous payment; till actions are declared in the drill panel.
const (
	ActSale     Action = "sale"
	ActPreAuth  Action = "preauth"
	ActComplete Action = "complete"
	ActRefund   Action = "refund"
	ActVoid     Action = "void"
	ActBalance  Action = "balance"
	ActEcho     Action = "echo"
	ActSignOn   Action = "sign_on"
	ActSettle   Action = "settle"
	ActDrainSAF Action = "drain_saf"
	// ActSaleAgain: another sale of the same amount after the previous one may have taken
	// the money or did not end approved (no answer, reversal, 94, host down): the classic
	// double charge.
	ActSaleAgain Action = "sale_again"
	// ActSameCardAgain: the same card again after a decline that forbids retrying it.
	ActSameCardAgain Action = "same_card_again"
	// ActOtherCard: a payment with a different card.
	ActOtherCard Action = "other_card"
	// ActManualRefund: a refund keyed after a payment that did not end approved.
	ActManualRefund Action = "manual_refund"
	// ActCheckLast: the last transaction's status looked up on the terminal.
	ActCheckLast Action = "check_last"
	// ActFallbackSwipe: the card swiped after its chip could not be read.
	ActFallbackSwipe Action = "fallback_swipe"
	// ActReenterPIN: the same card again after a wrong PIN (55).
	ActReenterPIN Action = "reenter_pin"
	// ActCorrectAmount: the amount keyed again with another value after 13 or 51.
	ActCorrectAmount Action = "correct_amount"
	// ActReprint: the last receipt printed again.
	ActReprint Action = "reprint"
	// Till actions, declared in the drill panel.
	ActCallHelpDesk Action = "call_help_desk"
	ActKeepCard     Action = "keep_card"
	ActOtherPayment Action = "other_payment" // cash or another method instead of a card
)

// Actions returns every action the UI can recognise, in a fixed order.
func Actions() []Action {
	return []Action{ActSale, ActPreAuth, ActComplete, ActRefund, ActVoid, ActBalance, ActEcho, ActSignOn, ActSettle,
		ActDrainSAF, ActSaleAgain, ActSameCardAgain, ActOtherCard, ActManualRefund, ActCheckLast,
		ActFallbackSwipe, ActReenterPIN, ActCorrectAmount, ActReprint, ActCallHelpDesk,
		ActKeepCard, ActOtherPayment}
}

// declarable are the till actions offered in the drill panel, in key order 1…
var declarable = []Action{ActOtherPayment, ActCallHelpDesk, ActKeepCard}

// attempt is one thing the trainee did during a drill.
type attempt struct {
	Time    time.Time
	Op      string
	Card    string
	Amount  int64
	Entry   string
	Actions []Action
	Result  *Result // filled when the outcome arrives (terminal operations)
}

// drillRun is a drill in progress.
type drillRun struct {
	drill    Drill
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
		if (a.Op == OpSale || a.Op == OpRefund || a.Op == OpPreAuth || a.Op == OpComplete) && a.Result != nil {
			return a
		}
	}
	return nil
}

// did reports whether the trainee did action a.
func (d *drillRun) did(a Action) bool {
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
	case OpSale, OpRefund, OpPreAuth, OpComplete, OpBalance, OpVoid, OpSettle, OpEcho, OpSignOn, OpDrainSAF:
		return true
	}
	return false
}

// doubleChargeRisk reports whether a new sale of the same amount after r risks charging
// the customer twice: the money was taken, may be held, or the outcome is not known.
func doubleChargeRisk(r *Result) bool {
	switch r.Kind {
	case KindApproved, KindPartial, KindOffline, KindTimedOutReversed, KindReversalPending,
		KindNoAnswer, KindNotSent, KindPowerLoss:
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
func classify(op string, p payment, prev *attempt) []Action {
	switch op {
	case OpRefund:
		if prev != nil && prev.Op == OpSale && !approvedKind(prev.Result.Kind) {
			return []Action{ActRefund, ActManualRefund}
		}
		return []Action{ActRefund}
	case OpVoid:
		return []Action{ActVoid}
	case OpPreAuth:
		return []Action{ActPreAuth}
	case OpComplete:
		return []Action{ActComplete}
	case OpBalance:
		return []Action{ActBalance}
	case OpSignOn:
		return []Action{ActSignOn}
	case OpEcho:
		return []Action{ActEcho}
	case OpSettle:
		return []Action{ActSettle}
	case OpDrainSAF:
		return []Action{ActDrainSAF}
	case OpReprint:
		return []Action{ActReprint}
	case OpCheckLast:
		return []Action{ActCheckLast}
	case OpSale:
	default:
		return nil
	}
	acts := []Action{ActSale}
	if prev != nil && prev.Op == OpPreAuth && approvedKind(prev.Result.Kind) && p.Card == prev.Card {
		// the hold is still there: a sale charges the customer a second time
		return append(acts, ActSaleAgain)
	}
	if prev == nil || prev.Op != OpSale {
		return acts
	}
	r := prev.Result
	if p.Amount == prev.Amount && doubleChargeRisk(r) {
		acts = append(acts, ActSaleAgain)
	}
	if p.Card != prev.Card {
		return append(acts, ActOtherCard)
	}
	switch {
	case p.Entry == iso.EntrySwipe || p.Entry == iso.EntryFallback:
		if r.Kind == KindDeviceFault && r.Guidance == iso.GuidanceChipFallback {
			acts = append(acts, ActFallbackSwipe)
		}
	}
	if r.Kind == KindDeclined {
		switch r.ResponseCode {
		case iso.RCIncorrectPIN:
			acts = append(acts, ActReenterPIN)
		case iso.RCInvalidAmount, iso.RCInsufficientFunds:
			if p.Amount != prev.Amount {
				acts = append(acts, ActCorrectAmount)
			}
		}
		if forbidsRetry(r.ResponseCode) {
			acts = append(acts, ActSameCardAgain)
		}
	}
	return acts
}

func approvedKind(kind string) bool {
	return kind == KindApproved || kind == KindPartial || kind == KindOffline
}

// Debrief is a scored drill.
type Debrief struct {
	Passed  bool
	Score   int // expectations met
	Max     int // expectations
	Lines   []DebriefLine
	Charged *int64 // what the customer's card paid in the end (host ledger), when known
}

// DebriefLine is one judged expectation.
type DebriefLine struct {
	Action    Action
	Forbidden bool // a must-not
	OK        bool // done (expected) / avoided (forbidden)
}

// score judges a finished drill. charged is the card's host ledger change, nil when the
// host could not be asked.
func score(d *drillRun, charged *int64) Debrief {
	db := Debrief{Charged: charged}
	for _, a := range d.drill.Expected {
		db.Lines = append(db.Lines, DebriefLine{Action: a, OK: d.did(a)})
	}
	for _, a := range d.drill.Forbidden {
		db.Lines = append(db.Lines, DebriefLine{Action: a, Forbidden: true, OK: !d.did(a)})
	}
	for _, l := range db.Lines {
		db.Max++
		if l.OK {
			db.Score++
		}
	}
	db.Passed = db.Score == db.Max
	return db
}
