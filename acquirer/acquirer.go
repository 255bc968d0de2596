package acquirer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/emv"
	"github.com/posdrill/posdrill/iso/listen"
	"github.com/posdrill/posdrill/iso/mac"
)

// Defaults of Options.
const (
	DefaultMaxConns     = 10000 // lowered to what RLIMIT_NOFILE allows (listen.DefaultMaxConns)
	DefaultMaxPerSource = 256   // per IP address; loopback is exempt unless PerSourceLoopback
	DefaultFirstFrame   = 30 * time.Second
	DefaultMaxFrame     = iso.DefaultMaxFrame
	DefaultMaxInFlight  = 64
	DefaultFrameTimeout = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Options configure an Acquirer. The zero value is usable: ASCII dialect, len2 framing,
// the real clock, the built-in cards, an in-memory store.
type Options struct {
	Dialect *iso.Dialect // default iso.ASCII
	Framing iso.Framing  // default len2
	Clock   clock.Clock  // default clock.Real{}
	// Seed drives every random choice (fault probabilities) and the RRN / auth code sequence.
	Seed int64
	// Cards are the fixtures authorized against (default cards.Builtin()).
	Cards *cards.Set
	// DB is where the ledger, transactions and journal live: a SQLite file path, ":memory:"
	// (the default), or a PostgreSQL URL ("postgres://..." or "postgresql://...", see
	// IsPostgresURL) for a database that several acquirer replicas share.
	DB string
	// Faults is the fault engine consulted for every connection and request (default
	// fault.NewEngine(Seed, Clock)).
	Faults *fault.Engine
	// Logger receives masked output only (default: discard).
	Logger *slog.Logger
	// Observer sees every frame in and out of every connection, for traces.
	Observer iso.Observer
	// ObserverFor, when set, is asked once for each accepted connection for the observer of
	// that connection's frames (nil: none), so that a trace can tell connections apart.
	// connID is "c" and the connection's number in the journal (Entry.Conn): "c1", "c2"...
	// Observer, when also set, still sees every frame.
	ObserverFor func(connID string) iso.Observer
	// OnFault, when set, is told every firing of a fault rule, just before the acquirer
	// performs it: for a request, in the connection's read goroutine (in the order requests
	// arrived); for refuse_connections, in the accept loop. Calls may come from several
	// goroutines at once and must not block for long.
	OnFault func(FaultRecord)

	// MaxConns bounds open connections (default 10000, lowered below the process's
	// descriptor limit: see listen.DefaultMaxConns); one more is accepted and closed at once,
	// and counted.
	MaxConns int
	// MaxPerSource bounds the open connections of one IP address (default 256; negative:
	// none), so one peer cannot take every slot. Loopback peers are exempt unless
	// PerSourceLoopback: on one machine every client shares 127.0.0.1.
	MaxPerSource      int
	PerSourceLoopback bool
	// FirstFrameTimeout closes a connection whose first frame has not started within this
	// real time of its accept (default 30 s; negative: never), so connections that never
	// send cannot hold slots for ever.
	FirstFrameTimeout time.Duration
	// MaxFrame bounds a frame's length (default 8192 bytes); a longer header closes the
	// connection.
	MaxFrame int
	// MaxInFlight bounds the requests of one connection processed at the same time
	// (default 64); beyond it the connection is not read until one finishes.
	MaxInFlight int
	// FrameTimeout is the real time a frame that has started arriving may take to arrive
	// whole (default 10 s); a stall closes the connection.
	FrameTimeout time.Duration
	// IdleTimeout closes a connection on which no frame starts for that long (real time;
	// default none).
	IdleTimeout time.Duration
	// WriteTimeout bounds each write (real time, default 10 s): a peer that does not read
	// cannot block us.
	WriteTimeout time.Duration
	// ByHand, when set, may hold authorization and financial requests for a person to
	// answer (approve, decline with a code, never answer): the classroom's role play.
	ByHand ByHand
	// AdminToken, when set, is the bearer token the admin API requires (all but /healthz).
	AdminToken string
	// MAC is the algorithm the host verifies request MACs and computes answer MACs with
	// (default mac.None: UnionPay ECB for the cup dialect, X9.19 otherwise). A terminal
	// computing another one gets A0 (98 outside UnionPay): a field failure worth drilling.
	MAC mac.Algorithm
	// KSNField is the field a DUKPT terminal's KSN travels in (default 53,
	// iso.DefaultKSNField); a request carrying one is handled as DUKPT (docs/cup.md).
	KSNField int
}

// Acquirer is the mock card acquirer: an ISO 8583 server that authorizes against test
// cards, keeps a durable ledger and journal, and fails on purpose when fault rules say so.
type Acquirer struct {
	o      Options
	clk    clock.Clock
	log    *slog.Logger
	faults *fault.Engine
	st     store
	m      *metrics

	cardsByPAN map[string]cards.Card
	merchants  map[string]cards.Merchant
	maxAmount  map[string]int64 // per merchant, minor units
	fixtures   []cardState
	keys       *keyring // working keys delivered at sign-on, per terminal
	dukpt      dukptCounters
	emvKeys    *emv.Keys // test issuer keys: the cards' chip keys for ARQC/ARPC

	connSeq atomic.Int64

	mu        sync.Mutex
	listeners map[net.Listener]*listen.Listener
	conns     map[*serverConn]struct{}
	closed    bool
	closing   chan struct{}
	work      sync.WaitGroup // connections and request goroutines

	// testHook, when set, runs at the start of every request's processing (tests use it to
	// provoke a panic).
	testHook func(*iso.Message)
	// committed, when set, is told each request whose decision was committed, before the
	// answer goes out (tests wait on it instead of sleeping).
	committed func(mti, stan string)
}

// Public views of the state.

// Saturation says whether the acquirer can take more connections, for /healthz and
// /metrics.
type Saturation struct {
	Saturated bool   `json:"saturated"`
	Why       string `json:"why,omitempty"`
	Open      int    `json:"connections"`
	MaxConns  int    `json:"max_conns"`
	// Listeners are the accept loops' own counts (rejections, back-offs).
	Listeners []listen.Stats `json:"listeners"`
}

// Saturation reports the connections open against MaxConns and what the accept loops saw:
// saturated at 90% of MaxConns, or after a failed accept (out of descriptors) or a
// rejected connection within the last 10 s.
func (a *Acquirer) Saturation() Saturation {
	a.mu.Lock()
	s := Saturation{Open: len(a.conns), MaxConns: a.o.MaxConns, Listeners: []listen.Stats{}}
	for _, l := range a.listeners {
		s.Listeners = append(s.Listeners, l.Stats())
	}
	a.mu.Unlock()
	if s.Open*10 >= s.MaxConns*9 {
		s.Saturated = true
		s.Why = fmt.Sprintf("%d of %d connections open", s.Open, s.MaxConns)
	}
	for _, l := range s.Listeners {
		if l.Saturated && !s.Saturated {
			s.Saturated, s.Why = true, l.Why
		}
	}
	return s
}

// Balance is a card's ledger line, in minor units.
type Balance struct {
	Card      string `json:"card"`
	Opening   int64  `json:"opening"`
	Available int64  `json:"available"` // what can be spent now
	Held      int64  `json:"held"`      // pre-authorized, not captured yet
}

// Txn is a transaction as the host keeps it. Amount is what is in effect: the approved
// amount less what reversals restored.
type Txn struct {
	ID             int64     `json:"id"`
	Terminal       string    `json:"terminal"`
	STAN           string    `json:"stan"`
	MTI            string    `json:"mti"`
	ProcessingCode string    `json:"processing_code"`
	Card           string    `json:"card"`
	MaskedPAN      string    `json:"masked_pan"`
	Requested      int64     `json:"requested"`
	Amount         int64     `json:"amount"`
	ResponseCode   string    `json:"response_code"`
	State          string    `json:"state"`
	RRN            string    `json:"rrn"`
	AuthCode       string    `json:"auth_code"`
	Fault          string    `json:"fault,omitempty"`
	Batch          string    `json:"batch,omitempty"`
	Time           time.Time `json:"time"`
}

// Entry is one journal line: a message in or out, with the decision and the fault fired.
type Entry struct {
	ID             int64     `json:"id"`
	Time           time.Time `json:"time"`
	Conn           int64     `json:"conn"`
	Direction      string    `json:"direction"` // in, out
	MTI            string    `json:"mti"`
	STAN           string    `json:"stan"`
	RRN            string    `json:"rrn,omitempty"`
	Terminal       string    `json:"terminal"`
	MaskedPAN      string    `json:"masked_pan,omitempty"`
	Card           string    `json:"card,omitempty"`
	ProcessingCode string    `json:"processing_code,omitempty"`
	Amount         int64     `json:"amount"`
	ResponseCode   string    `json:"response_code,omitempty"`
	Decision       string    `json:"decision"`
	Fault          string    `json:"fault,omitempty"`        // rule name (or id) that fired
	FaultAction    string    `json:"fault_action,omitempty"` // its action
}

// FaultRecord is one firing of a fault rule, as Options.OnFault is told it. Nothing in it
// is card data: the request is named by MTI, STAN and terminal id.
type FaultRecord struct {
	Time   time.Time
	Conn   string // as ObserverFor's connID
	RuleID string
	Rule   string // the rule's name ("" when it has none)
	Action string
	// Params are the firing's parameters that are set, by their names in rule files: code,
	// ms, bytes, chunk, gap_ms, amount. Nil when it has none.
	Params map[string]string
	// The request the rule hit; empty for refuse_connections, which acts on a connection.
	MTI, STAN, Terminal string
}

// connID names connection n in traces and fault records.
func connID(n int64) string { return "c" + strconv.FormatInt(n, 10) }

// fired tells Options.OnFault about a firing.
func (a *Acquirer) fired(conn int64, f *fault.Firing, msg *iso.Message) {
	if a.o.OnFault == nil {
		return
	}
	r := FaultRecord{Time: a.clk.Now(), Conn: connID(conn), RuleID: f.RuleID, Rule: f.RuleName, Action: f.Action,
		Params: fault.ParamMap(f.Params)}
	if msg != nil {
		r.MTI, r.STAN, r.Terminal = msg.MTI, msg.STAN, msg.TerminalID
	}
	a.o.OnFault(r)
}

// Filter narrows Journal and Transactions; zero fields match everything.
type Filter struct {
	Terminal string
	Card     string // fixture name
	STAN     string
	Since    time.Time
	Limit    int
}

// New builds an acquirer and opens its store. Serve it on one or more listeners.
func New(o Options) (*Acquirer, error) {
	if o.Dialect == nil {
		o.Dialect = iso.ASCII
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Cards == nil {
		o.Cards = cards.Builtin()
	}
	if o.Faults == nil {
		o.Faults = fault.NewEngine(o.Seed, o.Clock)
	}
	if !o.Faults.HasCards() {
		// Rules added from now on (admin API, fault add) may only name cards this host has.
		o.Faults.Cards(o.Cards.Names())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.MaxConns <= 0 {
		o.MaxConns, _ = listen.DefaultMaxConns(DefaultMaxConns)
	}
	if o.MaxPerSource == 0 {
		o.MaxPerSource = DefaultMaxPerSource
	}
	if o.FirstFrameTimeout == 0 {
		o.FirstFrameTimeout = DefaultFirstFrame
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.FrameTimeout <= 0 {
		o.FrameTimeout = DefaultFrameTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	a := &Acquirer{
		o:          o,
		clk:        o.Clock,
		log:        o.Logger,
		faults:     o.Faults,
		m:          newMetrics(),
		cardsByPAN: map[string]cards.Card{},
		keys:       newKeyring(o.Seed),
		dukpt:      dukptCounters{high: map[string]uint32{}},
		emvKeys:    emv.DefaultKeys(),
		merchants:  map[string]cards.Merchant{},
		maxAmount:  map[string]int64{},
		listeners:  map[net.Listener]*listen.Listener{},
		conns:      map[*serverConn]struct{}{},
		closing:    make(chan struct{}),
	}
	for _, c := range o.Cards.Cards {
		bal, err := iso.ParseMoney(c.Balance)
		if err != nil {
			return nil, fmt.Errorf("acquirer: card %q: balance: %w", c.Name, err)
		}
		a.cardsByPAN[c.PAN] = c
		a.fixtures = append(a.fixtures, cardState{Name: c.Name, Opening: bal, Available: bal})
	}
	for _, m := range o.Cards.Merchants {
		a.merchants[m.ID] = m
		if m.MaxAmount != "" {
			v, err := iso.ParseMoney(m.MaxAmount)
			if err != nil {
				return nil, fmt.Errorf("acquirer: merchant %s: max_amount: %w", m.ID, err)
			}
			a.maxAmount[m.ID] = v
		}
	}
	a.m.watchSaturation(a)
	var err error
	if IsPostgresURL(o.DB) {
		a.st, err = openPostgres(o.DB, a.fixtures)
	} else {
		a.st, err = openSQLite(o.DB, a.fixtures)
	}
	if err != nil {
		return nil, fmt.Errorf("acquirer: %w", err)
	}
	// A restarted host must still refuse counters it accepted before (docs/cup.md "DUKPT").
	if a.dukpt.high, err = a.st.dukptCounters(); err != nil {
		a.st.close()
		return nil, fmt.Errorf("acquirer: %w", err)
	}
	return a, nil
}

// Faults returns the fault engine the acquirer consults.
func (a *Acquirer) Faults() *fault.Engine { return a.faults }

// Close stops accepting, closes every connection, waits for in-flight work (a delayed
// answer is abandoned) and closes the store.
func (a *Acquirer) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	close(a.closing)
	for ln := range a.listeners {
		ln.Close()
	}
	conns := make([]*serverConn, 0, len(a.conns))
	for c := range a.conns {
		conns = append(conns, c)
	}
	a.mu.Unlock()
	for _, c := range conns {
		c.ic.Close()
	}
	a.work.Wait()
	return a.st.close()
}

// Balance returns a card's ledger line, by fixture name.
func (a *Acquirer) Balance(card string) (Balance, error) {
	c, ok, err := a.st.card(card)
	if err != nil {
		return Balance{}, fmt.Errorf("balance of %q: %w", card, err)
	}
	if !ok {
		return Balance{}, fmt.Errorf("balance of %q: %w", card, ErrUnknownCard)
	}
	return Balance{Card: c.Name, Opening: c.Opening, Available: c.Available, Held: c.Held}, nil
}

// ErrUnknownCard: no card of that name in the fixtures.
var ErrUnknownCard = errors.New("no such card")

// Transactions lists transactions, oldest first.
func (a *Acquirer) Transactions(f Filter) ([]Txn, error) {
	recs, err := a.st.transactions(f)
	if err != nil {
		return nil, err
	}
	out := make([]Txn, len(recs))
	for i, r := range recs {
		out[i] = r.public()
	}
	return out, nil
}

func (r txnRecord) public() Txn {
	return Txn{ID: r.ID, Terminal: r.Terminal, STAN: r.STAN, MTI: r.MTI, ProcessingCode: r.Proc, Card: r.Card,
		MaskedPAN: r.MaskedPAN, Requested: r.Requested, Amount: r.Amount - r.Reversed, ResponseCode: r.Code,
		State: r.State, RRN: r.RRN, AuthCode: r.AuthCode, Fault: r.Fault, Batch: r.Batch, Time: r.Time}
}

// Journal lists journal entries, oldest first.
func (a *Acquirer) Journal(f Filter) ([]Entry, error) { return a.st.journal(f) }

// Reset puts the ledger back to the fixtures and empties the journal, transactions and
// batches. Fault rules are left alone (they have their own API).
func (a *Acquirer) Reset() error {
	fx := a.fixtures
	return a.st.update(context.Background(), func(tx storeTx) error { return tx.reset(fx) })
}
