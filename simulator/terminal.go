package simulator

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/emv"
	"github.com/posdrill/posdrill/iso/mac"
)

// Options are the terminal's injected dependencies.
type Options struct {
	// Clock drives every timeout, interval and timestamp (default clock.Real{}).
	Clock clock.Clock
	// Dial opens the connection to the host (default TCP with the profile's connect
	// timeout). Scenarios pass a memnet listener's DialContext.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Journal is the SQLite file of the durable journal, or ":memory:" (default).
	Journal string
	// Wallet holds the customer's cards and the merchants (default cards.Builtin()).
	Wallet *cards.Set
	// Observer sees every frame in and out (traces); passed to iso.Conn.
	Observer iso.Observer
	// OnEvent receives every event, in Seq order, from one goroutine at a time (not always the
	// one that caused it). It may call the read-only methods, InjectDeviceFault and Crash, but
	// not start an operation or Close.
	OnEvent func(Event)
	// Logger gets one line per event (masked); nil: no logging.
	Logger *slog.Logger
	// ReceiptLang is the language of the printed receipts: ReceiptEnglish (default) or
	// ReceiptChinese, the bilingual slip of Chinese POS terminals. SetReceiptLang changes it.
	ReceiptLang string
}

// maxEvents bounds the events kept in memory for Events().
const maxEvents = 10000

// Terminal is one simulated POS terminal. Transactions are run one at a time (the methods
// serialize on the terminal's line); Snapshot, Events, SAF, ManualReconciliation and
// Transactions are safe from any goroutine at any time.
//
// On a virtual clock, call the transaction methods (and Close) from a goroutine that owns a
// token, as for iso.Conn.Send: they give it up while they wait for time to pass.
type Terminal struct {
	profile  Profile
	clk      clock.Clock
	dial     func(ctx context.Context, addr string) (net.Conn, error)
	wallet   *cards.Set
	dialect  *iso.Dialect
	framing  iso.Framing
	tpdu     []byte
	header   []byte         // application header (CUP message header); nil: none or default
	codes    *iso.CodeTable // how answers' response codes are read
	cup      bool           // UnionPay domestic conventions: DE60 structure, no DE70
	macAlg   mac.Algorithm  // DE64/DE128 once a sign-on delivered a MAC key (None: no MAC)
	rnd      *rand.Rand     // PIN format 3 fill, chip unpredictable numbers; seeded by the TID
	emvKeys  *emv.Keys      // the test cards' chip keys
	observer iso.Observer
	// deaf is set just before a power cut "after send" writes its request: an answer that
	// races in before the cut completes must not be seen by a terminal that is dying.
	deaf    atomic.Bool
	onEvent func(Event)
	log     *slog.Logger
	j       *journal

	line   line
	life   context.Context // cancelled by Close and Crash
	stop   context.CancelFunc
	wg     sync.WaitGroup
	kickCh chan struct{}

	mu           sync.Mutex // guards everything below
	receiptLang  string     // ReceiptEnglish or ReceiptChinese
	events       []Event
	outbox       []Event // emitted, not yet handed to the logger and OnEvent
	delivering   bool    // a goroutine is draining the outbox
	seq          int64
	phase        string
	operation    string
	stan         string
	deadline     time.Time
	conn         *iso.Conn
	connDead     bool // the current conn's reader saw it end
	signedOn     bool
	resignOn     string       // why the host wants a new sign-on after the current operation ("" none)
	keys         workingKeys  // from the last sign-on whose check values matched
	dk           *dukptDevice // DUKPT key state (nil: master/session keys)
	wantLink     bool         // the terminal has been connected and not signed off: keep the link up
	acked        *safRow      // the last SAF entry acknowledged, for the outcome that queued it
	lastActivity time.Time
	last         *Outcome
	faults       []DeviceFault
	closed       bool
	crashed      bool
	bgStopped    bool
}

