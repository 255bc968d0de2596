package acquirer

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/posdrill/posdrill/iso/bounded"
)

const schema = `
CREATE TABLE IF NOT EXISTS cards (
	name TEXT PRIMARY KEY,
	opening INTEGER NOT NULL,
	available INTEGER NOT NULL,
	held INTEGER NOT NULL,
	pin_tries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS transactions (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,
	terminal TEXT NOT NULL,
	merchant TEXT NOT NULL,
	stan TEXT NOT NULL,
	de7 TEXT NOT NULL,
	mti TEXT NOT NULL,
	proc TEXT NOT NULL,
	card TEXT NOT NULL,
	masked_pan TEXT NOT NULL,
	requested INTEGER NOT NULL,
	amount INTEGER NOT NULL,
	reversed INTEGER NOT NULL DEFAULT 0,
	captured INTEGER NOT NULL DEFAULT 0,
	currency TEXT NOT NULL,
	code TEXT NOT NULL,
	state TEXT NOT NULL,
	rrn TEXT NOT NULL,
	auth_code TEXT NOT NULL,
	fault TEXT NOT NULL,
	orig_id INTEGER NOT NULL DEFAULT 0,
	batch TEXT NOT NULL DEFAULT '',
	response TEXT NOT NULL DEFAULT ''
);
-- Lookups by (terminal, STAN, DE7), (terminal, STAN) and open batch use the writer's
-- in-memory index (sqliteindex.go); only pre-authorizations, which completions find by RRN
-- or auth code, are indexed here, so that ordinary inserts dirty no index page.
DROP INDEX IF EXISTS transactions_key;
DROP INDEX IF EXISTS transactions_rrn;
DROP INDEX IF EXISTS transactions_open;
CREATE INDEX IF NOT EXISTS transactions_preauth_rrn ON transactions (terminal, rrn) WHERE mti = '0100';
CREATE INDEX IF NOT EXISTS transactions_preauth_auth ON transactions (terminal, auth_code) WHERE mti = '0100';
CREATE TABLE IF NOT EXISTS journal (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,
	conn INTEGER NOT NULL,
	direction TEXT NOT NULL,
	mti TEXT NOT NULL,
	stan TEXT NOT NULL,
	rrn TEXT NOT NULL,
	terminal TEXT NOT NULL,
	masked_pan TEXT NOT NULL,
	card TEXT NOT NULL,
	proc TEXT NOT NULL,
	amount INTEGER NOT NULL,
	code TEXT NOT NULL,
	decision TEXT NOT NULL,
	fault TEXT NOT NULL,
	fault_action TEXT NOT NULL
);
-- No index besides the id: journal reads filtered by terminal scan it (admin use only).
DROP INDEX IF EXISTS journal_terminal;
CREATE TABLE IF NOT EXISTS batches (
	terminal TEXT NOT NULL,
	number TEXT NOT NULL,
	state TEXT NOT NULL,
	sale_count INTEGER NOT NULL,
	sale_amount INTEGER NOT NULL,
	refund_count INTEGER NOT NULL,
	refund_amount INTEGER NOT NULL,
	time INTEGER NOT NULL,
	PRIMARY KEY (terminal, number)
);
CREATE TABLE IF NOT EXISTS uploads (
	id INTEGER PRIMARY KEY,
	terminal TEXT NOT NULL,
	batch TEXT NOT NULL,
	stan TEXT NOT NULL,
	proc TEXT NOT NULL,
	amount INTEGER NOT NULL,
	rrn TEXT NOT NULL,
	txn_id INTEGER NOT NULL,
	time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dukpt_counters (
	device TEXT PRIMARY KEY,
	counter INTEGER NOT NULL
);
`

// sqliteStore is the SQLite store: WAL, synchronous=FULL, one writer goroutine that runs
// queued updates in batches, each batch one transaction and one fsync (group commit).
type sqliteStore struct {
	w *sql.DB // the writer's single connection
	r *sql.DB // readers (the same as w for ":memory:")

	groupCommit

	// Owned by the writer goroutine.
	next       int64                // next transaction id
	nextJrnl   int64                // next journal line id
	stmts      map[string]*sql.Stmt // prepared once on the writer's connection
	unprepared map[string]bool      // queries seen in a transaction, to prepare after it

	// idx indexes the committed transactions (see txnIndex). Entries are added only after
	// their batch commits (a rolled-back batch adds none); it is rebuilt from the table after
	// a reset or a failed commit. nil when that rebuild failed: batches then fail until a
	// rebuild succeeds, since lookups without it would miss transactions.
	idx *txnIndex

	// cardCache is every card row as last committed (nil: unknown, read SQLite). An update
	// function's putCard only changes its batch's overlay; the batch writes each changed card
	// once, just before its commit, and the overlay enters the cache only after the commit.
	cardCache map[string]cardState
}

