package acquirer_test

// Crash consistency: the acquirer runs as a child process (`posdrill acquirer`) under load
// from several terminals and is SIGKILLed at seeded random moments, then restarted on the
// same database. Terminals behave as the domain says: a request without an answer is
// reversed (repeated until answered) once the host is back. At the end the database is
// opened in this process and checked against what the terminals were told.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/isotest"
)

// buildPosdrill builds the posdrill binary into a temporary directory (the Go build cache
// makes this a link step after the first time).
func buildPosdrill(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build posdrill: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "posdrill")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/posdrill/posdrill/cmd/posdrill").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// acqProc is one `posdrill acquirer` child process.
type acqProc struct {
	cmd    *exec.Cmd
	iso    string
	admin  string
	exited chan error
	output *isotest.Buffer // stdout after the first line, and stderr
}

var listeningRE = regexp.MustCompile(`^listening iso=(\S+) admin=(\S+)`)

// startAcquirerProc starts the acquirer and waits (bounded) for its first stdout line,
// `listening iso=HOST:PORT admin=HOST:PORT`.
func startAcquirerProc(t testing.TB, bin string, args ...string) *acqProc {
	t.Helper()
	p := &acqProc{cmd: exec.Command(bin, append([]string{"acquirer"}, args...)...), exited: make(chan error, 1), output: &isotest.Buffer{}}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		first <- line
		_, _ = io.Copy(p.output, r)
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case line := <-first:
		m := listeningRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			p.kill()
			t.Fatalf("first line of posdrill acquirer %q, want `listening iso=HOST:PORT admin=HOST:PORT`\n%s", line, p.output.String())
		}
		p.iso, p.admin = m[1], m[2]
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("posdrill acquirer printed nothing within 60 s\n%s", p.output.String())
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone; it is a no-op after the first.
func (p *acqProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case err := <-p.exited:
		p.exited <- err
	case <-time.After(30 * time.Second):
	}
}

// crashTerm is one load terminal. It keeps what it was told: approvals, and requests whose
// fate it does not know (sent, no answer), which it must reverse once the host is back.
type crashTerm struct {
	tid  string
	rng  *rand.Rand
	stan int
	de7  int

	approved  []*crashTxn // approved sales and refunds, in order
	uncertain []*crashTxn // sent without an answer: to be reversed
	reversing []*crashTxn // approved, reversal sent without an answer: to repeat
	declined  []*crashTxn
	counts    map[string]int
}

type crashTxn struct {
	op     string // sale, refund
	card   string
	amount int64
	stan   string
	de7    string
	// reversed: a reversal of it was answered 00 (approved ones voided, unknown ones
	// reversed after a crash).
	reversed bool
}

var crashCards = []string{"visa-ok", "mc-ok", "unionpay-ok"}

func (c *crashTerm) next() (stan, de7 string) {
	c.stan++
	c.de7++
	// DE7 MMDDhhmmss: unique per request, so that no two requests share DE41+DE11+DE7.
	return fmt.Sprintf("%06d", c.stan), fmt.Sprintf("0101%06d", c.de7)
}

func (c *crashTerm) request(t testing.TB, x *crashTxn) *iso.Message {
	m := saleMsg(t, x.card, x.amount, c.tid, x.stan)
	m.TransmissionTime = x.de7
	if x.op == "refund" {
		m.ProcessingCode = iso.ProcRefund
	}
	return m
}

func (c *crashTerm) reversal(t testing.TB, x *crashTxn) *iso.Message {
	stan, de7 := c.next()
	m := c.request(t, x)
	m.MTI, m.STAN, m.TransmissionTime, m.ResponseCode = iso.MTIReversalRequest, stan, de7, iso.ReasonTimeout
	m.OriginalData = iso.OriginalData{MTI: iso.MTIFinancialRequest, STAN: x.stan, Transmitted: x.de7}.String()
	return m
}

