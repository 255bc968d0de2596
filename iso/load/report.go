package load

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// stats is one worker's tally, merged into the Report at the end.
type stats struct {
	ops               map[string]*OpStats
	errors            map[string]int64
	latency           Histogram // from due time (open loop) or send (closed loop) to answer
	service           Histogram // open loop only: from the actual send to the answer
	reversalFallbacks int64
}

func newStats() *stats {
	return &stats{ops: map[string]*OpStats{}, errors: map[string]int64{}}
}

func (s *stats) op(name string) *OpStats {
	o := s.ops[name]
	if o == nil {
		o = &OpStats{Codes: map[string]int64{}}
		s.ops[name] = o
	}
	return o
}

func (s *stats) errorKind(k string) { s.errors[k]++ }

// OpStats counts one operation's requests.
type OpStats struct {
	Sent     int64            `json:"sent"`
	Answered int64            `json:"answered"`
	Timeouts int64            `json:"timeouts"`
	Errors   int64            `json:"errors"`
	Codes    map[string]int64 `json:"codes"` // answers by DE39
}

// Latency summarises a histogram, in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func summarize(h *Histogram) Latency {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Latency{Count: h.Count(), Min: ms(h.Min()), Mean: ms(h.Mean()), P50: ms(h.Quantile(0.50)),
		P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)), Max: ms(h.Max())}
}

// Report is the outcome of a run. It holds counts and timings only, never card data.
type Report struct {
	Addr      string  `json:"addr"`
	Seed      int64   `json:"seed"`
	Terminals int     `json:"terminals"`
	InFlight  int     `json:"inflight"`
	Rate      float64 `json:"rate_target"` // 0: closed loop
	Mix       string  `json:"mix"`
	Dialect   string  `json:"dialect"`
	Framing   string  `json:"framing"`

	Started  time.Time `json:"started"`
	Elapsed  float64   `json:"elapsed_s"`
	Sent     int64     `json:"sent"`
	Answered int64     `json:"answered"`
	Timeouts int64     `json:"timeouts"`
	Errors   int64     `json:"errors"`
	// Throughput is answers per second over the whole run.
	Throughput float64 `json:"throughput"`
	// Latency counts from when each request was due (open loop, so queueing in the load
	// generator counts, as it would for a real fleet) or from its send (closed loop).
	Latency Latency `json:"latency"`
	// Service counts from the actual send; open loop only.
	Service *Latency `json:"service,omitempty"`

	Codes      map[string]int64    `json:"codes"` // every answer by DE39
	Ops        map[string]*OpStats `json:"ops"`
	ErrorKinds map[string]int64    `json:"error_kinds,omitempty"`
	// Events are answers that matched nothing pending (late, unmatched, duplicate,
	// garbled) and reconnections.
	Events map[string]int64 `json:"events,omitempty"`
	// ReversalFallbacks counts reversals drawn when the terminal had no approved sale to
	// reverse yet: a sale went instead.
	ReversalFallbacks int64 `json:"reversal_fallbacks,omitempty"`
}

func (r *runner) report(elapsed time.Duration, workers []*worker) *Report {
	cfg := &r.cfg
	rep := &Report{Addr: cfg.Addr, Seed: cfg.Seed, Terminals: cfg.Terminals, InFlight: cfg.InFlight, Rate: cfg.Rate,
		Mix: cfg.Mix.String(), Dialect: cfg.Dialect.Name, Framing: cfg.Framing.String(), Started: r.start,
		Elapsed: elapsed.Seconds(), Codes: map[string]int64{}, Ops: map[string]*OpStats{}, ErrorKinds: map[string]int64{}}
	var lat, svc Histogram
	for _, w := range workers {
		s := w.stats
		lat.Merge(&s.latency)
		svc.Merge(&s.service)
		rep.ReversalFallbacks += s.reversalFallbacks
		for k, n := range s.errors {
			rep.ErrorKinds[k] += n
		}
		for name, o := range s.ops {
			t := rep.Ops[name]
			if t == nil {
				t = &OpStats{Codes: map[string]int64{}}
				rep.Ops[name] = t
			}
			t.Sent += o.Sent
			t.Answered += o.Answered
			t.Timeouts += o.Timeouts
			t.Errors += o.Errors
			for c, n := range o.Codes {
				t.Codes[c] += n
				rep.Codes[c] += n
			}
		}
	}
	for _, o := range rep.Ops {
		rep.Sent += o.Sent
		rep.Answered += o.Answered
		rep.Timeouts += o.Timeouts
		rep.Errors += o.Errors
	}
	if elapsed > 0 {
		rep.Throughput = float64(rep.Answered) / elapsed.Seconds()
	}
	rep.Latency = summarize(&lat)
	if cfg.Rate > 0 {
		s := summarize(&svc)
		rep.Service = &s
	}
	r.evMu.Lock()
	if len(r.events) > 0 {
		rep.Events = r.events
	}
	r.evMu.Unlock()
	if len(rep.ErrorKinds) == 0 {
		rep.ErrorKinds = nil
	}
	return rep
}

