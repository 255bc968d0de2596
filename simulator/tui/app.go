package tui

import (
	"context"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"
)

// App runs a Model on a tcell screen: it turns key presses into messages, runs the
// Model's commands in goroutines and feeds their results back, and redraws after every
// change. Trace lines and terminal events may be posted from any goroutine; posting never
// blocks (the engine calls its observers synchronously).
type App struct {
	model *Model
	tick  time.Duration

	mu      sync.Mutex
	pending []Msg
	wake    chan struct{}

	onDraw func(tcell.Screen)
}

// NewApp returns an App for cfg.
func NewApp(cfg Config) *App {
	return &App{model: NewModel(cfg), tick: 250 * time.Millisecond, wake: make(chan struct{}, 1)}
}

// Trace shows one wire message in the trace pane. Safe from any goroutine.
func (a *App) Trace(l TraceLine) { a.post(TraceMsg(l)) }

// Event reports one terminal event (progress while processing). Safe from any goroutine.
func (a *App) Event(e TermEvent) { a.post(EventMsg(e)) }

// StartDrill starts the named drill as if the trainee had chosen it (a class starts the
// same drill for everyone). Safe from any goroutine.
func (a *App) StartDrill(name string) { a.post(startDrillMsg{name: name}) }

// ClassLink tells the UI the class connection went down or came back. Safe from any
// goroutine.
func (a *App) ClassLink(online bool) { a.post(classLinkMsg{online: online}) }

// OnDraw registers f to be called in the UI goroutine after every frame, with the screen
// (for tests and recordings: tuitest reads it).
func (a *App) OnDraw(f func(tcell.Screen)) { a.onDraw = f }

func (a *App) post(m Msg) {
	a.mu.Lock()
	a.pending = append(a.pending, m)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *App) take() []Msg {
	a.mu.Lock()
	defer a.mu.Unlock()
	msgs := a.pending
	a.pending = nil
	return msgs
}

// Run shows the UI on s, which must be initialized, until the user quits or ctx ends.
// Run owns s from then on and finalizes it on return, which restores the terminal.
func (a *App) Run(ctx context.Context, s tcell.Screen) error {
	defer s.Fini()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	events := make(chan tcell.Event, 16)
	quit := make(chan struct{})
	defer close(quit)
	go s.ChannelEvents(events, quit)

	run := func(cmds []Cmd) {
		for _, c := range cmds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if msg := c(ctx); msg != nil {
					a.post(msg)
				}
			}()
		}
	}
	m := a.model
	w, h := s.Size()
	m.Update(ResizeMsg{W: w, H: h})
	run(m.Init())
	ticker := time.NewTicker(a.tick)
	defer ticker.Stop()
	for {
		a.draw(s)
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			switch ev := ev.(type) {
			case *tcell.EventKey:
				run(m.Update(KeyMsg(keyFromEvent(ev))))
			case *tcell.EventResize:
				w, h := ev.Size()
				m.Update(ResizeMsg{W: w, H: h})
				s.Sync()
			}
		case <-a.wake:
			for _, msg := range a.take() {
				run(m.Update(msg))
			}
		case <-ticker.C:
			run(m.Update(TickMsg{Now: m.cfg.Now()}))
		}
		if m.Quit() {
			return nil
		}
	}
}

func (a *App) draw(s tcell.Screen) {
	a.model.Draw(s)
	s.Show()
	if a.onDraw != nil {
		a.onDraw(s)
	}
}
