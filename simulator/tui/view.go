package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// Styles.
var (
	stBase    = tcell.StyleDefault
	stDim     = tcell.StyleDefault.Foreground(tcell.ColorGray)
	stBold    = tcell.StyleDefault.Bold(true)
	stFrame   = tcell.StyleDefault.Foreground(tcell.ColorTeal)
	stTitle   = tcell.StyleDefault.Foreground(tcell.ColorTeal).Bold(true)
	stBar     = tcell.StyleDefault.Background(tcell.ColorNavy).Foreground(tcell.ColorWhite)
	stKey     = tcell.StyleDefault.Foreground(tcell.ColorYellow).Bold(true)
	stOK      = tcell.StyleDefault.Foreground(tcell.ColorGreen).Bold(true)
	stBad     = tcell.StyleDefault.Foreground(tcell.ColorRed).Bold(true)
	stWarn    = tcell.StyleDefault.Foreground(tcell.ColorOlive).Bold(true)
	stInfo    = tcell.StyleDefault.Foreground(tcell.ColorTeal).Bold(true)
	stSel     = tcell.StyleDefault.Reverse(true)
	stNotice  = tcell.StyleDefault.Foreground(tcell.ColorYellow)
	stPrompt  = tcell.StyleDefault.Foreground(tcell.ColorWhite).Background(tcell.ColorTeal).Bold(true)
	stReceipt = tcell.StyleDefault.Foreground(tcell.ColorSilver)
)

// Minimum usable screen.
const (
	minW = 60
	minH = 18
	// wideW is the width from which the trainer and drill panels get a column of their own.
	wideW = 120
)

// Draw renders the model onto the screen (it does not call Show).
func (m *Model) Draw(s tcell.Screen) {
	s.Clear()
	w, h := s.Size()
	if w < minW || h < minH {
		ww := newWriter(s, rect{0, 0, w, h})
		ww.para(m.t("ui.too_small", minW, minH, w, h), stBold, 0)
		return
	}
	m.drawTitle(s, w)
	body := rect{0, 1, w, h - 3}
	if m.showTrace {
		th := max(6, body.h/3)
		if h >= 40 {
			th = body.h / 2
		}
		m.drawTrace(s, rect{0, body.y + body.h - th, w, th})
		body.h -= th
	}
	faceW := min(48, max(40, w/2))
	if w >= wideW {
		faceW = 46
	}
	m.drawFace(s, rect{body.x, body.y, faceW, body.h})
	rest := rect{faceW, body.y, w - faceW, body.h}
	if w >= wideW {
		panelW := rest.w / 2
		m.drawSide(s, rect{rest.x, rest.y, rest.w - panelW, rest.h}, false)
		m.drawPanel(s, rect{rest.x + rest.w - panelW, rest.y, panelW, rest.h})
	} else if !m.drawPanel(s, rest) {
		m.drawSide(s, rest, false)
	}
	m.drawNotice(s, rect{0, h - 2, w, 1})
	m.drawHints(s, rect{0, h - 1, w, 1})
	if m.help {
		m.drawHelp(s, rect{0, 0, w, h - 1})
	}
}

func (m *Model) drawTitle(s tcell.Screen, w int) {
	fill(s, rect{0, 0, w, 1}, stBar)
	parts := []string{m.t("ui.title")}
	switch {
	case m.cfg.Class != "" && m.classDown:
		parts = append(parts, m.t("ui.class_down", m.cfg.Class))
	case m.cfg.Class != "":
		// the trainee's name, at the class's host: short, the drill's title needs the room
		who := m.cfg.Class
		if m.cfg.HostLabel != "" {
			who += " @ " + m.cfg.HostLabel
		}
		parts = append(parts, m.t("ui.class", who))
	case m.cfg.HostLabel != "" && m.cfg.Embedded:
		parts = append(parts, m.t("ui.host_embedded", m.cfg.HostLabel))
	case m.cfg.HostLabel != "":
		parts = append(parts, m.t("ui.host", m.cfg.HostLabel))
	}
	if m.drill != nil {
		parts = append(parts, m.t("ui.drill", m.drill.drill.Title.In(m.lang)))
	}
	lang := m.t("ui.lang_name")
	room := w - textWidth(lang) - 4
	putText(s, 1, 0, room, truncate(strings.Join(parts, " │ "), room), stBar.Bold(true))
	putText(s, w-textWidth(lang)-1, 0, textWidth(lang), lang, stBar)
}

// ---- terminal face ----

