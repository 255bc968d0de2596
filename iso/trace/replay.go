package trace

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/decode"
)

// DefaultIgnore are the answer fields that legitimately differ from one run to the next
// and are not compared by default: DE7 transmission time, DE12/DE13 local time and date,
// DE37 retrieval reference number and DE38 authorization code (both assigned by the host).
var DefaultIgnore = []int{7, 12, 13, 37, 38}

// Mapping turns masked card data in a trace back into test cards. Cards maps a masked PAN
// as the trace shows it ("411111******1111") to a card name of the card set or a full PAN;
// Fields gives values for fields that are masked or must change in every replayed request
// (binary fields as hex).
type Mapping struct {
	Cards  map[string]string
	Fields map[int]string
}

// LoadMapping reads a mapping file (YAML or JSON):
//
//	cards:
//	  "411111******1111": visa-ok
//	fields:
//	  55: 9F2608...
func LoadMapping(path string) (Mapping, error) {
	raw, err := bounded.ReadFile(path, bounded.MaxDocument)
	if err != nil {
		return Mapping{Cards: map[string]string{}, Fields: map[int]string{}}, err
	}
	return ParseMapping(raw, path)
}

// ParseMapping reads a mapping document (see LoadMapping); path names it in errors.
func ParseMapping(raw []byte, path string) (Mapping, error) {
	m := Mapping{Cards: map[string]string{}, Fields: map[int]string{}}
	root, err := decode.ParseLiteral(raw, path)
	if err != nil {
		return m, err
	}
	at := func(l *decode.Literal, format string, args ...any) error {
		return fmt.Errorf("%s:%d:%d: %s", path, l.Line, l.Column, fmt.Sprintf(format, args...))
	}
	if root.Map == nil {
		return m, at(root, "expected a map with cards and fields")
	}
	for _, k := range root.Keys {
		v := root.Map[k]
		switch k {
		case "cards":
			if v.Map == nil {
				return m, at(v, "cards must map a masked PAN to a card name or PAN")
			}
			for _, masked := range v.Keys {
				m.Cards[masked] = v.Map[masked].Scalar
			}
		case "fields":
			if v.Map == nil {
				return m, at(v, "fields must map a field number or name to a value")
			}
			for _, fk := range v.Keys {
				id, ok := decode.FieldID(fk)
				if !ok {
					return m, fmt.Errorf("%s:%d:%d: unknown field %q", path, v.Map[fk].KeyLine, v.Map[fk].KeyColumn, fk)
				}
				m.Fields[id] = v.Map[fk].Scalar
			}
		default:
			return m, fmt.Errorf("%s:%d:%d: unknown key %q: use cards and fields", path, v.KeyLine, v.KeyColumn, k)
		}
	}
	return m, nil
}

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Dial opens a connection to the host (one per recorded connection).
	Dial    func(ctx context.Context) (net.Conn, error)
	Dialect *iso.Dialect // default: the trace's, else iso.ASCII
	Framing iso.Framing
	TPDU    []byte // for +tpdu framings (default: the recorded one)
	// AsRecorded keeps the recorded gaps between requests; otherwise each request goes as
	// soon as the previous one is answered (or timed out).
	AsRecorded bool
	// Timeout is how long to wait for each answer (default 30 s). A request whose answer
	// was lost in the recording waits this long before "no answer" is confirmed.
	Timeout time.Duration
	Ignore  []int      // answer fields not compared (default DefaultIgnore)
	Cards   *cards.Set // for masked PANs (default cards.Builtin())
	Map     Mapping
	Clock   clock.Clock // for gaps and timeouts (default real)
	// Refresh gives every request a new STAN (DE11) and the current DE7, DE12 and DE13
	// (where the recording has them), so that replaying to the host that saw the recording
	// does not meet 94 duplicates; a reversal or repeat keeps pointing at its original (its
	// STAN, and DE90, follow the original's new values). DE11 and DE90 of the answers are
	// then not compared.
	Refresh bool
}

