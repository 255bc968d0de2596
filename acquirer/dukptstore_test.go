package acquirer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/dukpt"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/pin"
)

// dukptClient dials s as a TDES DUKPT terminal of the sample BDK (device FFFF9876543210E):
// send sends a MACed sale with a PIN block under the KSN of counter.
func dukptClient(t *testing.T, s *server) (send func(st int, counter uint32) *iso.Message) {
	t.Helper()
	var cur atomic.Pointer[[]byte]
	c := s.dial(t, iso.WithSigner(func(m *iso.Message, p []byte) error {
		k, err := dukpt.DeriveKey(sampleTDESBDK, *cur.Load(), dukpt.MACRequest)
		if err != nil {
			return err
		}
		return iso.ASCII.SignMAC(mac.X919, k, m, p)
	}))
	return func(st int, counter uint32) *iso.Message {
		t.Helper()
		ksn := ksnAt(t, "FFFF9876543210E00000", counter)
		cur.Store(&ksn)
		m := sale(t, "visa-ok", 1000, stan(st))
		k, err := dukpt.DeriveKey(sampleTDESBDK, ksn, dukpt.PIN)
		if err != nil {
			t.Fatal(err)
		}
		if m.PINBlock, err = pin.Encrypt(k, pin.Format0, "1234", m.PAN, nil); err != nil {
			t.Fatal(err)
		}
		if err := iso.SetKSN(m, iso.DefaultKSNField, ksn); err != nil {
			t.Fatal(err)
		}
		iso.RequestMAC(m)
		return c.send(t, m)
	}
}

// testDUKPTRestart: the host accepts counter 5, refuses 3 (a replay, which must not be
// stored as the device's counter), is stopped, and a new host on the same store refuses
// counters 5 and 4 (96) and accepts 6; after another restart 6 is refused and 7 accepted.
// open starts a host on the store; each phase is a subtest so that its host is closed (by
// start's cleanup) before the next one opens.
func testDUKPTRestart(t *testing.T, open func(t *testing.T) *server) {
	type send struct {
		counter uint32
		code    string
		why     string // in the journal's decision, when set
	}
	st := 0
	for _, phase := range []struct {
		name  string
		sends []send
	}{
		{"first", []send{{5, iso.RCApproved, ""}, {3, iso.RCSystemMalfunction, ""}}},
		{"restarted", []send{{5, iso.RCSystemMalfunction, "replayed: counter 5, the device already used 5"}, {4, iso.RCSystemMalfunction, "counter 4, the device already used 5"}, {6, iso.RCApproved, ""}}},
		{"restarted again", []send{{6, iso.RCSystemMalfunction, "replayed: counter 6, the device already used 6"}, {7, iso.RCApproved, ""}}},
	} {
		t.Run(phase.name, func(t *testing.T) {
			s := open(t)
			do := dukptClient(t, s)
			for _, x := range phase.sends {
				st++
				wantCode(t, do(st, x.counter), x.code)
				if e := s.inEntry(t, "0200", stan(st)); !strings.Contains(e.Decision, x.why) {
					t.Fatalf("STAN %d: decision %q, want %q in it", st, e.Decision, x.why)
				}
			}
		})
	}
}

func TestDUKPTCounterSurvivesRestartSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "acq.db")
	testDUKPTRestart(t, func(t *testing.T) *server { return start(t, Options{DB: db}) })
}

func TestDUKPTCounterSurvivesRestartPostgres(t *testing.T) {
	u := pgURL(t)
	testDUKPTRestart(t, func(t *testing.T) *server { return startPG(t, u, Options{}) })
}

// testDUKPTStore: the stored counter only grows, a counter written by an update that fails
// is not stored (nor would its journal line be: same transaction), and a ledger reset keeps
// the counters.
func testDUKPTStore(t *testing.T, st store) {
	ctx := context.Background()
	put := func(dev string, c uint32) error {
		return st.update(ctx, func(tx storeTx) error { return tx.putDUKPT(dev, c) })
	}
	want := func(w map[string]uint32) {
		t.Helper()
		got, err := st.dukptCounters()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(w) {
			t.Fatalf("counters %v, want %v", got, w)
		}
		for d, c := range w {
			if got[d] != c {
				t.Fatalf("counters %v, want %v", got, w)
			}
		}
	}
	want(map[string]uint32{})
	for _, c := range []uint32{9, 4} {
		if err := put("A", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := put("B", 1<<21-1); err != nil { // the largest TDES counter
		t.Fatal(err)
	}
	want(map[string]uint32{"A": 9, "B": 1<<21 - 1})
	boom := errors.New("boom")
	err := st.update(ctx, func(tx storeTx) error {
		if err := tx.putDUKPT("A", 20); err != nil {
			return err
		}
		if err := tx.appendJournal(&Entry{Direction: "in", MTI: "0200", STAN: "000001"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	want(map[string]uint32{"A": 9, "B": 1<<21 - 1})
	if j, err := st.journal(Filter{}); err != nil || len(j) != 0 {
		t.Fatalf("journal after the failed update: %v %v", j, err)
	}
	if err := st.update(ctx, func(tx storeTx) error { return tx.reset(nil) }); err != nil {
		t.Fatal(err)
	}
	want(map[string]uint32{"A": 9, "B": 1<<21 - 1})
}

func TestDUKPTStoreSQLite(t *testing.T) {
	st, err := openSQLite(filepath.Join(t.TempDir(), "dukpt.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	testDUKPTStore(t, st)
}

func TestDUKPTStorePostgres(t *testing.T) {
	testDUKPTStore(t, openPGStore(t))
}
