package acquirer

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The SQLite store's writer is a two-stage pipeline.
//
// The coordinator goroutine takes whatever updates are queued (a batch), runs their
// functions against memory — the committed state (card cache, transaction index, rows read
// by id from a reader connection) overlaid with the batch still being committed and with the
// batch's own writes — and so produces the batch's write set. The committer goroutine owns
// the write connection: it writes a write set in one SQLite transaction, commits (one WAL
// fsync for the whole batch) and only then answers the batch's callers.
//
// While batch N is being written and fsynced, batch N+1 is decided: on two cores the
// decisions no longer wait for the disk. Nothing is answered before its commit, and a batch
// is committed only after the one it was decided on top of: if that one fails, the batch
// decided on it is thrown away and its updates run again, one at a time.

// txnUpdate is what updateTxn may change in a stored transaction: the columns of its UPDATE.
type txnUpdate struct {
	Amount, Reversed, Captured int64
	Code, State, RRN, AuthCode string
	Fault                      string
	OrigID                     int64
	Batch, Response            string
}

func updateOf(r *txnRecord) txnUpdate {
	return txnUpdate{r.Amount, r.Reversed, r.Captured, r.Code, r.State, r.RRN, r.AuthCode, r.Fault, r.OrigID, r.Batch, r.Response}
}

func (u *txnUpdate) apply(r *txnRecord) {
	r.Amount, r.Reversed, r.Captured, r.Code, r.State = u.Amount, u.Reversed, u.Captured, u.Code, u.State
	r.RRN, r.AuthCode, r.Fault, r.OrigID, r.Batch, r.Response = u.RRN, u.AuthCode, u.Fault, u.OrigID, u.Batch, u.Response
}

type batchKey struct{ terminal, number string }

// writeSet is one batch: its updates and everything they wrote, in memory until committed.
type writeSet struct {
	jobs                 []*job
	startNext, startJrnl int64 // the id counters before the batch

	reset     bool // every table was emptied: nothing older exists
	cards     map[string]cardState
	cardOrder []string
	newTxns   []txnRecord // inserted, in id order (their updates are applied in place)
	updates   map[int64]txnUpdate
	updOrder  []int64
	batches   map[batchKey]batchRecord
	batchOrd  []batchKey
	uploads   []uploadRecord
	jrnl      []Entry
	// seenOpen is, per terminal whose open transactions were listed, the ids of older
	// transactions found still open: the index's open list after the commit.
	seenOpen map[string][]int64

	err error // the commit's outcome
}

func (ws *writeSet) queued(id int64) *txnRecord {
	if n := len(ws.newTxns); n > 0 && id >= ws.newTxns[0].ID && id <= ws.newTxns[n-1].ID {
		for i := n - 1; i >= 0; i-- {
			if ws.newTxns[i].ID == id {
				return &ws.newTxns[i]
			}
		}
	}
	return nil
}

// memTx is the storeTx update functions see while a batch is decided.
type memTx struct {
	s     *sqliteStore
	ws    *writeSet
	below *writeSet // the batch being committed underneath, or nil
}

// layers are the write sets a read looks through, newest first; a reset in one hides the
// ones below it and the committed state.
func (t *memTx) layers() []*writeSet {
	if t.below == nil || t.ws.reset {
		return []*writeSet{t.ws}
	}
	return []*writeSet{t.ws, t.below}
}

// committedVisible tells whether the committed state is visible under the write sets.
func (t *memTx) committedVisible() bool {
	return !t.ws.reset && (t.below == nil || !t.below.reset)
}

func (t *memTx) card(name string) (cardState, bool, error) {
	for _, w := range t.layers() {
		if c, ok := w.cards[name]; ok {
			return c, true, nil
		}
	}
	if !t.committedVisible() {
		return cardState{}, false, nil
	}
	c, ok := t.s.cardCache[name]
	return c, ok, nil
}

