package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/simulator"
)

// recorder captures what the terminal saw — every frame in and out (its Observer) and every
// event (its OnEvent) — tagged with the step that was running. It builds the masked trace
// and the flows that expectations compare.
//
// Frames and events arrive from the terminal's goroutines; between steps the runner waits
// until every party is idle before it moves on, so each record lands in the step that
// caused it and the trace reads the same on every run.
type recorder struct {
	start   time.Time
	timeout time.Duration // the terminal's response timeout: answers after it are late

	// limit bounds the frames and events recorded (0: none); onFull is called once, under
	// mu, when one more arrives, and recording stops there so memory stays bounded.
	limit  int
	onFull func(at time.Time, recorded int)

	mu     sync.Mutex
	step   int // index of the running step; -1 before the first
	off    bool
	wire   []wireRec
	events []eventRec
	trace  []traceLine
}

// traceLine is one line of the trace; frames sent keep their MTI and STAN so that the
// host's fault firings can be placed right after the request they hit.
type traceLine struct {
	text      string
	sent      bool
	mti, stan string
}

type wireRec struct {
	step    int
	at      time.Time
	dir     iso.Direction
	mti     string
	stan    string
	tid     string
	code    string
	garbled bool
}

type eventRec struct {
	step int
	ev   simulator.Event
}

func newRecorder(start time.Time, responseTimeout time.Duration) *recorder {
	return &recorder{start: start, timeout: responseTimeout, step: -1}
}

// stamp writes a virtual time as an offset from the scenario's start.
func (r *recorder) stamp(t time.Time) string { return trace.Offset(t.Sub(r.start)) }

func (r *recorder) setStep(i int) {
	r.mu.Lock()
	r.step = i
	r.mu.Unlock()
}

// stop makes the recorder ignore what teardown produces.
func (r *recorder) stop() {
	r.mu.Lock()
	r.off = true
	r.mu.Unlock()
}

// note appends a line of the runner's own to the trace (masked).
func (r *recorder) note(at time.Time, format string, args ...any) {
	line := r.stamp(at) + "  " + iso.MaskText(fmt.Sprintf(format, args...))
	r.mu.Lock()
	if !r.off {
		r.trace = append(r.trace, traceLine{text: line})
	}
	r.mu.Unlock()
}

// noteAfterRequest puts a line right after the nth (1-based) request frame sent with that
// MTI and STAN (at the end when there is no such frame).
func (r *recorder) noteAfterRequest(mti, stan string, nth int, at time.Time, format string, args ...any) {
	line := traceLine{text: r.stamp(at) + "  " + iso.MaskText(fmt.Sprintf(format, args...))}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off {
		return
	}
	i, seen := len(r.trace), 0
	for j, t := range r.trace {
		if t.sent && t.mti == mti && t.stan == stan {
			if seen++; seen == nth {
				i = j + 1
				break
			}
		}
	}
	r.trace = slices.Insert(r.trace, i, line)
}

// terminalHooks returns the Observer and OnEvent of one terminal instance (a restart makes
// a new one). After the instance loses power it sees nothing more: a frame its dying
// connection still reads is not something the terminal saw.
func (r *recorder) terminalHooks() (iso.Observer, func(simulator.Event)) {
	var dead atomic.Bool
	observe := func(dir iso.Direction, raw []byte, m *iso.Message, at time.Time) {
		if !dead.Load() {
			r.observe(dir, raw, m, at)
		}
	}
	event := func(e simulator.Event) {
		if dead.Load() {
			return
		}
		if e.Kind == simulator.EventPowerLoss {
			dead.Store(true)
		}
		r.event(e)
	}
	return observe, event
}

// overLimit (under mu) says whether the record arriving at at is one too many; the first
// time, it stops recording and calls onFull.
func (r *recorder) overLimit(at time.Time) bool {
	if r.limit <= 0 || len(r.wire)+len(r.events) < r.limit {
		return false
	}
	r.off = true
	if r.onFull != nil {
		r.onFull(at, len(r.wire)+len(r.events))
	}
	return true
}

