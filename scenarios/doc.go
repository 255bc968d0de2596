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
//
// A fourth audience brings its own terminal: a case marked `terminal: external` is run by
// CheckTerminal (posdrill check-terminal) in real time against whatever terminal connects
// to a real acquirer over TCP — the host's faults installed, the cashier's action printed or
// performed by a Driver — and judged on what that terminal sent (terminalrules.go). The
// built-in suite of such cases lives in terminal/.
package scenarios
