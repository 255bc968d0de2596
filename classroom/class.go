package classroom

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/listen"
	"github.com/posdrill/posdrill/iso/suggest"
	"github.com/posdrill/posdrill/trainer"
)

// Options configure a Class.
type Options struct {
	Store *Store // the results file (required); the class never closes it
	// DB is the class acquirer's ledger (default ":memory:": a new day each class).
	DB         string
	Seed       int64
	Clock      clock.Clock // default clock.Real{}
	AdminToken string      // guards the acquirer's admin API (not the trainees' /class/ routes)
	Logger     *slog.Logger
	// OnChange, when set, is told that something a console shows changed (a trainee came
	// or went, started or finished a drill, a request waits for a hand answer). It must not
	// block.
	OnChange func()
	// Keepalive is how often an idle trainee stream gets a ping (default 15 s).
	Keepalive time.Duration
}

// Class is one trainer's class: the acquirer every trainee's terminal talks to, the
// trainees (a terminal id each, stable for a name), the results store, and what the
// trainer does to them (faults, drills, hand answers).
type Class struct {
	Acq   *acquirer.Acquirer
	store *Store
	clk   clock.Clock
	log   *slog.Logger
	o     Options

	drills []string // the drill names a class may start

	mu       sync.Mutex
	trainees map[string]*trainee // by name
	sessions map[string]*trainee // by session token
	armed    map[string]bool     // terminal id → its next request is answered by hand
	held     map[string]*held    // terminal id → request waiting for the trainer
}

type trainee struct {
	name, tid string
	session   string
	live      bool
	gen       int           // which stream is the live one
	cmds      chan string   // drills to start, to the live stream
	stop      chan struct{} // closes the live stream (taken over)
	drill     string        // in progress
	last      *Result
	own       map[string]bool // fault rule ids the trainee's own UI installed
}

type held struct {
	req acquirer.HandRequest
	ans chan acquirer.HandAnswer
}

// Trainee is a trainee as the console lists them.
type Trainee struct {
	Name     string
	Terminal string
	Online   bool
	Drill    string  // in progress ("" none)
	Last     *Result // the last finished drill
	Held     *acquirer.HandRequest
	Armed    bool // the next request is answered by hand
}

// ClassCards is the built-in fixture with the class terminal ids added to its first
// merchant, so every trainee's terminal is one the host accepts.
func ClassCards() *cards.Set {
	set := cards.Builtin()
	for i := 1; i <= MaxTrainees; i++ {
		set.Merchants[0].Terminals = append(set.Merchants[0].Terminals, TerminalID(i))
	}
	return set
}

// New builds the class's acquirer and loads the trainees the store knows (offline until
// they join again: a console restarted mid-class finds its class).
func New(o Options) (*Class, error) {
	if o.Store == nil {
		return nil, errors.New("classroom: a results store is required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Keepalive <= 0 {
		o.Keepalive = 15 * time.Second
	}
	if o.DB == "" {
		o.DB = ":memory:"
	}
	c := &Class{store: o.Store, clk: o.Clock, log: o.Logger, o: o, trainees: map[string]*trainee{},
		sessions: map[string]*trainee{}, armed: map[string]bool{}, held: map[string]*held{}}
	set := ClassCards()
	drills, _ := trainer.LibraryDrills(set)
	for _, d := range drills {
		c.drills = append(c.drills, d.Name)
	}
	known, err := o.Store.Trainees()
	if err != nil {
		return nil, err
	}
	results, err := o.Store.Results()
	if err != nil {
		return nil, err
	}
	for name, tid := range known {
		c.trainees[name] = &trainee{name: name, tid: tid}
	}
	for i := range results {
		if t := c.trainees[results[i].Trainee]; t != nil {
			t.last = &results[i]
		}
	}
	acq, err := acquirer.New(acquirer.Options{Seed: o.Seed, Clock: o.Clock, Cards: set, DB: o.DB,
		AdminToken: o.AdminToken, Logger: o.Logger, ByHand: c})
	if err != nil {
		return nil, fmt.Errorf("class acquirer: %w", err)
	}
	c.Acq = acq
	return c, nil
}

// Drills are the drill names StartDrill accepts.
func (c *Class) Drills() []string { return slices.Clone(c.drills) }

// Close stops the acquirer (the store is the caller's).
func (c *Class) Close() error { return c.Acq.Close() }

// Serve runs the acquirer on ln (ISO 8583) until Close.
func (c *Class) Serve(ln net.Listener) error { return c.Acq.Serve(ln) }

// ServeHTTP serves the admin and class API on ln (wrapped in the shared accept loop) with
// srv; it returns http.ErrServerClosed after srv.Shutdown.
func (c *Class) ServeHTTP(srv *http.Server, ln net.Listener) error {
	srv.Handler = c.Handler()
	// Shutdown does not end running handlers: the trainees' streams end at once, so their
	// terminals start rejoining (a restarted console) instead of waiting for a timeout.
	srv.RegisterOnShutdown(c.endStreams)
	return srv.Serve(listen.New(ln, listen.Options{MaxConns: 256, MaxPerSource: 64, ExemptLoopback: true, Logger: c.log}))
}

// endStreams closes every trainee's join stream.
func (c *Class) endStreams() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.trainees {
		if t.live {
			close(t.stop)
			t.live = false
			t.gen++ // the closed stream's handler must not touch the trainee again
		}
	}
}

