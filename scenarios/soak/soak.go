package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/simulator"
)

// Defaults of Options.
const (
	DefaultTransactions    = 1000
	DefaultTerminals       = 4
	DefaultFaultRate       = 0.1
	DefaultResponseTimeout = 300 * time.Millisecond
)

// Options configure a soak run.
type Options struct {
	// Transactions is the number of operations (sales, refunds, voids) over all terminals
	// (default 1000).
	Transactions int
	// Terminals run in parallel, one goroutine each, TERM0001 upwards (1 to 9, default 4).
	Terminals int
	// Seed fixes each terminal's operations and the fault engine's random stream.
	Seed int64
	// FaultRate is the probability that a request meets a host fault; reversals meet one at
	// a quarter of it, connections are refused and terminals lose power at a fifth of it.
	// 0 means no faults at all.
	FaultRate float64
	// ResponseTimeout is the terminals' response timeout (default 300 ms); "late" host
	// delays are 200 ms beyond it.
	ResponseTimeout time.Duration
	// Dir keeps the host database and the terminal journals (default: a temporary directory,
	// removed after a clean run and kept, and named in the report, after a violation).
	Dir string
	// Progress receives a line now and then (masked); nil: nothing.
	Progress io.Writer
	// Logger, when set, is given to the acquirer and every terminal (tests grep it for card
	// data).
	Logger *slog.Logger
}

// Report is what a soak run found.
type Report struct {
	Seed            int64
	Transactions    int
	Terminals       int
	FaultRate       float64
	ResponseTimeout time.Duration
	Duration        time.Duration
	Outcomes        map[string]int // customer-facing outcome kinds, by operation: "sale approved"
	HostStates      map[string]int // host transaction states
	FaultsFired     map[string]int // host fault actions, from the host journal
	PowerLosses     int            // terminal power losses (each followed by a restart)
	SAFDrained      int            // SAF entries still queued when the load stopped
	Violations      []string
	Dir             string // set when kept for inspection
}

// OK reports whether no invariant was violated.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "soak: seed %d, %d operations on %d terminals, fault rate %.3g, response timeout %s, %s\n",
		r.Seed, r.Transactions, r.Terminals, r.FaultRate, r.ResponseTimeout, r.Duration.Round(time.Millisecond))
	printCounts(w, "outcomes", r.Outcomes)
	printCounts(w, "host transactions", r.HostStates)
	printCounts(w, "host faults fired", r.FaultsFired)
	fmt.Fprintf(w, "  terminal power losses (restarted): %d\n  SAF entries queued when the load stopped (then drained): %d\n", r.PowerLosses, r.SAFDrained)
	if r.OK() {
		fmt.Fprintln(w, "invariants: all hold (balances, approvals charged once, failures not charged, SAF drained)")
		return
	}
	fmt.Fprintf(w, "INVARIANT VIOLATIONS: %d\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintln(w, "  -", v)
	}
	if r.Dir != "" {
		fmt.Fprintf(w, "host database and terminal journals kept in %s\n", r.Dir)
	}
	fmt.Fprintf(w, "rerun: posdrill soak --seed %d --transactions %d --terminals %d --fault-rate %g\n", r.Seed, r.Transactions, r.Terminals, r.FaultRate)
}

func printCounts(w io.Writer, title string, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		parts = append(parts, "none")
	}
	fmt.Fprintf(w, "  %s: %s\n", title, strings.Join(parts, ", "))
}

// record is one operation as the customer saw it.
type record struct {
	Terminal string
	Seq      int
	Op       string // sale, refund, void
	Card     string
	Amount   int64
	Power    string // power loss point injected for this operation, if any
	Kind     string // outcome kind
	STAN     string
	Approved int64
	Code     string
	VoidOf   string // void: STAN of the transaction voided
	Err      string // masked
}

func (r record) String() string {
	s := fmt.Sprintf("%s op %d %s %s %s STAN %s → %s", r.Terminal, r.Seq, r.Op, r.Card, iso.FormatMoney(r.Amount), r.STAN, r.Kind)
	if r.Code != "" {
		s += " (" + r.Code + ")"
	}
	if r.VoidOf != "" {
		s += " of STAN " + r.VoidOf
	}
	if r.Power != "" {
		s += ", power loss armed " + r.Power
	}
	if r.Err != "" {
		s += ": " + r.Err
	}
	return s
}

// Cards the customers use: approved ones mostly, and some that decline at the host.
var soakCards = []string{"visa-ok", "mc-ok", "unionpay-ok", "visa-ok", "mc-ok", "unionpay-ok", "low-funds", "do-not-honour", "expired"}

