package acquirer

// A differential (model-based) test of the SQLite store, and of the PostgreSQL store when
// POSDRILL_PG_URL is set: random operations run in lockstep against the real store and
// against smModel, a naive in-memory reference (slices and maps, linear scans) of what
// store and storeTx promise. Every result an update function sees is
// written to a trace, the store's trace must equal the model's line for line, and at
// checkpoints the committed reads (transactions, journal, cards) and the writer's view (open
// transactions, batches, cards, every key, the next id) must equal the model's.
//
// Update functions run alone (one or several operations, some failing after their writes),
// in ordered groups (in a known order: queued while the writer is held, so that they share a
// batch, or chained, each queued once the previous one has run, so that a pipelined writer
// decides it on top of the batch still being committed; they may share terminals, and each
// must see what the earlier ones wrote) and in free groups (concurrent, on disjoint
// terminals and cards). Holding the writer uses groupCommit's queue (the jobs channel), the
// one internal detail the test relies on.
//
// The generated operations depend only on the seed (POSDRILL_MODEL_SEED overrides it,
// POSDRILL_MODEL_OPS the number of operations); how concurrent updates are grouped into
// batches is up to the writer, and the expectations do not depend on it. updateTxn may
// change every column the interface lets it (including clearing a batch, and a pre-auth's
// RRN and auth code); POSDRILL_MODEL_FLOW_UPDATES=1 limits it to what the flows do.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Small pools, so that keys, STANs, RRNs and auth codes collide and are reused.
var (
	smTerminals = []string{"TERM0001", "TERM0002", "TERM0003"}
	smDE7s      = []string{"1126041200", "1126041201", "1127093000"}
	smMTIs      = []string{"0100", "0200", "0220"}
	smRRNs      = []string{"", "000000000101", "000000000102", "000000000103", "000000000104"}
	smAuths     = []string{"", "A00001", "A00002", "A00003", "A00004"}
	smBatchNos  = []string{"000001", "000002", "000003"}
	smStates    = []string{StateApproved, StateDeclined, StateReversed, StateHeld, StateCaptured, StateSettled, StateRefunded}
	smBStates   = []string{batchUnbalanced, batchUploaded, batchSettled}
	// Cards "card-<i>-x" belong to terminal i (so that concurrent updates on disjoint
	// terminals also touch disjoint cards); "card-x" belongs to none.
	smCardNames = []string{"card-0-a", "card-0-b", "card-1-a", "card-1-b", "card-2-a", "card-2-b", "card-x"}
)

// smSTAN is one of 20 STANs, or (rarely) one that is never inserted.
func smSTAN(r *rand.Rand) string {
	if r.IntN(25) == 0 {
		return "999999"
	}
	return fmt.Sprintf("%06d", 1+r.IntN(20))
}

func smPick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func smTime(r *rand.Rand) time.Time {
	return time.Unix(1_760_000_000+r.Int64N(1_000_000), r.Int64N(1_000_000_000))
}