// observe records a frame in or out.
func (r *recorder) observe(dir iso.Direction, raw []byte, m *iso.Message, at time.Time) {
	rec := wireRec{at: at, dir: dir}
	var line string
	if m == nil {
		rec.garbled = true
		line = fmt.Sprintf("%s  ← garbled frame (%d bytes)", r.stamp(at), len(raw))
	} else {
		rec.mti, rec.stan, rec.tid, rec.code = m.MTI, m.STAN, m.TerminalID, m.ResponseCode
		arrow := "→"
		if dir == iso.In {
			arrow = "←"
		}
		line = r.stamp(at) + "  " + arrow + " " + trace.Summarize(m)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off {
		return
	}
	if r.overLimit(at) {
		return
	}
	rec.step = r.step
	r.wire = append(r.wire, rec)
	r.trace = append(r.trace, traceLine{text: iso.MaskText(line), sent: dir == iso.Out && m != nil, mti: rec.mti, stan: rec.stan})
}

// quietEvents are recorded (events_contain can name them) but left out of the trace: the
// frame lines already say the same.
var quietEvents = map[string]bool{simulator.EventSent: true, simulator.EventWaiting: true, simulator.EventAnswered: true}

// event records a terminal event.
func (r *recorder) event(e simulator.Event) {
	var b strings.Builder
	b.WriteString(r.stamp(e.Time))
	b.WriteString("  · ")
	b.WriteString(e.Kind)
	for _, kv := range [][2]string{{"mti", e.MTI}, {"stan", e.STAN}, {"code", e.Code}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
		}
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off {
		return
	}
	if r.overLimit(e.Time) {
		return
	}
	r.events = append(r.events, eventRec{r.step, e})
	if !quietEvents[e.Kind] {
		r.trace = append(r.trace, traceLine{text: iso.MaskText(b.String())})
	}
}

// activity counts what was recorded so far (frames and events), to tell a quiet terminal.
func (r *recorder) activity() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.wire) + len(r.events)
}

// snapshot copies what was recorded so far.
func (r *recorder) snapshot() (wire []wireRec, events []eventRec, trace []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	trace = make([]string, len(r.trace))
	for i, t := range r.trace {
		trace[i] = t.text
	}
	return slices.Clone(r.wire), slices.Clone(r.events), trace
}

// flows pairs requests with answers over the whole run. Each answer is matched like
// iso.Conn does it: by MTI class, terminal and STAN, to the latest such request not yet
// answered (then it is in time, or late if it came after the response timeout), else it is
// a duplicate of the latest such request; an answer matching no request, and a garbled
// frame, go to the latest request sent before them.
type flowItem struct {
	reqStep int
	req     wireRec
	answers []answerRec
}

type answerRec struct {
	step int
	a    Answer
}

func (r *recorder) flowItems(wire []wireRec) []*flowItem {
	var items []*flowItem
	var last *flowItem
	for _, w := range wire {
		if w.dir == iso.Out {
			it := &flowItem{reqStep: w.step, req: w}
			items = append(items, it)
			last = it
			continue
		}
		if w.garbled {
			if last != nil {
				last.answers = append(last.answers, answerRec{w.step, Answer{Kind: AnswerGarbled}})
			}
			continue
		}
		a := Answer{MTI: w.mti, Code: w.code}
		var match, answered *flowItem
		for i := len(items) - 1; i >= 0; i-- {
			it := items[i]
			if !sameKey(it.req, w) {
				continue
			}
			if !it.hasMatch() {
				match = it
				break
			}
			if answered == nil {
				answered = it
			}
		}
		switch {
		case match != nil:
			if w.at.Sub(match.req.at) > r.timeout {
				a.Kind = AnswerLate
			}
			match.answers = append(match.answers, answerRec{w.step, a})
		case answered != nil:
			a.Kind = AnswerDuplicate
			answered.answers = append(answered.answers, answerRec{w.step, a})
		case last != nil:
			a.Kind = AnswerUnmatched
			last.answers = append(last.answers, answerRec{w.step, a})
		}
	}
	return items
}

// hasMatch reports whether the request already has its answer (in time or late).
func (it *flowItem) hasMatch() bool {
	for _, a := range it.answers {
		if a.a.Kind == AnswerTimely || a.a.Kind == AnswerLate {
			return true
		}
	}
	return false
}

func sameKey(req, ans wireRec) bool {
	return iso.Answers(iso.AnswerKeyOf(req.mti, req.stan, req.tid), iso.AnswerKeyOf(ans.mti, ans.stan, ans.tid))
}

// stepFlow is the flow of one step: the requests sent during it with the answers that came
// during it, and answers that came during it to requests of earlier steps ("earlier").
func stepFlow(items []*flowItem, step int) []FlowEntry {
	var out []FlowEntry
	for _, it := range items {
		var answers []Answer
		for _, a := range it.answers {
			if a.step == step {
				answers = append(answers, a.a)
			}
		}
		switch {
		case it.reqStep == step:
			out = append(out, FlowEntry{Request: it.req.mti, Answers: answers})
		case it.reqStep < step && len(answers) > 0:
			out = append(out, FlowEntry{Earlier: true, Request: it.req.mti, Answers: answers})
		}
	}
	return out
}

// runFlow is the flow of the whole run.
func runFlow(items []*flowItem) []FlowEntry {
	out := make([]FlowEntry, 0, len(items))
	for _, it := range items {
		e := FlowEntry{Request: it.req.mti}
		for _, a := range it.answers {
			e.Answers = append(e.Answers, a.a)
		}
		out = append(out, e)
	}
	return out
}
