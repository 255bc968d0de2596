package tui

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// The trainer's console of a class (posdrill classroom): the trainees with their drill and
// last score, and the trainer's moves. It has the training terminal's look (same styles,
// boxes, bars) and, like it, does no networking: the class is behind ClassDesk (package
// classroom implements it in process).

// ClassDesk is what the console asks of the class. Calls are quick and in process.
type ClassDesk interface {
	Trainees() []ClassTrainee
	// Fault installs f for terminal tid's next transaction, or everyone's with tid "".
	Fault(tid string, f FaultSpec) error
	// StartDrill opens drill name on every online terminal; it returns how many.
	StartDrill(name string) (int, error)
	// AnswerNextByHand holds (or stops holding) tid's next request for Decide.
	AnswerNextByHand(tid string, on bool)
	// Decide answers tid's held request: verdict approve, decline (with code) or never.
	Decide(tid, verdict, code string) error
	// Export writes the results file in format "csv" or "json" and returns its path.
	Export(format string) (string, error)
}

// ClassTrainee is one row of the console.
type ClassTrainee struct {
	Name, Terminal string
	Online         bool
	Drill          string // in progress
	LastDrill      string // "" none yet
	Score, Max     int
	Passed         bool
	Armed          bool         // the next request waits for the trainer
	Held           *HeldRequest // a request waiting for the trainer now
}

// HeldRequest is a trainee's request waiting for a hand answer (card number masked).
type HeldRequest struct {
	MTI       string
	Amount    int64
	MaskedPAN string
}

// ConsoleConfig configures a Console.
type ConsoleConfig struct {
	Desk     ClassDesk
	Drills   []Drill // the drills the class may start (titles in both languages)
	Lang     guidance.Lang
	Currency string
	Label    string // the class's addresses, for the title bar
}

// consoleFaults are the faults the console offers, keys 1….
var consoleFaults = []FaultSpec{
	{Name: "decline 05", Action: "decline", Code: "05", Count: 1},
	{Name: "decline 51", Action: "decline", Code: "51", Count: 1},
	{Name: "no answer", Action: "no_response", Count: 1},
	{Name: "connection reset", Action: "reset", Count: 1},
	{Name: "answer 40 s late", Action: "delay", MS: 40000, Count: 1},
}

type consoleMode int

const (
	modeList consoleMode = iota
	modeFault
	modeDrill
	modeCode
)

// Console is the trainer's console; run it with Run (or tuitest.Start).
type Console struct {
	cfg  ConsoleConfig
	lang guidance.Lang

	mu       sync.Mutex
	rows     []ClassTrainee
	sel      int
	mode     consoleMode
	all      bool // the fault menu is for everyone
	drillSel int
	code     string
	notice   string
	quit     bool

	wake   chan struct{}
	onDraw func(tcell.Screen)
}

// NewConsole returns a console for cfg.
func NewConsole(cfg ConsoleConfig) *Console {
	return &Console{cfg: cfg, lang: cfg.Lang, wake: make(chan struct{}, 1)}
}

// Changed asks for a redraw with fresh rows (the class calls it). Safe from any goroutine.
func (c *Console) Changed() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// OnDraw registers f, called after every frame (tuitest).
func (c *Console) OnDraw(f func(tcell.Screen)) { c.onDraw = f }

func (c *Console) t(key string, args ...any) string { return T(c.lang, key, args...) }

// Run shows the console on s until q or ctx ends; it finalizes s.
func (c *Console) Run(ctx context.Context, s tcell.Screen) error {
	defer s.Fini()
	events := make(chan tcell.Event, 16)
	quit := make(chan struct{})
	defer close(quit)
	go s.ChannelEvents(events, quit)
	tick := time.NewTicker(time.Second) // trainees' online state, even without notices
	defer tick.Stop()
	for {
		c.refresh()
		c.draw(s)
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			switch ev := ev.(type) {
			case *tcell.EventKey:
				c.key(keyFromEvent(ev))
			case *tcell.EventResize:
				s.Sync()
			}
		case <-c.wake:
		case <-tick.C:
		}
		c.mu.Lock()
		q := c.quit
		c.mu.Unlock()
		if q {
			return nil
		}
	}
}

func (c *Console) refresh() {
	rows := c.cfg.Desk.Trainees()
	c.mu.Lock()
	c.rows = rows
	if c.sel >= len(rows) {
		c.sel = max(0, len(rows)-1)
	}
	c.mu.Unlock()
}

