package scenarios

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
)

// stockSpec is moov-io/iso8583's Spec87 (ASCII, hex bitmap: our ascii-hex dialect), with
// the fixed numeric fields this terminal sends as text: the stock Numeric fields do not
// zero-pad, so "000000" would pack as "0" (libraries.md).
func stockSpec() *iso8583.MessageSpec {
	fields := map[int]field.Field{}
	for id, f := range iso8583.Spec87.Fields {
		fields[id] = f
	}
	for id, n := range map[int]int{3: 6, 4: 12, 7: 10, 11: 6, 12: 6, 13: 4, 14: 4, 22: 3, 25: 2, 49: 3} {
		fields[id] = field.NewString(&field.Spec{Length: n, Description: fmt.Sprintf("DE%d", id), Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed})
	}
	return &iso8583.MessageSpec{Name: "moov Spec87 (test terminal)", Fields: fields}
}

// stockTerminal is a minimal terminal written against moov-io/iso8583, not posdrill's
// codec: it sends a 0200 per sale over a fresh connection (2-byte length header), waits
// rt for the answer, and never reverses. reuseSTAN makes it send every sale with STAN
// 000001.
type stockTerminal struct {
	t         *testing.T
	rt        time.Duration
	tid       string
	reuseSTAN bool
	resend    bool // after no answer, send the sale again (a new STAN), never reversing
	stan      atomic.Int64
}

func (st *stockTerminal) drive(ctx context.Context, a DriveAction) DriveResult {
	if a.Type != StepSale {
		return DriveResult{ExitCode: 0, Output: "nothing to do for " + a.Type}
	}
	r := st.sale(ctx, a)
	if st.resend && r.ExitCode != 0 {
		r2 := st.sale(ctx, a)
		r2.Output = r.Output + "; again: " + r2.Output
		return r2
	}
	return r
}

func (st *stockTerminal) sale(ctx context.Context, a DriveAction) DriveResult {
	stan := st.stan.Add(1)
	if st.reuseSTAN {
		stan = 1
	}
	now := time.Now().UTC()
	amount := strings.ReplaceAll(a.Amount, ".", "")
	m := iso8583.NewMessage(stockSpec())
	m.MTI("0200")
	for id, v := range map[int]string{
		2: a.PAN, 3: "000000", 4: fmt.Sprintf("%012s", amount), 7: now.Format("0102150405"),
		11: fmt.Sprintf("%06d", stan), 12: now.Format("150405"), 13: now.Format("0102"), 14: "3012",
		22: "071", 25: "00", 41: st.tid, 42: "POSDRILL0000001", 49: "156",
	} {
		if err := m.Field(id, v); err != nil {
			return DriveResult{ExitCode: 2, Err: err}
		}
	}
	packed, err := m.Pack()
	if err != nil {
		return DriveResult{ExitCode: 2, Err: err}
	}
	answer, err := exchange(ctx, a.Host, packed, st.rt)
	out := fmt.Sprintf("sent 0200 stan %06d; ", stan)
	if err != nil {
		return DriveResult{ExitCode: 1, Output: out + "no answer: " + err.Error()}
	}
	resp := iso8583.NewMessage(stockSpec())
	if err := resp.Unpack(answer); err != nil {
		return DriveResult{ExitCode: 1, Output: out + "answer does not unpack"}
	}
	rc, _ := resp.GetString(39)
	return DriveResult{ExitCode: 0, Output: out + "answer " + rc}
}

// exchange writes one framed payload and reads one framed answer within rt.
func exchange(ctx context.Context, host string, payload []byte, rt time.Duration) ([]byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	if _, err := c.Write(append(frame, payload...)); err != nil {
		return nil, err
	}
	if rt <= 0 {
		return nil, nil
	}
	_ = c.SetReadDeadline(time.Now().Add(rt))
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err = io.ReadFull(c, body)
	return body, err
}

