package acquirer

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/emv"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/pin"
)

// unwrapKeys reads DE62 of a sign-on answer as a terminal does: each key decrypted under
// the fixture's TMK of TERM0001 and checked against its check value.
func unwrapKeys(t *testing.T, r *iso.Message, netCode string) sessionKeys {
	t.Helper()
	v, ok := r.Get(62)
	if !ok {
		t.Fatalf("%s has no DE62", r.MTI)
	}
	b, _ := hex.DecodeString(v)
	kb, err := iso.ParseKeyBlock(b, netCode)
	if err != nil {
		t.Fatal(err)
	}
	tmk, _ := cards.Builtin().TMK("TERM0001")
	pik, err := keys.Unwrap(tmk, kb.PIK, kb.PIKCheck)
	if err != nil {
		t.Fatalf("PIN key: %v", err)
	}
	mak, err := keys.Unwrap(tmk, kb.MAK, kb.MAKCheck)
	if err != nil {
		t.Fatalf("MAC key: %v", err)
	}
	return sessionKeys{pik: pik, mak: mak}
}

// cupSignOn is a UnionPay 0800: the network code in DE60.3, no DE70.
func cupSignOn(stan, netCode string) *iso.Message {
	return &iso.Message{MTI: "0800", STAN: stan, TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
		Batch: iso.DE60{Type: iso.CUPTypeManagement, Batch: "000001", NetCode: netCode}.String(), Private63: "001"}
}

// TestCUPProfile: the acquirer serves the UnionPay wire: a sign-on by DE60.3, answers that
// echo DE60 and carry the message header (processing requirement 3 when request_sign_on
// fires), settlement by DE60.2, and a DE60 that names no network code answered 30 saying so.
func TestCUPProfile(t *testing.T) {
	s := start(t, Options{Dialect: iso.CUP, Framing: iso.CUPFraming})
	hdr := iso.CUPHeader{AppType: "60", Version: "31", Software: "311003"}
	var signer atomic.Pointer[keys.Key]
	c := s.dial(t, iso.WithTPDU([]byte{0x60, 0, 6, 0, 0}), iso.WithHeader(hdr.Bytes()),
		iso.WithSigner(func(m *iso.Message, p []byte) error { return iso.CUP.SignMAC(mac.CUPECB, *signer.Load(), m, p) }))

	r := c.send(t, cupSignOn(stan(1), iso.CUPNetSignOnTDES))
	wantCode(t, r, iso.RCApproved)
	h, err := iso.ParseCUPHeader(r.Header)
	if err != nil || h.Processing != iso.CUPProcNone || h.Software != "311003" {
		t.Fatalf("sign-on answer header %+v, %v", h, err)
	}
	if r.Batch != "00000001003" || r.NetworkCode != "" {
		t.Fatalf("0810 DE60 %q DE70 %q", r.Batch, r.NetworkCode)
	}

	mak := unwrapKeys(t, r, iso.CUPNetSignOnTDES).mak
	signer.Store(&mak)
	s.addRule(t, fault.Rule{Name: "rotate", Match: fault.Match{MTI: fault.StringList{"0200"}}, Action: fault.ActionRequestSignOn, Count: 1})
	m := sale(t, "unionpay-ok", 2500, stan(2))
	iso.RequestMAC(m)
	m.Batch = iso.DE60{Type: iso.CUPTypeSale, Batch: "000001", NetCode: iso.CUPNetNone}.String()
	r = c.send(t, m)
	wantCode(t, r, iso.RCApproved)
	if h, _ := iso.ParseCUPHeader(r.Header); h.Processing != iso.CUPProcSignOn {
		t.Fatalf("processing requirement %d, want 3", h.Processing)
	}
	if r.Batch != m.Batch {
		t.Fatalf("DE60 not echoed: %q", r.Batch)
	}
	if len(r.MAC) != 8 {
		t.Fatalf("answer carries no MAC")
	}
	if b := s.balance(t, "unionpay-ok"); b.Available != b.Opening-2500 {
		t.Fatalf("balance %+v", b)
	}

	bad := cupSignOn(stan(3), iso.CUPNetNone)
	bad.Batch = "0000000"
	r = c.send(t, bad)
	wantCode(t, r, iso.RCFormatError)
	if e := s.inEntry(t, "0800", stan(3)); !strings.Contains(e.Decision, "DE60.3") {
		t.Fatalf("decision %q does not name DE60.3", e.Decision)
	}

	settle := &iso.Message{MTI: "0500", STAN: stan(4), TransmissionTime: de7, TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
		ProcessingCode: "920000", Currency: "156",
		Batch: iso.DE60{Type: iso.CUPTypeManagement, Batch: "000001", NetCode: iso.CUPNetSettle}.String()}
	_ = settle.Set(48, iso.CUPTotals{Domestic: iso.CUPSideTotals{DebitAmount: 2500, DebitCount: 1}}.String())
	iso.RequestMAC(settle)
	if len(settle.MAC) != 8 || settle.MAC2 != nil {
		t.Fatal("a UnionPay settlement (totals in DE48, no secondary bitmap) has its MAC in DE64")
	}
	wantCode(t, c.send(t, settle), iso.RCApproved)
	if tx := s.txn(t, stan(2)); tx.Batch != "000001" || tx.State != StateSettled {
		t.Fatalf("settled txn %+v: batch should be DE60.2", tx)
	}
}

