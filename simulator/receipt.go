package simulator

import (
	"fmt"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/rivo/uniseg"
)

// Receipt kinds.
const (
	ReceiptSale       = "sale"
	ReceiptRefund     = "refund"
	ReceiptPreAuth    = "preauth"
	ReceiptCompletion = "completion"
	ReceiptBalance    = "balance"
	ReceiptDeclined   = "declined"
	ReceiptReversal   = "reversal"
	ReceiptVoid       = "void"
	ReceiptOffline    = "offline"
	ReceiptSettlement = "settlement"
)

// Receipt is a printed slip: the merchant's and the customer's copies, as text. Card numbers
// are masked.
type Receipt struct {
	Kind     string
	STAN     string
	Merchant string // merchant copy
	Customer string // customer copy
	Printed  bool   // false while the printer is out of paper: Reprint prints it
}

// String renders both copies.
func (r *Receipt) String() string {
	if r == nil {
		return ""
	}
	return r.Merchant + "\n" + r.Customer
}

const receiptWidth = 32

// slip is what a receipt says, before it is laid out.
type slip struct {
	title    string // SALE, REFUND, REVERSAL ...
	when     time.Time
	stan     string
	rrn      string
	auth     string
	pan      string // masked
	entry    string
	amount   int64
	approved int64
	result   string   // APPROVED, DECLINED 51 ...
	notes    []string // extra lines (balance, reversal state, what to do)
	sign     bool     // the merchant copy has a signature line
}

func (t *Terminal) currencyName() string { return iso.CurrencyName(t.profile.Currency) }

func (t *Terminal) merchantName() string {
	if m, ok := t.wallet.Merchant(t.profile.MID); ok && m.Name != "" {
		return m.Name
	}
	return "MERCHANT " + t.profile.MID
}

// Receipt languages (Options.ReceiptLang, Terminal.SetReceiptLang).
const (
	// ReceiptEnglish is the English slip.
	ReceiptEnglish = "en"
	// ReceiptChinese is the bilingual slip of Chinese POS terminals: every label in Chinese
	// with its English in brackets (商户名称(MERCHANT NAME)), values in both languages.
	ReceiptChinese = "zh"
)

// noSignatureLimit: a contactless or QR payment up to this amount (minor units) needs no
// signature (小额免签); the slip says so instead of printing a signature line.
const noSignatureLimit = 30000

// SetReceiptLang sets the language of the receipts printed from now on (ReceiptEnglish or
// ReceiptChinese; anything else is English). Receipts already printed keep theirs, as paper
// does: a reprint is the same slip again.
func (t *Terminal) SetReceiptLang(lang string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.receiptLang = lang
}

func (t *Terminal) receiptLanguage() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.receiptLang
}

// render lays the slip out as the two copies, in the terminal's receipt language.
func (t *Terminal) render(kind string, s slip, batch string) *Receipt {
	copyOf := t.englishCopy
	if t.receiptLanguage() == ReceiptChinese {
		copyOf = t.chineseCopy
	}
	return &Receipt{Kind: kind, STAN: s.stan, Merchant: copyOf(s, batch, true), Customer: copyOf(s, batch, false)}
}

// noSignature reports whether the slip's payment needs no signature: contactless or QR,
// small enough.
func (s slip) noSignature() bool {
	return (s.entry == iso.EntryContactless || s.entry == iso.EntryQR) && s.amount <= noSignatureLimit
}

