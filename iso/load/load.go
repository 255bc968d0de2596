package load

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/mac"
)

// Config describes a load run. Addr and one of Duration or Count are required; everything
// else has a default (see Run).
type Config struct {
	Addr string
	// Dial opens a connection (default: TCP with Timeout).
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	Terminals int // connections, each a terminal of its own (default 1)
	InFlight  int // requests in flight per connection (default 1)

	Duration time.Duration // stop taking new requests after this long
	Count    int64         // or after this many requests in total
	// Rate is the total request rate across the fleet, open loop: request i is due at
	// start + i/Rate whether or not earlier answers came, and its latency counts from when
	// it was due. 0 sends each request as soon as the previous answer on that slot came
	// (closed loop).
	Rate float64

	Mix Mix // default DefaultMix
	// Cards are used in turn (default: the approved cards of the built-in set).
	Cards []cards.Card
	// Merchant (DE42) and TIDs (DE41): terminal i uses TIDs[i % len(TIDs)]. Default: the
	// first merchant of the built-in set and its terminals.
	Merchant string
	TIDs     []string
	Currency string // DE49 (default: the merchant's)
	// AmountMin and AmountMax bound each sale's and refund's amount in minor units
	// (default 1 and 1: a long run must not drain the test cards; 51 answers mean it did).
	AmountMin, AmountMax int64

	Dialect *iso.Dialect // default iso.ASCII
	Framing iso.Framing
	Timeout time.Duration // response timeout (default 5 s)
	Seed    int64

	// MAC, when not mac.None, makes each terminal id sign on for working keys before the
	// run (DE60 network code 003, keys under its TMK) and MAC every request with this
	// algorithm; answers' MACs are verified (a failure counts as an error). It must be the
	// host's algorithm (posdrill acquirer --mac; X9.19 by default outside the cup dialect).
	MAC mac.Algorithm
	// TMK gives a terminal id's master key (default: the built-in fixture's "tmks").
	TMK func(tid string) ([]byte, bool)

	// Progress, when set, is called about every ProgressEvery (default 250 ms) from one
	// goroutine while the run goes.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Progress is a snapshot during the run.
type Progress struct {
	Elapsed  time.Duration
	Duration time.Duration // the configured duration (0 with Count)
	Count    int64         // the configured count (0 with Duration)
	Answered int64
	Timeouts int64
	Errors   int64
}

// Fraction is how far the run is, from 0 to 1.
func (p Progress) Fraction() float64 {
	switch {
	case p.Count > 0:
		return min(1, float64(p.Answered+p.Timeouts+p.Errors)/float64(p.Count))
	case p.Duration > 0:
		return min(1, float64(p.Elapsed)/float64(p.Duration))
	}
	return 0
}

// Errors of Run.
var (
	ErrConfig  = errors.New("invalid load configuration")
	ErrConnect = errors.New("cannot connect")
)

func (c *Config) defaults() error {
	if c.Addr == "" {
		return fmt.Errorf("%w: no host address", ErrConfig)
	}
	if c.Duration <= 0 && c.Count <= 0 {
		return fmt.Errorf("%w: give a duration or a count", ErrConfig)
	}
	if c.Terminals <= 0 {
		c.Terminals = 1
	}
	if c.InFlight <= 0 {
		c.InFlight = 1
	}
	if c.Rate < 0 {
		return fmt.Errorf("%w: rate must be positive", ErrConfig)
	}
	if c.Mix == nil {
		c.Mix, _ = ParseMix(DefaultMix)
	}
	if c.Dialect == nil {
		c.Dialect = iso.ASCII
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 250 * time.Millisecond
	}
	if c.AmountMin <= 0 {
		c.AmountMin = 1
	}
	if c.AmountMax < c.AmountMin {
		c.AmountMax = c.AmountMin
	}
	if len(c.Cards) == 0 || c.Merchant == "" || len(c.TIDs) == 0 {
		set := cards.Builtin()
		if len(c.Cards) == 0 {
			for _, name := range DefaultCards {
				if card, ok := set.ByName(name); ok {
					c.Cards = append(c.Cards, card)
				}
			}
		}
		if c.Merchant == "" || len(c.TIDs) == 0 {
			m := set.Merchants[0]
			if c.Merchant == "" {
				c.Merchant = m.ID
			}
			if len(c.TIDs) == 0 {
				c.TIDs = m.Terminals
			}
			if c.Currency == "" {
				c.Currency = m.Currency
			}
		}
	}
	if c.Currency == "" {
		c.Currency = "156"
	}
	if c.Dial == nil {
		d := &net.Dialer{Timeout: c.Timeout}
		c.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	return nil
}

// DefaultCards are the built-in cards a load run uses unless told otherwise: the ones
// the built-in acquirer approves.
var DefaultCards = []string{"visa-ok", "mc-ok", "unionpay-ok"}

// stans hands out STANs per terminal id, shared by every connection that uses the id, so
// that DE41 + DE11 (+ DE7) never repeat within the fleet and the host's duplicate check
// does not fire. Each id starts at a point drawn from the seed.
type stans struct {
	mu   sync.Mutex
	next map[string]*atomic.Uint32
}

func newSTANs(seed int64, tids []string) *stans {
	s := &stans{next: map[string]*atomic.Uint32{}}
	for _, tid := range tids {
		if _, ok := s.next[tid]; ok {
			continue
		}
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", seed, tid)
		var c atomic.Uint32
		c.Store(uint32(h.Sum64() % 999999))
		s.next[tid] = &c
	}
	return s
}

// take returns the terminal's next STAN: 000001 … 999999, then 000001 again.
func (s *stans) take(tid string) string {
	n := s.next[tid].Add(1)
	return fmt.Sprintf("%06d", (n-1)%999999+1)
}

// Run drives the host with the fleet until the duration or count is reached (or ctx is
// done) and reports. It returns an error only when the run could not start (bad config,
// a terminal that cannot connect); failures during the run are counted in the Report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, picker: newPicker(cfg.Mix), stans: newSTANs(cfg.Seed, cfg.TIDs), ctx: ctx}
	r.terms = make([]*terminal, cfg.Terminals)
	for i := range r.terms {
		r.terms[i] = &terminal{r: r, idx: i, tid: cfg.TIDs[i%len(cfg.TIDs)]}
	}

	// Connect everyone before the clock starts.
	var wg sync.WaitGroup
	errs := make([]error, len(r.terms))
	sem := make(chan struct{}, 64)
	for i, t := range r.terms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, errs[i] = t.connect(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		r.closeAll()
		return nil, err
	}
	if cfg.MAC != mac.None {
		if err := r.signOnForKeys(ctx); err != nil {
			r.closeAll()
			return nil, err
		}
	}

	r.start = time.Now()
	if cfg.Duration > 0 {
		r.stopAt = r.start.Add(cfg.Duration)
	}
	workers := make([]*worker, 0, cfg.Terminals*cfg.InFlight)
	for _, t := range r.terms {
		for j := 0; j < cfg.InFlight; j++ {
			w := &worker{t: t, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(t.idx*1000+j))), stats: newStats()}
			workers = append(workers, w)
		}
	}
	progressDone := make(chan struct{})
	progressStopped := make(chan struct{})
	go r.progress(progressDone, progressStopped)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run()
		}()
	}
	wg.Wait()
	elapsed := time.Since(r.start)
	close(progressDone)
	<-progressStopped
	r.closeAll()

	rep := r.report(elapsed, workers)
	return rep, nil
}

