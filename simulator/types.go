package simulator

import (
	"errors"
	"time"
)

// Errors, tested with errors.Is. Outcome.Err carries them (wrapped with the operation).
var (
	// ErrUnknownCard: Payment.Card is neither a card name nor a PAN in the wallet.
	ErrUnknownCard = errors.New("card is not in the wallet")
	// ErrNotFound: a Ref matches no transaction of the open batch.
	ErrNotFound = errors.New("no such transaction")
	// ErrPrinterOut: the printer has no paper (Reprint while the fault is active).
	ErrPrinterOut = errors.New("printer out of paper")
	// ErrCrashed: the terminal lost power (Crash or a power_loss device fault); only a new
	// Terminal on the same journal can go on.
	ErrCrashed = errors.New("terminal lost power")
	// ErrClosed: the terminal was closed.
	ErrClosed = errors.New("terminal closed")
	// ErrJournal: the durable journal could not be read or written.
	ErrJournal = errors.New("journal")
	// ErrUnreachable: the host could not be reached (connect or sign-on failed); nothing was
	// sent.
	ErrUnreachable = errors.New("host unreachable")
	// ErrSAFPending: the store-and-forward queue could not be emptied.
	ErrSAFPending = errors.New("store-and-forward queue not empty")
)

// Outcome kinds: every transaction ends in exactly one.
const (
	KindApproved          = "approved"
	KindDeclined          = "declined"
	KindPartiallyApproved = "partially_approved"
	KindTimedOutReversed  = "timed_out_reversed" // no valid answer; the reversal was acknowledged
	KindReversalPending   = "reversal_pending"   // no valid answer; the reversal is queued (do not charge again)
	// KindAnswerRejected: an answer came whose echoed fields do not match the request
	// (amount, currency, processing code, terminal, merchant) or a partial approval with
	// no usable amount (iso.CheckEcho); it is not an approval. The reversal, where money
	// may have moved, was acknowledged (else the outcome is KindReversalPending).
	KindAnswerRejected    = "answer_rejected"
	KindVoided            = "voided"
	KindOfflineApproved   = "offline_approved"
	KindAdviceQueued      = "advice_queued" // a completion advice got no answer and waits in the SAF queue
	KindNoAnswer          = "no_answer"     // a message that needs no reversal (balance, echo, sign-on) got no answer
	KindNotSent           = "not_sent"
	KindRefusedAtTerminal = "refused_at_terminal"
	KindDeviceFault       = "device_fault"
	KindPowerLoss         = "power_loss"
	KindSettled           = "settled"
	KindSettleFailed      = "settle_failed"
)

// Operations (Outcome.Operation, Txn.Operation).
const (
	OpSale       = "sale"
	OpRefund     = "refund"
	OpPreAuth    = "preauth"
	OpCompletion = "completion"
	OpBalance    = "balance"
	OpVoid       = "void"
	OpEcho       = "echo"
	OpSignOn     = "sign_on"
	OpSignOff    = "sign_off"
	OpSettle     = "settle"
	OpOffline    = "offline_sale" // a sale approved offline (Txn.Operation)
)

// Payment is a card presented at the till, the way a person does it.
type Payment struct {
	Card   string // card name in the wallet, or its PAN
	Amount int64  // minor units
	// Entry: chip (default for plastic cards), contactless, swipe, fallback, keyed, qr
	// (default for wallet codes). "tap" is accepted for contactless.
	Entry string
	PIN   string // entered on the PIN pad; empty: no PIN
}

// Ref identifies a transaction of the open batch by STAN or RRN. The zero Ref means the
// last approved transaction.
type Ref struct {
	STAN string
	RRN  string
}

