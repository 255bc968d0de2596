package acquirer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/isotest"
)

// pgURL returns a database URL for one test: POSDRILL_PG_URL with a schema of the test's
// own (dropped at the end), or skips the test when the variable is not set.
// scripts/ci-postgres.sh starts a server and prints the variable to export.
func pgURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("POSDRILL_PG_URL")
	if base == "" {
		t.Skip("PostgreSQL not available: set POSDRILL_PG_URL (eval \"$(scripts/ci-postgres.sh start)\" starts one)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("POSDRILL_PG_URL is set but the server does not answer: %v", err)
	}
	schema := fmt.Sprintf("posdrill_test_%d_%d", time.Now().UnixNano(), rand.IntN(1e6))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("POSDRILL_PG_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// startPG serves an acquirer whose store is the PostgreSQL database at dbURL. It opens the
// store itself, so it works whether or not New selects PostgreSQL for a postgres:// DB.
func startPG(t testing.TB, dbURL string, o Options) *server {
	t.Helper()
	if o.Clock == nil {
		o.Clock = newFixedClock()
	}
	logs := &isotest.Buffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.DB = ":memory:"
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.st.close(); err != nil {
		t.Fatal(err)
	}
	st, err := openPostgres(dbURL, a.fixtures)
	if err != nil {
		t.Fatal(err)
	}
	a.st = st
	if a.dukpt.high, err = st.dukptCounters(); err != nil { // as New does with its store
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{a: a, addr: ln.Addr().String(), logs: logs, done: make(chan error, 1)}
	go func() { s.done <- a.Serve(ln) }()
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-s.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func TestIsPostgresURL(t *testing.T) {
	for db, want := range map[string]bool{
		"postgres://u@h/db": true, "postgresql://h/db": true, ":memory:": false, "/tmp/x.db": false, "postgres.db": false,
	} {
		if IsPostgresURL(db) != want {
			t.Errorf("IsPostgresURL(%q) = %v", db, !want)
		}
	}
	if got := redactURL("postgres://u:secret@h:5432/db?x=1"); got != "postgres://u:***@h:5432/db?x=1" {
		t.Errorf("redactURL: %s", got)
	}
}

// TestPostgresStoreFlows runs the ledger flows on one replica: approval, duplicate,
// repeat, reversal (twice), refund, balance inquiry, journal, transactions, reset, and a
// restart that keeps the ledger.
func TestPostgresStoreFlows(t *testing.T) {
	dbURL := pgURL(t)
	s := startPG(t, dbURL, Options{Seed: 1})
	c := s.dial(t)
	opening := s.balance(t, "visa-ok").Opening

	m := sale(t, "visa-ok", 2500, stan(1))
	r := c.send(t, m)
	wantCode(t, r, iso.RCApproved)
	if r.RRN == "" || r.AuthCode == "" {
		t.Fatalf("approval without RRN/auth code: %+v", r)
	}
	if b := s.balance(t, "visa-ok"); b.Available != opening-2500 {
		t.Fatalf("after sale: %+v", b)
	}
	wantCode(t, c.send(t, m), iso.RCDuplicate)
	rep := m.Clone()
	rep.MTI = "0201"
	if again := c.send(t, rep); again.ResponseCode != iso.RCApproved || again.RRN != r.RRN || again.AuthCode != r.AuthCode {
		t.Fatalf("repeat answered %+v, want the original answer %+v", again, r)
	}

	rev := reversalOf(m, "0400", stan(2))
	wantCode(t, c.send(t, rev), iso.RCApproved)
	wantCode(t, c.send(t, rev), iso.RCApproved) // again: nothing more to restore
	if b := s.balance(t, "visa-ok"); b.Available != opening {
		t.Fatalf("after reversal: %+v", b)
	}
	if tx := s.txn(t, stan(1)); tx.State != StateReversed || tx.Amount != 0 {
		t.Fatalf("reversed sale: %+v", tx)
	}

	wantCode(t, c.send(t, refund(t, "mc-ok", 700, stan(3))), iso.RCApproved)
	if b := s.balance(t, "mc-ok"); b.Available != b.Opening+700 {
		t.Fatalf("after refund: %+v", b)
	}
	wantCode(t, c.send(t, sale(t, "low-funds", 10000, stan(4))), iso.RCInsufficientFunds)
	wantCode(t, c.send(t, reversalOf(sale(t, "visa-ok", 1, stan(99)), "0400", stan(5))), iso.RCRecordNotFound)
	wantCode(t, c.send(t, echo(stan(6))), iso.RCApproved)

	if in := s.inEntry(t, "0200", stan(1)); in.MaskedPAN == "" || in.MaskedPAN == m.PAN || in.Card != "visa-ok" {
		t.Errorf("journal in line: %+v", in)
	}
	txns, err := s.a.Transactions(Filter{Terminal: "TERM0001", Limit: 2})
	if err != nil || len(txns) != 2 || txns[0].STAN != stan(1) {
		t.Fatalf("transactions: %+v, %v", txns, err)
	}

	// A second acquirer on the same database (a restart) sees the same ledger.
	s2 := startPG(t, dbURL, Options{Seed: 1})
	if b := s2.balance(t, "mc-ok"); b.Available != b.Opening+700 {
		t.Fatalf("restarted replica sees %+v", b)
	}
	wantCode(t, s2.dial(t).send(t, m), iso.RCDuplicate)
	// And ids continue: the next approval's RRN differs from the first one's.
	r2 := s2.dial(t).send(t, sale(t, "visa-ok", 100, stan(7)))
	wantCode(t, r2, iso.RCApproved)
	if r2.RRN == r.RRN {
		t.Fatalf("RRN %s reused", r2.RRN)
	}

	if err := s.a.Reset(); err != nil {
		t.Fatal(err)
	}
	if b := s.balance(t, "mc-ok"); b.Available != b.Opening {
		t.Fatalf("after reset: %+v", b)
	}
	if j := s.journal(t, Filter{}); len(j) != 0 {
		t.Fatalf("journal after reset: %d lines", len(j))
	}
}

// TestPostgresReplicasExactlyOnce: two acquirer replicas on one database. Every sale is
// sent four times at once (twice to each replica, on separate connections), then every
// other sale is reversed by four identical reversals at once while the sales are sent yet
// again. Whatever the interleaving: one approval per sale (the rest 94), every reversal
// answered 00, each reversed sale restored exactly once, and the balance is the opening
// balance less the sales left standing.
func TestPostgresReplicasExactlyOnce(t *testing.T) {
	dbURL := pgURL(t)
	replicas := []*server{startPG(t, dbURL, Options{Seed: 1}), startPG(t, dbURL, Options{Seed: 1})}
	const n, copies = 30, 4
	clients := make([]*client, copies)
	for i := range clients {
		clients[i] = replicas[i%2].dial(t)
	}
	opening := replicas[0].balance(t, "visa-ok").Opening
	amount := func(i int) int64 { return int64(100 + i) }
	sales := make([]*iso.Message, n)
	for i := range sales {
		sales[i] = sale(t, "visa-ok", amount(i), stan(1000+i))
	}

	type answer struct {
		i    int
		code string
		err  error
	}
	sendAll := func(msgs []*iso.Message, idx []int) []answer {
		var wg sync.WaitGroup
		out := make(chan answer, len(msgs)*copies)
		for k, m := range msgs {
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := c.Send(context.Background(), m, 10*time.Second)
					a := answer{i: idx[k], err: err}
					if err == nil {
						a.code = r.ResponseCode
					}
					out <- a
				}()
			}
		}
		wg.Wait()
		close(out)
		var all []answer
		for a := range out {
			all = append(all, a)
		}
		return all
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}

	approved := map[int]int{}
	for _, a := range sendAll(sales, all) {
		switch {
		case a.err != nil:
			t.Fatalf("sale %d: %v", a.i, a.err)
		case a.code == iso.RCApproved:
			approved[a.i]++
		case a.code != iso.RCDuplicate:
			t.Fatalf("sale %d answered %s", a.i, a.code)
		}
	}
	for i := 0; i < n; i++ {
		if approved[i] != 1 {
			t.Fatalf("sale %d approved %d times across the replicas", i, approved[i])
		}
	}

	// Phase 2: reversals of the even sales, four identical copies each, racing with
	// another round of the sales themselves.
	var revs []*iso.Message
	var revIdx []int
	for i := 0; i < n; i += 2 {
		revs = append(revs, reversalOf(sales[i], "0400", stan(2000+i)))
		revIdx = append(revIdx, i)
	}
	var wg sync.WaitGroup
	var resales []answer
	wg.Add(1)
	go func() {
		defer wg.Done()
		resales = sendAll(sales, all)
	}()
	for _, a := range sendAll(revs, revIdx) {
		if a.err != nil || a.code != iso.RCApproved {
			t.Fatalf("reversal of sale %d: code %q, %v", a.i, a.code, a.err)
		}
	}
	wg.Wait()
	for _, a := range resales {
		if a.err != nil || a.code != iso.RCDuplicate {
			t.Fatalf("sale %d sent again: code %q, %v", a.i, a.code, a.err)
		}
	}

	want := opening
	for i := 0; i < n; i++ {
		if i%2 == 1 {
			want -= amount(i)
		}
	}
	for k, s := range replicas {
		if b := s.balance(t, "visa-ok"); b.Available != want {
			t.Errorf("replica %d: available %d, want %d (opening %d)", k, b.Available, want, opening)
		}
	}
	txns, err := replicas[1].a.Transactions(Filter{Terminal: "TERM0001"})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]int{}
	for _, tx := range txns {
		byKey[tx.STAN]++
		var i int
		fmt.Sscanf(tx.STAN, "%d", &i)
		i -= 1000
		wantState, wantAmount := StateApproved, amount(i)
		if i%2 == 0 {
			wantState, wantAmount = StateReversed, 0
		}
		if tx.State != wantState || tx.Amount != wantAmount {
			t.Errorf("sale %d: state %s amount %d, want %s %d", i, tx.State, tx.Amount, wantState, wantAmount)
		}
	}
	if len(byKey) != n || len(txns) != n {
		t.Errorf("%d transactions for %d keys, want %d of each", len(txns), len(byKey), n)
	}
	// Every request and answer is in the journal once: n*copies*2 sales + n/2*copies
	// reversals, each in and out.
	j := replicas[0].journal(t, Filter{Terminal: "TERM0001"})
	if wantLines := 2 * (n*copies*2 + n/2*copies); len(j) != wantLines {
		t.Errorf("journal has %d lines, want %d", len(j), wantLines)
	}
}

func openPGStore(t *testing.T) *pgStore {
	t.Helper()
	st, err := openPostgres(pgURL(t), []cardState{{Name: "visa-ok", Opening: 1000, Available: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	return st
}

// TestPostgresBadUpdateFailsAlone: updates run concurrently, so they share batches; the
// ones that fail in the database (after their writes were queued) get their error, the
// others are committed all the same.
func TestPostgresBadUpdateFailsAlone(t *testing.T) {
	st := openPGStore(t)
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.update(context.Background(), func(tx storeTx) error {
				e := &Entry{Time: txnDate, Direction: "in", MTI: "0800", STAN: stan(i), Terminal: "TERM0001", Decision: "test"}
				if err := tx.appendJournal(e); err != nil {
					return err
				}
				if i%5 == 0 {
					tx.(*pgTx).queue("poison", `SELECT 1/0`)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%5 == 0) != (err != nil) {
			t.Errorf("update %d: %v", i, err)
		}
	}
	j, err := st.journal(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(j) != n-n/5 {
		t.Fatalf("%d journal lines, want %d", len(j), n-n/5)
	}
	seen := map[int64]bool{}
	for _, e := range j {
		var i int
		fmt.Sscanf(e.STAN, "%d", &i)
		if i%5 == 0 || seen[e.ID] {
			t.Errorf("journal line %+v", e)
		}
		seen[e.ID] = true
	}
}

// TestPostgresReconnects: the database ends the writer's connection; the next update
// reconnects and commits (nothing had been sent, so running it again is safe).
func TestPostgresReconnects(t *testing.T) {
	st := openPGStore(t)
	put := func(v int64) error {
		return st.update(context.Background(), func(tx storeTx) error {
			return tx.putCard(cardState{Name: "visa-ok", Opening: 1000, Available: v})
		})
	}
	if err := put(900); err != nil {
		t.Fatal(err)
	}
	pid := st.w.PgConn().PID() // the writer is idle between batches
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, os.Getenv("POSDRILL_PG_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if err := put(800); err != nil {
		t.Fatalf("update after the connection was ended: %v", err)
	}
	if c, ok, err := st.card("visa-ok"); err != nil || !ok || c.Available != 800 {
		t.Fatalf("card %+v %v %v", c, ok, err)
	}
}

// BenchmarkPostgresAuthorize is BenchmarkAuthorize on the PostgreSQL store: the whole
// authorize path of a sale (decision, ledger, journal, durable commit) without the network,
// with concurrent requests so that the writer batches them.
func BenchmarkPostgresAuthorize(b *testing.B) {
	st, err := openPostgres(pgURL(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(Options{Clock: newFixedClock()})
	if err != nil {
		b.Fatal(err)
	}
	a.st.close()
	st.close()
	if a.st, err = openPostgres(pgURL(b), a.fixtures); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			m := sale(b, "visa-ok", 1, fmt.Sprintf("%06d", n%1000000))
			m.TransmissionTime = fmt.Sprintf("%010d", n/1000000)
			ex := &exchange{req: m, at: txnDate}
			ex.card, ex.known = a.resolveCard(m)
			if err := a.st.update(context.Background(), func(tx storeTx) error { return a.decide(tx, ex) }); err != nil {
				b.Fatal(err)
			}
			if ex.code != "00" {
				b.Fatalf("code %s: %s", ex.code, ex.decision)
			}
		}
	})
}
