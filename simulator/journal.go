package simulator

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	_ "modernc.org/sqlite" // the journal's SQLite driver (pure Go)
)

// journal is the terminal's durable memory: STAN and batch counters, the transactions of the
// open batch, the store-and-forward queue (with the pending reversal of the request in
// flight), the manual reconciliation list and the receipts. Every change is one SQLite
// transaction committed with synchronous=FULL before the terminal acts on it.
//
// Like a real terminal's secure storage, it keeps the PAN and expiry of a transaction only
// while it may have to reverse, void, complete or upload it (see scrubTxn): once the
// transaction is final or settled and no reversal or advice is queued for it, they are
// masked in place (secure_delete overwrites the old bytes). It never keeps track 2, PIN
// blocks or EMV data. Nothing read from it leaves the package unmasked.
type journal struct {
	mu   sync.Mutex // also makes close wait for the statement in progress
	db   *sql.DB
	dead error // set by close: every later call fails with it
}

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txns (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	batch TEXT NOT NULL, op TEXT NOT NULL, mti TEXT NOT NULL, stan TEXT NOT NULL,
	amount INTEGER NOT NULL, approved INTEGER NOT NULL DEFAULT 0,
	masked_pan TEXT NOT NULL DEFAULT '', entry TEXT NOT NULL DEFAULT '',
	rrn TEXT NOT NULL DEFAULT '', auth TEXT NOT NULL DEFAULT '', rc TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL, msg TEXT NOT NULL, time INTEGER NOT NULL,
	settled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS saf (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	txn_id INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '', msg TEXT NOT NULL,
	orig_mti TEXT NOT NULL, orig_stan TEXT NOT NULL, masked_pan TEXT NOT NULL DEFAULT '',
	amount INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL, expires INTEGER NOT NULL, next_at INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0, tries INTEGER NOT NULL DEFAULT 0,
	last_code TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '',
	blocked INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS receipts (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	txn_id INTEGER NOT NULL, stan TEXT NOT NULL, kind TEXT NOT NULL,
	merchant TEXT NOT NULL, customer TEXT NOT NULL, printed INTEGER NOT NULL, time INTEGER NOT NULL);
`

// SAF row states. A pending row is the reversal written before its request goes out; it is
// deleted by a valid answer and becomes queued otherwise (or on restart after a crash).
const (
	safPending = "pending"
	safQueued  = "queued"
	safManual  = "manual"
)

func openJournal(path string) (*journal, error) {
	if path == "" {
		path = ":memory:"
	}
	dsn := path
	if path != ":memory:" {
		if err := bounded.RegularOrAbsent(path); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrJournal, err)
		}
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "busy_timeout(5000)")
		// Masked card numbers must not survive in freed page space.
		q.Add("_pragma", "secure_delete(ON)")
		dsn = "file:" + path + "?" + q.Encode()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrJournal, path, err)
	}
	// One connection: a single writer, and ":memory:" is one database per connection.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: create schema in %s: %w", ErrJournal, path, err)
	}
	return &journal{db: db}, nil
}

// close makes every later call fail with why (ErrCrashed, ErrClosed).
func (j *journal) close(why error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.dead != nil {
		return nil
	}
	j.dead = why
	return j.db.Close()
}

// tx runs f in one SQLite transaction.
func (j *journal) tx(op string, f func(*sql.Tx) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.dead != nil {
		return fmt.Errorf("%s: %w", op, j.dead)
	}
	tx, err := j.db.Begin()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJournal, op, err)
	}
	if err := f(tx); err != nil {
		scrubbedIn.Delete(tx)
		_ = tx.Rollback()
		return fmt.Errorf("%w: %s: %w", ErrJournal, op, err)
	}
	_, scrubbed := scrubbedIn.LoadAndDelete(tx)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: %s: commit: %w", ErrJournal, op, err)
	}
	if scrubbed {
		// The WAL still holds the page images from before the scrub: fold it into the
		// database (where secure_delete overwrote the old bytes) and empty it, so that no
		// full PAN stays on disk. A failure is harmless: the next scrub or close retries.
		_, _ = j.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	return nil
}

// scrubbedIn marks the SQLite transactions in which scrubTxn masked card data, so that
// tx checkpoints the WAL after their commit.
var scrubbedIn sync.Map // *sql.Tx → struct{}

func getMeta(tx *sql.Tx, key string, def int) (int, error) {
	var v string
	err := tx.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("meta %s: %q is not a number", key, v)
	}
	return n, nil
}

func setMeta(tx *sql.Tx, key string, v int) error {
	_, err := tx.Exec(`INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, strconv.Itoa(v))
	return err
}