// englishCopy is one copy of the English slip.
func (t *Terminal) englishCopy(s slip, batch string, merchant bool) string {
	var b strings.Builder
	center := func(x string) {
		pad := max(0, (receiptWidth-len(x))/2)
		b.WriteString(strings.Repeat(" ", pad) + x + "\n")
	}
	pair := func(k, v string) {
		if v == "" {
			return
		}
		gap := max(1, receiptWidth-len(k)-len(v))
		b.WriteString(k + strings.Repeat(" ", gap) + v + "\n")
	}
	center(t.merchantName())
	pair("MERCHANT", t.profile.MID)
	pair("TERMINAL", t.profile.TID)
	pair("BATCH", batch)
	pair("DATE", s.when.Format("2006-01-02 15:04:05"))
	b.WriteString(strings.Repeat("-", receiptWidth) + "\n")
	center(s.title)
	if s.pan != "" {
		pair("CARD", s.pan)
	}
	if s.entry != "" {
		pair("ENTRY", strings.ToUpper(s.entry))
	}
	pair("STAN", s.stan)
	pair("RRN", s.rrn)
	pair("AUTH", s.auth)
	if s.amount != 0 || s.title != "BALANCE INQUIRY" {
		pair("AMOUNT", t.currencyName()+" "+iso.FormatMoney(s.amount))
	}
	if s.approved != 0 && s.approved != s.amount {
		pair("APPROVED", t.currencyName()+" "+iso.FormatMoney(s.approved))
		pair("REMAINING", t.currencyName()+" "+iso.FormatMoney(s.amount-s.approved))
	}
	b.WriteString(strings.Repeat("-", receiptWidth) + "\n")
	center(s.result)
	for _, n := range s.notes {
		b.WriteString(iso.MaskText(n) + "\n") // free text: never a full card number
	}
	switch {
	case s.sign && s.noSignature():
		center("NO SIGNATURE REQUIRED")
	case s.sign && merchant:
		b.WriteString("\nSIGNATURE\n\n" + strings.Repeat("_", receiptWidth) + "\n")
	}
	// Not MaskText on the whole slip: the 12-digit RRN would look like a card number.
	// The card number only ever enters it masked (slip.pan).
	if merchant {
		center("-- MERCHANT COPY --")
	} else {
		center("-- CUSTOMER COPY --")
	}
	return b.String()
}

// chineseCopy is one copy of the bilingual slip Chinese POS terminals print (POS签购单):
// 商户名称(MERCHANT NAME), 商户编号, 终端编号, 卡号 with the entry letter, 交易类型 消费 SALE,
// 批次号, 凭证号, 授权码, 参考号, 日期/时间, 金额 RMB, 备注, and the signature part:
// 持卡人签名 with the cardholder's acknowledgement, or 免签 for a small contactless payment.
func (t *Terminal) chineseCopy(s slip, batch string, merchant bool) string {
	var b strings.Builder
	line := func(x string) { b.WriteString(x + "\n") }
	center := func(x string) {
		line(strings.Repeat(" ", max(0, (receiptWidth-uniseg.StringWidth(x))/2)) + x)
	}
	// field prints "label value" on one line when it fits, else the value indented below.
	field := func(label, value string) {
		if value == "" {
			return
		}
		if uniseg.StringWidth(label)+1+uniseg.StringWidth(value) <= receiptWidth {
			line(label + " " + value)
			return
		}
		line(label)
		line("  " + value)
	}
	rule := func() { line(strings.Repeat("-", receiptWidth)) }
	currency := t.currencyName()
	if currency == "CNY" {
		currency = "RMB" // what Chinese slips print
	}
	center("POS签购单")
	if merchant {
		center("商户存根 MERCHANT COPY")
	} else {
		center("持卡人存根 CARDHOLDER COPY")
	}
	rule()
	field("商户名称(MERCHANT NAME):", t.merchantName())
	field("商户编号(MERCHANT NO.):", t.profile.MID)
	field("终端编号(TERMINAL NO.):", t.profile.TID)
	if s.pan != "" {
		field("卡号(CARD NO.):", s.pan+entryLetter(s.entry))
	}
	field("交易类型(TRANS TYPE):", zhTitle(s.title))
	field("批次号(BATCH NO.):", batch)
	field("凭证号(VOUCHER NO.):", s.stan)
	field("授权码(AUTH NO.):", s.auth)
	field("参考号(REFER NO.):", s.rrn)
	field("日期/时间(DATE/TIME):", s.when.Format("2006/01/02 15:04:05"))
	if s.amount != 0 || s.title != "BALANCE INQUIRY" {
		field("金额(AMOUNT):", currency+" "+iso.FormatMoney(s.amount))
	}
	if s.approved != 0 && s.approved != s.amount {
		field("批准金额(APPROVED):", currency+" "+iso.FormatMoney(s.approved))
		field("未付金额(REMAINING):", currency+" "+iso.FormatMoney(s.amount-s.approved))
	}
	rule()
	for _, l := range t.zhResult(s.result) {
		center(l)
	}
	if len(s.notes) > 0 {
		line("备注(REFERENCE):")
		for _, n := range s.notes {
			for _, l := range zhNote(n, currency) {
				line(" " + iso.MaskText(l)) // free text: never a full card number
			}
		}
	}
	switch {
	case s.sign && s.noSignature():
		line("免签 NO SIGNATURE REQUIRED")
	case s.sign && merchant:
		line("持卡人签名 CARDHOLDER SIGNATURE:")
		line("")
		line(strings.Repeat("_", receiptWidth))
		line("本人确认以上交易，")
		line("同意将其记入本卡账户")
		line("I ACKNOWLEDGE SATISFACTORY")
		line("RECEIPT OF RELATIVE")
		line("GOODS/SERVICES")
	}
	return b.String()
}

