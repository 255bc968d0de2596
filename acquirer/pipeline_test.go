package acquirer

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPipelineCommitFailure holds batch A in its commit while batch B is decided on top of
// it (B sees A's writes), then fails A's commit: A's caller gets the error, and B, decided
// on state that never became durable, must be decided again without it, so that the ledger
// and the transactions are exactly B's.
func TestPipelineCommitFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pipe.db")
	st, err := openSQLite(path, []cardState{{Name: "c", Opening: 100, Available: 100}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ctx := context.Background()

	entered := make(chan struct{})
	gate := make(chan struct{})
	var commits atomic.Int32
	st.commitHook = func(ws *writeSet) error {
		if commits.Add(1) == 1 {
			close(entered)
			<-gate
			return errors.New("disk full (test)")
		}
		return nil
	}
	spend := func(tx storeTx, n int64) error {
		c, ok, err := tx.card("c")
		if err != nil || !ok {
			return errors.New("card c missing")
		}
		c.Available -= n
		return tx.putCard(c)
	}
	rec := func(stan string) *txnRecord {
		return &txnRecord{Time: time.Unix(1, 0), Terminal: "T1", STAN: stan, DE7: "1126000000", MTI: "0200", State: StateApproved, Amount: 10}
	}

	var runsA, runsB atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- st.update(ctx, func(tx storeTx) error {
			runsA.Add(1)
			if err := tx.insertTxn(rec("000001")); err != nil {
				return err
			}
			return spend(tx, 10)
		})
	}()
	<-entered // A is in its commit

	decidedOnA := make(chan struct{}, 2)
	var sawA []bool
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- st.update(ctx, func(tx storeTx) error {
			runsB.Add(1)
			_, found, err := tx.txnBySTAN("T1", "000001", "0200")
			if err != nil {
				return err
			}
			c, _, _ := tx.card("c")
			mu.Lock()
			sawA = append(sawA, found && c.Available == 90)
			mu.Unlock()
			decidedOnA <- struct{}{}
			if err := tx.insertTxn(rec("000002")); err != nil {
				return err
			}
			return spend(tx, 5)
		})
	}()
	<-decidedOnA // B was decided while A was still committing
	close(gate)
	wg.Wait()
	close(errs)
	var failed int
	for err := range errs {
		if err != nil {
			failed++
			if err.Error() != "disk full (test)" {
				t.Errorf("update: %v", err)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d updates failed, want 1 (A)", failed)
	}
	if runsA.Load() != 1 || runsB.Load() != 2 {
		t.Errorf("runs: A %d, B %d; want 1 and 2 (A's commit failed, B was decided on it)", runsA.Load(), runsB.Load())
	}
	mu.Lock()
	if len(sawA) != 2 || !sawA[0] || sawA[1] {
		t.Errorf("B saw A's transaction and balance: %v, want [true false]", sawA)
	}
	mu.Unlock()
	txns, err := st.transactions(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 1 || txns[0].STAN != "000002" {
		t.Fatalf("transactions after the failed commit: %+v", txns)
	}
	c, _, err := st.card("c")
	if err != nil || c.Available != 95 {
		t.Errorf("card c: %+v, %v; want 95 available", c, err)
	}
	// The store keeps working, and the in-memory state matches the tables.
	if err := st.update(ctx, func(tx storeTx) error {
		r, found, err := tx.txnBySTAN("T1", "000002", "0200")
		if err != nil || !found || r.ID != txns[0].ID {
			return errors.New("B's transaction not found after the retry")
		}
		return tx.insertTxn(rec("000003"))
	}); err != nil {
		t.Fatal(err)
	}
	txns, _ = st.transactions(Filter{})
	if len(txns) != 2 || txns[1].ID <= txns[0].ID {
		t.Errorf("after one more: %+v", txns)
	}
}
