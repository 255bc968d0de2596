package acquirer

import (
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
)

func TestDuplicatesAndRepeats(t *testing.T) {
	s := start(t, Options{})
	c := s.dial(t)
	orig := sale(t, "visa-ok", 2500, "000010")
	first := c.send(t, orig)
	wantCode(t, first, "00")

	t.Run("new request with the same DE41 DE11 DE7 gets 94", func(t *testing.T) {
		r := c.send(t, orig.Clone())
		wantCode(t, r, "94")
		if b := s.balance(t, "visa-ok"); b.Available != 997500 {
			t.Errorf("duplicate changed the ledger: %+v", b)
		}
		if e := s.journal(t, Filter{STAN: "000010"}); !strings.Contains(e[len(e)-2].Decision, "duplicate of transaction") {
			t.Errorf("journal: %+v", e[len(e)-2])
		}
	})
	t.Run("repeat gets the original answer", func(t *testing.T) {
		rep := orig.Clone()
		rep.MTI = "0201"
		r := c.send(t, rep)
		wantCode(t, r, "00")
		if r.MTI != "0210" || r.AuthCode != first.AuthCode || r.RRN != first.RRN || r.PAN != orig.PAN {
			t.Errorf("repeat answer %+v differs from the original %+v", r, first)
		}
		if b := s.balance(t, "visa-ok"); b.Available != 997500 {
			t.Errorf("repeat changed the ledger: %+v", b)
		}
	})
	t.Run("repeat of a declined request gets the decline again", func(t *testing.T) {
		m := sale(t, "lost", 100, "000011")
		wantCode(t, c.send(t, m), "41")
		m.MTI = "0201"
		wantCode(t, c.send(t, m), "41")
	})
	t.Run("repeat of something never seen is processed", func(t *testing.T) {
		m := sale(t, "mc-ok", 100, "000012")
		m.MTI = "0201"
		r := c.send(t, m)
		wantCode(t, r, "00")
		if b := s.balance(t, "mc-ok"); b.Available != 999900 {
			t.Errorf("balance %+v", b)
		}
	})
	t.Run("same STAN another DE7 is a new transaction", func(t *testing.T) {
		m := sale(t, "visa-ok", 100, "000010")
		m.TransmissionTime = "0315110000"
		wantCode(t, c.send(t, m), "00")
	})
	t.Run("pre-auth duplicate", func(t *testing.T) {
		m := preauth(t, "unionpay-ok", 100, "000013")
		wantCode(t, c.send(t, m), "00")
		wantCode(t, c.send(t, m.Clone()), "94")
		m.MTI = "0101"
		wantCode(t, c.send(t, m), "00")
		if b := s.balance(t, "unionpay-ok"); b.Held != 100 {
			t.Errorf("held %d, want 100", b.Held)
		}
	})
}

func TestReversals(t *testing.T) {
	tests := []struct {
		name     string
		mti      string
		newSTAN  bool  // "new" STAN policy with DE90; else "reuse" without DE90
		actual   int64 // DE95 actual amount (partial reversal) when > 0
		times    int   // identical reversals sent
		want     int64 // available after
		state    string
		decision string
	}{
		{"0400 new STAN with DE90", "0400", true, 0, 1, 1000000, StateReversed, "25.00 restored"},
		{"0420 reuse STAN", "0420", false, 0, 1, 1000000, StateReversed, "25.00 restored"},
		{"second identical reversal changes nothing", "0400", true, 0, 2, 1000000, StateReversed, "already reversed to 0.00: no change"},
		{"repeat 0421", "0421", true, 0, 3, 1000000, StateReversed, "no change"},
		{"repeat 0401 reuse", "0401", false, 0, 2, 1000000, StateReversed, "no change"},
		{"partial reversal keeps 10.00", "0400", true, 1000, 1, 999000, StateApproved, "partial, 15.00 restored, 10.00 stays"},
		{"partial reversal twice restores once", "0420", true, 1000, 2, 999000, StateApproved, "already reversed to 10.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{})
			c := s.dial(t)
			orig := sale(t, "visa-ok", 2500, "000100")
			wantCode(t, c.send(t, orig), "00")
			var rev *iso.Message
			if tt.newSTAN {
				rev = reversalOf(orig, tt.mti, "000101")
			} else {
				rev = reversalOf(orig, tt.mti, "")
			}
			if tt.actual > 0 {
				rev.ReplacementAmts = iso.FormatAmount(tt.actual) + strings.Repeat("0", 30)
			}
			for i := 0; i < tt.times; i++ {
				r := c.send(t, rev)
				wantCode(t, r, "00")
				if r.MTI != iso.ResponseMTI(tt.mti) {
					t.Errorf("answer MTI %s", r.MTI)
				}
			}
			if b := s.balance(t, "visa-ok"); b.Available != tt.want {
				t.Errorf("available %d, want %d", b.Available, tt.want)
			}
			if tx := s.txn(t, "000100"); tx.State != tt.state || tx.Amount != tt.actual {
				t.Errorf("original: state %s amount %d, want %s %d", tx.State, tx.Amount, tt.state, tt.actual)
			}
			if e := s.inEntry(t, tt.mti, rev.STAN); !strings.Contains(e.Decision, tt.decision) {
				t.Errorf("journal decision %q, want %q", e.Decision, tt.decision)
			}
		})
	}
}