// New opens (or creates) the journal, recovers what a crashed run left behind — a pending
// reversal of a request that may have reached the host goes to the SAF queue, to be sent
// right away by the background sender and before the next transaction — and starts the
// background sender (SAF timer, echo tests). It does not connect: the first operation does.
func New(p Profile, o Options) (*Terminal, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	d, err := iso.DialectByName(p.Dialect)
	if err != nil {
		return nil, fmt.Errorf("%w: dialect: %w", ErrProfile, err)
	}
	f, err := iso.ParseFraming(p.Framing)
	if err != nil {
		return nil, fmt.Errorf("%w: framing: %w", ErrProfile, err)
	}
	t := &Terminal{
		receiptLang: o.ReceiptLang,
		profile:     p,
		clk:         o.Clock,
		dial:        o.Dial,
		wallet:      o.Wallet,
		dialect:     d,
		framing:     f,
		tpdu:        p.tpdu(),
		header:      p.header(),
		codes:       p.codeTable(),
		cup:         d == iso.CUP,
		macAlg:      p.macAlgorithm(),
		rnd:         rand.New(rand.NewSource(int64(crc32.ChecksumIEEE([]byte(p.TID))))),
		emvKeys:     emv.DefaultKeys(),
		observer:    o.Observer,
		onEvent:     o.OnEvent,
		log:         o.Logger,
		phase:       PhaseIdle,
		kickCh:      make(chan struct{}, 1),
	}
	if t.clk == nil {
		t.clk = clock.Real{}
	}
	if t.wallet == nil {
		t.wallet = cards.Builtin()
	}
	if t.dial == nil {
		timeout := p.ConnectTimeout
		t.dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
		}
	}
	t.line.clk = t.clk
	t.j, err = openJournal(o.Journal)
	if err != nil {
		return nil, err
	}
	if err := t.recover(); err != nil {
		t.j.close(ErrClosed)
		return nil, err
	}
	if t.keys, err = t.j.loadKeys(); err != nil {
		t.j.close(ErrClosed)
		return nil, err
	}
	if p.KeyScheme == "dukpt" {
		if t.dk, err = t.loadDUKPT(); err != nil {
			t.j.close(ErrClosed)
			return nil, fmt.Errorf("%w: %w", ErrProfile, err)
		}
	}
	t.life, t.stop = context.WithCancel(context.Background())
	t.clk.Hold() // the background sender's token, released when it blocks
	t.wg.Add(1)
	go t.background()
	return t, nil
}

// Profile returns the terminal's profile.
func (t *Terminal) Profile() Profile { return t.profile }

// Close stops the terminal: the operation in progress is cancelled (a request it sent is
// reversed through the journal, as for any unanswered request), the connection and the
// journal are closed. Queued reversals stay in the journal for the next Terminal.
func (t *Terminal) Close() error {
	t.mu.Lock()
	if t.closed || t.crashed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.stopBackground(true)
	// Wait for a transaction in progress (its context is cancelled, so it ends without
	// waiting for time); the Hold is the token lock gives up while waiting.
	t.clk.Hold()
	_ = t.line.lock(context.Background())
	t.clk.Release()
	t.mu.Lock()
	c := t.conn
	t.conn, t.signedOn, t.phase = nil, false, PhaseClosed
	t.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	err := t.j.close(ErrClosed)
	t.line.unlock()
	return err
}

// Crash is a power loss: the engine stops dead. Nothing more is written to the journal or
// sent; the connection drops. A transaction in progress returns an Outcome of kind
// power_loss. Start a new Terminal on the same journal to recover.
func (t *Terminal) Crash() {
	t.mu.Lock()
	if t.closed || t.crashed {
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.emit(Event{Kind: EventPowerLoss, Detail: "power lost: the terminal stops"})
	t.mu.Lock()
	t.crashed = true
	t.phase = PhaseCrashed
	c := t.conn
	t.conn, t.signedOn = nil, false
	t.mu.Unlock()
	_ = t.j.close(ErrCrashed)
	// Not waiting for the background goroutine: Crash may be called from it (an OnEvent
	// callback). With the journal closed it can neither write nor report anything; it
	// ends on its own.
	t.stopBackground(false)
	if c != nil {
		_ = c.Close()
	}
}

func (t *Terminal) stopBackground(wait bool) {
	t.mu.Lock()
	if t.bgStopped {
		t.mu.Unlock()
		return
	}
	t.bgStopped = true
	t.mu.Unlock()
	t.clk.Hold() // handed to the background goroutine, which wakes on life.Done
	t.stop()
	if wait {
		t.wg.Wait()
	}
}

func (t *Terminal) isCrashed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.crashed
}

// kick wakes the background sender to recompute its timer (the SAF queue changed).
func (t *Terminal) kick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bgStopped {
		return
	}
	t.clk.Hold() // the background goroutine's token when it wakes
	select {
	case t.kickCh <- struct{}{}:
	default:
		t.clk.Release() // already kicked
	}
}

