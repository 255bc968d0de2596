package classroom_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/posdrill/posdrill/classroom"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui"
	"github.com/posdrill/posdrill/simulator/tui/tuitest"
)

// record reports a finished drill for link as a trainee's UI does.
func record(t *testing.T, link *classroom.Link, drill string, passed bool) {
	t.Helper()
	now := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	lines := []simulator.DrillLine{{Action: simulator.ActCheckLast, OK: passed}, {Action: simulator.ActSaleAgain, Forbidden: true, OK: passed}}
	sc := simulator.DrillScore{Passed: passed, Max: 2, Lines: lines}
	if passed {
		sc.Score = 2
	}
	if err := link.RecordDrill(context.Background(), tui.DrillRecord{Drill: drill, Started: now, Finished: now.Add(time.Minute), DrillScore: sc}); err != nil {
		t.Fatal(err)
	}
}

// TestClassRestartKeepsResults: the trainer's console restarted mid-class reopens the
// store: the trainees are listed (away) with their results, and one who joins again gets
// the same terminal id.
func TestClassRestartKeepsResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "class.db")
	store, err := classroom.OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	c := startClass(t, store)
	ctx := context.Background()
	a, err := classroom.Join(ctx, c.api, "张三")
	if err != nil {
		t.Fatal(err)
	}
	b, err := classroom.Join(ctx, c.api, "Li Si")
	if err != nil {
		t.Fatal(err)
	}
	record(t, b, "no-answer", false)
	// The class has it on disk once RecordDrill returned: read it through another handle.
	other, err := classroom.OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := other.Results()
	other.Close()
	if err != nil || len(rs) != 1 || rs[0].Trainee != "Li Si" || rs[0].Terminal != "CLASS002" ||
		strings.Join(rs[0].Missing, ",") != "check_last" || strings.Join(rs[0].Forbidden, ",") != "sale_again" {
		t.Fatalf("results on disk after RecordDrill: %v %+v", err, rs)
	}
	a.Close()
	b.Close()
	c.Close()
	store.Close()

	store2, err := classroom.OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	c2 := startClass(t, store2)
	rows := c2.Trainees()
	if len(rows) != 2 || rows[1].Name != "Li Si" || rows[1].Online || rows[1].Last == nil || rows[1].Last.Drill != "no-answer" {
		t.Fatalf("trainees after the restart: %+v", rows)
	}
	b2, err := classroom.Join(ctx, c2.api, "Li Si")
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if b2.Terminal() != "CLASS002" {
		t.Errorf("Li Si joined again as %s, want CLASS002", b2.Terminal())
	}
	if n, _ := c2.Results(); len(n) != 1 {
		t.Errorf("results after the restart: %d, want 1", len(n))
	}
}

// TestConsoleScreens: the trainer's console on the simulation screen, in both languages at
// 80×24 and larger: the list, a fault for one trainee, a drill for all, a held request
// answered by hand, and an export.
func TestConsoleScreens(t *testing.T) {
	for _, tc := range []struct {
		name                             string
		lang                             guidance.Lang
		w, h                             int
		want                             []string
		faulted, started, held, exported string
	}{
		{"en 80x24", guidance.En, 80, 24, []string{"posdrill · classroom", "Trainees (2)", "CLASS001", "CLASS002", "online", "Last result", "q quit"},
			"Fault \"decline 51\" set for 张三's next", "started on 2 terminals", "WAITS FOR YOU", "Results written to"},
		{"zh 80x24", guidance.Zh, 80, 24, []string{"posdrill · 培训课堂", "学员（2 人）", "CLASS001", "在线", "上次成绩", "q 退出"},
			"已为 张三 的下一笔交易设置故障", "已在 2 台终端开始", "等你应答", "成绩已导出到"},
		{"en 120x40", guidance.En, 120, 40, []string{"Trainees (2)", "✘ 0/2"}, "Fault", "started on 2", "WAITS FOR YOU", "Results written to"},
		{"zh 120x40", guidance.Zh, 120, 40, []string{"学员（2 人）", "✘ 0/2", "在线"}, "设置故障", "已在 2 台终端开始", "等你应答", "成绩已导出到"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			store, err := classroom.OpenStore(filepath.Join(dir, "class.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			c := startClass(t, store)
			zhang := join(t, c, "张三", guidance.Zh)
			li, err := classroom.Join(context.Background(), c.api, "Li Si")
			if err != nil {
				t.Fatal(err)
			}
			defer li.Close()
			record(t, li, "no-answer", false)
			con := classroom.Desk{C: c.Class, ExportBase: filepath.Join(dir, "class")}.Console(tui.ConsoleConfig{Lang: tc.lang, Label: "test"})
			s := tuitest.Start(t, con, tc.w, tc.h)
			go func() {
				for range c.changes {
					con.Changed()
				}
			}()
			text := s.WaitFor(tc.want...)
			for _, l := range strings.Split(text, "\n") {
				if tuitestWidth(l) > tc.w {
					t.Errorf("line wider than the screen: %q", l)
				}
			}

			// f on the first trainee (张三): 2 = decline 51.
			s.Keys("f", "2")
			s.WaitFor(tc.faulted)
			if o := zhang.sale(t, 1000); o.ResponseCode != "51" {
				t.Errorf("张三's sale after the console's fault: %s", o.ResponseCode)
			}

			// h holds 张三's next request; x 5 1 Enter declines it by hand.
			s.Keys("h")
			s.WaitFor(map[guidance.Lang]string{guidance.En: "next request: by hand", guidance.Zh: "下一笔：人工应答"}[tc.lang])
			done := make(chan simulator.Outcome, 1)
			go func() { done <- zhang.sale(t, 2500) }()
			s.WaitFor(tc.held, "411111******1111", "25.00")
			s.Keys("x", "51", tcell.KeyEnter)
			if o := <-done; o.ResponseCode != "51" {
				t.Errorf("张三's held sale: %s, want 51 by hand", o.ResponseCode)
			}

			// s, Enter: the first drill of the library for everyone online.
			s.Keys("s", tcell.KeyEnter)
			s.WaitFor(tc.started)

			s.Keys("c")
			s.WaitFor(tc.exported)
			raw, err := os.ReadFile(filepath.Join(dir, "class.csv"))
			if err != nil || !strings.Contains(string(raw), "Li Si,CLASS002,no-answer") {
				t.Errorf("exported CSV: %v\n%s", err, raw)
			}
		})
	}
}

// tuitestWidth counts cells as the screen does for this test's text (CJK: two).
func tuitestWidth(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x2E80 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