func TestReversalCases(t *testing.T) {
	s := start(t, Options{})
	c := s.dial(t)
	t.Run("unknown original gets 25", func(t *testing.T) {
		ghost := sale(t, "visa-ok", 100, "000900")
		wantCode(t, c.send(t, reversalOf(ghost, "0400", "000901")), "25")
		wantCode(t, c.send(t, reversalOf(ghost, "0420", "")), "25")
	})
	t.Run("reversal of a declined transaction", func(t *testing.T) {
		m := sale(t, "low-funds", 99999, "000910")
		wantCode(t, c.send(t, m), "51")
		r := c.send(t, reversalOf(m, "0400", "000911"))
		wantCode(t, r, "00")
		if b := s.balance(t, "low-funds"); b.Available != 500 {
			t.Errorf("low-funds %+v", b)
		}
	})
	t.Run("reversal of a refund takes the credit back", func(t *testing.T) {
		m := refund(t, "mc-ok", 700, "000920")
		wantCode(t, c.send(t, m), "00")
		wantCode(t, c.send(t, reversalOf(m, "0400", "000921")), "00")
		if b := s.balance(t, "mc-ok"); b.Available != 1000000 {
			t.Errorf("mc-ok %+v", b)
		}
	})
	t.Run("DE90 of another terminal does not match", func(t *testing.T) {
		m := sale(t, "unionpay-ok", 100, "000930")
		wantCode(t, c.send(t, m), "00")
		rev := reversalOf(m, "0400", "000931")
		rev.TerminalID = "TERM0002"
		wantCode(t, c.send(t, rev), "25")
	})
	t.Run("bad DE90", func(t *testing.T) {
		rev := reversalOf(sale(t, "visa-ok", 100, "000940"), "0400", "000941")
		rev.OriginalData = strings.Repeat("9", 41) + "X"
		wantCode(t, c.send(t, rev), "30")
	})
}

