package trace

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// Summarize is one line about a message: what a reader of a trace needs (MTI, STAN,
// processing code, amount, masked PAN, entry mode, codes, settlement totals, terminal).
// The scenario runner's trace and `posdrill trace show` both print it.
func Summarize(m *iso.Message) string {
	var b strings.Builder
	b.WriteString(m.MTI)
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	add("stan", m.STAN)
	add("pc", m.ProcessingCode)
	if m.Amount != "" {
		if n, err := iso.ParseAmount(m.Amount); err == nil {
			add("amount", iso.FormatMoney(n))
		}
	}
	if pan := m.PANOf(); pan != "" {
		add("pan", iso.MaskPAN(pan))
	}
	add("entry", m.EntryMode)
	add("net", m.NetworkCode)
	add("rrn", m.RRN)
	add("auth", m.AuthCode)
	if iso.IsResponse(m.MTI) {
		add("rc", m.ResponseCode)
	} else {
		add("reason", m.ResponseCode) // a reversal's DE39 is its reason
	}
	if m.OriginalData != "" && len(m.OriginalData) >= 10 {
		add("orig", m.OriginalData[:4]+"/"+m.OriginalData[4:10])
	}
	add("batch", m.Batch)
	if m.DebitsNumber != "" || m.CreditsNumber != "" {
		// Settlement totals: count/amount of sales (debits) and refunds (credits).
		total := func(n, a string) string {
			c, _ := iso.ParseAmount(n)
			v, _ := iso.ParseAmount(a)
			return fmt.Sprintf("%d/%s", c, iso.FormatMoney(v))
		}
		add("sales", total(m.DebitsNumber, m.DebitsAmount))
		add("refunds", total(m.CreditsNumber, m.CreditsAmount))
	}
	add("tid", m.TerminalID)
	return b.String()
}

// Offset writes d as the "+HH:MM:SS.mmm" of a trace line (negative as zero).
func Offset(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	h := d / time.Hour
	m := (d % time.Hour) / time.Minute
	s := (d % time.Minute) / time.Second
	ms := (d % time.Second) / time.Millisecond
	return fmt.Sprintf("+%02d:%02d:%02d.%03d", h, m, s, ms)
}

// ISO rebuilds the message from its recorded (masked) fields, for Summarize.
func (m Message) ISO() *iso.Message {
	out := &iso.Message{MTI: m.MTI}
	ids := make([]int, 0, len(m.Fields))
	for id := range m.Fields {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		if err := out.Set(id, m.Fields[id]); err != nil {
			// A masked binary field ("[8 bytes masked]") is not hex: keep it as text.
			if out.Other == nil {
				out.Other = map[int]string{}
			}
			out.Other[id] = m.Fields[id]
		}
	}
	if out.STAN == "" {
		out.STAN = m.STAN
	}
	if out.TerminalID == "" {
		out.TerminalID = m.Terminal
	}
	if out.ResponseCode == "" {
		out.ResponseCode = m.ResponseCode
	}
	return out
}

// Lines prints records the way `posdrill run -v` prints a scenario's trace: one line each,
// time from the first record, "→" for a message sent and "←" for one received by the side
// that wrote it, "·" for an event and "!" for a fault the acquirer fired; card data masked.
// The source and connection are shown when the trace holds more than one of them.
func Lines(recs []Record) []string {
	if len(recs) == 0 {
		return nil
	}
	start := recs[0].Time()
	for _, r := range recs {
		if t := r.Time(); !t.IsZero() && t.Before(start) {
			start = t
		}
	}
	who := map[string]bool{}
	for _, r := range recs {
		who[whoOf(r)] = true
	}
	var out []string
	for _, r := range recs {
		var b strings.Builder
		b.WriteString(Offset(r.Time().Sub(start)))
		b.WriteString("  ")
		if len(who) > 1 {
			fmt.Fprintf(&b, "[%s] ", whoOf(r))
		}
		switch {
		case r.Message != nil:
			m := r.Message
			arrow := "→"
			if m.Dir == iso.In {
				arrow = "←"
			}
			if m.Err != "" && m.MTI == "" {
				fmt.Fprintf(&b, "%s garbled frame: %s", arrow, m.Err)
			} else {
				b.WriteString(arrow + " " + Summarize(m.ISO()))
				if m.Err != "" {
					b.WriteString(" (" + m.Err + ")")
				}
			}
		case r.Event != nil:
			e := r.Event
			b.WriteString("· " + e.Kind)
			for _, kv := range [][2]string{{"mti", e.MTI}, {"stan", e.STAN}, {"outcome", e.Outcome}} {
				if kv[1] != "" {
					fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
				}
			}
			if e.Detail != "" {
				b.WriteString(": " + e.Detail)
			}
		case r.Fault != nil:
			f := r.Fault
			fmt.Fprintf(&b, "! fault %q (%s) on %s stan=%s", f.Rule, f.Action, f.MTI, f.STAN)
			keys := make([]string, 0, len(f.Params))
			for k := range f.Params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, " %s=%s", k, f.Params[k])
			}
		}
		out = append(out, iso.MaskText(b.String()))
	}
	return out
}

// whoOf is "source conn" of a record.
func whoOf(r Record) string {
	var src Source
	var conn string
	switch {
	case r.Message != nil:
		src, conn = r.Message.Source, r.Message.Conn
	case r.Event != nil:
		src, conn = r.Event.Source, r.Event.Conn
	case r.Fault != nil:
		src, conn = r.Fault.Source, r.Fault.Conn
	}
	if conn == "" {
		return string(src)
	}
	return string(src) + " " + conn
}
