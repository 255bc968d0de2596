package trainer

import (
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui/tuitest"
)

// TestPanelOverAdminAPI is the walk-through's finding: with --host and --admin, a declined
// 25.00 sale was listed as 0.00 and the journal said "no transactions" while the balance
// said charged. The panel now lists the amount asked for with the host's state, names the
// terminal its journal is of, and counts the balance over every terminal, in both languages.
func TestPanelOverAdminAPI(t *testing.T) {
	for _, tt := range []struct {
		lang         guidance.Lang
		w, h         int
		declined, ok string
		journal      string
		paid, avail  string
		pin, no, yes string // the face's PIN prompt, decline and approval
		state        string // the declined row's state
	}{
		{guidance.En, 80, 24, "000002 0002 25.00 05", "000003 1111 12.00 00",
			"Host journal of TERM0001:", "every", "Available 9988.00",
			"ENTER PIN", "DECLINED — 05", "APPROVED", "000002 0002 25.00 05 declined"},
		{guidance.En, 120, 40, "000002 0002 25.00 05", "000003 1111 12.00 00",
			"Host journal of TERM0001:", "every", "Available 9988.00",
			"ENTER PIN", "DECLINED — 05", "APPROVED", "000002 0002 25.00 05 declined"},
		{guidance.Zh, 80, 24, "000002 0002 25.00 05", "000003 1111 12.00 00",
			"主机流水（终端 TERM0001）：", "所有终端", "可用 9988.00",
			"请顾客输入密码", "交易拒绝 — 05", "交易成功", "000002 0002 25.00 05 已拒绝"},
		{guidance.Zh, 120, 40, "000002 0002 25.00 05", "000003 1111 12.00 00",
			"主机流水（终端 TERM0001）：", "所有终端", "可用 9988.00",
			"请顾客输入密码", "交易拒绝 — 05", "交易成功", "000002 0002 25.00 05 已拒绝"},
	} {
		t.Run(fmt.Sprintf("%s/%dx%d", tt.lang, tt.w, tt.h), func(t *testing.T) {
			acq, err := acquirer.New(acquirer.Options{Seed: 1, DB: filepath.Join(t.TempDir(), "acq.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer acq.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = acq.Serve(ln) }()
			srv := httptest.NewServer(acq.Admin())
			defer srv.Close()
			env, err := New(Options{Host: ln.Addr().String(), Admin: srv.URL, Seed: 1, Lang: tt.lang})
			if err != nil {
				t.Fatal(err)
			}
			sr := tuitest.Start(t, env.App, tt.w, tt.h)
			sr.OnClose(env.Close)
			sr.Keys("t") // the trainer panel: the journal of this terminal, empty
			sr.Keys(tcell.KeyEscape)
			// A declined 25.00 (the do-not-honour card is the wallet's eighth), then 12.00
			// approved on visa-ok (the first).
			sr.Keys("2500", tcell.KeyEnter, "8i")
			sr.WaitFor(tt.pin)
			sr.Keys("1234", tcell.KeyEnter)
			sr.WaitFor(tt.no)
			sr.Keys(tcell.KeyEnter, "1200", tcell.KeyEnter, "1i")
			sr.WaitFor(tt.pin)
			sr.Keys("1234", tcell.KeyEnter)
			sr.WaitFor(tt.yes)
			sr.Keys("t")
			screen := sr.WaitFor(tt.journal, tt.declined, tt.ok, tt.paid, tt.avail, tt.state)
			if strings.Contains(screen, "0.00 05") {
				t.Errorf("the declined sale is listed as 0.00:\n%s", screen)
			}
		})
	}
}