// TestCUPSecurity: the host's side of keys, MAC and PIN against a terminal written with the
// iso/keys, iso/mac and iso/pin packages: A0 for a missing or wrong MAC, 00 with a verified
// answer MAC, 55 for a wrong PIN, 99 for a block under another key, rotate_keys failing every
// MAC until the next sign-on, bad_mac spoiling the answer's MAC, and the ledger moving only
// for the approved sales.
func TestCUPSecurity(t *testing.T) {
	s := start(t, Options{Dialect: iso.CUP, Framing: iso.CUPFraming})
	var sk atomic.Pointer[sessionKeys]
	sk.Store(&sessionKeys{})
	c := s.dial(t,
		iso.WithSigner(func(m *iso.Message, p []byte) error { return iso.CUP.SignMAC(mac.CUPECB, sk.Load().mak, m, p) }),
		iso.WithVerifier(func(m *iso.Message, p []byte) error {
			if len(m.MAC) == 0 {
				return nil
			}
			return iso.CUP.VerifyMAC(mac.CUPECB, sk.Load().mak, m, p)
		}))
	signOn := func(st int) {
		t.Helper()
		r := c.send(t, cupSignOn(stan(st), iso.CUPNetSignOnTDES))
		wantCode(t, r, iso.RCApproved)
		k := unwrapKeys(t, r, iso.CUPNetSignOnTDES)
		sk.Store(&k)
	}
	cupSale := func(st int, amount int64, pinDigits string, pinKey []byte) *iso.Message {
		m := sale(t, "unionpay-ok", amount, stan(st))
		m.Batch = iso.DE60{Type: iso.CUPTypeSale, Batch: "000001", NetCode: iso.CUPNetNone}.String()
		if pinKey == nil {
			pinKey = sk.Load().pik
		}
		blk, err := pin.Encrypt(pinKey, pin.Format0, pinDigits, m.PAN, nil)
		if err != nil {
			t.Fatal(err)
		}
		m.PINBlock = blk
		iso.RequestMAC(m)
		return m
	}
	signOn(1)
	opening := s.balance(t, "unionpay-ok").Available

	noMAC := cupSale(2, 100, "1234", nil)
	noMAC.MAC = nil
	wantCode(t, c.send(t, noMAC), iso.RCCUPMACError)
	if e := s.inEntry(t, "0200", stan(2)); !strings.Contains(e.Decision, "sent no MAC") {
		t.Fatalf("decision %q", e.Decision)
	}
	r := c.send(t, cupSale(3, 1000, "1234", nil))
	wantCode(t, r, iso.RCApproved)
	wantCode(t, c.send(t, cupSale(4, 1000, "9999", nil)), iso.RCIncorrectPIN)
	wantCode(t, c.send(t, cupSale(5, 1000, "1234", iso.TestPINKey)), iso.RCCUPPINFormat)

	s.addRule(t, fault.Rule{Name: "keys rotate", Match: fault.Match{MTI: fault.StringList{"0200"}}, Action: fault.ActionRotateKeys, Count: 1})
	wantCode(t, c.send(t, cupSale(6, 1000, "1234", nil)), iso.RCCUPMACError)
	wantCode(t, c.send(t, cupSale(7, 1000, "1234", nil)), iso.RCCUPMACError) // still the old keys
	if e := s.inEntry(t, "0200", stan(7)); !strings.Contains(e.Decision, "MAC verification failed: field 64") {
		t.Fatalf("decision %q does not name the field", e.Decision)
	}
	signOn(8)
	wantCode(t, c.send(t, cupSale(9, 1000, "1234", nil)), iso.RCApproved)

	s.addRule(t, fault.Rule{Name: "spoilt MAC", Match: fault.Match{MTI: fault.StringList{"0200"}}, Action: fault.ActionBadMAC, Count: 1})
	_, err := c.Send(context.Background(), cupSale(10, 1000, "1234", nil), 5*time.Second)
	if !errors.Is(err, iso.ErrAnswerMAC) || !errors.Is(err, iso.ErrMACInvalid) {
		t.Fatalf("bad_mac answer: %v", err)
	}
	if got := s.balance(t, "unionpay-ok").Available; got != opening-3000 {
		t.Fatalf("balance %d, want %d (sales 3, 9 and 10 approved by the host)", got, opening-3000)
	}
}

