package acquirer

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAuthorize measures the whole authorize path of a sale (decision, ledger,
// journal, durable commit) without the network, with concurrent requests so that group
// commit can batch them; sub-benchmarks for an in-memory and a file database.
func BenchmarkAuthorize(b *testing.B) {
	for _, db := range []string{":memory:", "file"} {
		b.Run(db, func(b *testing.B) {
			path := db
			if db == "file" {
				path = filepath.Join(b.TempDir(), "bench.db")
			}
			a, err := New(Options{DB: path, Clock: newFixedClock()})
			if err != nil {
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
		})
	}
}

// BenchmarkStoreCommit measures the group-commit store alone: each operation is one
// durable update (a journal line) on a file database with WAL and synchronous=FULL, from 1
// and from 64 concurrent writers. With one writer every update is its own fsync; with many,
// the writer batches them.
func BenchmarkStoreCommit(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			st, err := openSQLite(filepath.Join(b.TempDir(), "bench.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer st.close()
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			var next atomic.Int64
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						e := &Entry{Time: txnDate, Direction: "in", MTI: "0200", STAN: "000001", Terminal: "TERM0001", Decision: "bench"}
						if err := st.update(context.Background(), func(tx storeTx) error { return tx.appendJournal(e) }); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkServerEcho measures a full round trip over loopback TCP: 0800 echo, with 16
// requests in flight on one connection.
func BenchmarkServerEcho(b *testing.B) {
	s := start(b, Options{})
	c := s.dial(b)
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			m := echo(fmt.Sprintf("%06d", n%1000000))
			if _, err := c.Send(context.Background(), m, 10*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
}
