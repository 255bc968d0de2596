package acquirer

import "github.com/posdrill/posdrill/iso/trace"

// FaultTracer returns an Options.OnFault that writes each firing as a fault record
// (source acquirer).
func FaultTracer(w *trace.Writer) func(FaultRecord) {
	return func(f FaultRecord) {
		_ = w.Fault(trace.Fault{Time: f.Time, Source: trace.SourceAcquirer, Conn: f.Conn, RuleID: f.RuleID,
			Rule: f.Rule, Action: f.Action, Params: f.Params, MTI: f.MTI, STAN: f.STAN, Terminal: f.Terminal})
	}
}
