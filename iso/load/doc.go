// Package load drives an ISO 8583 host with a fleet of lean terminals, and measures it.
//
// Each terminal is one connection (iso.Conn, the same wire layer as the terminal engine and
// the acquirer) with its own terminal id; requests go out pipelined (several in flight per
// connection when asked), closed loop (as fast as answers come) or open loop at a fixed
// total rate. The Report has the throughput, the latency distribution (a log-linear
// histogram, within 0.8% of the true value), counts by operation and response code,
// timeouts, connection errors and unmatched answers.
//
// Unlike the rest of posdrill, load runs on the real clock: it measures real time.
// CannedServer is the baseline it is compared against: a host that answers every request
// at once with a canned approval, so that its throughput is what the transport, the codec
// and the load generator themselves allow on the machine.
//
// Card data never appears in a Report or an error: answers are counted, not kept.
package load
