// Package clock is the injected time source shared by the acquirer, the terminal and the
// scenario runner. Production code uses Real; tests and the scenario runner use a Virtual
// clock, on which a 30-second timeout costs no real time.
//
// Virtual time advances only when every party is idle. Parties account for that with tokens:
// a goroutine that does work driven by the clock holds a token (Hold), gives it up when it
// blocks on something that may need time to pass (Release, or implicitly inside Sleep and
// the memnet transport), and is handed one back by whatever wakes it (a timer that fires, a
// delivery from another goroutine that called Hold for it, data arriving on a memnet
// connection). On the real clock Hold and Release do nothing.
package clock

import "time"

// Clock is the time source every component takes.
type Clock interface {
	// Now is the current (real or virtual) time.
	Now() time.Time
	// NewTimer fires once after d. On a virtual clock the goroutine that receives from C owns
	// a token from that moment (the firing handed it one) and must Release it when it blocks
	// again or finishes.
	NewTimer(d time.Duration) Timer
	// Sleep pauses the caller for d. On a virtual clock the caller's token is released while
	// sleeping and handed back on waking.
	Sleep(d time.Duration)
	// Hold counts one more party as busy: virtual time will not advance until it is released.
	Hold()
	// Release counts one party fewer as busy.
	Release()
}

// Timer is a one-shot timer from a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it (false if it had
	// already fired or been stopped).
	Stop() bool
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now.
func (Real) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// Sleep wraps time.Sleep.
func (Real) Sleep(d time.Duration) { time.Sleep(d) }

// Hold does nothing on the real clock.
func (Real) Hold() {}

// Release does nothing on the real clock.
func (Real) Release() {}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }
