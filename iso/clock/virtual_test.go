package clock

import (
	"container/heap"
	"context"
	"testing"
	"time"
)

var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func TestAdvanceFiresEverythingDue(t *testing.T) {
	v := NewVirtual(epoch)
	ds := map[string]time.Duration{"c3": 3 * time.Second, "a1": time.Second, "b2": 2 * time.Second,
		"tie1": 2 * time.Second, "tie2": 2 * time.Second, "late": time.Minute}
	timers := map[string]Timer{}
	for _, n := range []string{"c3", "a1", "b2", "tie1", "tie2", "late"} {
		timers[n] = v.NewTimer(ds[n])
	}
	if got := v.Pending(); got != len(ds) {
		t.Fatalf("Pending = %d, want %d", got, len(ds))
	}

	v.Advance(2500 * time.Millisecond)
	for n, tm := range timers {
		due := ds[n] <= 2500*time.Millisecond
		select {
		case at := <-tm.C():
			if !due {
				t.Errorf("%s fired early", n)
			}
			// Each timer delivers its own deadline, not the final time.
			if want := epoch.Add(ds[n]); !at.Equal(want) {
				t.Errorf("%s delivered %v, want %v", n, at, want)
			}
		default:
			if due {
				t.Errorf("%s did not fire", n)
			}
		}
	}
	if got, want := v.Now(), epoch.Add(2500*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now = %v, want %v", got, want)
	}
	if got := v.Busy(); got != 4 {
		t.Errorf("Busy = %d, want 4 (one token per firing)", got)
	}
	if got := v.Pending(); got != 2 {
		t.Errorf("Pending = %d, want 2", got)
	}
}

// TestFiringOrder checks the order in which timers leave the heap: by deadline, ties in
// creation order, whatever the insertion pattern and removals.
func TestFiringOrder(t *testing.T) {
	v := NewVirtual(epoch)
	const n = 200
	var ts []*virtualTimer
	for i := range n {
		// Deadlines cycle through 5 values, in an order unrelated to creation.
		ts = append(ts, v.NewTimer(time.Duration((i*7)%5+1)*time.Second).(*virtualTimer))
	}
	for i := 0; i < n; i += 9 {
		ts[i].Stop()
	}
	var fired []*virtualTimer
	v.mu.Lock()
	for len(v.timers) > 0 {
		// What fireNextLocked does, recording each timer.
		when := v.timers[0].when
		for len(v.timers) > 0 && v.timers[0].when.Equal(when) {
			tm := heap.Pop(&v.timers).(*virtualTimer)
			fired = append(fired, tm)
			v.fireLocked(tm)
		}
	}
	v.mu.Unlock()
	if want := n - (n+8)/9; len(fired) != want {
		t.Fatalf("fired %d timers, want %d", len(fired), want)
	}
	for i := 1; i < len(fired); i++ {
		a, b := fired[i-1], fired[i]
		if b.when.Before(a.when) || (b.when.Equal(a.when) && b.seq < a.seq) {
			t.Fatalf("timer seq %d (+%v) fired after seq %d (+%v)",
				b.seq, b.when.Sub(epoch), a.seq, a.when.Sub(epoch))
		}
	}
}

func TestStop(t *testing.T) {
	v := NewVirtual(epoch)
	a := v.NewTimer(time.Second)
	b := v.NewTimer(time.Second)
	if !a.Stop() {
		t.Fatal("Stop of pending timer = false")
	}
	if a.Stop() {
		t.Fatal("second Stop = true")
	}
	if got := v.Pending(); got != 1 {
		t.Fatalf("Pending = %d, want 1", got)
	}
	v.Advance(time.Hour)
	select {
	case <-a.C():
		t.Fatal("stopped timer fired")
	default:
	}
	// b fired but nobody received: Stop discards the value and gives its token back.
	if got := v.Busy(); got != 1 {
		t.Fatalf("Busy = %d, want 1", got)
	}
	if !b.Stop() {
		t.Fatal("Stop of fired-but-unreceived timer = false")
	}
	if got := v.Busy(); got != 0 {
		t.Fatalf("Busy after Stop = %d, want 0", got)
	}
	select {
	case <-b.C():
		t.Fatal("stale value after Stop")
	default:
	}
	c := v.NewTimer(time.Second)
	v.Advance(time.Second)
	<-c.C()
	if c.Stop() {
		t.Fatal("Stop of received timer = true")
	}
	v.Release()
	if v.Underflows() != 0 || v.Busy() != 0 {
		t.Fatalf("busy=%d underflows=%d", v.Busy(), v.Underflows())
	}
}