// TestCUPChipData: in a security session the host checks DE55: a card's real ARQC is
// approved with tag 91 the card accepts; a wrong ARQC is declined 05; broken TLV lengths
// get 30 naming field 55 and the byte; every other terminal keeps being served meanwhile.
func TestCUPChipData(t *testing.T) {
	s := start(t, Options{Dialect: iso.CUP, Framing: iso.CUPFraming})
	var sk atomic.Pointer[sessionKeys]
	c := s.dial(t, iso.WithSigner(func(m *iso.Message, p []byte) error { return iso.CUP.SignMAC(mac.CUPECB, sk.Load().mak, m, p) }))
	r := c.send(t, cupSignOn(stan(1), iso.CUPNetSignOnTDES))
	k := unwrapKeys(t, r, iso.CUPNetSignOnTDES)
	sk.Store(&k)
	other := s.dial(t) // a terminal without a session: its DE55 is not checked

	ek := emv.DefaultKeys()
	cd := card(t, "unionpay-ok")
	mk, err := ek.CardKey(cd.Brand, cd.Name, cd.PAN)
	if err != nil {
		t.Fatal(err)
	}
	chipSale := func(st int, atc uint16) (*iso.Message, emv.List) {
		m := sale(t, "unionpay-ok", 1500, stan(st))
		m.Batch = iso.DE60{Type: iso.CUPTypeSale, Batch: "000001", NetCode: iso.CUPNetNone}.String()
		l, err := emv.Card{MK: mk, PSN: ek.PSN(cd.Name), ATC: atc}.Request(emv.Txn{Amount: m.Amount, Currency: "156", Country: "156",
			Date: time.Date(2026, 3, 15, 10, 30, 0, 0, time.UTC), UN: []byte{1, 2, 3, 4}})
		if err != nil {
			t.Fatal(err)
		}
		m.EMV = l.Bytes()
		iso.RequestMAC(m)
		return m, l
	}
	m, l := chipSale(2, 1)
	r = c.send(t, m)
	wantCode(t, r, iso.RCApproved)
	resp, err := emv.Parse(r.EMV)
	if err != nil {
		t.Fatalf("answer DE55: %v", err)
	}
	if d := emv.Complete(mk, l, resp, r.ResponseCode); !d.Approved || !d.IssuerAuth {
		t.Fatalf("card's second decision: %+v", d)
	}

	bad, _ := chipSale(3, 2)
	bad.EMV[3] ^= 0xFF // inside the ARQC (9F26 08 ...)
	wantCode(t, c.send(t, bad), iso.RCDoNotHonour)
	if e := s.inEntry(t, "0200", stan(3)); !strings.Contains(e.Decision, "ARQC") {
		t.Fatalf("decision %q", e.Decision)
	}

	broken, _ := chipSale(4, 3)
	broken.EMV[2] = 0x40 // the ARQC's length says 64 bytes
	wantCode(t, c.send(t, broken), iso.RCFormatError)
	if e := s.inEntry(t, "0200", stan(4)); !strings.Contains(e.Decision, "field 55") || !strings.Contains(e.Decision, "byte") {
		t.Fatalf("decision %q does not name field 55 and the byte", e.Decision)
	}
	o := sale(t, "unionpay-ok", 100, stan(5))
	o.TerminalID = "TERM0002"
	o.EMV = []byte{0x9F, 0x26, 0x40}
	wantCode(t, other.send(t, o), iso.RCApproved)
	if got := s.balance(t, "unionpay-ok"); got.Available != got.Opening-1600 {
		t.Fatalf("balance %+v: only sales 2 and 5 should be charged", got)
	}
}

