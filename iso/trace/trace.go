package trace

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/decode"
)

// Source names who wrote a record.
type Source string

// Sources.
const (
	SourceAcquirer Source = "acquirer"
	SourceTerminal Source = "terminal"
	SourceProxy    Source = "proxy"
	SourceRunner   Source = "runner"
)

// Record types, the "type" of each line.
const (
	TypeMessage = "message"
	TypeFault   = "fault"
	TypeEvent   = "event"
)

// Message is one ISO 8583 message seen on a connection. Fields and Raw are masked.
type Message struct {
	Time         time.Time
	Source       Source
	Dir          iso.Direction
	Conn         string
	MTI          string
	STAN         string
	Terminal     string
	ResponseCode string
	Fields       map[int]string // field number → masked value (binary fields hex or "[n bytes masked]")
	Raw          string         // masked payload, upper-case hex
	TPDU         string         // hex, when the framing has one
	Dialect      string
	Err          string // the payload did not decode
}

// Fault is a fault rule the acquirer fired.
type Fault struct {
	Time     time.Time
	Source   Source
	Conn     string
	RuleID   string
	Rule     string
	Action   string
	Params   map[string]string // e.g. code: "05", ms: "45000"
	MTI      string
	STAN     string
	Terminal string
}

// Event is something that happened besides a message: a terminal outcome, a reversal
// queued, a late answer, a connection opened or closed.
type Event struct {
	Time     time.Time
	Source   Source
	Conn     string
	Kind     string
	MTI      string
	STAN     string
	Terminal string
	Outcome  string
	Detail   string // masked text
}

// Record is one line of a trace: exactly one of Message, Fault and Event is set.
type Record struct {
	Line    int // 1-based line in the file it was read from (0 when built in memory)
	Message *Message
	Fault   *Fault
	Event   *Event
}

// Type is the record's type name.
func (r Record) Type() string {
	switch {
	case r.Message != nil:
		return TypeMessage
	case r.Fault != nil:
		return TypeFault
	}
	return TypeEvent
}

// Time is when the record was written.
func (r Record) Time() time.Time {
	switch {
	case r.Message != nil:
		return r.Message.Time
	case r.Fault != nil:
		return r.Fault.Time
	case r.Event != nil:
		return r.Event.Time
	}
	return time.Time{}
}