func (m *Model) drawFace(s tcell.Screen, r rect) {
	tid := ""
	if m.cfg.Terminal != nil {
		tid = m.cfg.Terminal.Profile().TID
	}
	title := m.t("face.title", tid)
	in := box(s, r, title, stFrame, stTitle)
	if in.empty() {
		return
	}
	w := newWriter(s, rect{in.x + 1, in.y, in.w - 2, in.h})
	header := m.t("op." + m.faceOp())
	if m.face == faceIdle {
		header = m.t("face.ready")
	}
	clock := m.now.Format("15:04:05")
	putText(s, w.r.x+w.r.w-textWidth(clock), w.y, textWidth(clock), clock, stDim)
	w.line(header, stBold)
	w.blank()
	if m.snap.Crashed && m.face != faceProcessing {
		m.drawBannerLine(w, m.t("banner.power_lost"), stBad)
		w.para(m.t("face.power_lost"), stBase, 0)
		w.blank()
		w.line(m.t("face.power_on"), stKey)
		return
	}
	switch m.face {
	case faceIdle:
		m.drawIdle(w)
	case faceAmount:
		if m.op == simulator.OpCompletion && m.preauth != nil {
			w.para(m.t("face.complete_prompt", m.money(m.preauth.Amount), m.preauth.MaskedPAN), stBase, 0)
		}
		w.line(m.t("face.enter_amount"), stBase)
		m.drawBannerLine(w, iso.FormatMoney(m.amountMinor()), stBold)
		w.line(m.cfg.Currency+" "+iso.FormatMoney(m.amountMinor()), stBold)
		w.blank()
		w.para(m.t("face.amount_keys"), stDim, 0)
	case facePresent:
		if m.op != simulator.OpBalance {
			w.line(m.t("face.amount", m.money(m.amountMinor())), stBold)
		}
		w.blank()
		w.line(centered(m.t("face.present_prompt"), w.r.w), stPrompt)
		w.blank()
		if len(m.cfg.Wallet) > 0 {
			c := m.cfg.Wallet[m.sel]
			w.line(m.t("face.customer_holds"), stBase)
			w.line("  "+maskedCardLabel(c), stBold)
		}
		w.blank()
		w.para(m.t("face.present_keys"), stDim, 0)
	case facePIN:
		w.line(m.t("face.amount", m.money(m.amountMinor())), stBold)
		w.blank()
		w.line(centered(m.t("face.enter_pin"), w.r.w), stPrompt)
		w.blank()
		stars := strings.Repeat("* ", len(m.pin))
		if stars == "" {
			stars = "_"
		}
		w.line(centered(strings.TrimSpace(stars), w.r.w), stBold)
		w.blank()
		w.para(m.t("face.pin_keys"), stDim, 0)
	case faceConfirm:
		switch m.confirm {
		case simulator.OpVoid:
			a := m.approved
			w.para(m.t("face.confirm_void", m.money(a.Amount), a.MaskedPAN, a.STAN), stBold, 0)
		case simulator.OpSettle:
			w.para(m.t("face.confirm_settle"), stBold, 0)
		}
		w.blank()
		w.line(m.t("face.confirm_keys"), stKey)
	case faceProcessing:
		m.drawProcessing(w)
	case faceResult:
		m.drawResult(w)
	case faceInfo:
		m.drawInfo(w)
	}
}

// faceOp is the operation the face is about.
func (m *Model) faceOp() string {
	switch m.face {
	case faceConfirm:
		return m.confirm
	case faceResult:
		if m.last != nil {
			return m.last.Op
		}
	case faceInfo:
		if m.info != nil || m.infoText == nil {
			return OpCheckLast
		}
		return OpReprint
	}
	if m.op == "" {
		return simulator.OpSale
	}
	return m.op
}

func centered(text string, w int) string {
	text = truncate(text, w)
	pad := max(0, (w-textWidth(text))/2)
	return strings.Repeat(" ", pad) + text + strings.Repeat(" ", max(0, w-pad-textWidth(text)))
}

// drawBannerLine draws a 3-row banner at the writer's position.
func (m *Model) drawBannerLine(w *writer, text string, st tcell.Style) {
	if w.left() < 3 {
		w.line(text, st)
		return
	}
	// The banner may use the padding of the box too.
	drawBanner(w.s, rect{w.r.x - 1, w.y, w.r.w + 2, 3}, text, st)
	w.y += 3
}

func (m *Model) drawIdle(w *writer) {
	w.line(centered(m.t("face.idle_prompt"), w.r.w), stPrompt)
	w.blank()
	for _, l := range []string{"face.idle_keys1", "face.idle_keys2", "face.idle_keys3", "face.idle_keys4"} {
		w.line(m.t(l), stBase)
	}
	w.blank()
	t := m.snap.Totals
	w.para(m.t("face.batch", t.SalesCount, iso.FormatMoney(t.SalesAmount), t.RefundsCount, iso.FormatMoney(t.RefundsAmount)), stDim, 2)
	m.drawQueue(w)
	if m.last != nil {
		w.blank()
		w.line(m.t("face.last", m.t("op."+m.last.Op), m.kindText(m.last)), stDim)
	}
}

