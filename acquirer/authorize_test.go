package acquirer

import (
	"regexp"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
)

// TestDecisions covers every step of the decision order over real TCP: the answer's DE39,
// the journal's decision text and the ledger.
func TestDecisions(t *testing.T) {
	s := start(t, Options{Seed: 7})
	c := s.dial(t)
	tests := []struct {
		name      string
		msg       func(stan string) *iso.Message
		code      string
		decision  string // substring of the journal's decision
		card      string // ledger to check
		available int64  // expected available balance after, minor units
	}{
		{"approved sale", func(st string) *iso.Message { return sale(t, "visa-ok", 2500, st) }, "00", "approved sale 25.00", "visa-ok", 997500},
		{"missing amount", func(st string) *iso.Message { m := sale(t, "mc-ok", 2500, st); m.Amount = ""; return m }, "30", "field 4 (Amount, Transaction): missing", "mc-ok", 1000000},
		{"processing code not digits", func(st string) *iso.Message {
			m := sale(t, "mc-ok", 2500, st)
			m.ProcessingCode = "00AB00"
			return m
		}, "30", "field 3 (Processing Code): must be digits", "mc-ok", 1000000},
		{"no PAN nor track 2", func(st string) *iso.Message { m := sale(t, "mc-ok", 2500, st); m.PAN = ""; return m }, "30", "field 2", "mc-ok", 1000000},
		{"expiry month 13", func(st string) *iso.Message { m := sale(t, "mc-ok", 2500, st); m.Expiry = "3013"; return m }, "30", "field 14", "mc-ok", 1000000},
		{"missing terminal", func(st string) *iso.Message { m := sale(t, "mc-ok", 2500, st); m.TerminalID = ""; return m }, "30", "field 41", "mc-ok", 1000000},
		{"unknown merchant", func(st string) *iso.Message {
			m := sale(t, "mc-ok", 2500, st)
			m.MerchantID = "NOSUCHMERCHANT1"
			return m
		}, "03", "merchant \"NOSUCHMERCHANT1\" (DE42) is unknown", "mc-ok", 1000000},
		{"terminal not of merchant", func(st string) *iso.Message { m := sale(t, "mc-ok", 2500, st); m.TerminalID = "TERM0099"; return m }, "58", "terminal \"TERM0099\" (DE41) is not one of merchant", "mc-ok", 1000000},
		{"Luhn fails", func(st string) *iso.Message { m := sale(t, "visa-ok", 2500, st); m.PAN = "4111111111111112"; return m }, "14", "fails the Luhn check", "visa-ok", 997500},
		{"unknown card", func(st string) *iso.Message { m := sale(t, "visa-ok", 2500, st); m.PAN = "4242424242424242"; return m }, "14", "unknown to the host", "visa-ok", 997500},
		{"lost", func(st string) *iso.Message { return sale(t, "lost", 2500, st) }, "41", "reported lost", "lost", 1000000},
		{"stolen", func(st string) *iso.Message { return sale(t, "stolen", 2500, st) }, "43", "reported stolen", "stolen", 1000000},
		{"do not honour", func(st string) *iso.Message { return sale(t, "do-not-honour", 2500, st) }, "05", "do not honour", "do-not-honour", 1000000},
		{"expired", func(st string) *iso.Message { return sale(t, "expired", 2500, st) }, "54", "expired: 2001", "expired", 1000000},
		{"expired last month", func(st string) *iso.Message { m := sale(t, "mc-ok", 2500, st); m.Expiry = "2602"; return m }, "54", "2602 (YYMM) ended before the transaction date 2026-03-15", "mc-ok", 1000000},
		{"expires this month: still valid", func(st string) *iso.Message { m := sale(t, "mc-ok", 100, st); m.Expiry = "2603"; return m }, "00", "approved", "mc-ok", 999900},
		{"expiry from track 2", func(st string) *iso.Message {
			m := sale(t, "expired", 2500, st)
			m.Track2, m.PAN, m.Expiry = card(t, "expired").Track2(), "", ""
			return m
		}, "54", "expired", "expired", 1000000},
		{"keyed entry", func(st string) *iso.Message { m := sale(t, "visa-ok", 2500, st); m.EntryMode = "011"; return m }, "58", "keyed entry (DE22 011) is not accepted", "visa-ok", 997500},
		{"QR wallet", func(st string) *iso.Message { m := sale(t, "wallet-qr", 2500, st); m.EntryMode = "031"; return m }, "58", "qr entry", "wallet-qr", 1000000},
		{"unknown entry mode", func(st string) *iso.Message { m := sale(t, "visa-ok", 2500, st); m.EntryMode = "991"; return m }, "58", "entry mode 991", "visa-ok", 997500},
		{"fallback accepted", func(st string) *iso.Message { m := sale(t, "damaged-chip", 1000, st); m.EntryMode = "801"; return m }, "00", "approved", "damaged-chip", 999000},
		{"contactless accepted", func(st string) *iso.Message { m := sale(t, "unionpay-ok", 1000, st); m.EntryMode = "071"; return m }, "00", "approved", "unionpay-ok", 999000},
		{"swipe with track 2", func(st string) *iso.Message {
			m := sale(t, "unionpay-ok", 1000, st)
			m.EntryMode, m.Track2, m.PAN, m.Expiry = "901", card(t, "unionpay-ok").Track2(), "", ""
			return m
		}, "00", "approved", "unionpay-ok", 998000},
		{"amex not accepted", func(st string) *iso.Message { return sale(t, "amex", 2500, st) }, "58", "brand amex is not accepted", "amex", 1000000},
		{"amount zero", func(st string) *iso.Message { return sale(t, "mc-ok", 0, st) }, "13", "amount is zero", "mc-ok", 999900},
		{"amount over maximum", func(st string) *iso.Message { return sale(t, "mc-ok", 5000001, st) }, "13", "over the per-transaction maximum 50000.00", "mc-ok", 999900},
		{"currency mismatch", func(st string) *iso.Message { m := sale(t, "mc-ok", 2500, st); m.Currency = "840"; return m }, "13", "currency 840 (DE49) is not the merchant's currency 156", "mc-ok", 999900},
		{"correct PIN", func(st string) *iso.Message {
			m := sale(t, "mc-ok", 100, st)
			m.PINBlock = pinBlock(t, "1234", m.PAN)
			return m
		}, "00", "approved", "mc-ok", 999800},
		{"wrong PIN", func(st string) *iso.Message {
			m := sale(t, "mc-ok", 100, st)
			m.PINBlock = pinBlock(t, "9999", m.PAN)
			return m
		}, "55", "wrong PIN, try 1 of 3", "mc-ok", 999800},
		{"PIN block under another key", func(st string) *iso.Message {
			m := sale(t, "mc-ok", 100, st)
			b, err := iso.EncryptPINBlock("1234", m.PAN, []byte("0123456789abcdef"))
			if err != nil {
				t.Fatal(err)
			}
			m.PINBlock = b
			return m
		}, "55", "PIN block does not decrypt to format 0 under the test key, try 2 of 3", "mc-ok", 999800},
		{"funds: exactly the balance", func(st string) *iso.Message { return sale(t, "low-funds", 500, st) }, "00", "approved", "low-funds", 0},
		{"funds: one cent over", func(st string) *iso.Message { return sale(t, "low-funds", 1, st) }, "51", "not sufficient funds: 0.01 asked, 0.00 available", "low-funds", 0},
		{"refund credits", func(st string) *iso.Message { return refund(t, "low-funds", 300, st) }, "00", "approved refund 3.00", "low-funds", 300},
		{"balance inquiry", func(st string) *iso.Message {
			m := sale(t, "low-funds", 0, st)
			m.ProcessingCode, m.Amount = "310000", ""
			return m
		}, "00", "balance inquiry: 3.00 available", "low-funds", 300},
		{"unsupported processing code", func(st string) *iso.Message { m := sale(t, "visa-ok", 100, st); m.ProcessingCode = "400000"; return m }, "12", "processing code 400000 is not supported", "visa-ok", 997500},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := stan(100 + i)
			m := tt.msg(st)
			r := c.send(t, m)
			wantCode(t, r, tt.code)
			e := s.inEntry(t, m.MTI, st)
			if e.ResponseCode != tt.code || !strings.Contains(e.Decision, tt.decision) {
				t.Errorf("journal: code %s decision %q; want %s and %q", e.ResponseCode, e.Decision, tt.code, tt.decision)
			}
			if strings.Contains(e.Decision, m.PANOf()) && m.PANOf() != "" {
				t.Errorf("journal decision leaks the PAN: %q", e.Decision)
			}
			if b := s.balance(t, tt.card); b.Available != tt.available {
				t.Errorf("%s available = %d, want %d", tt.card, b.Available, tt.available)
			}
			if tt.code == "00" {
				if !regexp.MustCompile(`^[0-9A-Z]{6}$`).MatchString(r.AuthCode) {
					t.Errorf("DE38 = %q, want 6 characters 0-9A-Z", r.AuthCode)
				}
				if !regexp.MustCompile(`^[0-9]{12}$`).MatchString(r.RRN) {
					t.Errorf("DE37 = %q, want 12 digits", r.RRN)
				}
			} else if r.AuthCode != "" {
				t.Errorf("declined answer carries DE38 %q", r.AuthCode)
			}
		})
	}
}