func TestPreAuthCompletion(t *testing.T) {
	completion := func(t *testing.T, pre *iso.Message, preAns *iso.Message, amount int64, stan string, byDE90 bool) *iso.Message {
		m := sale(t, "visa-ok", amount, stan)
		m.MTI = "0220"
		m.TransmissionTime = "0315113000"
		if byDE90 {
			m.OriginalData = iso.OriginalData{MTI: pre.MTI, STAN: pre.STAN, Transmitted: pre.TransmissionTime}.String()
		} else {
			m.RRN, m.AuthCode = preAns.RRN, preAns.AuthCode
		}
		return m
	}
	tests := []struct {
		name      string
		capture   int64
		byDE90    bool
		code      string
		available int64
		held      int64
	}{
		{"capture less than the hold by DE90", 6000, true, "00", 994000, 0},
		{"capture all by DE37/DE38", 8000, false, "00", 992000, 0},
		{"capture more than the hold", 8001, true, "13", 992000, 8000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{})
			c := s.dial(t)
			pre := preauth(t, "visa-ok", 8000, "000200")
			ans := c.send(t, pre)
			wantCode(t, ans, "00")
			if b := s.balance(t, "visa-ok"); b.Held != 8000 || b.Available != 992000 {
				t.Fatalf("after pre-auth %+v", b)
			}
			if tx := s.txn(t, "000200"); tx.State != StateHeld {
				t.Fatalf("pre-auth state %s", tx.State)
			}
			comp := completion(t, pre, ans, tt.capture, "000201", tt.byDE90)
			r := c.send(t, comp)
			wantCode(t, r, tt.code)
			if r.MTI != "0230" {
				t.Errorf("MTI %s", r.MTI)
			}
			b := s.balance(t, "visa-ok")
			if b.Available != tt.available || b.Held != tt.held {
				t.Errorf("balance %+v, want available %d held %d", b, tt.available, tt.held)
			}
			if tt.code != "00" {
				return
			}
			if r.AuthCode != ans.AuthCode {
				t.Errorf("completion DE38 %q, want the pre-auth's %q", r.AuthCode, ans.AuthCode)
			}
			if tx := s.txn(t, "000200"); tx.State != StateCaptured {
				t.Errorf("pre-auth state %s, want captured", tx.State)
			}
			// The advice is repeated until answered: same answer, no second capture.
			comp.MTI = "0221"
			wantCode(t, c.send(t, comp), "00")
			// A new completion of the captured pre-auth is a duplicate.
			again := completion(t, pre, ans, 100, "000202", true)
			wantCode(t, c.send(t, again), "94")
			if b2 := s.balance(t, "visa-ok"); b2 != b {
				t.Errorf("repeat changed the ledger: %+v → %+v", b, b2)
			}
			// Reversing the completion gives the captured amount back.
			rev := reversalOf(comp, "0400", "000203")
			rev.OriginalData = iso.OriginalData{MTI: "0220", STAN: "000201", Transmitted: "0315113000"}.String()
			wantCode(t, c.send(t, rev), "00")
			if b := s.balance(t, "visa-ok"); b.Available != 1000000 || b.Held != 0 {
				t.Errorf("after reversing the completion %+v", b)
			}
		})
	}
	t.Run("reversal of a pre-auth releases the hold", func(t *testing.T) {
		s := start(t, Options{})
		c := s.dial(t)
		pre := preauth(t, "mc-ok", 3000, "000300")
		wantCode(t, c.send(t, pre), "00")
		wantCode(t, c.send(t, reversalOf(pre, "0420", "000301")), "00")
		if b := s.balance(t, "mc-ok"); b.Available != 1000000 || b.Held != 0 {
			t.Errorf("%+v", b)
		}
		// Nothing left to complete.
		comp := sale(t, "mc-ok", 100, "000302")
		comp.MTI = "0220"
		comp.OriginalData = iso.OriginalData{MTI: "0100", STAN: "000300", Transmitted: de7}.String()
		wantCode(t, c.send(t, comp), "25")
	})
	t.Run("completion of an unknown pre-auth", func(t *testing.T) {
		s := start(t, Options{})
		c := s.dial(t)
		comp := sale(t, "mc-ok", 100, "000400")
		comp.MTI = "0220"
		comp.AuthCode, comp.RRN = "ZZZZZZ", "000000000000"
		wantCode(t, c.send(t, comp), "25")
	})
	t.Run("offline sale advice debits whatever the balance", func(t *testing.T) {
		s := start(t, Options{})
		c := s.dial(t)
		adv := sale(t, "low-funds", 800, "000500")
		adv.MTI = "0220"
		r := c.send(t, adv)
		wantCode(t, r, "00")
		if b := s.balance(t, "low-funds"); b.Available != -300 {
			t.Errorf("%+v", b)
		}
	})
}

// settlement builds a 0500 with the terminal's totals.
func settlement(stan, batch string, sales, salesAmt, refunds, refundsAmt int64) *iso.Message {
	return &iso.Message{MTI: "0500", ProcessingCode: "920000", TransmissionTime: "0315180000", STAN: stan,
		TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Batch: batch,
		DebitsNumber: pad(sales, 10), DebitsAmount: pad(salesAmt, 16), CreditsNumber: pad(refunds, 10), CreditsAmount: pad(refundsAmt, 16)}
}

func pad(v int64, n int) string {
	s := iso.FormatAmount(v)
	for len(s) < n {
		s = "0" + s
	}
	return s[len(s)-n:]
}

