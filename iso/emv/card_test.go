package emv_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso/emv"
)

func testTxn() emv.Txn {
	return emv.Txn{Amount: "2500", Currency: "156", Country: "156", Date: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC),
		UN: []byte{0xA1, 0xB2, 0xC3, 0xD4}}
}

// The whole chip round: card asks (ARQC), host verifies and answers tag 91, card completes.
func TestCardHostRound(t *testing.T) {
	k := emv.DefaultKeys()
	mk, err := k.CardKey("unionpay", "unionpay-ok", "6212345678901265")
	if err != nil {
		t.Fatal(err)
	}
	card := emv.Card{MK: mk, PSN: k.PSN("unionpay-ok"), ATC: 0x001C}
	req, err := card.Request(testTxn())
	if err != nil {
		t.Fatal(err)
	}
	// On the wire and back, as DE55 travels.
	wire := req.Bytes()
	req, err = emv.Parse(wire)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []emv.Tag{emv.TagAC, emv.TagCID, emv.TagIAD, emv.TagUN, emv.TagATC, emv.TagTVR, emv.TagTxnDate,
		emv.TagTxnType, emv.TagAmount, emv.TagCurrency, emv.TagAIP, emv.TagCountry} {
		if _, ok := req.Find(tag); !ok {
			t.Errorf("request lacks %s %s", tag, tag.Name())
		}
	}
	if got := req.Value(emv.TagAmount); !bytes.Equal(got, []byte{0, 0, 0, 0, 0x25, 0x00}) {
		t.Errorf("9F02 = %X", got)
	}
	if got := req.Value(emv.TagTxnDate); !bytes.Equal(got, []byte{0x26, 0x12, 0x05}) {
		t.Errorf("9A = %X", got)
	}
	again, _ := card.Request(testTxn())
	if !bytes.Equal(again.Bytes(), wire) {
		t.Error("same inputs, different chip data")
	}

	resp, err := emv.Respond(mk, req, "00")
	if err != nil {
		t.Fatal(err)
	}
	d := emv.Complete(mk, req, resp, "00")
	if !d.Approved || d.CID != emv.CIDTC || !d.IssuerAuth {
		t.Fatalf("decision %+v", d)
	}

	t.Run("with an issuer script", func(t *testing.T) {
		r, err := emv.Respond(mk, req, "00", emv.IssuerScript(emv.TagIssuerScript2, 1, []byte{0x84, 0x24, 0x00, 0x00, 0x08}))
		if err != nil || len(r) != 2 {
			t.Fatalf("%v %v", r, err)
		}
		back, err := emv.Parse(r.Bytes())
		if err != nil || len(back.Value(0x86)) != 5 || !strings.Contains(back.String(), "72 Issuer Script Template 2") {
			t.Fatalf("%v %v", back, err)
		}
	})

	declines := []struct {
		name     string
		resp     emv.List
		hostCode string
		reason   string
	}{
		{"host declined", resp, "51", "host declined (51)"},
		{"no tag 91", emv.List{}, "00", "no issuer authentication data"},
		{"tag 91 corrupted", emv.List{{Tag: emv.TagIssuerAuth, Value: flip(resp.Value(emv.TagIssuerAuth))}}, "00", "issuer authentication failed"},
		{"tag 91 short", emv.List{{Tag: emv.TagIssuerAuth, Value: resp.Value(emv.TagIssuerAuth)[:8]}}, "00", "tag 91 is 8 bytes"},
	}
	for _, tt := range declines {
		t.Run(tt.name, func(t *testing.T) {
			d := emv.Complete(mk, req, tt.resp, tt.hostCode)
			if d.Approved || d.CID != emv.CIDAAC || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("decision %+v, want AAC with %q", d, tt.reason)
			}
		})
	}

	t.Run("host with another card key", func(t *testing.T) {
		other, _ := emv.MasterKeyA(emv.TestIMK, "6212345678901265", "00")
		if _, err := emv.Respond(other, req, "00"); !errors.Is(err, emv.ErrARQC) {
			t.Fatalf("err = %v", err)
		}
	})
}

func flip(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[3] ^= 0x10
	return c
}

func TestCardRequestErrors(t *testing.T) {
	mk, _ := emv.MasterKeyA(emv.TestIMK, "4111111111111111", "00")
	card := emv.Card{MK: mk, ATC: 1}
	tests := []struct {
		name   string
		change func(*emv.Txn)
		msg    string
	}{
		{"amount not digits", func(x *emv.Txn) { x.Amount = "25.00" }, "amount (9F02)"},
		{"amount too long", func(x *emv.Txn) { x.Amount = "1234567890123" }, "up to 12 digits"},
		{"currency", func(x *emv.Txn) { x.Currency = "CNY" }, "currency (5F2A)"},
		{"no UN", func(x *emv.Txn) { x.UN = nil }, "9F37"},
		{"no date", func(x *emv.Txn) { x.Date = time.Time{} }, "date (9A)"},
		{"short TVR", func(x *emv.Txn) { x.TVR = []byte{0} }, "TVR (95)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := testTxn()
			tt.change(&x)
			if _, err := card.Request(x); err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %q", err, tt.msg)
			}
		})
	}
	if _, err := (emv.Card{MK: mk[:8], ATC: 1}).Request(testTxn()); err == nil {
		t.Fatal("8-byte card key accepted")
	}
}