// load sends sales, refunds and voids until the connection dies (the host was killed) or
// ctx ends. The first failure without an answer is remembered, never guessed.
func (c *crashTerm) load(ctx context.Context, t testing.TB, addr string) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return // killed before we connected
	}
	conn := iso.NewConn(nc)
	defer conn.Close()
	for i := 0; i < 100_000 && ctx.Err() == nil; i++ {
		var voidable []*crashTxn
		for _, x := range c.approved {
			if !x.reversed {
				voidable = append(voidable, x)
			}
		}
		roll := c.rng.Float64()
		if roll < 0.15 && len(voidable) > 0 {
			x := voidable[c.rng.IntN(len(voidable))]
			r, err := conn.Send(ctx, c.reversal(t, x), 5*time.Second)
			switch {
			case err == nil && r.ResponseCode == iso.RCApproved:
				x.reversed = true
				c.counts["void"]++
			case err == nil:
				t.Errorf("%s: reversal of approved STAN %s answered %s", c.tid, x.stan, r.ResponseCode)
			case errors.Is(err, iso.ErrNotSent):
				return
			default:
				c.reversing = append(c.reversing, x)
				return
			}
			continue
		}
		stan, de7 := c.next()
		x := &crashTxn{op: "sale", card: crashCards[c.rng.IntN(len(crashCards))], amount: 1 + c.rng.Int64N(500), stan: stan, de7: de7}
		if roll < 0.30 {
			x.op = "refund"
		}
		r, err := conn.Send(ctx, c.request(t, x), 5*time.Second)
		switch {
		case err == nil && r.ResponseCode == iso.RCApproved:
			c.approved = append(c.approved, x)
			c.counts[x.op]++
		case err == nil:
			c.declined = append(c.declined, x)
			c.counts["declined "+r.ResponseCode]++
		case errors.Is(err, iso.ErrNotSent):
			return
		default:
			c.uncertain = append(c.uncertain, x)
			c.counts["no answer"]++
			return
		}
	}
}

// recover reverses every request whose fate is unknown and repeats unanswered reversals,
// until the host answers each (bounded).
func (c *crashTerm) recover(t testing.TB, addr string) error {
	todo := append(append([]*crashTxn{}, c.uncertain...), c.reversing...)
	c.uncertain, c.reversing = nil, nil
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt == 20 {
			return fmt.Errorf("%s: %d reversals still unanswered after 20 attempts", c.tid, len(todo))
		}
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		conn := iso.NewConn(nc)
		for len(todo) > 0 {
			x := todo[0]
			r, err := conn.Send(context.Background(), c.reversal(t, x), 5*time.Second)
			if err != nil {
				break
			}
			switch r.ResponseCode {
			case iso.RCApproved, iso.RCRecordNotFound, iso.RCOriginalNotFound:
				x.reversed = true // restored, or it never reached the ledger
				c.counts["recovered "+r.ResponseCode]++
			default:
				conn.Close()
				return fmt.Errorf("%s: reversal of STAN %s answered %s", c.tid, x.stan, r.ResponseCode)
			}
			todo = todo[1:]
		}
		conn.Close()
	}
	return nil
}

// TestAcquirerProcess builds posdrill once and runs the child-process tests on it:
// CrashConsistency and AdminAPI (go test ./acquirer -run TestAcquirerProcess/CrashConsistency).
func TestAcquirerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills child processes")
	}
	bin := buildPosdrill(t)
	t.Run("CrashConsistency", func(t *testing.T) { testCrashConsistency(t, bin) })
	t.Run("AdminAPI", func(t *testing.T) { testAcquirerCmdAdmin(t, bin) })
	t.Run("Descriptors", func(t *testing.T) { testAcquirerDescriptors(t, bin) })
}

