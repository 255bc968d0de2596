package simulator_test

import (
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
	"github.com/rivo/uniseg"
)

// chinese makes the rig's terminal print Chinese slips.
func chinese(_ *simulator.Profile, o *simulator.Options) { o.ReceiptLang = simulator.ReceiptChinese }

// slipFits checks every line of a slip fits the 32-column roll (a Chinese character takes
// two columns) and no full card number is on it.
func slipFits(t *testing.T, slip string) {
	t.Helper()
	for _, l := range strings.Split(slip, "\n") {
		if w := uniseg.StringWidth(l); w > 32 {
			t.Errorf("line %q is %d columns, the roll has 32", l, w)
		}
	}
	if strings.Contains(slip, "4111111111111111") {
		t.Errorf("full card number on the slip:\n%s", slip)
	}
}

func TestReceipts(t *testing.T) {
	tests := []struct {
		name     string
		opts     []rigOption
		pay      simulator.Payment
		script   func(int, *iso.Message) act
		merchant []string // on the merchant copy
		customer []string // on the customer copy
		not      []string // on neither
	}{
		{"zh chip sale: signature", []rigOption{chinese}, simulator.Payment{Card: "visa-ok", Amount: 2500, Entry: "chip"}, answerAll,
			[]string{"POS签购单", "商户存根 MERCHANT COPY", "商户名称(MERCHANT NAME):", "商户编号(MERCHANT NO.):", "终端编号(TERMINAL NO.): TERM0001",
				"卡号(CARD NO.):", "411111******1111 /I", "交易类型(TRANS TYPE):", "消费 SALE", "批次号(BATCH NO.): 000001",
				"凭证号(VOUCHER NO.):", "授权码(AUTH NO.):", "参考号(REFER NO.):", "日期/时间(DATE/TIME):", "金额(AMOUNT): RMB 25.00",
				"交易成功 APPROVED", "持卡人签名 CARDHOLDER SIGNATURE:", "本人确认以上交易，\n同意将其记入本卡账户"},
			[]string{"持卡人存根 CARDHOLDER COPY", "金额(AMOUNT): RMB 25.00"},
			[]string{"免签"}},
		{"zh small tap: no signature", []rigOption{chinese}, simulator.Payment{Card: "visa-ok", Amount: 2500, Entry: "contactless"}, answerAll,
			[]string{"411111******1111 /C", "免签 NO SIGNATURE REQUIRED"}, []string{"免签 NO SIGNATURE REQUIRED"},
			[]string{"持卡人签名"}},
		{"zh decline", []rigOption{chinese}, simulator.Payment{Card: "visa-ok", Amount: 2500, Entry: "chip"},
			only("0200", 1, act{code: "51"}),
			[]string{"交易失败 DECLINED 51", "余额不足"}, []string{"交易失败 DECLINED 51"}, []string{"持卡人签名", "交易成功"}},
		{"zh no answer: the reversal line", []rigOption{chinese}, simulator.Payment{Card: "visa-ok", Amount: 2500, Entry: "chip"},
			only("0200", 1, act{silent: true}),
			[]string{"冲正(消费) REVERSAL OF SALE", "已冲正 REVERSED", "备注(REFERENCE):", "持卡人未被扣款"}, []string{"已冲正 REVERSED"}, nil},
		{"en small tap: no signature", nil, simulator.Payment{Card: "visa-ok", Amount: 2500, Entry: "contactless"}, answerAll,
			[]string{"MERCHANT COPY", "NO SIGNATURE REQUIRED"}, []string{"CUSTOMER COPY", "NO SIGNATURE REQUIRED"}, []string{"SIGNATURE\n", "签"}},
		{"en chip sale: signature", nil, simulator.Payment{Card: "visa-ok", Amount: 2500, Entry: "chip"}, answerAll,
			[]string{"SIGNATURE\n", "AMOUNT                 CNY 25.00"}, []string{"CUSTOMER COPY"}, []string{"NO SIGNATURE REQUIRED", "签"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.script, tt.opts...)
			out := r.term.Sale(r.ctx, tt.pay)
			if out.Receipt == nil {
				t.Fatalf("no receipt: %+v", out)
			}
			m, c := out.Receipt.Merchant, out.Receipt.Customer
			for _, w := range tt.merchant {
				if !strings.Contains(m, w) {
					t.Errorf("merchant copy lacks %q:\n%s", w, m)
				}
			}
			for _, w := range tt.customer {
				if !strings.Contains(c, w) {
					t.Errorf("customer copy lacks %q:\n%s", w, c)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(m+c, w) {
					t.Errorf("the slip has %q:\n%s\n%s", w, m, c)
				}
			}
			slipFits(t, m)
			slipFits(t, c)
		})
	}
}

// TestReprintMarked: a reprint says so, in the slip's language; a language switch between
// the sale and the reprint does not translate the paper.
func TestReprintMarked(t *testing.T) {
	r := newRig(t, answerAll, chinese)
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 2500, Entry: "chip"})
	r.term.SetReceiptLang(simulator.ReceiptEnglish)
	rc, err := r.term.Reprint(out.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rc.Customer, "*** 重打印 REPRINT ***\n") || !strings.Contains(rc.Customer, "消费 SALE") {
		t.Errorf("Chinese reprint:\n%s", rc.Customer)
	}
	en := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1200, Entry: "chip"})
	if strings.Contains(en.Receipt.Customer, "签购单") {
		t.Errorf("English slip after the switch:\n%s", en.Receipt.Customer)
	}
	rc, err = r.term.Reprint(en.Ref())
	if err != nil || !strings.HasPrefix(rc.Merchant, "*** DUPLICATE (REPRINT) ***\n") {
		t.Errorf("English reprint: %v\n%s", err, rc)
	}
}
