package acquirer

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestTxnKeyIndex checks the writer's in-memory (terminal, STAN, DE7) index against what
// the duplicate check must see: keys of committed batches, keys inserted earlier in the same
// batch, none of a rolled-back batch, all of them after a restart, none after a reset.
func TestTxnKeyIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	st, err := openSQLite(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := func(stan string) *txnRecord {
		return &txnRecord{Time: time.Unix(1, 0), Terminal: "TERM0001", STAN: stan, DE7: "1126041200", MTI: "0200", State: StateApproved}
	}
	lookup := func(st *sqliteStore, stan string) bool {
		t.Helper()
		var found bool
		if err := st.update(ctx, func(tx storeTx) error {
			var err error
			_, found, err = tx.txnByKey("TERM0001", stan, "1126041200", "0200")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return found
	}
	// Committed, and seen later in the same batch.
	if err := st.update(ctx, func(tx storeTx) error {
		if err := tx.insertTxn(rec("000001")); err != nil {
			return err
		}
		if _, found, err := tx.txnByKey("TERM0001", "000001", "1126041200", "0200"); err != nil || !found {
			t.Errorf("same batch: found %v, err %v", found, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !lookup(st, "000001") {
		t.Error("committed key not found")
	}
	// Rolled back: not there, and insertable afterwards.
	boom := errors.New("boom")
	if err := st.update(ctx, func(tx storeTx) error {
		if err := tx.insertTxn(rec("000002")); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("rolled-back update: %v", err)
	}
	if lookup(st, "000002") {
		t.Error("key of a rolled-back batch found")
	}
	if err := st.update(ctx, func(tx storeTx) error { return tx.insertTxn(rec("000002")) }); err != nil {
		t.Fatal(err)
	}
	if !lookup(st, "000002") {
		t.Error("key inserted after a rollback not found")
	}
	// Restart keeps them.
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	st, err = openSQLite(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if !lookup(st, "000001") || !lookup(st, "000002") {
		t.Error("keys lost across a restart")
	}
	// Reset drops them; a key inserted after the reset in the same batch stays.
	if err := st.update(ctx, func(tx storeTx) error {
		if err := tx.reset(nil); err != nil {
			return err
		}
		if _, found, err := tx.txnByKey("TERM0001", "000001", "1126041200", "0200"); err != nil || found {
			t.Errorf("after reset, same batch: found %v, err %v", found, err)
		}
		if err := tx.insertTxn(rec("000003")); err != nil {
			return err
		}
		if _, found, err := tx.txnByKey("TERM0001", "000003", "1126041200", "0200"); err != nil || !found {
			t.Errorf("inserted after reset, same batch: found %v, err %v", found, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if lookup(st, "000001") || lookup(st, "000002") {
		t.Error("key found after reset")
	}
	if !lookup(st, "000003") {
		t.Error("key inserted with the reset not found")
	}
}

// TestCardCache checks the writer's card cache: a batch sees its own changes, a rolled-back
// batch leaves the committed balance, committed changes reach SQLite (readers, a restart),
// and a reset drops the cards it does not reload.
func TestCardCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cards.db")
	seed := []cardState{{Name: "a", Opening: 100, Available: 100}, {Name: "b", Opening: 50, Available: 50}}
	st, err := openSQLite(path, seed)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	spend := func(name string, n int64) func(storeTx) error {
		return func(tx storeTx) error {
			c, ok, err := tx.card(name)
			if err != nil || !ok {
				return errors.New("card " + name + " missing")
			}
			c.Available -= n
			return tx.putCard(c)
		}
	}
	avail := func(st *sqliteStore, name string) int64 {
		t.Helper()
		c, ok, err := st.card(name)
		if err != nil || !ok {
			t.Fatalf("card %s: %v %v", name, ok, err)
		}
		var w cardState
		if err := st.update(ctx, func(tx storeTx) error {
			var err error
			w, _, err = tx.card(name)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if w != c {
			t.Errorf("card %s: writer sees %+v, readers %+v", name, w, c)
		}
		return c.Available
	}
	// Two changes to one card in one batch.
	if err := st.update(ctx, func(tx storeTx) error {
		if err := spend("a", 10)(tx); err != nil {
			return err
		}
		return spend("a", 5)(tx)
	}); err != nil {
		t.Fatal(err)
	}
	if got := avail(st, "a"); got != 85 {
		t.Errorf("a = %d, want 85", got)
	}
	boom := errors.New("boom")
	if err := st.update(ctx, func(tx storeTx) error {
		if err := spend("a", 30)(tx); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := avail(st, "a"); got != 85 {
		t.Errorf("after rollback a = %d, want 85", got)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	st, err = openSQLite(path, seed)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if got := avail(st, "a"); got != 85 {
		t.Errorf("after restart a = %d, want 85", got)
	}
	if err := st.update(ctx, func(tx storeTx) error {
		if err := spend("b", 1)(tx); err != nil {
			return err
		}
		if err := tx.reset([]cardState{{Name: "a", Opening: 7, Available: 7}}); err != nil {
			return err
		}
		if _, ok, _ := tx.card("b"); ok {
			t.Error("card b seen after reset in the same batch")
		}
		return spend("a", 2)(tx)
	}); err != nil {
		t.Fatal(err)
	}
	if got := avail(st, "a"); got != 5 {
		t.Errorf("after reset a = %d, want 5", got)
	}
	if _, ok, _ := st.card("b"); ok {
		t.Error("card b still there after reset")
	}
	if err := st.update(ctx, func(tx storeTx) error {
		if _, ok, _ := tx.card("b"); ok {
			t.Error("writer still sees card b after reset")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestJournalBatchInsert checks the journal lines queued by a batch and written at its
// commit: ids in order, none from a rolled-back batch, continued after a restart, starting
// over after a reset, and more lines than one multi-row INSERT carries.
func TestJournalBatchInsert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	st, err := openSQLite(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	add := func(st *sqliteStore, n int, fail error) error {
		return st.update(ctx, func(tx storeTx) error {
			for i := 0; i < n; i++ {
				if err := tx.appendJournal(&Entry{Time: time.Unix(int64(i), 0), Direction: "in", MTI: "0200", STAN: "000001"}); err != nil {
					return err
				}
			}
			return fail
		})
	}
	ids := func(st *sqliteStore) []int64 {
		t.Helper()
		es, err := st.journal(Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	if err := add(st, jrnlRows*2+3, nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := add(st, 5, boom); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	st, err = openSQLite(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if err := add(st, 1, nil); err != nil {
		t.Fatal(err)
	}
	got := ids(st)
	if len(got) != jrnlRows*2+4 {
		t.Fatalf("%d journal lines, want %d", len(got), jrnlRows*2+4)
	}
	for i, id := range got {
		if id != int64(i+1) {
			t.Fatalf("line %d has id %d", i, id)
		}
	}
	if err := st.update(ctx, func(tx storeTx) error {
		if err := tx.appendJournal(&Entry{Direction: "in"}); err != nil {
			return err
		}
		if err := tx.reset(nil); err != nil {
			return err
		}
		return tx.appendJournal(&Entry{Direction: "out"})
	}); err != nil {
		t.Fatal(err)
	}
	es, err := st.journal(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != 1 || es[0].Direction != "out" {
		t.Errorf("after reset: %+v", es)
	}
}

// TestOpenTxnsManyChunks checks the open-batch list across more ids than one read carries
// (openChunk): committed in several batches, some closed, one reopened, another terminal's
// mixed in; openTxns must return exactly the open ones of the terminal, in id order.
func TestOpenTxnsManyChunks(t *testing.T) {
	st, err := openSQLite(filepath.Join(t.TempDir(), "open.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ctx := context.Background()
	const n = 2*openChunk + 37
	var ids []int64
	for b := 0; b < 3; b++ { // three committed batches
		if err := st.update(ctx, func(tx storeTx) error {
			for i := b * n / 3; i < (b+1)*n/3; i++ {
				for _, term := range []string{"T1", "T2"} {
					r := &txnRecord{Time: time.Unix(1, 0), Terminal: term, STAN: fmt.Sprintf("%06d", i), DE7: "1126000000", MTI: "0200", State: StateApproved}
					if err := tx.insertTxn(r); err != nil {
						return err
					}
					if term == "T1" {
						ids = append(ids, r.ID)
					}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	open := func() []int64 {
		t.Helper()
		var got []int64
		if err := st.update(ctx, func(tx storeTx) error {
			got = got[:0]
			rs, err := tx.openTxns("T1")
			for _, r := range rs {
				got = append(got, r.ID)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := open(); !slices.Equal(got, ids) {
		t.Fatalf("open: %d ids, want %d (first %v)", len(got), len(ids), got[:min(3, len(got))])
	}
	// Close every third one, then reopen the first closed one.
	var want []int64
	if err := st.update(ctx, func(tx storeTx) error {
		rs, err := tx.openTxns("T1")
		if err != nil {
			return err
		}
		want = want[:0]
		for i, r := range rs {
			if i%3 == 0 {
				r.Batch = "000001"
				if err := tx.updateTxn(&r); err != nil {
					return err
				}
				continue
			}
			want = append(want, r.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := open(); !slices.Equal(got, want) {
		t.Fatalf("after closing: %d ids, want %d", len(got), len(want))
	}
	if err := st.update(ctx, func(tx storeTx) error {
		r, ok, err := tx.txnBySTAN("T1", "000000", "0200")
		if err != nil || !ok {
			return fmt.Errorf("first transaction: %v %v", ok, err)
		}
		r.Batch = ""
		return tx.updateTxn(&r)
	}); err != nil {
		t.Fatal(err)
	}
	want = append([]int64{ids[0]}, want...)
	if got := open(); !slices.Equal(got, want) {
		t.Fatalf("after reopening: %d ids, want %d", len(got), len(want))
	}
}