// Outcome is how one operation ended.
type Outcome struct {
	Kind         string
	Operation    string
	ResponseCode string // DE39 of the host's answer; empty when there was none
	Guidance     string // iso code guidance or iso.Guidance* key: what the cashier does next
	STAN         string
	RRN          string
	AuthCode     string
	MaskedPAN    string
	Entry        string
	Amount       int64 // requested, minor units
	Approved     int64 // approved (partial approvals: less than Amount)
	// Balance is the available balance of a balance inquiry (DE54), when the host sent one.
	Balance           *int64
	AdditionalAmounts string // DE54 as received
	// Reversal is the reversal or advice this operation queued, as it stands when the
	// operation returns (nil if none).
	Reversal *SAFEntry
	// Last is the previous transaction of the journal, shown on 94 (duplicate transmission)
	// instead of sending again.
	Last    *Txn
	Receipt *Receipt
	Events  []Event // the events of this operation
	Err     error
}

// Ref returns the reference of the outcome's transaction.
func (o Outcome) Ref() Ref { return Ref{STAN: o.STAN, RRN: o.RRN} }

// Event kinds.
const (
	EventConnecting    = "connecting"
	EventConnected     = "connected"
	EventConnectFailed = "connect_failed"
	EventSignedOn      = "signed_on"
	EventSignOnFailed  = "sign_on_failed"
	// EventSignOnRequested: the host asked for a new sign-on (UnionPay header processing
	// requirement 3, or a code such as A0/99/77); the terminal signs on after the operation.
	EventSignOnRequested = "sign_on_requested"
	// EventChipDeclined: the chip's second decision declined a transaction the host
	// approved (its ARPC, tag 91, missing or wrong); the terminal reverses it.
	EventChipDeclined         = "chip_declined"
	EventSignedOff            = "signed_off"
	EventRefused              = "refused_at_terminal"
	EventDeviceFault          = "device_fault"
	EventPINEntry             = "pin_entry"
	EventSent                 = "sent"
	EventNotSent              = "not_sent"
	EventWaiting              = "waiting"
	EventAnswered             = "answered"
	EventInvalidAnswer        = "invalid_answer"
	EventTimedOut             = "timed_out"
	EventConnLost             = "connection_lost"
	EventReversalQueued       = "reversal_queued"
	EventReversalSent         = "reversal_sent"
	EventReversalAcknowledged = "reversal_acknowledged"
	EventReversalRefused      = "reversal_refused"
	EventReversalNoAnswer     = "reversal_no_answer"
	EventAdviceQueued         = "advice_queued"
	EventAdviceSent           = "advice_sent"
	EventAdviceAcknowledged   = "advice_acknowledged"
	EventReceiptPrinted       = "receipt_printed"
	EventReceiptHeld          = "receipt_held" // not printed (no paper): kept for Reprint
	EventLateAnswer           = "late_answer"
	EventDuplicateAnswer      = "duplicate_answer"
	EventUnmatchedAnswer      = "unmatched_answer"
	EventGarbledAnswer        = "garbled_answer"
	EventSAFBlocked           = "saf_blocked"
	EventLinkDead             = "link_dead"
	EventManualReconciliation = "manual_reconciliation"
	EventOfflineApproved      = "offline_approved"
	EventBatchUpload          = "batch_upload"
	EventBatchClosed          = "batch_closed"
	EventPowerLoss            = "power_loss"
	EventRecovered            = "recovered"
)

// Event is one step of the terminal, timestamped by the injected clock. Detail never holds
// a full card number.
type Event struct {
	Seq    int64
	Time   time.Time
	Kind   string
	STAN   string
	MTI    string
	Code   string // response code, or the reversal reason for reversal events
	Detail string
}

// Device fault kinds.
const (
	// DeviceChipUnreadable: the chip cannot be read (the damaged-chip card always); the
	// terminal offers fallback to swipe (Entry fallback, DE22 801).
	DeviceChipUnreadable = "chip_unreadable"
	// DeviceCardRemoved: the card is pulled out after the host approved but before the chip
	// completed: the chip declines and the terminal reverses with reason 22.
	DeviceCardRemoved = "card_removed"
	// DevicePINTimeout: nobody enters the PIN; nothing is sent.
	DevicePINTimeout = "pin_timeout"
	// DevicePrinterOut: the printer has no paper; approvals stand, receipts wait for Reprint.
	DevicePrinterOut = "printer_out_of_paper"
	// DevicePowerLoss: the terminal dies at DeviceFault.At; a new Terminal on the same
	// journal recovers.
	DevicePowerLoss = "power_loss"
)

