// Package tuitest runs a tui.App on a tcell simulation screen for tests: keys in, screen text
// out, waiting on frames drawn rather than on time.
package tuitest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/posdrill/posdrill/simulator/tui"
)

// Screen is an App running on an 80×24 simulation screen.
type Screen struct {
	t     *testing.T
	s     tcell.SimulationScreen
	mu    sync.Mutex
	text  string
	seen  chan struct{}
	close func()
}

// Run starts app on a simulation screen. Close (also run by t.Cleanup) stops the app and
// then calls stop, when not nil, reporting its error.
func Run(t *testing.T, app *tui.App, stop func() error) *Screen {
	t.Helper()
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	s.SetSize(80, 24)
	sr := &Screen{t: t, s: s, seen: make(chan struct{}, 1)}
	app.OnDraw(func(s tcell.Screen) {
		text := tui.ScreenText(s)
		sr.mu.Lock()
		sr.text = text
		sr.mu.Unlock()
		select {
		case sr.seen <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, s) }()
	sr.close = sync.OnceFunc(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the UI did not stop")
		}
		if stop != nil {
			if err := stop(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
	})
	t.Cleanup(sr.close)
	return sr
}

// Close stops the app (and runs stop); a second Close does nothing.
func (sr *Screen) Close() { sr.close() }

// Keys injects keys from a goroutine (InjectKey blocks when tcell's queue of 10 is full):
// strings are typed rune by rune, tcell.Key values pressed.
func (sr *Screen) Keys(ks ...any) {
	sr.t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, k := range ks {
			switch k := k.(type) {
			case string:
				for _, r := range k {
					sr.s.InjectKey(tcell.KeyRune, r, tcell.ModNone)
				}
			case tcell.Key:
				sr.s.InjectKey(k, 0, tcell.ModNone)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		sr.t.Fatal("keys were not taken")
	}
}

// WaitFor waits until one frame shows every one of wants and returns its text; after 15 s
// without it the test fails with what the screen shows.
func (sr *Screen) WaitFor(wants ...string) string {
	sr.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		sr.mu.Lock()
		text := sr.text
		sr.mu.Unlock()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return text
		}
		select {
		case <-sr.seen:
		case <-deadline:
			sr.t.Fatalf("the screen never showed %q; it shows:\n%s", missing, text)
		}
	}
}