func (t *memTx) putCard(c cardState) error {
	ws := t.ws
	if ws.cards == nil {
		ws.cards = map[string]cardState{}
	}
	if _, ok := ws.cards[c.Name]; !ok {
		ws.cardOrder = append(ws.cardOrder, c.Name)
	}
	ws.cards[c.Name] = c
	return nil
}

func (t *memTx) nextID() int64 { return t.s.next }

func (t *memTx) insertTxn(r *txnRecord) error {
	r.ID = t.s.next
	t.s.next++
	t.ws.newTxns = append(t.ws.newTxns, *r)
	return nil
}

func (t *memTx) updateTxn(r *txnRecord) error {
	u := updateOf(r)
	if q := t.ws.queued(r.ID); q != nil {
		u.apply(q)
		return nil
	}
	ws := t.ws
	if ws.updates == nil {
		ws.updates = map[int64]txnUpdate{}
	}
	if _, ok := ws.updates[r.ID]; !ok {
		ws.updOrder = append(ws.updOrder, r.ID)
	}
	ws.updates[r.ID] = u
	return nil
}

// resolve reads a transaction not inserted by this batch, as this batch sees it: from the
// batch below or SQLite, with the updates of the write sets applied.
func (t *memTx) resolve(id int64) (txnRecord, bool, error) {
	var r txnRecord
	found := false
	if t.below != nil && !t.ws.reset {
		if q := t.below.queued(id); q != nil {
			r, found = *q, true
		}
	}
	if !found {
		if !t.committedVisible() {
			return txnRecord{}, false, nil
		}
		var err error
		if r, found, err = t.s.readTxn(id); err != nil || !found {
			return txnRecord{}, false, err
		}
		if t.below != nil {
			if u, ok := t.below.updates[id]; ok {
				u.apply(&r)
			}
		}
	}
	if u, ok := t.ws.updates[id]; ok {
		u.apply(&r)
	}
	return r, true, nil
}

// find returns the newest transaction that match accepts: among this batch's, the batch
// below's, then along the index chain of hash h (entries whose MTI cannot be one of mtis
// are skipped unread). match must only look at columns updates cannot change.
func (t *memTx) find(what string, match func(*txnRecord) bool, head map[uint64]int64, prev map[int64]int64,
	h uint64, mtis []string) (txnRecord, bool, error) {
	ls := t.layers()
	for i, w := range ls {
		for k := len(w.newTxns) - 1; k >= 0; k-- {
			if match(&w.newTxns[k]) {
				if i == 0 {
					return w.newTxns[k], true, nil
				}
				return t.resolve(w.newTxns[k].ID)
			}
		}
	}
	if !t.committedVisible() {
		return txnRecord{}, false, nil
	}
	var out txnRecord
	var found bool
	err := walk(head, prev, h, func(e int64) (bool, error) {
		if !mayBe(e, mtis) {
			return false, nil
		}
		r, ok, err := t.resolve(entryID(e))
		if ok && match(&r) {
			out, found = r, true
			return true, nil
		}
		return err != nil, err
	})
	if err != nil {
		return txnRecord{}, false, fmt.Errorf("store: find transaction by %s: %w", what, err)
	}
	return out, found, nil
}

func (t *memTx) txnByKey(terminal, stan, de7 string, mtis ...string) (txnRecord, bool, error) {
	x := t.s.idx
	return t.find("terminal, STAN and DE7", func(r *txnRecord) bool {
		return r.Terminal == terminal && r.STAN == stan && r.DE7 == de7 && slices.Contains(mtis, r.MTI)
	}, x.keyHead, x.keyPrev, x.keyHash(terminal, stan, de7), mtis)
}

func (t *memTx) txnBySTAN(terminal, stan string, mtis ...string) (txnRecord, bool, error) {
	x := t.s.idx
	return t.find("terminal and STAN", func(r *txnRecord) bool {
		return r.Terminal == terminal && r.STAN == stan && slices.Contains(mtis, r.MTI)
	}, x.stanHead, x.stanPrev, x.stanHash(terminal, stan), mtis)
}

