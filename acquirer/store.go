package acquirer

import (
	"context"
	"time"
)

// store is the acquirer's durable state: balances and holds per card, transactions, the
// message journal, settlement batches and PIN try counters. Two stores implement it: SQLite
// (sqlite.go; a file or ":memory:", one acquirer process) and PostgreSQL (postgres.go; one
// database shared by several acquirer replicas). Options.DB picks one; the model-based store
// test runs the same operations against both.
//
// All changes go through update, which runs its function in one writer's order (so that
// authorization decisions never race on a balance) inside a transaction that is durable
// when update returns nil. Implementations batch concurrent updates into one commit (group
// commit); a function may therefore run more than once (if the batch it was in failed
// because of another member it is retried alone), so it must act only through the storeTx
// and its own local variables, resetting them on entry.
type store interface {
	update(ctx context.Context, fn func(storeTx) error) error

	// Reads see committed state.
	journal(f Filter) ([]Entry, error)
	transactions(f Filter) ([]txnRecord, error)
	cards() ([]cardState, error)
	card(name string) (cardState, bool, error)
	// dukptCounters is the highest KSN counter accepted per DUKPT device (dukpt.go), read
	// once when the acquirer starts.
	dukptCounters() (map[string]uint32, error)

	close() error
}

// storeTx is what an update function may do. Reads see the writes made earlier in the same
// batch.
type storeTx interface {
	card(name string) (cardState, bool, error)
	putCard(c cardState) error

	// nextID is the id the next insertTxn will assign; RRNs and auth codes derive from it.
	nextID() int64
	insertTxn(t *txnRecord) error
	// updateTxn writes t's changeable columns (amounts, code, state, RRN, auth code, fault,
	// original id, batch, stored answer) to the transaction with t's id; the other fields
	// of t must be as read (the SQLite store takes t's terminal to track open batches).
	updateTxn(t *txnRecord) error
	// txnByKey finds the transaction of terminal with that STAN and DE7 among the request
	// MTIs given (base MTIs); the most recent one wins.
	txnByKey(terminal, stan, de7 string, mtis ...string) (txnRecord, bool, error)
	// txnBySTAN finds the most recent transaction of terminal with that STAN among mtis.
	txnBySTAN(terminal, stan string, mtis ...string) (txnRecord, bool, error)
	// txnByApproval finds a pre-auth by the RRN and/or auth code of its answer.
	txnByApproval(terminal, rrn, authCode string) (txnRecord, bool, error)
	// openTxns lists the terminal's transactions not yet settled (every state).
	openTxns(terminal string) ([]txnRecord, error)

	batch(terminal, number string) (batchRecord, bool, error)
	putBatch(b batchRecord) error
	addUpload(u uploadRecord) error

	appendJournal(e *Entry) error
	// putDUKPT records that device's request with counter was accepted, in the same
	// transaction as its journal line; the stored counter only grows (max). Only DUKPT
	// requests write it, so other requests pay nothing.
	putDUKPT(device string, counter uint32) error

	// reset drops everything but the DUKPT counters (a replay stays a replay after a
	// ledger reset, as in the host's memory) and loads the given cards.
	reset(cards []cardState) error
}

// cardState is one card's ledger line.
type cardState struct {
	Name      string
	Opening   int64 // minor units
	Available int64 // what can be spent now: balance minus holds
	Held      int64 // pre-authorized, not yet captured or released
	PINTries  int   // wrong PINs in a row
}

// txnRecord is one 0100/0200/0220 as the host keeps it.
type txnRecord struct {
	ID        int64
	Time      time.Time
	Terminal  string
	Merchant  string
	STAN      string
	DE7       string
	MTI       string // base MTI of the request: 0100, 0200, 0220
	Proc      string
	Card      string // fixture name; "" for an unknown card
	MaskedPAN string
	Requested int64 // DE4 as asked
	Amount    int64 // approved amount (less than Requested after a partial approval)
	Reversed  int64 // restored by reversals
	Captured  int64 // pre-auth: amount captured by its completion
	Currency  string
	Code      string // DE39 answered
	State     string
	RRN       string
	AuthCode  string
	Fault     string // rule name that fired on it, if any
	OrigID    int64  // completion: the pre-auth's id
	Batch     string // settlement batch it closed in
	Response  string // the answer as sent, JSON without card data, for repeats
}

// Transaction states.
const (
	StateApproved = "approved"
	StateDeclined = "declined"
	StateReversed = "reversed"
	StateHeld     = "held"
	StateCaptured = "captured"
	StateSettled  = "settled"
	StateRefunded = "refunded"
)

// batchRecord is a terminal's settlement batch as the host last saw it.
type batchRecord struct {
	Terminal     string
	Number       string
	State        string // unbalanced (95 sent), uploaded, settled
	SaleCount    int64
	SaleAmount   int64
	RefundCount  int64
	RefundAmount int64
	Time         time.Time
}

// Batch states.
const (
	batchUnbalanced = "unbalanced"
	batchUploaded   = "uploaded"
	batchSettled    = "settled"
)

// uploadRecord is one 0320 batch upload entry.
type uploadRecord struct {
	Terminal string
	Batch    string
	STAN     string
	Proc     string
	Amount   int64
	RRN      string
	TxnID    int64 // 0 when the host does not know the transaction
	Time     time.Time
}