// drawQueue says what waits in the store-and-forward queue.
func (m *Model) drawQueue(w *writer) {
	if n := len(m.snap.SAF); n > 0 {
		w.line(m.t("face.saf", n), stWarn)
		if m.snap.SAFBlocked {
			w.para(m.t("face.saf_blocked", iso.MaskText(m.snap.SAFBlockedReason)), stBad, 2)
		}
	}
	if n := len(m.snap.Manual); n > 0 {
		w.line(m.t("face.manual", n), stBad)
	}
}

func (m *Model) drawProcessing(w *writer) {
	if m.op == simulator.OpSale || m.op == simulator.OpRefund || m.op == simulator.OpPreAuth || m.op == simulator.OpCompletion {
		w.line(m.t("face.amount", m.money(m.amountMinor())), stBold)
	}
	reversing := false
	for _, e := range m.events {
		switch e.Kind {
		case "timed_out", "connection_lost", "invalid_answer", "reversal_queued", "reversal_sent":
			reversing = true
		}
	}
	if m.snap.Phase == "reversing" {
		reversing = true
	}
	if reversing {
		m.drawBannerLine(w, m.t("banner.no_answer"), stWarn)
		w.line(m.t("face.reversing"), stWarn)
	} else {
		m.drawBannerLine(w, m.t("banner.processing"), stInfo)
		w.line(m.t("face.phase."+orDefault(m.snap.Phase, "idle")), stBase)
	}
	if !m.snap.Deadline.IsZero() {
		left := m.snap.Deadline.Sub(m.now)
		if left < 0 {
			left = 0
		}
		secs := int((left + time.Second - 1) / time.Second)
		w.line(m.t("face.countdown", secs), stBold)
		if total := m.cfg.Terminal; total != nil {
			if to := total.Profile().ResponseTimeout; to > 0 && w.r.w > 4 {
				filled := int(float64(w.r.w) * float64(left) / float64(to))
				filled = max(0, min(w.r.w, filled))
				w.line(strings.Repeat("█", filled)+strings.Repeat("░", w.r.w-filled), stInfo)
			}
		}
	}
	w.blank()
	for _, e := range tail(m.events, max(0, w.left())) {
		w.line("· "+m.eventText(e), stDim)
	}
}

func tail[T any](xs []T, n int) []T {
	if len(xs) > n {
		return xs[len(xs)-n:]
	}
	return xs
}

// eventText names a terminal event in the current language.
func (m *Model) eventText(e TermEvent) string {
	key := "event." + e.Kind
	if Has(key) {
		return m.t(key)
	}
	return e.Kind
}

// banner is the big word of a result, with its style.
func (m *Model) banner(r *Result) (string, tcell.Style) {
	switch r.Kind {
	case simulator.KindApproved, simulator.KindOfflineApproved:
		if r.Op == simulator.OpBalance || r.Op == simulator.OpEcho || r.Op == simulator.OpSignOn {
			return m.t("banner.ok"), stOK
		}
		return m.t("banner.approved"), stOK
	case simulator.KindPartiallyApproved:
		return m.t("banner.partial"), stWarn
	case simulator.KindDeclined, simulator.KindRefusedAtTerminal:
		return m.t("banner.declined"), stBad
	case simulator.KindTimedOutReversed, simulator.KindNoAnswer, simulator.KindAnswerRejected:
		return m.t("banner.no_answer"), stWarn
	case simulator.KindReversalPending:
		return m.t("banner.no_answer"), stWarn
	case simulator.KindVoided:
		return m.t("banner.voided"), stInfo
	case simulator.KindNotSent:
		return m.t("banner.not_sent"), stWarn
	case simulator.KindDeviceFault:
		return m.t("banner.device"), stWarn
	case simulator.KindPowerLoss:
		return m.t("banner.power_lost"), stBad
	case simulator.KindSettled, KindSAFSent, KindPoweredOn:
		return m.t("banner.done"), stOK
	case simulator.KindSettleFailed:
		return m.t("banner.failed"), stBad
	case simulator.KindAdviceQueued:
		return m.t("banner.approved"), stOK
	}
	return m.t("banner.error"), stBad
}

// kindText is the one-line plain result: what the cashier reads out.
func (m *Model) kindText(r *Result) string {
	key := "kind." + r.Kind
	text := r.Kind
	if Has(key) {
		text = m.t(key)
	}
	if r.Kind == simulator.KindDeclined || r.Kind == simulator.KindRefusedAtTerminal {
		e := guidance.Lookup(r.Guidance, m.lang)
		if r.ResponseCode != "" {
			return text + " — " + r.ResponseCode + " " + e.Title
		}
		return text + " — " + e.Title
	}
	return text
}

