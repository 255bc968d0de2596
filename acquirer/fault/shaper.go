package fault

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
)

// ShaperOptions configure a Shaper.
type ShaperOptions struct {
	Dialect *iso.Dialect // to re-pack an answer whose STAN a wrong_stan rule changes (default iso.ASCII)
	Framing iso.Framing  // to find the payload in a frame (garble) and re-frame it
	Cards   *cards.Set   // resolves match.card from the PAN (default cards.Builtin())
	Clock   clock.Clock  // stamps trace records (default real)
	// Trace, when set, gets a fault record for each firing and an event when the action
	// is carried out on the answer it names.
	Trace *trace.Writer
	// OnFire, when set, is told each firing (masked), for the console.
	OnFire func(trace.Fault)
}

// Shaper makes a fault engine's rules happen to the frames crossing a trace.Proxy: it is the
// proxy's trace.Shaper. Rules match requests (terminal → host) exactly as in the acquirer;
// actions on requests (drop_before_processing, delay_request) act on the request itself, and
// actions on answers act on the host's answer to that request on the same connection, paired
// by iso.Answers (class, DE11, DE41). Frames that do not decode, and answers no firing names, pass
// unchanged. The engine should be restricted to NetworkActions (NewShaper does it).
type Shaper struct {
	e *Engine
	o ShaperOptions

	mu      sync.Mutex
	pending map[answerKey]*pendingFiring
}

// answerKey is a request waiting for its answer on one terminal connection.
type answerKey struct {
	conn string
	iso.AnswerKey
}

type pendingFiring struct {
	f   *Firing
	req string // "0200 STAN 000123", for the event
}

