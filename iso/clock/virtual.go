package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Virtual is a Clock whose time moves only when told to, so that a 30-second timeout costs no
// real time and every run of a scenario sees the same timestamps.
//
// It keeps a count of busy parties (see the package comment for the token protocol) and a
// heap of pending timers ordered by (deadline, creation order). Time moves in one of two
// ways:
//
//   - by hand, with Advance or AdvanceTo, which fire due timers at once without waiting for
//     anyone (for unit tests that step time themselves);
//   - automatically, with Run (in its own goroutine) or AdvanceIdle, which fire the next
//     timer only when no party is busy, i.e. when nothing can happen any more until time
//     passes.
//
// All of them take the same mutex, so mixing them is safe under the race detector, but a Run
// loop will keep firing timers beyond an AdvanceIdle target: use one or the other at a time.
//
// Virtual is safe for concurrent use.
type Virtual struct {
	mu   sync.Mutex
	cond sync.Cond // broadcast whenever busy drops to 0 or the set of timers changes

	now        time.Time
	busy       int
	underflows int
	seq        uint64 // creation counter, breaks ties between equal deadlines
	timers     timerHeap
}

var _ Clock = (*Virtual)(nil)

// NewVirtual returns a Virtual clock reading start, with no busy party and no timer.
func NewVirtual(start time.Time) *Virtual {
	v := &Virtual{now: start}
	v.cond.L = &v.mu
	return v
}

// Now returns the current virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// NewTimer returns a timer that fires once virtual time reaches Now()+d. The value sent on C
// is the deadline. Firing counts the receiver as busy (it owns a token from then on). A
// timer with d <= 0 fires at once.
func (v *Virtual) NewTimer(d time.Duration) Timer {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.addTimerLocked(d)
}

// Sleep blocks the caller until virtual time has advanced by d. The caller's token is
// released while it sleeps and handed back by the firing timer, so the caller must own one
// on entry. The timer is registered before the token is released: otherwise the clock could
// see everyone idle and move time on before the sleep even started, and the wake-up time
// would depend on scheduling. Sleep with d <= 0 returns at once, keeping the token.
func (v *Virtual) Sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	v.mu.Lock()
	t := v.addTimerLocked(d)
	v.releaseLocked()
	v.mu.Unlock()
	<-t.c
}

// Hold counts one more busy party: automatic advancing waits until it is released.
func (v *Virtual) Hold() {
	v.mu.Lock()
	v.busy++
	v.mu.Unlock()
}

// Release counts one busy party fewer. Releasing more than was held is a bug in the caller;
// the count stays at 0 (so time can still move) and the mistake is counted in Underflows.
func (v *Virtual) Release() {
	v.mu.Lock()
	v.releaseLocked()
	v.mu.Unlock()
}

// Busy is the number of busy parties (tokens held).
func (v *Virtual) Busy() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.busy
}

// Underflows counts the Release calls made while nothing was held. Non-zero means some
// party released a token it did not own; tests should check it is 0.
func (v *Virtual) Underflows() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.underflows
}

// Pending is the number of timers waiting to fire.
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.timers)
}

// Stalled reports that nothing can ever happen any more: no party is busy and no timer is
// pending. In a scenario that still expects an event, this is a deadlock.
func (v *Virtual) Stalled() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stalledLocked()
}

func (v *Virtual) stalledLocked() bool { return v.busy == 0 && len(v.timers) == 0 }

// Advance moves virtual time forward by d, firing in order every timer due by then (Now
// reads each timer's deadline as it fires), then sets Now to the old Now plus d. It does not
// wait for busy parties: it is for tests that step time by hand.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.advanceLocked(v.now.Add(d))
}

// AdvanceTo is Advance up to the absolute time t. It does nothing if t is not after Now.
func (v *Virtual) AdvanceTo(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.advanceLocked(t)
}

func (v *Virtual) advanceLocked(target time.Time) {
	for len(v.timers) > 0 && !v.timers[0].when.After(target) {
		v.fireLocked(heap.Pop(&v.timers).(*virtualTimer))
	}
	if target.After(v.now) {
		v.now = target
	}
}

// Run advances time automatically until ctx is done, and returns ctx's error. Whenever no
// party is busy and a timer is pending, it sets Now to the earliest deadline and fires every
// timer with exactly that deadline, in creation order; then it waits for idleness again. It
// is meant to run in its own goroutine for the whole life of a scenario. It never polls: it
// sleeps on a condition signalled when the busy count drops to 0 or a timer is added.
func (v *Virtual) Run(ctx context.Context) error {
	defer v.wakeOnDone(ctx)()
	v.mu.Lock()
	defer v.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if v.busy == 0 && len(v.timers) > 0 {
			v.fireNextLocked()
			continue
		}
		v.cond.Wait()
	}
}

// AdvanceIdle moves virtual time forward by d the way Run would, but stops at Now()+d: it
// waits until no party is busy, fires the next timer if it is due by the target, and repeats
// until no timer is due by the target while everyone is idle; then it sets Now to the target.
// The caller must not hold a token itself (or it would wait for itself forever). It is for a
// scenario step such as "advance: 45s" when no Run loop is active.
func (v *Virtual) AdvanceIdle(d time.Duration) {
	_ = v.AdvanceIdleContext(context.Background(), d)
}

