package acquirer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/posdrill/posdrill/iso"
)

// The PostgreSQL store (--db postgres://...): ledger, transactions and journal in one
// database that several acquirer replicas share, with the SQLite store's guarantees across
// all of them.
//
// How: each replica has one writer goroutine that batches concurrent updates into one
// transaction (group commit, as the SQLite store does), and every batch transaction first
// takes a transaction-scoped advisory lock on the ledger. So batches from all replicas run
// one at a time, in one order: an update function sees every effect committed before it by
// any replica, and duplicate detection (DE41 + DE11 + DE7), exactly-once reversals and
// balances behave as with a single writer. Row locks could let batches that touch
// different cards overlap, but batches touch cards in request order, so two replicas'
// batches could deadlock; one lock cannot, and it is held only for a batch's statements
// and its commit. Transaction ids come from a counter row updated under the same lock, so
// they are gap-free and unique across replicas (RRNs and auth codes derive from them).
//
// Round trips dominate the cost, so writes are not sent one by one: they are queued and go
// out pipelined (pgx.Batch) with the next read, or with the batch's COMMIT. A sale costs two
// round trips (its duplicate check, which carries the previous request's writes, and its
// card, read once per batch and then kept), plus one to begin and one to commit per batch;
// each card changed is written once per batch, at the end, and the batch's journal lines
// go in one statement with the COMMIT. A queued write that fails fails the
// batch, and run retries each member alone, so the error reaches the request it belongs to.

// IsPostgresURL reports whether a --db value names a PostgreSQL database.
func IsPostgresURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// ledgerLockKey is the advisory lock every batch takes ("posdrill" in ASCII).
const ledgerLockKey int64 = 0x706f736472696c6c

// schemaLockKey serialises schema creation and seeding by replicas starting together.
const schemaLockKey int64 = 0x706f736472696c6d

const pgSchema = `
CREATE TABLE IF NOT EXISTS cards (
	name TEXT PRIMARY KEY,
	opening BIGINT NOT NULL,
	available BIGINT NOT NULL,
	held BIGINT NOT NULL,
	pin_tries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ledger_meta (
	one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
	next_txn_id BIGINT NOT NULL,
	next_journal_id BIGINT NOT NULL
);
INSERT INTO ledger_meta (one, next_txn_id, next_journal_id) VALUES (TRUE, 1, 1) ON CONFLICT (one) DO NOTHING;
CREATE TABLE IF NOT EXISTS transactions (
	id BIGINT PRIMARY KEY,
	time BIGINT NOT NULL,
	terminal TEXT NOT NULL,
	merchant TEXT NOT NULL,
	stan TEXT NOT NULL,
	de7 TEXT NOT NULL,
	mti TEXT NOT NULL,
	proc TEXT NOT NULL,
	card TEXT NOT NULL,
	masked_pan TEXT NOT NULL,
	requested BIGINT NOT NULL,
	amount BIGINT NOT NULL,
	reversed BIGINT NOT NULL DEFAULT 0,
	captured BIGINT NOT NULL DEFAULT 0,
	currency TEXT NOT NULL,
	code TEXT NOT NULL,
	state TEXT NOT NULL,
	rrn TEXT NOT NULL,
	auth_code TEXT NOT NULL,
	fault TEXT NOT NULL,
	orig_id BIGINT NOT NULL DEFAULT 0,
	batch TEXT NOT NULL DEFAULT '',
	response TEXT NOT NULL DEFAULT ''
);
-- (terminal, stan, id): both lookups by STAN (with or without DE7) read the newest match
-- straight from this index. A (terminal, stan, de7) index left the planner a choice, and a
-- generic plan made while the table was new walked the primary key backwards instead.
CREATE INDEX IF NOT EXISTS transactions_stan ON transactions (terminal, stan, id);
CREATE INDEX IF NOT EXISTS transactions_rrn ON transactions (terminal, rrn);
CREATE INDEX IF NOT EXISTS transactions_open ON transactions (terminal, batch);
CREATE TABLE IF NOT EXISTS journal (
	id BIGINT PRIMARY KEY,
	time BIGINT NOT NULL,
	conn BIGINT NOT NULL,
	direction TEXT NOT NULL,
	mti TEXT NOT NULL,
	stan TEXT NOT NULL,
	rrn TEXT NOT NULL,
	terminal TEXT NOT NULL,
	masked_pan TEXT NOT NULL,
	card TEXT NOT NULL,
	proc TEXT NOT NULL,
	amount BIGINT NOT NULL,
	code TEXT NOT NULL,
	decision TEXT NOT NULL,
	fault TEXT NOT NULL,
	fault_action TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_terminal ON journal (terminal, time);
CREATE TABLE IF NOT EXISTS batches (
	terminal TEXT NOT NULL,
	number TEXT NOT NULL,
	state TEXT NOT NULL,
	sale_count BIGINT NOT NULL,
	sale_amount BIGINT NOT NULL,
	refund_count BIGINT NOT NULL,
	refund_amount BIGINT NOT NULL,
	time BIGINT NOT NULL,
	PRIMARY KEY (terminal, number)
);
CREATE TABLE IF NOT EXISTS uploads (
	id BIGSERIAL PRIMARY KEY,
	terminal TEXT NOT NULL,
	batch TEXT NOT NULL,
	stan TEXT NOT NULL,
	proc TEXT NOT NULL,
	amount BIGINT NOT NULL,
	rrn TEXT NOT NULL,
	txn_id BIGINT NOT NULL,
	time BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS dukpt_counters (
	device TEXT PRIMARY KEY,
	counter BIGINT NOT NULL
);
`