// ErrUnreachable is wrapped by Replay's error when the host cannot be connected to.
var ErrUnreachable = errors.New("host unreachable")

// Diff is one difference between a recorded answer and today's.
type Diff struct {
	Field    int    // 0: the MTI; -1: the answer itself (one side has none)
	Recorded string // "" when absent
	Got      string
}

// Exchange is one replayed request with the recorded and the new answer.
type Exchange struct {
	Request  Message  // as recorded (masked)
	Sent     *Message // as sent now (masked); differs from Request with ReplayOptions.Refresh
	Recorded *Message // nil: no answer was recorded (lost, or the terminal gave up)
	Got      *Message // nil: no answer now
	Err      error    // why there is no answer now (timeout, connection closed)
	Diffs    []Diff
	Notes    []string // fields that could not be replayed as recorded
}

// Report is the outcome of a replay.
type Report struct {
	Source    Source // whose records were replayed
	Exchanges []Exchange
}

// Differences counts the differences over all exchanges.
func (r *Report) Differences() int {
	n := 0
	for _, e := range r.Exchanges {
		n += len(e.Diffs)
	}
	return n
}

// Requests picks the terminal side of a trace: the requests and advices the terminal sent,
// each with the answer recorded for it (matched like iso.Conn does: MTI class, DE41, DE11,
// on the same connection). When the trace holds several sources (a runner writes both the
// terminal's and the acquirer's view), one is used: terminal, then proxy, then acquirer,
// then runner.
func Requests(recs []Record) (Source, []Exchange) {
	bySource := map[Source][]*Message{}
	for _, r := range recs {
		if r.Message != nil {
			bySource[r.Message.Source] = append(bySource[r.Message.Source], r.Message)
		}
	}
	for _, src := range []Source{SourceTerminal, SourceProxy, SourceAcquirer, SourceRunner} {
		msgs := bySource[src]
		if len(msgs) == 0 {
			continue
		}
		sent := iso.Out // a terminal's own view
		if src == SourceProxy || src == SourceAcquirer {
			sent = iso.In
		}
		var out []Exchange
		answered := map[int]bool{}
		for i, m := range msgs {
			if m.Dir != sent || !iso.ValidMTI(m.MTI) || iso.IsResponse(m.MTI) {
				continue
			}
			ex := Exchange{Request: *m}
			for j := i + 1; j < len(msgs); j++ {
				a := msgs[j]
				sameConn := a.Conn == m.Conn || a.Conn == "" || m.Conn == "" // imports may not say
				if a.Dir == sent || answered[j] || !sameConn || !iso.ValidMTI(a.MTI) || !iso.IsResponse(a.MTI) {
					continue
				}
				if iso.Answers(iso.AnswerKeyOf(m.MTI, m.STAN, m.Terminal), iso.AnswerKeyOf(a.MTI, a.STAN, a.Terminal)) {
					answered[j] = true
					ex.Recorded = msgs[j]
					break
				}
			}
			out = append(out, ex)
		}
		if len(out) > 0 {
			return src, out
		}
	}
	return "", nil
}