type runner struct {
	cfg    Config
	ctx    context.Context
	picker picker
	stans  *stans
	terms  []*terminal
	start  time.Time
	stopAt time.Time // zero: no deadline

	tickets atomic.Int64
	cardSeq atomic.Uint64

	answered, timeouts, errored atomic.Int64 // for progress

	evMu   sync.Mutex
	events map[string]int64

	keys *macKeys // with Config.MAC: each terminal id's MAC key
}

func (r *runner) event(kind string) {
	r.evMu.Lock()
	if r.events == nil {
		r.events = map[string]int64{}
	}
	r.events[kind]++
	r.evMu.Unlock()
}

func (r *runner) snapshot() Progress {
	return Progress{Elapsed: time.Since(r.start), Duration: r.cfg.Duration, Count: r.cfg.Count,
		Answered: r.answered.Load(), Timeouts: r.timeouts.Load(), Errors: r.errored.Load()}
}

func (r *runner) progress(done <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	if r.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			r.cfg.Progress(r.snapshot())
			return
		case <-t.C:
			r.cfg.Progress(r.snapshot())
		}
	}
}

func (r *runner) closeAll() {
	for _, t := range r.terms {
		t.close()
	}
}

// terminal is one connection with its terminal id, shared by its InFlight workers.
type terminal struct {
	r   *runner
	idx int
	tid string

	mu       sync.Mutex
	conn     *iso.Conn
	approved []sale // approved sales not reversed yet, newest last
}