// pgStore implements store on PostgreSQL.
type pgStore struct {
	cfg *pgx.ConnConfig

	groupCommit

	// Owned by the writer goroutine.
	w           *pgx.Conn
	next        int64 // next transaction id, read under the ledger lock at the start of each batch
	nextJournal int64 // next journal line id, likewise

	rmu sync.Mutex // reads share one connection
	r   *pgx.Conn
}

// pgConnectTimeout bounds connecting and each batch's wait for the database.
const pgConnectTimeout = 10 * time.Second

// openPostgres connects to the database at url (a postgres:// URL; search_path and other
// run-time parameters may be given in it), creates the schema if needed and adds the seed
// cards that are missing (cards already there keep their balances).
func openPostgres(url string, seed []cardState) (*pgStore, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", safePGError(err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	s := &pgStore{cfg: cfg, groupCommit: newGroupCommit()}
	ctx, cancel := context.WithTimeout(context.Background(), pgConnectTimeout)
	defer cancel()
	if s.w, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open store %s: %w", redactURL(url), safePGError(err))
	}
	if s.r, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		s.w.Close(ctx)
		return nil, fmt.Errorf("open store %s: %w", redactURL(url), safePGError(err))
	}
	if err := s.init(ctx, seed); err != nil {
		s.w.Close(ctx)
		s.r.Close(ctx)
		return nil, fmt.Errorf("open store %s: %w", redactURL(url), err)
	}
	go s.writer(s.run)
	return s, nil
}

func (s *pgStore) init(ctx context.Context, seed []cardState) error {
	tx, err := s.w.Begin(ctx)
	if err != nil {
		return safePGError(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLockKey); err != nil {
		return fmt.Errorf("lock schema: %w", safePGError(err))
	}
	if _, err := tx.Exec(ctx, pgSchema); err != nil {
		return fmt.Errorf("create schema: %w", safePGError(err))
	}
	for _, c := range seed {
		if _, err := tx.Exec(ctx, `INSERT INTO cards (name, opening, available, held, pin_tries) VALUES ($1, $2, $3, 0, 0)
			ON CONFLICT (name) DO NOTHING`, c.Name, c.Opening, c.Available); err != nil {
			return fmt.Errorf("load card %q: %w", c.Name, safePGError(err))
		}
	}
	return safePGError(tx.Commit(ctx))
}

// run commits a batch in one transaction; if it fails, every member is retried alone, so
// one bad update cannot take the others down with it.
func (s *pgStore) run(batch []*job) {
	err := s.runTx(batch)
	if err == nil {
		for _, j := range batch {
			j.done <- nil
		}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- err
		return
	}
	for _, j := range batch {
		j.done <- s.runTx([]*job{j})
	}
}

// runTx runs the jobs in one transaction under the ledger lock. It runs them again (a few
// times) when the database aborted the transaction for a conflict (serialization failure,
// deadlock), or the connection failed before COMMIT was sent: nothing was committed then.
// A connection lost after COMMIT went out leaves the outcome unknown: that is an error.
func (s *pgStore) runTx(jobs []*job) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var commitSent bool
		if commitSent, err = s.runTxOnce(jobs); err == nil || !retryable(err, commitSent, s.w) {
			return err
		}
	}
	return err
}

