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
