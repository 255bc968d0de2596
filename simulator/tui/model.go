package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// Operations of the UI's own, beside the terminal's (simulator.OpSale ... OpCompletion).
const (
	OpDrainSAF  = "drain_saf"  // send the queued reversals and advices now
	OpReprint   = "reprint"    // print the last receipt again (no host)
	OpCheckLast = "check_last" // look up the last transaction (no host)
	OpPowerOn   = "power_on"   // switch the terminal back on after a power loss
)

// Outcome kinds of the UI's own, beside the terminal's (simulator.Outcome.Kind).
const (
	KindError     = "error"    // the operation could not run at all (Err says why)
	KindSAFSent   = "saf_sent" // the store-and-forward queue was emptied
	KindPoweredOn = "powered_on"
)

// WalletCard is one card (or QR wallet) the customer can hand over. PIN is the test PIN,
// shown so the trainee can play the customer too.
type WalletCard struct {
	Name        string
	Brand       string
	MaskedPAN   string
	Expiry      string // YYMM
	PIN         string
	QR          bool // a phone wallet: scanned, never inserted
	ChipDamaged bool
	Note        string // what this card does at the host (for the trainer)
}

// Result is the outcome of a terminal operation, as the UI shows it. Everything in it is
// already masked.
type Result struct {
	Op           string
	Kind         string
	ResponseCode string
	Guidance     string // key into the guidance catalog
	STAN         string
	RRN          string
	AuthCode     string
	Amount       int64  // requested
	Approved     int64  // approved (partial approvals)
	Balance      *int64 // balance inquiry: the available balance
	Card         string // wallet card name
	MaskedPAN    string
	Entry        string
	Receipt      []string            // the customer copy
	ReceiptHeld  bool                // not printed (printer out of paper)
	Last         *simulator.Txn      // on 94: the terminal's previous transaction
	Reversal     *simulator.SAFEntry // the reversal this operation queued
	Events       []TermEvent
	Err          string
	Ref          simulator.Ref // what Void needs to find this transaction again
}

// TraceLine is one message on the wire or one notable wire event, already masked.
type TraceLine struct {
	Time time.Time
	Dir  string // "out", "in", or "" for an event (late, unmatched, closed, ...)
	MTI  string
	STAN string
	RC   string
	Note string // key fields, timing; late/unmatched answers say so here
	Flag string // "late", "unmatched", "duplicate", "garbled", "closed" — marked on screen
}

// TermEvent is something the terminal reports while it works (request sent, timed out,
// reversal queued and acknowledged, ...), already masked.
type TermEvent struct {
	Time time.Time
	Kind string
	Text string
}

// Msg is anything Update reacts to.
type Msg any

// Messages.
type (
	// KeyMsg is a key press.
	KeyMsg Key
	// ResizeMsg is the screen's new size.
	ResizeMsg struct{ W, H int }
	// TickMsg moves the UI's idea of now (countdowns).
	TickMsg struct{ Now time.Time }
	// TraceMsg is one wire message.
	TraceMsg TraceLine
	// EventMsg is one terminal event.
	EventMsg TermEvent

	resultMsg struct {
		seq int
		res Result
	}
	statusMsg  struct{ snap simulator.Snapshot }
	powerOnMsg struct {
		seq  int
		term Terminal
		err  error
	}
	reprintMsg struct {
		lines   []string
		err     string
		noPaper bool
	}
	lastTxnMsg struct {
		txn *simulator.Txn
		saf []simulator.SAFEntry
	}
	balanceMsg struct {
		card string
		bal  Balance
		err  error
	}
	journalMsg struct {
		terminal string
		txns     []HostTxn
		err      error
	}
	faultsMsg struct {
		faults []FaultSpec
		err    error
	}
	hostDoneMsg struct {
		what string // catalog key of what was done
		err  error
	}
	drillReadyMsg struct {
		name  string
		err   error
		term  Terminal // the terminal built for the drill's profile, if one was
		start *int64   // the customer's available balance at the start
	}
	debriefMsg struct {
		name string
		end  *int64   // the customer's available balance at the end
		term Terminal // the default terminal, back after a drill with its own profile
		// recordErr: the result could not be recorded (RecordDrill)
		recordErr error
	}
	// startDrillMsg: the class starts a drill by name (App.StartDrill).
	startDrillMsg struct{ name string }
	// classLinkMsg: the class connection went down or came back (App.ClassLink).
	classLinkMsg struct{ online bool }
	restoredMsg  struct {
		term Terminal
		err  error
	}
)

// Cmd is work the App runs in its own goroutine; its Msg comes back to Update.
type Cmd func(ctx context.Context) Msg

// face is the terminal face's state.
type face int

const (
	faceIdle face = iota
	faceAmount
	facePresent
	facePIN
	faceConfirm
	faceProcessing
	faceResult
	faceInfo // the last transaction's status, or a reprinted receipt
)

// focus is which panel gets the keys.
type focus int

const (
	focusFace focus = iota
	focusTrainer
	focusDrills
)

// payment is what the trainee keyed in for a card operation.
type payment struct {
	Card   string
	Amount int64
	Entry  string
	PIN    string
}