func retryable(err error, commitSent bool, c *pgx.Conn) bool {
	if !commitSent && (c == nil || c.IsClosed()) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

func (s *pgStore) runTxOnce(jobs []*job) (commitSent bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgConnectTimeout)
	defer cancel()
	if s.w == nil || s.w.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, s.cfg)
		if err != nil {
			return false, fmt.Errorf("store: reconnect: %w", safePGError(err))
		}
		s.w = c
	}
	t := &pgTx{ctx: ctx, conn: s.w, s: s}
	committed := false
	defer func() {
		if !committed && !s.w.IsClosed() {
			// After an error the server skipped the rest of the pipeline and the
			// transaction is aborted (or was never begun): end it.
			_, _ = s.w.Exec(ctx, "ROLLBACK")
		}
	}()
	// BEGIN, the ledger lock and the id counters in one round trip.
	t.queue("begin", "BEGIN")
	t.queue("ledger lock", `SELECT pg_advisory_xact_lock($1)`, ledgerLockKey)
	if err := t.queryRow("read counters", `SELECT next_txn_id, next_journal_id FROM ledger_meta`, nil, func(r pgx.Row) error {
		return r.Scan(&s.next, &s.nextJournal)
	}); err != nil {
		return false, err
	}
	first, firstJournal := s.next, s.nextJournal
	for _, j := range jobs {
		if err := j.fn(t); err != nil {
			return false, err
		}
	}
	if s.next != first || s.nextJournal != firstJournal {
		t.queue("write counters", `UPDATE ledger_meta SET next_txn_id = $1, next_journal_id = $2`, s.next, s.nextJournal)
	}
	t.queueDirtyCards()
	t.queueTxns()
	t.queueJournal()
	t.queue("commit", "COMMIT")
	if err := t.flush(); err != nil {
		if s.w.IsClosed() {
			return true, fmt.Errorf("store: connection lost while committing, outcome unknown: %w", err)
		}
		return true, err
	}
	committed = true
	return true, nil
}

func (s *pgStore) close() error {
	s.shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.Close(ctx))
	}
	s.rmu.Lock()
	errs = append(errs, s.r.Close(ctx))
	s.rmu.Unlock()
	return errors.Join(errs...)
}

// pgTx implements storeTx on one batch transaction. Writes wait in queued until the next
// read or the end of the batch, and then travel in the same round trip.
type pgTx struct {
	ctx    context.Context
	conn   *pgx.Conn
	s      *pgStore
	queued []queuedStmt
	// cards read or written in this batch: under the ledger lock nobody else changes
	// them, so a batch of sales on a few cards reads each card once, and writes it once, at
	// the end (dirty). Updating one row many times in a transaction makes PostgreSQL walk
	// an ever longer chain of row versions: dozens of sales on one card slowed a batch
	// to a crawl.
	cards map[string]*cardState // nil value: no such card
	dirty []string              // cards to write at the end, in the order first written
	// journal lines of the batch, written at the end in one statement.
	journal []Entry
	// transactions inserted or updated in the batch (see insertTxn).
	overlay  map[int64]*txnRecord
	inserted []int64 // ids new in this batch, in order
	updated  []int64 // ids of rows already in the database changed in this batch
	// goneBelow: a reset in this batch deleted every transaction with a lower id (ids are
	// never reused), so updateTxn must not bring one back into the overlay.
	goneBelow int64
}

type queuedStmt struct {
	what string // for the error message
	sql  string
	args []any
}

func (t *pgTx) queue(what, sql string, args ...any) {
	t.queued = append(t.queued, queuedStmt{what, sql, args})
}

// send sends the queued statements, and the query q when it is not "", in one pipeline,
// and checks the queued statements' results. The caller reads q's result from br and
// closes br.
func (t *pgTx) send(q string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	for _, st := range t.queued {
		b.Queue(st.sql, st.args...)
	}
	if q != "" {
		b.Queue(q, args...)
	}
	br := t.conn.SendBatch(t.ctx, b)
	queued := t.queued
	t.queued = t.queued[:0]
	for _, st := range queued {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("store: %s: %w", st.what, safePGError(err))
		}
	}
	return br, nil
}