// wrap6 is the successor of a six-digit counter: 999999 wraps to 000001 (0 is never used).
func wrap6(n int) int {
	if n >= 999999 || n < 0 {
		return 1
	}
	return n + 1
}

// nextSTAN allocates and persists the next STAN.
func (j *journal) nextSTAN() (string, error) {
	var stan string
	err := j.tx("allocate STAN", func(tx *sql.Tx) error {
		s, err := allocSTAN(tx)
		stan = s
		return err
	})
	return stan, err
}

func allocSTAN(tx *sql.Tx) (string, error) {
	n, err := getMeta(tx, "stan", 0)
	if err != nil {
		return "", err
	}
	n = wrap6(n)
	if err := setMeta(tx, "stan", n); err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n), nil
}

// batch returns the open batch number.
func (j *journal) batch() (string, error) {
	var b int
	err := j.tx("read batch number", func(tx *sql.Tx) error {
		var err error
		b, err = getMeta(tx, "batch", 1)
		return err
	})
	return fmt.Sprintf("%06d", b), err
}

// setCounters sets the STAN and batch counters (tests of wrapping, migrations).
func (j *journal) setCounters(stan, batch int) error {
	return j.tx("set counters", func(tx *sql.Tx) error {
		if err := setMeta(tx, "stan", stan); err != nil {
			return err
		}
		return setMeta(tx, "batch", batch)
	})
}

// txnRow is a transaction with the message it was sent as (PAN kept, track 2, PIN block and
// EMV data stripped).
type txnRow struct {
	Txn
	Msg     *iso.Message
	Settled bool
}