// NewShaper returns a Shaper for e and restricts e to NetworkActions: a proxy forwards the
// host's decisions and cannot make it decline or approve part of an amount.
func NewShaper(e *Engine, o ShaperOptions) *Shaper {
	if o.Dialect == nil {
		o.Dialect = iso.ASCII
	}
	if o.Cards == nil {
		o.Cards = cards.Builtin()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	e.Restrict("a proxy forwards the host's answers and cannot decide them; use the acquirer for declines", NetworkActions...)
	return &Shaper{e: e, o: o, pending: map[answerKey]*pendingFiring{}}
}

// Refuse consults the refuse_connections rules for a new terminal connection.
func (s *Shaper) Refuse(conn string) bool {
	f := s.e.RefuseConnection()
	if f == nil {
		return false
	}
	s.record(conn, f, nil)
	return true
}

// ConnEnded forgets the firings still waiting for an answer on conn.
func (s *Shaper) ConnEnded(conn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.pending {
		if k.conn == conn {
			delete(s.pending, k)
		}
	}
}

// Shape decides one frame's fate (see Shaper).
func (s *Shaper) Shape(conn string, dir iso.Direction, raw []byte, fr iso.Frame, msg *iso.Message) trace.Plan {
	if msg == nil {
		return trace.Plan{}
	}
	if dir == iso.In {
		if iso.IsResponse(msg.MTI) {
			return trace.Plan{} // the terminal answering a host-initiated message
		}
		return s.request(conn, msg)
	}
	if !iso.IsResponse(msg.MTI) {
		return trace.Plan{}
	}
	k := answerKey{conn, msg.AnswerKey()}
	s.mu.Lock()
	pf, ok := s.pending[k]
	if !ok && k.Terminal == "" {
		for pk, p := range s.pending { // an answer without DE41 (iso.Answers)
			if pk.conn == conn && iso.Answers(pk.AnswerKey, k.AnswerKey) {
				k, pf = pk, p
				break
			}
		}
	}
	delete(s.pending, k)
	s.mu.Unlock()
	if pf == nil {
		return trace.Plan{}
	}
	plan, note := s.answerPlan(pf.f, raw, fr, msg)
	s.event(conn, msg, fmt.Sprintf("fault %s (%s) on the %s answering %s: %s", pf.f.RuleID, pf.f.Action, msg.MTI, pf.req, note))
	return plan
}

func (s *Shaper) request(conn string, msg *iso.Message) trace.Plan {
	req := Request{MTI: msg.MTI, PAN: msg.PANOf(), Terminal: strings.TrimSpace(msg.TerminalID),
		ProcessingCode: msg.ProcessingCode, EntryMode: msg.EntryMode, STAN: msg.STAN}
	if c, ok := s.o.Cards.ByPAN(req.PAN); ok {
		req.Card = c.Name
	}
	req.Amount, _ = iso.ParseAmount(msg.Amount)
	f := s.e.Evaluate(req)
	if f == nil {
		return trace.Plan{}
	}
	s.record(conn, f, msg)
	switch f.Action {
	case ActionDropBeforeProcessing:
		s.event(conn, msg, fmt.Sprintf("fault %s (%s): the %s never reaches the host; connection closed", f.RuleID, f.Action, msg.MTI))
		return trace.Plan{Drop: true, End: trace.EndClose}
	case ActionDelayRequest:
		s.event(conn, msg, fmt.Sprintf("fault %s (%s): the %s reaches the host %d ms late", f.RuleID, f.Action, msg.MTI, f.Params.MS))
		return trace.Plan{Delay: ms(f.Params.MS)}
	case ActionRefuseConnections:
		return trace.Plan{} // Evaluate never returns these
	}
	if !contains(NetworkActions, f.Action) {
		// Only reachable with an unrestricted engine: say so rather than pretend.
		s.event(conn, msg, fmt.Sprintf("fault %s (%s) cannot be performed by a proxy; the %s passes unchanged", f.RuleID, f.Action, msg.MTI))
		return trace.Plan{}
	}
	s.mu.Lock()
	s.pending[answerKey{conn, msg.AnswerKey()}] =
		&pendingFiring{f: f, req: msg.MTI + " STAN " + msg.STAN}
	s.mu.Unlock()
	return trace.Plan{}
}

// answerPlan is what an answer-side action does to the answer frame raw, and a note for
// the trace.
func (s *Shaper) answerPlan(f *Firing, raw []byte, fr iso.Frame, msg *iso.Message) (trace.Plan, string) {
	p := f.Params
	switch f.Action {
	case ActionDelay:
		return trace.Plan{Delay: ms(p.MS)}, fmt.Sprintf("delayed %d ms", p.MS)
	case ActionNoResponse:
		return trace.Plan{Drop: true}, "not forwarded; connection kept"
	case ActionDropAfterCommit:
		return trace.Plan{Drop: true, End: trace.EndClose}, "not forwarded; connection closed"
	case ActionReset:
		return trace.Plan{Drop: true, End: trace.EndReset}, "not forwarded; terminal connection reset"
	case ActionTruncateResponse:
		cut := Truncated(raw, p.Bytes)
		return trace.Plan{Pieces: []trace.Piece{{Bytes: cut}}, End: trace.EndClose},
			fmt.Sprintf("truncated to %d of %d bytes, then connection closed", len(cut), len(raw))
	case ActionSplitResponse:
		var pieces []trace.Piece
		for i, c := range Chunks(raw, p.Chunk) {
			pc := trace.Piece{Bytes: c}
			if i > 0 {
				pc.Gap = ms(p.GapMS)
			}
			pieces = append(pieces, pc)
		}
		return trace.Plan{Pieces: pieces}, fmt.Sprintf("in %d chunks of %d bytes, %d ms apart", len(pieces), max(p.Chunk, 1), p.GapMS)
	case ActionGarbleResponse:
		g := append([]byte(nil), raw...)
		Garble(g, s.o.Framing)
		return trace.Plan{Pieces: []trace.Piece{{Bytes: g}}}, "garbled (MTI bytes corrupted)"
	case ActionWrongSTAN:
		m := msg.Clone()
		m.STAN = WrongSTAN(m.STAN)
		payload, err := s.o.Dialect.Pack(m)
		var frame []byte
		if err == nil {
			frame, err = s.o.Framing.AppendFrameHeader(nil, fr.TPDU, fr.Header, payload)
		}
		if err != nil {
			return trace.Plan{}, "passed unchanged: cannot re-pack it with another STAN: " + iso.MaskText(err.Error())
		}
		return trace.Plan{Pieces: []trace.Piece{{Bytes: frame}}}, "sent with wrong STAN " + m.STAN
	case ActionDuplicateResponse:
		return trace.Plan{Pieces: []trace.Piece{{Bytes: raw}, {Bytes: raw}}}, "sent twice"
	}
	return trace.Plan{}, "passed unchanged"
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// record writes a firing to the trace and tells OnFire.
func (s *Shaper) record(conn string, f *Firing, msg *iso.Message) {
	rec := trace.Fault{Time: s.o.Clock.Now(), Source: trace.SourceProxy, Conn: conn, RuleID: f.RuleID,
		Rule: f.RuleName, Action: f.Action, Params: ParamMap(f.Params)}
	if msg != nil {
		rec.MTI, rec.STAN, rec.Terminal = msg.MTI, msg.STAN, strings.TrimSpace(msg.TerminalID)
	}
	if s.o.Trace != nil {
		_ = s.o.Trace.Fault(rec)
	}
	if s.o.OnFire != nil {
		s.o.OnFire(rec)
	}
}

func (s *Shaper) event(conn string, msg *iso.Message, detail string) {
	if s.o.Trace == nil {
		return
	}
	_ = s.o.Trace.Event(trace.Event{Time: s.o.Clock.Now(), Source: trace.SourceProxy, Conn: conn, Kind: "fault_applied",
		MTI: msg.MTI, STAN: msg.STAN, Terminal: strings.TrimSpace(msg.TerminalID), Detail: detail})
}