func (m *Model) drawResult(w *writer) {
	r := m.last
	if r == nil {
		return
	}
	word, st := m.banner(r)
	m.drawBannerLine(w, word, st)
	w.para(m.kindText(r), st, 0)
	switch {
	case r.Kind == simulator.KindPartiallyApproved:
		w.line(m.t("face.partial", m.money(r.Approved), m.money(r.Amount)), stWarn)
		w.line(m.t("face.partial_rest", m.money(r.Amount-r.Approved)), stWarn)
	case r.Op == simulator.OpBalance && r.Balance != nil:
		w.line(m.t("face.balance", m.money(*r.Balance)), stBold)
	case r.Op == simulator.OpPreAuth && approvedKind(r.Kind):
		w.line(m.t("face.held", m.money(r.Approved)), stBase)
	case r.Op == simulator.OpSale || r.Op == simulator.OpRefund || r.Op == simulator.OpVoid || r.Op == simulator.OpCompletion:
		w.line(m.t("face.amount", m.money(r.Amount)), stBase)
	}
	if r.MaskedPAN != "" {
		w.line(m.t("face.card", r.MaskedPAN, m.t("entry."+orDefault(r.Entry, "none"))), stBase)
	}
	var ids []string
	if r.STAN != "" {
		ids = append(ids, "STAN "+r.STAN)
	}
	if r.AuthCode != "" {
		ids = append(ids, m.t("face.auth")+" "+r.AuthCode)
	}
	if r.RRN != "" {
		ids = append(ids, "RRN "+r.RRN)
	}
	if len(ids) > 0 {
		w.line(strings.Join(ids, "  "), stDim)
	}
	switch r.Kind {
	case simulator.KindTimedOutReversed, simulator.KindAnswerRejected:
		w.para(m.t("face.reversed_ok"), stOK, 0)
	case simulator.KindReversalPending:
		w.para(m.t("face.reversal_pending"), stWarn, 0)
	}
	if r.Last != nil {
		w.para(m.t("face.last_txn", m.t("op."+r.Last.Operation), m.money(r.Last.Amount), r.Last.STAN, m.t("status."+r.Last.Status)), stWarn, 0)
	}
	if r.Err != "" && r.Kind == KindError {
		w.para(r.Err, stBad, 0)
	}
	m.drawQueue(w)
	if r.ReceiptHeld {
		w.line(m.t("face.receipt_held"), stWarn)
	}
	if len(r.Receipt) > 0 && w.left() > 3 {
		w.line(m.t("face.receipt"), stDim)
		for _, l := range r.Receipt {
			if w.left() <= 1 {
				w.line("  …", stReceipt)
				break
			}
			w.line("  "+l, stReceipt)
		}
	}
}

func (m *Model) drawInfo(w *writer) {
	if m.infoText != nil {
		for _, l := range m.infoText {
			w.line(l, stReceipt)
		}
		return
	}
	if m.info == nil {
		w.line(m.t("info.looking"), stDim)
		return
	}
	if m.info.txn == nil {
		w.line(m.t("info.no_txn"), stBase)
	} else {
		t := m.info.txn
		w.line(m.t("info.last_txn"), stBold)
		w.line(m.t("op."+t.Operation)+"  "+m.money(t.Amount), stBase)
		if t.MaskedPAN != "" {
			w.line(t.MaskedPAN, stBase)
		}
		w.line(fmt.Sprintf("STAN %s  %s", t.STAN, t.Time.Format("15:04:05")), stDim)
		st := stBase
		switch t.Status {
		case "approved", "partial", "offline":
			st = stOK
		case "reversal_pending", "void_pending", "unknown", "sending":
			st = stWarn
		case "declined", "reversed", "voided", "not_sent":
			st = stInfo
		}
		w.blank()
		w.para(m.t("info.status", m.t("status."+t.Status)), st, 0)
		if key := "info.means." + t.Status; Has(key) {
			w.para(m.t(key), stBase, 0)
		}
	}
	w.blank()
	if len(m.info.saf) == 0 {
		w.line(m.t("info.saf_empty"), stDim)
	} else {
		w.line(m.t("face.saf", len(m.info.saf)), stWarn)
		for _, e := range m.info.saf {
			w.line(fmt.Sprintf(" %s STAN %s %s ×%d", e.MTI, e.OriginalSTAN, m.money(e.Amount), e.Attempts), stDim)
		}
	}
}

// ---- side column: wallet, guidance, drill situation ----

// section is one boxed block of the side column.
type section struct {
	title string
	draw  func(w *writer)
	need  int // rows wanted inside the box (0: whatever is left)
}

func (m *Model) drawSide(s tcell.Screen, r rect, _ bool) {
	var secs []section
	if m.drill != nil && !m.drill.done {
		secs = append(secs, section{title: m.t("drill.situation_title"), draw: m.drawSituation, need: m.situationRows(r.w - 4)})
	}
	showWallet := m.face == facePresent || m.face == facePIN || m.face == faceAmount ||
		(m.face == faceIdle && m.last == nil) || m.face == faceProcessing
	if showWallet {
		secs = append(secs, section{title: m.t("wallet.title"), draw: m.drawWallet})
	} else {
		secs = append(secs, section{title: m.t("guide.title"), draw: m.drawGuidance})
	}
	drawSections(s, r, secs)
}

