package trace

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/decode"
)

// JPOSOptions configure ImportJPOS.
type JPOSOptions struct {
	// Source is who wrote the log: SourceAcquirer (default: jPOS usually runs the host, so
	// what it receives is what the terminal sent) or SourceTerminal (a jPOS client).
	Source Source
	// Dialect packs the imported fields to fill "raw" (default iso.ASCII). jPOS logs carry
	// field values, not bytes, so raw is our packing of them, not the original wire bytes.
	Dialect *iso.Dialect
	// Location for "at" times without a zone (default UTC).
	Location *time.Location
	// Skipped, when set, hears of each message not imported and why: one logged inside an
	// <info>, <debug>, <warn> ... block of a <log> carries no direction (and usually repeats
	// a message also logged in <send>/<receive>), so it is passed over, not an error.
	Skipped func(line int, why string)
}

// ImportJPOS reads jPOS XML logs — <log realm=… at=…> with <send> or <receive> holding an
// <isomsg>, or bare <isomsg direction="outgoing|incoming"> — and writes one message record
// per <isomsg>, card data masked on the way in. The realm becomes the connection id.
// Subfields of composite fields (<isomsg id="N"> inside a message) are not imported; the
// field is noted in the record's error. It returns how many messages it wrote.
func ImportJPOS(r io.Reader, w *Writer, o JPOSOptions) (int, error) {
	if o.Source == "" {
		o.Source = SourceAcquirer
	}
	if o.Dialect == nil {
		o.Dialect = iso.ASCII
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	dec := xml.NewDecoder(r)
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	var (
		realm   string
		at      time.Time
		last    time.Time
		dir     iso.Direction
		depth   int // isomsg nesting
		msg     *iso.Message
		msgDir  iso.Direction
		skipped []string
		n       int
		stack   []string // open elements, outermost first
		msgLine int      // line of the current <isomsg>
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, _ := dec.InputPos()
			return n, fmt.Errorf("line %d: %w", line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "isomsg" && t.Name.Local != "field" {
				stack = append(stack, t.Name.Local)
			}
			switch t.Name.Local {
			case "log":
				realm, at = attr(t, "realm"), time.Time{}
				if s := attr(t, "at"); s != "" {
					if at, err = parseJPOSTime(s, o.Location); err != nil {
						line, _ := dec.InputPos()
						return n, fmt.Errorf("line %d: %w", line, err)
					}
				}
				dir = ""
			case "send":
				dir = iso.Out
			case "receive":
				dir = iso.In
			case "isomsg":
				depth++
				if depth > 1 {
					skipped = append(skipped, attr(t, "id"))
					continue
				}
				msg, msgDir, skipped = &iso.Message{}, dir, nil
				msgLine, _ = dec.InputPos()
				switch attr(t, "direction") {
				case "outgoing":
					msgDir = iso.Out
				case "incoming":
					msgDir = iso.In
				}
			case "field":
				if msg == nil || depth != 1 {
					continue
				}
				id, err := strconv.Atoi(attr(t, "id"))
				line, _ := dec.InputPos()
				if err != nil || id < 0 || id > 128 {
					return n, fmt.Errorf("line %d: field id %q is not a number from 0 to 128", line, attr(t, "id"))
				}
				v := attr(t, "value")
				switch {
				case id == 0:
					msg.MTI = v
				case id == 1:
					// The bitmap is rebuilt from the fields.
				default:
					if err := msg.Set(id, v); err != nil {
						// A binary field logged as text (or masked): keep it as text.
						if msg.Other == nil {
							msg.Other = map[int]string{}
						}
						msg.Other[id] = v
					}
				}
			}
		case xml.EndElement:
			if t.Name.Local != "isomsg" && t.Name.Local != "field" && len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if t.Name.Local != "isomsg" {
				switch t.Name.Local {
				case "log":
					realm = ""
				case "send", "receive":
					dir = ""
				}
				continue
			}
			depth--
			if depth > 0 || msg == nil {
				continue
			}
			if msgDir == "" && len(stack) > 1 && stack[0] == "log" {
				// Inside a <log> but not in <send>/<receive>: a message a participant logged
				// (<info>, <debug>, ...), not one that crossed the wire here.
				if o.Skipped != nil {
					o.Skipped(msgLine, fmt.Sprintf("<isomsg> inside <%s> has no direction: not imported", stack[len(stack)-1]))
				}
				msg = nil
				continue
			}
			if msgDir == "" {
				line, _ := dec.InputPos()
				return n, fmt.Errorf("line %d: <isomsg> without direction: put it in <send>/<receive> or give direction=\"outgoing|incoming\"", line)
			}
			t0 := at
			if t0.IsZero() {
				t0 = last
			}
			if t0.IsZero() {
				t0 = time.Unix(0, 0)
			}
			last = t0
			rec := jposRecord(o.Dialect, msgDir, msg)
			rec.Time, rec.Source, rec.Conn = t0, o.Source, realm
			if len(skipped) > 0 {
				rec.Err = strings.TrimPrefix(rec.Err+"; composite fields not imported: "+strings.Join(skipped, ", "), "; ")
			}
			if err := w.Message(rec); err != nil {
				return n, err
			}
			n++
			msg = nil
		}
	}
	return n, nil
}

// jposRecord masks an imported message: through our own packing when it packs (so raw is
// filled), else field by field.
func jposRecord(d *iso.Dialect, dir iso.Direction, m *iso.Message) Message {
	if iso.ValidMTI(m.MTI) {
		if _, err := d.Pack(m); err == nil {
			return FromMessage(d, dir, m)
		}
	}
	rec := Message{Dir: dir, MTI: m.MTI, Fields: map[int]string{}}
	for _, id := range m.Present() {
		v, _ := m.Get(id)
		_, isBin := map[int]bool{52: true, 55: true, 64: true, 96: true, 128: true}[id]
		mv, _ := decode.MaskValue(id, v, isBin)
		rec.Fields[id] = mv
	}
	rec.STAN, rec.Terminal, rec.ResponseCode = m.STAN, m.TerminalID, m.ResponseCode
	rec.Err = "fields only: they do not pack in " + d.Name
	return rec
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// jPOS writes "at" as ISO 8601 (jPOS 2+: "2024-11-26T10:15:00.123", sometimes with a zone)
// or, in older versions (1.x), as Java's Date.toString with the milliseconds after the year
// ("Tue Nov 26 10:15:00 CST 2024.123"), some builds without them or before the zone.
var jposTimeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999",
	"Mon Jan 02 15:04:05.999 MST 2006", "Mon Jan 02 15:04:05 MST 2006", "Mon Jan _2 15:04:05 MST 2006",
	"Mon Jan 02 15:04:05 -0700 2006",
}

func parseJPOSTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range jposTimeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	// jPOS 1.x: "... 2024.123": the year, then the milliseconds.
	if i := strings.LastIndexByte(s, '.'); i > 0 && i+1 < len(s) {
		base, frac := s[:i], s[i+1:]
		if ms, err := strconv.Atoi(frac); err == nil && len(frac) <= 3 {
			for _, l := range jposTimeLayouts[3:] {
				if t, err := time.ParseInLocation(l, base, loc); err == nil {
					return t.Add(time.Duration(ms) * time.Millisecond), nil
				}
			}
		}
	}
	return time.Time{}, fmt.Errorf("at=%q is not a time jPOS writes (ISO 8601, or \"Tue Nov 26 10:15:00 CST 2024.123\")", s)
}
