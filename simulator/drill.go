package simulator

import "slices"

// Drill actions: what a trainee does at the training terminal. This is the one vocabulary:
// a scenario's drill block names expected and forbidden actions from it (the scenario parser
// checks), the training UI detects them from what the trainee keys in or declares, and
// ScoreDrill judges them. Terminal actions are named after the operations; the others are
// judged against the drill's previous payment, or declared at the till.
const (
	ActSale     = "sale"
	ActRefund   = "refund"
	ActPreAuth  = "preauth"
	ActComplete = "complete"
	ActVoid     = "void"
	ActBalance  = "balance"
	ActEcho     = "echo"
	ActSignOn   = "sign_on"
	ActSettle   = "settle"
	ActDrainSAF = "drain_saf"

	// ActSaleAgain: another sale of the same amount after the previous one may have taken
	// the money or did not end approved (no answer, reversal, 94, host down; or a hold from
	// an approved pre-authorization) — the classic double charge.
	ActSaleAgain = "sale_again"
	// ActSameCardAgain: the same card presented again after a decline that forbids a retry
	// (54, 41/43, 05, 75, 58, ...).
	ActSameCardAgain = "same_card_again"
	// ActOtherCard: a payment with a different card of the wallet.
	ActOtherCard = "other_card"
	// ActManualRefund: a refund keyed after a payment that did not end approved (the
	// terminal already reversed it, or it never charged).
	ActManualRefund = "manual_refund"
	// ActCheckLast: the last transaction's status looked up (journal, host ledger,
	// last-transaction screen) before acting.
	ActCheckLast = "check_last"
	// ActFallbackSwipe: the card swiped after its chip could not be read.
	ActFallbackSwipe = "fallback_swipe"
	// ActReenterPIN: the same card again after a wrong PIN (55).
	ActReenterPIN = "reenter_pin"
	// ActCorrectAmount: the amount keyed again with another value after 13 or 51.
	ActCorrectAmount = "correct_amount"
	// ActReprint: the last receipt printed again (after the printer fault).
	ActReprint = "reprint"

	// Till actions, declared by the trainee (the UI's drill panel).

	// ActCallHelpDesk: "call the help desk" (03, 58, 30, 96 twice).
	ActCallHelpDesk = "call_help_desk"
	// ActKeepCard: the pick-up procedure (41/43/04/07): keep the card, stay calm.
	ActKeepCard = "keep_card"
	// ActOtherPayment: the customer pays by cash or another method instead of a card.
	ActOtherPayment = "other_payment"
)

var drillActions = []string{
	ActSale, ActRefund, ActPreAuth, ActComplete, ActVoid, ActBalance, ActEcho, ActSignOn, ActSettle,
	ActDrainSAF, ActSaleAgain, ActSameCardAgain, ActOtherCard, ActManualRefund, ActCheckLast,
	ActFallbackSwipe, ActReenterPIN, ActCorrectAmount, ActReprint, ActCallHelpDesk,
	ActKeepCard, ActOtherPayment,
}

// DrillActions returns every drill action, in a fixed order.
func DrillActions() []string { return slices.Clone(drillActions) }

// DrillScore is how a trainee did at a drill.
type DrillScore struct {
	Passed bool
	Score  int         // expectations met
	Max    int         // expectations: expected actions plus forbidden ones
	Lines  []DrillLine // expected actions first, then forbidden ones, in the drill's order
}

// DrillLine is one judged expectation.
type DrillLine struct {
	Action    string
	Forbidden bool // a must-not
	OK        bool // done (expected) / avoided (forbidden)
}

// ScoreDrill judges what a trainee did (actions in order, repeats allowed) against a drill:
// it passes when every expected action was done and no forbidden one was.
func ScoreDrill(expected, forbidden, done []string) DrillScore {
	var s DrillScore
	for _, a := range expected {
		s.Lines = append(s.Lines, DrillLine{Action: a, OK: slices.Contains(done, a)})
	}
	for _, a := range forbidden {
		s.Lines = append(s.Lines, DrillLine{Action: a, Forbidden: true, OK: !slices.Contains(done, a)})
	}
	for _, l := range s.Lines {
		s.Max++
		if l.OK {
			s.Score++
		}
	}
	s.Passed = s.Score == s.Max
	return s
}
