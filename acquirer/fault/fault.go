package fault

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/suggest"
)

// Rule is one fault rule. Field names are the same in YAML and JSON (snake_case).
type Rule struct {
	ID     string `json:"id,omitempty" yaml:"id,omitempty"`
	Name   string `json:"name,omitempty" yaml:"name,omitempty"`
	Match  Match  `json:"match" yaml:"match"`
	Action string `json:"action" yaml:"action"`
	Params Params `json:"params" yaml:"params"`
	// After lets the first After matches through before the rule may fire.
	After int `json:"after,omitempty" yaml:"after,omitempty"`
	// Count caps how many times the rule fires; 0 = every match.
	Count int `json:"count,omitempty" yaml:"count,omitempty"`
	// Probability of firing on a match, 0..1; nil = 1.
	Probability *float64 `json:"probability,omitempty" yaml:"probability,omitempty"`

	// Matched and Fired are the engine's counters, reported by List; Add ignores them.
	Matched int `json:"matched,omitempty" yaml:"matched,omitempty"`
	Fired   int `json:"fired,omitempty" yaml:"fired,omitempty"`
}

// Match selects the requests a rule applies to. Empty fields match anything; all set fields
// must fit.
type Match struct {
	// MTI matches exactly: a rule for "0200" does not fire on the repeat "0201"; list both.
	MTI       StringList `json:"mti,omitempty" yaml:"mti,omitempty"`
	Card      string     `json:"card,omitempty" yaml:"card,omitempty"`             // card name the acquirer resolved (case-insensitive)
	PAN       string     `json:"pan,omitempty" yaml:"pan,omitempty"`               // exact card number
	PANPrefix string     `json:"pan_prefix,omitempty" yaml:"pan_prefix,omitempty"` // leading digits (BIN)
	Terminal  string     `json:"terminal,omitempty" yaml:"terminal,omitempty"`     // DE41, surrounding spaces ignored
	// STAN is DE11 exactly (6 digits): "the 0210 of STAN 000123" in a field report.
	STAN string `json:"stan,omitempty" yaml:"stan,omitempty"`
	// Amounts in major units ("25.00"); Amount is exact, AmountMin/AmountMax inclusive bounds.
	Amount    string `json:"amount,omitempty" yaml:"amount,omitempty"`
	AmountMin string `json:"amount_min,omitempty" yaml:"amount_min,omitempty"`
	AmountMax string `json:"amount_max,omitempty" yaml:"amount_max,omitempty"`
	// ProcessingCode: 6 digits exact, or 2 digits for the transaction type ("00" sale, "20" refund).
	ProcessingCode string `json:"processing_code,omitempty" yaml:"processing_code,omitempty"`
	EntryMode      string `json:"entry_mode,omitempty" yaml:"entry_mode,omitempty"` // chip|contactless|swipe|fallback|keyed|qr
}

// Params are the action's parameters; which ones an action takes is checked when parsing and
// adding.
type Params struct {
	Code   string `json:"code,omitempty" yaml:"code,omitempty"`     // decline: DE39
	MS     int    `json:"ms,omitempty" yaml:"ms,omitempty"`         // delay, refuse_connections
	Bytes  int    `json:"bytes,omitempty" yaml:"bytes,omitempty"`   // truncate_response
	Chunk  int    `json:"chunk,omitempty" yaml:"chunk,omitempty"`   // split_response
	GapMS  int    `json:"gap_ms,omitempty" yaml:"gap_ms,omitempty"` // split_response
	Amount string `json:"amount,omitempty" yaml:"amount,omitempty"` // partial_approval, major units; see iso.ParseMoney
}

// StringList is a string or a list of strings.
type StringList []string