func drawSections(s tcell.Screen, r rect, secs []section) {
	y := r.y
	for i, sec := range secs {
		left := r.y + r.h - y
		h := left
		if i < len(secs)-1 && sec.need > 0 {
			h = min(left-3, sec.need+2)
		}
		if h < 3 {
			return
		}
		in := box(s, rect{r.x, y, r.w, h}, sec.title, stFrame, stTitle)
		sec.draw(newWriter(s, rect{in.x + 1, in.y, in.w - 2, in.h}))
		y += h
	}
}

func (m *Model) situationRows(w int) int {
	d := m.drill.drill
	n := len(wrap(d.Situation.In(m.lang), w)) + 2 // + the state line, which may wrap once
	if !d.Says.IsZero() {
		n += len(wrap(m.t("drill.says", d.Says.In(m.lang)), w-2))
	}
	if d.Card != "" {
		n += len(wrap(m.t("drill.customer", m.money(d.Amount), m.customerCard(m.walletCard(d.Card), d.Entry)), w-2))
	}
	return n
}

// customerCard names the drill customer's card and how they present it.
func (m *Model) customerCard(c WalletCard, entry string) string {
	if entry == "" || !Has("entry."+entry) {
		return maskedCardLabel(c)
	}
	return maskedCardLabel(c) + " (" + m.t("entry."+entry) + ")"
}

func (m *Model) drawSituation(w *writer) {
	d := m.drill
	w.para(d.drill.Situation.In(m.lang), stBase, 0)
	if !d.drill.Says.IsZero() {
		w.para(m.t("drill.says", d.drill.Says.In(m.lang)), stBase, 2)
	}
	if d.drill.Card != "" {
		c := m.walletCard(d.drill.Card)
		w.para(m.t("drill.customer", m.money(d.drill.Amount), m.customerCard(c, d.drill.Entry)), stBold, 2)
	}
	switch {
	case d.setupErr != "":
		w.para(m.t("drill.setup_failed", d.setupErr), stBad, 0)
	case !d.ready:
		w.line(m.t("drill.setting_up"), stDim)
	case d.drill.Card == "": // no customer at the till: settlement, the line, the set-up
		w.para(m.t("drill.go_no_customer"), stKey, 0)
	default:
		w.para(m.t("drill.go"), stKey, 0)
	}
}

func (m *Model) drawWallet(w *writer) {
	if len(m.cfg.Wallet) == 0 {
		w.line(m.t("wallet.empty"), stDim)
		return
	}
	keys := w.left() - 2
	first := 0
	if m.sel >= keys && keys > 0 {
		first = m.sel - keys + 1
	}
	samePIN := true
	for _, c := range m.cfg.Wallet {
		samePIN = samePIN && c.PIN == m.cfg.Wallet[0].PIN
	}
	for i := first; i < len(m.cfg.Wallet) && w.left() > 2; i++ {
		c := m.cfg.Wallet[i]
		key := " "
		switch {
		case i < 9:
			key = string(rune('1' + i))
		case i == 9:
			key = "0"
		case c.QR:
			key = "C"
		}
		brand := shortBrand(c.Brand)
		if c.QR {
			brand = m.t("wallet.qr")
		}
		line := key + " " + padRight(brand, 4) + " " + c.MaskedPAN
		if !c.QR && len(c.Expiry) == 4 {
			line += " " + c.Expiry[2:] + "/" + c.Expiry[:2]
		}
		if !samePIN && c.PIN != "" {
			line += " PIN " + c.PIN
		}
		st := stBase
		if i == m.sel {
			st = stSel
			line = padRight(line, w.r.w)
		}
		w.line(line, st)
	}
	if samePIN && m.cfg.Wallet[0].PIN != "" {
		w.line(m.t("wallet.pin", m.cfg.Wallet[0].PIN), stDim)
	}
	w.para(m.t("wallet.how"), stDim, 0)
}

// shortBrand is a card brand in at most four cells, as wallets and receipts abbreviate it.
func shortBrand(b string) string {
	switch strings.ToLower(b) {
	case "visa":
		return "VISA"
	case "mastercard":
		return "MC"
	case "unionpay":
		return "UPI"
	case "amex":
		return "AMEX"
	}
	return truncate(strings.ToUpper(b), 4)
}

func (m *Model) drawGuidance(w *writer) {
	r := m.last
	if r == nil {
		return
	}
	if m.drill != nil && !m.drill.done {
		w.para(m.t("guide.hidden"), stDim, 0)
		return
	}
	key := r.Guidance
	if key == "" {
		switch r.Kind {
		case simulator.KindApproved:
			key = iso.GuidanceApproved
		case simulator.KindSettled:
			key = iso.GuidanceSettled
		}
	}
	if key == "" {
		w.para(m.kindText(r), stBase, 0)
		return
	}
	e := guidance.Lookup(key, m.lang)
	w.line(e.Title, stBold)
	w.para(e.What, stBase, 0)
	w.blank()
	for i, step := range e.Steps {
		w.para(fmt.Sprintf("%d. %s", i+1, step), stBase, 3)
	}
	if e.Tell != "" {
		w.blank()
		w.line(m.t("guide.tell"), stKey)
		w.para(e.Tell, stBase, 0)
	}
}

