package simulator

import (
	"fmt"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
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

// render lays the slip out as the two copies.
func (t *Terminal) render(kind string, s slip, batch string) *Receipt {
	copyOf := func(who string) string {
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
		if s.sign && who == "MERCHANT COPY" {
			b.WriteString("\nSIGNATURE\n\n" + strings.Repeat("_", receiptWidth) + "\n")
		}
		center("-- " + who + " --")
		// Not MaskText on the whole slip: the 12-digit RRN would look like a card number.
		// The card number only ever enters it masked (slip.pan).
		return b.String()
	}
	return &Receipt{Kind: kind, STAN: s.stan, Merchant: copyOf("MERCHANT COPY"), Customer: copyOf("CUSTOMER COPY")}
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