// safRow is a SAF entry with the message to transmit.
type safRow struct {
	SAFEntry
	TxnID int64
	State string
	Msg   *iso.Message
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func encodeMsg(m *iso.Message) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func decodeMsg(s string) (*iso.Message, error) {
	m := &iso.Message{}
	if err := json.Unmarshal([]byte(s), m); err != nil {
		return nil, fmt.Errorf("stored message does not decode: %w", err)
	}
	return m, nil
}

func insertTxn(tx *sql.Tx, r *txnRow) error {
	msg, err := encodeMsg(r.Msg)
	if err != nil {
		return err
	}
	res, err := tx.Exec(`INSERT INTO txns(batch, op, mti, stan, amount, approved, masked_pan, entry, rrn, auth, rc, status, msg, time)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.Batch, r.Operation, r.MTI, r.STAN, r.Amount, r.Approved, r.MaskedPAN, r.Entry, r.RRN, r.AuthCode, r.ResponseCode, r.Status, msg, nanos(r.Time))
	if err != nil {
		return err
	}
	r.ID, err = res.LastInsertId()
	return err
}

func updateTxn(tx *sql.Tx, r *txnRow) error {
	_, err := tx.Exec(`UPDATE txns SET approved = ?, rrn = ?, auth = ?, rc = ?, status = ? WHERE id = ?`,
		r.Approved, r.RRN, r.AuthCode, r.ResponseCode, r.Status, r.ID)
	if err != nil {
		return err
	}
	return scrubTxn(tx, r.ID)
}

func setTxnStatus(tx *sql.Tx, id int64, status string) error {
	if _, err := tx.Exec(`UPDATE txns SET status = ? WHERE id = ?`, status, id); err != nil {
		return err
	}
	return scrubTxn(tx, id)
}

// finalStatus: nothing will be sent about such a transaction again (no void, completion or
// reversal can follow).
func finalStatus(s string) bool {
	switch s {
	case StatusDeclined, StatusNotSent, StatusReversed, StatusVoided, StatusUnknown:
		return true
	}
	return false
}

// scrubTxn masks the PAN and drops the expiry in transaction id's stored request once
// recovery cannot need them: the transaction is final or settled, or only a manual
// reconciliation entry (which is never sent) refers to it, and no reversal or advice still
// queued or pending refers to it.
func scrubTxn(tx *sql.Tx, id int64) error {
	var status, msg string
	var settled int
	err := tx.QueryRow(`SELECT status, msg, settled FROM txns WHERE id = ?`, id).Scan(&status, &msg, &settled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	var active, manual int
	if err := tx.QueryRow(`SELECT COUNT(*) FILTER (WHERE state != ?), COUNT(*) FILTER (WHERE state = ?) FROM saf WHERE txn_id = ?`,
		safManual, safManual, id).Scan(&active, &manual); err != nil {
		return err
	}
	if active > 0 || (settled == 0 && manual == 0 && !finalStatus(status)) {
		return nil
	}
	m, err := decodeMsg(msg)
	if err != nil {
		return err
	}
	if !scrubMsg(m) {
		return nil
	}
	enc, err := encodeMsg(m)
	if err != nil {
		return err
	}
	if _, err = tx.Exec(`UPDATE txns SET msg = ? WHERE id = ?`, enc, id); err != nil {
		return err
	}
	scrubbedIn.Store(tx, struct{}{})
	return nil
}

// scrubMsg masks m's card number (first 6 / last 4) and drops its expiry; false when there
// was nothing to do.
func scrubMsg(m *iso.Message) bool {
	changed := false
	if m.PAN != "" && m.PAN != iso.MaskPAN(m.PAN) {
		m.PAN, changed = iso.MaskPAN(m.PAN), true
	}
	if m.Expiry != "" {
		m.Expiry, changed = "", true
	}
	if m.Track2 != "" {
		m.Track2, changed = "", true
	}
	return changed
}

func insertSAF(tx *sql.Tx, r *safRow) error {
	msg, err := encodeMsg(r.Msg)
	if err != nil {
		return err
	}
	res, err := tx.Exec(`INSERT INTO saf(txn_id, kind, state, reason, msg, orig_mti, orig_stan, masked_pan, amount, created, expires, next_at, attempts, tries, last_code, last_error, blocked, note)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.TxnID, r.Kind, r.State, r.Reason, msg, r.OriginalMTI, r.OriginalSTAN, r.MaskedPAN, r.Amount,
		nanos(r.Created), nanos(r.Expires), nanos(r.NextAt), r.Attempts, r.Tries, r.LastCode, r.LastError, r.Blocked, r.Note)
	if err != nil {
		return err
	}
	r.ID, err = res.LastInsertId()
	return err
}

func updateSAF(tx *sql.Tx, r *safRow) error {
	msg, err := encodeMsg(r.Msg)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`UPDATE saf SET state = ?, msg = ?, next_at = ?, attempts = ?, tries = ?, last_code = ?, last_error = ?, blocked = ?, note = ? WHERE id = ?`,
		r.State, msg, nanos(r.NextAt), r.Attempts, r.Tries, r.LastCode, r.LastError, r.Blocked, r.Note, r.ID)
	return err
}

func deleteSAF(tx *sql.Tx, id int64) error {
	var txnID int64
	err := tx.QueryRow(`SELECT txn_id FROM saf WHERE id = ?`, id).Scan(&txnID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`DELETE FROM saf WHERE id = ?`, id); err != nil {
		return err
	}
	return scrubTxn(tx, txnID)
}

const safCols = `id, txn_id, kind, state, reason, msg, orig_mti, orig_stan, masked_pan, amount, created, expires, next_at, attempts, tries, last_code, last_error, blocked, note`

func scanSAF(rows *sql.Rows) (*safRow, error) {
	r := &safRow{}
	var msg string
	var created, expires, next int64
	if err := rows.Scan(&r.ID, &r.TxnID, &r.Kind, &r.State, &r.Reason, &msg, &r.OriginalMTI, &r.OriginalSTAN, &r.MaskedPAN, &r.Amount,
		&created, &expires, &next, &r.Attempts, &r.Tries, &r.LastCode, &r.LastError, &r.Blocked, &r.Note); err != nil {
		return nil, err
	}
	m, err := decodeMsg(msg)
	if err != nil {
		return nil, fmt.Errorf("SAF entry %d: %w", r.ID, err)
	}
	r.Msg = m
	r.Created, r.Expires, r.NextAt = fromNanos(created), fromNanos(expires), fromNanos(next)
	r.MTI = m.MTI
	r.STAN = m.STAN
	return r, nil
}

