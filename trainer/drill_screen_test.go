package trainer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui"
	"github.com/posdrill/posdrill/simulator/tui/tuitest"
)

// TestLibraryDrillInBothLanguages plays the library's lost-answer drill on the real engine in
// each language at 80×24 and 120×40: the menu, the title bar, the situation and what the
// customer says are in the UI's language and give nothing away (no reversal, no debrief);
// after the trainee checks the last transaction and takes the payment again, the score, the
// judged actions and the debrief — now with what happened at the host — are in that language.
func TestLibraryDrillInBothLanguages(t *testing.T) {
	type texts struct {
		menu, bar, situation, says, reversed, done, score, did, avoided, why, debrief, topic string
		spoilers                                                                             []string
	}
	en := texts{" Lunchtime tap", "drill: Lunchtime tap", "Lunchtime rush.", "Customer: “Can I just tap?",
		"NO ANSWER — REVERSED", "APPROVED", "Score: 3 of 3", "✔ You did: check the last",
		"✔ You rightly did not: refund", "What happened and what to do:",
		"The bank approved the 25.00 and", "Bank approved, but the answer",
		[]string{"revers", "Reversal", "never arrived", "The bank approved"}}
	zh := texts{" 午间挥卡", "演练：午间挥卡", "中午高峰", "顾客：“我挥一下就行吧？",
		"无应答 —— 已冲正", "交易成功", "得分：3 / 3", "✔ 已做到：先查询上一笔交易",
		"✔ 正确地避免了：对未扣成功的", "发生了什么，该怎么做：",
		"银行其实已经批准", "银行扣了款，应答却没回来",
		[]string{"冲正", "应答却没回来", "银行其实已经批准"}}
	drills, _ := LibraryDrills(cards.Builtin())
	idx := slices.IndexFunc(drills, func(d tui.Drill) bool { return d.Name == "answer-lost-after-approval" })
	if idx < 0 {
		t.Fatal("no answer-lost-after-approval drill")
	}
	for _, lang := range []guidance.Lang{guidance.En, guidance.Zh} {
		tx := en
		if lang == guidance.Zh {
			tx = zh
		}
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			t.Run(fmt.Sprintf("%s/%dx%d", lang, size[0], size[1]), func(t *testing.T) {
				env, err := New(Options{Seed: 1, Lang: lang})
				if err != nil {
					t.Fatal(err)
				}
				sr := tuitest.Start(t, env.App, size[0], size[1])
				sr.OnClose(env.Close)
				sr.Keys(tcell.KeyF4)
				for range idx {
					sr.Keys(tcell.KeyDown)
				}
				sr.WaitFor(tx.menu)
				sr.Keys(tcell.KeyEnter)
				want := []string{tx.situation, tx.says}
				if size[0] >= 120 { // at 80 columns the title bar has no room left for the drill
					want = append(want, tx.bar)
				}
				before := sr.WaitFor(want...)
				for _, s := range tx.spoilers {
					if strings.Contains(before, s) {
						t.Errorf("before acting the screen gives the answer away (%q):\n%s", s, before)
					}
				}
				// The customer taps 25.00; the answer is lost and the terminal reverses.
				sr.Keys("2500", tcell.KeyEnter, "t")
				sr.WaitFor(tx.reversed)
				// Check the last transaction, then take the payment once.
				sr.Keys(tcell.KeyEnter, "i")
				sr.Keys(tcell.KeyEnter, "2500", tcell.KeyEnter, "t")
				want = []string{tx.score, tx.did}
				if size[1] >= 40 {
					want = append(want, tx.avoided, tx.why, tx.debrief, tx.topic)
				}
				sr.WaitFor(want...)
			})
		}
	}
}