// Run performs a soak and checks the invariants. The error is for a run that could not be
// carried out (set-up, cancellation); invariant violations are in the report.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	if o.Transactions <= 0 {
		o.Transactions = DefaultTransactions
	}
	if o.Terminals <= 0 {
		o.Terminals = DefaultTerminals
	}
	if o.Terminals > 9 {
		return nil, fmt.Errorf("soak: at most 9 terminals (the test merchant has TERM0001 to TERM0009), got %d", o.Terminals)
	}
	if o.FaultRate < 0 || o.FaultRate > 1 {
		return nil, fmt.Errorf("soak: fault rate must be between 0 and 1, got %g", o.FaultRate)
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = DefaultResponseTimeout
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	began := time.Now()
	rep = &Report{Seed: o.Seed, Transactions: o.Transactions, Terminals: o.Terminals, FaultRate: o.FaultRate,
		ResponseTimeout: o.ResponseTimeout, Outcomes: map[string]int{}, HostStates: map[string]int{}, FaultsFired: map[string]int{}}
	dir, temp := o.Dir, false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "posdrill-soak-"); err != nil {
			return nil, fmt.Errorf("soak: %w", err)
		}
		temp = true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer func() {
		switch {
		case rep != nil && !rep.OK():
			rep.Dir = dir
		case temp:
			os.RemoveAll(dir)
		}
	}()
	fmt.Fprintf(progress, "soak: seed %d, %d operations on %d terminals, fault rate %g\n", o.Seed, o.Transactions, o.Terminals, o.FaultRate)

	engine := fault.NewEngine(o.Seed, clock.Real{})
	if o.FaultRate > 0 {
		if _, err := engine.Add(faultRules(o.FaultRate, o.ResponseTimeout)...); err != nil {
			return nil, fmt.Errorf("soak: fault rules: %w", err)
		}
	}
	fixtures := cards.Builtin()
	acq, err := acquirer.New(acquirer.Options{Seed: o.Seed, Cards: fixtures, DB: filepath.Join(dir, "acquirer.db"),
		Faults: engine, FrameTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		acq.Close()
		return nil, fmt.Errorf("soak: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- acq.Serve(ln) }()
	closeAcq := func() error {
		err := acq.Close()
		if serr := <-served; serr != nil && err == nil {
			err = serr
		}
		return err
	}

	workers := make([]*worker, o.Terminals)
	for i := range workers {
		p := simulator.DefaultProfile()
		p.TID = fmt.Sprintf("TERM%04d", i+1)
		p.Host = ln.Addr().String()
		p.ConnectTimeout = 2 * time.Second
		p.ResponseTimeout = o.ResponseTimeout
		p.ReversalInterval = 20 * time.Millisecond
		p.SAFMax = 0
		// Both reversal styles of docs/domain.md §1: 0420 reusing the STAN, 0400 with a new one.
		if i%2 == 1 {
			p.ReversalMTI, p.ReversalSTAN = iso.MTIReversalRequest, simulator.STANNew
		}
		n := o.Transactions / o.Terminals
		if i < o.Transactions%o.Terminals {
			n++
		}
		workers[i] = &worker{profile: p, journal: filepath.Join(dir, p.TID+".db"), wallet: fixtures, n: n,
			rng: rand.New(rand.NewPCG(uint64(o.Seed), uint64(i+1))), rate: o.FaultRate, progress: progress, logger: o.Logger}
		if err := workers[i].open(); err != nil {
			for _, w := range workers[:i] {
				w.term.Close()
			}
			closeAcq()
			return nil, fmt.Errorf("soak: %w", err)
		}
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		for _, w := range workers {
			w.term.Close()
		}
		closeAcq()
		return nil, fmt.Errorf("soak: %w", err)
	}

	// The load is over: no more faults, every queue drains.
	engine.Clear()
	fmt.Fprintf(progress, "soak: load done in %s; draining SAF queues\n", time.Since(began).Round(time.Millisecond))
	var violations []string
	termTxns := map[string][]simulator.Txn{}
	for _, w := range workers {
		rep.PowerLosses += w.restarts
		rep.SAFDrained += len(w.term.SAF())
		if err := w.drain(ctx); err != nil {
			violations = append(violations, fmt.Sprintf("%s: SAF queue does not drain with the faults removed: %v; still queued: %s",
				w.profile.TID, iso.MaskText(err.Error()), describeSAF(w.term.SAF())))
		}
		if m := w.term.ManualReconciliation(); len(m) > 0 {
			violations = append(violations, fmt.Sprintf("%s: %d entries went to manual reconciliation: %s", w.profile.TID, len(m), describeSAF(m)))
		}
		termTxns[w.profile.TID] = w.term.Transactions()
		if err := w.term.Close(); err != nil {
			violations = append(violations, fmt.Sprintf("%s: closing the journal: %v", w.profile.TID, iso.MaskText(err.Error())))
		}
		for _, r := range w.records {
			rep.Outcomes[r.Op+" "+r.Kind]++
		}
	}

	hostTxns, err := acq.Transactions(acquirer.Filter{})
	if err != nil {
		closeAcq()
		return nil, fmt.Errorf("soak: host transactions: %w", err)
	}
	balances := map[string]acquirer.Balance{}
	for _, c := range fixtures.Cards {
		b, err := acq.Balance(c.Name)
		if err != nil {
			closeAcq()
			return nil, fmt.Errorf("soak: balance: %w", err)
		}
		balances[c.Name] = b
	}
	journal, err := acq.Journal(acquirer.Filter{})
	if err != nil {
		closeAcq()
		return nil, fmt.Errorf("soak: host journal: %w", err)
	}
	for _, e := range journal {
		if e.FaultAction != "" && (e.Direction == "in" || e.Direction == "conn") {
			rep.FaultsFired[e.FaultAction]++
		}
	}
	for _, t := range hostTxns {
		rep.HostStates[t.State]++
	}
	if err := closeAcq(); err != nil {
		violations = append(violations, "closing the acquirer: "+iso.MaskText(err.Error()))
	}
	var records []record
	for _, w := range workers {
		records = append(records, w.records...)
	}
	violations = append(violations, check(records, termTxns, hostTxns, balances)...)
	rep.Violations = violations
	rep.Duration = time.Since(began)
	return rep, nil
}

func describeSAF(es []simulator.SAFEntry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%s %s of STAN %s (%d attempts, last %s %s)", e.Kind, e.MTI, e.OriginalSTAN, e.Attempts, e.LastCode, iso.MaskText(e.LastError)))
	}
	return strings.Join(parts, "; ")
}

// faultRules are the host's random faults: every action of the fault package on 0200s,
// the ones that lose answers on reversals, and refused connections.
func faultRules(rate float64, timeout time.Duration) []fault.Rule {
	req := fault.StringList{iso.MTIFinancialRequest}
	rev := fault.StringList{iso.MTIReversalRequest, "0401", iso.MTIReversalAdvice, "0421"}
	late := int((timeout + 200*time.Millisecond) / time.Millisecond)
	onRequest := []fault.Rule{
		{Name: "issuer down", Action: "issuer_down"},
		{Name: "do not honour", Action: fault.ActionDecline, Params: fault.Params{Code: "05"}},
		{Name: "short delay", Action: fault.ActionDelay, Params: fault.Params{MS: 20}},
		{Name: "late answer", Action: fault.ActionDelay, Params: fault.Params{MS: late}},
		{Name: "no response", Action: fault.ActionNoResponse},
		{Name: "dropped before processing", Action: fault.ActionDropBeforeProcessing},
		{Name: "dropped after commit", Action: fault.ActionDropAfterCommit},
		{Name: "reset", Action: fault.ActionReset},
		{Name: "truncated", Action: fault.ActionTruncateResponse, Params: fault.Params{Bytes: 10}},
		{Name: "split", Action: fault.ActionSplitResponse, Params: fault.Params{Chunk: 7, GapMS: 5}},
		{Name: "garbled", Action: fault.ActionGarbleResponse},
		{Name: "wrong STAN", Action: fault.ActionWrongSTAN},
		{Name: "duplicate", Action: fault.ActionDuplicateResponse},
		{Name: "partial approval", Match: fault.Match{AmountMin: "1.00", ProcessingCode: iso.ProcPurchase},
			Action: fault.ActionPartialApproval, Params: fault.Params{Amount: "0.50"}},
	}
	onReversal := []fault.Rule{
		{Name: "reversal unanswered", Action: fault.ActionNoResponse},
		{Name: "reversal answer lost", Action: fault.ActionDropAfterCommit},
		{Name: "reversal dropped", Action: fault.ActionDropBeforeProcessing},
		{Name: "reversal late", Action: fault.ActionDelay, Params: fault.Params{MS: late}},
	}
	var rules []fault.Rule
	add := func(list []fault.Rule, mti fault.StringList, total float64) {
		// Rules are tried in order and the first that fires wins: p each gives about total.
		p := total / float64(len(list))
		for _, r := range list {
			r.Match.MTI = mti
			pp := p
			r.Probability = &pp
			rules = append(rules, r)
		}
	}
	add(onRequest, req, rate)
	add(onReversal, rev, rate/4)
	refuse := rate / 5
	// ms 0: the rule stays active; each new connection is refused with probability refuse.
	rules = append(rules, fault.Rule{Name: "host down", Action: fault.ActionRefuseConnections, Probability: &refuse})
	return rules
}

// worker is one terminal and the customers at it.
type worker struct {
	profile  simulator.Profile
	journal  string
	wallet   *cards.Set
	n        int
	rng      *rand.Rand
	rate     float64
	progress io.Writer
	logger   *slog.Logger

	term     *simulator.Terminal
	records  []record
	restarts int
}

func (w *worker) open() error {
	t, err := simulator.New(w.profile, simulator.Options{Journal: w.journal, Wallet: w.wallet, Logger: w.logger})
	if err != nil {
		return fmt.Errorf("terminal %s: %w", w.profile.TID, err)
	}
	w.term = t
	return nil
}

var powerPoints = []string{simulator.PowerBeforeSend, simulator.PowerAfterSend, simulator.PowerAfterAnswer}

func (w *worker) run(ctx context.Context) {
	type ref struct{ stan, rrn string }
	var voidable []ref // approved, not voided yet
	for i := 0; i < w.n && ctx.Err() == nil; i++ {
		r := record{Terminal: w.profile.TID, Seq: i + 1}
		roll := w.rng.Float64()
		card := soakCards[w.rng.IntN(len(soakCards))]
		amount := 1 + w.rng.Int64N(2000)
		power := w.rate > 0 && w.rng.Float64() < w.rate/5
		pointIdx := w.rng.IntN(len(powerPoints))
		if power {
			r.Power = powerPoints[pointIdx]
			w.term.InjectDeviceFault(simulator.DeviceFault{Kind: simulator.DevicePowerLoss, Count: 1, At: r.Power})
		}
		opCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		var out simulator.Outcome
		switch {
		case roll < 0.10 && len(voidable) > 0:
			k := w.rng.IntN(len(voidable))
			v := voidable[k]
			voidable = append(voidable[:k], voidable[k+1:]...)
			r.Op, r.VoidOf = simulator.OpVoid, v.stan
			out = w.term.Void(opCtx, simulator.Ref{STAN: v.stan, RRN: v.rrn})
		case roll < 0.25:
			r.Op, r.Card, r.Amount = simulator.OpRefund, card, amount
			out = w.term.Refund(opCtx, simulator.Payment{Card: card, Amount: amount, PIN: "1234"})
		default:
			r.Op, r.Card, r.Amount = simulator.OpSale, card, amount
			out = w.term.Sale(opCtx, simulator.Payment{Card: card, Amount: amount, PIN: "1234"})
		}
		cancel()
		r.Kind, r.STAN, r.Approved, r.Code = out.Kind, out.STAN, out.Approved, out.ResponseCode
		if r.Op == simulator.OpVoid {
			r.STAN = r.VoidOf
		}
		if out.Err != nil {
			r.Err = iso.MaskText(out.Err.Error())
		}
		if r.Op != simulator.OpVoid && (out.Kind == simulator.KindApproved || out.Kind == simulator.KindPartiallyApproved) {
			voidable = append(voidable, ref{out.STAN, out.RRN})
		}
		w.records = append(w.records, r)
		w.term.ClearDeviceFaults()
		if w.term.Snapshot().Crashed {
			// Power is back: a new terminal on the same journal recovers what was pending.
			w.term.Crash()
			w.restarts++
			if err := w.open(); err != nil {
				w.records = append(w.records, record{Terminal: w.profile.TID, Seq: i + 1, Op: "restart", Kind: "failed", Err: iso.MaskText(err.Error())})
				return
			}
		}
		if (i+1)%500 == 0 {
			fmt.Fprintf(w.progress, "soak: %s %d/%d operations\n", w.profile.TID, i+1, w.n)
		}
	}
}

// drain sends the SAF queue until it is empty (bounded).
func (w *worker) drain(ctx context.Context) error {
	var err error
	for range 50 {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = w.term.DrainSAF(dctx)
		cancel()
		if err == nil && len(w.term.SAF()) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err == nil {
		err = errors.New("entries left after 50 drains")
	}
	return err
}
