// Package scenarios reads, checks and runs posdrill scenario files: a shop situation written
// as YAML (cards, terminal profile, host fault rules, the steps a cashier takes and what must
// be true afterwards), run against the real acquirer and terminal engines on a virtual clock
// over an in-memory network, so that minutes of timeouts and repeats take milliseconds and
// the same seed gives the same message trace on every run.
//
// The same files serve three audiences: QA runs them in CI (`posdrill run`, JUnit and JSON
// reports), developers run them as Go subtests (RunT, RunLibraryT), and the training UI
// offers them as drills (the description and the optional drill block). The format is
// documented in README.md next to this file; the built-in library lives in library/.
package scenarios