// entryLetter is the letter Chinese slips print after the card number: I chip (IC),
// C contactless, S swipe, F fallback, M keyed (manual), Q QR.
func entryLetter(entry string) string {
	l := map[string]string{iso.EntryChip: "I", iso.EntryContactless: "C", iso.EntrySwipe: "S",
		iso.EntryFallback: "F", iso.EntryKeyed: "M", iso.EntryQR: "Q"}[entry]
	if l == "" {
		return ""
	}
	return " /" + l
}

// zhOps names the slip titles (opTitles, SETTLEMENT, REVERSAL, VOID) in Chinese.
var zhOps = map[string]string{
	"SALE": "消费", "REFUND": "退货", "PRE-AUTHORIZATION": "预授权", "COMPLETION": "预授权完成",
	"BALANCE INQUIRY": "余额查询", "VOID": "撤销", "SALE (OFFLINE)": "离线消费", "SETTLEMENT": "结算",
	"REVERSAL": "冲正",
}

// zhTitle is a slip title in both languages: 消费 SALE; 冲正(消费) REVERSAL OF SALE.
func zhTitle(title string) string {
	if what, of, ok := strings.Cut(title, " OF "); ok {
		return zhOps[what] + "(" + zhOps[of] + ") " + title
	}
	if zh, ok := zhOps[title]; ok {
		return zh + " " + title
	}
	return title
}

// zhResult is a slip's result in both languages, one or two centred lines.
func (t *Terminal) zhResult(result string) []string {
	fixed := map[string]string{
		"APPROVED": "交易成功", "PARTIALLY APPROVED": "部分批准", "REVERSED": "已冲正",
		"VOIDED": "已撤销", "REVERSAL NOT CONFIRMED": "冲正未确认", "REVERSAL PENDING": "冲正处理中",
	}
	switch {
	case fixed[result] != "":
		return []string{fixed[result] + " " + result}
	case strings.HasPrefix(result, "DECLINED "):
		code, _, _ := strings.Cut(strings.TrimPrefix(result, "DECLINED "), " ")
		return []string{"交易失败 DECLINED " + code, guidance.Lookup(t.lookup(code).Guidance, guidance.Zh).Title}
	case strings.HasPrefix(result, "BATCH ") && strings.HasSuffix(result, " CLOSED"):
		return []string{"结算完成 " + result}
	}
	return []string{result}
}

// zhNote is a slip's remark in Chinese and English (one or two lines).
func zhNote(note, currency string) []string {
	fixed := map[string]string{
		"CUSTOMER NOT CHARGED":                  "持卡人未被扣款",
		"REFER TO BACK OFFICE":                  "请交后台处理",
		"DO NOT CHARGE OR REFUND BY HAND":       "请勿重复收款或手工退款",
		"THE TERMINAL WILL REPEAT IT":           "终端将自动重发冲正",
		"DO NOT CHARGE AGAIN OR REFUND BY HAND": "请勿重复收款或手工退款",
	}
	if zh, ok := fixed[note]; ok {
		return []string{zh, note}
	}
	for _, p := range []struct{ en, zh string }{
		{"AVAILABLE ", "可用余额 "}, {"SALES ", "消费 "}, {"REFUNDS ", "退货 "}, {"LAST: ", "上一笔："},
	} {
		if rest, ok := strings.CutPrefix(note, p.en); ok {
			return []string{p.zh + strings.Join(strings.Fields(strings.ReplaceAll(rest, "CNY ", currency+" ")), " "), note}
		}
	}
	return []string{note}
}

func (t *Terminal) resultLine(code string) string {
	c := t.lookup(code)
	if c.Approved {
		if code == iso.RCPartial {
			return "PARTIALLY APPROVED"
		}
		return "APPROVED"
	}
	return fmt.Sprintf("DECLINED %s %s", code, strings.ToUpper(c.Meaning))
}

var opTitles = map[string]string{
	OpSale: "SALE", OpRefund: "REFUND", OpPreAuth: "PRE-AUTHORIZATION", OpCompletion: "COMPLETION",
	OpBalance: "BALANCE INQUIRY", OpVoid: "VOID", OpOffline: "SALE (OFFLINE)",
}

var receiptKinds = map[string]string{
	OpSale: ReceiptSale, OpRefund: ReceiptRefund, OpPreAuth: ReceiptPreAuth, OpCompletion: ReceiptCompletion,
	OpBalance: ReceiptBalance, OpVoid: ReceiptVoid, OpOffline: ReceiptOffline,
}