func (c *Console) selected() (ClassTrainee, bool) {
	if c.sel < 0 || c.sel >= len(c.rows) {
		return ClassTrainee{}, false
	}
	return c.rows[c.sel], true
}

func (c *Console) key(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.cfg.Desk
	switch c.mode {
	case modeFault:
		switch {
		case k.Code == KeyEsc:
			c.mode = modeList
		case k.Code == KeyRune && k.Rune >= '1' && int(k.Rune-'1') < len(consoleFaults):
			f := consoleFaults[k.Rune-'1']
			tid, who := "", c.t("con.everyone")
			if !c.all {
				tr, ok := c.selected()
				if !ok {
					c.mode = modeList
					return
				}
				tid, who = tr.Terminal, tr.Name
			}
			if err := d.Fault(tid, f); err != nil {
				c.notice = iso.MaskText(err.Error())
			} else {
				c.notice = c.t("con.faulted", f.Name, who)
			}
			c.mode = modeList
		}
		return
	case modeDrill:
		n := len(c.cfg.Drills)
		switch k.Code {
		case KeyEsc:
			c.mode = modeList
		case KeyUp:
			if n > 0 {
				c.drillSel = (c.drillSel + n - 1) % n
			}
		case KeyDown:
			if n > 0 {
				c.drillSel = (c.drillSel + 1) % n
			}
		case KeyEnter:
			if n == 0 {
				return
			}
			dr := c.cfg.Drills[c.drillSel]
			if got, err := d.StartDrill(dr.Name); err != nil {
				c.notice = iso.MaskText(err.Error())
			} else {
				c.notice = c.t("con.drill_started", dr.Title.In(c.lang), got)
			}
			c.mode = modeList
		}
		return
	case modeCode:
		switch {
		case k.Code == KeyEsc:
			c.mode, c.code = modeList, ""
		case k.Code == KeyBackspace && c.code != "":
			c.code = c.code[:len(c.code)-1]
		case k.Code == KeyRune && len(c.code) < 2 && (k.Rune >= '0' && k.Rune <= '9' || k.Rune >= 'A' && k.Rune <= 'Z'):
			c.code += string(k.Rune)
		case k.Code == KeyEnter && len(c.code) == 2:
			if tr, ok := c.selected(); ok {
				c.decide(tr, "decline", c.code)
			}
			c.mode, c.code = modeList, ""
		}
		return
	}
	tr, ok := c.selected()
	switch {
	case k.Code == KeyUp:
		c.sel = max(0, c.sel-1)
	case k.Code == KeyDown:
		c.sel = min(max(0, len(c.rows)-1), c.sel+1)
	case k == R('q'), k.Code == KeyCtrlC:
		c.quit = true
	case k == R('L'):
		if c.lang == guidance.Zh {
			c.lang = guidance.En
		} else {
			c.lang = guidance.Zh
		}
	case k == R('f') && ok:
		c.mode, c.all = modeFault, false
	case k == R('F'):
		c.mode, c.all = modeFault, true
	case k == R('s'):
		c.mode = modeDrill
	case k == R('h') && ok:
		d.AnswerNextByHand(tr.Terminal, !tr.Armed)
		if tr.Armed {
			c.notice = c.t("con.hand_off", tr.Name)
		} else {
			c.notice = c.t("con.hand_on", tr.Name)
		}
	case k == R('a') && ok && tr.Held != nil:
		c.decide(tr, "approve", "")
	case k == R('x') && ok && tr.Held != nil:
		c.mode, c.code = modeCode, ""
	case k == R('n') && ok && tr.Held != nil:
		c.decide(tr, "never", "")
	case k == R('c'), k == R('j'):
		format := "csv"
		if k == R('j') {
			format = "json"
		}
		if path, err := d.Export(format); err != nil {
			c.notice = iso.MaskText(err.Error())
		} else {
			c.notice = c.t("con.exported", path)
		}
	}
}

func (c *Console) decide(tr ClassTrainee, verdict, code string) {
	if err := c.cfg.Desk.Decide(tr.Terminal, verdict, code); err != nil {
		c.notice = iso.MaskText(err.Error())
		return
	}
	c.notice = c.t("con.decided."+verdict, tr.Name, code)
}

