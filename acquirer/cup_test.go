package acquirer

import (
	"strings"
	"testing"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
)

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
	c := s.dial(t, iso.WithTPDU([]byte{0x60, 0, 6, 0, 0}), iso.WithHeader(hdr.Bytes()))

	r := c.send(t, cupSignOn(stan(1), iso.CUPNetSignOnTDES))
	wantCode(t, r, iso.RCApproved)
	h, err := iso.ParseCUPHeader(r.Header)
	if err != nil || h.Processing != iso.CUPProcNone || h.Software != "311003" {
		t.Fatalf("sign-on answer header %+v, %v", h, err)
	}
	if r.Batch != "00000001003" || r.NetworkCode != "" {
		t.Fatalf("0810 DE60 %q DE70 %q", r.Batch, r.NetworkCode)
	}

	s.addRule(t, fault.Rule{Name: "rotate", Match: fault.Match{MTI: fault.StringList{"0200"}}, Action: fault.ActionRequestSignOn, Count: 1})
	m := sale(t, "unionpay-ok", 2500, stan(2))
	m.Batch = iso.DE60{Type: iso.CUPTypeSale, Batch: "000001", NetCode: iso.CUPNetNone}.String()
	r = c.send(t, m)
	wantCode(t, r, iso.RCApproved)
	if h, _ := iso.ParseCUPHeader(r.Header); h.Processing != iso.CUPProcSignOn {
		t.Fatalf("processing requirement %d, want 3", h.Processing)
	}
	if r.Batch != m.Batch {
		t.Fatalf("DE60 not echoed: %q", r.Batch)
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
		Batch:        iso.DE60{Type: iso.CUPTypeManagement, Batch: "000001", NetCode: iso.CUPNetSettle}.String(),
		DebitsNumber: "0000000001", DebitsAmount: "0000000000002500", CreditsNumber: "0000000000", CreditsAmount: "0000000000000000"}
	wantCode(t, c.send(t, settle), iso.RCApproved)
	if tx := s.txn(t, stan(2)); tx.Batch != "000001" || tx.State != StateSettled {
		t.Fatalf("settled txn %+v: batch should be DE60.2", tx)
	}
}