// ---- panels: trainer, drills ----

// drawPanel draws the trainer or drill panel when one is open; false when none is.
func (m *Model) drawPanel(s tcell.Screen, r rect) bool {
	switch {
	case m.focus == focusDrills:
		in := box(s, r, m.t("drill.title"), stFrame, stTitle)
		m.drawDrills(newWriter(s, rect{in.x + 1, in.y, in.w - 2, in.h}))
		return true
	case m.trainer.open:
		in := box(s, r, m.t("trainer.title"), stFrame, stTitle)
		m.drawTrainer(newWriter(s, rect{in.x + 1, in.y, in.w - 2, in.h}))
		return true
	}
	if r.w >= 40 && m.w >= wideW {
		// wide screens: the panel column shows the wallet when the side shows guidance
		in := box(s, r, m.t("wallet.title"), stFrame, stTitle)
		m.drawWallet(newWriter(s, rect{in.x + 1, in.y, in.w - 2, in.h}))
		return true
	}
	return false
}

func (m *Model) faultName(action string) string { return m.t("fault." + action) }

func (m *Model) drawTrainer(w *writer) {
	tr := &m.trainer
	it := faultMenu[tr.item]
	label := m.faultName(it.action)
	if len(it.params) > 0 {
		label += " ◂ " + it.params[tr.param[tr.item]].label + " ▸"
	}
	w.line(m.t("trainer.fault"), stDim)
	w.line("▲▼ "+label, stSel)
	mode := m.t("trainer.once")
	if tr.untilClr {
		mode = m.t("trainer.until_cleared")
	}
	w.para(m.t("trainer.mode", mode), stBase, 2)
	w.para(m.t("trainer.keys"), stKey, 0)
	if m.cfg.Host == nil {
		w.para(m.t("trainer.no_host"), stWarn, 0)
	}
	// Faults in force.
	var active []string
	for _, f := range tr.faults {
		a := m.faultName(f.Action)
		if f.Code != "" {
			a += " " + f.Code
		}
		if f.Count > 0 {
			a += fmt.Sprintf(" (%d/%d)", f.Fired, f.Count)
		}
		active = append(active, a)
	}
	for _, f := range m.snap.DeviceFaults {
		active = append(active, m.faultName(f.Kind))
	}
	if len(active) == 0 {
		w.line(m.t("trainer.active_none"), stDim)
	} else {
		w.line(m.t("trainer.active"), stWarn)
		for _, a := range active {
			w.line("· "+a, stWarn)
		}
	}
	if tr.faultsErr != "" {
		w.para(tr.faultsErr, stBad, 0)
	}
	// The customer's card at the host.
	w.blank()
	c := m.walletCard(tr.card)
	w.line(m.t("trainer.card"), stTitle)
	w.line(maskedCardLabel(c), stBase)
	switch {
	case tr.balErr != "":
		w.para(tr.balErr, stBad, 0)
	case tr.balance != nil:
		b := tr.balance
		w.line(m.t("trainer.balance", iso.FormatMoney(b.Available), iso.FormatMoney(b.Held)), stBase)
		if ch := b.Charged(); ch == 0 && b.Held == 0 {
			w.line(m.t("trainer.not_charged"), stOK)
		} else {
			w.para(m.t("trainer.charged", m.money(ch)), stWarn, 0)
		}
	default:
		w.line(m.t("trainer.asking"), stDim)
	}
	// The host journal, newest first.
	w.blank()
	w.para(m.t("trainer.journal", orDefault(tr.jourOf, m.tid())), stTitle, 0)
	switch {
	case tr.jourErr != "":
		w.para(tr.jourErr, stBad, 0)
	case !tr.jourAsked:
		w.line(m.t("trainer.asking"), stDim)
	case len(tr.journal) == 0:
		w.para(m.t("trainer.journal_empty", tr.jourOf), stDim, 0)
	}
	for i := len(tr.journal) - 1; i >= 0 && !w.full(); i-- {
		t := tr.journal[i]
		state := m.t("hoststate." + t.State)
		if !Has("hoststate." + t.State) {
			state = t.State
		}
		// The amount asked for: a decline or a reversal took nothing, and 0.00 would hide
		// which payment it was. What was taken, when it differs, follows in brackets.
		amount := iso.FormatMoney(t.Requested)
		if t.Requested == 0 {
			amount = iso.FormatMoney(t.Amount)
		} else if t.Amount != 0 && t.Amount != t.Requested {
			amount += " (" + iso.FormatMoney(t.Amount) + ")"
		}
		row := fmt.Sprintf("%s %s %s %s %s", t.STAN, lastDigits(t.MaskedPAN), amount, orDefault(t.ResponseCode, "--"), state)
		if t.MTI != "0200" { // a sale is the usual row: the message type is named otherwise
			row += " (" + t.MTI + ")"
		}
		w.para(row, stBase, 2)
		if t.Fault != "" {
			w.line("  ⚡ "+m.faultName(t.Fault), stWarn)
		}
	}
}