// testCrashConsistency kills the acquirer process with SIGKILL at seeded random moments
// under load (2 kills by default; POSDRILL_CRASH=1: 12 kills, longer loads) and restarts it
// on the same database. It then checks, on the database itself: every approval a terminal
// received is in the transactions and the journal; each card's balance equals opening −
// approved sales + refunds, counting reversed ones as nothing; nothing a terminal reversed
// is still charged (no transaction both reversed and charged or captured); and the host
// charges nothing a terminal was not told is approved.
func testCrashConsistency(t *testing.T, bin string) {
	kills, minLoad, maxLoad := 2, 150*time.Millisecond, 500*time.Millisecond
	if os.Getenv("POSDRILL_CRASH") != "" {
		kills, minLoad, maxLoad = 12, 300*time.Millisecond, 2*time.Second
	}
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 99))
	db := filepath.Join(t.TempDir(), "acquirer.db")
	terms := make([]*crashTerm, 4)
	for i := range terms {
		terms[i] = &crashTerm{tid: fmt.Sprintf("TERM%04d", i+1), rng: rand.New(rand.NewPCG(s, uint64(i+1))), counts: map[string]int{}}
	}
	for k := 1; k <= kills; k++ {
		p := startAcquirerProc(t, bin, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--db", db, "--seed", fmt.Sprint(s))
		for _, c := range terms {
			if err := c.recover(t, p.iso); err != nil {
				t.Fatalf("after restart %d: %v\n%s", k-1, err, p.output.String())
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, c := range terms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.load(ctx, t, p.iso)
			}()
		}
		after := minLoad + time.Duration(rng.Int64N(int64(maxLoad-minLoad)))
		time.Sleep(after) // the kill moment itself is what is random, not a wait for readiness
		p.kill()
		cancel()
		wg.Wait()
		t.Logf("kill %d after %s of load", k, after.Round(time.Millisecond))
	}

	// The database after the last kill, opened here: recover the unknowns, then check.
	a, err := acquirer.New(acquirer.Options{DB: db, Seed: int64(s)})
	if err != nil {
		t.Fatalf("reopening the database after SIGKILL: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	defer func() {
		a.Close()
		<-served
	}()
	for _, c := range terms {
		if err := c.recover(t, ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", c.tid, c.counts)
	}
	checkCrashInvariants(t, a, terms)
}

func checkCrashInvariants(t *testing.T, a *acquirer.Acquirer, terms []*crashTerm) {
	t.Helper()
	txns, err := a.Transactions(acquirer.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	journal, err := a.Journal(acquirer.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ tid, stan string }
	host := map[key][]acquirer.Txn{}
	sum := map[string]int64{}
	for _, x := range txns {
		if x.MTI != iso.MTIFinancialRequest {
			t.Errorf("unexpected host transaction %+v", x)
			continue
		}
		host[key{x.Terminal, x.STAN}] = append(host[key{x.Terminal, x.STAN}], x)
		charging := x.Amount != 0 && (x.State == acquirer.StateApproved || x.State == acquirer.StateRefunded)
		switch {
		case x.State == acquirer.StateCaptured || x.State == acquirer.StateHeld:
			t.Errorf("transaction %d is %s: no pre-authorization was sent", x.ID, x.State)
		case (x.State == acquirer.StateReversed || x.State == acquirer.StateDeclined) && x.Amount != 0:
			t.Errorf("transaction %d is %s but keeps %d", x.ID, x.State, x.Amount)
		case charging && strings.HasPrefix(x.ProcessingCode, "20"):
			sum[x.Card] += x.Amount
		case charging:
			sum[x.Card] -= x.Amount
		}
	}
	approvedOut := map[key]bool{}
	for _, e := range journal {
		if e.Direction == "out" && e.MTI == iso.MTIFinancialResponse && e.ResponseCode == iso.RCApproved {
			approvedOut[key{e.Terminal, e.STAN}] = true
		}
	}
	expect := map[key]bool{} // charging at the host
	for _, c := range terms {
		for _, x := range c.approved {
			k := key{c.tid, x.stan}
			if !approvedOut[k] {
				t.Errorf("%s %s STAN %s was approved to the terminal but the journal has no 0210/00 for it", c.tid, x.op, x.stan)
			}
			hs := host[k]
			if len(hs) != 1 {
				t.Errorf("%s %s STAN %s approved: host has %d transactions %+v", c.tid, x.op, x.stan, len(hs), hs)
				continue
			}
			h := hs[0]
			want := acquirer.StateApproved
			if x.op == "refund" {
				want = acquirer.StateRefunded
			}
			switch {
			case x.reversed && (h.State != acquirer.StateReversed || h.Amount != 0):
				t.Errorf("%s %s STAN %s was reversed (answered 00) but the host has it %s with %d", c.tid, x.op, x.stan, h.State, h.Amount)
			case !x.reversed && (h.State != want || h.Amount != x.amount || h.Card != x.card):
				t.Errorf("%s %s STAN %s approved for %d on %s: host has %s %d on %s", c.tid, x.op, x.stan, x.amount, x.card, h.State, h.Amount, h.Card)
			case !x.reversed:
				expect[k] = true
			}
		}
		for _, x := range append(append([]*crashTxn{}, c.uncertain...), c.reversing...) {
			t.Errorf("%s STAN %s left unresolved", c.tid, x.stan)
		}
	}
	for k, hs := range host {
		for _, h := range hs {
			if h.Amount != 0 && (h.State == acquirer.StateApproved || h.State == acquirer.StateRefunded) && !expect[k] {
				t.Errorf("host charges %s STAN %s (%s %d on %s) but the terminal was never told it is approved (or reversed it)",
					k.tid, k.stan, h.State, h.Amount, h.Card)
			}
		}
	}
	for _, n := range crashCards {
		b, err := a.Balance(n)
		if err != nil {
			t.Fatal(err)
		}
		if b.Available != b.Opening+sum[n] || b.Held != 0 {
			t.Errorf("%s: available %d held %d, but opening %d − approved sales + refunds = %d", n, b.Available, b.Held, b.Opening, b.Opening+sum[n])
		}
	}
}

// testAcquirerCmdAdmin: `posdrill acquirer` keeps its admin API on loopback (the default,
// and a non-loopback --admin without a token is refused) and, with a token, answers nothing
// but /healthz without it.
func testAcquirerCmdAdmin(t *testing.T, bin string) {
	help, err := exec.Command(bin, "acquirer", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("acquirer --help: %v\n%s", err, help)
	}
	if !regexp.MustCompile(`--admin string[^\n]*\(default "127\.0\.0\.1:\d+"\)`).Match(help) {
		t.Errorf("the admin API's default address is not loopback:\n%s", help)
	}

	// Bound elsewhere without a token: refused (or, if it starts, it must demand one).
	cmd := exec.Command(bin, "acquirer", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0")
	cmd.Env = append(os.Environ(), "POSDRILL_ADMIN_TOKEN=")
	out, err := runBounded(cmd, 30*time.Second)
	if err == nil || strings.HasPrefix(out, "listening") {
		t.Errorf("admin API on 0.0.0.0 without a token was accepted: %v\n%s", err, out)
	}

	p := startAcquirerProc(t, bin, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-token", "tok-123")
	if host, _, _ := net.SplitHostPort(p.admin); !net.ParseIP(host).IsLoopback() {
		t.Errorf("admin API on %s", p.admin)
	}
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200}, {"/journal", "", 401}, {"/cards", "Bearer nope", 401}, {"/faults", "Bearer tok-123", 200},
	} {
		req, _ := http.NewRequest("GET", "http://"+p.admin+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", tt.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s with %q: %d, want %d", tt.path, tt.token, resp.StatusCode, tt.want)
		}
	}
}

// runBounded runs cmd and kills it after limit; it returns the combined output.
func runBounded(cmd *exec.Cmd, limit time.Duration) (string, error) {
	out := &isotest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), nil
	}
}