func (c *Class) changed() {
	if c.o.OnChange != nil {
		c.o.OnChange()
	}
}

// Trainees lists the class by terminal id.
func (c *Class) Trainees() []Trainee {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Trainee, 0, len(c.trainees))
	for _, t := range c.trainees {
		v := Trainee{Name: t.name, Terminal: t.tid, Online: t.live, Drill: t.drill, Last: t.last, Armed: c.armed[t.tid]}
		if h := c.held[t.tid]; h != nil {
			r := h.req
			v.Held = &r
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Terminal < out[j].Terminal })
	return out
}

// Results are the store's results, oldest first.
func (c *Class) Results() ([]Result, error) { return c.store.Results() }

// Fault installs rule for one trainee's terminal (tid) or, with tid "", one copy for every
// trainee of the class. A rule without a count fires once: "the next transaction".
func (c *Class) Fault(tid string, rule fault.Rule) ([]string, error) {
	if rule.Count == 0 {
		rule.Count = 1
	}
	if len(rule.Match.MTI) == 0 {
		// "the next transaction": a sale, refund or pre-authorization, not a sign-on or echo
		rule.Match.MTI = fault.StringList{iso.MTIAuthRequest, iso.MTIFinancialRequest}
	}
	var tids []string
	c.mu.Lock()
	for _, t := range c.trainees {
		if tid == "" || t.tid == tid {
			tids = append(tids, t.tid)
		}
	}
	c.mu.Unlock()
	if len(tids) == 0 {
		if tid == "" {
			return nil, errors.New("fault for the class: no trainee has joined yet")
		}
		return nil, fmt.Errorf("fault for terminal %s: no trainee has that terminal id", tid)
	}
	sort.Strings(tids)
	var rules []fault.Rule
	for _, t := range tids {
		r := rule
		r.Match.Terminal = t
		rules = append(rules, r)
	}
	return c.Acq.Faults().Add(rules...)
}

