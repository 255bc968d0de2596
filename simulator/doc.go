// Package simulator is posdrill's POS terminal engine: it presents the customer's cards
// (chip, tap, swipe, keyed, QR) to an ISO 8583 host, and follows every recovery rule a careful
// terminal follows (docs/domain.md §3): the pending reversal is written to a durable journal
// before a request goes out, unanswered or unreadable requests are reversed through a durable
// store-and-forward queue, late answers never override a reversal, and each transaction ends in
// exactly one named Outcome with the guidance key that tells the cashier what to do next.
//
// All time comes from an injected clock and all connections from an injected dialer, so a
// scenario can run 30-second timeouts and reversal repeats on a virtual clock over memnet in
// milliseconds. See README.md for the profile defaults and the recovery decisions.
package simulator