func (c *Console) draw(s tcell.Screen) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.Clear()
	w, h := s.Size()
	if w < minW || h < minH {
		ww := newWriter(s, rect{0, 0, w, h})
		ww.para(T(c.lang, "ui.too_small", minW, minH, w, h), stBold, 0)
		s.Show()
		return
	}
	fill(s, rect{0, 0, w, 1}, stBar)
	putText(s, 1, 0, w-2, truncate(c.t("con.title")+" · "+c.cfg.Label, w-2), stBar)
	body := rect{0, 1, w, h - 3}
	switch c.mode {
	case modeFault:
		c.drawFaults(s, body)
	case modeDrill:
		c.drawDrills(s, body)
	default:
		c.drawList(s, body)
	}
	notice, nst := c.notice, stNotice
	if tr, ok := c.selected(); ok && tr.Held != nil && c.mode == modeList {
		// the whole request, which the list's column may cut
		notice, nst = c.t("con.held_detail", tr.Name, tr.Held.MTI, iso.FormatMoney(tr.Held.Amount), tr.Held.MaskedPAN), stWarn
	}
	putText(s, 1, h-2, w-2, truncate(notice, w-2), nst)
	fill(s, rect{0, h - 1, w, 1}, stBar)
	putText(s, 1, h-1, w-2, truncate(c.hints(), w-2), stBar)
	s.Show()
	if c.onDraw != nil {
		c.onDraw(s)
	}
}

func (c *Console) hints() string {
	switch c.mode {
	case modeFault, modeDrill:
		return c.t("con.hints.menu")
	case modeCode:
		return c.t("con.hints.code", c.code)
	}
	if tr, ok := c.selected(); ok && tr.Held != nil {
		return c.t("con.hints.held")
	}
	return c.t("con.hints")
}

func (c *Console) drawList(s tcell.Screen, r rect) {
	in := box(s, r, c.t("con.trainees", len(c.rows)), stFrame, stTitle)
	if in.empty() {
		return
	}
	w := newWriter(s, in)
	if len(c.rows) == 0 {
		w.para(c.t("con.empty"), stDim, 0)
		return
	}
	nameW, tidW, stateW := 10, 9, 6
	restW := max(10, in.w-nameW-tidW-stateW-3)
	drillW := restW / 2
	w.line(padRight(c.t("con.col.name"), nameW)+" "+padRight(c.t("con.col.terminal"), tidW)+" "+padRight(c.t("con.col.state"), stateW)+" "+
		padRight(c.t("con.col.drill"), drillW)+c.t("con.col.last"), stDim)
	for i, tr := range c.rows {
		if w.full() {
			break
		}
		state, st := c.t("con.online"), stOK
		if !tr.Online {
			state, st = c.t("con.offline"), stDim
		}
		drill := c.drillTitle(tr.Drill)
		if tr.Held != nil {
			drill = c.t("con.held", tr.Held.MTI, iso.FormatMoney(tr.Held.Amount), tr.Held.MaskedPAN)
			st = stWarn
		} else if tr.Armed {
			drill = c.t("con.armed")
		}
		last := "—"
		if tr.LastDrill != "" {
			mark := "✘"
			if tr.Passed {
				mark = "✔"
			}
			last = fmt.Sprintf("%s %d/%d %s", mark, tr.Score, tr.Max, c.drillTitle(tr.LastDrill))
		}
		line := padRight(truncate(tr.Name, nameW), nameW) + " " + padRight(tr.Terminal, tidW) + " " + padRight(state, stateW) + " " +
			padRight(truncate(orDash(drill), drillW-1), drillW) + last
		if i == c.sel {
			st = stSel
		}
		w.line(truncate(line, in.w), st)
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func (c *Console) drillTitle(name string) string {
	for _, d := range c.cfg.Drills {
		if d.Name == name {
			return d.Title.In(c.lang)
		}
	}
	return name
}

func (c *Console) drawFaults(s tcell.Screen, r rect) {
	who := c.t("con.everyone")
	if tr, ok := c.selected(); ok && !c.all {
		who = tr.Name + " (" + tr.Terminal + ")"
	}
	in := box(s, r, c.t("con.fault_for", who), stFrame, stTitle)
	if in.empty() {
		return
	}
	w := newWriter(s, in)
	for i, f := range consoleFaults {
		w.line(fmt.Sprintf("%d  %s", i+1, c.t("con.fault."+f.Action+f.Code)), stBase)
	}
}

func (c *Console) drawDrills(s tcell.Screen, r rect) {
	in := box(s, r, c.t("con.drill_for_all"), stFrame, stTitle)
	if in.empty() {
		return
	}
	w := newWriter(s, in)
	first := max(0, c.drillSel-in.h+1)
	for i := first; i < len(c.cfg.Drills) && !w.full(); i++ {
		st := stBase
		if i == c.drillSel {
			st = stSel
		}
		w.line(truncate(c.cfg.Drills[i].Title.In(c.lang), in.w), st)
	}
}