// flush sends the queued statements.
func (t *pgTx) flush() error {
	if len(t.queued) == 0 {
		return nil
	}
	br, err := t.send("", nil)
	if err != nil {
		return err
	}
	return safePGError(br.Close())
}

// queryRow flushes the queue and runs a one-row query in the same round trip.
func (t *pgTx) queryRow(what, q string, args []any, scan func(pgx.Row) error) error {
	br, err := t.send(q, args)
	if err != nil {
		return err
	}
	if err := scan(br.QueryRow()); err != nil {
		br.Close()
		if errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return fmt.Errorf("store: %s: %w", what, safePGError(err))
	}
	return safePGError(br.Close())
}

// query flushes the queue and runs a query in the same round trip, calling each for every
// row.
func (t *pgTx) query(what, q string, args []any, each func(pgx.Rows) error) error {
	br, err := t.send(q, args)
	if err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return fmt.Errorf("store: %s: %w", what, safePGError(err))
	}
	for rows.Next() {
		if err := each(rows); err != nil {
			rows.Close()
			br.Close()
			return fmt.Errorf("store: %s: %w", what, safePGError(err))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		br.Close()
		return fmt.Errorf("store: %s: %w", what, safePGError(err))
	}
	return safePGError(br.Close())
}

const cardQuery = `SELECT opening, available, held, pin_tries FROM cards WHERE name = $1`