func TestBalanceInquiryDE54(t *testing.T) {
	s := start(t, Options{})
	c := s.dial(t)
	wantCode(t, c.send(t, preauth(t, "visa-ok", 2000, "000001")), "00")
	m := sale(t, "visa-ok", 0, "000002")
	m.ProcessingCode, m.Amount = "310000", ""
	r := c.send(t, m)
	wantCode(t, r, "00")
	// Ledger balance 10000.00 (available 9980.00 + held 20.00), then available 9980.00.
	want := "0001156C000001000000" + "0002156C000000998000"
	if r.AdditionalAmounts != want {
		t.Errorf("DE54 = %q, want %q", r.AdditionalAmounts, want)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 998000 || b.Held != 2000 {
		t.Errorf("balance inquiry changed the ledger: %+v", b)
	}
}

func TestPINTries(t *testing.T) {
	tests := []struct {
		name  string
		pins  []string
		codes []string
	}{
		{"correct resets the count", []string{"0000", "0000", "1234", "0000", "0000"}, []string{"55", "55", "00", "55", "55"}},
		{"third wrong in a row", []string{"0000", "1111", "2222"}, []string{"55", "55", "75"}},
		{"blocked after three", []string{"0000", "0000", "0000", "1234"}, []string{"55", "55", "75", "75"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{})
			c := s.dial(t)
			for i, pin := range tt.pins {
				m := sale(t, "visa-ok", 100, stan(i+1))
				m.PINBlock = pinBlock(t, pin, m.PAN)
				if r := c.send(t, m); r.ResponseCode != tt.codes[i] {
					t.Fatalf("try %d (PIN %s): %s, want %s", i+1, pin, r.ResponseCode, tt.codes[i])
				}
			}
		})
	}
}

