package scenarios

import "slices"

// Drill is the optional training block of a scenario: what the training UI tells the
// trainee, which card and amount the customer brings, and which of the trainee's actions
// score. The scenario's faults are set up before the drill starts; its steps are the model
// answer (what CI runs), not something the trainee sees.
type Drill struct {
	// Situation is what the trainee is told; empty means use the scenario's description.
	Situation string
	// Customer is what the customer presents; nil when the drill is about something other
	// than a payment (settlement, echo).
	Customer *Payment
	// ExpectedActions must all be done (in any order) to pass.
	ExpectedActions []string
	// ForbiddenActions must not be done at all; each one done fails the drill.
	ForbiddenActions []string
	// Debrief is shown after scoring: why the right recovery is right.
	Debrief string
}

// Drill actions: what a trainee can do at the training terminal, as the UI reports it. A
// drill names expected and forbidden actions from this list only (the parser checks).
const (
	// The transactions and commands of the terminal, by step name.
	ActionSale     = "sale"
	ActionRefund   = "refund"
	ActionPreAuth  = "preauth"
	ActionComplete = "complete"
	ActionVoid     = "void"
	ActionBalance  = "balance"
	ActionEcho     = "echo"
	ActionSignOn   = "sign_on"
	ActionSettle   = "settle"
	ActionDrainSAF = "drain_saf"

	// ActionSaleAgain: another sale for the same amount after the previous one did not end
	// approved (timeout, no answer, 94, host down) — the classic double charge.
	ActionSaleAgain = "sale_again"
	// ActionSameCardAgain: the same card presented again after a decline that forbids a
	// retry (54, 41/43, 05, 75, 58, ...).
	ActionSameCardAgain = "same_card_again"
	// ActionOtherCard: a payment with a different card of the wallet.
	ActionOtherCard = "other_card"
	// ActionManualRefund: a refund of an amount the terminal already reversed (or never
	// charged).
	ActionManualRefund = "manual_refund"
	// ActionCheckLast: the trainee looked at the last transaction's status (journal, host
	// ledger, last-transaction screen) before acting.
	ActionCheckLast = "check_last"
	// ActionFallbackSwipe: a swipe after the chip could not be read.
	ActionFallbackSwipe = "fallback_swipe"
	// ActionReenterPIN: the PIN entered again after 55.
	ActionReenterPIN = "reenter_pin"
	// ActionCorrectAmount: the amount re-keyed with a different value after 13 or 51.
	ActionCorrectAmount = "correct_amount"
	// ActionReprint: the receipt printed again (after the printer fault).
	ActionReprint = "reprint"
	// ActionCallHelpDesk: the trainee chose "call the help desk" (03, 58, 30, 96 twice).
	ActionCallHelpDesk = "call_help_desk"
	// ActionKeepCard: the pick-up procedure (41/43/04/07): keep the card, stay calm.
	ActionKeepCard = "keep_card"
)

var drillActions = []string{
	ActionSale, ActionRefund, ActionPreAuth, ActionComplete, ActionVoid, ActionBalance,
	ActionEcho, ActionSignOn, ActionSettle, ActionDrainSAF, ActionSaleAgain,
	ActionSameCardAgain, ActionOtherCard, ActionManualRefund, ActionCheckLast,
	ActionFallbackSwipe, ActionReenterPIN, ActionCorrectAmount, ActionReprint,
	ActionCallHelpDesk, ActionKeepCard,
}

// DrillActions returns every action a drill may name, for UIs that offer them.
func DrillActions() []string { return slices.Clone(drillActions) }

// DrillScore is how a trainee did.
type DrillScore struct {
	Passed    bool
	Done      []string // expected actions done
	Missing   []string // expected actions not done
	Forbidden []string // forbidden actions done (each once, in the order first done)
}

// Score compares what the trainee did (actions in order, repeats allowed) with the drill.
// The drill passes when every expected action was done and no forbidden one was.
func (d *Drill) Score(done []string) DrillScore {
	var s DrillScore
	for _, a := range d.ExpectedActions {
		if slices.Contains(done, a) {
			s.Done = append(s.Done, a)
		} else {
			s.Missing = append(s.Missing, a)
		}
	}
	for _, a := range done {
		if slices.Contains(d.ForbiddenActions, a) && !slices.Contains(s.Forbidden, a) {
			s.Forbidden = append(s.Forbidden, a)
		}
	}
	s.Passed = len(s.Missing) == 0 && len(s.Forbidden) == 0
	return s
}
