package scenarios

import (
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// Scenario is one parsed and validated scenario file.
type Scenario struct {
	Name string // unique short name: the file name without .yaml unless given
	// Title is plain words, shown in reports (Title.String(), English when given) and the
	// drill menu (in the UI's language).
	Title guidance.Text
	// Description is the shop situation and the right recovery, for people reading reports.
	Description guidance.Text
	Tags        []string // for --tag
	Seed        int64    // the acquirer's random source (fault probabilities, RRNs, ...)
	Start       time.Time
	File        string // where it was read from ("library/x.yaml" for the built-ins)

	Cards     *cards.Set // the fixture both sides use
	CardsFrom string     // "built-in", the fixture's path, or "inline"
	Profile   simulator.Profile
	// Host is profile.host when the file sets it (HostPos: where): such a scenario runs
	// against that host in real time (see Options.Host), never against the embedded acquirer.
	Host    string
	HostPos Pos
	Faults  []fault.Rule // installed before the first step
	Steps   []Step
	Expect  *Expect // checked after the last step; nil when the file has none
	Drill   *Drill  // nil when the file has no drill block

	// External marks a case for the user's own terminal (`terminal: external`): it runs
	// under CheckTerminal (posdrill check-terminal), not Run; its steps are instructions
	// to the cashier and its expect judges what the terminal sent.
	External bool
	// Limit bounds an external case in real time (`limit`; default DefaultCaseLimit),
	// written for a terminal with a 30 s response timeout and scaled like every duration.
	Limit time.Duration

	// raw is the source, kept for nothing but error excerpts in tests.
	raw []byte
}

// Step kinds, as written in files.
const (
	StepSale            = "sale"
	StepRefund          = "refund"
	StepPreAuth         = "preauth"
	StepBalance         = "balance"
	StepComplete        = "complete"
	StepVoid            = "void"
	StepEcho            = "echo"
	StepSignOn          = "sign_on"
	StepSignOff         = "sign_off"
	StepSettle          = "settle"
	StepAdvance         = "advance"
	StepRestartTerminal = "restart_terminal"
	StepRestartAcquirer = "restart_acquirer"
	StepFault           = "fault"
	StepDeviceFault     = "device_fault"
	StepDrainSAF        = "drain_saf"
	StepReprint         = "reprint"
)

// stepKinds lists the kinds in the order the README documents them.
var stepKinds = []string{
	StepSale, StepRefund, StepPreAuth, StepBalance, StepComplete, StepVoid, StepEcho,
	StepSignOn, StepSignOff, StepSettle, StepAdvance, StepRestartTerminal,
	StepRestartAcquirer, StepFault, StepDeviceFault, StepDrainSAF, StepReprint,
}

// StepKinds returns every step kind a file may use.
func StepKinds() []string { return append([]string(nil), stepKinds...) }

// producesOutcome reports whether a step kind ends in a terminal Outcome (so that outcome,
// response_code, guidance and receipt expectations make sense after it).
func producesOutcome(kind string) bool {
	switch kind {
	case StepSale, StepRefund, StepPreAuth, StepBalance, StepComplete, StepVoid,
		StepEcho, StepSignOn, StepSignOff, StepSettle:
		return true
	}
	return false
}

// Step is one thing the cashier, the trainer or the environment does.
type Step struct {
	Pos  Pos    // where the step starts, quoted in failures
	Kind string // one of the Step* constants
	ID   string // optional, for refs and reports

	Payment  *Payment      // sale, refund, preauth, balance
	Ref      string        // complete, void: a step id or a STAN
	Amount   int64         // complete: minor units
	Duration time.Duration // advance

	FaultAdd   []fault.Rule // fault: {add: [...]}
	FaultClear string       // fault: {clear: name}; "*" for clear: true

	DeviceFault *DeviceFault // device_fault; Kind "clear" removes every armed device fault

	Expect *Expect // checked right after the step; nil when none
}

// Label is how reports name a step: its id, or its kind and position.
func (s Step) Label() string {
	if s.ID != "" {
		return s.Kind + " " + s.ID
	}
	return s.Kind
}

// Payment is what the customer presents: a card of the fixture (by name, or a PAN), an
// amount in minor units, how the card is presented and the PIN typed.
type Payment struct {
	Card   string
	Amount int64
	Entry  string
	PIN    string
}

// DeviceFault is a fault of the terminal itself, injected before the next transaction.
type DeviceFault struct {
	Kind  string
	Count int    // how many transactions it hits (default 1)
	At    string // power_loss only: before_send, after_send (default) or after_answer
}

// Expect is what must be true after a step (or at the end). Nil and empty fields are not
// checked; a non-nil empty Flow means "no messages at all".
type Expect struct {
	Pos Pos

	Outcome         string // Outcome.Kind
	ResponseCode    string // DE39 of the answer
	Guidance        string // guidance key
	Approved        *int64 // approved amount in minor units (partial approvals)
	ReceiptContains []string

	Flow []FlowEntry // the wire messages since the step started (whole run at the end)

	Ledger               []LedgerExpect
	Journal              []JournalExpect
	SAF                  *SAFExpect
	ManualReconciliation *int
	EventsContain        []string // terminal event kinds, in any order

	// External cases only: what the terminal sent.
	Within   []Window      // time windows between its messages
	Messages []MessageRule // field rules per message
	Charged  []ChargeExpect
}

// LedgerExpect is a card's host balance. Available alone is what "balance" means.
type LedgerExpect struct {
	Card      string
	Available *int64
	Held      *int64
}

// JournalExpect is one host transaction: matched by STAN (and MTI when given), then every
// other given field must agree.
type JournalExpect struct {
	Pos          Pos
	STAN         string
	MTI          string
	Card         string
	Amount       *int64
	State        string
	ResponseCode string
}

// SAFExpect is the terminal's store-and-forward queue: a count, or the MTIs in order.
type SAFExpect struct {
	Count int
	MTIs  []string // nil: only the count is checked
}