// Config is what the Model needs from its surroundings.
type Config struct {
	Terminal Terminal
	Host     Host // nil: the trainer panel says the host is not reachable
	Wallet   []WalletCard
	Drills   []Drill
	Lang     guidance.Lang
	Currency string // shown before amounts ("CNY")
	// Now is the terminal's clock, for countdowns; nil: time.Now.
	Now func() time.Time
	// HostLabel is the acquirer's address, for the title bar; Embedded says it runs in
	// this process.
	HostLabel string
	Embedded  bool
	Seed      int64
	// PowerOn switches the terminal back on after a power loss: a new terminal on the same
	// journal, which recovers its pending reversals. nil: not possible.
	PowerOn func(ctx context.Context) (Terminal, error)
	// Reconfigure replaces the terminal with one built on profile p (a drill's terminal
	// set-up), or on the default profile when p is nil. nil: drills with a profile of their
	// own report that they cannot be set up.
	Reconfigure func(ctx context.Context, p *simulator.Profile) (Terminal, error)
	// DrillStarted, when set, is told each drill the trainee starts (a classroom shows it
	// on the trainer's console). It runs in a command goroutine.
	DrillStarted func(ctx context.Context, name string, at time.Time)
	// RecordDrill, when set, keeps a finished drill's result (the classroom's results
	// store). The score is shown only after it returns; an error is shown with it.
	RecordDrill func(ctx context.Context, r DrillRecord) error
	// Class is the trainee's name in a class ("" not in one), for the title bar.
	Class string
}

// DrillRecord is a finished drill as a class records it.
type DrillRecord struct {
	Drill    string
	Started  time.Time
	Finished time.Time
	simulator.DrillScore
}

// Missing are the expected actions not done; ForbiddenDone the forbidden ones done.
func (r DrillRecord) Missing() (missing, forbiddenDone []string) {
	for _, l := range r.Lines {
		switch {
		case l.OK:
		case l.Forbidden:
			forbiddenDone = append(forbiddenDone, l.Action)
		default:
			missing = append(missing, l.Action)
		}
	}
	return missing, forbiddenDone
}

// Model is the whole UI state. It changes only in Update.
type Model struct {
	cfg  Config
	lang guidance.Lang
	w, h int
	now  time.Time

	face     face
	op       string
	amount   string // digits keyed, minor units
	sel      int    // highlighted wallet card
	entry    string
	pin      string
	confirm  string // the operation waiting for confirmation
	procFrom time.Time
	events   []TermEvent // of the operation in progress
	seq      int
	ticks    int

	snap     simulator.Snapshot
	last     *Result
	approved *Result // the last approved payment (what Void cancels)
	preauth  *Result // the last approved pre-authorization not completed yet
	infoText []string
	info     *lastTxnMsg // the last transaction's status (check_last)
	chipDead string      // the card whose chip just failed: a swipe is a fallback

	focus     focus
	help      bool
	showTrace bool
	trace     []TraceLine
	notice    string

	trainer trainerState

	drillSel int
	drill    *drillRun
	custom   bool // the terminal runs a drill's profile

	classDown bool // in a class, and its connection is down

	quit bool
}

// trainerState is the trainer panel.
type trainerState struct {
	open      bool
	item      int // index into faultMenu
	param     []int
	untilClr  bool // false: next transaction only
	card      string
	balance   *Balance
	balErr    string
	journal   []HostTxn
	jourErr   string
	jourOf    string // the terminal id the journal was asked for
	jourAsked bool   // an answer came: an empty journal is really empty, not still loading
	faults    []FaultSpec
	faultsErr string
	resetArm  bool // 'r' pressed once; a second 'r' resets the day
}

// statusEvery is how many ticks pass between status reads when nothing is in flight.
const statusEvery = 4

// traceKeep is how many trace lines the UI keeps.
const traceKeep = 200

// NewModel returns a Model in the idle state.
func NewModel(cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Currency == "" {
		cfg.Currency = iso.CurrencyName(simulator.DefaultProfile().Currency)
	}
	lang := cfg.Lang
	if lang != guidance.Zh {
		lang = guidance.En
	}
	m := &Model{cfg: cfg, lang: lang, w: 80, h: 24, now: cfg.Now()}
	m.receiptLang()
	m.trainer.param = make([]int, len(faultMenu))
	if len(cfg.Wallet) > 0 {
		m.trainer.card = cfg.Wallet[0].Name
	}
	return m
}

// Quit reports whether the user asked to leave.
func (m *Model) Quit() bool { return m.quit }

// tid is the running terminal's id ("" without a terminal).
func (m *Model) tid() string {
	if m.cfg.Terminal == nil {
		return ""
	}
	return m.cfg.Terminal.Profile().TID
}

// Lang is the current language.
func (m *Model) Lang() guidance.Lang { return m.lang }

// t looks a string up in the catalog in the current language.
func (m *Model) t(key string, args ...any) string { return T(m.lang, key, args...) }

// money formats minor units with the currency.
func (m *Model) money(minor int64) string { return m.cfg.Currency + " " + iso.FormatMoney(minor) }

// Init returns the commands to run at start: reading the terminal's status.
func (m *Model) Init() []Cmd {
	return []Cmd{m.statusCmd()}
}