// MarshalJSON writes a single element as a plain string.
func (s StringList) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// UnmarshalJSON accepts a string or a list of strings.
func (s *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

// UnmarshalYAML accepts a string or a list of strings (for callers decoding rules with goccy
// directly; ParseYAML does not go through it).
func (s *StringList) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*s = StringList{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

// Request is what the acquirer knows about an incoming message when it asks for a fault.
type Request struct {
	MTI, PAN, Card, Terminal, ProcessingCode string
	// EntryMode is a name (chip, contactless, ...) or the raw DE22 value ("051", "071", ...).
	EntryMode string
	STAN      string
	Amount    int64 // minor units
}

// Firing is the fault the acquirer must perform.
type Firing struct {
	RuleID, RuleName, Action string
	Params                   Params
}

// Engine holds the running rules. It is safe for concurrent use.
type Engine struct {
	mu     sync.Mutex
	rng    *rand.Rand
	clk    clock.Clock
	rules  []*entry
	nextID int
	// only, when set, is the actions Add accepts, and why others are refused.
	only       []string
	onlyReason string
	// cards, when set, are the card names a rule may match (see Cards).
	cards []string
}

// Cards makes Add refuse a rule that matches a card name not among names (compared without
// case), with "did you mean": such a rule would be accepted and never fire. The acquirer sets
// its card set's names; nil accepts any name.
func (e *Engine) Cards(names []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cards = append([]string(nil), names...)
}

// HasCards reports whether Cards was called.
func (e *Engine) HasCards() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cards != nil
}

// Restrict makes Add refuse rules whose action (after aliases) is not one of actions,
// saying reason: a fault proxy forwards the host's answers and cannot make it decline, so
// it accepts only NetworkActions.
func (e *Engine) Restrict(reason string, actions ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.only, e.onlyReason = append([]string(nil), actions...), reason
}

type entry struct {
	Rule
	addedAt          time.Time
	amount, min, max int64
	hasMin, hasMax   bool
}

// NewEngine returns an engine drawing all randomness from one generator seeded with seed, and
// all time from clk (nil means the real clock).
func NewEngine(seed int64, clk clock.Clock) *Engine {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Engine{rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)), clk: clk}
}

// Add validates rules and installs them after the running ones, all or nothing: if any rule
// is invalid nothing changes and the error is a *ParseError (wrapping ErrInvalidRule) naming
// each rule by its index in the call. IDs are assigned "f1", "f2", ... in order; IDs and
// counters in the input are ignored. Aliases are normalised to decline.
func (e *Engine) Add(rules ...Rule) ([]string, error) {
	entries := make([]*entry, 0, len(rules))
	var errs []PosError
	for i, r := range rules {
		r.ID, r.Matched, r.Fired = "", 0, 0
		if r.Probability != nil {
			p := *r.Probability // the caller's pointer must not alias engine state
			r.Probability = &p
		}
		r.Match.MTI = append(StringList(nil), r.Match.MTI...)
		for _, f := range normalize(&r, presentParams(r.Params)) {
			errs = append(errs, PosError{Rule: i, Field: f.field, Reason: f.reason, Msg: f.msg})
		}
		if f, bad := e.unknownCard(r.Match.Card); bad {
			errs = append(errs, PosError{Rule: i, Field: f.field, Reason: f.reason, Msg: f.msg})
		}
		if only, why := e.restriction(); only != nil && r.Action != "" && !contains(only, r.Action) {
			f := fe("action", "%s is not available here: %s (available: %s)", r.Action, why, strings.Join(only, ", "))
			errs = append(errs, PosError{Rule: i, Field: f.field, Reason: f.reason, Msg: f.msg})
		}
		en := &entry{Rule: r}
		// Validated above, so these parse.
		en.amount, _ = amountOrZero(r.Match.Amount)
		en.min, _ = amountOrZero(r.Match.AmountMin)
		en.max, _ = amountOrZero(r.Match.AmountMax)
		en.hasMin, en.hasMax = r.Match.AmountMin != "", r.Match.AmountMax != ""
		entries = append(entries, en)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("fault: add rules: %w", &ParseError{Errs: errs})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clk.Now()
	ids := make([]string, len(entries))
	for i, en := range entries {
		e.nextID++
		en.ID = "f" + strconv.Itoa(e.nextID)
		en.addedAt = now
		ids[i] = en.ID
	}
	e.rules = append(e.rules, entries...)
	return ids, nil
}

// unknownCard checks a rule's match.card against the names given to Cards.
func (e *Engine) unknownCard(card string) (fieldErr, bool) {
	e.mu.Lock()
	names := e.cards
	e.mu.Unlock()
	if names == nil || card == "" {
		return fieldErr{}, false
	}
	for _, n := range names {
		if strings.EqualFold(n, card) {
			return fieldErr{}, false
		}
	}
	// A card number given as a name is masked: errors go back over HTTP and into logs.
	return fe("match.card", "%s: such a rule would never fire", suggest.Unknown("card", iso.MaskText(card), names)), true
}

func (e *Engine) restriction() ([]string, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.only, e.onlyReason
}

func amountOrZero(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return iso.ParseMoney(s)
}

// Remove deletes a rule by id and reports whether it existed.
func (e *Engine) Remove(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, en := range e.rules {
		if en.ID == id {
			e.rules = append(e.rules[:i:i], e.rules[i+1:]...)
			return true
		}
	}
	return false
}

// Clear removes every rule. IDs keep counting up, so an old id never names a new rule.
func (e *Engine) Clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = nil
}

