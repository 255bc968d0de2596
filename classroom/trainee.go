package classroom

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator/tui"
	"github.com/posdrill/posdrill/trainer"
)

// ErrNameInUse is wrapped by Join's error when another live session has the name.
var ErrNameInUse = errors.New("name in use")

// joinError is a join the class refused; errors.Is(err, ErrNameInUse) for a name in use.
type joinError struct {
	msg   string
	inUse bool
}

func (e *joinError) Error() string        { return e.msg }
func (e *joinError) Is(target error) bool { return e.inUse && target == ErrNameInUse }

// Link is a trainee's connection to the class: the terminal id it was given, the drills
// the trainer starts, and the results it reports. When the connection drops it joins
// again by itself with the same name (and so the same terminal id) until Close.
type Link struct {
	name string
	base string
	http *http.Client // the join stream: no overall timeout

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	drills chan string

	mu      sync.Mutex
	session string
	tid     string
	online  bool
	api     *acquirer.AdminClient // /class/... with the session token
	body    io.Closer             // the join stream open now
	onState []func(online bool)
}

// Join registers name with the class whose API is at addr (HOST:PORT or URL) and returns
// once the class has assigned the terminal id.
func Join(ctx context.Context, addr, name string) (*Link, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	probe, err := acquirer.NewAdminClient(addr, "")
	if err != nil {
		return nil, fmt.Errorf("--class: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &Link{name: name, base: probe.Base(), ctx: lctx, cancel: cancel, done: make(chan struct{}), drills: make(chan string, 8),
		http: &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}}
	sc, err := l.connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go l.run(sc)
	return l, nil
}

// Terminal is the terminal id the class gave this trainee.
func (l *Link) Terminal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tid
}

// Online reports whether the class connection is up now.
func (l *Link) Online() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.online
}

// OnState adds f, told each time the connection goes down or comes back.
func (l *Link) OnState(f func(online bool)) {
	l.mu.Lock()
	l.onState = append(l.onState, f)
	l.mu.Unlock()
}

func (l *Link) tell(online bool) {
	l.mu.Lock()
	l.online = online
	fs := l.onState
	l.mu.Unlock()
	for _, f := range fs {
		f(online)
	}
}

// Drills delivers the drills the trainer starts for the class.
func (l *Link) Drills() <-chan string { return l.drills }

// Drop closes the connection as a network failure would (tests); the link joins again.
func (l *Link) Drop() {
	l.mu.Lock()
	if l.body != nil {
		l.body.Close()
	}
	l.mu.Unlock()
}

// Close leaves the class.
func (l *Link) Close() error {
	l.cancel()
	l.Drop()
	<-l.done
	return nil
}

// connect joins (again) and reads the first line of the stream.
func (l *Link) connect(ctx context.Context) (*bufio.Scanner, error) {
	l.mu.Lock()
	req := JoinRequest{Name: l.name, Session: l.session}
	l.mu.Unlock()
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(l.ctx, http.MethodPost, l.base+"/class/join", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	// ctx bounds the join itself; the stream lives until Close.
	stop := context.AfterFunc(ctx, l.Drop)
	defer stop()
	resp, err := l.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("join the class at %s: %w", l.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, &joinError{msg: fmt.Sprintf("join the class at %s: %s", l.base, iso.MaskText(msg)), inUse: resp.StatusCode == http.StatusConflict}
	}
	sc := bufio.NewScanner(resp.Body)
	l.mu.Lock()
	l.body = resp.Body
	l.mu.Unlock()
	if !sc.Scan() {
		resp.Body.Close()
		return nil, fmt.Errorf("join the class at %s: the class closed the connection before giving a terminal id", l.base)
	}
	var first StreamLine
	if err := json.Unmarshal(sc.Bytes(), &first); err != nil || first.Terminal == "" || first.Session == "" {
		resp.Body.Close()
		return nil, fmt.Errorf("join the class at %s: not a posdrill class (first line %q)", l.base, truncate(sc.Text(), 80))
	}
	api, err := acquirer.NewAdminClient(l.base, first.Session)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	l.mu.Lock()
	l.session, l.tid, l.api = first.Session, first.Terminal, api
	l.mu.Unlock()
	l.tell(true)
	return sc, nil
}

// run reads the stream and joins again after a drop, until Close.
func (l *Link) run(sc *bufio.Scanner) {
	defer close(l.done)
	for {
		for sc.Scan() {
			var line StreamLine
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Drill != "" {
				select {
				case l.drills <- line.Drill:
				default: // nobody follows: the drill is not queued for later
				}
			}
		}
		l.tell(false)
		wait := 50 * time.Millisecond
		for {
			if l.ctx.Err() != nil {
				return
			}
			var err error
			if sc, err = l.connect(l.ctx); err == nil {
				break
			}
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(wait): // real time: a network comes back in real time
			}
			wait = min(2*wait, 2*time.Second)
		}
	}
}

