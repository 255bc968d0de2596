package trainer

import (
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui/tuitest"
)

// TestReceiptOnScreenInUILanguage: the terminal prints its slips in the UI's language — the
// bilingual Chinese slip in Chinese, switched with L — and the face shows it, at 80×24 and
// larger, card number masked.
func TestReceiptOnScreenInUILanguage(t *testing.T) {
	for _, tt := range []struct {
		name string
		w, h int
		want []string // on the screen after a 25.00 tap in Chinese
	}{
		{"80x24", 80, 24, []string{"POS签购单", "持卡人存根 CARDHOLDER COPY"}},
		{"120x40", 120, 40, []string{"POS签购单", "持卡人存根 CARDHOLDER COPY", "商户名称(MERCHANT NAME):",
			"终端编号(TERMINAL NO.): TERM0001", "411111******1111 /C", "消费 SALE", "金额(AMOUNT): RMB 25.00",
			"交易成功 APPROVED", "免签 NO SIGNATURE REQUIRED"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, err := New(Options{Seed: 1, Lang: guidance.Zh})
			if err != nil {
				t.Fatal(err)
			}
			sr := tuitest.Start(t, env.App, tt.w, tt.h)
			sr.OnClose(env.Close)
			sr.WaitFor("待机")
			sr.Keys("2500", tcell.KeyEnter, "1t")
			screen := sr.WaitFor(tt.want...)
			if strings.Contains(screen, "4111111111111111") {
				t.Errorf("full card number on screen:\n%s", screen)
			}
			// English from now on: the next slip is English.
			sr.Keys(tcell.KeyEnter, "L")
			sr.WaitFor("READY")
			sr.Keys("1200", tcell.KeyEnter, "1t")
			screen = sr.WaitFor("APPROVED", "TERMINAL                TERM0001")
			if strings.Contains(screen, "签购单") {
				t.Errorf("a Chinese slip after switching to English:\n%s", screen)
			}
		})
	}
}