func (t *pgTx) card(name string) (cardState, bool, error) {
	if c, ok := t.cards[name]; ok {
		if c == nil {
			return cardState{}, false, nil
		}
		return *c, true, nil
	}
	if t.cards == nil {
		t.cards = map[string]*cardState{}
	}
	c := cardState{Name: name}
	err := t.queryRow("read card "+name, cardQuery, []any{name}, func(r pgx.Row) error {
		return r.Scan(&c.Opening, &c.Available, &c.Held, &c.PINTries)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		t.cards[name] = nil
		return cardState{}, false, nil
	}
	if err != nil {
		return cardState{}, false, err
	}
	cc := c
	t.cards[name] = &cc
	return c, true, nil
}

type pgQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func pgCard(ctx context.Context, q pgQuerier, name string) (cardState, bool, error) {
	c := cardState{Name: name}
	err := q.QueryRow(ctx, cardQuery, name).
		Scan(&c.Opening, &c.Available, &c.Held, &c.PINTries)
	if errors.Is(err, pgx.ErrNoRows) {
		return cardState{}, false, nil
	}
	if err != nil {
		return cardState{}, false, fmt.Errorf("store: read card %q: %w", name, safePGError(err))
	}
	return c, true, nil
}

func (t *pgTx) putCard(c cardState) error {
	if t.cards == nil {
		t.cards = map[string]*cardState{}
	}
	if !slices.Contains(t.dirty, c.Name) {
		t.dirty = append(t.dirty, c.Name)
	}
	t.cards[c.Name] = &c
	return nil
}

// queueDirtyCards queues one write for each card changed in the batch.
func (t *pgTx) queueDirtyCards() {
	for _, name := range t.dirty {
		c := t.cards[name]
		t.queue("write card "+c.Name, `INSERT INTO cards (name, opening, available, held, pin_tries) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (name) DO UPDATE SET opening = excluded.opening, available = excluded.available,
			held = excluded.held, pin_tries = excluded.pin_tries`, c.Name, c.Opening, c.Available, c.Held, c.PINTries)
	}
	t.dirty = t.dirty[:0]
}

func (t *pgTx) nextID() int64 { return t.s.next }

// Transactions written in a batch wait in the overlay (the latest version of every row
// inserted or updated in the batch) and go to the database at the end: new rows in one
// statement, changed rows one UPDATE each. Reads in the batch ask the database for rows
// outside the overlay and add the overlay's rows that match, so they see every write made
// earlier in the batch.

func (t *pgTx) insertTxn(r *txnRecord) error {
	r.ID = t.s.next
	t.s.next++
	c := *r
	t.overlayPut(&c)
	t.inserted = append(t.inserted, c.ID)
	return nil
}

func (t *pgTx) updateTxn(r *txnRecord) error {
	c := *r
	if c.ID < t.goneBelow {
		// Read before a reset earlier in the batch: the row is gone, and an update of a
		// transaction that does not exist changes nothing (the UPDATE would match no row,
		// but the overlay would show it to the rest of the batch).
		return nil
	}
	if _, ok := t.overlay[c.ID]; !ok || !slices.Contains(t.inserted, c.ID) {
		if !slices.Contains(t.updated, c.ID) {
			t.updated = append(t.updated, c.ID)
		}
	}
	t.overlayPut(&c)
	return nil
}

func (t *pgTx) overlayPut(r *txnRecord) {
	if t.overlay == nil {
		t.overlay = map[int64]*txnRecord{}
	}
	t.overlay[r.ID] = r
}

// overlayIDs lists the ids the database must not answer for (the overlay has them).
func (t *pgTx) overlayIDs() []int64 {
	ids := make([]int64, 0, len(t.overlay))
	for id := range t.overlay {
		ids = append(ids, id)
	}
	return ids
}

// queueTxns queues the batch's transaction writes.
func (t *pgTx) queueTxns() {
	if n := len(t.inserted); n > 0 {
		id, ts, reqd, amt, rev, capt, orig := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		str := make([][]string, 16)
		for i := range str {
			str[i] = make([]string, n)
		}
		for i, tid := range t.inserted {
			r := t.overlay[tid]
			id[i], ts[i], reqd[i], amt[i], rev[i], capt[i], orig[i] = r.ID, r.Time.UnixNano(), r.Requested, r.Amount, r.Reversed, r.Captured, r.OrigID
			for k, v := range []string{r.Terminal, r.Merchant, r.STAN, r.DE7, r.MTI, r.Proc, r.Card, r.MaskedPAN, r.Currency,
				r.Code, r.State, r.RRN, r.AuthCode, r.Fault, r.Batch, r.Response} {
				str[k][i] = v
			}
		}
		t.queue(fmt.Sprintf("insert %d transactions", n), `INSERT INTO transactions (id, time, terminal, merchant, stan, de7, mti,
			proc, card, masked_pan, currency, code, state, rrn, auth_code, fault, batch, response, requested, amount, reversed,
			captured, orig_id)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
			$17::text[], $18::text[], $19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[])`,
			id, ts, str[0], str[1], str[2], str[3], str[4], str[5], str[6], str[7], str[8], str[9], str[10], str[11], str[12],
			str[13], str[14], str[15], reqd, amt, rev, capt, orig)
	}
	for _, tid := range t.updated {
		r := t.overlay[tid]
		t.queue(fmt.Sprintf("update transaction %d", r.ID), `UPDATE transactions SET amount = $1, reversed = $2, captured = $3,
			code = $4, state = $5, rrn = $6, auth_code = $7, fault = $8, orig_id = $9, batch = $10, response = $11 WHERE id = $12`,
			r.Amount, r.Reversed, r.Captured, r.Code, r.State, r.RRN, r.AuthCode, r.Fault, r.OrigID, r.Batch, r.Response, r.ID)
	}
	t.overlay, t.inserted, t.updated = nil, t.inserted[:0], t.updated[:0]
}

func scanPGTxn(row pgx.Row) (txnRecord, error) {
	var r txnRecord
	var ts int64
	err := row.Scan(&r.ID, &ts, &r.Terminal, &r.Merchant, &r.STAN, &r.DE7, &r.MTI, &r.Proc, &r.Card, &r.MaskedPAN,
		&r.Requested, &r.Amount, &r.Reversed, &r.Captured, &r.Currency, &r.Code, &r.State, &r.RRN, &r.AuthCode,
		&r.Fault, &r.OrigID, &r.Batch, &r.Response)
	r.Time = time.Unix(0, ts).UTC()
	return r, err
}

// oneTxn finds the most recent transaction matching where (SQL, $1..$n-1 in args) and
// match (the same condition, for the overlay).
func (t *pgTx) oneTxn(what, where string, match func(*txnRecord) bool, args ...any) (txnRecord, bool, error) {
	var best *txnRecord
	for _, r := range t.overlay {
		if match(r) && (best == nil || r.ID > best.ID) {
			best = r
		}
	}
	if best != nil && slices.Contains(t.inserted, best.ID) {
		// Inserted in this batch: newer than anything in the database (ids grow).
		return *best, true, nil
	}
	var r txnRecord
	args = append(args, t.overlayIDs())
	err := t.queryRow("find transaction by "+what, `SELECT `+txnColumns+` FROM transactions WHERE `+where+
		fmt.Sprintf(` AND id <> ALL($%d) ORDER BY id DESC LIMIT 1`, len(args)), args,
		func(row pgx.Row) (err error) {
			r, err = scanPGTxn(row)
			return err
		})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return txnRecord{}, false, err
	case best == nil || r.ID > best.ID:
		return r, true, nil
	}
	if best == nil {
		return txnRecord{}, false, nil
	}
	return *best, true, nil
}