func TestSettlement(t *testing.T) {
	s := start(t, Options{})
	c := s.dial(t)
	// Batch: sales 25.00 + 10.00 (one partially reversed to 4.00), a refund 3.00, a
	// reversed sale, a declined sale, a pre-auth still held and a completion of 6.00.
	s1 := sale(t, "visa-ok", 2500, "000001")
	s2 := sale(t, "mc-ok", 1000, "000002")
	s3 := sale(t, "unionpay-ok", 700, "000003")
	wantCode(t, c.send(t, s1), "00")
	wantCode(t, c.send(t, s2), "00")
	wantCode(t, c.send(t, s3), "00")
	wantCode(t, c.send(t, refund(t, "visa-ok", 300, "000004")), "00")
	wantCode(t, c.send(t, sale(t, "lost", 100, "000005")), "41")
	wantCode(t, c.send(t, reversalOf(s3, "0400", "000006")), "00")
	partial := reversalOf(s2, "0400", "000007")
	partial.ReplacementAmts = iso.FormatAmount(400) + strings.Repeat("0", 30)
	wantCode(t, c.send(t, partial), "00")
	pre := preauth(t, "visa-ok", 9000, "000008")
	wantCode(t, c.send(t, pre), "00")
	pre2 := preauth(t, "mc-ok", 9000, "000009")
	wantCode(t, c.send(t, pre2), "00")
	comp := sale(t, "mc-ok", 600, "000010")
	comp.MTI = "0220"
	comp.OriginalData = iso.OriginalData{MTI: "0100", STAN: "000009", Transmitted: de7}.String()
	wantCode(t, c.send(t, comp), "00")
	// Host view: sales 3 (25.00 + 4.00 + 6.00 = 35.00), refunds 1 (3.00).

	t.Run("wrong totals get 95", func(t *testing.T) {
		r := c.send(t, settlement("000020", "000001", 3, 3600, 1, 300))
		wantCode(t, r, "95")
		if r.DebitsAmount != pad(3600, 16) {
			t.Errorf("0510 DE88 %q does not echo the terminal's totals", r.DebitsAmount)
		}
		e := s.inEntry(t, "0500", "000020")
		if !strings.Contains(e.Decision, "terminal sales 3 / 36.00, refunds 1 / 3.00, host sales 3 / 35.00, refunds 1 / 3.00") {
			t.Errorf("decision %q", e.Decision)
		}
	})
	t.Run("wrong field", func(t *testing.T) {
		m := settlement("000021", "000001", 3, 3500, 1, 300)
		m.DebitsAmount = ""
		wantCode(t, c.send(t, m), "30")
	})
	t.Run("upload then settle closes the batch", func(t *testing.T) {
		for i, tx := range []*iso.Message{s1, s2, comp} {
			up := &iso.Message{MTI: "0320", ProcessingCode: tx.ProcessingCode, Amount: tx.Amount, STAN: tx.STAN,
				TransmissionTime: "0315180100", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Batch: "000001"}
			r := c.send(t, up)
			if r.MTI != "0330" || r.ResponseCode != "00" {
				t.Fatalf("upload %d: %s %s", i, r.MTI, r.ResponseCode)
			}
		}
		r := c.send(t, settlement("000030", "000001", 3, 3600, 1, 300))
		wantCode(t, r, "00")
		for _, st := range []string{"000001", "000002", "000004", "000010"} {
			if tx := s.txn(t, st); tx.State != StateSettled || tx.Batch != "000001" {
				t.Errorf("STAN %s: state %s batch %q", st, tx.State, tx.Batch)
			}
		}
		if tx := s.txn(t, "000008"); tx.State != StateHeld || tx.Batch != "" {
			t.Errorf("open hold was settled: %+v", tx)
		}
	})
	t.Run("settling again is answered 00 and changes nothing", func(t *testing.T) {
		wantCode(t, c.send(t, settlement("000031", "000001", 3, 3600, 1, 300)), "00")
	})
	t.Run("reversal after settlement is refused", func(t *testing.T) {
		wantCode(t, c.send(t, reversalOf(s1, "0400", "000032")), "12")
		if tx := s.txn(t, "000001"); tx.State != StateSettled {
			t.Errorf("state %s", tx.State)
		}
	})
	t.Run("next batch matches at once", func(t *testing.T) {
		wantCode(t, c.send(t, sale(t, "visa-ok", 1234, "000040")), "00")
		wantCode(t, c.send(t, settlement("000041", "000002", 1, 1234, 0, 0)), "00")
		if tx := s.txn(t, "000040"); tx.State != StateSettled {
			t.Errorf("state %s", tx.State)
		}
	})
}