// WriteText prints the report for people.
func (rep *Report) WriteText(w io.Writer) {
	loop := "closed loop (each slot sends when its answer comes)"
	if rep.Rate > 0 {
		loop = fmt.Sprintf("open loop at %.0f req/s", rep.Rate)
	}
	fmt.Fprintf(w, "load: %s, %d terminals × %d in flight, %s, mix %s, %s/%s, seed %d\n",
		rep.Addr, rep.Terminals, rep.InFlight, loop, rep.Mix, rep.Dialect, rep.Framing, rep.Seed)
	fmt.Fprintf(w, "elapsed     %.2f s\n", rep.Elapsed)
	fmt.Fprintf(w, "requests    %d sent, %d answered, %d timed out, %d failed\n", rep.Sent, rep.Answered, rep.Timeouts, rep.Errors)
	fmt.Fprintf(w, "throughput  %.0f answers/s\n", rep.Throughput)
	writeLatency(w, "latency", rep.Latency)
	if rep.Service != nil {
		writeLatency(w, "service", *rep.Service)
		fmt.Fprintln(w, "            (latency counts from when a request was due, service from when it was sent)")
	}
	fmt.Fprintf(w, "codes       %s\n", formatCodes(rep.Codes))
	for _, name := range Ops() {
		o := rep.Ops[name]
		if o == nil {
			continue
		}
		fmt.Fprintf(w, "  %-9s %d sent, %d answered, %d timed out, %d failed; %s\n", name, o.Sent, o.Answered, o.Timeouts, o.Errors, formatCodes(o.Codes))
	}
	if len(rep.ErrorKinds) > 0 {
		fmt.Fprintf(w, "errors      %s\n", formatCounts(rep.ErrorKinds))
	}
	if len(rep.Events) > 0 {
		fmt.Fprintf(w, "events      %s\n", formatCounts(rep.Events))
	}
	if rep.ReversalFallbacks > 0 {
		fmt.Fprintf(w, "note        %d reversals found no approved sale to reverse yet: sales were sent instead\n", rep.ReversalFallbacks)
	}
	if n := rep.Codes[iso.RCInsufficientFunds]; n > 0 {
		fmt.Fprintf(w, "note        %d answers were 51 (not sufficient funds): the test cards ran low; use smaller amounts, more refunds, or reset the acquirer\n", n)
	}
	if n := rep.Codes[iso.RCDuplicate]; n > 0 {
		fmt.Fprintf(w, "note        %d answers were 94 (duplicate): another client is using the same terminal ids and STANs at the same second\n", n)
	}
}

func writeLatency(w io.Writer, label string, l Latency) {
	fmt.Fprintf(w, "%-11s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, %d answers)\n", label,
		fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.P999), fmtMS(l.Max), fmtMS(l.Mean), l.Count)
}

func fmtMS(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 100:
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

// formatCodes renders answers by code with their meaning: "00 approved 9012, 51 ... 3".
func formatCodes(codes map[string]int64) string {
	if len(codes) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s %d", k, iso.LookupCode(k).Meaning, codes[k]))
	}
	return strings.Join(parts, ", ")
}

func formatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