// suiteCases picks built-in cases by name, in the order given.
func suiteCases(t *testing.T, names ...string) []*Scenario {
	t.Helper()
	all, err := TerminalSuite()
	if err != nil {
		t.Fatal(err)
	}
	var out []*Scenario
	for _, n := range names {
		found := false
		for _, sc := range all {
			if sc.Name == n {
				out, found = append(out, sc), true
			}
		}
		if !found {
			t.Fatalf("no built-in case %s", n)
		}
	}
	return out
}

func checkWith(t *testing.T, o TerminalOptions, cases []*Scenario) *Report {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Listener = ln
	if o.ResponseTimeout == 0 {
		o.ResponseTimeout = 300 * time.Millisecond
	}
	if o.Quiet == 0 {
		o.Quiet = 100 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := CheckTerminal(ctx, cases, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// failuresOf returns a case's failure kinds and the text of all its failures.
func failuresOf(r *Result) (whats []string, text string) {
	var b strings.Builder
	for _, f := range r.Failures {
		whats = append(whats, f.What)
		b.WriteString(f.String() + "\n")
	}
	return whats, b.String()
}

func TestCheckTerminalCatchesStockTerminal(t *testing.T) {
	t.Run("never reverses", func(t *testing.T) {
		st := &stockTerminal{t: t, rt: time.Second, tid: "TERM0003"}
		rep := checkWith(t, TerminalOptions{Dialect: iso.ASCIIHex, Drive: st.drive, ResponseTimeout: 2 * time.Second},
			suiteCases(t, "sale-approved", "lost-answer-after-commit", "no-answer"))
		if !rep.Results[0].Passed {
			t.Errorf("a plain sale by the stock terminal failed:\n%s", rep.Results[0].FailureText())
		}
		for _, r := range rep.Results[1:] {
			whats, text := failuresOf(r)
			if r.Passed || !strings.Contains(text, "never sent 0400/0420") || !contains(whats, RuleCharged+" visa-ok") {
				t.Errorf("%s: want a failure naming the missing 0400/0420 and the charge, got %v:\n%s", r.Name, whats, text)
			}
		}
	})
	t.Run("sends the sale again after no answer", func(t *testing.T) {
		st := &stockTerminal{t: t, rt: time.Second, tid: "TERM0006", resend: true}
		rep := checkWith(t, TerminalOptions{Dialect: iso.ASCIIHex, Drive: st.drive, ResponseTimeout: 2 * time.Second},
			suiteCases(t, "no-answer"))
		whats, text := failuresOf(rep.Results[0])
		if !contains(whats, RuleSecondCharge) || !strings.Contains(text, "the customer may pay twice") {
			t.Errorf("want a %s failure, got %v:\n%s", RuleSecondCharge, whats, text)
		}
	})
	t.Run("re-uses a STAN", func(t *testing.T) {
		st := &stockTerminal{t: t, rt: time.Second, tid: "TERM0004", reuseSTAN: true}
		rep := checkWith(t, TerminalOptions{Dialect: iso.ASCIIHex, Drive: st.drive, ResponseTimeout: 2 * time.Second},
			suiteCases(t, "sale-approved", "insufficient-funds-51"))
		if !rep.Results[0].Passed {
			t.Errorf("the first sale failed:\n%s", rep.Results[0].FailureText())
		}
		whats, text := failuresOf(rep.Results[1])
		if !contains(whats, RuleFreshSTAN) || !strings.Contains(text, "re-uses STAN 000001") {
			t.Errorf("want a %s failure, got %v:\n%s", RuleFreshSTAN, whats, text)
		}
	})
}

// TestCheckTerminalBadInput: whatever a terminal sends, the case fails with a reason that
// says what, and the runner goes on to the next case (which passes).
func TestCheckTerminalBadInput(t *testing.T) {
	good := &stockTerminal{t: t, rt: time.Second, tid: "TERM0001"}
	send := func(payload []byte) Driver {
		return func(ctx context.Context, a DriveAction) DriveResult {
			_, err := exchange(ctx, a.Host, payload, 300*time.Millisecond)
			return DriveResult{Output: fmt.Sprint(err)}
		}
	}
	raw := func(b []byte) Driver {
		return func(ctx context.Context, a DriveAction) DriveResult {
			c, err := net.Dial("tcp", a.Host)
			if err == nil {
				_, _ = c.Write(b)
				time.Sleep(50 * time.Millisecond) // let the host read it before the close
				c.Close()
			}
			return DriveResult{}
		}
	}
	packed := func(mti, tid string) []byte {
		m := iso8583.NewMessage(stockSpec())
		m.MTI(mti)
		_ = m.Field(11, "000777")
		_ = m.Field(41, tid)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		drive Driver
		want  string // a failure kind
		text  string // in its message
	}{
		{"garbage", send([]byte("\xff\xfe this is not ISO 8583 at all")), RuleGarbage, "does not unpack"},
		{"unknown MTI", send(packed("0999", "TERM0001")), RuleUnknownMTI, `"0999"`},
		{"another terminal id", send(packed("0800", "TERM0002")), RuleTerminalID, `"TERM0002", expected "TERM0001"`},
		{"silence", func(context.Context, DriveAction) DriveResult { return DriveResult{} }, RuleSilence, "sent nothing"},
		{"a huge length header", raw([]byte{0xFF, 0xFF, 'x'}), RuleSilence, "sent nothing"},
		{"half a frame", raw([]byte{0x00, 0x40, '0', '2'}), RuleSilence, "sent nothing"},
		{"random frames", raw(randomFrames(7, 40)), RuleGarbage, "does not unpack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			drive := func(ctx context.Context, a DriveAction) DriveResult {
				calls++
				if calls == 1 {
					return tc.drive(ctx, a)
				}
				return good.drive(ctx, a)
			}
			rep := checkWith(t, TerminalOptions{Dialect: iso.ASCIIHex, Drive: drive, TerminalID: "TERM0001", ResponseTimeout: 2 * time.Second},
				suiteCases(t, "sale-approved", "sale-approved"))
			whats, text := failuresOf(rep.Results[0])
			if rep.Results[0].Passed || !contains(whats, tc.want) || !strings.Contains(text, tc.text) {
				t.Errorf("first case: want a %s failure mentioning %q, got %v:\n%s", tc.want, tc.text, whats, text)
			}
			if !rep.Results[1].Passed {
				t.Errorf("the runner did not go on: the next, good case failed:\n%s", rep.Results[1].FailureText())
			}
		})
	}
}

// randomFrames is n frames with valid 2-byte length headers around random payloads, some
// starting with a real MTI so that they get further into the decoder.
func randomFrames(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	var out []byte
	for range n {
		p := make([]byte, 4+r.IntN(200))
		for i := range p {
			p[i] = byte(r.UintN(256))
		}
		if r.IntN(2) == 0 {
			copy(p, []string{"0200", "0420", "0800", "0500"}[r.IntN(4)])
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	return out
}

// TestCheckTerminalDriveFailures: a --drive command that fails to start, or hangs past
// the case's limit, fails the case with its exit status and output; one that exits 1 (a
// declined payment) is judged on the wire like any other.
func TestCheckTerminalDriveFailures(t *testing.T) {
	sc := suiteCases(t, "sale-approved")
	t.Run("hangs", func(t *testing.T) {
		start := time.Now()
		// 2 min scaled by 300ms/30s: the case's limit is 1.2 s.
		rep := checkWith(t, TerminalOptions{Drive: ShellDriver("echo started; sleep 30")}, sc)
		whats, text := failuresOf(rep.Results[0])
		if !contains(whats, "drive") || !strings.Contains(text, "killed at the case's limit") || !strings.Contains(text, "started") {
			t.Errorf("want a drive failure with the output, got %v:\n%s", whats, text)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the hanging command held the run for %s", d)
		}
	})
	t.Run("does not exist", func(t *testing.T) {
		rep := checkWith(t, TerminalOptions{Drive: ShellDriver("/no/such/pos-harness {card} {amount}")}, sc)
		whats, text := failuresOf(rep.Results[0])
		if !contains(whats, "drive") || !strings.Contains(text, "exit status 127: not found") || !contains(whats, RuleSilence) {
			t.Errorf("want silence with the exit status in the trace, got %v:\n%s\n%s", whats, text, strings.Join(rep.Results[0].Trace, "\n"))
		}
	})
}

func TestDriveCommandPlaceholders(t *testing.T) {
	a := DriveAction{Case: "c", Step: 1, Type: "sale", Card: "visa-ok", PAN: "4111111111111111", Amount: "25.00", Entry: "contactless",
		TerminalID: "TERM0001", Host: "127.0.0.1:9"}
	got := DriveCommand("pos {type} {card} {pan} {amount} {entry} {tid} {host} {pin} x{ref_stan}", a)
	want := "pos sale visa-ok 4111111111111111 25.00 contactless TERM0001 127.0.0.1:9 '' x''"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !contains(a.Env(), "POSDRILL_AMOUNT=25.00") || !contains(a.Env(), "POSDRILL_CARD=visa-ok") {
		t.Errorf("env %v", a.Env())
	}
	if got := DriveCommand("x {card}", DriveAction{Card: "it's; rm -rf /"}); got != `x 'it'\''s; rm -rf /'` {
		t.Errorf("a card name is not quoted for sh: %s", got)
	}
}

func TestInstruction(t *testing.T) {
	a := DriveAction{Type: StepSale, Card: "visa-ok", Amount: "25.00", Entry: "contactless"}
	if got := Instruction(a, "en"); got != "Sale 25.00, card visa-ok, tap" {
		t.Errorf("en: %q", got)
	}
	if got := Instruction(a, "zh"); got != "消费 25.00，卡 visa-ok，挥卡" {
		t.Errorf("zh: %q", got)
	}
}

// TestWindowsOnVirtualClock: time rules are judged on the frames' clock, here a virtual
// one, at the edges of the window and with the scale.
func TestWindowsOnVirtualClock(t *testing.T) {
	w, err := ParseWindow("0400|0420 within 35s of 0200")
	if err != nil {
		t.Fatal(err)
	}
	msg := func(mti, stan string) *iso.Message { return &iso.Message{MTI: mti, STAN: stan, TerminalID: "TERM0001"} }
	tests := []struct {
		name  string
		gap   time.Duration // from the 0200 to the 0420; 0: no 0420
		scale float64
		want  string // "" passes
	}{
		{"on time", 34 * time.Second, 1, ""},
		{"at the edge", 35 * time.Second, 1, ""},
		{"a second late", 36 * time.Second, 1, "came 36s after the 0200"},
		{"never", 0, 1, "no 0400/0420 came after the 0200"},
		{"scaled, on time", 1100 * time.Millisecond, 1.0 / 30, ""},
		{"scaled, late", 1200 * time.Millisecond, 1.0 / 30, "expected within 1.167s (35s scaled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewVirtual(DefaultStart)
			log := []seen{{at: clk.Now(), dir: iso.In, msg: msg("0800", "000001")}}
			clk.Advance(time.Second)
			log = append(log, seen{at: clk.Now(), dir: iso.In, msg: msg("0200", "000002")})
			if tc.gap > 0 {
				clk.Advance(tc.gap)
				log = append(log, seen{at: clk.Now(), dir: iso.In, msg: msg("0420", "000002")})
			}
			j := &judgement{all: log, scale: tc.scale, rt: time.Duration(float64(30*time.Second) * tc.scale)}
			j.checkWindow(w)
			switch {
			case tc.want == "" && len(j.fails) > 0:
				t.Errorf("failed: %v", j.fails)
			case tc.want != "" && (len(j.fails) != 1 || !strings.Contains(j.fails[0].Message, tc.want)):
				t.Errorf("want one failure with %q, got %v", tc.want, j.fails)
			}
		})
	}
}

// TestRulesOnMessages: the rules every terminal must keep, on hand-made logs.
func TestRulesOnMessages(t *testing.T) {
	clk := clock.NewVirtual(DefaultStart)
	sale := func(stan string) *iso.Message {
		return &iso.Message{MTI: "0200", ProcessingCode: "000000", PAN: "4111111111111111", Amount: "000000002500", STAN: stan,
			TransmissionTime: "0106090000", EntryMode: "071", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Currency: "156"}
	}
	rev := func(mti, stan string, orig *iso.Message, change func(*iso.Message)) *iso.Message {
		m := orig.Clone()
		m.MTI, m.STAN = mti, stan
		m.OriginalData = iso.OriginalData{MTI: orig.MTI, STAN: orig.STAN, Transmitted: orig.TransmissionTime}.String()
		if change != nil {
			change(m)
		}
		return m
	}
	in := func(m *iso.Message) seen {
		clk.Advance(time.Second)
		return seen{at: clk.Now(), dir: iso.In, msg: m}
	}
	s1 := sale("000001")
	tests := []struct {
		name string
		log  []seen
		rule MessageRule
		want string // a failure kind; "" none
		text string
	}{
		{"reversal right", []seen{in(s1), in(rev("0420", "000001", s1, nil)), in(rev("0421", "000001", s1, nil))},
			MessageRule{MTI: "0420|0421", Mandatory: []int{90}, SameAsOriginal: []int{2, 3, 4, 41, 42, 49}}, "", ""},
		{"reversal with another amount", []seen{in(s1), in(rev("0420", "000001", s1, func(m *iso.Message) { m.Amount = "000000002600" }))},
			MessageRule{MTI: "0420", SameAsOriginal: []int{4}}, RuleMessage, "DE4: expected \"25.00\" (the 0200's), got \"26.00\""},
		{"reversal without DE90", []seen{in(s1), in(rev("0420", "000001", s1, func(m *iso.Message) { m.OriginalData = "" }))},
			MessageRule{MTI: "0420", Mandatory: []int{90}}, RuleMessage, "mandatory DE90 absent"},
		{"reversal of nothing", []seen{in(rev("0420", "000009", sale("000008"), nil))}, MessageRule{}, RuleReversalOriginal, "never sent"},
		{"re-sent without the repeat MTI", []seen{in(s1), in(rev("0420", "000001", s1, nil)), in(rev("0420", "000001", s1, nil))},
			MessageRule{}, RuleRepeat, "must be the repeat 0421"},
		{"repeat with a new STAN", []seen{in(s1), in(rev("0420", "000001", s1, nil)), in(rev("0421", "000002", s1, nil))},
			MessageRule{}, RuleRepeat, "a repeat keeps the STAN"},
		{"second sale after a timeout", []seen{in(s1), in(sale("000002"))}, MessageRule{}, RuleSecondCharge, "may pay twice"},
		{"second sale after the reversal", []seen{in(s1), in(rev("0420", "000001", s1, nil)), in(sale("000002"))}, MessageRule{}, "", ""},
		{"re-used STAN", []seen{in(s1), in(rev("0420", "000001", s1, nil)), in(sale("000001"))}, MessageRule{}, RuleFreshSTAN, "re-uses STAN 000001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := &judgement{all: tc.log, tid: "TERM0001", rt: 30 * time.Second, scale: 1, d: iso.ASCII}
			e := &Expect{}
			if tc.rule.MTI != "" {
				e.Messages = []MessageRule{tc.rule}
			}
			j.check(e)
			var whats []string
			var text strings.Builder
			for _, f := range j.fails {
				whats = append(whats, f.What)
				text.WriteString(f.Message + "\n")
			}
			switch {
			case tc.want == "" && len(j.fails) > 0:
				t.Errorf("failed: %s", text.String())
			case tc.want != "" && (!contains(whats, tc.want) || !strings.Contains(text.String(), tc.text)):
				t.Errorf("want a %s failure with %q, got %v:\n%s", tc.want, tc.text, whats, text.String())
			}
			if strings.Contains(text.String(), "4111111111111111") {
				t.Error("a failure carries the full PAN")
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cashierWriter plays the person at the till: it reads the instructions CheckTerminal
// prints and performs each on the stock terminal.
type cashierWriter struct {
	t     *testing.T
	host  string
	term  *stockTerminal
	lines chan string
}

func (c *cashierWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		c.lines <- l
	}
	return len(p), nil
}

// TestCheckTerminalInstructions: without --drive each action is printed (here in Chinese)
// and the runner waits for the terminal; a person acting on it passes the case.
func TestCheckTerminalInstructions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cw := &cashierWriter{t: t, host: ln.Addr().String(), term: &stockTerminal{t: t, rt: time.Second, tid: "TERM0005"}, lines: make(chan string, 16)}
	var seen []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l := range cw.lines {
			seen = append(seen, l)
			if strings.Contains(l, "消费 25.00，卡 visa-ok，挥卡") {
				cw.term.drive(context.Background(), DriveAction{Type: StepSale, PAN: "4111111111111111", Amount: "25.00", Host: cw.host})
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := CheckTerminal(ctx, suiteCases(t, "sale-approved"), TerminalOptions{Listener: ln, Dialect: iso.ASCIIHex,
		Lang: "zh", Out: cw, ResponseTimeout: 2 * time.Second, Quiet: 100 * time.Millisecond})
	close(cw.lines)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Results[0].Passed {
		t.Errorf("instructions %q; the case failed:\n%s", seen, rep.Results[0].FailureText())
	}
	if len(seen) != 1 || !strings.HasPrefix(seen[0], "[sale-approved 1/1] ") {
		t.Errorf("instructions printed: %q", seen)
	}
}

// TestCheckTerminalPanicAndInterrupt: a panic inside a case (here from the driver) fails
// that case only; a cancelled run reports the cases that ran and stops.
func TestCheckTerminalPanicAndInterrupt(t *testing.T) {
	good := &stockTerminal{t: t, rt: time.Second, tid: "TERM0007"}
	t.Run("panic", func(t *testing.T) {
		calls := 0
		drive := func(ctx context.Context, a DriveAction) DriveResult {
			if calls++; calls == 1 {
				panic("the harness blew up")
			}
			return good.drive(ctx, a)
		}
		rep := checkWith(t, TerminalOptions{Dialect: iso.ASCIIHex, Drive: drive, ResponseTimeout: 2 * time.Second},
			suiteCases(t, "sale-approved", "sale-approved"))
		whats, text := failuresOf(rep.Results[0])
		if !contains(whats, "panic") || !strings.Contains(text, "the harness blew up") || !rep.Results[1].Passed {
			t.Errorf("first %v:\n%s\nsecond passed: %v", whats, text, rep.Results[1].Passed)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		drive := func(context.Context, DriveAction) DriveResult { cancel(); return DriveResult{} }
		rep, err := CheckTerminal(ctx, suiteCases(t, "sale-approved", "no-answer", "garbled"), TerminalOptions{Listener: ln,
			Drive: drive, ResponseTimeout: 2 * time.Second, Quiet: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) != 1 {
			t.Fatalf("%d results after the interrupt, want 1", len(rep.Results))
		}
		if whats, text := failuresOf(rep.Results[0]); !contains(whats, "interrupted") {
			t.Errorf("want an interrupted failure, got %v:\n%s", whats, text)
		}
	})
}
