// Package guidance is the operator guidance catalog: for every outcome a cashier can see on
// the terminal — a host response code (DE39, keyed by iso.Code.Guidance) or a terminal-side
// outcome (timeout and reversal, no connection, printer out of paper, …) — what happened in
// plain words, the steps to take at the till, and what to tell the customer. Entries exist
// in English and Simplified Chinese.
//
// The advice follows the recovery rules of docs/domain.md §3: a timed-out payment is reversed
// automatically and must never be charged again or refunded by hand; a duplicate (94) means
// checking the last transaction, never re-keying; pick-up codes are never retried and the
// customer is never accused; fraud suspicion is never disclosed.
//
// Keys are the stable snake_case guidance keys of package iso. Lookup never returns an empty
// entry: an unknown key gives a generic "check the result first" entry, and an unknown
// language falls back to English. No entry contains card data.
package guidance
