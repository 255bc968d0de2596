package trainer

import (
	"regexp"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui"
)

// A drill's title, situation and customer lines are what the trainee reads before acting;
// they must not give the answer away. The words they may not use are derived from the
// scenario itself: its expected and forbidden actions (their keys and the UI's labels in both
// languages), the outcomes, response codes and guidance its steps expect (the UI's labels,
// the codes' meanings, the guidance titles), and the host and device faults it injects (their
// labels). The labels are whole phrases, so coreWords adds the one or two words at the heart
// of each: "another card" is a spoiler even when the label says "ask for another card".
var coreWords = map[string][2][]string{
	// actions
	"check_last":      {{"last transaction", "check the last"}, {"上一笔"}},
	"manual_refund":   {{"refund"}, {"退款"}},
	"refund":          {{"refund"}, {"退货", "退款"}},
	"other_card":      {{"another card", "other card", "different card"}, {"换一张", "换卡", "另一张卡"}},
	"same_card_again": {{"same card"}, {"同一张卡"}},
	"keep_card":       {{"keep the card", "pick up", "pick-up", "confiscat"}, {"没收", "留卡", "扣卡"}},
	"call_help_desk":  {{"help desk", "helpdesk"}, {"客服"}},
	"fallback_swipe":  {{"swipe", "fallback", "magnetic stripe"}, {"刷卡", "磁条", "降级"}},
	"reenter_pin":     {{"re-enter", "pin again"}, {"重新输入", "重输"}},
	"correct_amount":  {{"correct", "re-key", "mistyped"}, {"更正", "输错", "写错"}},
	"reprint":         {{"reprint", "print again"}, {"重打", "补打"}},
	"sale_again":      {{"charge again", "charge twice", "double charge"}, {"重复扣款", "再收一次"}},
	"void":            {{"void", "cancel"}, {"撤销"}},
	"preauth":         {{"pre-auth", "preauth", "hold"}, {"预授权", "冻结"}},
	"complete":        {{"complet"}, {"预授权完成"}},
	"settle":          {{"settle", "settlement"}, {"结算"}},
	"drain_saf":       {{"queue", "store-and-forward"}, {"队列"}},
	"balance":         {{"balance"}, {"余额查询", "查余额"}},
	"sale":            {{"sale"}, {"消费"}},
	// outcomes
	"approved":            {{"approv"}, {"批准", "成功"}},
	"partially_approved":  {{"approv", "partial"}, {"批准", "部分"}},
	"declined":            {{"declin"}, {"拒绝", "被拒"}},
	"timed_out_reversed":  {{"revers", "no answer", "timed out", "timeout"}, {"冲正", "无应答", "超时"}},
	"reversal_pending":    {{"revers", "no answer", "timed out", "timeout"}, {"冲正", "无应答", "超时"}},
	"not_sent":            {{"no connection", "unreachable", "host down", "bank is down"}, {"连不上", "宕机"}},
	"refused_at_terminal": {{"not accepted", "refuse"}, {"不受理", "不收"}},
	"device_fault":        {{"fault"}, {"故障"}},
	"power_loss":          {{"power cut", "power loss", "lost power"}, {"断电", "停电"}},
	"voided":              {{"void", "cancel"}, {"撤销"}},
	// faults
	"card_removed":           {{"pull", "remove"}, {"拔"}},
	"printer_out_of_paper":   {{"paper", "printer"}, {"没纸", "纸卷", "打印机"}},
	"chip_unreadable":        {{"unreadable", "scratch", "damaged chip"}, {"读不出", "划坏", "芯片坏"}},
	"pin_timeout":            {{"never enters", "forgets to enter"}, {"没输密码"}},
	"garble_response":        {{"garbl", "unreadable"}, {"乱码"}},
	"duplicate_response":     {{"twice", "duplicate"}, {"两遍", "两次", "重复"}},
	"wrong_stan":             {{"stan"}, {"流水号"}},
	"delay":                  {{"slow", "late"}, {"慢", "迟"}},
	"refuse_connections":     {{"host down", "refuse", "unreachable"}, {"连不上", "宕机"}},
	"drop_after_commit":      {{"answer lost", "line drops", "connection drops"}, {"应答丢", "断线", "线路断"}},
	"drop_before_processing": {{"line drops", "connection drops"}, {"断线", "线路断"}},
	"reset_connection":       {{"reset"}, {"重置"}},
	"partial_approval":       {{"partial", "part of"}, {"部分"}},
}