// loadCards rebuilds cardCache from the table; on failure card reads go to SQLite.
func (s *sqliteStore) loadCards() {
	rows, err := s.w.Query(`SELECT name, opening, available, held, pin_tries FROM cards`)
	if err != nil {
		s.cardCache = nil
		return
	}
	defer rows.Close()
	m := map[string]cardState{}
	for rows.Next() {
		var c cardState
		if err := rows.Scan(&c.Name, &c.Opening, &c.Available, &c.Held, &c.PINTries); err != nil {
			s.cardCache = nil
			return
		}
		m[c.Name] = c
	}
	if rows.Err() != nil {
		s.cardCache = nil
		return
	}
	s.cardCache = m
}

// openSQLite opens (creating if needed) the database at path, or an in-memory one for
// ":memory:" or "". Cards missing from the database are added from seed; cards already
// there keep their balances (a restart keeps the ledger).
func openSQLite(path string, seed []cardState) (*sqliteStore, error) {
	memory := path == "" || path == ":memory:"
	var dsn string
	if memory {
		dsn = "file::memory:"
	} else {
		if err := bounded.RegularOrAbsent(path); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		dsn = "file:" + (&url.URL{Path: path}).EscapedPath()
	}
	dsn += "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// One connection: the single writer. For :memory: it must also serve reads, because
	// each connection to ":memory:" would be its own empty database.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if _, err := w.Exec(schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: create schema: %w", path, err)
	}
	r := w
	if !memory {
		r, err = sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open store %s: readers: %w", path, err)
		}
		r.SetMaxOpenConns(4)
	}
	s := &sqliteStore{w: w, r: r, groupCommit: newGroupCommit(),
		stmts: map[string]*sql.Stmt{}, unprepared: map[string]bool{}}
	if err := w.QueryRow(`SELECT COALESCE(MAX(id), 0) + 1 FROM transactions`).Scan(&s.next); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store %s: read sequence: %w", path, err)
	}
	if err := w.QueryRow(`SELECT COALESCE(MAX(id), 0) + 1 FROM journal`).Scan(&s.nextJrnl); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store %s: read journal sequence: %w", path, err)
	}
	if s.idx, err = loadTxnIndex(w); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store %s: index transactions: %w", path, err)
	}
	for _, c := range seed {
		if _, err := w.Exec(`INSERT OR IGNORE INTO cards (name, opening, available, held, pin_tries) VALUES (?, ?, ?, 0, 0)`,
			c.Name, c.Opening, c.Available); err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("open store %s: load card %q: %w", path, c.Name, err)
		}
	}
	s.loadCards()
	go s.writer(s.run)
	return s, nil
}

func (s *sqliteStore) closeDBs() {
	if s.r != s.w {
		s.r.Close()
	}
	s.w.Close()
}

// run commits a batch in one transaction. If any member fails, the transaction is rolled
// back and every member is retried in a transaction of its own, so one bad update cannot
// take the others down with it.
func (s *sqliteStore) run(batch []*job) {
	errs, err := s.runTx(batch)
	if err == nil {
		for i, j := range batch {
			j.done <- errs[i]
		}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- err
		return
	}
	for _, j := range batch {
		_, err := s.runTx([]*job{j})
		j.done <- err
	}
}