// AdvanceIdleContext is AdvanceIdle giving up when ctx is done (for instance when some party
// never goes idle); it then returns ctx's error, having advanced time only partly.
func (v *Virtual) AdvanceIdleContext(ctx context.Context, d time.Duration) error {
	defer v.wakeOnDone(ctx)()
	v.mu.Lock()
	defer v.mu.Unlock()
	target := v.now.Add(d)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case v.busy != 0:
			v.cond.Wait()
		case len(v.timers) > 0 && !v.timers[0].when.After(target):
			v.fireNextLocked()
		default:
			// Everyone is idle and nothing is due before the target, so nothing can
			// happen in between: jumping is safe.
			if target.After(v.now) {
				v.now = target
			}
			return nil
		}
	}
}

// WaitIdle blocks until no party is busy, or ctx is done (returning its error). With Run
// active the idle moment may be brief: Run fires the next timer right away.
func (v *Virtual) WaitIdle(ctx context.Context) error {
	return v.wait(ctx, func() bool { return v.busy == 0 })
}

// WaitStalled blocks until Stalled would report true, or ctx is done (returning its error).
// It lets a scenario runner wait for "everything has settled" without polling.
func (v *Virtual) WaitStalled(ctx context.Context) error {
	return v.wait(ctx, v.stalledLocked)
}

// WaitPending blocks until at least n timers are pending, or ctx is done (returning its
// error). Tests stepping time by hand use it to know that a goroutine has started waiting
// on the clock before they Advance.
func (v *Virtual) WaitPending(ctx context.Context, n int) error {
	return v.wait(ctx, func() bool { return len(v.timers) >= n })
}

// wait blocks until cond (evaluated under v.mu) holds or ctx is done.
func (v *Virtual) wait(ctx context.Context, cond func() bool) error {
	defer v.wakeOnDone(ctx)()
	v.mu.Lock()
	defer v.mu.Unlock()
	for !cond() {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.cond.Wait()
	}
	return nil
}

// wakeOnDone arranges for waiters on v.cond to wake up when ctx is done, so that they can
// notice it. The broadcast is made under the mutex so that it cannot slip in between a
// waiter's ctx check and its Wait. It returns a function that cancels the arrangement.
func (v *Virtual) wakeOnDone(ctx context.Context) (stop func()) {
	s := context.AfterFunc(ctx, func() {
		v.mu.Lock()
		v.cond.Broadcast()
		v.mu.Unlock()
	})
	return func() { s() }
}

func (v *Virtual) releaseLocked() {
	if v.busy == 0 {
		v.underflows++
		return
	}
	v.busy--
	if v.busy == 0 {
		v.cond.Broadcast()
	}
}

func (v *Virtual) addTimerLocked(d time.Duration) *virtualTimer {
	v.seq++
	t := &virtualTimer{v: v, c: make(chan time.Time, 1), when: v.now.Add(d), seq: v.seq, index: -1}
	if d <= 0 {
		v.fireLocked(t)
		return t
	}
	heap.Push(&v.timers, t)
	v.cond.Broadcast()
	return t
}

// fireNextLocked fires the earliest timer and every other timer with the same deadline, in
// creation order, so that simultaneous events are all delivered before anyone reacts.
func (v *Virtual) fireNextLocked() {
	when := v.timers[0].when
	for len(v.timers) > 0 && v.timers[0].when.Equal(when) {
		v.fireLocked(heap.Pop(&v.timers).(*virtualTimer))
	}
}

// fireLocked delivers t (already off the heap). The receiver becomes busy before the value
// is even sent, so there is no instant at which the wake-up is in flight and nobody is busy.
func (v *Virtual) fireLocked(t *virtualTimer) {
	t.index = -1
	if t.when.After(v.now) {
		v.now = t.when
	}
	v.busy++
	t.c <- t.when // never blocks: buffered(1) and a timer fires at most once
	v.cond.Broadcast()
}

// virtualTimer is a Timer of a Virtual clock.
type virtualTimer struct {
	v     *Virtual
	c     chan time.Time
	when  time.Time
	seq   uint64
	index int // position in v.timers; -1 once fired or stopped
}

func (t *virtualTimer) C() <-chan time.Time { return t.c }

// Stop removes the timer if it is still pending. As with Go 1.23+ timers, a timer that has
// fired but whose value nobody has received yet also counts as stopped: the value is
// discarded and the token the firing handed out is released, so a goroutine that stops its
// timeout after the answer won a simultaneous race does not leak a busy token (which would
// freeze virtual time). It reports whether it stopped the timer.
func (t *virtualTimer) Stop() bool {
	v := t.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.index >= 0 {
		heap.Remove(&v.timers, t.index)
		t.index = -1
		v.cond.Broadcast()
		return true
	}
	select {
	case <-t.c:
		v.releaseLocked()
		return true
	default:
		return false
	}
}

// timerHeap orders timers by deadline, then creation order; it implements heap.Interface.
type timerHeap []*virtualTimer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*virtualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	t.index = -1
	return t
}