// StartDrill opens drill name on every online trainee's terminal and returns how many.
func (c *Class) StartDrill(name string) (int, error) {
	if !slices.Contains(c.drills, name) {
		return 0, suggest.Unknown("drill", name, c.drills)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.trainees {
		if !t.live {
			continue
		}
		select {
		case t.cmds <- name:
			n++
		default:
			c.log.Warn("trainee's stream is not reading: drill not sent", "trainee", t.name)
		}
	}
	return n, nil
}

// AnswerNextByHand makes the next authorization or financial request of terminal tid wait
// for Decide (on or off).
func (c *Class) AnswerNextByHand(tid string, on bool) {
	c.mu.Lock()
	if on {
		c.armed[tid] = true
	} else {
		delete(c.armed, tid)
	}
	c.mu.Unlock()
	c.changed()
}

// Decide answers terminal tid's held request.
func (c *Class) Decide(tid string, ans acquirer.HandAnswer) error {
	c.mu.Lock()
	h := c.held[tid]
	delete(c.held, tid)
	c.mu.Unlock()
	if h == nil {
		return fmt.Errorf("terminal %s: no request is waiting for an answer", tid)
	}
	h.ans <- ans // buffered: never blocks
	c.changed()
	return nil
}

// Held returns the request of tid waiting for Decide, if any.
func (c *Class) Held(tid string) (acquirer.HandRequest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.held[tid]; h != nil {
		return h.req, true
	}
	return acquirer.HandRequest{}, false
}

// Answer implements acquirer.ByHand.
func (c *Class) Answer(ctx context.Context, r acquirer.HandRequest) (acquirer.HandAnswer, bool) {
	c.mu.Lock()
	if !c.armed[r.Terminal] || c.held[r.Terminal] != nil {
		c.mu.Unlock()
		return acquirer.HandAnswer{}, false
	}
	delete(c.armed, r.Terminal)
	h := &held{req: r, ans: make(chan acquirer.HandAnswer, 1)}
	c.held[r.Terminal] = h
	c.mu.Unlock()
	c.changed()
	select {
	case a := <-h.ans:
		return a, true
	case <-ctx.Done():
		c.mu.Lock()
		if c.held[r.Terminal] == h {
			delete(c.held, r.Terminal)
		}
		c.mu.Unlock()
		return acquirer.HandAnswer{}, false
	}
}

// ---- the class API the trainees' terminals use ----

// Handler is the class's HTTP API: /class/... for trainees (a session token from join,
// no admin token: a trainee must not be able to fault others), everything else the
// acquirer's admin API (admin token).
func (c *Class) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /class/join", c.join)
	mux.HandleFunc("POST /class/report", c.session(c.report))
	mux.HandleFunc("GET /class/balance/{card}", c.session(func(w http.ResponseWriter, r *http.Request, t *trainee) {
		b, err := c.Acq.Balance(r.PathValue("card"))
		if err != nil {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, b)
	}))
	mux.HandleFunc("GET /class/transactions", c.session(func(w http.ResponseWriter, r *http.Request, t *trainee) {
		txns, err := c.Acq.Transactions(acquirer.Filter{Terminal: t.tid})
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if txns == nil {
			txns = []acquirer.Txn{}
		}
		writeJSON(w, http.StatusOK, txns)
	}))
	mux.HandleFunc("GET /class/faults", c.session(func(w http.ResponseWriter, r *http.Request, t *trainee) {
		writeJSON(w, http.StatusOK, c.rulesOf(t.tid))
	}))
	mux.HandleFunc("POST /class/faults", c.session(func(w http.ResponseWriter, r *http.Request, t *trainee) {
		var rule fault.Rule
		if err := json.NewDecoder(r.Body).Decode(&rule); err != nil {
			writeError(w, http.StatusBadRequest, "fault rule: "+err.Error())
			return
		}
		if rule.Action == fault.ActionRefuseConnections {
			writeError(w, http.StatusForbidden, "refuse_connections would stop the whole class: only the trainer can")
			return
		}
		// A trainee's drill faults hit only their own terminal.
		rule.Match.Terminal = t.tid
		ids, err := c.Acq.Faults().Add(rule)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		c.mu.Lock()
		if t.own == nil {
			t.own = map[string]bool{}
		}
		for _, id := range ids {
			t.own[id] = true
		}
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string][]string{"ids": ids})
	}))
	mux.HandleFunc("DELETE /class/faults", c.session(func(w http.ResponseWriter, r *http.Request, t *trainee) {
		// Only the rules the trainee's UI installed: the trainer's fault for this trainee
		// stays armed when the trainee starts or ends a drill.
		c.mu.Lock()
		own := t.own
		t.own = nil
		c.mu.Unlock()
		for _, rule := range c.rulesOf(t.tid) {
			if own[rule.ID] {
				c.Acq.Faults().Remove(rule.ID)
			}
		}
		writeJSON(w, http.StatusOK, map[string]bool{"cleared": true})
	}))
	mux.HandleFunc("POST /class/reset", c.session(func(w http.ResponseWriter, r *http.Request, t *trainee) {
		writeError(w, http.StatusForbidden, "the class host's ledger is shared: only the trainer can reset it")
	}))
	mux.Handle("/", c.Acq.Admin())
	return mux
}

// rulesOf are the fault rules aimed at terminal tid.
func (c *Class) rulesOf(tid string) []fault.Rule {
	out := []fault.Rule{}
	for _, r := range c.Acq.Faults().List() {
		if strings.TrimSpace(r.Match.Terminal) == tid {
			out = append(out, r)
		}
	}
	return out
}

// session resolves the bearer token of a joined trainee.
func (c *Class) session(h func(http.ResponseWriter, *http.Request, *trainee)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		c.mu.Lock()
		t := c.sessions[tok]
		c.mu.Unlock()
		if tok == "" || t == nil {
			writeError(w, http.StatusUnauthorized, "not a session of this class: join first (posdrill train --class ADDR --name NAME)")
			return
		}
		h(w, r, t)
	}
}

// JoinRequest is the body of POST /class/join.
type JoinRequest struct {
	Name    string `json:"name"`
	Session string `json:"session,omitempty"` // the previous session's, when reconnecting
}