// runTx runs the jobs in one transaction. It returns a per-job error slice (all nil on
// success) or the error that made it roll back.
func (s *sqliteStore) runTx(jobs []*job) ([]error, error) {
	if s.idx == nil {
		if err := s.reloadIndex(); err != nil {
			return nil, fmt.Errorf("store: index transactions: %w", err)
		}
	}
	next, nextJrnl := s.next, s.nextJrnl
	tx, err := s.w.Begin()
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	t := &sqliteTx{tx: tx, s: s, stmts: map[string]*sql.Stmt{}}
	for _, j := range jobs {
		if err := j.fn(t); err != nil {
			tx.Rollback()
			s.next, s.nextJrnl = next, nextJrnl
			s.prepareNew()
			return nil, err
		}
	}
	if err := t.flush(); err != nil {
		tx.Rollback()
		s.next, s.nextJrnl = next, nextJrnl
		s.prepareNew()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		s.next, s.nextJrnl = next, nextJrnl
		s.prepareNew()
		// Rebuild the index and cards from whatever the failed commit left on disk.
		_ = s.reloadIndex() // on failure idx is nil: the next batch tries again
		s.loadCards()
		s.resyncIDs()
		return nil, fmt.Errorf("store: commit: %w", err)
	}
	if t.cardsReset {
		s.loadCards()
	} else if s.cardCache != nil {
		for name, c := range t.dirty {
			s.cardCache[name] = c
		}
	}
	if t.wasReset {
		// Rebuild from the table: the reset dropped every older transaction.
		_ = s.reloadIndex() // on failure idx is nil: the next batch tries again
	} else {
		for terminal, ids := range t.seenOpen {
			s.idx.setOpen(terminal, ids)
		}
		for terminal, ids := range t.reopened {
			for _, id := range ids {
				s.idx.reopen(terminal, id)
			}
		}
		for i := range t.newTxns {
			r := &t.newTxns[i]
			s.idx.add(r.ID, r.Terminal, r.STAN, r.DE7, r.MTI, r.Batch == "")
		}
	}
	s.prepareNew()
	return make([]error, len(jobs)), nil
}

// prepareNew prepares, store-wide, the queries the last transaction met for the first time
// (the write connection is free again now). A failure only means parsing again next time.
func (s *sqliteStore) prepareNew() {
	for q := range s.unprepared {
		if st, err := s.w.Prepare(q); err == nil {
			s.stmts[q] = st
		}
		delete(s.unprepared, q)
	}
}

// resyncIDs makes sure, after a failed commit, that the next ids are past every id on disk
// (in case the commit was durable after all), so they are never given twice.
func (s *sqliteStore) resyncIDs() {
	var n int64
	if s.w.QueryRow(`SELECT COALESCE(MAX(id), 0) + 1 FROM transactions`).Scan(&n) == nil && n > s.next {
		s.next = n
	}
	if s.w.QueryRow(`SELECT COALESCE(MAX(id), 0) + 1 FROM journal`).Scan(&n) == nil && n > s.nextJrnl {
		s.nextJrnl = n
	}
}

// reloadIndex rebuilds the transaction index from the table; if that fails, idx is nil
// and the next batch tries again.
func (s *sqliteStore) reloadIndex() error {
	x, err := loadTxnIndex(s.w)
	s.idx = x
	return err
}

func (s *sqliteStore) close() error {
	s.shutdown()
	for _, st := range s.stmts {
		st.Close()
	}
	if s.r != s.w {
		s.r.Close()
	}
	return s.w.Close()
}

// sqliteTx implements storeTx on one batch transaction.
type sqliteTx struct {
	tx    *sql.Tx
	s     *sqliteStore
	stmts map[string]*sql.Stmt // the store's statements bound to this transaction

	dirty      map[string]cardState // cards changed in this batch, written by flushCards
	dirtyOrder []string             // their names in first-change order
	cardsReset bool                 // reset ran: cards not in dirty do not exist
	jrnl       []Entry              // journal lines of this batch, written by flush

	// newTxns are the transactions inserted in this batch, in id order, written by flush
	// (updates of them change them here); lookups search them before the index.
	newTxns []txnRecord
	// seenOpen is, per terminal whose open transactions were listed, the committed ids
	// found still open: the index's open list after the commit.
	seenOpen map[string][]int64
	// reopened lists, per terminal, committed transactions this batch updated with an
	// empty batch: the index's open list must keep them (it may have dropped them).
	reopened map[string][]int64
	wasReset bool // reset ran in this batch: the index is stale until rebuilt
}

// stmt returns q prepared (once for the store's life: parsing SQL costs more than running
// these statements) and bound to the transaction.
func (t *sqliteTx) stmt(q string) (*sql.Stmt, error) {
	if st, ok := t.stmts[q]; ok {
		return st, nil
	}
	if st, ok := t.s.stmts[q]; ok {
		st = t.tx.Stmt(st) // reuses the statement prepared on the one write connection
		t.stmts[q] = st
		return st, nil
	}
	// The transaction holds the only write connection, so a store-wide statement can only
	// be prepared after it ends (see prepareNew); for now, one for this transaction.
	st, err := t.tx.Prepare(q)
	if err != nil {
		return nil, err
	}
	t.s.unprepared[q] = true
	t.stmts[q] = st
	return st, nil
}