func (t *memTx) txnByApproval(terminal, rrn, authCode string) (txnRecord, bool, error) {
	if rrn == "" && authCode == "" {
		return txnRecord{}, false, nil
	}
	match := func(r *txnRecord) bool {
		return r.Terminal == terminal && r.MTI == "0100" && (rrn == "" || r.RRN == rrn) && (authCode == "" || r.AuthCode == authCode)
	}
	for i, w := range t.layers() {
		for k := len(w.newTxns) - 1; k >= 0; k-- {
			r := w.newTxns[k]
			if i > 0 {
				if u, ok := t.ws.updates[r.ID]; ok {
					u.apply(&r)
				}
			}
			if match(&r) {
				return r, true, nil
			}
		}
	}
	if !t.committedVisible() {
		return txnRecord{}, false, nil
	}
	// The partial indexes on pre-authorizations serve these (mti = '0100' must stay literal).
	var what, where string
	var args []any
	switch {
	case rrn != "" && authCode != "":
		what, where, args = "RRN and auth code", `terminal = ? AND rrn = ? AND auth_code = ? AND mti = '0100'`, []any{terminal, rrn, authCode}
	case rrn != "":
		what, where, args = "RRN", `terminal = ? AND rrn = ? AND mti = '0100'`, []any{terminal, rrn}
	default:
		what, where, args = "auth code", `terminal = ? AND auth_code = ? AND mti = '0100'`, []any{terminal, authCode}
	}
	var id int64
	err := t.s.readRow(`SELECT id FROM transactions WHERE `+where+` ORDER BY id DESC LIMIT 1`, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return txnRecord{}, false, nil
	}
	if err != nil {
		return txnRecord{}, false, fmt.Errorf("store: find transaction by %s: %w", what, err)
	}
	// Pending updates never change a pre-authorization's RRN or auth code, but check.
	r, ok, err := t.resolve(id)
	if err != nil || !ok || !match(&r) {
		return txnRecord{}, false, err
	}
	return r, true, nil
}

// openTxns reads the terminal's older transactions the index lists as maybe open and keeps
// those still open, then adds this batch's.
func (t *memTx) openTxns(terminal string) ([]txnRecord, error) {
	var out []txnRecord
	ws := t.ws
	if !ws.reset {
		var still []int64
		if t.committedVisible() {
			ids := t.s.idx.open[terminal]
			if t.below != nil {
				if l, ok := t.below.seenOpen[terminal]; ok {
					ids = l
				}
			}
			for _, id := range ids {
				r, ok, err := t.resolve(id)
				if err != nil {
					return nil, fmt.Errorf("store: open batch of %s: %w", terminal, err)
				}
				if ok && r.Batch == "" {
					out = append(out, r)
					still = append(still, id)
				}
			}
		}
		if t.below != nil {
			for _, r := range t.below.newTxns {
				if r.Terminal != terminal {
					continue
				}
				if u, ok := ws.updates[r.ID]; ok {
					u.apply(&r)
				}
				if r.Batch == "" {
					out = append(out, r)
					still = append(still, r.ID)
				}
			}
		}
		if ws.seenOpen == nil {
			ws.seenOpen = map[string][]int64{}
		}
		ws.seenOpen[terminal] = still
	}
	for _, r := range ws.newTxns {
		if r.Terminal == terminal && r.Batch == "" {
			out = append(out, r)
		}
	}
	return out, nil
}

func (t *memTx) batch(terminal, number string) (batchRecord, bool, error) {
	k := batchKey{terminal, number}
	for _, w := range t.layers() {
		if b, ok := w.batches[k]; ok {
			return b, true, nil
		}
	}
	if !t.committedVisible() {
		return batchRecord{}, false, nil
	}
	return t.s.readBatch(terminal, number)
}

