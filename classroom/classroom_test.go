package classroom_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/classroom"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui/tuitest"
	"github.com/posdrill/posdrill/trainer"
)

// class is a running classroom on loopback.
type class struct {
	*classroom.Class
	iso, api string
	changes  chan struct{}
}

func startClass(t *testing.T, store *classroom.Store) *class {
	t.Helper()
	changes := make(chan struct{}, 1)
	c, err := classroom.New(classroom.Options{Store: store, Seed: 7, OnChange: func() {
		select {
		case changes <- struct{}{}:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	isoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Serve(isoLn) }()
	srv := &http.Server{}
	go func() { _ = c.ServeHTTP(srv, apiLn) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = c.Close()
	})
	return &class{Class: c, iso: isoLn.Addr().String(), api: apiLn.Addr().String(), changes: changes}
}

// until waits (on the class's change notices, not on time) until cond holds.
func (c *class) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for !cond() {
		select {
		case <-c.changes:
		case <-deadline:
			t.Fatalf("the class never showed %s; trainees: %+v", what, c.Trainees())
		}
	}
}

func (c *class) trainee(t *testing.T, name string) classroom.Trainee {
	for _, tr := range c.Trainees() {
		if tr.Name == name {
			return tr
		}
	}
	t.Fatalf("no trainee %q in %+v", name, c.Trainees())
	return classroom.Trainee{}
}

// student is one trainee's posdrill train: the link, the training terminal, its screen.
type student struct {
	link   *classroom.Link
	env    *trainer.Env
	screen *tuitest.Screen
}

func join(t *testing.T, c *class, name string, lang guidance.Lang) *student {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, err := classroom.Join(ctx, c.api, name)
	if err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	o := trainer.Options{Host: c.iso, Lang: lang, Dir: t.TempDir()}
	link.Apply(&o)
	env, err := trainer.New(o)
	if err != nil {
		t.Fatal(err)
	}
	s := tuitest.Start(t, env.App, 80, 24)
	link.Follow(env.App)
	t.Cleanup(func() {
		s.Close()
		_ = env.Close()
		_ = link.Close()
	})
	return &student{link: link, env: env, screen: s}
}

func (s *student) sale(t *testing.T, amount int64) simulator.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return s.env.Terminal().Sale(ctx, simulator.Payment{Card: "visa-ok", Amount: amount, Entry: "chip", PIN: "1234"})
}

func drillTitle(t *testing.T, name string, lang guidance.Lang) string {
	drills, _ := trainer.LibraryDrills(cards.Builtin())
	for _, d := range drills {
		if d.Name == name {
			return d.Title.In(lang)
		}
	}
	t.Fatalf("no library drill %q", name)
	return ""
}