// StreamLine is one line of the join stream: first the terminal id and session, then drills
// to start and pings.
type StreamLine struct {
	Name     string `json:"name,omitempty"`
	Terminal string `json:"terminal,omitempty"`
	Session  string `json:"session,omitempty"`
	Drill    string `json:"drill,omitempty"`
	Ping     bool   `json:"ping,omitempty"`
}

// CheckName says what is wrong with a trainee name, or nil.
func CheckName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("a trainee needs a name (--name): the class lists and scores trainees by it")
	case name != strings.TrimSpace(name):
		return fmt.Errorf("name %q: no spaces at the start or end", name)
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > 32:
		return fmt.Errorf("name %q: at most 32 characters of UTF-8", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("name %q: no control characters", name)
	}
	return nil
}

// join registers a trainee and keeps the answer open as the stream of the class's
// commands; the trainee is online while it is.
func (c *Class) join(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	var req JoinRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "join: "+err.Error())
		return
	}
	if err := CheckName(req.Name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c.mu.Lock()
	t := c.trainees[req.Name]
	if t != nil && t.live && (req.Session == "" || req.Session != t.session) {
		c.mu.Unlock()
		writeError(w, http.StatusConflict, fmt.Sprintf("%s is already in this class on terminal %s (another posdrill train with this name is connected): choose another --name, or close that one first", req.Name, t.tid))
		return
	}
	if t == nil {
		tid, err := c.store.Register(req.Name)
		if err != nil {
			c.mu.Unlock()
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		t = &trainee{name: req.Name, tid: tid}
		c.trainees[req.Name] = t
	}
	if t.live {
		close(t.stop) // the same session again: its old stream is stale
	}
	if t.session == "" || req.Session != t.session {
		delete(c.sessions, t.session)
		t.session = newToken()
	}
	c.sessions[t.session] = t
	t.live, t.gen = true, t.gen+1
	t.cmds, t.stop = make(chan string, 8), make(chan struct{})
	gen, cmds, stop := t.gen, t.cmds, t.stop
	first := StreamLine{Name: t.name, Terminal: t.tid, Session: t.session}
	c.mu.Unlock()
	c.log.Info("trainee joined", "trainee", req.Name, "terminal", first.Terminal)
	c.changed()
	defer func() {
		c.mu.Lock()
		if t.gen == gen {
			t.live = false
		}
		c.mu.Unlock()
		c.changed()
	}()

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	fl, _ := w.(http.Flusher)
	send := func(l StreamLine) bool {
		if err := enc.Encode(l); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	if !send(first) {
		return
	}
	tick := time.NewTicker(c.o.Keepalive) // real time: it keeps proxies and NATs open
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-stop:
			return
		case d := <-cmds:
			if !send(StreamLine{Drill: d}) {
				return
			}
		case <-tick.C:
			if !send(StreamLine{Ping: true}) {
				return
			}
		}
	}
}

// Report is the body of POST /class/report: a drill started, or finished with its score.
type Report struct {
	Kind      string    `json:"kind"` // "started" or "finished"
	Drill     string    `json:"drill"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitempty"`
	Score     int       `json:"score"`
	Max       int       `json:"max"`
	Passed    bool      `json:"passed"`
	Missing   []string  `json:"missing"`
	Forbidden []string  `json:"forbidden"`
}

func (c *Class) report(w http.ResponseWriter, r *http.Request, t *trainee) {
	var rep Report
	if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
		writeError(w, http.StatusBadRequest, "report: "+err.Error())
		return
	}
	if rep.Drill == "" {
		writeError(w, http.StatusBadRequest, "report: drill is empty")
		return
	}
	switch rep.Kind {
	case "started":
		c.mu.Lock()
		t.drill = rep.Drill
		c.mu.Unlock()
	case "finished":
		res := Result{Trainee: t.name, Terminal: t.tid, Drill: rep.Drill, Started: rep.Started, Finished: rep.Finished,
			Score: rep.Score, Max: rep.Max, Passed: rep.Passed, Missing: nonNil(rep.Missing), Forbidden: nonNil(rep.Forbidden)}
		// Durable before the trainee's screen (or the console) shows the score.
		if err := c.store.Add(res); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		c.mu.Lock()
		t.last, t.drill = &res, ""
		c.mu.Unlock()
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("report: kind %q: want started or finished", rep.Kind))
		return
	}
	c.changed()
	writeJSON(w, http.StatusOK, map[string]bool{"recorded": true})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": iso.MaskText(msg)})
}