func (t *memTx) putBatch(b batchRecord) error {
	ws := t.ws
	k := batchKey{b.Terminal, b.Number}
	if ws.batches == nil {
		ws.batches = map[batchKey]batchRecord{}
	}
	if _, ok := ws.batches[k]; !ok {
		ws.batchOrd = append(ws.batchOrd, k)
	}
	ws.batches[k] = b
	return nil
}

func (t *memTx) addUpload(u uploadRecord) error {
	t.ws.uploads = append(t.ws.uploads, u)
	return nil
}

// appendJournal assigns the line its id (the one SQLite would give) and queues it.
func (t *memTx) appendJournal(e *Entry) error {
	e.ID = t.s.nextJrnl
	t.s.nextJrnl++
	t.ws.jrnl = append(t.ws.jrnl, *e)
	return nil
}

func (t *memTx) reset(cards []cardState) error {
	jobs, startNext, startJrnl := t.ws.jobs, t.ws.startNext, t.ws.startJrnl
	*t.ws = writeSet{jobs: jobs, startNext: startNext, startJrnl: startJrnl, reset: true}
	t.s.nextJrnl = 1 // journal ids start over, as SQLite's would; transaction ids keep growing
	for _, c := range cards {
		if err := t.putCard(c); err != nil {
			return err
		}
	}
	return nil
}

// Reads the coordinator makes through the reader connections (committed state).

// readRow runs q on the readers, prepared once (database/sql prepares it on each reader
// connection as needed).
func (s *sqliteStore) readRow(q string, args ...any) *sql.Row {
	st, ok := s.rstmts[q]
	if !ok {
		var err error
		if st, err = s.r.Prepare(q); err != nil {
			return s.r.QueryRow(q, args...) // reports the error through Scan
		}
		s.rstmts[q] = st
	}
	return st.QueryRow(args...)
}