// emit records an event, then logs it and calls OnEvent. Detail is masked here, whatever
// the caller put in it.
//
// Delivery goes through an outbox drained by one goroutine at a time, in Seq order: an
// OnEvent callback may itself cause events (InjectDeviceFault, Crash) without deadlocking,
// and events emitted meanwhile by other goroutines (the connection's reader, the background
// sender) are delivered after it, by whichever goroutine is delivering.
func (t *Terminal) emit(e Event) {
	t.mu.Lock()
	if t.crashed {
		t.mu.Unlock()
		return // a dead terminal says nothing
	}
	t.seq++
	e.Seq = t.seq
	e.Time = t.clk.Now()
	e.Detail = iso.MaskText(e.Detail)
	if len(t.events) >= maxEvents {
		t.events = append(t.events[:0], t.events[len(t.events)-maxEvents/2:]...)
	}
	t.events = append(t.events, e)
	if t.onEvent == nil && t.log == nil {
		t.mu.Unlock()
		return
	}
	t.outbox = append(t.outbox, e)
	if t.delivering {
		t.mu.Unlock()
		return
	}
	t.delivering = true
	for len(t.outbox) > 0 {
		batch := t.outbox
		t.outbox = nil
		t.mu.Unlock()
		for _, ev := range batch {
			if t.log != nil {
				t.log.Info(ev.Kind, "seq", ev.Seq, "stan", ev.STAN, "mti", ev.MTI, "code", ev.Code, "detail", ev.Detail)
			}
			if t.onEvent != nil {
				t.onEvent(ev)
			}
		}
		t.mu.Lock()
	}
	t.delivering = false
	t.mu.Unlock()
}

// Events returns the events so far (the most recent 5,000 to 10,000 in a long run).
func (t *Terminal) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.events...)
}

func (t *Terminal) eventsSince(seq int64) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Event
	for _, e := range t.events {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}

func (t *Terminal) setPhase(phase string, deadline time.Time) {
	t.mu.Lock()
	t.phase, t.deadline = phase, deadline
	t.mu.Unlock()
}

// Snapshot returns the terminal's state for UIs.
func (t *Terminal) Snapshot() Snapshot {
	t.mu.Lock()
	s := Snapshot{
		Now:          t.clk.Now(),
		Phase:        t.phase,
		Operation:    t.operation,
		STAN:         t.stan,
		Deadline:     t.deadline,
		Connected:    t.conn != nil && !t.connDead,
		SignedOn:     t.signedOn && t.conn != nil && !t.connDead,
		Crashed:      t.crashed,
		DeviceFaults: append([]DeviceFault(nil), t.faults...),
	}
	if t.last != nil {
		l := *t.last
		s.Last = &l
	}
	t.mu.Unlock()
	s.SAF = t.SAF()
	if len(s.SAF) > 0 && s.SAF[0].Blocked {
		h := s.SAF[0]
		s.SAFBlocked = true
		s.SAFBlockedReason = fmt.Sprintf("%s for %s/%s refused %d times (last code %s)", h.Kind, h.OriginalMTI, h.OriginalSTAN, h.Tries, h.LastCode)
	}
	s.Manual = t.ManualReconciliation()
	if b, err := t.j.batch(); err == nil {
		s.Batch = b
	}
	if rows, err := t.j.openTxns(); err == nil {
		s.Totals = totalsOf(rows)
	}
	return s
}

// SAF returns the store-and-forward queue, head first (including the pending reversal of a
// request in flight, which is written before the request is sent).
func (t *Terminal) SAF() []SAFEntry {
	var out []SAFEntry
	for _, st := range []string{safQueued, safPending} {
		rows, err := t.j.safRows(st)
		if err != nil {
			return out
		}
		for _, r := range rows {
			out = append(out, t.publicSAF(r))
		}
	}
	return out
}

// ManualReconciliation returns the entries that gave up (expired, or refused as
// inconsistent) and need the back office.
func (t *Terminal) ManualReconciliation() []SAFEntry {
	rows, err := t.j.safRows(safManual)
	if err != nil {
		return nil
	}
	out := make([]SAFEntry, 0, len(rows))
	for _, r := range rows {
		out = append(out, t.publicSAF(r))
	}
	return out
}

func (t *Terminal) publicSAF(r *safRow) SAFEntry {
	e := r.SAFEntry
	e.MTI = r.Msg.MTI
	if r.State == safQueued && r.Attempts > 0 {
		e.MTI = iso.RepeatMTI(r.Msg.MTI)
	}
	e.LastError = iso.MaskText(e.LastError)
	return e
}