// Replay sends the terminal side of a trace to a host again and compares every answer
// with the recorded one, field by field. Requests go in recorded order, one at a time; a
// new connection is opened for each recorded connection (and again after the host closed
// one). Masked card numbers are mapped back to test cards (o.Map first, then the card set
// by first 6 and last 4 digits); a masked PIN block is computed again from the card's PIN
// under the test key; other masked fields come from o.Map.Fields or are left out (noted).
func Replay(ctx context.Context, recs []Record, o ReplayOptions) (*Report, error) {
	if o.Dial == nil {
		return nil, errors.New("replay: no host to dial")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Ignore == nil {
		o.Ignore = DefaultIgnore
	}
	if o.Refresh {
		o.Ignore = append(slices.Clone(o.Ignore), 11, 90)
	}
	if o.Cards == nil {
		o.Cards = cards.Builtin()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	src, exs := Requests(recs)
	if len(exs) == 0 {
		return nil, errors.New("replay: the trace holds no request sent by a terminal")
	}
	if o.Dialect == nil {
		o.Dialect = iso.ASCII
		if name := exs[0].Request.Dialect; name != "" {
			if d, err := iso.DialectByName(name); err == nil {
				o.Dialect = d
			}
		}
	}
	rep := &Report{Source: src}
	fresh := newRefresher(o.Clock.Now())
	var (
		conn     *iso.Conn
		connID   string
		start    = o.Clock.Now()
		recStart = exs[0].Request.Time
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for _, ex := range exs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		req, notes, err := Unmask(ex.Request, o.Cards, o.Map)
		if err != nil {
			return rep, fmt.Errorf("replay: request %s STAN %s (trace line time %s): %w", ex.Request.MTI, ex.Request.STAN,
				formatTime(ex.Request.Time), err)
		}
		ex.Notes = notes
		if o.Refresh {
			fresh.apply(req, o.Clock.Now())
		}
		if o.AsRecorded && !recStart.IsZero() && !ex.Request.Time.IsZero() {
			due := start.Add(ex.Request.Time.Sub(recStart))
			if wait := due.Sub(o.Clock.Now()); wait > 0 {
				o.Clock.Sleep(wait)
			}
		}
		if conn == nil || ex.Request.Conn != connID || isDone(conn) {
			if conn != nil {
				conn.Close()
			}
			nc, err := o.Dial(ctx)
			if err != nil {
				return rep, fmt.Errorf("replay: connecting for %s STAN %s: %w: %w", ex.Request.MTI, ex.Request.STAN, ErrUnreachable, err)
			}
			tpdu := o.TPDU
			if tpdu == nil && ex.Request.TPDU != "" {
				tpdu, _ = hex.DecodeString(ex.Request.TPDU)
			}
			conn = iso.NewConn(nc, iso.WithDialect(o.Dialect), iso.WithFraming(o.Framing), iso.WithClock(o.Clock),
				iso.WithTPDU(tpdu))
			connID = ex.Request.Conn
		}
		sent := FromMessage(o.Dialect, iso.Out, req)
		ex.Sent = &sent
		ans, err := conn.Send(ctx, req, o.Timeout)
		if err != nil {
			ex.Err = err
		} else {
			got := FromMessage(o.Dialect, iso.In, ans)
			ex.Got = &got
		}
		ex.Diffs = compare(ex.Recorded, ex.Got, o.Ignore)
		rep.Exchanges = append(rep.Exchanges, ex)
	}
	return rep, nil
}

// refresher gives replayed requests new STANs and times (ReplayOptions.Refresh).
type refresher struct {
	next int
	// stan maps a recorded terminal+STAN to the new one, and orig a recorded DE90 prefix
	// (MTI, STAN, DE7) to the new one, so reversals and repeats follow their original.
	stan map[string]string
	orig map[string]string
}

func newRefresher(now time.Time) *refresher {
	// Start where the clock is in the day: a replay an hour later does not reuse the STANs
	// of the first one.
	secs := now.Hour()*3600 + now.Minute()*60 + now.Second()
	return &refresher{next: secs*10%999999 + 1, stan: map[string]string{}, orig: map[string]string{}}
}

func (f *refresher) apply(m *iso.Message, now time.Time) {
	oldKey := m.MTI + m.STAN + m.TransmissionTime
	tid := strings.TrimSpace(m.TerminalID)
	reversalOrRepeat := len(m.MTI) == 4 && (m.MTI[1] == '4' || iso.IsRepeat(m.MTI))
	if s, ok := f.stan[tid+"/"+m.STAN]; ok && reversalOrRepeat {
		m.STAN = s
	} else if m.STAN != "" {
		s := fmt.Sprintf("%06d", f.next)
		f.next = f.next%999999 + 1
		f.stan[tid+"/"+m.STAN] = s
		m.STAN = s
	}
	if m.TransmissionTime != "" {
		m.TransmissionTime = now.UTC().Format("0102150405")
	}
	if m.LocalTime != "" {
		m.LocalTime = now.Format("150405")
	}
	if m.LocalDate != "" {
		m.LocalDate = now.Format("0102")
	}
	if len(m.OriginalData) >= 20 {
		if n, ok := f.orig[m.OriginalData[:20]]; ok {
			m.OriginalData = n + m.OriginalData[20:]
		}
	}
	f.orig[oldKey] = m.MTI + m.STAN + m.TransmissionTime
}

func isDone(c *iso.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

func compare(rec, got *Message, ignore []int) []Diff {
	switch {
	case rec == nil && got == nil:
		return nil
	case rec == nil:
		return []Diff{{Field: -1, Recorded: "", Got: got.MTI}}
	case got == nil:
		return []Diff{{Field: -1, Recorded: rec.MTI, Got: ""}}
	}
	var d []Diff
	if rec.MTI != got.MTI {
		d = append(d, Diff{Field: 0, Recorded: rec.MTI, Got: got.MTI})
	}
	ids := map[int]bool{}
	for id := range rec.Fields {
		ids[id] = true
	}
	for id := range got.Fields {
		ids[id] = true
	}
	keys := make([]int, 0, len(ids))
	for id := range ids {
		if !slices.Contains(ignore, id) {
			keys = append(keys, id)
		}
	}
	slices.Sort(keys)
	for _, id := range keys {
		if rec.Fields[id] != got.Fields[id] {
			d = append(d, Diff{Field: id, Recorded: rec.Fields[id], Got: got.Fields[id]})
		}
	}
	return d
}

// Unmask rebuilds a request from its masked record: masked card numbers become test cards,
// a masked PIN block is computed again from the card's PIN, other masked fields come from
// m.Fields or are left out (listed in notes).
func Unmask(rec Message, set *cards.Set, m Mapping) (*iso.Message, []string, error) {
	msg := &iso.Message{MTI: rec.MTI}
	var notes []string
	var card *cards.Card
	lookup := func(masked string) (cards.Card, error) {
		if card != nil {
			return *card, nil
		}
		c, err := CardFor(masked, set, m)
		if err == nil {
			card = &c
		}
		return c, err
	}
	// The card first, from DE2 or DE35, so that DE52 can be computed whatever the order.
	for _, id := range []int{2, 35} {
		if v, ok := rec.Fields[id]; ok && strings.Contains(v, "*") {
			pan := v
			if i := strings.IndexAny(v, "=D"); i >= 0 {
				pan = v[:i]
			}
			if _, err := lookup(pan); err != nil {
				return nil, nil, fmt.Errorf("DE%d: %w", id, err)
			}
		}
	}
	for _, id := range rec.SortedFields() {
		v := rec.Fields[id]
		if over, ok := m.Fields[id]; ok {
			v = over
		} else if n, masked := decode.IsMaskedBinary(v); masked {
			if id == 52 && card != nil {
				block, err := iso.EncryptPINBlock(card.PIN, card.PAN, iso.TestPINKey)
				if err != nil {
					return nil, nil, fmt.Errorf("DE52: %w", err)
				}
				v = strings.ToUpper(hex.EncodeToString(block))
			} else {
				notes = append(notes, fmt.Sprintf("DE%d (%d bytes) is masked in the trace and was left out; give it in the mapping file to send it", id, n))
				continue
			}
		} else if strings.Contains(v, "*") {
			switch id {
			case 2:
				v = card.PAN
			case 35:
				v = card.Track2()
			default:
				notes = append(notes, fmt.Sprintf("DE%d is masked in the trace and was left out; give it in the mapping file to send it", id))
				continue
			}
		}
		if err := msg.Set(id, v); err != nil {
			return nil, nil, err
		}
	}
	return msg, notes, nil
}

// CardFor finds the test card behind a masked PAN: the mapping first (a card name or a
// full PAN), then the one card of the set with the same length, first 6 and last 4 digits.
func CardFor(masked string, set *cards.Set, m Mapping) (cards.Card, error) {
	if to, ok := m.Cards[masked]; ok {
		if c, ok := set.ByName(to); ok {
			return c, nil
		}
		if c, ok := set.ByPAN(to); ok {
			return c, nil
		}
		if cards.Luhn(to) && len(to) == len(masked) {
			return cards.Card{Name: "mapped", PAN: to, Expiry: "4912"}, nil
		}
		return cards.Card{}, fmt.Errorf("the mapping gives %q for %s: not a card name of the set nor a PAN of the same length", iso.MaskText(to), masked)
	}
	var found []cards.Card
	for _, c := range set.Cards {
		if len(c.PAN) == len(masked) && iso.MaskPAN(c.PAN) == masked {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return cards.Card{}, fmt.Errorf("no test card matches %s: map it with --map (cards: {%q: CARD-NAME})", masked, masked)
	}
	names := make([]string, len(found))
	for i, c := range found {
		names[i] = c.Name
	}
	return cards.Card{}, fmt.Errorf("%s matches several test cards (%s): choose one with --map", masked, strings.Join(names, ", "))
}

// Write prints the report for people: one line per exchange, the differences under it, a
// summary at the end.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	for i, ex := range r.Exchanges {
		q := ex.Request
		fmt.Fprintf(&b, "#%d %s STAN %s terminal %s: ", i+1, q.MTI, q.STAN, q.Terminal)
		switch {
		case ex.Recorded == nil && ex.Got == nil:
			b.WriteString("no answer, as recorded")
		case ex.Got == nil:
			fmt.Fprintf(&b, "recorded %s", answerText(ex.Recorded))
		case ex.Recorded == nil:
			fmt.Fprintf(&b, "now %s", answerText(ex.Got))
		default:
			fmt.Fprintf(&b, "%s", answerText(ex.Got))
		}
		if len(ex.Diffs) == 0 {
			b.WriteString(" — same\n")
		} else {
			fmt.Fprintf(&b, " — %d difference(s)\n", len(ex.Diffs))
		}
		for _, d := range ex.Diffs {
			switch d.Field {
			case -1:
				if d.Got == "" {
					why := "no answer"
					if ex.Err != nil {
						why = "no answer (" + iso.MaskText(ex.Err.Error()) + ")"
					}
					fmt.Fprintf(&b, "    answer: recorded %s, now %s\n", answerText(ex.Recorded), why)
				} else {
					fmt.Fprintf(&b, "    answer: recorded none (lost), now %s\n", answerText(ex.Got))
				}
			case 0:
				fmt.Fprintf(&b, "    MTI: recorded %s, now %s\n", d.Recorded, d.Got)
			default:
				fmt.Fprintf(&b, "    DE%d: recorded %s, now %s\n", d.Field, show(d.Field, d.Recorded), show(d.Field, d.Got))
			}
		}
		for _, n := range ex.Notes {
			fmt.Fprintf(&b, "    note: %s\n", n)
		}
	}
	n := r.Differences()
	fmt.Fprintf(&b, "replayed %d request(s) from the %s's records: ", len(r.Exchanges), r.Source)
	if n == 0 {
		b.WriteString("no differences\n")
	} else {
		changed := 0
		for _, ex := range r.Exchanges {
			if len(ex.Diffs) > 0 {
				changed++
			}
		}
		fmt.Fprintf(&b, "%d difference(s) in %d answer(s)\n", n, changed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func answerText(m *Message) string {
	if m == nil {
		return "no answer"
	}
	s := m.MTI
	if rc, ok := m.Fields[39]; ok {
		s += " DE39 " + show(39, rc)
	}
	return s
}

func show(id int, v string) string {
	if v == "" {
		return "(absent)"
	}
	q := strconv.Quote(v)
	if id == 39 {
		q += " " + iso.LookupCode(v).Meaning
	}
	return q
}