func TestRRNAndAuthCodeDeterministic(t *testing.T) {
	run := func(seed int64) (rrns, auths []string) {
		s := start(t, Options{Seed: seed})
		c := s.dial(t)
		for i := 1; i <= 3; i++ {
			r := c.send(t, sale(t, "visa-ok", 100, stan(i)))
			rrns, auths = append(rrns, r.RRN), append(auths, r.AuthCode)
		}
		return
	}
	r1, a1 := run(42)
	r2, a2 := run(42)
	r3, _ := run(43)
	if strings.Join(r1, ",") != strings.Join(r2, ",") || strings.Join(a1, ",") != strings.Join(a2, ",") {
		t.Errorf("same seed, different RRNs/auth codes: %v %v / %v %v", r1, a1, r2, a2)
	}
	if strings.Join(r1, ",") == strings.Join(r3, ",") {
		t.Errorf("seeds 42 and 43 give the same RRNs %v", r1)
	}
	if r1[0] == r1[1] || r1[1] == r1[2] {
		t.Errorf("RRNs repeat: %v", r1)
	}
}

func TestRequestRRNIsKept(t *testing.T) {
	s := start(t, Options{})
	c := s.dial(t)
	m := sale(t, "visa-ok", 100, "000001")
	m.RRN = "TERMRRN00001"
	if r := c.send(t, m); r.RRN != "TERMRRN00001" {
		t.Errorf("DE37 = %q, want the terminal's own", r.RRN)
	}
}

func TestUnsupportedAndNetwork(t *testing.T) {
	s := start(t, Options{})
	c := s.dial(t)
	tests := []struct {
		name string
		msg  *iso.Message
		mti  string
		code string
	}{
		{"sign-on", &iso.Message{MTI: "0800", STAN: "000001", TerminalID: "TERM0001", NetworkCode: "001"}, "0810", "00"},
		{"sign-off", &iso.Message{MTI: "0800", STAN: "000002", TerminalID: "TERM0001", NetworkCode: "002"}, "0810", "00"},
		{"echo", echo("000003"), "0810", "00"},
		{"echo repeat", func() *iso.Message { m := echo("000004"); m.MTI = "0801"; return m }(), "0810", "00"},
		{"unknown DE70", &iso.Message{MTI: "0800", STAN: "000005", TerminalID: "TERM0001", NetworkCode: "999"}, "0810", "12"},
		{"missing DE70", &iso.Message{MTI: "0800", STAN: "000006", TerminalID: "TERM0001"}, "0810", "30"},
		{"unknown terminal", &iso.Message{MTI: "0800", STAN: "000007", TerminalID: "NOSUCH01", NetworkCode: "301"}, "0810", "58"},
		{"unsupported MTI", &iso.Message{MTI: "0600", STAN: "000008", TerminalID: "TERM0001"}, "0610", "12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.send(t, tt.msg)
			if r.MTI != tt.mti {
				t.Errorf("MTI %s, want %s", r.MTI, tt.mti)
			}
			wantCode(t, r, tt.code)
		})
	}
}