// Update applies one message and returns the commands it starts.
func (m *Model) Update(msg Msg) []Cmd {
	switch msg := msg.(type) {
	case KeyMsg:
		return m.key(Key(msg))
	case ResizeMsg:
		m.w, m.h = msg.W, msg.H
	case TickMsg:
		m.now = msg.Now
		m.ticks++
		// While waiting the countdown needs the deadline often; otherwise the queue and
		// batch lines only need to follow the terminal's background work now and then.
		if m.face == faceProcessing || m.ticks%statusEvery == 0 {
			return []Cmd{m.statusCmd()}
		}
	case TraceMsg:
		m.trace = append(m.trace, TraceLine(msg))
		if len(m.trace) > traceKeep {
			m.trace = slices.Clone(m.trace[len(m.trace)-traceKeep:])
		}
	case EventMsg:
		if m.face == faceProcessing {
			m.events = append(m.events, TermEvent(msg))
		}
	case statusMsg:
		m.snap = msg.snap
	case powerOnMsg:
		return m.poweredOn(msg)
	case reprintMsg:
		if m.face == faceInfo && m.info == nil {
			switch {
			case msg.noPaper:
				m.infoText = []string{m.t("info.no_paper")}
			case msg.err != "":
				m.infoText = []string{m.t("info.no_receipt"), msg.err}
			default:
				m.infoText = append([]string{m.t("info.reprint")}, msg.lines...)
			}
		}
	case lastTxnMsg:
		if m.face == faceInfo {
			m.info = &msg
		}
	case resultMsg:
		return m.result(msg)
	case balanceMsg:
		if msg.card == m.trainer.card {
			if msg.err != nil {
				m.trainer.balance, m.trainer.balErr = nil, errText(msg.err)
			} else {
				b := msg.bal
				m.trainer.balance, m.trainer.balErr = &b, ""
			}
		}
	case journalMsg:
		m.trainer.journal, m.trainer.jourErr = msg.txns, errText(msg.err)
		m.trainer.jourOf, m.trainer.jourAsked = msg.terminal, true
	case faultsMsg:
		m.trainer.faults, m.trainer.faultsErr = msg.faults, errText(msg.err)
	case hostDoneMsg:
		if msg.err != nil {
			m.notice = m.t("notice.host_error", m.t(msg.what), iso.MaskText(msg.err.Error()))
		} else {
			m.notice = m.t(msg.what)
		}
		return m.hostRefresh()
	case drillReadyMsg:
		m.swapTerminal(msg.term)
		if m.drill != nil && m.drill.drill.Name == msg.name {
			m.drill.ready = true
			m.drill.start = msg.start
			if msg.err != nil {
				m.drill.setupErr = iso.MaskText(msg.err.Error())
			}
		}
		return append(m.hostRefresh(), m.statusCmd())
	case debriefMsg:
		m.swapTerminal(msg.term)
		if m.drill != nil && m.drill.drill.Name == msg.name && m.drill.done {
			var charged *int64
			if msg.end != nil && m.drill.start != nil {
				c := *m.drill.start - *msg.end
				charged = &c
			}
			db := score(m.drill, charged)
			m.drill.debrief = &db
			if msg.recordErr != nil {
				m.notice = m.t("drill.not_recorded", iso.MaskText(msg.recordErr.Error()))
			}
		}
		return []Cmd{m.statusCmd()}
	case startDrillMsg:
		return m.startDrillNamed(msg.name)
	case classLinkMsg:
		if m.classDown != !msg.online {
			m.classDown = !msg.online
			if msg.online {
				m.notice = m.t("notice.class_back")
			} else {
				m.notice = m.t("notice.class_lost")
			}
		}
	case restoredMsg:
		m.swapTerminal(msg.term)
		if msg.err != nil {
			m.notice = m.t("notice.host_error", m.t("drill.restore"), iso.MaskText(msg.err.Error()))
		}
		return []Cmd{m.statusCmd()}
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return iso.MaskText(err.Error())
}

// key handles one key press.
func (m *Model) key(k Key) []Cmd {
	if k.Code == KeyCtrlC {
		m.quit = true
		return nil
	}
	m.notice = ""
	if m.help {
		m.help = false
		return nil
	}
	// Function keys work everywhere.
	switch k.Code {
	case KeyF1:
		m.help = true
		return nil
	case KeyF2:
		return m.toggleTrainer()
	case KeyF3:
		m.showTrace = !m.showTrace
		return nil
	case KeyF4:
		m.toggleDrills()
		return nil
	case KeyF5:
		m.switchLang()
		return nil
	}
	if k == R('?') {
		m.help = true
		return nil
	}
	switch m.focus {
	case focusTrainer:
		return m.trainerKey(k)
	case focusDrills:
		return m.drillKey(k)
	}
	// Letter shortcuts for the panels work where letters mean nothing else.
	if m.face == faceIdle || m.face == faceResult || m.face == faceInfo {
		switch k {
		case R('q'), R('Q'):
			m.quit = true
			return nil
		case R('t'), R('T'):
			return m.toggleTrainer()
		case R('m'), R('M'):
			m.showTrace = !m.showTrace
			return nil
		case R('d'), R('D'):
			m.toggleDrills()
			return nil
		case R('l'), R('L'):
			m.switchLang()
			return nil
		}
	}
	return m.faceKey(k)
}

func (m *Model) switchLang() {
	if m.lang == guidance.Zh {
		m.lang = guidance.En
	} else {
		m.lang = guidance.Zh
	}
	m.receiptLang()
}

// receiptLang makes the terminal print its next receipts in the UI's language (the
// bilingual Chinese slip in Chinese).
func (m *Model) receiptLang() {
	if m.cfg.Terminal != nil {
		m.cfg.Terminal.SetReceiptLang(string(m.lang))
	}
}

func (m *Model) toggleTrainer() []Cmd {
	m.trainer.open = !m.trainer.open
	m.trainer.resetArm = false
	if m.trainer.open {
		m.focus = focusTrainer
		return m.hostRefresh()
	}
	if m.focus == focusTrainer {
		m.focus = focusFace
	}
	return nil
}

func (m *Model) toggleDrills() {
	if m.focus == focusDrills {
		m.focus = focusFace
		return
	}
	m.focus = focusDrills
	m.trainer.open = false
}

// ---- terminal face ----

func (m *Model) faceKey(k Key) []Cmd {
	switch m.face {
	case faceIdle, faceResult, faceInfo:
		return m.idleKey(k)
	case faceAmount:
		return m.amountKey(k)
	case facePresent:
		return m.presentKey(k)
	case facePIN:
		return m.pinKey(k)
	case faceConfirm:
		switch k.Code {
		case KeyEnter:
			return m.start(m.confirm, payment{})
		case KeyEsc:
			m.face = faceIdle
		}
	case faceProcessing:
		m.notice = m.t("notice.wait")
	}
	return nil
}

func (m *Model) idleKey(k Key) []Cmd {
	if m.snap.Crashed {
		if k.Code == KeyEnter {
			return m.start(OpPowerOn, payment{})
		}
		m.notice = m.t("notice.power_off")
		return nil
	}
	if k.Code == KeyRune && k.Rune >= '1' && k.Rune <= '9' {
		m.begin(simulator.OpSale)
		return m.amountKey(k)
	}
	if k.Code == KeyEnter || k.Code == KeyEsc {
		if m.face != faceIdle {
			m.face = faceIdle
			return nil
		}
		if k.Code == KeyEnter {
			m.begin(simulator.OpSale)
		}
		return nil
	}
	if k.Code != KeyRune {
		return nil
	}
	switch k.Rune {
	case 's', 'S':
		m.begin(simulator.OpSale)
	case 'r', 'R':
		m.begin(simulator.OpRefund)
	case 'a', 'A':
		m.begin(simulator.OpPreAuth)
	case 'c', 'C':
		if m.preauth == nil {
			m.notice = m.t("notice.nothing_to_complete")
			return nil
		}
		m.begin(simulator.OpCompletion)
	case 'b', 'B':
		m.begin(simulator.OpBalance)
		m.face = facePresent
	case 'v', 'V':
		if m.approved == nil {
			m.notice = m.t("notice.nothing_to_void")
			return nil
		}
		m.confirm, m.face = simulator.OpVoid, faceConfirm
	case 'x', 'X':
		m.confirm, m.face = simulator.OpSettle, faceConfirm
	case 'e', 'E':
		return m.start(simulator.OpEcho, payment{})
	case 'o', 'O':
		return m.start(simulator.OpSignOn, payment{})
	case 'p', 'P':
		return m.start(OpReprint, payment{})
	case 'i', 'I':
		return m.start(OpCheckLast, payment{})
	case 'f', 'F':
		return m.start(OpDrainSAF, payment{})
	}
	return nil
}

// begin starts keying a card operation.
func (m *Model) begin(op string) {
	m.op, m.amount, m.pin, m.entry = op, "", "", ""
	m.face = faceAmount
	if m.drill != nil && m.drill.drill.Card != "" {
		if i := m.walletIndex(m.drill.drill.Card); i >= 0 && len(m.drill.log) == 0 {
			m.sel = i
		}
	}
}

func (m *Model) walletIndex(name string) int {
	for i, c := range m.cfg.Wallet {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// maxAmountDigits caps the amount at 99,999,999.99.
const maxAmountDigits = 10

func (m *Model) amountKey(k Key) []Cmd {
	switch {
	case k.Code == KeyRune && k.Rune >= '0' && k.Rune <= '9':
		if len(m.amount) < maxAmountDigits && !(m.amount == "" && k.Rune == '0') {
			m.amount += string(k.Rune)
		}
	case k.Code == KeyBackspace:
		if m.amount != "" {
			m.amount = m.amount[:len(m.amount)-1]
		}
	case k.Code == KeyEnter:
		if m.amountMinor() <= 0 {
			m.notice = m.t("notice.enter_amount")
			return nil
		}
		if m.op == simulator.OpCompletion {
			return m.start(simulator.OpCompletion, payment{Card: m.preauth.Card, Amount: m.amountMinor()})
		}
		m.face = facePresent
	case k.Code == KeyEsc:
		m.face = faceIdle
	}
	return nil
}

func (m *Model) amountMinor() int64 {
	v, _ := strconv.ParseInt(m.amount, 10, 64)
	return v
}

func (m *Model) presentKey(k Key) []Cmd {
	n := len(m.cfg.Wallet)
	if n == 0 {
		if k.Code == KeyEsc {
			m.face = faceIdle
		}
		return nil
	}
	switch k.Code {
	case KeyEsc:
		m.face = faceIdle
		return nil
	case KeyUp:
		m.sel = (m.sel + n - 1) % n
		return nil
	case KeyDown, KeyTab:
		m.sel = (m.sel + 1) % n
		return nil
	case KeyEnter:
		if m.cfg.Wallet[m.sel].QR {
			return m.present(iso.EntryQR)
		}
		return m.present(iso.EntryChip)
	case KeyRune:
	default:
		return nil
	}
	r := k.Rune
	if r >= '0' && r <= '9' {
		i := int(r - '1')
		if r == '0' {
			i = 9
		}
		if i < n {
			m.sel = i
		}
		return nil
	}
	switch r {
	case 'i', 'I':
		return m.present(iso.EntryChip)
	case 't', 'T':
		return m.present(iso.EntryContactless)
	case 's', 'S':
		return m.present(iso.EntrySwipe)
	case 'c', 'C':
		// The customer shows the QR code on their phone: the wallet's QR code is taken
		// even when a plastic card was highlighted.
		if !m.cfg.Wallet[m.sel].QR {
			for i, c := range m.cfg.Wallet {
				if c.QR {
					m.sel = i
					break
				}
			}
		}
		return m.present(iso.EntryQR)
	}
	return nil
}

// present is the customer presenting the highlighted card one way.
func (m *Model) present(entry string) []Cmd {
	c := m.cfg.Wallet[m.sel]
	switch {
	case c.QR && entry != iso.EntryQR:
		m.notice = m.t("notice.qr_scan_only")
		return nil
	case !c.QR && entry == iso.EntryQR:
		m.notice = m.t("notice.card_no_qr")
		return nil
	}
	if entry == iso.EntrySwipe && c.Name == m.chipDead {
		entry = iso.EntryFallback
	}
	m.entry = entry
	if entry == iso.EntryChip || entry == iso.EntrySwipe || entry == iso.EntryFallback {
		m.pin = ""
		m.face = facePIN
		return nil
	}
	return m.start(m.op, m.payment())
}

func (m *Model) payment() payment {
	return payment{Card: m.cfg.Wallet[m.sel].Name, Amount: m.amountMinor(), Entry: m.entry, PIN: m.pin}
}

// maxPIN is the longest PIN the pad accepts.
const maxPIN = 12

func (m *Model) pinKey(k Key) []Cmd {
	switch {
	case k.Code == KeyRune && k.Rune >= '0' && k.Rune <= '9':
		if len(m.pin) < maxPIN {
			m.pin += string(k.Rune)
		}
	case k.Code == KeyBackspace:
		if m.pin != "" {
			m.pin = m.pin[:len(m.pin)-1]
		}
	case k.Code == KeyEnter:
		if m.pin != "" && len(m.pin) < 4 {
			m.notice = m.t("notice.pin_short")
			return nil
		}
		return m.start(m.op, m.payment())
	case k.Code == KeyEsc:
		m.face = facePresent
	}
	return nil
}

// start runs a terminal operation in a command and shows the processing screen.
func (m *Model) start(op string, p payment) []Cmd {
	if m.drill != nil && !m.drill.done {
		prev := m.drill.lastPayment()
		m.drill.log = append(m.drill.log, attempt{Time: m.now, Op: op, Card: p.Card, Amount: p.Amount, Entry: p.Entry, Actions: classify(op, p, prev)})
	}
	switch op {
	case OpReprint:
		m.face = faceInfo
		m.info = nil
		m.infoText = []string{m.t("info.printing")}
		term := m.cfg.Terminal
		return []Cmd{func(context.Context) Msg { return reprint(term) }}
	case OpCheckLast:
		m.face = faceInfo
		m.infoText = nil
		m.info = nil
		term := m.cfg.Terminal
		return []Cmd{func(context.Context) Msg { return lastTxnOf(term) }}
	case OpPowerOn:
		m.face = faceProcessing
		m.op = op
		m.events = nil
		m.seq++
		seq, power := m.seq, m.cfg.PowerOn
		return []Cmd{func(ctx context.Context) Msg {
			if power == nil {
				return powerOnMsg{seq: seq, err: errors.New("no way to switch the terminal on")}
			}
			t, err := power(ctx)
			return powerOnMsg{seq: seq, term: t, err: err}
		}}
	}
	m.seq++
	m.face = faceProcessing
	m.op = op
	m.events = nil
	m.now = m.cfg.Now()
	m.procFrom = m.now
	m.snap.Deadline = time.Time{}
	seq, term := m.seq, m.cfg.Terminal
	var ref *simulator.Ref
	if op == simulator.OpVoid && m.approved != nil {
		r := m.approved.Ref
		ref = &r
		p = payment{Card: m.approved.Card, Amount: m.approved.Amount}
	}
	if op == simulator.OpCompletion && m.preauth != nil {
		r := m.preauth.Ref
		ref = &r
	}
	card := m.walletCard(p.Card)
	return []Cmd{func(ctx context.Context) Msg {
		res := runOp(ctx, term, op, p, ref)
		res.Op, res.Card, res.Entry = op, p.Card, p.Entry
		if res.Amount == 0 {
			res.Amount = p.Amount
		}
		if res.MaskedPAN == "" {
			res.MaskedPAN = card.MaskedPAN
		}
		return resultMsg{seq: seq, res: res}
	}, m.statusCmd()}
}

func (m *Model) walletCard(name string) WalletCard {
	if i := m.walletIndex(name); i >= 0 {
		return m.cfg.Wallet[i]
	}
	return WalletCard{Name: name}
}

func (m *Model) statusCmd() Cmd {
	term := m.cfg.Terminal
	return func(context.Context) Msg { return snapshotOf(term) }
}

// result takes an operation's outcome.
func (m *Model) result(msg resultMsg) []Cmd {
	if msg.seq != m.seq {
		return nil
	}
	r := msg.res
	m.last = &r
	m.face = faceResult
	m.now = m.cfg.Now()
	switch {
	case r.Op == simulator.OpVoid && r.Kind == simulator.KindVoided:
		m.approved = nil
	case (r.Op == simulator.OpSale || r.Op == simulator.OpRefund) && approvedKind(r.Kind):
		m.approved = &r
	case r.Op == simulator.OpPreAuth && approvedKind(r.Kind):
		m.preauth = &r
	case r.Op == simulator.OpCompletion && approvedKind(r.Kind):
		m.preauth = nil
	}
	m.trainer.card = orDefault(r.Card, m.trainer.card)
	m.chipDead = ""
	if r.Kind == simulator.KindDeviceFault && r.Guidance == iso.GuidanceChipFallback {
		m.chipDead = r.Card
	}
	cmds := []Cmd{m.statusCmd()}
	if m.drill != nil && !m.drill.done {
		for i := len(m.drill.log) - 1; i >= 0; i-- {
			if m.drill.log[i].Op == r.Op && m.drill.log[i].Result == nil {
				m.drill.log[i].Result = &r
				break
			}
		}
	}
	if m.trainer.open {
		cmds = append(cmds, m.hostRefresh()...)
	}
	return append(cmds, m.maybeFinishDrill()...)
}

// maybeFinishDrill ends the drill once every expected action is done.
func (m *Model) maybeFinishDrill() []Cmd {
	if m.drill == nil || m.drill.done || !m.drill.complete() {
		return nil
	}
	return m.finishDrill()
}

// poweredOn takes the new terminal after a power loss.
func (m *Model) poweredOn(msg powerOnMsg) []Cmd {
	if msg.seq != m.seq {
		return nil
	}
	// After a restart the cashier checks what became of the last payment first.
	r := Result{Op: OpPowerOn, Kind: KindPoweredOn, Guidance: iso.GuidanceCheckLast}
	if msg.err != nil {
		r.Kind, r.Err = KindError, iso.MaskText(msg.err.Error())
	} else {
		m.cfg.Terminal = msg.term
		m.receiptLang()
		m.approved = nil
	}
	m.last = &r
	m.face = faceResult
	return []Cmd{m.statusCmd()}
}

// snapshotOf reads the terminal's state.
func snapshotOf(term Terminal) Msg {
	if term == nil {
		return statusMsg{}
	}
	return statusMsg{snap: term.Snapshot()}
}

// lastTxnOf reads the terminal journal's most recent transaction and the queue.
func lastTxnOf(term Terminal) Msg {
	if term == nil {
		return lastTxnMsg{}
	}
	var msg lastTxnMsg
	if txns := term.Transactions(); len(txns) > 0 {
		t := txns[len(txns)-1]
		t.MaskedPAN = iso.MaskText(t.MaskedPAN)
		msg.txn = &t
	}
	msg.saf = term.SAF()
	return msg
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ---- trainer panel ----

// faultItem is one entry of the trainer's fault menu.
type faultItem struct {
	action string
	device bool
	params []faultParam // the choices Left/Right cycle through
}

// faultParam is one parameter choice; label is shown, apply sets it on the spec.
type faultParam struct {
	label string
	apply func(*FaultSpec)
}

func codeParams(codes ...string) []faultParam {
	var ps []faultParam
	for _, c := range codes {
		ps = append(ps, faultParam{label: c, apply: func(f *FaultSpec) { f.Code = c }})
	}
	return ps
}

func msParams(label func(ms int) string, ms ...int) []faultParam {
	var ps []faultParam
	for _, v := range ms {
		ps = append(ps, faultParam{label: label(v), apply: func(f *FaultSpec) { f.MS = v }})
	}
	return ps
}

func seconds(ms int) string {
	if ms == 0 {
		return "∞"
	}
	return strconv.Itoa(ms/1000) + "s"
}

// faultMenu lists every fault the trainer can inject: the acquirer's actions, then the
// terminal's device faults.
var faultMenu = []faultItem{
	{action: FaultDecline, params: codeParams("05", "51", "54", "55", "75", "91", "96", "94", "14", "13", "12", "19", "30", "01", "03", "57", "58", "61", "62", "65", "59", "41", "43", "04", "15", "92", "98")},
	{action: FaultDelay, params: msParams(seconds, 3000, 10000, 45000)},
	{action: FaultNoResponse},
	{action: FaultDropBeforeProcessing},
	{action: FaultDropAfterCommit},
	{action: FaultReset},
	{action: FaultTruncate, params: []faultParam{
		{label: "10B", apply: func(f *FaultSpec) { f.Bytes = 10 }},
		{label: "40B", apply: func(f *FaultSpec) { f.Bytes = 40 }},
	}},
	{action: FaultSplit, params: []faultParam{
		{label: "8B/200ms", apply: func(f *FaultSpec) { f.Chunk, f.GapMS = 8, 200 }},
		{label: "1B/20ms", apply: func(f *FaultSpec) { f.Chunk, f.GapMS = 1, 20 }},
	}},
	{action: FaultGarble},
	{action: FaultWrongSTAN},
	{action: FaultDuplicate},
	{action: FaultRefuseConnections, params: msParams(seconds, 30000, 0)},
	{action: FaultPartialApproval, params: []faultParam{
		{label: "10.00", apply: func(f *FaultSpec) { f.Amount = "10.00" }},
		{label: "1.00", apply: func(f *FaultSpec) { f.Amount = "1.00" }},
		{label: "50.00", apply: func(f *FaultSpec) { f.Amount = "50.00" }},
	}},
	{action: DeviceChipUnreadable, device: true},
	{action: DeviceCardRemoved, device: true},
	{action: DevicePINTimeout, device: true},
	{action: DevicePrinterOut, device: true},
	{action: DevicePowerLoss, device: true},
}

// FaultActions lists every fault the trainer panel offers (host actions, then device
// faults), for documentation and tests.
func FaultActions() []string {
	var out []string
	for _, it := range faultMenu {
		out = append(out, it.action)
	}
	return out
}

// selectedFault builds the spec of the highlighted menu entry.
func (m *Model) selectedFault() (faultItem, FaultSpec) {
	it := faultMenu[m.trainer.item]
	f := FaultSpec{Action: it.action, MTI: paymentMTIs}
	if it.action == FaultRefuseConnections {
		f.MTI = nil
	}
	if len(it.params) > 0 {
		it.params[m.trainer.param[m.trainer.item]].apply(&f)
	}
	if !m.trainer.untilClr {
		f.Count = 1
	}
	f.Name = "trainer: " + faultLabel(it, m.trainer.param[m.trainer.item])
	return it, f
}

func faultLabel(it faultItem, p int) string {
	if len(it.params) == 0 {
		return it.action
	}
	return it.action + " " + it.params[p].label
}

func (m *Model) trainerKey(k Key) []Cmd {
	tr := &m.trainer
	arm := tr.resetArm
	tr.resetArm = false
	switch k.Code {
	case KeyEsc:
		return m.toggleTrainer()
	case KeyUp:
		tr.item = (tr.item + len(faultMenu) - 1) % len(faultMenu)
	case KeyDown:
		tr.item = (tr.item + 1) % len(faultMenu)
	case KeyLeft, KeyRight:
		if n := len(faultMenu[tr.item].params); n > 0 {
			d := 1
			if k.Code == KeyLeft {
				d = n - 1
			}
			tr.param[tr.item] = (tr.param[tr.item] + d) % n
		}
	case KeyEnter:
		return m.inject()
	case KeyRune:
		switch k.Rune {
		case ' ':
			tr.untilClr = !tr.untilClr
		case 'c', 'C':
			if m.cfg.Terminal != nil {
				m.cfg.Terminal.ClearDeviceFaults()
			}
			return append(m.hostCmd("trainer.cleared", func(ctx context.Context, h Host) error { return h.ClearFaults(ctx) }), m.statusCmd())
		case 'r', 'R':
			if !arm {
				tr.resetArm = true
				m.notice = m.t("trainer.reset_confirm")
				return nil
			}
			return m.hostCmd("trainer.reset_done", func(ctx context.Context, h Host) error {
				if err := h.ClearFaults(ctx); err != nil {
					return err
				}
				return h.Reset(ctx)
			})
		case 'j', 'J':
			return m.hostRefresh()
		case 'b', 'B':
			if n := len(m.cfg.Wallet); n > 0 {
				i := (m.walletIndex(tr.card) + 1) % n
				tr.card, tr.balance, tr.balErr = m.cfg.Wallet[i].Name, nil, ""
				return m.hostRefresh()
			}
		case 't', 'T', 'q', 'Q':
			return m.toggleTrainer()
		}
	}
	return nil
}

// inject installs the highlighted fault.
func (m *Model) inject() []Cmd {
	it, f := m.selectedFault()
	if it.device {
		term := m.cfg.Terminal
		count := f.Count
		label := it.action
		m.notice = m.t("trainer.device_injected", m.t("fault."+label))
		return []Cmd{func(context.Context) Msg {
			injectDevice(term, label, count)
			return snapshotOf(term)
		}}
	}
	return m.hostCmd("trainer.injected", func(ctx context.Context, h Host) error {
		_, err := h.AddFault(ctx, f)
		return err
	})
}

// hostCmd runs fn against the host and reports with the catalog key what.
func (m *Model) hostCmd(what string, fn func(context.Context, Host) error) []Cmd {
	h := m.cfg.Host
	if h == nil {
		m.notice = m.t("trainer.no_host")
		return nil
	}
	return []Cmd{func(ctx context.Context) Msg { return hostDoneMsg{what: what, err: fn(ctx, h)} }}
}

// journalRows is how many host transactions the trainer panel asks for.
const journalRows = 12

// hostRefresh asks the host for the trainer panel's data.
func (m *Model) hostRefresh() []Cmd {
	h := m.cfg.Host
	if h == nil || (!m.trainer.open && m.drill == nil) {
		return nil
	}
	card := m.trainer.card
	// The journal shows this terminal's transactions: a host serves other terminals too
	// (a class, the shop's other tills), and their rows would hide this one's.
	tid := m.tid()
	cmds := []Cmd{
		func(ctx context.Context) Msg {
			txns, err := h.Transactions(ctx, tid, journalRows)
			return journalMsg{terminal: tid, txns: txns, err: err}
		},
		func(ctx context.Context) Msg {
			fs, err := h.Faults(ctx)
			return faultsMsg{faults: fs, err: err}
		},
	}
	if card != "" {
		cmds = append(cmds, func(ctx context.Context) Msg {
			b, err := h.Balance(ctx, card)
			return balanceMsg{card: card, bal: b, err: err}
		})
	}
	return cmds
}

// ---- drills ----

func (m *Model) drillKey(k Key) []Cmd {
	if m.drill != nil && !m.drill.done {
		switch {
		case k.Code == KeyEsc, k == R('d'), k == R('D'):
			m.focus = focusFace
		case k.Code == KeyRune && k.Rune >= '1' && int(k.Rune-'1') < len(declarable):
			a := declarable[k.Rune-'1']
			m.drill.log = append(m.drill.log, attempt{Time: m.now, Op: a, Actions: []string{a}})
			m.notice = m.t("drill.noted", m.t("act."+string(a)))
			return m.maybeFinishDrill()
		case k == R('f'), k == R('F'), k.Code == KeyEnter:
			return m.finishDrill()
		case k == R('a'), k == R('A'):
			m.drill, m.focus = nil, focusFace
			m.notice = m.t("drill.abandoned")
			return []Cmd{m.restoreCmd()}
		}
		return nil
	}
	n := len(m.cfg.Drills)
	switch k.Code {
	case KeyEsc:
		m.focus = focusFace
		if m.drill != nil && m.drill.done {
			m.drill = nil
		}
	case KeyUp:
		if n > 0 {
			m.drillSel = (m.drillSel + n - 1) % n
		}
	case KeyDown:
		if n > 0 {
			m.drillSel = (m.drillSel + 1) % n
		}
	case KeyPgDn:
		if n > 0 {
			m.drillSel = min(n-1, m.drillSel+10)
		}
	case KeyPgUp:
		m.drillSel = max(0, m.drillSel-10)
	case KeyEnter:
		if m.face == faceProcessing {
			m.notice = m.t("notice.wait")
			return nil
		}
		if n > 0 {
			return m.startDrill(m.cfg.Drills[m.drillSel])
		}
	case KeyRune:
		switch k.Rune {
		case 'd', 'D', 'q', 'Q':
			m.focus = focusFace
			if m.drill != nil && m.drill.done {
				m.drill = nil
			}
		}
	}
	return nil
}

// startDrill sets up a drill's faults and tells the trainee the situation.
func (m *Model) startDrill(d Drill) []Cmd {
	m.drill = &drillRun{drill: d, started: m.cfg.Now()}
	var cmds []Cmd
	if f := m.cfg.DrillStarted; f != nil {
		name, at := d.Name, m.drill.started
		cmds = append(cmds, func(ctx context.Context) Msg { f(ctx, name, at); return nil })
	}
	return append(cmds, m.setupDrill(d)...)
}

// startDrillNamed starts the drill the class asked for; one in progress is given up.
func (m *Model) startDrillNamed(name string) []Cmd {
	for _, d := range m.cfg.Drills {
		if d.Name != name {
			continue
		}
		if m.face == faceProcessing {
			m.notice = m.t("notice.wait")
			return nil
		}
		var cmds []Cmd
		if m.drill != nil && !m.drill.done {
			cmds = append(cmds, m.restoreCmd())
		}
		m.notice = m.t("drill.from_class")
		return append(cmds, m.startDrill(d)...)
	}
	m.notice = m.t("drill.unknown", name)
	return nil
}

// setupDrill installs the drill's faults and terminal set-up.
func (m *Model) setupDrill(d Drill) []Cmd {
	m.focus = focusFace
	m.face = faceIdle
	m.last, m.approved = nil, nil
	if i := m.walletIndex(d.Card); i >= 0 {
		m.sel = i
		m.trainer.card = d.Card
	}
	h, term, reconf := m.cfg.Host, m.cfg.Terminal, m.cfg.Reconfigure
	custom := m.custom
	m.custom = d.Profile != nil
	name := d.Name
	return []Cmd{func(ctx context.Context) Msg {
		var err error
		var fresh Terminal
		if d.Profile != nil || custom {
			if reconf == nil {
				err = errors.New("this terminal cannot take the drill's profile")
			} else if fresh, err = reconf(ctx, d.Profile); err == nil {
				term = fresh
			}
		}
		if term != nil {
			term.ClearDeviceFaults()
		}
		var start *int64
		if h != nil && d.Card != "" {
			if b, berr := h.Balance(ctx, d.Card); berr == nil {
				start = &b.Available
			}
		}
		if h != nil && err == nil {
			err = h.ClearFaults(ctx)
			for _, f := range d.Faults {
				if err != nil {
					break
				}
				_, err = h.AddFault(ctx, f)
			}
		} else if len(d.Faults) > 0 {
			err = fmt.Errorf("no host access to install the drill's faults")
		}
		for _, df := range d.DeviceFaults {
			injectDevice(term, df, 1)
		}
		return drillReadyMsg{name: name, err: err, term: fresh, start: start}
	}}
}

// swapTerminal takes a terminal built for (or after) a drill.
func (m *Model) swapTerminal(t Terminal) {
	if t != nil {
		m.cfg.Terminal = t
		m.receiptLang()
		m.approved, m.preauth = nil, nil
	}
}

// restoreCmd clears the drill's faults and, after a drill with its own terminal profile,
// brings the default terminal back.
func (m *Model) restoreCmd() Cmd {
	h, term, reconf, custom := m.cfg.Host, m.cfg.Terminal, m.cfg.Reconfigure, m.custom
	m.custom = false
	return func(ctx context.Context) Msg {
		var errs []error
		if h != nil {
			errs = append(errs, h.ClearFaults(ctx))
		}
		if term != nil {
			term.ClearDeviceFaults()
		}
		var fresh Terminal
		if custom && reconf != nil {
			var err error
			fresh, err = reconf(ctx, nil)
			errs = append(errs, err)
		}
		return restoredMsg{term: fresh, err: errors.Join(errs...)}
	}
}

// finishDrill ends the drill: the host is asked what the customer paid, then it is scored.
func (m *Model) finishDrill() []Cmd {
	d := m.drill
	d.done = true
	m.focus = focusDrills
	h, card, name := m.cfg.Host, d.drill.Card, d.drill.Name
	restore := m.restoreCmd()
	// The actions are final now; the record is made (and kept, with a class) before the
	// debrief shows the score.
	rec := DrillRecord{Drill: name, Started: d.started, Finished: m.cfg.Now(), DrillScore: score(d, nil).DrillScore}
	record := m.cfg.RecordDrill
	return []Cmd{func(ctx context.Context) Msg {
		var end *int64
		if h != nil && card != "" {
			if b, err := h.Balance(ctx, card); err == nil {
				end = &b.Available
			}
		}
		// The drill's faults and profile must not leak into free practice.
		r := restore(ctx).(restoredMsg)
		var recErr error
		if record != nil {
			recErr = record(ctx, rec)
		}
		return debriefMsg{name: name, end: end, term: r.term, recordErr: recErr}
	}}
}

// maskedCardLabel is how a card is named on screen: brand and masked number.
func maskedCardLabel(c WalletCard) string {
	return strings.TrimSpace(shortBrand(c.Brand) + " " + c.MaskedPAN)
}