// smMTISubset is a random non-empty subset of the request MTIs, in random order.
func smMTISubset(r *rand.Rand) []string {
	var out []string
	for len(out) == 0 {
		for _, m := range smMTIs {
			if r.IntN(2) == 0 {
				out = append(out, m)
			}
		}
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// ---- the reference model ----

// smModel is the reference: committed state, and a storeTx over it (an update function runs
// directly on it, or on a clone that is dropped when the function fails).
type smModel struct {
	txns     []txnRecord
	jrnl     []Entry
	cards    map[string]cardState
	batches  map[[2]string]batchRecord
	uploads  int
	next     int64
	nextJrnl int64
	dukpt    map[string]uint32 // highest counter per device; reset keeps it
	// keepIDs: both id sequences survive restarts and resets, as in the PostgreSQL store
	// (its counter row, ledger_meta, is neither rebuilt from the rows on open nor touched
	// by reset, so that RRNs stay unique for the ledger's lifetime; see pgTx.reset). The
	// SQLite store continues after the highest ids stored when it opens, and starts the
	// journal ids over at a reset.
	keepIDs bool
}

var _ storeTx = (*smModel)(nil)

func smNewModel(seed []cardState, keepIDs bool) *smModel {
	m := &smModel{cards: map[string]cardState{}, batches: map[[2]string]batchRecord{}, next: 1, nextJrnl: 1, keepIDs: keepIDs}
	m.reopen(seed)
	return m
}

func (m *smModel) clone() *smModel {
	c := *m
	c.txns = slices.Clone(m.txns)
	c.jrnl = slices.Clone(m.jrnl)
	c.cards = maps.Clone(m.cards)
	c.batches = maps.Clone(m.batches)
	c.dukpt = maps.Clone(m.dukpt)
	return &c
}

// reopen is what openSQLite does to the model: seed cards missing from the store are added
// (opening and available only), and the id sequences continue after the highest ids stored
// (so after a reset that left no transactions they start over at 1). With keepIDs
// (openPostgres) the sequences go on where they were.
func (m *smModel) reopen(seed []cardState) {
	for _, c := range seed {
		if _, ok := m.cards[c.Name]; !ok {
			m.cards[c.Name] = cardState{Name: c.Name, Opening: c.Opening, Available: c.Available}
		}
	}
	if m.keepIDs {
		return
	}
	m.next, m.nextJrnl = 1, 1
	for _, t := range m.txns {
		m.next = max(m.next, t.ID+1)
	}
	for _, e := range m.jrnl {
		m.nextJrnl = max(m.nextJrnl, e.ID+1)
	}
}

func (m *smModel) sortByID() {
	slices.SortFunc(m.txns, func(a, b txnRecord) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(m.jrnl, func(a, b Entry) int { return cmp.Compare(a.ID, b.ID) })
}

func (m *smModel) card(name string) (cardState, bool, error) {
	c, ok := m.cards[name]
	return c, ok, nil
}

func (m *smModel) putCard(c cardState) error {
	m.cards[c.Name] = c
	return nil
}

func (m *smModel) nextID() int64 { return m.next }

func (m *smModel) insertTxn(t *txnRecord) error {
	t.ID = m.next
	m.next++
	m.txns = append(m.txns, *t)
	return nil
}

// updateTxn writes the mutable fields; the others (time, terminal, STAN, ...) stay as
// inserted. An id that does not exist (any more) changes nothing.
func (m *smModel) updateTxn(t *txnRecord) error {
	for i := range m.txns {
		if r := &m.txns[i]; r.ID == t.ID {
			r.Amount, r.Reversed, r.Captured, r.Code, r.State = t.Amount, t.Reversed, t.Captured, t.Code, t.State
			r.RRN, r.AuthCode, r.Fault, r.OrigID, r.Batch, r.Response = t.RRN, t.AuthCode, t.Fault, t.OrigID, t.Batch, t.Response
		}
	}
	return nil
}

// latest is the matching transaction with the highest id.
func (m *smModel) latest(match func(r *txnRecord) bool) (txnRecord, bool, error) {
	var best txnRecord
	found := false
	for i := range m.txns {
		if r := &m.txns[i]; match(r) && (!found || r.ID > best.ID) {
			best, found = *r, true
		}
	}
	return best, found, nil
}

func (m *smModel) txnByKey(terminal, stan, de7 string, mtis ...string) (txnRecord, bool, error) {
	return m.latest(func(r *txnRecord) bool {
		return r.Terminal == terminal && r.STAN == stan && r.DE7 == de7 && slices.Contains(mtis, r.MTI)
	})
}

func (m *smModel) txnBySTAN(terminal, stan string, mtis ...string) (txnRecord, bool, error) {
	return m.latest(func(r *txnRecord) bool {
		return r.Terminal == terminal && r.STAN == stan && slices.Contains(mtis, r.MTI)
	})
}

// txnByApproval: a 0100 of the terminal by RRN and auth code, by RRN alone, or by auth code
// alone, whichever of them is given; nothing when neither is.
func (m *smModel) txnByApproval(terminal, rrn, authCode string) (txnRecord, bool, error) {
	if rrn == "" && authCode == "" {
		return txnRecord{}, false, nil
	}
	return m.latest(func(r *txnRecord) bool {
		return r.Terminal == terminal && r.MTI == "0100" &&
			(rrn == "" || r.RRN == rrn) && (authCode == "" || r.AuthCode == authCode)
	})
}

func (m *smModel) openTxns(terminal string) ([]txnRecord, error) {
	var out []txnRecord
	for _, r := range m.txns {
		if r.Terminal == terminal && r.Batch == "" {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b txnRecord) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *smModel) batch(terminal, number string) (batchRecord, bool, error) {
	b, ok := m.batches[[2]string{terminal, number}]
	return b, ok, nil
}

func (m *smModel) putBatch(b batchRecord) error {
	m.batches[[2]string{b.Terminal, b.Number}] = b
	return nil
}

func (m *smModel) addUpload(uploadRecord) error {
	m.uploads++ // not readable through the store interface
	return nil
}

func (m *smModel) putDUKPT(device string, counter uint32) error {
	if m.dukpt == nil {
		m.dukpt = map[string]uint32{}
	}
	m.dukpt[device] = max(m.dukpt[device], counter)
	return nil
}

func (m *smModel) appendJournal(e *Entry) error {
	e.ID = m.nextJrnl
	m.nextJrnl++
	m.jrnl = append(m.jrnl, *e)
	return nil
}

// reset drops everything and loads the cards; transaction ids keep growing, journal ids
// start over at 1 (keep growing too with keepIDs).
func (m *smModel) reset(cards []cardState) error {
	m.txns, m.jrnl, m.uploads = nil, nil, 0
	m.cards, m.batches = map[string]cardState{}, map[[2]string]batchRecord{}
	for _, c := range cards {
		m.cards[c.Name] = c
	}
	if !m.keepIDs {
		m.nextJrnl = 1
	}
	return nil
}

func smFilterMatch(f Filter, terminal, card, stan string, t time.Time) bool {
	return (f.Terminal == "" || terminal == f.Terminal) && (f.Card == "" || card == f.Card) &&
		(f.STAN == "" || stan == f.STAN) && (f.Since.IsZero() || t.UnixNano() >= f.Since.UnixNano())
}

func (m *smModel) transactions(f Filter) []txnRecord {
	var out []txnRecord
	for _, r := range m.txns { // sorted by id
		if smFilterMatch(f, r.Terminal, r.Card, r.STAN, r.Time) && (f.Limit <= 0 || len(out) < f.Limit) {
			out = append(out, r)
		}
	}
	return out
}

func (m *smModel) journal(f Filter) []Entry {
	var out []Entry
	for _, e := range m.jrnl { // sorted by id
		if smFilterMatch(f, e.Terminal, e.Card, e.STAN, e.Time) && (f.Limit <= 0 || len(out) < f.Limit) {
			out = append(out, e)
		}
	}
	return out
}

func (m *smModel) cardList() []cardState {
	return slices.SortedFunc(maps.Values(m.cards), func(a, b cardState) int { return strings.Compare(a.Name, b.Name) })
}

// ---- operations ----

type smKind int

const (
	smInsert smKind = iota
	smUpdate
	smByKey
	smBySTAN
	smByApproval
	smOpen
	smCard
	smPutCard
	smBatch
	smPutBatch
	smUpload
	smJournal
	smNextID
	smReset
	smPutDUKPT
)

// smOp is one storeTx operation (an update: the way its target is found and the changes).
type smOp struct {
	n    int // global index; -1 for a checkpoint probe
	kind smKind

	txn  txnRecord // smInsert: the record; smUpdate: the new values of the fields in mask
	mask uint      // smUpdate: bits index smUpdFields
	// smUpdate: the target is 0 a record returned earlier in the function, 1 found by
	// txnBySTAN, 2 one of openTxns. A lookup (txnByKey, txnBySTAN, txnByApproval) with how 1
	// takes its key from a record returned earlier in the function, when there is one.
	how  int
	pick int // which one (modulo the candidates)
	// smUpdate: only as the flows update (see smGen.flowOnly): a batch once set stays.
	flowOnly bool

	term, stan, de7, rrn, auth string
	mtis                       []string

	card   cardState   // smPutCard; smCard uses card.Name
	cards  []cardState // smReset
	batch  batchRecord // smPutBatch; smBatch uses Terminal and Number
	upload uploadRecord
	entry  Entry
	device string // smPutDUKPT, with counter
	ctr    uint32
}

// smUpdFields are the fields updateTxn writes.
var smUpdFields = []struct {
	name string
	set  func(dst *txnRecord, src txnRecord)
	get  func(r txnRecord) any
}{
	{"Batch", func(d *txnRecord, s txnRecord) { d.Batch = s.Batch }, func(r txnRecord) any { return r.Batch }},
	{"State", func(d *txnRecord, s txnRecord) { d.State = s.State }, func(r txnRecord) any { return r.State }},
	{"Amount", func(d *txnRecord, s txnRecord) { d.Amount = s.Amount }, func(r txnRecord) any { return r.Amount }},
	{"Reversed", func(d *txnRecord, s txnRecord) { d.Reversed = s.Reversed }, func(r txnRecord) any { return r.Reversed }},
	{"RRN", func(d *txnRecord, s txnRecord) { d.RRN = s.RRN }, func(r txnRecord) any { return r.RRN }},
	{"AuthCode", func(d *txnRecord, s txnRecord) { d.AuthCode = s.AuthCode }, func(r txnRecord) any { return r.AuthCode }},
	{"Captured", func(d *txnRecord, s txnRecord) { d.Captured = s.Captured }, func(r txnRecord) any { return r.Captured }},
	{"Code", func(d *txnRecord, s txnRecord) { d.Code = s.Code }, func(r txnRecord) any { return r.Code }},
	{"Fault", func(d *txnRecord, s txnRecord) { d.Fault = s.Fault }, func(r txnRecord) any { return r.Fault }},
	{"OrigID", func(d *txnRecord, s txnRecord) { d.OrigID = s.OrigID }, func(r txnRecord) any { return r.OrigID }},
	{"Response", func(d *txnRecord, s txnRecord) { d.Response = s.Response }, func(r txnRecord) any { return r.Response }},
}

func smUpdMask(name string) uint {
	for i, f := range smUpdFields {
		if f.name == name {
			return 1 << i
		}
	}
	panic("no update field " + name)
}

func smTxnString(r txnRecord) string {
	return fmt.Sprintf("{id=%d t=%d term=%s merch=%s stan=%s de7=%s mti=%s proc=%s card=%s pan=%s req=%d amt=%d rev=%d capt=%d cur=%s code=%s state=%s rrn=%q auth=%q fault=%q orig=%d batch=%q resp=%q}",
		r.ID, r.Time.UnixNano(), r.Terminal, r.Merchant, r.STAN, r.DE7, r.MTI, r.Proc, r.Card, r.MaskedPAN, r.Requested,
		r.Amount, r.Reversed, r.Captured, r.Currency, r.Code, r.State, r.RRN, r.AuthCode, r.Fault, r.OrigID, r.Batch, r.Response)
}

// smTxnEq compares every field, the time by its instant.
func smTxnEq(a, b txnRecord) bool {
	ta, tb := a.Time.UnixNano(), b.Time.UnixNano()
	a.Time, b.Time = time.Time{}, time.Time{}
	return ta == tb && a == b
}

func smEntryEq(a, b Entry) bool {
	ta, tb := a.Time.UnixNano(), b.Time.UnixNano()
	a.Time, b.Time = time.Time{}, time.Time{}
	return ta == tb && a == b
}

func smFound(r txnRecord, ok bool) string {
	if !ok {
		return "not found"
	}
	return "found " + smTxnString(r)
}

func smEntryString(e Entry) string {
	return fmt.Sprintf("{id=%d t=%d conn=%d dir=%s mti=%s stan=%s rrn=%q term=%s pan=%s card=%s proc=%s amt=%d code=%s dec=%s fault=%q action=%q}",
		e.ID, e.Time.UnixNano(), e.Conn, e.Direction, e.MTI, e.STAN, e.RRN, e.Terminal, e.MaskedPAN, e.Card,
		e.ProcessingCode, e.Amount, e.ResponseCode, e.Decision, e.Fault, e.FaultAction)
}

func smBatchString(b batchRecord) string {
	return fmt.Sprintf("{term=%s no=%s state=%s sales=%d/%d refunds=%d/%d t=%d}",
		b.Terminal, b.Number, b.State, b.SaleCount, b.SaleAmount, b.RefundCount, b.RefundAmount, b.Time.UnixNano())
}

func (o smOp) String() string {
	switch o.kind {
	case smInsert:
		return "insertTxn " + smTxnString(o.txn)
	case smUpdate:
		var set []string
		for i, f := range smUpdFields {
			if o.mask&(1<<i) != 0 {
				set = append(set, fmt.Sprintf("%s=%v", f.name, f.get(o.txn)))
			}
		}
		var target string
		switch o.how {
		case 0:
			target = fmt.Sprintf("returned record [%d]", o.pick)
		case 1:
			target = fmt.Sprintf("txnBySTAN(%s, %s, all MTIs)", o.term, o.stan)
		default:
			target = fmt.Sprintf("openTxns(%s)[%d]", o.term, o.pick)
		}
		return fmt.Sprintf("updateTxn of %s setting %s", target, strings.Join(set, " "))
	case smByKey:
		return fmt.Sprintf("txnByKey(%s, %s, %s, %v)%s", o.term, o.stan, o.de7, o.mtis, o.keyFrom())
	case smBySTAN:
		return fmt.Sprintf("txnBySTAN(%s, %s, %v)%s", o.term, o.stan, o.mtis, o.keyFrom())
	case smByApproval:
		return fmt.Sprintf("txnByApproval(%s, %q, %q)%s", o.term, o.rrn, o.auth, o.keyFrom())
	case smOpen:
		return fmt.Sprintf("openTxns(%s)", o.term)
	case smCard:
		return fmt.Sprintf("card(%s)", o.card.Name)
	case smPutCard:
		return fmt.Sprintf("putCard(%+v)", o.card)
	case smBatch:
		return fmt.Sprintf("batch(%s, %s)", o.batch.Terminal, o.batch.Number)
	case smPutBatch:
		return "putBatch" + smBatchString(o.batch)
	case smUpload:
		return fmt.Sprintf("addUpload(%s %s %s)", o.upload.Terminal, o.upload.Batch, o.upload.STAN)
	case smJournal:
		return "appendJournal " + smEntryString(o.entry)
	case smNextID:
		return "nextID()"
	case smReset:
		return fmt.Sprintf("reset(%+v)", o.cards)
	case smPutDUKPT:
		return fmt.Sprintf("putDUKPT(%s, %d)", o.device, o.ctr)
	}
	return fmt.Sprintf("op kind %d", o.kind)
}

func (o smOp) keyFrom() string {
	if o.how == 1 {
		return fmt.Sprintf(" or with the key of returned record [%d]", o.pick)
	}
	return ""
}

func smOpsString(ops []smOp) string {
	var b strings.Builder
	for _, o := range ops {
		if o.n >= 0 {
			fmt.Fprintf(&b, "\t#%d %v\n", o.n, o)
		} else {
			fmt.Fprintf(&b, "\tprobe %v\n", o)
		}
	}
	return b.String()
}

// smRun is what one run of an update function saw.
type smRun struct {
	trace     []string
	firstNext int64   // nextID on entry
	txnIDs    []int64 // ids insertTxn assigned
	jrnlIDs   []int64 // ids appendJournal assigned
}

var smErrBoom = errors.New("storemodel: update function fails on purpose")

func smErrString(err error) string {
	if err == nil {
		return "ok"
	}
	return "error: " + err.Error()
}

// smExec runs ops on tx (the store's or the model's) and traces what they return. With
// fail it returns smErrBoom after them, so that the update rolls back. It keeps no state
// between runs: a run of the same ops on the same state gives the same trace.
func smExec(tx storeTx, ops []smOp, fail bool) (smRun, error) {
	run := smRun{firstNext: tx.nextID()}
	run.trace = append(run.trace, fmt.Sprintf("entry: nextID %d", run.firstNext))
	var seen []txnRecord // records returned so far, for updates
	for _, op := range ops {
		res, err := smApply(tx, op, &seen, &run)
		label := "probe"
		if op.n >= 0 {
			label = "#" + strconv.Itoa(op.n)
		}
		run.trace = append(run.trace, fmt.Sprintf("%s %v -> %s", label, op, res))
		if err != nil {
			return run, err
		}
	}
	if fail {
		return run, smErrBoom
	}
	return run, nil
}

func smApply(tx storeTx, op smOp, seen *[]txnRecord, run *smRun) (string, error) {
	switch op.kind {
	case smInsert:
		r := op.txn
		n := tx.nextID()
		if err := tx.insertTxn(&r); err != nil {
			return smErrString(err), err
		}
		*seen = append(*seen, r)
		run.txnIDs = append(run.txnIDs, r.ID)
		return fmt.Sprintf("nextID before %d, id %d, nextID after %d", n, r.ID, tx.nextID()), nil
	case smUpdate:
		var target txnRecord
		var found bool
		var via string
		switch op.how {
		case 0:
			if len(*seen) > 0 {
				target, found = (*seen)[op.pick%len(*seen)], true
			}
			via = fmt.Sprintf("%d returned", len(*seen))
		case 1:
			var err error
			target, found, err = tx.txnBySTAN(op.term, op.stan, smMTIs...)
			if err != nil {
				return smErrString(err), err
			}
			via = smFound(target, found)
		default:
			open, err := tx.openTxns(op.term)
			if err != nil {
				return smErrString(err), err
			}
			if len(open) > 0 {
				target, found = open[op.pick%len(open)], true
			}
			via = fmt.Sprintf("%d open", len(open))
		}
		if !found {
			return via + "; no target", nil
		}
		for i, f := range smUpdFields {
			if op.mask&(1<<i) != 0 && !(op.flowOnly && f.name == "Batch" && target.Batch != "") {
				f.set(&target, op.txn)
			}
		}
		if err := tx.updateTxn(&target); err != nil {
			return smErrString(err), err
		}
		*seen = append(*seen, target)
		return fmt.Sprintf("%s; wrote %s", via, smTxnString(target)), nil
	case smByKey, smBySTAN, smByApproval:
		term, stan, de7, rrn, auth := op.term, op.stan, op.de7, op.rrn, op.auth
		var key string
		if op.how == 1 && len(*seen) > 0 {
			k := (*seen)[op.pick%len(*seen)]
			term, stan, de7 = k.Terminal, k.STAN, k.DE7
			if rrn != "" {
				rrn = k.RRN
			}
			if auth != "" {
				auth = k.AuthCode
			}
			key = fmt.Sprintf("key (%s, %s, %s, %q, %q): ", term, stan, de7, rrn, auth)
		}
		var r txnRecord
		var ok bool
		var err error
		switch op.kind {
		case smByKey:
			r, ok, err = tx.txnByKey(term, stan, de7, op.mtis...)
		case smBySTAN:
			r, ok, err = tx.txnBySTAN(term, stan, op.mtis...)
		default:
			r, ok, err = tx.txnByApproval(term, rrn, auth)
		}
		if err != nil {
			return smErrString(err), err
		}
		if ok {
			*seen = append(*seen, r)
		}
		return key + smFound(r, ok), nil
	case smOpen:
		open, err := tx.openTxns(op.term)
		if err != nil {
			return smErrString(err), err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d open", len(open))
		for _, r := range open {
			b.WriteString(" ")
			b.WriteString(smTxnString(r))
		}
		*seen = append(*seen, open...)
		return b.String(), nil
	case smCard:
		c, ok, err := tx.card(op.card.Name)
		if err != nil {
			return smErrString(err), err
		}
		if !ok {
			return "not found", nil
		}
		return fmt.Sprintf("found %+v", c), nil
	case smPutCard:
		err := tx.putCard(op.card)
		return smErrString(err), err
	case smBatch:
		b, ok, err := tx.batch(op.batch.Terminal, op.batch.Number)
		if err != nil {
			return smErrString(err), err
		}
		if !ok {
			return "not found", nil
		}
		return "found " + smBatchString(b), nil
	case smPutBatch:
		err := tx.putBatch(op.batch)
		return smErrString(err), err
	case smUpload:
		err := tx.addUpload(op.upload)
		return smErrString(err), err
	case smJournal:
		e := op.entry
		if err := tx.appendJournal(&e); err != nil {
			return smErrString(err), err
		}
		run.jrnlIDs = append(run.jrnlIDs, e.ID)
		return fmt.Sprintf("id %d", e.ID), nil
	case smNextID:
		return strconv.FormatInt(tx.nextID(), 10), nil
	case smReset:
		err := tx.reset(slices.Clone(op.cards))
		return smErrString(err), err
	case smPutDUKPT:
		err := tx.putDUKPT(op.device, op.ctr)
		return smErrString(err), err
	}
	return "", fmt.Errorf("unknown op kind %d", op.kind)
}

// ---- generation ----

// smScope is what an update function may touch: concurrent functions whose order is not
// known get disjoint terminals and cards, and no reset.
type smScope struct {
	terms      []int    // indexes into smTerminals
	stans      []string // nil: smSTAN
	cards      []string
	allowReset bool
}

// smNarrow is a scope of one terminal and a few STANs, so that the operations of one
// function, or of an ordered group, meet each other's transactions often.
func (g *smGen) narrow() smScope {
	sc := smAll
	sc.terms = []int{g.r.IntN(len(smTerminals))}
	for range 1 + g.r.IntN(4) {
		sc.stans = append(sc.stans, smSTAN(g.r))
	}
	return sc
}

var smAll = smScope{terms: []int{0, 1, 2}, cards: smCardNames, allowReset: true}

func smScopeOf(term int) smScope {
	return smScope{terms: []int{term}, cards: []string{fmt.Sprintf("card-%d-a", term), fmt.Sprintf("card-%d-b", term)}}
}

type smGen struct {
	r *rand.Rand
	n int // ops generated so far
	// flowOnly limits updateTxn to the changes the flows make: no RRN or auth code changes,
	// and a transaction's batch, once set, is neither changed nor cleared (settled stays
	// settled). The store interface allows more, and so does the model.
	flowOnly bool
}

func (g *smGen) cardState(name string) cardState {
	r := g.r
	return cardState{Name: name, Opening: r.Int64N(100000), Available: r.Int64N(100000) - 1000, Held: r.Int64N(5000), PINTries: r.IntN(4)}
}

// seedCards is a random subset of the card pool, as openSQLite's seed.
func (g *smGen) seedCards() []cardState {
	var out []cardState
	for _, name := range smCardNames {
		if g.r.IntN(3) != 0 {
			out = append(out, g.cardState(name))
		}
	}
	return out
}

func (g *smGen) resetCards(sc smScope) []cardState {
	var cards []cardState
	for range g.r.IntN(5) {
		cards = append(cards, g.cardState(smPick(g.r, sc.cards))) // a name may repeat: the last wins
	}
	return cards
}

// opOf is a random operation of that kind.
func (g *smGen) opOf(k smKind, sc smScope) smOp {
	for {
		n := g.n
		if op := g.op(sc); op.kind == k {
			return op
		}
		g.n = n
	}
}

// resetOps is a function that resets between other operations, after writing what the reset
// must drop (a card, a transaction, a journal line, a batch).
func (g *smGen) resetOps() []smOp {
	ops := g.ops(smAll)
	put := g.opOf(smPutCard, smAll)
	ops = append(ops, put, g.opOf(smInsert, smAll))
	for _, k := range []smKind{smJournal, smPutBatch} {
		if g.r.IntN(2) == 0 {
			ops = append(ops, g.opOf(k, smAll))
		}
	}
	cards := g.resetCards(smAll)
	if g.r.IntN(3) != 0 { // mostly, the card put before the reset is not reloaded by it
		cards = slices.DeleteFunc(cards, func(c cardState) bool { return c.Name == put.card.Name })
	}
	ops = append(ops, smOp{n: g.n, kind: smReset, cards: cards})
	g.n++
	return append(ops, g.ops(smAll)...)
}

// bulkOps is a long function, mostly inserts and journal lines: more than one multi-row
// INSERT's worth (32 rows) of each.
func (g *smGen) bulkOps(sc smScope) []smOp {
	ops := make([]smOp, 40+g.r.IntN(80))
	for i := range ops {
		switch x := g.r.IntN(10); {
		case x < 5:
			ops[i] = g.opOf(smInsert, sc)
		case x < 8:
			ops[i] = g.opOf(smJournal, sc)
		default:
			ops[i] = g.op(sc)
		}
	}
	return ops
}

func (g *smGen) ops(sc smScope) []smOp {
	n := 1
	if g.r.IntN(10) < 4 {
		n = 2 + g.r.IntN(7)
	}
	out := make([]smOp, n)
	for i := range out {
		out[i] = g.op(sc)
	}
	return out
}

func (g *smGen) op(sc smScope) smOp {
	r := g.r
	term := smTerminals[smPick(r, sc.terms)]
	stan := smSTAN(r)
	if sc.stans != nil {
		stan = smPick(r, sc.stans)
	}
	op := smOp{n: g.n, term: term, stan: stan, de7: smPick(r, smDE7s)}
	g.n++
	x := r.IntN(1000)
	switch {
	case x < 250:
		op.kind = smInsert
		op.txn = txnRecord{
			Time: smTime(r), Terminal: term, Merchant: "M" + strconv.Itoa(r.IntN(3)), STAN: op.stan, DE7: op.de7,
			MTI: smPick(r, smMTIs), Proc: smPick(r, []string{"000000", "200000", "310000"}),
			Card: smPick(r, []string{"", "visa", "mc", "card-0-a"}), MaskedPAN: smPick(r, []string{"", "411111******1111", "550000******0004"}),
			Requested: r.Int64N(100000), Amount: r.Int64N(100000), Reversed: r.Int64N(3) * 100, Captured: r.Int64N(3) * 50,
			Currency: smPick(r, []string{"840", "978"}), Code: smPick(r, []string{"00", "05", "51", "10"}),
			State: smPick(r, smStates), RRN: smPick(r, smRRNs), AuthCode: smPick(r, smAuths),
			Fault: smPick(r, []string{"", "", "slow-rule"}), OrigID: r.Int64N(3), Response: smPick(r, []string{"", `{"39":"00"}`, `{"39":"05"}`}),
		}
		if r.IntN(7) == 0 {
			op.txn.Batch = smPick(r, smBatchNos)
		}
	case x < 370:
		op.kind = smUpdate
		op.how, op.pick, op.flowOnly = r.IntN(3), r.IntN(1000), g.flowOnly
		for op.mask == 0 {
			op.mask = uint(r.IntN(1 << len(smUpdFields)))
			if r.IntN(2) == 0 { // often just one or two fields
				op.mask &= uint(r.IntN(1 << len(smUpdFields)))
			}
			if g.flowOnly {
				op.mask &^= smUpdMask("RRN") | smUpdMask("AuthCode")
			}
		}
		op.txn = txnRecord{
			Batch: smPick(r, append([]string{"", ""}, smBatchNos...)), State: smPick(r, smStates),
			Amount: r.Int64N(100000), Reversed: r.Int64N(100000), RRN: smPick(r, smRRNs), AuthCode: smPick(r, smAuths),
			Captured: r.Int64N(100000), Code: smPick(r, []string{"00", "05", "51"}), Fault: smPick(r, []string{"", "f2"}),
			OrigID: r.Int64N(50), Response: smPick(r, []string{"", `{"39":"00","x":1}`}),
		}
		if r.IntN(5) == 0 { // settle an open transaction, or reopen one found otherwise
			op.mask = smUpdMask("Batch")
			op.txn.Batch = ""
			if op.how == 2 {
				op.txn.Batch = smPick(r, smBatchNos)
			}
		}
	case x < 510:
		op.kind, op.mtis = smByKey, smMTISubset(r)
	case x < 610:
		op.kind, op.mtis = smBySTAN, smMTISubset(r)
	case x < 710:
		op.kind, op.rrn, op.auth = smByApproval, smPick(r, smRRNs), smPick(r, smAuths)
	case x < 760:
		op.kind = smOpen
	case x < 800:
		op.kind, op.card = smCard, cardState{Name: smPick(r, sc.cards)}
	case x < 840:
		op.kind, op.card = smPutCard, g.cardState(smPick(r, sc.cards))
	case x < 865:
		op.kind, op.batch = smBatch, batchRecord{Terminal: term, Number: smPick(r, smBatchNos)}
	case x < 890:
		op.kind = smPutBatch
		op.batch = batchRecord{Terminal: term, Number: smPick(r, smBatchNos), State: smPick(r, smBStates),
			SaleCount: r.Int64N(10), SaleAmount: r.Int64N(100000), RefundCount: r.Int64N(3), RefundAmount: r.Int64N(1000), Time: smTime(r)}
	case x < 905:
		op.kind = smUpload
		op.upload = uploadRecord{Terminal: term, Batch: smPick(r, smBatchNos), STAN: op.stan, Proc: "000000",
			Amount: r.Int64N(1000), RRN: smPick(r, smRRNs), TxnID: r.Int64N(10), Time: smTime(r)}
	case x < 980:
		op.kind = smJournal
		op.entry = Entry{Time: smTime(r), Conn: r.Int64N(4), Direction: smPick(r, []string{"in", "out"}),
			MTI: smPick(r, []string{"0100", "0110", "0200", "0210", "0400"}), STAN: op.stan, RRN: smPick(r, smRRNs),
			Terminal: term, MaskedPAN: smPick(r, []string{"", "411111******1111"}), Card: smPick(r, []string{"", "visa", "mc"}),
			ProcessingCode: smPick(r, []string{"", "000000"}), Amount: r.Int64N(100000), ResponseCode: smPick(r, []string{"", "00", "05"}),
			Decision: smPick(r, []string{"approved", "declined", "duplicate"}), Fault: smPick(r, []string{"", "r1"}), FaultAction: smPick(r, []string{"", "delay"})}
	case x < 990:
		// Any scope may write any device: the stored counter is a max, so the order of
		// concurrent writers does not matter.
		op.kind = smPutDUKPT
		op.device, op.ctr = smPick(r, []string{"FFFF9876543210E", "123456789012345600"}), uint32(r.IntN(40))
	case x < 999 || !sc.allowReset:
		op.kind = smNextID
	default:
		op.kind, op.cards = smReset, g.resetCards(sc)
	}
	if (op.kind == smByKey || op.kind == smBySTAN || op.kind == smByApproval) && r.IntN(10) < 3 {
		op.how, op.pick = 1, r.IntN(1000)
	}
	return op
}

// ---- the harness ----

type smHarness struct {
	ctx context.Context
	// open opens the store (again, on the same data) with that seed, and returns with it
	// its group commit queue (see ordered).
	open func(seed []cardState) (store, chan *job, error)
	st   store
	jobs chan *job // st's queue of updates waiting for the writer
	m    *smModel
	g    *smGen

	needCheck                                          bool
	resets, restarts, nOrdered, nFree, failed, retried int
	found, notFound                                    int // lookups' outcomes in the model's runs
}

// tally counts a model run's lookup outcomes, to show the pools make lookups hit.
func (h *smHarness) tally(run smRun) {
	for _, l := range run.trace {
		if strings.Contains(l, "-> found") {
			h.found++
		} else if strings.Contains(l, "-> not found") {
			h.notFound++
		}
	}
}

// smCompareRuns checks every run of one update function against the model's run.
func smCompareRuns(who string, runs []smRun, want smRun) error {
	if len(runs) == 0 {
		return fmt.Errorf("%s: the update function never ran", who)
	}
	for i, run := range runs {
		if err := smCompareRun(fmt.Sprintf("%s, run %d of %d", who, i+1, len(runs)), run, want); err != nil {
			return err
		}
	}
	return nil
}

// smCompareRun reports the first line where a store run's trace and the model's differ.
func smCompareRun(who string, run, want smRun) error {
	for j := range max(len(run.trace), len(want.trace)) {
		got, exp := "(nothing)", "(nothing)"
		if j < len(run.trace) {
			got = run.trace[j]
		}
		if j < len(want.trace) {
			exp = want.trace[j]
		}
		if got != exp {
			return fmt.Errorf("%s, trace line %d differs:\n store: %s\n model: %s", who, j, got, exp)
		}
	}
	return nil
}

func smCheckErr(who string, err error, fail bool) error {
	if fail && !errors.Is(err, smErrBoom) {
		return fmt.Errorf("%s: update returned %v, want the function's own error", who, err)
	}
	if !fail && err != nil {
		return fmt.Errorf("%s: update returned %v, want nil", who, err)
	}
	return nil
}

func smHasReset(ops []smOp) bool {
	return slices.ContainsFunc(ops, func(o smOp) bool { return o.kind == smReset })
}

// sequential runs ops in one update call.
func (h *smHarness) sequential(ops []smOp, fail bool) error {
	target := h.m
	if fail {
		target = h.m.clone()
	}
	want, _ := smExec(target, ops, fail)
	h.tally(want)
	var runs []smRun
	err := h.st.update(h.ctx, func(tx storeTx) error {
		run, err := smExec(tx, ops, fail)
		runs = append(runs, run)
		return err
	})
	who := "update"
	if fail {
		who = "failing update"
		h.failed++
	}
	if e := cmp.Or(smCompareRuns(who, runs, want), smCheckErr(who, err, fail)); e != nil {
		return fmt.Errorf("%w\nits operations:\n%s", e, smOpsString(ops))
	}
	if !fail && smHasReset(ops) {
		h.resets++
		h.needCheck = true
	}
	return nil
}

type smMember struct {
	ops  []smOp
	fail bool
}

func smMembersString(ms []smMember) string {
	var b strings.Builder
	for i, m := range ms {
		fmt.Fprintf(&b, "member %d (fails: %v):\n%s", i, m.fail, smOpsString(m.ops))
	}
	return b.String()
}

// readers reads committed state concurrently with the writer until stopped (for the race
// detector; what they read is not compared).
func (h *smHarness) readers() (stop func() error) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	st := h.st
	for i := range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(200 * time.Microsecond): // reads of their own, not a busy loop
				}
				var err error
				if i == 0 {
					_, err = st.transactions(Filter{Terminal: smTerminals[0], Limit: 20})
					if err == nil {
						_, err = st.cards()
					}
				} else {
					_, err = st.journal(Filter{Limit: 20})
					if err == nil {
						_, _, err = st.card("card-0-a")
					}
				}
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	return func() error {
		close(done)
		wg.Wait()
		if first != nil {
			return fmt.Errorf("concurrent read: %w", first)
		}
		return nil
	}
}

// ordered runs the members' updates in a known order: each member sees the state the
// earlier successful members left, a failing member leaves nothing, and a batch a member
// failed in is retried member by member (the expectations do not depend on the batching).
//
// With chain 0, the updates are queued while the writer is held, so that they share a
// batch. Otherwise each update is queued chain-1 after the previous one's function has run,
// so that it joins that batch or is decided while that batch is still being committed (a
// pipelined writer must then read through it).
func (h *smHarness) ordered(ms []smMember, chain time.Duration) (err error) {
	h.nOrdered++
	wants := make([]smRun, len(ms))
	for i, mb := range ms {
		target := h.m
		if mb.fail {
			target = h.m.clone()
		}
		wants[i], _ = smExec(target, mb.ops, mb.fail)
		h.tally(wants[i])
	}
	stopReaders := h.readers()
	var mu sync.Mutex
	runs := make([][]smRun, len(ms))
	errs := make([]error, len(ms))
	ran := make([]chan struct{}, len(ms)) // closed when the member's function first ran
	for i := range ran {
		ran[i] = make(chan struct{})
	}
	hold, started := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	var holdErr error
	released := chain > 0
	release := func() {
		if !released {
			released = true
			close(hold)
		}
	}
	defer func() {
		release()
		wg.Wait()
		err = cmp.Or(err, stopReaders())
	}()
	if chain == 0 {
		wg.Go(func() {
			holdErr = h.st.update(h.ctx, func(storeTx) error {
				once.Do(func() { close(started) })
				<-hold
				return nil
			})
		})
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			return errors.New("ordered group: the writer never ran the holding update")
		}
	}
	for i, mb := range ms {
		wg.Go(func() {
			errs[i] = h.st.update(h.ctx, func(tx storeTx) error {
				run, err := smExec(tx, mb.ops, mb.fail)
				mu.Lock()
				if runs[i] = append(runs[i], run); len(runs[i]) == 1 {
					close(ran[i])
				}
				mu.Unlock()
				return err
			})
		})
		if chain > 0 {
			select {
			case <-ran[i]:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("chained group: member %d never ran", i)
			}
			time.Sleep(chain - 1)
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(h.jobs) < i+1 {
			if time.Now().After(deadline) {
				return fmt.Errorf("ordered group: member %d not queued", i)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	release()
	wg.Wait()
	if holdErr != nil {
		return fmt.Errorf("ordered group: holding update: %w", holdErr)
	}
	kind := "ordered group"
	if chain > 0 {
		kind = "chained group"
	}
	for i, mb := range ms {
		who := fmt.Sprintf("%s member %d of %d", kind, i, len(ms))
		if len(runs[i]) > 1 {
			h.retried++
		}
		if mb.fail {
			h.failed++
		} else if smHasReset(mb.ops) {
			h.resets++
			h.needCheck = true
		}
		if e := cmp.Or(smCompareRuns(who, runs[i], wants[i]), smCheckErr(who, errs[i], mb.fail)); e != nil {
			return fmt.Errorf("%w\nthe group:\n%s", e, smMembersString(ms))
		}
	}
	return nil
}

// free runs the members' updates concurrently, in whatever order and batches the writer
// takes them. They touch disjoint terminals and cards, so only the ids they get depend on
// the order: each run is replayed on the model with the sequences where the store's run
// found them, and the ids the committed runs took must be exactly the next ones, each once.
func (h *smHarness) free(ms []smMember) error {
	h.nFree++
	base := h.m.clone()
	stopReaders := h.readers()
	var mu sync.Mutex
	runs := make([][]smRun, len(ms))
	errs := make([]error, len(ms))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, mb := range ms {
		wg.Go(func() {
			<-start
			errs[i] = h.st.update(h.ctx, func(tx storeTx) error {
				run, err := smExec(tx, mb.ops, mb.fail)
				mu.Lock()
				runs[i] = append(runs[i], run)
				mu.Unlock()
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	if err := stopReaders(); err != nil {
		return err
	}
	var txnIDs, jrnlIDs []int64
	for i, mb := range ms {
		who := fmt.Sprintf("concurrent group member %d of %d", i, len(ms))
		if mb.fail {
			h.failed++
		}
		if err := smCheckErr(who, errs[i], mb.fail); err != nil {
			return fmt.Errorf("%w\nthe group:\n%s", err, smMembersString(ms))
		}
		if len(runs[i]) == 0 {
			return fmt.Errorf("%s: the update function never ran\nthe group:\n%s", who, smMembersString(ms))
		}
		if len(runs[i]) > 1 {
			h.retried++
		}
		for j, run := range runs[i] {
			committed := !mb.fail && j == len(runs[i])-1
			target := h.m
			if !committed {
				target = base.clone()
			}
			target.next = run.firstNext
			if len(run.jrnlIDs) > 0 {
				target.nextJrnl = run.jrnlIDs[0]
			}
			want, _ := smExec(target, mb.ops, mb.fail)
			if err := smCompareRun(fmt.Sprintf("%s, run %d of %d", who, j+1, len(runs[i])), run, want); err != nil {
				return fmt.Errorf("%w\nthe group:\n%s", err, smMembersString(ms))
			}
			if committed {
				txnIDs = append(txnIDs, run.txnIDs...)
				jrnlIDs = append(jrnlIDs, run.jrnlIDs...)
			}
		}
	}
	slices.Sort(txnIDs)
	slices.Sort(jrnlIDs)
	for k, id := range txnIDs {
		if id != base.next+int64(k) {
			return fmt.Errorf("concurrent group: committed transaction ids %v, want %d.. each once\nthe group:\n%s", txnIDs, base.next, smMembersString(ms))
		}
	}
	for k, id := range jrnlIDs {
		if id != base.nextJrnl+int64(k) {
			return fmt.Errorf("concurrent group: committed journal ids %v, want %d.. each once\nthe group:\n%s", jrnlIDs, base.nextJrnl, smMembersString(ms))
		}
	}
	h.m.next = base.next + int64(len(txnIDs))
	h.m.nextJrnl = base.nextJrnl + int64(len(jrnlIDs))
	h.m.sortByID()
	return nil
}

// restart closes the store and opens it again with a new seed.
func (h *smHarness) restart() error {
	h.restarts++
	if err := h.st.close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	seed := h.g.seedCards()
	st, jobs, err := h.open(seed)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	h.st, h.jobs = st, jobs
	h.m.reopen(seed)
	if err := h.checkpoint(); err != nil {
		return fmt.Errorf("after restart with seed %+v: %w", seed, err)
	}
	return nil
}

// checkpoint compares the committed reads with the model, then probes the writer's view:
// open transactions, batches, cards, every key, and the next id.
func (h *smHarness) checkpoint() error {
	h.needCheck = false
	r := h.g.r
	filters := []Filter{{}, {STAN: smSTAN(r)}, {Terminal: smPick(r, smTerminals), STAN: smSTAN(r)},
		{Card: smPick(r, []string{"visa", "mc"})}, {Since: smTime(r)}, {Limit: 1 + r.IntN(10)},
		{Terminal: smPick(r, smTerminals), Limit: 1 + r.IntN(10)}}
	// Since exactly at a stored time: the bound is inclusive.
	if len(h.m.txns) > 0 {
		filters = append(filters, Filter{Since: smPick(r, h.m.txns).Time})
	}
	if len(h.m.jrnl) > 0 {
		filters = append(filters, Filter{Since: smPick(r, h.m.jrnl).Time})
	}
	for _, term := range smTerminals {
		filters = append(filters, Filter{Terminal: term})
	}
	for _, f := range filters {
		got, err := h.st.transactions(f)
		if err != nil {
			return fmt.Errorf("transactions(%+v): %w", f, err)
		}
		want := h.m.transactions(f)
		for i := range max(len(got), len(want)) {
			if i >= len(got) || i >= len(want) || !smTxnEq(got[i], want[i]) {
				return fmt.Errorf("transactions(%+v): %d rows, model %d; first difference at row %d:\n store: %s\n model: %s",
					f, len(got), len(want), i, smAt(got, i, smTxnString), smAt(want, i, smTxnString))
			}
		}
		gotJ, err := h.st.journal(f)
		if err != nil {
			return fmt.Errorf("journal(%+v): %w", f, err)
		}
		wantJ := h.m.journal(f)
		for i := range max(len(gotJ), len(wantJ)) {
			if i >= len(gotJ) || i >= len(wantJ) || !smEntryEq(gotJ[i], wantJ[i]) {
				return fmt.Errorf("journal(%+v): %d lines, model %d; first difference at line %d:\n store: %s\n model: %s",
					f, len(gotJ), len(wantJ), i, smAt(gotJ, i, smEntryString), smAt(wantJ, i, smEntryString))
			}
		}
	}
	dk, err := h.st.dukptCounters()
	if err != nil {
		return fmt.Errorf("dukptCounters(): %w", err)
	}
	if want := h.m.dukpt; !maps.Equal(dk, want) && (len(dk) > 0 || len(want) > 0) {
		return fmt.Errorf("dukptCounters():\n store: %v\n model: %v", dk, want)
	}
	cs, err := h.st.cards()
	if err != nil {
		return fmt.Errorf("cards(): %w", err)
	}
	if want := h.m.cardList(); !slices.Equal(cs, want) {
		return fmt.Errorf("cards():\n store: %+v\n model: %+v", cs, want)
	}
	for _, name := range append(slices.Clone(smCardNames), "nobody") {
		c, ok, err := h.st.card(name)
		wc, wok, _ := h.m.card(name)
		if err != nil || ok != wok || (ok && c != wc) {
			return fmt.Errorf("card(%s): store %+v %v %v, model %+v %v", name, c, ok, err, wc, wok)
		}
	}
	// The writer's view.
	var probe []smOp
	for _, term := range smTerminals {
		probe = append(probe, smOp{n: -1, kind: smOpen, term: term})
		for _, no := range smBatchNos {
			probe = append(probe, smOp{n: -1, kind: smBatch, batch: batchRecord{Terminal: term, Number: no}})
		}
		for s := 1; s <= 20; s++ {
			for _, de7 := range smDE7s {
				probe = append(probe, smOp{n: -1, kind: smByKey, term: term, stan: fmt.Sprintf("%06d", s), de7: de7, mtis: smMTIs})
			}
		}
	}
	for _, name := range smCardNames {
		probe = append(probe, smOp{n: -1, kind: smCard, card: cardState{Name: name}})
	}
	probe = append(probe, smOp{n: -1, kind: smNextID})
	if err := h.sequential(probe, false); err != nil {
		return fmt.Errorf("checkpoint probe: %w", err)
	}
	return nil
}

func smAt[T any](xs []T, i int, f func(T) string) string {
	if i < len(xs) {
		return f(xs[i])
	}
	return "(nothing)"
}

func smEnvUint(t *testing.T, name string, def uint64) uint64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// TestStoreMatchesModel runs random update functions (inserts, updates, lookups, cards,
// batches, journal lines, resets; several operations in one function; functions that fail
// after writing; ordered and free concurrent groups) and restarts against the SQLite store
// and the reference model in lockstep, and compares everything either returns.
func TestStoreMatchesModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.db")
	smRunModel(t, 8000, false, func(seed []cardState) (store, chan *job, error) {
		st, err := openSQLite(path, seed)
		if err != nil {
			return nil, nil, err
		}
		return st, st.jobs, nil
	})
}

// TestPostgresStoreMatchesModel is TestStoreMatchesModel against the PostgreSQL store (in
// a schema of its own; skipped without POSDRILL_PG_URL). Every operation costs round trips,
// so it runs fewer operations by default; POSDRILL_MODEL_OPS sets the number as for SQLite.
// The model keeps both id sequences across restarts and resets, as the PostgreSQL store
// does (see smModel.keepIDs); everything else must match as for SQLite.
func TestPostgresStoreMatchesModel(t *testing.T) {
	url := pgURL(t)
	smRunModel(t, 3000, true, func(seed []cardState) (store, chan *job, error) {
		st, err := openPostgres(url, seed)
		if err != nil {
			return nil, nil, err
		}
		return st, st.jobs, nil
	})
}

// smRunModel runs the model test on the store open opens (defOps operations unless
// POSDRILL_MODEL_OPS says otherwise; keepIDs: see smModel).
func smRunModel(t *testing.T, defOps uint64, keepIDs bool, open func(seed []cardState) (store, chan *job, error)) {
	seed := smEnvUint(t, "POSDRILL_MODEL_SEED", 20260611)
	nOps := int(smEnvUint(t, "POSDRILL_MODEL_OPS", defOps))
	flowOnly := smEnvUint(t, "POSDRILL_MODEL_FLOW_UPDATES", 0) != 0
	t.Logf("seed %d, %d operations, updates only as the flows make them: %v (set POSDRILL_MODEL_SEED, POSDRILL_MODEL_OPS, POSDRILL_MODEL_FLOW_UPDATES=1 to change)",
		seed, nOps, flowOnly)
	g := &smGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), flowOnly: flowOnly}
	h := &smHarness{ctx: context.Background(), open: open, g: g}
	seedCards := g.seedCards()
	st, jobs, err := h.open(seedCards)
	if err != nil {
		t.Fatal(err)
	}
	h.st, h.jobs = st, jobs
	defer func() { h.st.close() }()
	h.m = smNewModel(seedCards, keepIDs)
	fatal := func(step int, err error) {
		t.Helper()
		env := ""
		if flowOnly {
			env = " POSDRILL_MODEL_FLOW_UPDATES=1"
		}
		t.Fatalf("divergence (seed %d: rerun with POSDRILL_MODEL_SEED=%d%s), step %d:\n%v", seed, seed, env, step, err)
	}
	if err := h.checkpoint(); err != nil {
		fatal(0, err)
	}
	r := g.r
	step := 0
	for g.n < nOps {
		step++
		var err error
		// Besides the random ones, a committed reset and a restart every few hundred steps,
		// whatever the seed.
		switch x := r.IntN(1000); {
		case x < 6 || step%500 == 0:
			err = h.restart()
		case step%400 == 200:
			err = h.sequential(g.resetOps(), false)
		case x < 12:
			err = h.sequential(g.resetOps(), r.IntN(100) < 15)
		case x < 20:
			sc := smAll
			if r.IntN(2) == 0 {
				sc = g.narrow()
			}
			err = h.sequential(g.bulkOps(sc), r.IntN(100) < 15)
		case x < 50:
			ms := make([]smMember, 2+r.IntN(6))
			sc := smAll
			if r.IntN(4) != 0 {
				sc = g.narrow()
			}
			for i := range ms {
				ms[i] = smMember{ops: g.ops(sc), fail: r.IntN(100) < 15}
			}
			// Held in one batch, or chained with no, a short or a longer pause.
			err = h.ordered(ms, smPick(r, []time.Duration{0, 0, 1, 50 * time.Microsecond, 300 * time.Microsecond}))
		case x < 80:
			terms := r.Perm(len(smTerminals))[:2+r.IntN(len(smTerminals)-1)]
			ms := make([]smMember, len(terms))
			for i, term := range terms {
				ms[i] = smMember{ops: g.ops(smScopeOf(term)), fail: r.IntN(100) < 15}
			}
			err = h.free(ms)
		default:
			sc := smAll
			if r.IntN(3) == 0 {
				sc = g.narrow()
			}
			err = h.sequential(g.ops(sc), r.IntN(100) < 7)
		}
		if err == nil && (h.needCheck || step%100 == 0) {
			err = h.checkpoint()
		}
		if err != nil {
			fatal(step, err)
		}
	}
	if err := h.checkpoint(); err != nil {
		fatal(step, err)
	}
	if err := h.restart(); err != nil {
		fatal(step, err)
	}
	t.Logf("%d steps, %d operations: %d resets, %d restarts, %d ordered and %d free concurrent groups, %d failing functions, %d functions run more than once; lookups: %d found, %d not found; %d transactions and %d journal lines at the end",
		step, g.n, h.resets, h.restarts, h.nOrdered, h.nFree, h.failed, h.retried, h.found, h.notFound, len(h.m.txns), len(h.m.jrnl))
}