// List returns copies of the running rules, in evaluation order, with their counters.
func (e *Engine) List() []Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Rule, len(e.rules))
	for i, en := range e.rules {
		r := en.Rule
		r.Match.MTI = append(StringList(nil), r.Match.MTI...)
		if r.Probability != nil {
			p := *r.Probability
			r.Probability = &p
		}
		out[i] = r
	}
	return out
}

// Evaluate walks the rules in order and returns the first that fires for r, or nil. A rule
// whose match fits counts the match; it lets the first After matches through, stops once it
// has fired Count times, and, when 0 < probability < 1, fires on a draw from the engine's
// generator (so one seed gives one firing sequence). refuse_connections rules act on
// connections, not messages, and are skipped here.
func (e *Engine) Evaluate(r Request) *Firing {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, en := range e.rules {
		if en.Action == ActionRefuseConnections || !en.matches(&r) {
			continue
		}
		if e.fire(en) {
			return &Firing{RuleID: en.ID, RuleName: en.Name, Action: en.Action, Params: en.Params}
		}
	}
	return nil
}

// fire applies after/count/probability to a match of en. Called with e.mu held.
func (e *Engine) fire(en *entry) bool {
	en.Matched++
	if en.Matched <= en.After {
		return false
	}
	if en.Count > 0 && en.Fired >= en.Count {
		return false
	}
	if p := en.Probability; p != nil {
		switch {
		case *p <= 0:
			return false
		case *p < 1:
			// Drawn only here, so rules with p=1 or p=0 do not shift other rules' draws.
			if e.rng.Float64() >= *p {
				return false
			}
		}
	}
	en.Fired++
	return true
}

// RefuseConnections reports whether a new connection must be refused now: a
// refuse_connections rule is present and within its window (params.ms after it was added; 0 =
// until removed). Each call inside the window counts as a match of that rule, so after, count
// and probability apply per connection attempt.
func (e *Engine) RefuseConnections() bool { return e.RefuseConnection() != nil }

// RefuseConnection is RefuseConnections that also says which rule refused: the firing of
// the refuse_connections rule, or nil when the connection may be accepted.
func (e *Engine) RefuseConnection() *Firing {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clk.Now()
	for _, en := range e.rules {
		if en.Action != ActionRefuseConnections {
			continue
		}
		if en.Params.MS > 0 && !now.Before(en.addedAt.Add(time.Duration(en.Params.MS)*time.Millisecond)) {
			continue
		}
		if e.fire(en) {
			return &Firing{RuleID: en.ID, RuleName: en.Name, Action: en.Action, Params: en.Params}
		}
	}
	return nil
}

func (en *entry) matches(r *Request) bool {
	m := &en.Match
	if len(m.MTI) > 0 && !contains(m.MTI, r.MTI) {
		return false
	}
	if m.Card != "" && !strings.EqualFold(m.Card, r.Card) {
		return false
	}
	if m.PAN != "" && m.PAN != r.PAN {
		return false
	}
	if m.PANPrefix != "" && !strings.HasPrefix(r.PAN, m.PANPrefix) {
		return false
	}
	if m.Terminal != "" && strings.TrimSpace(m.Terminal) != strings.TrimSpace(r.Terminal) {
		return false
	}
	if m.STAN != "" && m.STAN != r.STAN {
		return false
	}
	if m.Amount != "" && r.Amount != en.amount {
		return false
	}
	if en.hasMin && r.Amount < en.min || en.hasMax && r.Amount > en.max {
		return false
	}
	if pc := m.ProcessingCode; pc != "" && !(len(pc) == 2 && strings.HasPrefix(r.ProcessingCode, pc) || pc == r.ProcessingCode) {
		return false
	}
	if mode, _ := iso.EntryModeNamed(r.EntryMode); m.EntryMode != "" && m.EntryMode != mode {
		return false
	}
	return true
}

// Masked is r as listings show it: its card number masked (first 6 / last 4) and its
// pan_prefix cut to the first 6 digits (the BIN), the rest starred, since a long prefix is
// most of a card number.
func (r Rule) Masked() Rule {
	if r.Match.PAN != "" {
		r.Match.PAN = iso.MaskPAN(r.Match.PAN)
	}
	if p := r.Match.PANPrefix; len(p) > 6 {
		r.Match.PANPrefix = p[:6] + strings.Repeat("*", len(p)-6)
	}
	return r
}
