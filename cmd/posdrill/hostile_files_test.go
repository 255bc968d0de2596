package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
)

// hostileFiles makes the files every reader must refuse at once: a FIFO (would block for
// ever), /dev/zero (never ends), a directory, a 2 GiB sparse file, and 1 MiB nested YAML
// and JSON documents (took gigabytes before the limits were checked while reading).
func hostileFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "big.yaml")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sub := filepath.Join(dir, "dir.yaml")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	nestedYAML := filepath.Join(dir, "nested.yaml")
	writeFile(t, nestedYAML, strings.Repeat("- ", mib/2-8)+"x\n")
	flowYAML := filepath.Join(dir, "flow.yaml")
	writeFile(t, flowYAML, "a: "+strings.Repeat("[", mib-8)+"\n")
	nestedJSON := filepath.Join(dir, "nested.json")
	writeFile(t, nestedJSON, strings.Repeat(`{"a":`, mib/5-2))
	return map[string]string{"fifo": fifo, "dev-zero": "/dev/zero", "directory": sub, "sparse-2GiB": sparse,
		"nested-yaml": nestedYAML, "flow-yaml": flowYAML, "nested-json": nestedJSON}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHostileFiles gives each hostile file to every flag and scenario key that names a
// file to read: each gets a clear error at once (exit 2, the path or the limit named),
// allocating at most 64 MiB (runtime.MemStats TotalAlloc; a refused 1 MiB document
// costs the bytes read plus the scan), while a healthy terminal keeps paying at an
// acquirer in the same process; its ledger is checked after.
func TestHostileFiles(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	files := hostileFiles(t)
	acq, host := startAcquirerWith(t, acquirer.Options{Seed: 1})
	stop, approved := healthyPayer(t, host)

	dir := t.TempDir()
	uses := []struct {
		name string
		args func(f string) []string
		skip []string // hostile kinds that are valid for this use
		code int      // the exit status wanted for a nested document (0: 2)
	}{
		{"acquirer --cards", func(f string) []string {
			return []string{"acquirer", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--cards", f}
		}, nil, 0},
		{"acquirer --faults", func(f string) []string {
			return []string{"acquirer", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--faults", f}
		}, nil, 0},
		{"acquirer --dialect", func(f string) []string {
			return []string{"acquirer", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--dialect", f}
		}, nil, 0},
		{"acquirer --db", func(f string) []string {
			return []string{"acquirer", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--db", f}
		}, []string{"sparse-2GiB", "nested-yaml", "flow-yaml", "nested-json"}, 0},
		{"pay --profile", func(f string) []string {
			return []string{"pay", "--host", host, "--card", "visa-ok", "--amount", "1", "--profile", f}
		}, nil, 0},
		{"pay --cards", func(f string) []string {
			return []string{"pay", "--host", host, "--card", "visa-ok", "--amount", "1", "--cards", f}
		}, nil, 0},
		{"pay --journal", func(f string) []string {
			return []string{"pay", "--host", host, "--card", "visa-ok", "--amount", "1", "--journal", f}
		}, []string{"sparse-2GiB", "nested-yaml", "flow-yaml", "nested-json"}, 0},
		{"load --cards-file", func(f string) []string {
			return []string{"load", "--host", host, "--terminals", "1", "--count", "1", "--cards-file", f}
		}, nil, 0},
		{"run FILE", func(f string) []string { return []string{"run", f} }, []string{"directory"}, 0},
		{"scenario cards:", func(f string) []string {
			p := filepath.Join(dir, fmt.Sprintf("s%d.yaml", time.Now().UnixNano()))
			writeFile(t, p, "title: cards from a hostile path\ncards: "+f+"\nsteps:\n  - sale: 1.00\n")
			return []string{"run", p}
		}, nil, 0},
		// decode reads dumps, not documents: a nested document is a dump that does not
		// decode (exit 1), and must say so promptly (a long line of bad hex tokens was
		// quadratic: 40 s for 1 MiB).
		{"decode FILE", func(f string) []string { return []string{"decode", f} }, nil, 1},
		{"encode FILE", func(f string) []string { return []string{"encode", f} }, nil, 0},
		{"replay TRACE", func(f string) []string { return []string{"replay", f, "--host", host} }, nil, 0},
		{"replay --map", func(f string) []string {
			return []string{"replay", filepath.Join("testdata", "none.jsonl"), "--host", host, "--map", f}
		}, nil, 0},
		{"scenario from-trace", func(f string) []string { return []string{"scenario", "from-trace", f} }, nil, 0},
		{"trace import-jpos", func(f string) []string { return []string{"trace", "import-jpos", f} }, []string{"nested-yaml", "flow-yaml", "nested-json"}, 0},
		{"fault add --file", func(f string) []string { return []string{"fault", "add", "--admin", "127.0.0.1:1", "--file", f} }, nil, 0},
	}
	for _, u := range uses {
		for kind, f := range files {
			if contains(u.skip, kind) {
				continue
			}
			t.Run(u.name+"/"+kind, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				code := runWithin(t, 20*time.Second, u.args(f), &stdout, &stderr)
				runtime.ReadMemStats(&after)
				msg := stderr.String()
				want := 2
				if u.code != 0 && (strings.HasPrefix(kind, "nested") || strings.HasPrefix(kind, "flow")) {
					want = u.code
				}
				if code != want {
					t.Errorf("exit %d, want %d\nstderr: %s", code, want, msg)
				}
				if want == 2 && !strings.Contains(msg, f) && !strings.Contains(msg, "nested deeper") && !strings.Contains(msg, "not a regular file") {
					t.Errorf("the error names neither the file nor the limit: %s", msg)
				}
				bound := uint64(64 << 20)
				if u.code == 1 {
					// decode's dump parser tokenizes its input (up to 4 MiB) a few times
					// over: measured 216 MiB for a 1 MiB line of bad tokens.
					bound = 256 << 20
				}
				if d := after.TotalAlloc - before.TotalAlloc; d > bound {
					t.Errorf("allocated %d MiB", d>>20)
				}
			})
		}
	}
	stop()
	checkLedger(t, acq, approved())
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// runWithin runs the CLI and fails (instead of hanging) if it has not returned in d: a
// FIFO opened for reading blocks until a writer comes.
func runWithin(t *testing.T, d time.Duration, args []string, stdout, stderr *bytes.Buffer) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, args, strings.NewReader(""), &out, &errb) }()
	select {
	case code := <-done:
		stdout.Write(out.Bytes())
		stderr.Write(errb.Bytes())
		return code
	case <-time.After(d):
		t.Fatalf("posdrill %s did not return within %s", strings.Join(args, " "), d)
		return -1
	}
}

// healthyPayer keeps a terminal paying 1.00 sales with visa-ok on its own connection until
// stop; each must be approved. approved says how many were.
func healthyPayer(t *testing.T, host string) (stop func(), approved func() int64) {
	t.Helper()
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc, iso.WithDialect(iso.ASCII))
	card, _ := cards.Builtin().ByName("visa-ok")
	var n int64
	var mu sync.Mutex
	quit, done := make(chan struct{}), make(chan struct{})
	pay := func(i int) bool {
		m := &iso.Message{MTI: "0200", PAN: card.PAN, ProcessingCode: iso.ProcPurchase, Amount: iso.FormatAmount(100),
			TransmissionTime: "0101000000", STAN: fmt.Sprintf("%06d", 800000+i), LocalTime: "000000", LocalDate: "0101",
			Expiry: card.Expiry, EntryMode: "051", ConditionCode: "00", TerminalID: "TERM0008", MerchantID: "POSDRILL0000001", Currency: "156"}
		r, err := c.Send(context.Background(), m, 5*time.Second)
		if err != nil || r.ResponseCode != iso.RCApproved {
			t.Errorf("healthy terminal: sale %d: %v %v", i, err, r)
			return false
		}
		mu.Lock()
		n++
		mu.Unlock()
		return true
	}
	if !pay(0) {
		t.FailNow()
	}
	go func() {
		defer close(done)
		for i := 1; i < 100_000; i++ { // bounded
			select {
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond): // a pace, not a wait for readiness
			}
			if !pay(i) {
				return
			}
		}
	}()
	return func() {
			close(quit)
			<-done
			pay(99_999)
			c.Close()
		}, func() int64 {
			mu.Lock()
			defer mu.Unlock()
			return n
		}
}

// checkLedger: visa-ok's balance fell by exactly the healthy terminal's approved sales.
func checkLedger(t *testing.T, acq *acquirer.Acquirer, approved int64) {
	t.Helper()
	b, err := acq.Balance("visa-ok")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Opening - b.Available; got != approved*100 {
		t.Errorf("visa-ok: charged %d, want %d (%d approved sales of 1.00)", got, approved*100, approved)
	}
}
