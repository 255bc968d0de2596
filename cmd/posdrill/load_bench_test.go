package main

// In-process load benchmarks: the acquirer (SQLite file store: WAL, synchronous FULL) and
// the canned baseline host, each driven by iso/load over loopback TCP, in one process so
// that `go test -cpuprofile` profiles both sides. The separate-process numbers (the ones
// the targets are about) come from `posdrill acquirer` / `posdrill canned` and `posdrill
// load`; BENCHMARKS.md has both and the commands:
//
//	go test -run '^$' -bench 'LoadAcquirer|LoadCanned' -benchtime 100000x -cpuprofile cpu.prof ./cmd/posdrill/
//	go test -run '^$' -bench 'LoadAcquirer(MAC)?$' -benchtime 20000x -count 3 ./cmd/posdrill/   # MAC off vs on

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/load"
	"github.com/posdrill/posdrill/iso/mac"
)

func benchLoad(b *testing.B, addr string) { benchLoadMAC(b, addr, mac.None) }

// benchLoadMAC is benchLoad with every request MACed (and every answer's MAC verified)
// under working keys from a sign-on, when alg is not mac.None.
func benchLoadMAC(b *testing.B, addr string, alg mac.Algorithm) {
	b.Helper()
	mix, err := load.ParseMix(load.DefaultMix)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rep, err := load.Run(context.Background(), load.Config{Addr: addr, Terminals: 64, Count: int64(b.N), Mix: mix, Seed: 1, MAC: alg})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if rep.Answered != int64(b.N) {
		b.Fatalf("answered %d of %d (timeouts %d, errors %v)", rep.Answered, b.N, rep.Timeouts, rep.ErrorKinds)
	}
	if n := rep.Codes[iso.RCMACError] + rep.Codes[iso.RCCUPMACError]; n > 0 {
		b.Fatalf("%d answers refused the MAC", n)
	}
	b.ReportMetric(rep.Throughput, "answers/s")
	b.ReportMetric(rep.Latency.P50, "p50-ms")
	b.ReportMetric(rep.Latency.P99, "p99-ms")
}

func BenchmarkLoadAcquirer(b *testing.B) { benchAcquirer(b, mac.None) }

// BenchmarkLoadAcquirerMAC: the same load with the security layer on (X9.19, the dearer of
// the usual MACs: the terminal MACs, the host verifies and MACs, the terminal verifies).
func BenchmarkLoadAcquirerMAC(b *testing.B) { benchAcquirer(b, mac.X919) }

func benchAcquirer(b *testing.B, alg mac.Algorithm) {
	a, err := acquirer.New(acquirer.Options{DB: filepath.Join(b.TempDir(), "bench.db"), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	defer func() {
		a.Close()
		<-done
	}()
	benchLoadMAC(b, ln.Addr().String(), alg)
}

func BenchmarkLoadCanned(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := load.NewCannedServer(ln, iso.ASCII, iso.DefaultFraming)
	defer s.Close()
	benchLoad(b, ln.Addr().String())
}