func (s *sqliteStore) readTxn(id int64) (txnRecord, bool, error) {
	r, err := scanTxn(s.readRow(`SELECT `+txnColumns+` FROM transactions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return txnRecord{}, false, nil
	}
	if err != nil {
		return txnRecord{}, false, fmt.Errorf("read transaction %d: %w", id, err)
	}
	return r, true, nil
}

func (s *sqliteStore) readBatch(terminal, number string) (batchRecord, bool, error) {
	b := batchRecord{Terminal: terminal, Number: number}
	var ts int64
	err := s.r.QueryRow(`SELECT state, sale_count, sale_amount, refund_count, refund_amount, time FROM batches
		WHERE terminal = ? AND number = ?`, terminal, number).
		Scan(&b.State, &b.SaleCount, &b.SaleAmount, &b.RefundCount, &b.RefundAmount, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return batchRecord{}, false, nil
	}
	if err != nil {
		return batchRecord{}, false, fmt.Errorf("store: read batch %s of %s: %w", number, terminal, err)
	}
	b.Time = timeOf(ts)
	return b, true, nil
}

// The coordinator.

// pipeline is the coordinator goroutine (see the top of this file).
func (s *sqliteStore) pipeline() {
	defer close(s.stopped)
	go s.committer()
	defer func() {
		close(s.toCommit)
		<-s.committerDone
	}()
	var inflight *writeSet
	for {
		var first *job
		if inflight == nil {
			select {
			case first = <-s.jobs:
			case <-s.stop:
				s.drain()
				return
			}
		} else {
			select {
			case first = <-s.jobs:
			case ws := <-s.results:
				s.finish(ws)
				inflight = nil
				continue
			case <-s.stop:
				s.finish(<-s.results)
				s.drain()
				return
			}
		}
		jobs := make([]*job, 1, maxBatch)
		jobs[0] = first
	fill:
		for len(jobs) < maxBatch {
			select {
			case j := <-s.jobs:
				jobs = append(jobs, j)
			default:
				break fill
			}
		}
		ws, err := s.decide(jobs, inflight)
		if inflight != nil {
			ok := s.finish(<-s.results)
			inflight = nil
			if !ok {
				// ws was decided on top of a batch that did not commit.
				s.alone(jobs)
				continue
			}
		}
		if err != nil {
			s.alone(jobs) // a member failed: each alone, so it cannot take the others down
			continue
		}
		s.toCommit <- ws
		inflight = ws
	}
}

// drain runs, each alone, what was queued before the stop, so no caller waits forever.
func (s *sqliteStore) drain() {
	for {
		select {
		case j := <-s.jobs:
			s.alone([]*job{j})
		default:
			return
		}
	}
}

// decide runs the jobs' functions on top of below (the batch being committed, or nil).
// On an error the id counters are put back and the write set is dropped.
func (s *sqliteStore) decide(jobs []*job, below *writeSet) (*writeSet, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	ws := &writeSet{jobs: jobs, startNext: s.next, startJrnl: s.nextJrnl}
	t := &memTx{s: s, ws: ws, below: below}
	for _, j := range jobs {
		if err := j.fn(t); err != nil {
			s.next, s.nextJrnl = ws.startNext, ws.startJrnl
			return nil, err
		}
	}
	return ws, nil
}

// ready makes sure the committed state in memory is loaded (it is dropped after a failed
// commit, and rebuilt from the tables).
func (s *sqliteStore) ready() error {
	if s.idx == nil {
		x, err := loadTxnIndex(s.r)
		if err != nil {
			return fmt.Errorf("store: index transactions: %w", err)
		}
		s.idx = x
	}
	if s.cardCache == nil {
		m, err := loadCards(s.r)
		if err != nil {
			return fmt.Errorf("store: load cards: %w", err)
		}
		s.cardCache = m
	}
	return nil
}

// finish takes a committed (or failed) write set back from the committer. On success its
// writes enter the committed state; the committer has answered its callers. On failure the
// committed state is reloaded and its updates run again one at a time; finish says false.
func (s *sqliteStore) finish(ws *writeSet) bool {
	if ws.err == nil {
		s.merge(ws)
		return true
	}
	s.next, s.nextJrnl = ws.startNext, ws.startJrnl
	s.forget()
	if len(ws.jobs) == 1 {
		ws.jobs[0].done <- ws.err
		return false
	}
	s.alone(ws.jobs)
	return false
}

// forget drops the committed state in memory after a failed commit (ready reloads it from
// whatever is on disk) and moves the id counters past every id there, in case the commit
// was durable after all, so that no id is given twice.
func (s *sqliteStore) forget() {
	s.idx, s.cardCache = nil, nil
	var n int64
	if s.r.QueryRow(`SELECT COALESCE(MAX(id), 0) + 1 FROM transactions`).Scan(&n) == nil && n > s.next {
		s.next = n
	}
	if s.r.QueryRow(`SELECT COALESCE(MAX(id), 0) + 1 FROM journal`).Scan(&n) == nil && n > s.nextJrnl {
		s.nextJrnl = n
	}
}

func (s *sqliteStore) merge(ws *writeSet) {
	if ws.reset {
		s.idx = newTxnIndex()
		s.cardCache = map[string]cardState{}
	}
	if s.idx != nil {
		for terminal, ids := range ws.seenOpen {
			s.idx.setOpen(terminal, ids)
		}
		for i := range ws.newTxns {
			r := &ws.newTxns[i]
			s.idx.add(r.ID, r.Terminal, r.STAN, r.DE7, r.MTI, r.Batch == "")
		}
	}
	if s.cardCache != nil {
		for name, c := range ws.cards {
			s.cardCache[name] = c
		}
	}
}

// alone runs each job in a batch of its own, decided and committed before the next.
func (s *sqliteStore) alone(jobs []*job) {
	for _, j := range jobs {
		ws, err := s.decide([]*job{j}, nil)
		if err != nil {
			j.done <- err
			continue
		}
		s.toCommit <- ws
		ws = <-s.results
		if ws.err == nil {
			s.merge(ws)
			continue
		}
		s.next, s.nextJrnl = ws.startNext, ws.startJrnl
		s.forget()
		j.done <- ws.err
	}
}

// The committer.

func (s *sqliteStore) committer() {
	defer close(s.committerDone)
	for ws := range s.toCommit {
		ws.err = s.commit(ws)
		if ws.err == nil {
			for _, j := range ws.jobs {
				j.done <- nil
			}
		}
		s.results <- ws
	}
}

// commit writes a write set in one transaction and commits it.
func (s *sqliteStore) commit(ws *writeSet) error {
	tx, err := s.w.Begin()
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	w := &sqliteTx{tx: tx, s: s, stmts: map[string]*sql.Stmt{}}
	if err := w.write(ws); err != nil {
		tx.Rollback()
		s.prepareNew()
		return err
	}
	if s.commitHook != nil {
		if err := s.commitHook(ws); err != nil {
			tx.Rollback()
			s.prepareNew()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		s.prepareNew()
		return fmt.Errorf("store: commit: %w", err)
	}
	s.prepareNew()
	return nil
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

// sqliteTx is one write transaction of the committer.
type sqliteTx struct {
	tx    *sql.Tx
	s     *sqliteStore
	stmts map[string]*sql.Stmt // the store's statements bound to this transaction
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

// write applies a write set: a reset first (what the batch wrote before it is not in the
// set), then new transactions, updates, batches, uploads, journal lines and cards.
func (t *sqliteTx) write(ws *writeSet) error {
	if ws.reset {
		for _, q := range []string{`DELETE FROM cards`, `DELETE FROM transactions`, `DELETE FROM journal`, `DELETE FROM batches`, `DELETE FROM uploads`} {
			if _, err := t.exec(q); err != nil {
				return fmt.Errorf("store: reset: %w", err)
			}
		}
	}
	for rest := ws.newTxns; len(rest) > 0; {
		n := min(len(rest), txnRows)
		if err := t.insertTxns(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	for _, id := range ws.updOrder {
		u := ws.updates[id]
		if _, err := t.exec(`UPDATE transactions SET amount = ?, reversed = ?, captured = ?, code = ?, state = ?,
		rrn = ?, auth_code = ?, fault = ?, orig_id = ?, batch = ?, response = ? WHERE id = ?`,
			u.Amount, u.Reversed, u.Captured, u.Code, u.State, u.RRN, u.AuthCode, u.Fault, u.OrigID, u.Batch, u.Response, id); err != nil {
			return fmt.Errorf("store: update transaction %d: %w", id, err)
		}
	}
	for _, k := range ws.batchOrd {
		if err := t.writeBatch(ws.batches[k]); err != nil {
			return err
		}
	}
	for _, u := range ws.uploads {
		if _, err := t.exec(`INSERT INTO uploads (terminal, batch, stan, proc, amount, rrn, txn_id, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.Terminal, u.Batch, u.STAN, u.Proc, u.Amount, u.RRN, u.TxnID, u.Time.UnixNano()); err != nil {
			return fmt.Errorf("store: record upload (terminal %s STAN %s): %w", u.Terminal, u.STAN, err)
		}
	}
	for rest := ws.jrnl; len(rest) > 0; {
		n := min(len(rest), jrnlRows)
		if err := t.insertJournal(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	for _, name := range ws.cardOrder {
		c := ws.cards[name]
		if _, err := t.exec(`INSERT INTO cards (name, opening, available, held, pin_tries) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET opening = excluded.opening, available = excluded.available,
		held = excluded.held, pin_tries = excluded.pin_tries`, c.Name, c.Opening, c.Available, c.Held, c.PINTries); err != nil {
			return fmt.Errorf("store: write card %q: %w", c.Name, err)
		}
	}
	return nil
}

func (t *sqliteTx) writeBatch(b batchRecord) error {
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