// lastDigits is the last four characters of a masked card number.
func lastDigits(masked string) string {
	if len(masked) > 4 {
		return masked[len(masked)-4:]
	}
	return masked
}

func last4(masked string) string {
	if len(masked) > 4 {
		return "…" + masked[len(masked)-4:]
	}
	return masked
}

func (m *Model) drawDrills(w *writer) {
	d := m.drill
	switch {
	case d != nil && d.done:
		m.drawDebrief(w)
		return
	case d != nil:
		w.line(d.drill.Title.In(m.lang), stBold)
		w.para(d.drill.Situation.In(m.lang), stBase, 0)
		w.blank()
		w.line(m.t("drill.till_actions"), stTitle)
		for i, a := range declarable {
			w.line(fmt.Sprintf("%d  %s", i+1, m.t("act."+string(a))), stBase)
		}
		w.blank()
		w.para(m.t("drill.active_keys"), stKey, 0)
		w.blank()
		w.line(m.t("drill.so_far"), stTitle)
		for _, at := range d.log {
			w.para("· "+m.attemptText(at), stDim, 2)
		}
		return
	}
	if len(m.cfg.Drills) == 0 {
		w.para(m.t("drill.none"), stDim, 0)
		return
	}
	w.para(m.t("drill.pick"), stKey, 0)
	rows := max(1, w.left()-6)
	first := max(0, m.drillSel-rows+1)
	for i := first; i < len(m.cfg.Drills) && i < first+rows; i++ {
		line := fmt.Sprintf("%2d %s", i+1, m.cfg.Drills[i].Title.In(m.lang))
		st := stBase
		if i == m.drillSel {
			st = stSel
			line = padRight(line, w.r.w)
		}
		w.line(line, st)
	}
	if sel := m.cfg.Drills[m.drillSel]; w.left() > 1 {
		w.blank()
		w.para(sel.Title.In(m.lang), stBold, 0)
		w.para(sel.Situation.In(m.lang), stDim, 0)
	}
}

// attemptText is one line of what the trainee did.
func (m *Model) attemptText(a attempt) string {
	var b strings.Builder
	if isTerminalOp(a.Op) || a.Op == OpReprint || a.Op == OpCheckLast {
		b.WriteString(m.t("op." + a.Op))
	} else {
		b.WriteString(m.t("act." + a.Op))
	}
	if a.Amount > 0 {
		b.WriteString(" " + iso.FormatMoney(a.Amount))
	}
	if a.Card != "" {
		b.WriteString(" " + last4(m.walletCard(a.Card).MaskedPAN))
	}
	if a.Result != nil {
		b.WriteString(" → " + m.kindText(a.Result))
	}
	return b.String()
}

func (m *Model) drawDebrief(w *writer) {
	d := m.drill
	w.line(d.drill.Title.In(m.lang), stBold)
	db := d.debrief
	if db == nil {
		w.line(m.t("drill.scoring"), stDim)
		return
	}
	if db.Passed {
		m.drawBannerLine(w, m.t("drill.passed"), stOK)
	} else {
		m.drawBannerLine(w, m.t("drill.not_yet"), stBad)
	}
	w.line(m.t("drill.score", db.Score, db.Max), stBold)
	for _, l := range db.Lines {
		mark, st := "✔", stOK
		if !l.OK {
			mark, st = "✘", stBad
		}
		key := "drill.did"
		switch {
		case l.Forbidden && l.OK:
			key = "drill.avoided"
		case l.Forbidden:
			key = "drill.did_forbidden"
		case !l.OK:
			key = "drill.missed"
		}
		w.para(mark+" "+m.t(key, m.t("act."+l.Action)), st, 2)
	}
	if db.Charged != nil {
		if *db.Charged == 0 {
			w.para(m.t("drill.charged_none"), stBase, 0)
		} else {
			w.para(m.t("drill.charged", m.money(*db.Charged)), stBase, 0)
		}
	}
	w.blank()
	w.line(m.t("drill.what_you_did"), stTitle)
	for _, at := range d.log {
		w.para("· "+m.attemptText(at), stDim, 2)
	}
	if !d.drill.Debrief.IsZero() {
		w.blank()
		w.line(m.t("drill.why"), stTitle)
		if t := d.drill.Topic.In(m.lang); t != "" && t != d.drill.Title.In(m.lang) {
			w.para(t, stBold, 0)
		}
		w.para(d.drill.Debrief.In(m.lang), stBase, 0)
	}
	w.blank()
	w.line(m.t("drill.close"), stKey)
}

