package acquirer

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/dukpt"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/pin"
)

// The published sample BDKs of the built-in fixture (X9.24-1 Annex A, X9.24-3 vectors).
var (
	sampleTDESBDK, _ = hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")
	sampleAESBDK, _  = hex.DecodeString("FEDCBA9876543210F1F1F1F1F1F1F1F1")
)

func ksnAt(t *testing.T, base string, c uint32) []byte {
	t.Helper()
	k, err := dukpt.ParseKSN(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(k) == dukpt.AESKSNLen {
		k[8], k[9], k[10], k[11] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
		return k
	}
	k, err = dukpt.WithCounter(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDUKPTHost drives the host as a DUKPT terminal would, with keys derived here from the
// published sample BDK: approvals with the PIN and MAC of each KSN, the answer echoing the
// KSN and MACed under the MAC response key; a wrong PIN 55; a message changed after its MAC
// was computed gets the MAC failure code of the dialect's table (98 ISO, A0 UnionPay) and
// does not use up its counter; a counter the device already used is refused as a replay
// (96 ISO, A7 UnionPay) unless it is a repeat (0201) of the last one; a KSN of no BDK in the
// fixture is refused the same way.
func TestDUKPTHost(t *testing.T) {
	for _, tc := range []struct {
		name             string
		dialect          *iso.Dialect
		framing          iso.Framing
		macFail, secFail string
	}{
		{"iso", iso.ASCII, iso.DefaultFraming, iso.RCMACError, iso.RCSystemMalfunction},
		{"cup", iso.CUP, iso.CUPFraming, iso.RCCUPMACError, iso.RCCUPSecurity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{Dialect: tc.dialect, Framing: tc.framing})
			var cur atomic.Pointer[[]byte]
			var tamper atomic.Bool
			c := s.dial(t,
				iso.WithSigner(func(m *iso.Message, p []byte) error {
					ksn := *cur.Load()
					k, err := dukpt.DeriveKey(sampleTDESBDK, ksn, dukpt.MACRequest)
					if err != nil {
						return err
					}
					if err := tc.dialect.SignMAC(mac.X919, k, m, p); err != nil {
						return err
					}
					if tamper.Load() {
						amt := []byte(m.Amount)
						if tc.dialect == iso.CUP {
							amt, _ = hex.DecodeString(m.Amount)
						}
						i := bytes.Index(p, amt)
						if i < 0 {
							t.Error("amount not found in the payload")
							return nil
						}
						p[i+len(amt)-1] ^= 0x01 // the amount changes after the MAC was computed
					}
					return nil
				}),
				iso.WithVerifier(func(m *iso.Message, p []byte) error {
					if len(m.MAC) == 0 {
						return nil
					}
					ksn, err := iso.KSNOf(m, iso.DefaultKSNField)
					if err != nil || !bytes.Equal(ksn, *cur.Load()) {
						return errors.New("the answer does not echo the request's KSN")
					}
					k, err := dukpt.DeriveKey(sampleTDESBDK, ksn, dukpt.MACResponse)
					if err != nil {
						return err
					}
					return tc.dialect.VerifyMAC(mac.X919, k, m, p)
				}))
			req := func(st int, counter uint32, pinDigits string) *iso.Message {
				t.Helper()
				ksn := ksnAt(t, "FFFF9876543210E00000", counter)
				cur.Store(&ksn)
				m := sale(t, "visa-ok", 1357, stan(st))
				if tc.dialect == iso.CUP {
					m.Batch = iso.DE60{Type: iso.CUPTypeSale, Batch: "000001", NetCode: iso.CUPNetNone}.String()
				}
				k, err := dukpt.DeriveKey(sampleTDESBDK, ksn, dukpt.PIN)
				if err != nil {
					t.Fatal(err)
				}
				if m.PINBlock, err = pin.Encrypt(k, pin.Format0, pinDigits, m.PAN, nil); err != nil {
					t.Fatal(err)
				}
				if err := iso.SetKSN(m, iso.DefaultKSNField, ksn); err != nil {
					t.Fatal(err)
				}
				iso.RequestMAC(m)
				return m
			}

			r := c.send(t, req(1, 1, "1234"))
			if r.ResponseCode != iso.RCApproved {
				t.Log(s.inEntry(t, "0200", stan(1)).Decision)
			}
			wantCode(t, r, iso.RCApproved)
			if len(r.MAC) == 0 {
				t.Fatal("approval without a MAC")
			}
			wantCode(t, c.send(t, req(2, 2, "9999")), iso.RCIncorrectPIN)

			tamper.Store(true)
			wantCode(t, c.send(t, req(3, 3, "1234")), tc.macFail)
			tamper.Store(false)
			if e := s.inEntry(t, "0200", stan(3)); !strings.Contains(e.Decision, "MAC verification failed (DUKPT KSN FFFF9876543210E00003)") {
				t.Fatalf("decision %q", e.Decision)
			}
			wantCode(t, c.send(t, req(4, 3, "1234")), iso.RCApproved) // counter 3 was not used up

			wantCode(t, c.send(t, req(5, 2, "1234")), tc.secFail)
			if e := s.inEntry(t, "0200", stan(5)); !strings.Contains(e.Decision, "replayed: counter 2, the device already used 3") {
				t.Fatalf("decision %q", e.Decision)
			}
			wantCode(t, c.send(t, req(6, 3, "1234")), tc.secFail) // the last counter again, not a repeat
			rep := req(4, 3, "1234")
			rep.MTI = iso.RepeatMTI(rep.MTI)
			wantCode(t, c.send(t, rep), iso.RCApproved) // a repeat of the last request is answered

			// A KSN of no BDK in the fixture.
			other := req(7, 1, "1234")
			unknown, _ := dukpt.ParseKSN("AAAA9876543210E00001")
			_ = iso.SetKSN(other, iso.DefaultKSNField, unknown)
			other.MAC = nil
			wantCode(t, c.send(t, other), tc.secFail)
			if e := s.inEntry(t, "0200", stan(7)); !strings.Contains(e.Decision, "no BDK in the fixture for KSN AAAA9876543210E00001") {
				t.Fatalf("decision %q", e.Decision)
			}
		})
	}
}

// TestDUKPTHostAES: an AES DUKPT request (X9.24-3 sample BDK and initial key ID): the format 4
// PIN block in DE110 under the PIN encryption key, an AES-CMAC under the MAC generation key;
// the answer's CMAC is under the MAC verification key. A wrong PIN is 55.
func TestDUKPTHostAES(t *testing.T) {
	s := start(t, Options{})
	var cur atomic.Pointer[[]byte]
	c := s.dial(t,
		iso.WithSigner(func(m *iso.Message, p []byte) error {
			k, err := dukpt.AESHostKey(sampleAESBDK, *cur.Load(), dukpt.MACGeneration, dukpt.AES128)
			if err != nil {
				return err
			}
			return iso.ASCII.SignMAC(mac.AESCMAC, k, m, p)
		}),
		iso.WithVerifier(func(m *iso.Message, p []byte) error {
			k, err := dukpt.AESHostKey(sampleAESBDK, *cur.Load(), dukpt.MACVerification, dukpt.AES128)
			if err != nil {
				return err
			}
			return iso.ASCII.VerifyMAC(mac.AESCMAC, k, m, p)
		}))
	req := func(st int, counter uint32, pinDigits string) *iso.Message {
		t.Helper()
		ksn := ksnAt(t, "123456789012345600000000", counter)
		cur.Store(&ksn)
		m := sale(t, "visa-ok", 2000, stan(st))
		k, err := dukpt.AESHostKey(sampleAESBDK, ksn, dukpt.PINEncryption, dukpt.AES128)
		if err != nil {
			t.Fatal(err)
		}
		blk, err := pin.EncryptAES(k, pinDigits, m.PAN, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = m.Set(iso.AESPINField, hex.EncodeToString(blk))
		_ = iso.SetKSN(m, iso.DefaultKSNField, ksn)
		iso.RequestMAC(m)
		return m
	}
	r, err := c.Send(context.Background(), req(1, 1, "1234"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, r, iso.RCApproved)
	if len(r.MAC) == 0 && len(r.MAC2) == 0 {
		t.Fatal("approval without a MAC")
	}
	wantCode(t, c.send(t, req(2, 2, "4321")), iso.RCIncorrectPIN)
	if _, _, ok := cards.Builtin().BDK(ksnAt(t, "123456789012345600000000", 1)); !ok {
		t.Fatal("the built-in fixture has no AES BDK")
	}
}
