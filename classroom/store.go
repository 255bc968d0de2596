package classroom

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
)

// Terminal ids handed to trainees: TermPrefix and three digits, CLASS001 … CLASS099. The
// class acquirer's merchant knows all of them (see Cards).
const (
	TermPrefix  = "CLASS"
	MaxTrainees = 99
)

// ErrClassFull is returned by Register when every terminal id is taken.
var ErrClassFull = fmt.Errorf("classroom: all %d terminal ids are taken", MaxTrainees)

// Result is one finished drill of one trainee: a row of the export.
type Result struct {
	Trainee  string    `json:"trainee"`
	Terminal string    `json:"terminal"`
	Drill    string    `json:"drill"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Score    int       `json:"score"`
	Max      int       `json:"max"`
	Passed   bool      `json:"passed"`
	// Mistakes: expected actions the trainee did not do, forbidden ones they did.
	Missing   []string `json:"missing"`
	Forbidden []string `json:"forbidden"`
}

// Store keeps the class's trainees (name → terminal id, stable across reconnects and
// restarts) and results in one SQLite file. Every write is committed (WAL, synchronous
// FULL) before the call returns: the class answers a trainee's result only after that, so
// a score on a screen is a score on disk.
type Store struct {
	db *sql.DB
}

// OpenStore opens (creating when new) the results file at path; ":memory:" for tests.
func OpenStore(path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	if path == ":memory:" {
		dsn = "file::memory:?_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open results %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; an in-memory database is per connection
	const schema = `
CREATE TABLE IF NOT EXISTS trainees (
	name     TEXT PRIMARY KEY,
	terminal TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS results (
	id        INTEGER PRIMARY KEY,
	trainee   TEXT NOT NULL,
	terminal  TEXT NOT NULL,
	drill     TEXT NOT NULL,
	started   TEXT NOT NULL,
	finished  TEXT NOT NULL,
	score     INTEGER NOT NULL,
	max       INTEGER NOT NULL,
	passed    INTEGER NOT NULL,
	missing   TEXT NOT NULL,
	forbidden TEXT NOT NULL
);`
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open results %s: not a results file (%w)", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Register returns the terminal id of name: the one it had (a trainee who reconnects, or
// a class reopened after the trainer's console restarted) or the lowest free one.
func (s *Store) Register(name string) (string, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return "", fmt.Errorf("register %q: %w", name, err)
	}
	defer tx.Rollback()
	var tid string
	err = tx.QueryRow(`SELECT terminal FROM trainees WHERE name = ?`, name).Scan(&tid)
	if err == nil {
		return tid, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("register %q: %w", name, err)
	}
	taken := map[string]bool{}
	rows, err := tx.Query(`SELECT terminal FROM trainees`)
	if err != nil {
		return "", fmt.Errorf("register %q: %w", name, err)
	}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return "", fmt.Errorf("register %q: %w", name, err)
		}
		taken[t] = true
	}
	rows.Close()
	for i := 1; i <= MaxTrainees; i++ {
		if t := TerminalID(i); !taken[t] {
			tid = t
			break
		}
	}
	if tid == "" {
		return "", ErrClassFull
	}
	if _, err := tx.Exec(`INSERT INTO trainees (name, terminal) VALUES (?, ?)`, name, tid); err != nil {
		return "", fmt.Errorf("register %q: %w", name, err)
	}
	return tid, tx.Commit()
}

// TerminalID is the class terminal id number i (1-based).
func TerminalID(i int) string { return fmt.Sprintf("%s%03d", TermPrefix, i) }

// Trainees lists the registered trainees: name → terminal id.
func (s *Store) Trainees() (map[string]string, error) {
	rows, err := s.db.Query(`SELECT name, terminal FROM trainees`)
	if err != nil {
		return nil, fmt.Errorf("list trainees: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, t string
		if err := rows.Scan(&n, &t); err != nil {
			return nil, fmt.Errorf("list trainees: %w", err)
		}
		out[n] = t
	}
	return out, rows.Err()
}

// Add records a result durably.
func (s *Store) Add(r Result) error {
	_, err := s.db.Exec(`INSERT INTO results (trainee, terminal, drill, started, finished, score, max, passed, missing, forbidden)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.Trainee, r.Terminal, r.Drill, r.Started.UTC().Format(time.RFC3339Nano),
		r.Finished.UTC().Format(time.RFC3339Nano), r.Score, r.Max, r.Passed, strings.Join(r.Missing, " "), strings.Join(r.Forbidden, " "))
	if err != nil {
		return fmt.Errorf("record result of %q (%s): %w", r.Trainee, r.Drill, err)
	}
	return nil
}

// Results lists every result, oldest first.
func (s *Store) Results() ([]Result, error) {
	rows, err := s.db.Query(`SELECT trainee, terminal, drill, started, finished, score, max, passed, missing, forbidden FROM results ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	defer rows.Close()
	out := []Result{}
	for rows.Next() {
		var r Result
		var started, finished, missing, forbidden string
		if err := rows.Scan(&r.Trainee, &r.Terminal, &r.Drill, &started, &finished, &r.Score, &r.Max, &r.Passed, &missing, &forbidden); err != nil {
			return nil, fmt.Errorf("read results: %w", err)
		}
		r.Started, _ = time.Parse(time.RFC3339Nano, started)
		r.Finished, _ = time.Parse(time.RFC3339Nano, finished)
		r.Missing, r.Forbidden = strings.Fields(missing), strings.Fields(forbidden)
		if r.Missing == nil {
			r.Missing = []string{}
		}
		if r.Forbidden == nil {
			r.Forbidden = []string{}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CSVHeader is the export's first line.
var CSVHeader = []string{"trainee", "terminal", "drill", "started", "finished", "score", "max", "passed", "missing", "forbidden"}

// WriteCSV writes results as CSV with CSVHeader; times RFC 3339 UTC, actions
// space-separated.
func WriteCSV(w io.Writer, results []Result) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVHeader)
	for _, r := range results {
		_ = cw.Write([]string{r.Trainee, r.Terminal, r.Drill, r.Started.UTC().Format(time.RFC3339), r.Finished.UTC().Format(time.RFC3339),
			strconv.Itoa(r.Score), strconv.Itoa(r.Max), strconv.FormatBool(r.Passed), strings.Join(r.Missing, " "), strings.Join(r.Forbidden, " ")})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes results as one JSON array.
func WriteJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}
