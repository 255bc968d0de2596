// Package listen is the accept loop every posdrill server shares (acquirer, admin API,
// fault proxy, classroom host): a net.Listener wrapper whose Accept survives running out
// of file descriptors and enforces connection caps.
//
// When accept fails for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) or for a
// connection aborted before it was taken (ECONNABORTED), Accept does not return the error
// (net/http would back off, but a hand-written loop usually exits): it backs off, 5 ms
// doubling to 1 s, and tries again, so the process keeps serving the connections it has
// and takes new ones as soon as descriptors free. Over MaxConns, or over MaxPerSource
// from one IP address, a connection is accepted and closed at once, so one peer that
// never sends a byte cannot lock everyone else out. Stats reports how close to saturation
// the listener is, for /healthz and /metrics.
//
// DescriptorLimit and DefaultMaxConns choose a connection cap below what the process's
// RLIMIT_NOFILE allows, leaving room for its files, logs and other listeners.
package listen