// cupSettle is a UnionPay 0500: the totals in DE48 (domestic side), DE60.3 201.
func cupSettle(stan string, sales, salesAmt, refunds, refundsAmt int64) *iso.Message {
	m := &iso.Message{MTI: "0500", STAN: stan, TransmissionTime: de7, TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
		ProcessingCode: "920000", Currency: "156",
		Batch: iso.DE60{Type: iso.CUPTypeManagement, Batch: "000001", NetCode: iso.CUPNetSettle}.String()}
	_ = m.Set(48, iso.CUPTotals{Domestic: iso.CUPSideTotals{DebitCount: sales, DebitAmount: salesAmt,
		CreditCount: refunds, CreditAmount: refundsAmt, Result: iso.CUPRecAsked}}.String())
	return m
}

// cupResult reads the domestic reconciliation result of a 0510's DE48.
func cupResult(t *testing.T, r *iso.Message) iso.CUPTotals {
	t.Helper()
	v, ok := r.Get(48)
	if !ok {
		t.Fatalf("%s %s has no DE48", r.MTI, r.ResponseCode)
	}
	ct, err := iso.ParseCUPTotals(v)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// TestCUPSettlementDE48: the UnionPay host reads the totals from DE48 and answers each
// side's reconciliation result; in balance the batch settles at once, out of balance it is
// settled only by the end-of-upload 0320 (DE60.3 202, DE48 the count) after the uploads,
// and the host's books agree with the terminal's afterwards.
func TestCUPSettlementDE48(t *testing.T) {
	dial := func(t *testing.T, s *server) *client {
		return s.dial(t, iso.WithTPDU([]byte{0x60, 0, 6, 0, 0}),
			iso.WithHeader(iso.CUPHeader{AppType: "60", Version: "31", Software: "311003"}.Bytes()))
	}
	saleCUP := func(t *testing.T, c *client, st string, amt int64) {
		t.Helper()
		m := sale(t, "unionpay-ok", amt, st)
		m.Batch = iso.DE60{Type: iso.CUPTypeSale, Batch: "000001", NetCode: iso.CUPNetNone}.String()
		wantCode(t, c.send(t, m), iso.RCApproved)
	}

	t.Run("balanced", func(t *testing.T) {
		s := start(t, Options{Dialect: iso.CUP, Framing: iso.CUPFraming})
		c := dial(t, s)
		saleCUP(t, c, stan(1), 2500)
		saleCUP(t, c, stan(2), 1000)
		r := c.send(t, cupSettle(stan(3), 2, 3500, 0, 0))
		wantCode(t, r, iso.RCApproved)
		if ct := cupResult(t, r); ct.Domestic.Result != iso.CUPRecBalanced || ct.Domestic.DebitAmount != 3500 || ct.Domestic.DebitCount != 2 {
			t.Fatalf("0510 DE48 %+v, want the totals echoed with result 1", ct)
		}
		for _, st := range []string{stan(1), stan(2)} {
			if tx := s.txn(t, st); tx.State != StateSettled || tx.Batch != "000001" {
				t.Fatalf("txn %s %+v not settled in batch 000001", st, tx)
			}
		}
	})

	t.Run("unbalanced, uploaded, ended", func(t *testing.T) {
		s := start(t, Options{Dialect: iso.CUP, Framing: iso.CUPFraming})
		c := dial(t, s)
		saleCUP(t, c, stan(1), 2500)
		saleCUP(t, c, stan(2), 1000)
		// The terminal counts one sale too few.
		r := c.send(t, cupSettle(stan(3), 1, 2500, 0, 0))
		wantCode(t, r, iso.RCReconcileError)
		if ct := cupResult(t, r); ct.Domestic.Result != iso.CUPRecUnbalanced {
			t.Fatalf("0510 DE48 result %q, want 2 (out of balance)", ct.Domestic.Result)
		}
		if tx := s.txn(t, stan(1)); tx.State == StateSettled {
			t.Fatal("an out-of-balance settlement settled a transaction")
		}

		// An end of upload before any upload of a batch never reconciled is refused.
		end := func(st, batch string, n int) *iso.Message {
			m := &iso.Message{MTI: "0320", STAN: st, TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
				Batch: iso.DE60{Type: iso.CUPTypeManagement, Batch: batch, NetCode: iso.CUPNetUploadEnd}.String()}
			_ = m.Set(48, iso.CUPUploadCount(n))
			return m
		}
		wantCode(t, c.send(t, end(stan(4), "000009", 0)), iso.RCReconcileError)

		for i, amt := range []int64{2500, 1000} {
			u := &iso.Message{MTI: "0320", STAN: stan(i + 1), TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
				ProcessingCode: "000000", Amount: iso.FormatAmount(amt), Currency: "156",
				Batch: iso.DE60{Type: iso.CUPTypeManagement, Batch: "000001", NetCode: iso.CUPNetSettle}.String()}
			wantCode(t, c.send(t, u), iso.RCApproved)
			if tx := s.txn(t, stan(i+1)); tx.State == StateSettled {
				t.Fatalf("upload %d settled before the end of upload", i+1)
			}
		}
		bad := end(stan(5), "000001", 2)
		_ = bad.Set(48, "02") // n2, not the n4 count
		wantCode(t, c.send(t, bad), iso.RCFormatError)
		if e := s.inEntry(t, "0320", stan(5)); !strings.Contains(e.Decision, "field 48") {
			t.Fatalf("decision %q does not name field 48", e.Decision)
		}

		wantCode(t, c.send(t, end(stan(6), "000001", 2)), iso.RCApproved)
		for _, st := range []string{stan(1), stan(2)} {
			if tx := s.txn(t, st); tx.State != StateSettled || tx.Batch != "000001" {
				t.Fatalf("txn %s %+v not settled by the end of upload", st, tx)
			}
		}
		if b := s.balance(t, "unionpay-ok"); b.Available != b.Opening-3500 {
			t.Fatalf("ledger %+v: settling must not move money (3500 spent)", b)
		}
		// Settled: the batch is closed, a sale in it is 77 (batch out of sync).
		m := sale(t, "unionpay-ok", 100, stan(7))
		m.Batch = iso.DE60{Type: iso.CUPTypeSale, Batch: "000001", NetCode: iso.CUPNetNone}.String()
		wantCode(t, c.send(t, m), iso.RCCUPBatchOutOfSync)
	})

	t.Run("bad DE48", func(t *testing.T) {
		s := start(t, Options{Dialect: iso.CUP, Framing: iso.CUPFraming})
		c := dial(t, s)
		m := cupSettle(stan(1), 0, 0, 0, 0)
		_ = m.Set(48, "12345")
		wantCode(t, c.send(t, m), iso.RCFormatError)
		if e := s.inEntry(t, "0500", stan(1)); !strings.Contains(e.Decision, "field 48") {
			t.Fatalf("decision %q does not name field 48", e.Decision)
		}
	})
}
