package scenarios

import "github.com/posdrill/posdrill/simulator"

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

// Score judges what the trainee did (actions in order, repeats allowed) against the drill
// with the one scorer the training UI uses too (simulator.ScoreDrill). Drill actions are
// simulator.DrillActions.
func (d *Drill) Score(done []string) simulator.DrillScore {
	return simulator.ScoreDrill(d.ExpectedActions, d.ForbiddenActions, done)
}