func (l *Link) client() *acquirer.AdminClient {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.api
}

// Apply makes a training terminal a member of the class: its terminal id, the trainer
// panel scoped to it, and its drills reported.
func (l *Link) Apply(o *trainer.Options) {
	o.TID = l.Terminal()
	o.HostView = classHost{l}
	o.DrillStarted = l.DrillStarted
	o.RecordDrill = l.RecordDrill
	o.Class = l.name
}

// Follow starts the drills the trainer starts on app until Close, and tells it when the
// class connection drops and comes back.
func (l *Link) Follow(app *tui.App) {
	l.OnState(app.ClassLink)
	go func() {
		for {
			select {
			case <-l.ctx.Done():
				return
			case d := <-l.drills:
				app.StartDrill(d)
			}
		}
	}()
}

// DrillStarted tells the class (best effort: the console shows it).
func (l *Link) DrillStarted(ctx context.Context, name string, at time.Time) {
	_ = l.client().Do(ctx, http.MethodPost, "/class/report", Report{Kind: "started", Drill: name, Started: at}, nil)
}

// RecordDrill reports a finished drill and returns once the class has it on disk. While
// the link is down it keeps trying, up to 30 s.
func (l *Link) RecordDrill(ctx context.Context, r tui.DrillRecord) error {
	missing, forbidden := r.Missing()
	rep := Report{Kind: "finished", Drill: r.Drill, Started: r.Started, Finished: r.Finished, Score: r.Score, Max: r.Max,
		Passed: r.Passed, Missing: nonNil(missing), Forbidden: nonNil(forbidden)}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		err := l.client().Do(ctx, http.MethodPost, "/class/report", rep, nil)
		var ae *acquirer.AdminError
		if err == nil || (errors.As(err, &ae) && ae.Status != http.StatusUnauthorized && ae.Refused()) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the class did not take the result: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// classHost is the trainer panel's host for a trainee: the class's API, scoped to the
// trainee's terminal (its transactions, its faults).
type classHost struct{ l *Link }

func (h classHost) Balance(ctx context.Context, card string) (tui.Balance, error) {
	var b acquirer.Balance
	err := h.l.client().Do(ctx, http.MethodGet, "/class/balance/"+url.PathEscape(card), nil, &b)
	return tui.Balance{Card: card, Opening: b.Opening, Available: b.Available, Held: b.Held}, err
}

// Transactions are always the trainee's own terminal's: the class shares one host.
func (h classHost) Transactions(ctx context.Context, _ string, limit int) ([]tui.HostTxn, error) {
	var txns []acquirer.Txn
	if err := h.l.client().Do(ctx, http.MethodGet, "/class/transactions", nil, &txns); err != nil {
		return nil, err
	}
	return trainer.HostTxns(txns, limit), nil
}

func (h classHost) AddFault(ctx context.Context, f tui.FaultSpec) (string, error) {
	var out struct {
		IDs []string `json:"ids"`
	}
	if err := h.l.client().Do(ctx, http.MethodPost, "/class/faults", trainer.RuleOf(f), &out); err != nil || len(out.IDs) == 0 {
		return "", err
	}
	return out.IDs[0], nil
}

func (h classHost) Faults(ctx context.Context) ([]tui.FaultSpec, error) {
	var rules []fault.Rule
	if err := h.l.client().Do(ctx, http.MethodGet, "/class/faults", nil, &rules); err != nil {
		return nil, err
	}
	out := make([]tui.FaultSpec, 0, len(rules))
	for _, r := range rules {
		out = append(out, trainer.SpecOf(r))
	}
	return out, nil
}

func (h classHost) ClearFaults(ctx context.Context) error {
	return h.l.client().Do(ctx, http.MethodDelete, "/class/faults", nil, nil)
}

func (h classHost) Reset(ctx context.Context) error {
	return h.l.client().Do(ctx, http.MethodPost, "/class/reset", nil, nil)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