func (t *pgTx) txnByKey(terminal, stan, de7 string, mtis ...string) (txnRecord, bool, error) {
	return t.oneTxn("terminal, STAN and DE7", `terminal = $1 AND stan = $2 AND de7 = $3 AND mti = ANY($4)`,
		func(r *txnRecord) bool {
			return r.Terminal == terminal && r.STAN == stan && r.DE7 == de7 && slices.Contains(mtis, r.MTI)
		}, terminal, stan, de7, mtis)
}

func (t *pgTx) txnBySTAN(terminal, stan string, mtis ...string) (txnRecord, bool, error) {
	return t.oneTxn("terminal and STAN", `terminal = $1 AND stan = $2 AND mti = ANY($3)`,
		func(r *txnRecord) bool {
			return r.Terminal == terminal && r.STAN == stan && slices.Contains(mtis, r.MTI)
		},
		terminal, stan, mtis)
}

func (t *pgTx) txnByApproval(terminal, rrn, authCode string) (txnRecord, bool, error) {
	switch {
	case rrn != "" && authCode != "":
		return t.oneTxn("RRN and auth code", `terminal = $1 AND rrn = $2 AND auth_code = $3 AND mti = '0100'`,
			func(r *txnRecord) bool {
				return r.Terminal == terminal && r.RRN == rrn && r.AuthCode == authCode && r.MTI == "0100"
			}, terminal, rrn, authCode)
	case rrn != "":
		return t.oneTxn("RRN", `terminal = $1 AND rrn = $2 AND mti = '0100'`,
			func(r *txnRecord) bool { return r.Terminal == terminal && r.RRN == rrn && r.MTI == "0100" }, terminal, rrn)
	case authCode != "":
		return t.oneTxn("auth code", `terminal = $1 AND auth_code = $2 AND mti = '0100'`,
			func(r *txnRecord) bool { return r.Terminal == terminal && r.AuthCode == authCode && r.MTI == "0100" },
			terminal, authCode)
	}
	return txnRecord{}, false, nil
}