// Transactions returns the transactions of the open batch, oldest first.
func (t *Terminal) Transactions() []Txn {
	rows, err := t.j.openTxns()
	if err != nil {
		return nil
	}
	out := make([]Txn, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Txn)
	}
	return out
}

// InjectDeviceFault arms a fault of the terminal itself. Faults of the same kind stack.
func (t *Terminal) InjectDeviceFault(f DeviceFault) {
	if f.Kind == DevicePowerLoss && f.At == "" {
		f.At = PowerAfterSend
	}
	t.mu.Lock()
	t.faults = append(t.faults, f)
	t.mu.Unlock()
	t.emit(Event{Kind: EventDeviceFault, Detail: "armed: " + f.Kind + " " + f.At})
}

// ClearDeviceFaults removes every armed device fault (paper refilled, reader replaced).
func (t *Terminal) ClearDeviceFaults() {
	t.mu.Lock()
	t.faults = nil
	t.mu.Unlock()
}

// DeviceFaults returns the armed device faults.
func (t *Terminal) DeviceFaults() []DeviceFault {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]DeviceFault(nil), t.faults...)
}

// fault consumes one firing of an armed fault of kind (and at, for power loss) if any.
func (t *Terminal) fault(kind, at string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.faults {
		f := &t.faults[i]
		if f.Kind != kind || (kind == DevicePowerLoss && f.At != at) {
			continue
		}
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				t.faults = append(t.faults[:i], t.faults[i+1:]...)
			}
		}
		return true
	}
	return false
}

// faultArmed reports whether a fault of kind is armed, without consuming it.
func (t *Terminal) faultArmed(kind string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.faults {
		if f.Kind == kind {
			return true
		}
	}
	return false
}

// run is the frame of every operation: it takes the line, records the outcome and its
// events, and turns anything after a power loss into a power_loss outcome.
func (t *Terminal) run(ctx context.Context, op string, f func(ctx context.Context) Outcome) Outcome {
	return t.runOp(ctx, op, true, f)
}

// runOp is run; record says whether the outcome becomes Snapshot().Last.
func (t *Terminal) runOp(ctx context.Context, op string, record bool, f func(ctx context.Context) Outcome) Outcome {
	t.mu.Lock()
	crashed, closed := t.crashed, t.closed
	t.mu.Unlock()
	switch {
	case crashed:
		return Outcome{Kind: KindPowerLoss, Operation: op, Guidance: iso.GuidanceCheckLast, Err: fmt.Errorf("%s: %w", op, ErrCrashed)}
	case closed:
		return Outcome{Kind: KindNotSent, Operation: op, Guidance: iso.GuidanceHostUnreachable, Err: fmt.Errorf("%s: %w", op, ErrClosed)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopLife := context.AfterFunc(t.life, cancel)
	defer stopLife()
	if err := t.line.lock(ctx); err != nil {
		return Outcome{Kind: KindNotSent, Operation: op, Guidance: iso.GuidanceHostUnreachable, Err: fmt.Errorf("%s: %w", op, err)}
	}
	defer t.line.unlock()
	t.mu.Lock()
	start := t.seq
	t.operation, t.stan = op, ""
	t.mu.Unlock()

	out := f(ctx)
	out.Operation = op
	if !t.isCrashed() && ctx.Err() == nil {
		t.honourSignOnRequest(ctx)
	}
	if t.isCrashed() {
		out = Outcome{Kind: KindPowerLoss, Operation: op, Guidance: iso.GuidanceCheckLast, STAN: out.STAN,
			Amount: out.Amount, MaskedPAN: out.MaskedPAN, Entry: out.Entry, Err: fmt.Errorf("%s: %w", op, ErrCrashed)}
	}
	out.Events = t.eventsSince(start)
	t.mu.Lock()
	if record {
		last := out
		t.last = &last
	}
	if !t.crashed {
		t.phase, t.deadline = PhaseIdle, time.Time{}
	}
	t.mu.Unlock()
	t.kick()
	return out
}

func (t *Terminal) setSTAN(stan string) {
	t.mu.Lock()
	t.stan = stan
	t.mu.Unlock()
}

// errInvalidAnswer: the answer matched our request but cannot be trusted (wrong MTI, no
// response code): it is treated as no answer, so the request is reversed.
var errInvalidAnswer = errors.New("invalid answer")