// wire is the JSON form of every record type: stable names, empty ones left out.
type wire struct {
	Type     string            `json:"type"`
	Time     string            `json:"time"`
	Source   Source            `json:"source,omitempty"`
	Dir      iso.Direction     `json:"dir,omitempty"`
	Conn     string            `json:"conn,omitempty"`
	MTI      string            `json:"mti,omitempty"`
	STAN     string            `json:"stan,omitempty"`
	Terminal string            `json:"terminal,omitempty"`
	RC       string            `json:"rc,omitempty"`
	RuleID   string            `json:"rule_id,omitempty"`
	Rule     string            `json:"rule,omitempty"`
	Action   string            `json:"action,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	Event    string            `json:"event,omitempty"`
	Outcome  string            `json:"outcome,omitempty"`
	Detail   string            `json:"detail,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
	Raw      string            `json:"raw,omitempty"`
	TPDU     string            `json:"tpdu,omitempty"`
	Dialect  string            `json:"dialect,omitempty"`
	Err      string            `json:"error,omitempty"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Writer appends records to a JSONL stream. It is safe for concurrent use; each record is
// one Write of one line, so lines from concurrent writers never interleave.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	clk clock.Clock
	err error
}

// Option configures a Writer.
type Option func(*Writer)

// WithClock sets the clock that stamps records written without a time (default: real).
func WithClock(clk clock.Clock) Option { return func(w *Writer) { w.clk = clk } }

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer, opts ...Option) *Writer {
	tw := &Writer{w: w, clk: clock.Real{}}
	for _, o := range opts {
		o(tw)
	}
	return tw
}

// Err returns the first write error; records after it are dropped.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) write(x wire, t time.Time) error {
	if t.IsZero() {
		t = w.clk.Now()
	}
	x.Time = formatTime(t)
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("writing trace: %w", err)
	}
	return w.err
}

// Message writes a message record. Its fields must already be masked (NewMessage does it);
// Detail-like text is masked again on the way out as a second line of defence.
func (w *Writer) Message(m Message) error {
	x := wire{Type: TypeMessage, Source: m.Source, Dir: m.Dir, Conn: m.Conn, MTI: m.MTI, STAN: m.STAN,
		Terminal: m.Terminal, RC: m.ResponseCode, Raw: m.Raw, TPDU: m.TPDU, Dialect: m.Dialect, Err: iso.MaskText(m.Err)}
	if len(m.Fields) > 0 {
		x.Fields = make(map[string]string, len(m.Fields))
		for id, v := range m.Fields {
			x.Fields[strconv.Itoa(id)] = v
		}
	}
	return w.write(x, m.Time)
}

// Fault writes a fault record.
func (w *Writer) Fault(f Fault) error {
	return w.write(wire{Type: TypeFault, Source: f.Source, Conn: f.Conn, RuleID: f.RuleID, Rule: f.Rule,
		Action: f.Action, Params: f.Params, MTI: f.MTI, STAN: f.STAN, Terminal: f.Terminal}, f.Time)
}

// Event writes an event record; Detail is masked.
func (w *Writer) Event(e Event) error {
	return w.write(wire{Type: TypeEvent, Source: e.Source, Conn: e.Conn, Event: e.Kind, MTI: e.MTI, STAN: e.STAN,
		Terminal: e.Terminal, Outcome: e.Outcome, Detail: iso.MaskText(e.Detail)}, e.Time)
}

// Write writes any record.
func (w *Writer) Write(r Record) error {
	switch {
	case r.Message != nil:
		return w.Message(*r.Message)
	case r.Fault != nil:
		return w.Fault(*r.Fault)
	case r.Event != nil:
		return w.Event(*r.Event)
	}
	return errors.New("empty trace record")
}

// NewMessage builds a masked message record from a payload (no length header). A payload
// that does not decode is recorded with its error and conservatively masked bytes.
func NewMessage(d *iso.Dialect, dir iso.Direction, payload []byte) Message {
	m := Message{Dir: dir, Dialect: d.Name}
	dec, err := d.Decode(payload)
	if err != nil {
		m.Err = err.Error()
		m.Raw = decode.MaskedHex(d, payload, nil)
		return m
	}
	m.Raw = decode.MaskedHex(d, payload, dec)
	m.MTI = dec.MTI
	m.Fields = make(map[int]string, len(dec.Fields))
	for _, f := range dec.Fields {
		v, _ := decode.MaskValue(f.ID, f.Value, f.Binary)
		m.Fields[f.ID] = v
		switch f.ID {
		case 11:
			m.STAN = v
		case 41:
			m.Terminal = v
		case 39:
			m.ResponseCode = v
		}
	}
	if dec.Trailing > 0 {
		m.Err = fmt.Sprintf("%d bytes after the last field", dec.Trailing)
	}
	return m
}

// FromMessage builds a masked message record from a message, packing it in d.
func FromMessage(d *iso.Dialect, dir iso.Direction, msg *iso.Message) Message {
	payload, err := d.Pack(msg)
	if err != nil {
		return Message{Dir: dir, Dialect: d.Name, MTI: msg.MTI, STAN: msg.STAN, Terminal: msg.TerminalID,
			Err: "does not pack: " + err.Error()}
	}
	return NewMessage(d, dir, payload)
}

// Observer returns an iso.Observer that writes every frame a Conn sends or receives as a
// message record of source on connection connID. Pass it as iso.WithObserver, or as the
// Observer of acquirer.Options / simulator.Options.
//
// iso.Conn hands the observer the whole frame for what it sends and the payload for what it
// receives; both are recorded as the payload, with the TPDU split off when there is one.
func Observer(w *Writer, source Source, connID string, d *iso.Dialect) iso.Observer {
	return func(dir iso.Direction, raw []byte, m *iso.Message, t time.Time) {
		var rec Message
		payload, tpdu := raw, []byte(nil)
		if m != nil {
			if packed, err := d.Pack(m); err == nil && bytes.HasSuffix(raw, packed) {
				prefix := raw[:len(raw)-len(packed)]
				if n := len(prefix); n == 2+iso.TPDULen || n == 4+iso.TPDULen {
					tpdu = prefix[n-iso.TPDULen:]
				}
				payload = packed
			}
		} else if _, err := d.Decode(raw); err != nil {
			// Bytes written as they are (a fault's garbled or cut answer) come with their
			// length header: find it, so that what still decodes is recorded as such.
			if res, err := decode.Bytes(raw, decode.Options{Dialects: []*iso.Dialect{d}}); err == nil {
				payload, tpdu = res.Payload, res.TPDU
			}
		}
		rec = NewMessage(d, dir, payload)
		if tpdu != nil {
			rec.TPDU = strings.ToUpper(hex.EncodeToString(tpdu))
		}
		rec.Time, rec.Source, rec.Conn = t, source, connID
		_ = w.Message(rec)
	}
}

// maxLine bounds one JSONL record.
const maxLine = 4 << 20

// Reader reads a trace back.
type Reader struct {
	sc   *bufio.Scanner
	line int
}

// NewReader reads records from r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	return &Reader{sc: sc}
}

// Next returns the next record, or io.EOF. Blank lines are skipped; unknown keys are
// ignored (newer writers may add some).
func (r *Reader) Next() (Record, error) {
	for r.sc.Scan() {
		r.line++
		line := bytes.TrimSpace(r.sc.Bytes())
		if len(line) == 0 {
			continue
		}
		// A record is a flat object of a few dozen values: bounded before it is decoded.
		if err := bounded.CheckJSON(line, bounded.Limits{Size: maxLine, Depth: 8, Nodes: 1000}); err != nil {
			return Record{}, fmt.Errorf("line %d: not a trace record: %w", r.line, err)
		}
		var x wire
		if err := json.Unmarshal(line, &x); err != nil {
			return Record{}, fmt.Errorf("line %d: not a trace record: %w", r.line, err)
		}
		var t time.Time
		if x.Time != "" {
			var err error
			if t, err = time.Parse(time.RFC3339Nano, x.Time); err != nil {
				return Record{}, fmt.Errorf("line %d: time %q is not RFC 3339", r.line, x.Time)
			}
		}
		switch x.Type {
		case TypeMessage:
			m := &Message{Time: t, Source: x.Source, Dir: x.Dir, Conn: x.Conn, MTI: x.MTI, STAN: x.STAN,
				Terminal: x.Terminal, ResponseCode: x.RC, Raw: x.Raw, TPDU: x.TPDU, Dialect: x.Dialect, Err: x.Err}
			if x.Dir != iso.In && x.Dir != iso.Out {
				return Record{}, fmt.Errorf("line %d: message direction %q is not in or out", r.line, x.Dir)
			}
			if len(x.Fields) > 0 {
				m.Fields = make(map[int]string, len(x.Fields))
				for k, v := range x.Fields {
					id, err := strconv.Atoi(k)
					if err != nil || id < 2 || id > 128 {
						return Record{}, fmt.Errorf("line %d: field %q is not a number from 2 to 128", r.line, k)
					}
					m.Fields[id] = v
				}
			}
			return Record{Line: r.line, Message: m}, nil
		case TypeFault:
			return Record{Line: r.line, Fault: &Fault{Time: t, Source: x.Source, Conn: x.Conn, RuleID: x.RuleID,
				Rule: x.Rule, Action: x.Action, Params: x.Params, MTI: x.MTI, STAN: x.STAN, Terminal: x.Terminal}}, nil
		case TypeEvent:
			return Record{Line: r.line, Event: &Event{Time: t, Source: x.Source, Conn: x.Conn, Kind: x.Event,
				MTI: x.MTI, STAN: x.STAN, Terminal: x.Terminal, Outcome: x.Outcome, Detail: x.Detail}}, nil
		default:
			return Record{}, fmt.Errorf("line %d: unknown record type %q (want message, fault or event)", r.line, x.Type)
		}
	}
	if err := r.sc.Err(); err != nil {
		return Record{}, fmt.Errorf("line %d: %w", r.line+1, err)
	}
	return Record{}, io.EOF
}

// ReadAll reads every record.
func ReadAll(r io.Reader) ([]Record, error) {
	rd := NewReader(r)
	var out []Record
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

// ReadFile reads a trace file.
func ReadFile(path string) ([]Record, error) {
	f, err := bounded.Open(path, bounded.MaxTrace)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// SortedFields lists a message record's field numbers in order.
func (m Message) SortedFields() []int {
	ids := make([]int, 0, len(m.Fields))
	for id := range m.Fields {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}