// spoilers returns the words a drill's pre-action text must not contain, per language, and
// for response codes a pattern (a code must not appear as a number of its own).
func spoilers(sc *scenarios.Scenario) (words map[guidance.Lang][]string, codes []string) {
	words = map[guidance.Lang][]string{}
	add := func(lang guidance.Lang, phrases ...string) {
		for _, p := range phrases {
			// A label may be several phrases: "NO ANSWER — REVERSED, not charged".
			for _, part := range regexp.MustCompile(`\s*[—,，、：:（）()]\s*`).Split(p, -1) {
				if part = strings.ToLower(strings.TrimSpace(part)); len([]rune(part)) >= 2 {
					words[lang] = append(words[lang], part)
				}
			}
		}
	}
	key := func(k, catalogPrefix string) {
		add(guidance.En, strings.ReplaceAll(k, "_", " "))
		if catalogPrefix != "" && tui.Has(catalogPrefix+k) {
			add(guidance.En, tui.T(guidance.En, catalogPrefix+k))
			add(guidance.Zh, tui.T(guidance.Zh, catalogPrefix+k))
		}
		if w, ok := coreWords[k]; ok {
			add(guidance.En, w[0]...)
			add(guidance.Zh, w[1]...)
		}
	}
	d := sc.Drill
	for _, a := range d.ExpectedActions {
		key(a, "act.")
	}
	for _, a := range d.ForbiddenActions {
		key(a, "act.")
	}
	expect := func(e *scenarios.Expect) {
		if e == nil {
			return
		}
		if e.Outcome != "" {
			key(e.Outcome, "kind.")
		}
		if rc := e.ResponseCode; rc != "" && rc != "00" {
			codes = append(codes, rc)
			add(guidance.En, iso.LookupCode(rc).Meaning)
		}
		if g := e.Guidance; g != "" && g != iso.GuidanceApproved {
			add(guidance.En, guidance.Lookup(g, guidance.En).Title)
			add(guidance.Zh, guidance.Lookup(g, guidance.Zh).Title)
		}
		for _, ev := range e.EventsContain {
			add(guidance.En, strings.ReplaceAll(ev, "_", " "))
		}
	}
	for _, st := range sc.Steps {
		expect(st.Expect)
		if st.DeviceFault != nil && st.DeviceFault.Kind != "clear" {
			key(st.DeviceFault.Kind, "fault.")
		}
		for _, r := range st.FaultAdd {
			key(r.Action, "fault.")
		}
	}
	expect(sc.Expect)
	for _, r := range sc.Faults {
		key(r.Action, "fault.")
		if r.Params.Code != "" {
			codes = append(codes, r.Params.Code)
			add(guidance.En, iso.LookupCode(r.Params.Code).Meaning)
		}
	}
	return words, codes
}

// TestLibraryDrillsDoNotSpoil: no library drill's title, situation or customer lines name
// what will happen or what the trainee should (not) do, in either language.
func TestLibraryDrillsDoNotSpoil(t *testing.T) {
	scs, err := scenarios.Library()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scs {
		if sc.Drill == nil {
			continue
		}
		t.Run(sc.Name, func(t *testing.T) {
			words, codes := spoilers(sc)
			if len(words[guidance.En]) < 3 || len(words[guidance.Zh]) < 2 {
				t.Fatalf("too few banned words derived: %q", words)
			}
			d := sc.Drill
			for _, lang := range []guidance.Lang{guidance.En, guidance.Zh} {
				for what, text := range map[string]guidance.Text{"title": d.Title, "situation": d.Situation, "says": d.Says} {
					s := strings.ToLower(text.In(lang))
					for _, w := range words[lang] {
						if strings.Contains(s, w) {
							t.Errorf("%s (%s) gives the answer away with %q: %s", what, lang, w, text.In(lang))
						}
					}
					for _, c := range codes {
						if regexp.MustCompile(`(^|[^0-9.])` + c + `([^0-9.]|$)`).MatchString(s) {
							t.Errorf("%s (%s) names the response code %s: %s", what, lang, c, text.In(lang))
						}
					}
				}
			}
		})
	}
}

// TestSpoilerCheckCatches: the check finds the situations the library used to have.
func TestSpoilerCheckCatches(t *testing.T) {
	scs, err := scenarios.Library()
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]guidance.Text{
		"answer-lost-after-approval": {En: "A customer taps their card for 25.00. The bank approves, but the answer is lost; the terminal sends a reversal at once."},
		"expired-card":               {Zh: "顾客用一张过期的卡付 12.50 元，银行以 54 拒绝。"},
		"damaged-chip-fallback":      {Zh: "芯片读不出来，只好刷磁条。"},
		"lost-card":                  {En: "The card was reported lost; keep the card."},
	}
	for _, sc := range scs {
		text, ok := old[sc.Name]
		if !ok {
			continue
		}
		words, codes := spoilers(sc)
		found := false
		for _, lang := range []guidance.Lang{guidance.En, guidance.Zh} {
			s := strings.ToLower(text.In(lang))
			if lang == guidance.En && text.En == "" || lang == guidance.Zh && text.Zh == "" {
				continue
			}
			for _, w := range words[lang] {
				found = found || strings.Contains(s, w)
			}
			for _, c := range codes {
				found = found || strings.Contains(s, c)
			}
		}
		if !found {
			t.Errorf("%s: the spoiler check misses %+v (banned: %q, codes %v)", sc.Name, text, words, codes)
		}
		delete(old, sc.Name)
	}
	if len(old) > 0 {
		t.Errorf("scenarios not in the library: %v", old)
	}
}
