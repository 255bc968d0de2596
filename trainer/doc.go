// Package trainer assembles the training terminal of `posdrill train`: an acquirer (an
// embedded one on loopback, or an external one with its admin API), the terminal engine on a
// journal, and the full-screen UI (simulator/tui) with the scenario library's drills, the
// trainer panel's view of the host and a masked message trace.
//
// It sits beside cmd in the import order (trainer → scenarios, acquirer, simulator,
// simulator/tui): the UI only sees the simulator side; this package is where the two sides
// meet, so cmd only turns flags into Options.
package trainer