func (t *pgTx) openTxns(terminal string) ([]txnRecord, error) {
	var out []txnRecord
	err := t.query("open batch of "+terminal, `SELECT `+txnColumns+` FROM transactions WHERE terminal = $1 AND batch = ''
		AND id <> ALL($2) ORDER BY id`, []any{terminal, t.overlayIDs()}, func(rows pgx.Rows) error {
		r, err := scanPGTxn(rows)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, r := range t.overlay {
		if r.Terminal == terminal && r.Batch == "" {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b txnRecord) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *pgTx) batch(terminal, number string) (batchRecord, bool, error) {
	b := batchRecord{Terminal: terminal, Number: number}
	var ts int64
	err := t.queryRow(fmt.Sprintf("read batch %s of %s", number, terminal), `SELECT state, sale_count, sale_amount, refund_count,
		refund_amount, time FROM batches WHERE terminal = $1 AND number = $2`, []any{terminal, number}, func(r pgx.Row) error {
		return r.Scan(&b.State, &b.SaleCount, &b.SaleAmount, &b.RefundCount, &b.RefundAmount, &ts)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return batchRecord{}, false, nil
	}
	if err != nil {
		return batchRecord{}, false, err
	}
	b.Time = time.Unix(0, ts).UTC()
	return b, true, nil
}

func (t *pgTx) putBatch(b batchRecord) error {
	t.queue(fmt.Sprintf("write batch %s of %s", b.Number, b.Terminal), `INSERT INTO batches (terminal, number, state, sale_count, sale_amount, refund_count, refund_amount, time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (terminal, number) DO UPDATE SET state = excluded.state,
		sale_count = excluded.sale_count, sale_amount = excluded.sale_amount, refund_count = excluded.refund_count,
		refund_amount = excluded.refund_amount, time = excluded.time`,
		b.Terminal, b.Number, b.State, b.SaleCount, b.SaleAmount, b.RefundCount, b.RefundAmount, b.Time.UnixNano())
	return nil
}

func (t *pgTx) addUpload(u uploadRecord) error {
	t.queue(fmt.Sprintf("record upload (terminal %s STAN %s)", u.Terminal, u.STAN), `INSERT INTO uploads (terminal, batch, stan, proc, amount, rrn, txn_id, time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.Terminal, u.Batch, u.STAN, u.Proc, u.Amount, u.RRN, u.TxnID, u.Time.UnixNano())
	return nil
}

func (t *pgTx) putDUKPT(device string, counter uint32) error {
	t.queue(fmt.Sprintf("record DUKPT counter %d of device %s", counter, device), `INSERT INTO dukpt_counters (device, counter)
		VALUES ($1, $2) ON CONFLICT (device) DO UPDATE SET counter = GREATEST(dukpt_counters.counter, excluded.counter)`,
		device, int64(counter))
	return nil
}

func (t *pgTx) appendJournal(e *Entry) error {
	e.ID = t.s.nextJournal
	t.s.nextJournal++
	t.journal = append(t.journal, *e)
	return nil
}

// queueJournal queues the batch's journal lines as one statement: nothing in a batch reads
// the journal, so its lines can wait for the end, and one INSERT of many rows costs the
// database far less than many INSERTs of one.
func (t *pgTx) queueJournal() {
	if len(t.journal) == 0 {
		return
	}
	n := len(t.journal)
	var (
		id, ts, conn, amount                                            = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		dir, mti, stan, rrn, term, pan, card, proc, code, dec, flt, act = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	)
	for i, e := range t.journal {
		id[i], ts[i], conn[i], amount[i] = e.ID, e.Time.UnixNano(), e.Conn, e.Amount
		dir[i], mti[i], stan[i], rrn[i], term[i], pan[i] = e.Direction, e.MTI, e.STAN, e.RRN, e.Terminal, e.MaskedPAN
		card[i], proc[i], code[i], dec[i], flt[i], act[i] = e.Card, e.ProcessingCode, e.ResponseCode, e.Decision, e.Fault, e.FaultAction
	}
	t.queue(fmt.Sprintf("append %d journal lines", n), `INSERT INTO journal (id, time, conn, direction, mti, stan, rrn,
		terminal, masked_pan, card, proc, amount, code, decision, fault, fault_action)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[])`,
		id, ts, conn, dir, mti, stan, rrn, term, pan, card, proc, amount, code, dec, flt, act)
	t.journal = t.journal[:0]
}

func (t *pgTx) reset(cards []cardState) error {
	// DELETE, not TRUNCATE: TRUNCATE takes an exclusive lock that would stall other
	// replicas' reads. Ids keep growing across a reset (the counter row stays), so RRNs
	// stay unique for the ledger's lifetime.
	t.dirty = t.dirty[:0] // earlier changes in this batch are deleted anyway
	t.journal = t.journal[:0]
	t.overlay, t.inserted, t.updated = nil, t.inserted[:0], t.updated[:0]
	t.goneBelow = t.s.next
	for _, q := range []string{`DELETE FROM cards`, `DELETE FROM transactions`, `DELETE FROM journal`, `DELETE FROM batches`, `DELETE FROM uploads`} {
		t.queue("reset", q)
	}
	t.cards = map[string]*cardState{} // every card is gone until put back below
	for _, c := range cards {
		if err := t.putCard(c); err != nil {
			return err
		}
	}
	return nil
}

// Reads: committed state, on the read connection.

func (s *pgStore) read(fn func(ctx context.Context, c *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgConnectTimeout)
	defer cancel()
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.r.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, s.cfg)
		if err != nil {
			return fmt.Errorf("store: reconnect: %w", safePGError(err))
		}
		s.r = c
	}
	return fn(ctx, s.r)
}

func (s *pgStore) card(name string) (c cardState, ok bool, err error) {
	err = s.read(func(ctx context.Context, conn *pgx.Conn) error {
		c, ok, err = pgCard(ctx, conn, name)
		return err
	})
	return c, ok, err
}

func (s *pgStore) dukptCounters() (out map[string]uint32, err error) {
	err = s.read(func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT device, counter FROM dukpt_counters`)
		if err != nil {
			return fmt.Errorf("store: read DUKPT counters: %w", safePGError(err))
		}
		defer rows.Close()
		out = map[string]uint32{}
		for rows.Next() {
			var d string
			var c int64
			if err := rows.Scan(&d, &c); err != nil {
				return fmt.Errorf("store: read DUKPT counters: %w", safePGError(err))
			}
			out[d] = uint32(c)
		}
		return safePGError(rows.Err())
	})
	return out, err
}

func (s *pgStore) cards() (out []cardState, err error) {
	err = s.read(func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT name, opening, available, held, pin_tries FROM cards ORDER BY name`)
		if err != nil {
			return fmt.Errorf("store: list cards: %w", safePGError(err))
		}
		defer rows.Close()
		for rows.Next() {
			var c cardState
			if err := rows.Scan(&c.Name, &c.Opening, &c.Available, &c.Held, &c.PINTries); err != nil {
				return fmt.Errorf("store: list cards: %w", safePGError(err))
			}
			out = append(out, c)
		}
		return safePGError(rows.Err())
	})
	return out, err
}

// pgFilter renders a Filter as a WHERE clause with $n placeholders, and its LIMIT.
func pgFilter(f Filter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Terminal != "" {
		add("terminal = $%d", f.Terminal)
	}
	if f.Card != "" {
		add("card = $%d", f.Card)
	}
	if f.STAN != "" {
		add("stan = $%d", f.STAN)
	}
	if !f.Since.IsZero() {
		add("time >= $%d", f.Since.UnixNano())
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, args
}

func (s *pgStore) journal(f Filter) (out []Entry, err error) {
	where, args := pgFilter(f)
	err = s.read(func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT id, time, conn, direction, mti, stan, rrn, terminal, masked_pan, card, proc, amount, code, decision, fault, fault_action
			FROM journal`+where+` ORDER BY id`+limitClause(f), args...)
		if err != nil {
			return fmt.Errorf("store: read journal: %w", safePGError(err))
		}
		defer rows.Close()
		for rows.Next() {
			var e Entry
			var ts int64
			if err := rows.Scan(&e.ID, &ts, &e.Conn, &e.Direction, &e.MTI, &e.STAN, &e.RRN, &e.Terminal, &e.MaskedPAN, &e.Card,
				&e.ProcessingCode, &e.Amount, &e.ResponseCode, &e.Decision, &e.Fault, &e.FaultAction); err != nil {
				return fmt.Errorf("store: read journal: %w", safePGError(err))
			}
			e.Time = time.Unix(0, ts).UTC()
			out = append(out, e)
		}
		return safePGError(rows.Err())
	})
	return out, err
}

func (s *pgStore) transactions(f Filter) (out []txnRecord, err error) {
	where, args := pgFilter(f)
	err = s.read(func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT `+txnColumns+` FROM transactions`+where+` ORDER BY id`+limitClause(f), args...)
		if err != nil {
			return fmt.Errorf("store: read transactions: %w", safePGError(err))
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanPGTxn(rows)
			if err != nil {
				return fmt.Errorf("store: read transactions: %w", safePGError(err))
			}
			out = append(out, r)
		}
		return safePGError(rows.Err())
	})
	return out, err
}

// safePGError keeps an error's class (errors.As still finds a *pgconn.PgError for the
// retry decision) but masks card numbers in its text: a constraint error may quote a row.
func safePGError(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		c := *pe
		c.Message, c.Detail, c.Where = maskPG(c.Message), maskPG(c.Detail), maskPG(c.Where)
		return &c
	}
	return err
}

func maskPG(s string) string {
	if s == "" {
		return s
	}
	return iso.MaskText(s)
}

// redactURL drops the password from a database URL for messages.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			user := rest[:at]
			if c := strings.Index(user, ":"); c >= 0 {
				user = user[:c] + ":***"
			}
			return u[:i+3] + user + rest[at:]
		}
	}
	return u
}
