package acquirer

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
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
`

// sqliteStore is the SQLite store: WAL, synchronous=FULL, queued updates decided in
// batches and each batch committed in one transaction with one fsync (group commit), the
// next batch decided while the last one commits (sqlitewriter.go).
type sqliteStore struct {
	w *sql.DB // the committer's single connection
	r *sql.DB // readers (the same as w for ":memory:")

	groupCommit
	toCommit      chan *writeSet // coordinator → committer
	results       chan *writeSet // committer → coordinator, with err set
	committerDone chan struct{}

	// Owned by the coordinator goroutine.
	next     int64                // next transaction id
	nextJrnl int64                // next journal line id
	rstmts   map[string]*sql.Stmt // prepared on the readers

	// idx indexes the committed transactions (see txnIndex) and cardCache holds every card
	// as last committed. A batch's writes enter them only after its commit; both are
	// dropped after a failed commit and reloaded from the tables before the next batch.
	idx       *txnIndex
	cardCache map[string]cardState

	// Owned by the committer goroutine.
	stmts      map[string]*sql.Stmt // prepared once on the write connection
	unprepared map[string]bool      // queries seen in a transaction, to prepare after it

	// commitHook, when set (tests only), runs before each commit; an error fails it.
	commitHook func(*writeSet) error
}

// loadCards reads every card.
func loadCards(db *sql.DB) (map[string]cardState, error) {
	rows, err := db.Query(`SELECT name, opening, available, held, pin_tries FROM cards`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]cardState{}
	for rows.Next() {
		var c cardState
		if err := rows.Scan(&c.Name, &c.Opening, &c.Available, &c.Held, &c.PINTries); err != nil {
			return nil, err
		}
		m[c.Name] = c
	}
	return m, rows.Err()
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
		toCommit: make(chan *writeSet), results: make(chan *writeSet, 1), committerDone: make(chan struct{}),
		rstmts: map[string]*sql.Stmt{}, stmts: map[string]*sql.Stmt{}, unprepared: map[string]bool{}}
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
	if s.cardCache, err = loadCards(w); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store %s: load cards: %w", path, err)
	}
	go s.pipeline()
	return s, nil
}

func (s *sqliteStore) closeDBs() {
	if s.r != s.w {
		s.r.Close()
	}
	s.w.Close()
}

func (s *sqliteStore) close() error {
	s.shutdown()
	for _, st := range s.stmts {
		st.Close()
	}
	for _, st := range s.rstmts {
		st.Close()
	}
	if s.r != s.w {
		s.r.Close()
	}
	return s.w.Close()
}

type querier interface {
	QueryRow(q string, args ...any) *sql.Row
}

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

const txnColumns = `id, time, terminal, merchant, stan, de7, mti, proc, card, masked_pan, requested, amount,
	reversed, captured, currency, code, state, rrn, auth_code, fault, orig_id, batch, response`

func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func scanTxn(rows interface{ Scan(...any) error }) (txnRecord, error) {
	var r txnRecord
	var ts int64
	err := rows.Scan(&r.ID, &ts, &r.Terminal, &r.Merchant, &r.STAN, &r.DE7, &r.MTI, &r.Proc, &r.Card, &r.MaskedPAN,
		&r.Requested, &r.Amount, &r.Reversed, &r.Captured, &r.Currency, &r.Code, &r.State, &r.RRN, &r.AuthCode,
		&r.Fault, &r.OrigID, &r.Batch, &r.Response)
	r.Time = timeOf(ts)
	return r, err
}

// Reads.

func (s *sqliteStore) card(name string) (cardState, bool, error) { return queryCard(s.r, name) }

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
