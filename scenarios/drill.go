package scenarios

import (
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// Drill is the optional training block of a scenario: what the training UI tells the
// trainee, which card and amount the customer brings, and which of the trainee's actions
// score. The scenario's faults are set up before the drill starts; its steps are the model
// answer (what CI runs), not something the trainee sees.
type Drill struct {
	// Title names the drill for the trainee (menu, title bar) without giving the answer
	// away; empty means the scenario's title.
	Title guidance.Text
	// Situation is what the trainee is told before acting: only what the cashier sees and
	// hears. Empty means use the scenario's description up to "Right recovery:".
	Situation guidance.Text
	// Says is what the customer says at the till (role play), in the customer's words.
	Says guidance.Text
	// Customer is what the customer presents; nil when the drill is about something other
	// than a payment (settlement, echo).
	Customer *Payment
	// ExpectedActions must all be done (in any order) to pass.
	ExpectedActions []string
	// ForbiddenActions must not be done at all; each one done fails the drill.
	ForbiddenActions []string
	// Debrief is shown after scoring: what happened at the host and why the right recovery
	// is right.
	Debrief guidance.Text
}

// Score judges what the trainee did (actions in order, repeats allowed) against the drill
// with the one scorer the training UI uses too (simulator.ScoreDrill). Drill actions are
// simulator.DrillActions.
func (d *Drill) Score(done []string) simulator.DrillScore {
	return simulator.ScoreDrill(d.ExpectedActions, d.ForbiddenActions, done)
}
