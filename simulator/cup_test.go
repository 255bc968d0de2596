package simulator_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/simulator"
)

// TestSignOnChecksTheKeyBlock: the terminal unwraps DE62 under its TMK and stores the keys
// only when every check value matches; a bad check value or a key block of the wrong length
// fails the sign-on with key_check_failed, naming the key (and the byte, for a short block).
func TestSignOnChecksTheKeyBlock(t *testing.T) {
	tmk, _ := cards.Builtin().TMK("TERM0001")
	pik := bytes.Repeat([]byte{0x11, 0x22}, 8)
	mak := bytes.Repeat([]byte{0x33, 0x44}, 8)
	block := func() iso.KeyBlock {
		var kb iso.KeyBlock
		kb.PIK, kb.PIKCheck, _ = keys.WrapN(tmk, pik, iso.KCVLen)
		kb.MAK, kb.MAKCheck, _ = keys.WrapN(tmk, mak, iso.KCVLen)
		return kb
	}
	for _, tc := range []struct {
		name   string
		de62   func() []byte
		ok     bool
		detail string
	}{
		{"good", func() []byte { return block().Bytes() }, true, ""},
		{"bad MAC key check value", func() []byte { kb := block(); kb.MAKCheck[0] ^= 1; return kb.Bytes() }, false, "DE62 MAC key: unwrap key: key check value mismatch"},
		{"short key block", func() []byte { return block().Bytes()[:30] }, false, "DE62 MAC key, byte 20: expected 16 bytes, found 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(n int, m *iso.Message) act {
				if m.MTI != iso.MTINetworkRequest {
					return act{}
				}
				return act{edit: func(resp *iso.Message) { _ = resp.Set(62, strings.ToUpper(hex.EncodeToString(tc.de62()))) }}
			}, withProfile(func(p *simulator.Profile) { *p, _ = simulator.PresetProfile(simulator.PresetCUP) }))
			opts := []iso.ConnOption{iso.WithDialect(iso.CUP), iso.WithFraming(iso.CUPFraming)}
			r.host.connOpts.Store(&opts)
			out := r.term.SignOn(r.ctx)
			snap := r.term.Snapshot()
			if tc.ok {
				if out.Kind != simulator.KindApproved || !snap.SignedOn {
					t.Fatalf("sign-on %s (%v), signed on %v", out.Kind, out.Err, snap.SignedOn)
				}
				return
			}
			if out.Guidance != iso.GuidanceKeyCheckFailed || snap.SignedOn {
				t.Fatalf("sign-on %s guidance %s, signed on %v: %v", out.Kind, out.Guidance, snap.SignedOn, out.Err)
			}
			var detail string
			for _, e := range out.Events {
				if e.Kind == simulator.EventSignOnFailed {
					detail = e.Detail
				}
			}
			if !strings.Contains(detail, tc.detail) {
				t.Fatalf("sign_on_failed detail %q, want %q", detail, tc.detail)
			}
			for _, leak := range []string{hex.EncodeToString(pik), strings.ToUpper(hex.EncodeToString(mak))} {
				if strings.Contains(strings.ToUpper(detail), strings.ToUpper(leak)) || strings.Contains(out.Err.Error(), leak) {
					t.Fatalf("a working key is printed: %q", detail)
				}
			}
		})
	}
}

// TestCUPSettlementDE48: a UnionPay terminal sends its totals in DE48, not DE74-DE88. A host
// that answers 00 with DE48 "balanced" settles the batch; one that answers 00 with DE48 "out
// of balance" (as real CUP hosts do) gets every counted transaction uploaded, then the
// end-of-upload 0320 (DE60.3 202, DE48 the count), whose answer ends the settlement.
func TestCUPSettlementDE48(t *testing.T) {
	cupRig := func(t *testing.T, result string) *rig {
		r := newRig(t, func(n int, m *iso.Message) act {
			if m.MTI != iso.MTISettlement {
				return act{}
			}
			return act{edit: func(resp *iso.Message) {
				v, _ := m.Get(48)
				ct, err := iso.ParseCUPTotals(v)
				if err != nil {
					t.Errorf("0500 DE48: %v", err)
				}
				ct.Domestic.Result, ct.Foreign.Result = result, result
				_ = resp.Set(48, ct.String())
			}}
		}, withProfile(func(p *simulator.Profile) {
			*p, _ = simulator.PresetProfile(simulator.PresetCUP)
			p.MAC, p.EMV = "none", false // the scripted host has no keys (its sign-on answer carries none)
		}))
		opts := []iso.ConnOption{iso.WithDialect(iso.CUP), iso.WithFraming(iso.CUPFraming)}
		r.host.connOpts.Store(&opts)
		return r
	}
	day := func(r *rig) {
		r.term.Sale(r.ctx, simulator.Payment{Card: "unionpay-ok", Amount: 1000, PIN: "1234"})
		r.term.Sale(r.ctx, simulator.Payment{Card: "unionpay-ok", Amount: 2000, PIN: "1234"})
		r.term.Refund(r.ctx, simulator.Payment{Card: "unionpay-ok", Amount: 300, PIN: "1234"})
	}
	t.Run("balanced", func(t *testing.T) {
		r := cupRig(t, iso.CUPRecBalanced)
		day(r)
		out := r.term.Settle(r.ctx)
		if out.Kind != simulator.KindSettled {
			t.Fatalf("settle %s (%v)\n%s", out.Kind, out.Err, trace(out.Events))
		}
		m := r.host.received("0500")[0]
		v, _ := m.Get(48)
		want := iso.CUPTotals{Domestic: iso.CUPSideTotals{DebitAmount: 3000, DebitCount: 2, CreditAmount: 300, CreditCount: 1, Result: iso.CUPRecAsked}}
		if v != want.String() || m.DebitsNumber != "" || m.CreditsAmount != "" {
			t.Fatalf("0500 DE48 %q DE76 %q DE86 %q, want DE48 %q and no DE74-88", v, m.DebitsNumber, m.CreditsAmount, want.String())
		}
		if len(r.host.received("0320")) != 0 || r.term.Snapshot().Batch != "000002" {
			t.Fatalf("requests %v, batch %s", r.host.requests(), r.term.Snapshot().Batch)
		}
	})
	t.Run("out of balance", func(t *testing.T) {
		r := cupRig(t, iso.CUPRecUnbalanced)
		day(r)
		out := r.term.Settle(r.ctx)
		if out.Kind != simulator.KindSettled {
			t.Fatalf("settle %s (%v)\n%s", out.Kind, out.Err, trace(out.Events))
		}
		ups := r.host.received("0320")
		if len(ups) != 4 {
			t.Fatalf("requests %v: want 3 uploads and the end of upload", r.host.requests())
		}
		for _, u := range ups[:3] {
			if d, _ := iso.ParseDE60(u.Batch); d.NetCode != iso.CUPNetSettle || d.Batch != "000001" {
				t.Errorf("upload %s DE60 %q", u.STAN, u.Batch)
			}
		}
		end := ups[3]
		d, _ := iso.ParseDE60(end.Batch)
		n, _ := end.Get(48)
		if d.NetCode != iso.CUPNetUploadEnd || d.Batch != "000001" || n != "0003" {
			t.Fatalf("end of upload DE60 %q DE48 %q, want 202 and 0003", end.Batch, n)
		}
		if len(r.host.received("0500")) != 1 || r.term.Snapshot().Batch != "000002" {
			t.Fatalf("requests %v, batch %s: the end of upload ends the settlement", r.host.requests(), r.term.Snapshot().Batch)
		}
	})
}