func (t *sqliteTx) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.Exec(args...)
}

func (t *sqliteTx) queryRow(q string, args ...any) *sql.Row {
	st, err := t.stmt(q)
	if err != nil {
		// Surface the error through Scan, like QueryRow does.
		return t.tx.QueryRow(q, args...)
	}
	return st.QueryRow(args...)
}

func (t *sqliteTx) query(q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.Query(args...)
}

func (t *sqliteTx) card(name string) (cardState, bool, error) {
	if c, ok := t.dirty[name]; ok {
		return c, true, nil
	}
	if t.cardsReset {
		return cardState{}, false, nil
	}
	if t.s.cardCache != nil {
		c, ok := t.s.cardCache[name]
		return c, ok, nil
	}
	return queryCard(t, name)
}

// flush writes, just before the commit, the batch's new transactions and journal lines
// in multi-row inserts and each card changed in the batch once.
func (t *sqliteTx) flush() error {
	for rest := t.newTxns; len(rest) > 0; {
		n := min(len(rest), txnRows)
		if err := t.insertTxns(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	for _, name := range t.dirtyOrder {
		if err := t.writeCard(t.dirty[name]); err != nil {
			return err
		}
	}
	for rest := t.jrnl; len(rest) > 0; {
		n := min(len(rest), jrnlRows)
		if err := t.insertJournal(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	t.jrnl = t.jrnl[:0]
	return nil
}

// jrnlRows is the most journal lines one INSERT carries (16 parameters each).
const jrnlRows = 32

const jrnlInsert = `INSERT INTO journal (id, time, conn, direction, mti, stan, rrn, terminal, masked_pan, card, proc, amount, code, decision, fault, fault_action) VALUES `
const jrnlRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// jrnlQueries[n] inserts n journal lines.
var jrnlQueries = func() []string {
	q := make([]string, jrnlRows+1)
	for n := 1; n <= jrnlRows; n++ {
		q[n] = jrnlInsert + strings.TrimSuffix(strings.Repeat(jrnlRow+",", n), ",")
	}
	return q
}()

func (t *sqliteTx) insertJournal(es []Entry) error {
	args := make([]any, 0, 16*len(es))
	for i := range es {
		e := &es[i]
		args = append(args, e.ID, e.Time.UnixNano(), e.Conn, e.Direction, e.MTI, e.STAN, e.RRN, e.Terminal, e.MaskedPAN,
			e.Card, e.ProcessingCode, e.Amount, e.ResponseCode, e.Decision, e.Fault, e.FaultAction)
	}
	if _, err := t.exec(jrnlQueries[len(es)], args...); err != nil {
		e := &es[0]
		return fmt.Errorf("store: append journal (%d lines from %s %s STAN %s): %w", len(es), e.Direction, e.MTI, e.STAN, err)
	}
	return nil
}

type querier interface {
	QueryRow(q string, args ...any) *sql.Row
}

// QueryRow lets a sqliteTx serve as a querier with its prepared statements.
func (t *sqliteTx) QueryRow(q string, args ...any) *sql.Row { return t.queryRow(q, args...) }

func queryCard(q querier, name string) (cardState, bool, error) {
	c := cardState{Name: name}
	err := q.QueryRow(`SELECT opening, available, held, pin_tries FROM cards WHERE name = ?`, name).
		Scan(&c.Opening, &c.Available, &c.Held, &c.PINTries)
	if errors.Is(err, sql.ErrNoRows) {
		return cardState{}, false, nil
	}
	if err != nil {
		return cardState{}, false, fmt.Errorf("store: read card %q: %w", name, err)
	}
	return c, true, nil
}

func (t *sqliteTx) putCard(c cardState) error {
	if t.dirty == nil {
		t.dirty = map[string]cardState{}
	}
	if _, ok := t.dirty[c.Name]; !ok {
		t.dirtyOrder = append(t.dirtyOrder, c.Name)
	}
	t.dirty[c.Name] = c
	return nil
}

func (t *sqliteTx) writeCard(c cardState) error {
	_, err := t.exec(`INSERT INTO cards (name, opening, available, held, pin_tries) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET opening = excluded.opening, available = excluded.available,
		held = excluded.held, pin_tries = excluded.pin_tries`, c.Name, c.Opening, c.Available, c.Held, c.PINTries)
	if err != nil {
		return fmt.Errorf("store: write card %q: %w", c.Name, err)
	}
	return nil
}

func (t *sqliteTx) nextID() int64 { return t.s.next }

const txnColumns = `id, time, terminal, merchant, stan, de7, mti, proc, card, masked_pan, requested, amount,
	reversed, captured, currency, code, state, rrn, auth_code, fault, orig_id, batch, response`

// txnRows is the most transactions one INSERT carries (23 parameters each).
const txnRows = 32

// txnQueries[n] inserts n transactions.
var txnQueries = func() []string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", 23), ", ") + ")"
	q := make([]string, txnRows+1)
	for n := 1; n <= txnRows; n++ {
		q[n] = `INSERT INTO transactions (` + txnColumns + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
	}
	return q
}()

func (t *sqliteTx) insertTxns(rs []txnRecord) error {
	args := make([]any, 0, 23*len(rs))
	for i := range rs {
		r := &rs[i]
		args = append(args, r.ID, r.Time.UnixNano(), r.Terminal, r.Merchant, r.STAN, r.DE7, r.MTI, r.Proc, r.Card, r.MaskedPAN,
			r.Requested, r.Amount, r.Reversed, r.Captured, r.Currency, r.Code, r.State, r.RRN, r.AuthCode,
			r.Fault, r.OrigID, r.Batch, r.Response)
	}
	if _, err := t.exec(txnQueries[len(rs)], args...); err != nil {
		r := &rs[0]
		return fmt.Errorf("store: insert transactions (%d, from terminal %s STAN %s): %w", len(rs), r.Terminal, r.STAN, err)
	}
	return nil
}

// insertTxn assigns the transaction its id and queues it; flush writes it with the batch.
func (t *sqliteTx) insertTxn(r *txnRecord) error {
	r.ID = t.s.next
	t.s.next++
	t.newTxns = append(t.newTxns, *r)
	return nil
}

// queued finds a transaction inserted in this batch.
func (t *sqliteTx) queued(id int64) *txnRecord {
	for i := len(t.newTxns) - 1; i >= 0; i-- {
		if t.newTxns[i].ID == id {
			return &t.newTxns[i]
		}
	}
	return nil
}

func (t *sqliteTx) updateTxn(r *txnRecord) error {
	if q := t.queued(r.ID); q != nil {
		// The same columns as the UPDATE below.
		q.Amount, q.Reversed, q.Captured, q.Code, q.State = r.Amount, r.Reversed, r.Captured, r.Code, r.State
		q.RRN, q.AuthCode, q.Fault, q.OrigID, q.Batch, q.Response = r.RRN, r.AuthCode, r.Fault, r.OrigID, r.Batch, r.Response
		return nil
	}
	_, err := t.exec(`UPDATE transactions SET amount = ?, reversed = ?, captured = ?, code = ?, state = ?,
		rrn = ?, auth_code = ?, fault = ?, orig_id = ?, batch = ?, response = ? WHERE id = ?`,
		r.Amount, r.Reversed, r.Captured, r.Code, r.State, r.RRN, r.AuthCode, r.Fault, r.OrigID, r.Batch, r.Response, r.ID)
	if err != nil {
		return fmt.Errorf("store: update transaction %d: %w", r.ID, err)
	}
	if r.Batch == "" {
		if t.reopened == nil {
			t.reopened = map[string][]int64{}
		}
		t.reopened[r.Terminal] = append(t.reopened[r.Terminal], r.ID)
	}
	return nil
}

func scanTxn(rows interface{ Scan(...any) error }) (txnRecord, error) {
	var r txnRecord
	var ts int64
	err := rows.Scan(&r.ID, &ts, &r.Terminal, &r.Merchant, &r.STAN, &r.DE7, &r.MTI, &r.Proc, &r.Card, &r.MaskedPAN,
		&r.Requested, &r.Amount, &r.Reversed, &r.Captured, &r.Currency, &r.Code, &r.State, &r.RRN, &r.AuthCode,
		&r.Fault, &r.OrigID, &r.Batch, &r.Response)
	r.Time = time.Unix(0, ts).UTC()
	return r, err
}

// committed reads a committed transaction (with this batch's updates) by id.
func (t *sqliteTx) committed(id int64) (txnRecord, bool, error) {
	return t.oneTxn("id", `id = ?`, id)
}

// newest returns the newest transaction of this batch that match accepts.
func (t *sqliteTx) newest(match func(*txnRecord) bool) (txnRecord, bool) {
	for i := len(t.newTxns) - 1; i >= 0; i-- {
		if match(&t.newTxns[i]) {
			return t.newTxns[i], true
		}
	}
	return txnRecord{}, false
}

// find returns the newest transaction that match accepts: among this batch's, then along
// the index chain of hash h (entries whose MTI cannot be one of mtis are skipped unread).
func (t *sqliteTx) find(what string, match func(*txnRecord) bool, head map[uint64]int64, prev map[int64]int64,
	h uint64, mtis []string) (txnRecord, bool, error) {
	if r, ok := t.newest(match); ok {
		return r, true, nil
	}
	if t.wasReset {
		return txnRecord{}, false, nil // every committed transaction was deleted
	}
	var out txnRecord
	var found bool
	err := walk(head, prev, h, func(e int64) (bool, error) {
		if !mayBe(e, mtis) {
			return false, nil
		}
		r, ok, err := t.committed(entryID(e))
		if ok && match(&r) {
			out, found = r, true
			return true, nil
		}
		return err != nil, err
	})
	if err != nil {
		return txnRecord{}, false, fmt.Errorf("%w (looking up by %s)", err, what)
	}
	return out, found, nil
}

func (t *sqliteTx) txnByKey(terminal, stan, de7 string, mtis ...string) (txnRecord, bool, error) {
	x := t.s.idx
	return t.find("terminal, STAN and DE7", func(r *txnRecord) bool {
		return r.Terminal == terminal && r.STAN == stan && r.DE7 == de7 && slices.Contains(mtis, r.MTI)
	}, x.keyHead, x.keyPrev, x.keyHash(terminal, stan, de7), mtis)
}

func (t *sqliteTx) txnBySTAN(terminal, stan string, mtis ...string) (txnRecord, bool, error) {
	x := t.s.idx
	return t.find("terminal and STAN", func(r *txnRecord) bool {
		return r.Terminal == terminal && r.STAN == stan && slices.Contains(mtis, r.MTI)
	}, x.stanHead, x.stanPrev, x.stanHash(terminal, stan), mtis)
}

func (t *sqliteTx) oneTxn(what, where string, args ...any) (txnRecord, bool, error) {
	r, err := scanTxn(t.queryRow(`SELECT `+txnColumns+` FROM transactions WHERE `+where+` ORDER BY id DESC LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return txnRecord{}, false, nil
	}
	if err != nil {
		return txnRecord{}, false, fmt.Errorf("store: find transaction by %s: %w", what, err)
	}
	return r, true, nil
}

func (t *sqliteTx) txnByApproval(terminal, rrn, authCode string) (txnRecord, bool, error) {
	if rrn == "" && authCode == "" {
		return txnRecord{}, false, nil
	}
	if r, ok := t.newest(func(r *txnRecord) bool {
		return r.Terminal == terminal && r.MTI == "0100" && (rrn == "" || r.RRN == rrn) && (authCode == "" || r.AuthCode == authCode)
	}); ok {
		return r, true, nil
	}
	// The partial indexes on pre-authorizations serve these (mti = '0100' must stay literal).
	switch {
	case rrn != "" && authCode != "":
		return t.oneTxn("RRN and auth code", `terminal = ? AND rrn = ? AND auth_code = ? AND mti = '0100'`, terminal, rrn, authCode)
	case rrn != "":
		return t.oneTxn("RRN", `terminal = ? AND rrn = ? AND mti = '0100'`, terminal, rrn)
	default:
		return t.oneTxn("auth code", `terminal = ? AND auth_code = ? AND mti = '0100'`, terminal, authCode)
	}
}

// openTxns reads the terminal's committed transactions the index lists as maybe open and
// keeps those still open, then adds this batch's.
func (t *sqliteTx) openTxns(terminal string) ([]txnRecord, error) {
	var out []txnRecord
	if !t.wasReset {
		var still []int64
		ids := t.s.idx.open[terminal]
		if re := t.reopened[terminal]; len(re) > 0 {
			ids = slices.Concat(ids, re)
			slices.Sort(ids)
			ids = slices.Compact(ids)
		}
		for rest := ids; len(rest) > 0; {
			n := min(len(rest), openChunk)
			rs, err := t.byIDs(rest[:n])
			if err != nil {
				return nil, fmt.Errorf("store: open batch of %s: %w", terminal, err)
			}
			for _, r := range rs {
				if r.Batch == "" && r.Terminal == terminal {
					out = append(out, r)
					still = append(still, r.ID)
				}
			}
			rest = rest[n:]
		}
		if t.seenOpen == nil {
			t.seenOpen = map[string][]int64{}
		}
		t.seenOpen[terminal] = still
	}
	for _, r := range t.newTxns {
		if r.Terminal == terminal && r.Batch == "" {
			out = append(out, r)
		}
	}
	return out, nil
}

// openChunk is how many ids byIDs reads in one query.
const openChunk = 256

// openQuery reads up to openChunk transactions by id, in id order.
var openQuery = `SELECT ` + txnColumns + ` FROM transactions WHERE id IN (` +
	strings.TrimSuffix(strings.Repeat("?,", openChunk), ",") + `) ORDER BY id`

// byIDs reads the committed transactions with these ids (at most openChunk; missing ones
// are left out) in one query: the ids are padded to openChunk with the last one, so that one
// prepared statement serves every call.
func (t *sqliteTx) byIDs(ids []int64) ([]txnRecord, error) {
	args := make([]any, openChunk)
	for i := range args {
		args[i] = ids[min(i, len(ids)-1)]
	}
	rows, err := t.query(openQuery, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []txnRecord
	for rows.Next() {
		r, err := scanTxn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *sqliteTx) batch(terminal, number string) (batchRecord, bool, error) {
	b := batchRecord{Terminal: terminal, Number: number}
	var ts int64
	err := t.queryRow(`SELECT state, sale_count, sale_amount, refund_count, refund_amount, time FROM batches
		WHERE terminal = ? AND number = ?`, terminal, number).
		Scan(&b.State, &b.SaleCount, &b.SaleAmount, &b.RefundCount, &b.RefundAmount, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return batchRecord{}, false, nil
	}
	if err != nil {
		return batchRecord{}, false, fmt.Errorf("store: read batch %s of %s: %w", number, terminal, err)
	}
	b.Time = time.Unix(0, ts).UTC()
	return b, true, nil
}

func (t *sqliteTx) putBatch(b batchRecord) error {
	_, err := t.exec(`INSERT INTO batches (terminal, number, state, sale_count, sale_amount, refund_count, refund_amount, time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (terminal, number) DO UPDATE SET state = excluded.state,
		sale_count = excluded.sale_count, sale_amount = excluded.sale_amount, refund_count = excluded.refund_count,
		refund_amount = excluded.refund_amount, time = excluded.time`,
		b.Terminal, b.Number, b.State, b.SaleCount, b.SaleAmount, b.RefundCount, b.RefundAmount, b.Time.UnixNano())
	if err != nil {
		return fmt.Errorf("store: write batch %s of %s: %w", b.Number, b.Terminal, err)
	}
	return nil
}

func (t *sqliteTx) addUpload(u uploadRecord) error {
	_, err := t.exec(`INSERT INTO uploads (terminal, batch, stan, proc, amount, rrn, txn_id, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Terminal, u.Batch, u.STAN, u.Proc, u.Amount, u.RRN, u.TxnID, u.Time.UnixNano())
	if err != nil {
		return fmt.Errorf("store: record upload (terminal %s STAN %s): %w", u.Terminal, u.STAN, err)
	}
	return nil
}

func (t *sqliteTx) putDUKPT(device string, counter uint32) error {
	_, err := t.exec(`INSERT INTO dukpt_counters (device, counter) VALUES (?, ?)
		ON CONFLICT (device) DO UPDATE SET counter = max(counter, excluded.counter)`, device, int64(counter))
	if err != nil {
		return fmt.Errorf("store: record DUKPT counter %d of device %s: %w", counter, device, err)
	}
	return nil
}

// appendJournal assigns the line its id and queues it; flush writes it with the batch.
func (t *sqliteTx) appendJournal(e *Entry) error {
	e.ID = t.s.nextJrnl
	t.s.nextJrnl++
	t.jrnl = append(t.jrnl, *e)
	return nil
}

func (t *sqliteTx) reset(cards []cardState) error {
	t.wasReset = true // from here on this batch asks SQLite; the key set is rebuilt after it
	// The cards changed so far are deleted with the rest; only those put from here on exist.
	t.dirty, t.dirtyOrder, t.cardsReset = nil, nil, true
	// Journal lines and transactions queued so far are deleted too; journal ids start over
	// as SQLite's would.
	t.jrnl, t.s.nextJrnl = t.jrnl[:0], 1
	t.newTxns, t.seenOpen, t.reopened = nil, nil, nil
	for _, q := range []string{`DELETE FROM cards`, `DELETE FROM transactions`, `DELETE FROM journal`, `DELETE FROM batches`, `DELETE FROM uploads`} {
		if _, err := t.exec(q); err != nil {
			return fmt.Errorf("store: reset: %w", err)
		}
	}
	for _, c := range cards {
		if err := t.putCard(c); err != nil {
			return err
		}
	}
	// Ids keep growing across a reset so that RRNs stay unique for the host's lifetime.
	return nil
}

// Reads.

func (s *sqliteStore) card(name string) (cardState, bool, error) { return queryCard(s.r, name) }

func (s *sqliteStore) dukptCounters() (map[string]uint32, error) {
	rows, err := s.r.Query(`SELECT device, counter FROM dukpt_counters`)
	if err != nil {
		return nil, fmt.Errorf("store: read DUKPT counters: %w", err)
	}
	defer rows.Close()
	out := map[string]uint32{}
	for rows.Next() {
		var d string
		var c int64
		if err := rows.Scan(&d, &c); err != nil {
			return nil, fmt.Errorf("store: read DUKPT counters: %w", err)
		}
		out[d] = uint32(c)
	}
	return out, rows.Err()
}

func (s *sqliteStore) cards() ([]cardState, error) {
	rows, err := s.r.Query(`SELECT name, opening, available, held, pin_tries FROM cards ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list cards: %w", err)
	}
	defer rows.Close()
	var out []cardState
	for rows.Next() {
		var c cardState
		if err := rows.Scan(&c.Name, &c.Opening, &c.Available, &c.Held, &c.PINTries); err != nil {
			return nil, fmt.Errorf("store: list cards: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func filterWhere(f Filter, cardCol string) (string, []any) {
	var conds []string
	var args []any
	if f.Terminal != "" {
		conds = append(conds, "terminal = ?")
		args = append(args, f.Terminal)
	}
	if f.Card != "" {
		conds = append(conds, cardCol+" = ?")
		args = append(args, f.Card)
	}
	if f.STAN != "" {
		conds = append(conds, "stan = ?")
		args = append(args, f.STAN)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, f.Since.UnixNano())
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, args
}

func limitClause(f Filter) string {
	if f.Limit > 0 {
		return fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return ""
}

func (s *sqliteStore) journal(f Filter) ([]Entry, error) {
	where, args := filterWhere(f, "card")
	rows, err := s.r.Query(`SELECT id, time, conn, direction, mti, stan, rrn, terminal, masked_pan, card, proc, amount, code, decision, fault, fault_action
		FROM journal`+where+` ORDER BY id`+limitClause(f), args...)
	if err != nil {
		return nil, fmt.Errorf("store: read journal: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var ts int64
		if err := rows.Scan(&e.ID, &ts, &e.Conn, &e.Direction, &e.MTI, &e.STAN, &e.RRN, &e.Terminal, &e.MaskedPAN, &e.Card,
			&e.ProcessingCode, &e.Amount, &e.ResponseCode, &e.Decision, &e.Fault, &e.FaultAction); err != nil {
			return nil, fmt.Errorf("store: read journal: %w", err)
		}
		e.Time = time.Unix(0, ts).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *sqliteStore) transactions(f Filter) ([]txnRecord, error) {
	where, args := filterWhere(f, "card")
	rows, err := s.r.Query(`SELECT `+txnColumns+` FROM transactions`+where+` ORDER BY id`+limitClause(f), args...)
	if err != nil {
		return nil, fmt.Errorf("store: read transactions: %w", err)
	}
	defer rows.Close()
	var out []txnRecord
	for rows.Next() {
		r, err := scanTxn(rows)
		if err != nil {
			return nil, fmt.Errorf("store: read transactions: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
