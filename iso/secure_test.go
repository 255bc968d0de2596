package iso_test

import (
	"errors"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/mac"
)

var testMAK = []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}

// TestSignAndVerifyMAC: every dialect and algorithm, DE64 and DE128; a changed byte, another
// key and another algorithm fail naming the field; DE64 before secondary fields is refused.
func TestSignAndVerifyMAC(t *testing.T) {
	for _, d := range iso.Dialects() {
		for _, a := range mac.Algorithms() {
			for name, m := range map[string]*iso.Message{"0200/DE64": sale(), "0500/DE128": {MTI: "0500", STAN: "000009", TerminalID: "TERM0001",
				Batch: "000001", DebitsNumber: "0000000002", DebitsAmount: "0000000000005000"}} {
				t.Run(d.Name+"/"+a.String()+"/"+name, func(t *testing.T) {
					m := m.Clone()
					m.Currency = "156"
					iso.RequestMAC(m)
					p, err := d.Pack(m)
					if err != nil {
						t.Fatal(err)
					}
					if err := d.SignMAC(a, testMAK, m, p); err != nil {
						t.Fatal(err)
					}
					back, err := d.Unpack(p)
					if err != nil {
						t.Fatal(err)
					}
					if err := d.VerifyMAC(a, testMAK, back, p); err != nil {
						t.Fatalf("verify: %v", err)
					}
					p[3] ^= 1 // a byte inside the MACed part
					if err := d.VerifyMAC(a, testMAK, back, p); !errors.Is(err, iso.ErrMACInvalid) {
						t.Fatalf("changed byte: %v", err)
					}
					p[3] ^= 1
					other := append([]byte(nil), testMAK...)
					other[0] ^= 2
					if err := d.VerifyMAC(a, other, back, p); !errors.Is(err, iso.ErrMACInvalid) {
						t.Fatalf("other key: %v", err)
					}
				})
			}
		}
	}
	m := &iso.Message{MTI: "0800", STAN: "000001", TerminalID: "TERM0001", NetworkCode: "301", MAC: iso.MACPlaceholder()}
	p, _ := iso.ASCII.Pack(m)
	if err := iso.ASCII.SignMAC(mac.X919, testMAK, m, p); err == nil {
		t.Fatal("DE64 before DE70 accepted")
	}
	if err := iso.ASCII.VerifyMAC(mac.X919, testMAK, &iso.Message{MTI: "0200"}, p); !errors.Is(err, iso.ErrMACMissing) {
		t.Fatalf("no MAC: %v", err)
	}
}

// BenchmarkSignVerifyMAC: the MAC work one side of an exchange does per message (sign one,
// verify the other), on a packed 0200.
func BenchmarkSignVerifyMAC(b *testing.B) {
	for _, a := range []mac.Algorithm{mac.X919, mac.CUPECB} {
		b.Run(a.String(), func(b *testing.B) {
			m := sale()
			iso.RequestMAC(m)
			p, _ := iso.ASCII.Pack(m)
			b.ReportAllocs()
			for b.Loop() {
				if err := iso.ASCII.SignMAC(a, testMAK, m, p); err != nil {
					b.Fatal(err)
				}
				if err := iso.ASCII.VerifyMAC(a, testMAK, m, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