// TestClassroomEndToEnd: three trainees over loopback TCP; a fault for one, a drill for
// all, a dropped link that comes back on the same terminal id, a hand-decided decline, and
// the export's rows.
func TestClassroomEndToEnd(t *testing.T) {
	store, err := classroom.OpenStore(filepath.Join(t.TempDir(), "class.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c := startClass(t, store)

	zhang := join(t, c, "张三", guidance.Zh)
	li := join(t, c, "李四", guidance.En)
	wang := join(t, c, "王五", guidance.Zh)
	tids := []string{zhang.link.Terminal(), li.link.Terminal(), wang.link.Terminal()}
	if want := []string{"CLASS001", "CLASS002", "CLASS003"}; !slices.Equal(tids, want) {
		t.Fatalf("terminal ids %v, want %v", tids, want)
	}
	c.until(t, "three trainees online", func() bool {
		n := 0
		for _, tr := range c.Trainees() {
			if tr.Online {
				n++
			}
		}
		return n == 3
	})

	t.Run("name in use", func(t *testing.T) {
		_, err := classroom.Join(context.Background(), c.api, "张三")
		if !errors.Is(err, classroom.ErrNameInUse) || !strings.Contains(err.Error(), "CLASS001") {
			t.Fatalf("second 张三: %v, want ErrNameInUse naming CLASS001", err)
		}
	})
	t.Run("no name", func(t *testing.T) {
		if _, err := classroom.Join(context.Background(), c.api, " "); err == nil || !strings.Contains(err.Error(), "needs a name") {
			t.Fatalf("blank name: %v", err)
		}
	})

	t.Run("fault to one", func(t *testing.T) {
		if _, err := c.Fault(li.link.Terminal(), fault.Rule{Action: fault.ActionDecline, Params: fault.Params{Code: "05"}}); err != nil {
			t.Fatal(err)
		}
		// 李四's own panel sees the rule but cannot clear the trainer's fault (a drill
		// start clears the trainee's faults, and must not disarm the trainer's).
		var o trainer.Options
		li.link.Apply(&o)
		if fs, err := o.HostView.Faults(context.Background()); err != nil || len(fs) != 1 {
			t.Fatalf("李四's panel lists %v, %v; want the trainer's rule", fs, err)
		}
		if err := o.HostView.ClearFaults(context.Background()); err != nil {
			t.Fatal(err)
		}
		var z trainer.Options
		zhang.link.Apply(&z)
		if fs, _ := z.HostView.Faults(context.Background()); len(fs) != 0 {
			t.Errorf("张三's panel lists 李四's fault: %v", fs)
		}
		if o := zhang.sale(t, 1000); o.ResponseCode != "00" {
			t.Errorf("张三's sale: %s %s, want 00 (the fault was for 李四)", o.Kind, o.ResponseCode)
		}
		if o := li.sale(t, 1000); o.ResponseCode != "05" {
			t.Errorf("李四's sale: %s %s, want 05 from the fault", o.Kind, o.ResponseCode)
		}
		if o := wang.sale(t, 1000); o.ResponseCode != "00" {
			t.Errorf("王五's sale: %s %s, want 00", o.Kind, o.ResponseCode)
		}
		if o := li.sale(t, 1000); o.ResponseCode != "00" {
			t.Errorf("李四's second sale: %s %s, want 00 (the fault was for the next transaction only)", o.Kind, o.ResponseCode)
		}
	})

	t.Run("hand answer", func(t *testing.T) {
		tid := wang.link.Terminal()
		c.AnswerNextByHand(tid, true)
		done := make(chan simulator.Outcome, 1)
		go func() { done <- wang.sale(t, 2500) }()
		c.until(t, "王五's request held", func() bool { _, ok := c.Held(tid); return ok })
		req, _ := c.Held(tid)
		if req.Amount != 2500 || req.MaskedPAN != "411111******1111" {
			t.Errorf("held request %+v: want 25.00 on a masked card", req)
		}
		if err := c.Decide(tid, acquirer.HandAnswer{Verdict: acquirer.HandDecline, Code: "51"}); err != nil {
			t.Fatal(err)
		}
		if o := <-done; o.ResponseCode != "51" {
			t.Errorf("王五's sale: %s %s, want 51 decided by hand", o.Kind, o.ResponseCode)
		}
		// 张三 was not held: the host answered him itself.
		if o := zhang.sale(t, 700); o.ResponseCode != "00" {
			t.Errorf("张三's sale while 王五 was held: %s", o.ResponseCode)
		}
	})

	drill := "insufficient-funds"
	t.Run("drill to all", func(t *testing.T) {
		n, err := c.StartDrill(drill)
		if err != nil || n != 3 {
			t.Fatalf("StartDrill: %d, %v; want 3 trainees", n, err)
		}
		for i, s := range []*student{zhang, li, wang} {
			lang := []guidance.Lang{guidance.Zh, guidance.En, guidance.Zh}[i]
			s.screen.WaitFor(drillTitle(t, drill, lang))
		}
		c.until(t, "every trainee in the drill", func() bool {
			for _, tr := range c.Trainees() {
				if tr.Drill != drill {
					return false
				}
			}
			return true
		})
		if _, err := c.StartDrill("insuficient-funds"); err == nil || !strings.Contains(err.Error(), "did you mean") {
			t.Errorf("misspelt drill: %v", err)
		}
	})

	t.Run("dropped trainee reconnects", func(t *testing.T) {
		var down atomic.Bool
		back := make(chan struct{}, 1)
		li.link.OnState(func(online bool) {
			if !online {
				down.Store(true)
			} else if down.Load() {
				select {
				case back <- struct{}{}:
				default:
				}
			}
		})
		li.link.Drop()
		select {
		case <-back:
		case <-time.After(15 * time.Second):
			t.Fatal("李四's link never came back after the drop")
		}
		c.until(t, "李四 back online", func() bool { return c.trainee(t, "李四").Online })
		// 李四's screen said so (en): the title bar names the class, the notice the rejoin.
		li.screen.WaitFor("class: 李四 @", "Back in the class, same terminal id.")
		if got := li.link.Terminal(); got != "CLASS002" {
			t.Errorf("李四 came back as %s, want CLASS002", got)
		}
		if o := li.sale(t, 1200); o.ResponseCode != "00" {
			t.Errorf("李四's sale after the drop: %s", o.ResponseCode)
		}
	})

	t.Run("results", func(t *testing.T) {
		// Each trainee gives up acting and asks for the score: d (drill panel), f (finish).
		for _, s := range []*student{zhang, li, wang} {
			s.screen.Keys("d", "f")
		}
		c.until(t, "three results", func() bool {
			rs, _ := c.Results()
			return len(rs) == 3
		})
		li.screen.WaitFor("Score")
		rs, err := c.Results()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := classroom.WriteCSV(&buf, rs); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows[0], classroom.CSVHeader) || len(rows) != 4 {
			t.Fatalf("CSV:\n%v", rows)
		}
		byName := map[string][]string{}
		for _, r := range rows[1:] {
			byName[r[0]] = r
		}
		for name, tid := range map[string]string{"张三": "CLASS001", "李四": "CLASS002", "王五": "CLASS003"} {
			r := byName[name]
			if r == nil {
				t.Errorf("no row for %s", name)
				continue
			}
			if r[1] != tid || r[2] != drill || r[7] != "false" || r[8] == "" || r[3] == "" || r[4] == "" {
				t.Errorf("row of %s: %v; want %s, %s, not passed, the missing actions listed, times", name, r, tid, drill)
			}
		}
		buf.Reset()
		if err := classroom.WriteJSON(&buf, rs); err != nil {
			t.Fatal(err)
		}
		var back []classroom.Result
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back) != 3 || back[0].Missing == nil {
			t.Fatalf("JSON export: %v %+v", err, back)
		}
	})
}