func TestZeroTimerFiresAtOnce(t *testing.T) {
	v := NewVirtual(epoch)
	tm := v.NewTimer(0)
	select {
	case at := <-tm.C():
		if !at.Equal(epoch) {
			t.Fatalf("fired at %v", at)
		}
	default:
		t.Fatal("zero timer did not fire")
	}
	if v.Busy() != 1 {
		t.Fatalf("Busy = %d", v.Busy())
	}
}

func TestHoldReleaseStalledUnderflow(t *testing.T) {
	v := NewVirtual(epoch)
	if !v.Stalled() {
		t.Fatal("fresh clock not stalled")
	}
	v.Hold()
	if v.Stalled() || v.Busy() != 1 {
		t.Fatal("held clock stalled")
	}
	v.Release()
	v.Release()
	if v.Busy() != 0 || v.Underflows() != 1 {
		t.Fatalf("busy=%d underflows=%d, want 0 and 1", v.Busy(), v.Underflows())
	}
	v.NewTimer(time.Second)
	if v.Stalled() {
		t.Fatal("clock with a timer is stalled")
	}
}

func TestSleepManual(t *testing.T) {
	v := NewVirtual(epoch)
	ctx := context.Background()
	v.Hold() // the sleeper's token, taken before it starts
	woke := make(chan time.Time)
	go func() {
		v.Sleep(10 * time.Second)
		woke <- v.Now()
		v.Release()
	}()
	if err := v.WaitPending(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// The token is released once the timer is registered.
	if err := v.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	v.Advance(9 * time.Second)
	v.Advance(time.Second)
	if got := <-woke; !got.Equal(epoch.Add(10 * time.Second)) {
		t.Fatalf("woke at %v", got)
	}
	if err := v.WaitStalled(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAdvanceIdle(t *testing.T) {
	v := NewVirtual(epoch)
	v.Hold()
	wakes := make(chan time.Duration, 10)
	go func() {
		defer v.Release()
		for range 4 {
			v.Sleep(10 * time.Second)
			wakes <- v.Now().Sub(epoch)
		}
	}()
	v.AdvanceIdle(25 * time.Second)
	if got := v.Now().Sub(epoch); got != 25*time.Second {
		t.Fatalf("Now = +%v, want +25s", got)
	}
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second} {
		if got := <-wakes; got != want {
			t.Fatalf("woke at +%v, want +%v", got, want)
		}
	}
	if len(wakes) != 0 {
		t.Fatal("woke too often")
	}
	v.AdvanceIdle(20 * time.Second)
	for _, want := range []time.Duration{30 * time.Second, 40 * time.Second} {
		if got := <-wakes; got != want {
			t.Fatalf("woke at +%v, want +%v", got, want)
		}
	}
	if got := v.Now().Sub(epoch); got != 45*time.Second {
		t.Fatalf("Now = +%v, want +45s", got)
	}
	if err := v.WaitStalled(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v.Underflows() != 0 {
		t.Fatal("underflow")
	}
}

func TestAdvanceIdleContextGivesUp(t *testing.T) {
	v := NewVirtual(epoch)
	v.Hold() // never released: time cannot move
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.AdvanceIdleContext(ctx, time.Second); err == nil {
		t.Fatal("AdvanceIdleContext returned nil while busy")
	}
	if !v.Now().Equal(epoch) {
		t.Fatal("time moved")
	}
}

func TestRunFiresWhenIdleAndStops(t *testing.T) {
	v := NewVirtual(epoch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- v.Run(ctx) }()

	// Two sleepers with the same deadline wake together, at the same virtual instant.
	type wake struct {
		who string
		at  time.Duration
	}
	wakes := make(chan wake, 3)
	v.Hold()
	v.Hold()
	v.Hold()
	for _, s := range []struct {
		who string
		d   time.Duration
	}{{"a", 7 * time.Second}, {"b", 7 * time.Second}, {"c", 3 * time.Second}} {
		go func() {
			v.Sleep(s.d)
			wakes <- wake{s.who, v.Now().Sub(epoch)}
			v.Release()
		}()
	}
	got := map[string]time.Duration{}
	for range 3 {
		w := <-wakes
		got[w.who] = w.at
	}
	if got["c"] != 3*time.Second || got["a"] != 7*time.Second || got["b"] != 7*time.Second {
		t.Fatalf("wake times %v", got)
	}
	if err := v.WaitStalled(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
}