// sale is what a reversal needs of an approved sale: kept small and pointer-light, since a
// fleet remembers thousands and the garbage collector scans them all.
type sale struct {
	card   int32 // index in Config.Cards
	amount int64 // approved, minor units
	stan   [6]byte
	de7    [10]byte
}

// maxReversible bounds the approved sales a terminal remembers for reversals.
const maxReversible = 512

func (t *terminal) connect(ctx context.Context) (*iso.Conn, error) {
	cfg := &t.r.cfg
	nc, err := cfg.Dial(ctx, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: terminal %d (%s) to %s: %w", ErrConnect, t.idx+1, t.tid, cfg.Addr, err)
	}
	c := iso.NewConn(nc, append([]iso.ConnOption{iso.WithDialect(cfg.Dialect), iso.WithFraming(cfg.Framing),
		iso.WithEvents(func(e iso.Event) {
			if e.Kind != iso.EventClosed {
				t.r.event(string(e.Kind))
			}
		})}, t.r.connOptions()...)...)
	t.mu.Lock()
	t.conn = c
	t.mu.Unlock()
	return c, nil
}

// current returns a live connection, reconnecting once if the last one ended.
func (t *terminal) current() (*iso.Conn, error) {
	t.mu.Lock()
	c := t.conn
	t.mu.Unlock()
	if c != nil {
		select {
		case <-c.Done():
		default:
			return c, nil
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != c {
		return t.conn, nil // another worker reconnected
	}
	cfg := &t.r.cfg
	nc, err := cfg.Dial(t.r.ctx, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	t.conn = iso.NewConn(nc, append([]iso.ConnOption{iso.WithDialect(cfg.Dialect), iso.WithFraming(cfg.Framing),
		iso.WithEvents(func(e iso.Event) {
			if e.Kind != iso.EventClosed {
				t.r.event(string(e.Kind))
			}
		})}, t.r.connOptions()...)...)
	t.r.event("reconnect")
	return t.conn, nil
}

func (t *terminal) close() {
	t.mu.Lock()
	c := t.conn
	t.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (t *terminal) remember(s sale) {
	t.mu.Lock()
	if len(t.approved) >= maxReversible {
		t.approved = append(t.approved[:0], t.approved[len(t.approved)/2:]...)
	}
	t.approved = append(t.approved, s)
	t.mu.Unlock()
}

func (t *terminal) takeApproved() (sale, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.approved) == 0 {
		return sale{}, false
	}
	s := t.approved[len(t.approved)-1]
	t.approved = t.approved[:len(t.approved)-1]
	return s, true
}

// worker is one request slot of a terminal.
type worker struct {
	t     *terminal
	rng   *rand.Rand
	stats *stats
}

func (w *worker) run() {
	r := w.t.r
	cfg := &r.cfg
	for {
		if r.ctx.Err() != nil {
			return
		}
		ticket := r.tickets.Add(1) - 1
		if cfg.Count > 0 && ticket >= cfg.Count {
			return
		}
		var due time.Time
		if cfg.Rate > 0 {
			due = r.start.Add(time.Duration(float64(ticket) / cfg.Rate * float64(time.Second)))
			if !r.stopAt.IsZero() && !due.Before(r.stopAt) {
				return
			}
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-r.ctx.Done():
					t.Stop()
					return
				}
			}
		} else if !r.stopAt.IsZero() && !time.Now().Before(r.stopAt) {
			return
		}
		w.one(due)
	}
}

// one sends one request and records what became of it.
func (w *worker) one(due time.Time) {
	t, r := w.t, w.t.r
	cfg := &r.cfg
	op := r.picker.pick(w.rng)
	now := time.Now()
	var orig sale
	if op == OpReversal {
		var ok bool
		if orig, ok = t.takeApproved(); !ok {
			op = OpSale // nothing to reverse yet
			w.stats.reversalFallbacks++
		}
	}
	card := int32(r.cardSeq.Add(1) % uint64(len(cfg.Cards)))
	m := r.withMAC(w.build(op, card, orig, now))
	s := w.stats.op(op)
	s.Sent++
	c, err := t.current()
	if err != nil {
		s.Errors++
		w.stats.errorKind("connect failed")
		r.errored.Add(1)
		w.backoff()
		return
	}
	sent := time.Now()
	resp, err := c.Send(r.ctx, m, cfg.Timeout)
	done := time.Now()
	switch {
	case err == nil:
		s.Answered++
		s.Codes[resp.ResponseCode]++
		r.answered.Add(1)
		if !due.IsZero() {
			w.stats.latency.Record(done.Sub(due))
			w.stats.service.Record(done.Sub(sent))
		} else {
			w.stats.latency.Record(done.Sub(sent))
		}
		if op == OpSale && (resp.ResponseCode == iso.RCApproved || resp.ResponseCode == iso.RCPartial) {
			amt, _ := iso.ParseAmount(m.Amount)
			if resp.ResponseCode == iso.RCPartial {
				amt, _ = iso.ParseAmount(resp.Amount) // a reversal restores what was approved
			}
			s := sale{card: card, amount: amt}
			copy(s.stan[:], m.STAN)
			copy(s.de7[:], m.TransmissionTime)
			t.remember(s)
		}
	case errors.Is(err, iso.ErrTimeout):
		s.Timeouts++
		r.timeouts.Add(1)
	case r.ctx.Err() != nil:
		s.Sent-- // interrupted: neither answered nor failed
	default:
		s.Errors++
		r.errored.Add(1)
		w.stats.errorKind(errorKind(err))
		if errors.Is(err, iso.ErrConnClosed) || errors.Is(err, iso.ErrNotSent) {
			w.backoff()
		}
	}
}

// backoff pauses a worker whose connection failed, so that a dead host is not dialled in a
// tight loop.
func (w *worker) backoff() {
	t := time.NewTimer(50 * time.Millisecond)
	select {
	case <-t.C:
	case <-w.t.r.ctx.Done():
		t.Stop()
	}
}

// errorKind names an error for the counts without its details (which may vary per
// request and, from a host, quote card data).
func errorKind(err error) string {
	switch {
	case errors.Is(err, iso.ErrNotSent):
		return "not sent"
	case errors.Is(err, iso.ErrConnClosed):
		return "connection closed"
	case errors.Is(err, iso.ErrDuplicatePending):
		return "duplicate pending"
	}
	s := iso.MaskText(err.Error())
	if i := strings.IndexByte(s, ':'); i > 0 {
		s = s[:i]
	}
	return s
}

func (w *worker) build(op string, cardIdx int32, orig sale, now time.Time) *iso.Message {
	t, r := w.t, w.t.r
	cfg := &r.cfg
	stan := r.stans.take(t.tid)
	de7 := now.UTC().Format("0102150405")
	if op == OpEcho {
		return &iso.Message{MTI: iso.MTINetworkRequest, TransmissionTime: de7, STAN: stan, TerminalID: t.tid, NetworkCode: iso.NetEcho}
	}
	if op == OpReversal {
		// The original's fields, its DE90, a STAN of its own and reason 17 (cancellation).
		c := cfg.Cards[orig.card]
		return &iso.Message{
			MTI: iso.MTIReversalRequest, PAN: c.PAN, ProcessingCode: iso.ProcPurchase, Amount: iso.FormatAmount(orig.amount),
			TransmissionTime: de7, STAN: stan, Expiry: c.Expiry, EntryMode: iso.EntryDE22(iso.EntryChip), ConditionCode: "00",
			ResponseCode: iso.ReasonCancel, TerminalID: t.tid, MerchantID: cfg.Merchant, Currency: cfg.Currency,
			OriginalData: iso.OriginalData{MTI: iso.MTIFinancialRequest, STAN: string(orig.stan[:]), Transmitted: string(orig.de7[:])}.String(),
		}
	}
	card := cfg.Cards[cardIdx]
	m := &iso.Message{
		MTI: iso.MTIFinancialRequest, PAN: card.PAN, TransmissionTime: de7, STAN: stan,
		LocalTime: now.Format("150405"), LocalDate: now.Format("0102"), Expiry: card.Expiry,
		EntryMode: iso.EntryDE22(iso.EntryChip), ConditionCode: "00", TerminalID: t.tid, MerchantID: cfg.Merchant, Currency: cfg.Currency,
	}
	switch op {
	case OpBalance:
		m.ProcessingCode = iso.ProcBalance
		return m
	case OpRefund:
		m.ProcessingCode = iso.ProcRefund
	default:
		m.ProcessingCode = iso.ProcPurchase
	}
	amt := cfg.AmountMin
	if cfg.AmountMax > cfg.AmountMin {
		amt += w.rng.Int64N(cfg.AmountMax - cfg.AmountMin + 1)
	}
	m.Amount = iso.FormatAmount(amt)
	return m
}

// withMAC asks for a MAC on m when the run MACs (network management goes without).
func (r *runner) withMAC(m *iso.Message) *iso.Message {
	if r.cfg.MAC != mac.None && m.MTI != iso.MTINetworkRequest {
		iso.RequestMAC(m)
	}
	return m
}
