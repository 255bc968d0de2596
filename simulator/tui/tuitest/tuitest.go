// Package tuitest runs a full-screen app (a tui.App) on a tcell simulation screen for tests:
// keys in, frames out, waiting on frames drawn rather than on time. It does not import tui,
// so tui's own tests use it too.
package tuitest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
)

// App is what Start runs: *tui.App.
type App interface {
	OnDraw(func(tcell.Screen))
	Run(context.Context, tcell.Screen) error
}

// Frame is one drawn screen: its text (Text) and its cells (Cells).
type Frame struct {
	Text  string
	Cells [][]string
}

// Screen is an App running on a simulation screen.
type Screen struct {
	t testing.TB
	// Sim is the simulation screen (resize it, post events to it).
	Sim   tcell.SimulationScreen
	mu    sync.Mutex
	frame Frame
	seen  chan struct{}
	done  chan error
	err   error
	ended bool
	stops []func() error
	close func()
}

// Start runs app on a w×h simulation screen. Close, also run by t.Cleanup, stops it.
func Start(t testing.TB, app App, w, h int) *Screen {
	t.Helper()
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	s.SetSize(w, h)
	sr := &Screen{t: t, Sim: s, seen: make(chan struct{}, 1), done: make(chan error, 1)}
	app.OnDraw(func(s tcell.Screen) {
		f := Frame{Text: Text(s), Cells: Cells(s)}
		sr.mu.Lock()
		sr.frame = f
		sr.mu.Unlock()
		select {
		case sr.seen <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { sr.done <- app.Run(ctx, s) }()
	sr.close = sync.OnceFunc(func() {
		cancel()
		if _, ok := sr.Ended(10 * time.Second); !ok {
			t.Error("the UI did not stop")
		}
		sr.mu.Lock()
		stops := sr.stops
		sr.mu.Unlock()
		for i := len(stops) - 1; i >= 0; i-- {
			if err := stops[i](); err != nil {
				t.Errorf("close: %v", err)
			}
		}
	})
	t.Cleanup(sr.close)
	return sr
}

// OnClose makes Close call f (an environment to close) once the app has stopped.
func (sr *Screen) OnClose(f func() error) {
	sr.mu.Lock()
	sr.stops = append(sr.stops, f)
	sr.mu.Unlock()
}

// Close stops the app and runs what OnClose added; a second Close does nothing.
func (sr *Screen) Close() { sr.close() }

// Ended waits up to d for the app's Run to return, and returns its error; ok is false when
// it did not return in time.
func (sr *Screen) Ended(d time.Duration) (err error, ok bool) {
	sr.mu.Lock()
	if sr.ended {
		defer sr.mu.Unlock()
		return sr.err, true
	}
	sr.mu.Unlock()
	select {
	case err := <-sr.done:
		sr.mu.Lock()
		sr.ended, sr.err = true, err
		sr.mu.Unlock()
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

// Frame is the last frame drawn.
func (sr *Screen) Frame() Frame {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return sr.frame
}

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
					sr.Sim.InjectKey(tcell.KeyRune, r, tcell.ModNone)
				}
			case rune:
				sr.Sim.InjectKey(tcell.KeyRune, k, tcell.ModNone)
			case tcell.Key:
				sr.Sim.InjectKey(k, 0, tcell.ModNone)
			default:
				panic("tuitest: Keys takes strings, runes and tcell.Key values")
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		sr.t.Fatal("keys were not taken")
	}
}

// Until waits until a frame satisfies check (it returns "" when satisfied, else what is
// missing) and returns that frame; after 15 s the test fails with "never showed" what was
// missing and the screen.
func (sr *Screen) Until(check func(Frame) (missing string)) Frame {
	sr.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		f := sr.Frame()
		missing := check(f)
		if missing == "" {
			return f
		}
		select {
		case <-sr.seen:
		case <-deadline:
			sr.t.Fatalf("the screen never showed %s; it shows:\n%s", missing, f.Text)
		}
	}
}

// WaitFor waits until one frame shows every one of wants and returns its text.
func (sr *Screen) WaitFor(wants ...string) string {
	sr.t.Helper()
	return sr.Until(func(f Frame) string {
		for _, w := range wants {
			if !strings.Contains(f.Text, w) {
				return fmt.Sprintf("%q", w)
			}
		}
		return ""
	}).Text
}

// Text returns what s shows, one line per row, trailing blanks trimmed. A wide character's
// second cell is skipped so Chinese text reads as written. Call it from the UI goroutine
// (App.OnDraw).
func Text(s tcell.Screen) string {
	var b strings.Builder
	for _, row := range Cells(s) {
		var line strings.Builder
		for _, c := range row {
			line.WriteString(c)
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// Cells returns s's cells by row; an empty cell is " ", a wide character's second cell "".
func Cells(s tcell.Screen) [][]string {
	w, h := s.Size()
	grid := make([][]string, h)
	for y := range h {
		grid[y] = make([]string, w)
		for x := 0; x < w; {
			str, _, width := s.Get(x, y)
			if str == "" {
				str = " "
			}
			grid[y][x] = str
			x += max(1, width)
		}
	}
	return grid
}