// safRows lists the rows in a state, oldest first (the queue order).
func (j *journal) safRows(state string) ([]*safRow, error) {
	var out []*safRow
	err := j.tx("list SAF "+state, func(tx *sql.Tx) error {
		var err error
		out, err = querySAF(tx, `WHERE state = ? ORDER BY id`, state)
		return err
	})
	return out, err
}

func querySAF(tx *sql.Tx, where string, args ...any) ([]*safRow, error) {
	rows, err := tx.Query(`SELECT `+safCols+` FROM saf `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*safRow
	for rows.Next() {
		r, err := scanSAF(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const txnCols = `id, batch, op, mti, stan, amount, approved, masked_pan, entry, rrn, auth, rc, status, msg, time, settled`

func queryTxns(tx *sql.Tx, where string, args ...any) ([]*txnRow, error) {
	rows, err := tx.Query(`SELECT `+txnCols+` FROM txns `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*txnRow
	for rows.Next() {
		r := &txnRow{}
		var msg string
		var at int64
		if err := rows.Scan(&r.ID, &r.Batch, &r.Operation, &r.MTI, &r.STAN, &r.Amount, &r.Approved, &r.MaskedPAN, &r.Entry,
			&r.RRN, &r.AuthCode, &r.ResponseCode, &r.Status, &msg, &at, &r.Settled); err != nil {
			return nil, err
		}
		m, err := decodeMsg(msg)
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", r.ID, err)
		}
		r.Msg, r.Time = m, fromNanos(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// openTxns lists the transactions of the open (unsettled) batch, oldest first.
func (j *journal) openTxns() ([]*txnRow, error) {
	var out []*txnRow
	err := j.tx("list transactions", func(tx *sql.Tx) error {
		var err error
		out, err = queryTxns(tx, `WHERE settled = 0 ORDER BY id`)
		return err
	})
	return out, err
}

// txnByID reads one transaction.
func (j *journal) txnByID(id int64) (*txnRow, error) {
	var out []*txnRow
	err := j.tx("read transaction", func(tx *sql.Tx) error {
		var err error
		out, err = queryTxns(tx, `WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("transaction %d: %w", id, ErrNotFound)
	}
	return out[0], nil
}

// lastTxn is the most recent transaction with an id below before (0: any).
func (j *journal) lastTxn(before int64) (*txnRow, error) {
	var out []*txnRow
	err := j.tx("read last transaction", func(tx *sql.Tx) error {
		var err error
		if before > 0 {
			out, err = queryTxns(tx, `WHERE id < ? ORDER BY id DESC LIMIT 1`, before)
		} else {
			out, err = queryTxns(tx, `ORDER BY id DESC LIMIT 1`)
		}
		return err
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out[0], nil
}

// Receipts.

func insertReceipt(tx *sql.Tx, txnID int64, r *Receipt, at time.Time) error {
	_, err := tx.Exec(`INSERT INTO receipts(txn_id, stan, kind, merchant, customer, printed, time) VALUES(?,?,?,?,?,?,?)`,
		txnID, r.STAN, r.Kind, r.Merchant, r.Customer, r.Printed, nanos(at))
	return err
}

// receipt returns the latest receipt of a transaction (txnID 0: the latest of all) and its id.
func (j *journal) receipt(txnID int64) (int64, *Receipt, error) {
	var id int64
	var r *Receipt
	err := j.tx("read receipt", func(tx *sql.Tx) error {
		q := `SELECT id, stan, kind, merchant, customer, printed FROM receipts ORDER BY id DESC LIMIT 1`
		args := []any{}
		if txnID != 0 {
			q = `SELECT id, stan, kind, merchant, customer, printed FROM receipts WHERE txn_id = ? ORDER BY id DESC LIMIT 1`
			args = append(args, txnID)
		}
		rc := &Receipt{}
		err := tx.QueryRow(q, args...).Scan(&id, &rc.STAN, &rc.Kind, &rc.Merchant, &rc.Customer, &rc.Printed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("receipt: %w", ErrNotFound)
		}
		r = rc
		return err
	})
	return id, r, err
}

func (j *journal) markPrinted(receiptID int64) error {
	return j.tx("mark receipt printed", func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE receipts SET printed = 1 WHERE id = ?`, receiptID)
		return err
	})
}