// ---- trace ----

func (m *Model) drawTrace(s tcell.Screen, r rect) {
	in := box(s, r, m.t("trace.title"), stFrame, stTitle)
	if in.empty() {
		return
	}
	w := newWriter(s, rect{in.x + 1, in.y, in.w - 2, in.h})
	if len(m.trace) == 0 {
		w.line(m.t("trace.empty"), stDim)
		return
	}
	for _, l := range tail(m.trace, w.left()) {
		dir := "  "
		switch l.Dir {
		case "out":
			dir = "→ "
		case "in":
			dir = "← "
		case "":
			dir = "! "
		}
		st := stBase
		if l.Dir == "in" {
			st = stInfo
		}
		text := fmt.Sprintf("%s %s%-4s %-6s %-2s %s", l.Time.Format("15:04:05.000"), dir, l.MTI, l.STAN, l.RC, l.Note)
		if l.Flag != "" {
			flag := m.t("flag." + l.Flag)
			if !Has("flag." + l.Flag) {
				flag = strings.ToUpper(l.Flag)
			}
			text = fmt.Sprintf("%s %s[%s] %-4s %-6s %-2s %s", l.Time.Format("15:04:05.000"), dir, flag, l.MTI, l.STAN, l.RC, l.Note)
			st = stBad
		}
		w.line(iso.MaskText(text), st)
	}
}

// ---- bottom lines, help ----

func (m *Model) drawNotice(s tcell.Screen, r rect) {
	if m.notice != "" {
		putText(s, r.x+1, r.y, r.w-2, truncate(m.notice, r.w-2), stNotice)
	}
}

// hints is the key line for the current state.
func (m *Model) hints() string {
	switch {
	case m.help:
		return m.t("hint.help")
	case m.focus == focusTrainer:
		return m.t("hint.trainer")
	case m.focus == focusDrills:
		switch {
		case m.drill != nil && !m.drill.done:
			return m.t("hint.drill_active")
		case m.drill != nil:
			return m.t("hint.debrief")
		}
		return m.t("hint.drills")
	}
	switch m.face {
	case faceAmount:
		return m.t("hint.amount")
	case facePresent:
		return m.t("hint.present")
	case facePIN:
		return m.t("hint.pin")
	case faceConfirm:
		return m.t("hint.confirm")
	case faceProcessing:
		return m.t("hint.processing")
	}
	return m.t("hint.idle")
}

func (m *Model) drawHints(s tcell.Screen, r rect) {
	fill(s, r, stBar)
	putText(s, r.x+1, r.y, r.w-2, truncate(m.hints(), r.w-2), stBar)
}

// helpKeys lists every key, grouped, as catalog keys of (key, description) pairs.
var helpKeys = []struct {
	group string
	keys  []string
}{
	{"help.global", []string{"help.k.help", "help.k.trainer", "help.k.trace", "help.k.drills", "help.k.lang", "help.k.quit"}},
	{"help.idle", []string{"help.k.amount", "help.k.sale", "help.k.refund", "help.k.preauth", "help.k.complete", "help.k.balance", "help.k.void", "help.k.last", "help.k.reprint", "help.k.echo", "help.k.signon", "help.k.settle", "help.k.saf"}},
	{"help.present", []string{"help.k.cards", "help.k.insert", "help.k.tap", "help.k.swipe", "help.k.scan", "help.k.pin", "help.k.back"}},
	{"help.trainer", []string{"help.k.t_fault", "help.k.t_param", "help.k.t_mode", "help.k.t_inject", "help.k.t_clear", "help.k.t_card", "help.k.t_reset"}},
	{"help.drills", []string{"help.k.d_pick", "help.k.d_declare", "help.k.d_finish", "help.k.d_abandon"}},
}

func (m *Model) drawHelp(s tcell.Screen, r rect) {
	fill(s, r, stBase)
	in := box(s, r, m.t("help.title"), stKey, stKey)
	if in.empty() {
		return
	}
	// Two columns when the lines do not fit in one.
	var lines []struct {
		text string
		st   tcell.Style
	}
	for _, g := range helpKeys {
		lines = append(lines, struct {
			text string
			st   tcell.Style
		}{m.t(g.group), stTitle})
		for _, k := range g.keys {
			lines = append(lines, struct {
				text string
				st   tcell.Style
			}{" " + m.t(k), stBase})
		}
	}
	cols := 1
	for len(lines) > cols*in.h && cols < 3 {
		cols++
	}
	colW := (in.w - 1) / cols
	per := (len(lines) + cols - 1) / cols
	for c := range cols {
		w := newWriter(s, rect{in.x + 1 + c*colW, in.y, colW - 1, in.h})
		for _, l := range lines[min(len(lines), c*per):min(len(lines), (c+1)*per)] {
			w.line(l.text, l.st)
		}
	}
}
