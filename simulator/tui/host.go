package tui

import (
	"context"
	"time"

	"github.com/posdrill/posdrill/simulator"
)

// Host is the acquirer's back office as the trainer panel sees it: balances, the host's
// transaction journal, fault injection and the end of the day. cmd/posdrill implements it
// over the embedded acquirer or over the admin HTTP API of an external one. Every method
// is called from a command goroutine, never from the UI loop.
type Host interface {
	// Balance is the host ledger of one card of the fixture, by card name.
	Balance(ctx context.Context, card string) (Balance, error)
	// Transactions returns the host's most recent transactions of one terminal (by
	// terminal id; "" = every terminal), newest last, at most limit.
	Transactions(ctx context.Context, terminal string, limit int) ([]HostTxn, error)
	// AddFault installs a fault rule at the acquirer and returns its id.
	AddFault(ctx context.Context, f FaultSpec) (string, error)
	// Faults lists the fault rules in force.
	Faults(ctx context.Context) ([]FaultSpec, error)
	// ClearFaults removes every fault rule.
	ClearFaults(ctx context.Context) error
	// Reset puts the acquirer back to its fixtures: balances, journal (a new day).
	Reset(ctx context.Context) error
}

// Balance is a card's ledger at the host, in minor units.
type Balance struct {
	Card      string
	Opening   int64
	Available int64
	Held      int64
}

// Charged is what the customer has lost so far: money taken or held since the opening.
func (b Balance) Charged() int64 { return b.Opening - b.Available }

// HostTxn is one transaction as the host recorded it. MaskedPAN is already masked.
type HostTxn struct {
	Time         time.Time
	Terminal     string
	STAN         string
	MTI          string
	Card         string
	MaskedPAN    string
	Requested    int64 // what the terminal asked for, minor units
	Amount       int64 // what the host took in the end (0 for a decline or a reversal)
	ResponseCode string
	State        string // approved, declined, reversed, held, captured, settled, refunded
	Fault        string // the fault action that fired on it, if any
}

// FaultSpec is a fault rule for the acquirer, in the UI's own terms (the UI cannot import
// the acquirer): cmd converts it to a fault rule. Count 1 means "the next transaction
// only", 0 "until cleared".
type FaultSpec struct {
	ID     string
	Name   string
	Action string // decline, delay, no_response, ... (the fault actions)
	Code   string // decline: the response code
	MS     int    // delay, refuse_connections
	Bytes  int    // truncate_response
	Chunk  int    // split_response
	GapMS  int    // split_response
	Amount string // partial_approval: the approved amount, major units ("10.00")
	// MTI limits the rule to these message types (empty: every message).
	MTI   []string
	Card  string // limits the rule to one card of the fixture
	Count int
	Fired int // reported by Faults
	// Raw is the original rule when the spec came from elsewhere (a scenario file); cmd
	// installs it as it is. The UI never looks inside.
	Raw any
}

// Fault actions the acquirer performs (the acquirer/fault action names).
const (
	FaultDecline              = "decline"
	FaultDelay                = "delay"
	FaultNoResponse           = "no_response"
	FaultDropBeforeProcessing = "drop_before_processing"
	FaultDropAfterCommit      = "drop_after_commit"
	FaultReset                = "reset"
	FaultTruncate             = "truncate_response"
	FaultSplit                = "split_response"
	FaultGarble               = "garble_response"
	FaultWrongSTAN            = "wrong_stan"
	FaultDuplicate            = "duplicate_response"
	FaultRefuseConnections    = "refuse_connections"
	FaultPartialApproval      = "partial_approval"
)

// Device faults the terminal performs (simulator device fault kinds).
const (
	DeviceChipUnreadable = simulator.DeviceChipUnreadable
	DeviceCardRemoved    = simulator.DeviceCardRemoved
	DevicePINTimeout     = simulator.DevicePINTimeout
	DevicePrinterOut     = simulator.DevicePrinterOut
	DevicePowerLoss      = simulator.DevicePowerLoss
)

// paymentMTIs are the requests a "payment" fault applies to: authorizations and financial
// requests, not reversals, network management or settlement — so that a fault "for the
// next transaction" hits the payment itself and lets its recovery through.
var paymentMTIs = []string{"0100", "0200"}