// Points of a power loss (DeviceFault.At).
const (
	PowerBeforeSend  = "before_send"  // the pending reversal is journaled, nothing written
	PowerAfterSend   = "after_send"   // the request is on the wire, no answer read
	PowerAfterAnswer = "after_answer" // the answer arrived but was not journaled
)

// DeviceFault is a fault of the terminal itself, injected like a host fault.
type DeviceFault struct {
	Kind  string `json:"kind" yaml:"kind"`
	Count int    `json:"count,omitempty" yaml:"count,omitempty"` // times it fires; 0 = until cleared
	At    string `json:"at,omitempty" yaml:"at,omitempty"`       // power_loss only (default after_send)
}

// SAF entry kinds.
const (
	SAFReversal = "reversal"
	SAFAdvice   = "advice"
)

// SAFEntry is a queued reversal or advice (or one on the manual reconciliation list).
type SAFEntry struct {
	ID           int64
	Kind         string // reversal or advice
	MTI          string // the MTI of the next transmission (repeats: xx21/xx01)
	STAN         string
	OriginalMTI  string
	OriginalSTAN string
	Reason       string // reversal reason (DE39): 68 no answer, 17 cancel, 22 malfunction
	MaskedPAN    string
	Amount       int64
	Created      time.Time
	NextAt       time.Time
	Expires      time.Time
	Attempts     int // transmissions so far
	Tries        int // answers that refused it (a missing answer does not count)
	LastCode     string
	LastError    string
	Blocked      bool   // refused more than reversal_repeats times: it blocks the queue
	Note         string // why it is on the manual reconciliation list
}

// Txn is a transaction of the open batch as the journal holds it.
type Txn struct {
	ID           int64
	Batch        string
	Operation    string
	MTI          string
	STAN         string
	RRN          string
	AuthCode     string
	ResponseCode string
	MaskedPAN    string
	Entry        string
	// Status: sending, approved, partial, declined, not_sent, reversal_pending, reversed,
	// voided, offline, refused, unknown.
	Status   string
	Amount   int64
	Approved int64
	Time     time.Time
}

// Transaction statuses (Txn.Status).
const (
	StatusSending         = "sending"
	StatusApproved        = "approved"
	StatusPartial         = "partial"
	StatusDeclined        = "declined"
	StatusNotSent         = "not_sent"
	StatusReversalPending = "reversal_pending"
	StatusReversed        = "reversed"
	StatusVoidPending     = "void_pending"
	StatusVoided          = "voided"
	StatusOffline         = "offline"
	StatusUnknown         = "unknown"
)

// Phases (Snapshot.Phase).
const (
	PhaseIdle       = "idle"
	PhaseConnecting = "connecting"
	PhaseSigningOn  = "signing_on"
	PhasePINEntry   = "pin_entry"
	PhaseWaiting    = "waiting"
	PhaseReversing  = "reversing"
	PhaseSettling   = "settling"
	PhaseCrashed    = "crashed"
	PhaseClosed     = "closed"
)

// Totals are the counts and amounts the terminal settles (reversed and voided excluded).
type Totals struct {
	SalesCount    int
	SalesAmount   int64
	RefundsCount  int
	RefundsAmount int64
}

// Snapshot is the terminal's state for UIs.
type Snapshot struct {
	Now       time.Time
	Phase     string
	Operation string
	STAN      string
	// Deadline is when the current wait ends (response timeout, PIN entry), for a countdown.
	Deadline         time.Time
	Connected        bool
	SignedOn         bool
	Crashed          bool
	Batch            string
	Totals           Totals
	Last             *Outcome
	SAF              []SAFEntry
	SAFBlocked       bool
	SAFBlockedReason string
	Manual           []SAFEntry
	DeviceFaults     []DeviceFault
}
