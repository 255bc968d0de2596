// Package acquirer is posdrill's mock card acquirer: an ISO 8583 server that authorizes
// against the test cards of iso/cards in a documented order, keeps a per-card ledger (sales,
// refunds, pre-auth holds and completions, reversals, settlement batches) and a journal of
// every message in and out in SQLite, committed durably before any answer is written, and
// performs the failures that fault rules (package fault) ask for: declines, delays, lost
// answers, dropped and reset connections, truncated, split, garbled, duplicated answers and
// answers with the wrong STAN.
//
// docs/acquirer.md documents the decision order, ledger rules, settlement fields, the PIN
// test key, the admin API and the exact wire format of a 0200 and a 0400.
package acquirer
