package acquirer

import (
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/dukpt"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/pin"
)

// DUKPT at the host (docs/cup.md "DUKPT"): a request carrying a KSN (Options.KSNField,
// default DE53) is a DUKPT terminal's. The host finds the base derivation key whose id
// starts the KSN in the card fixture (bdks), derives that transaction's keys, refuses a
// counter it has already seen for the device (a replay), verifies the MAC with the MAC
// request key (TDES X9.19 / the host's algorithm; AES: CMAC with the MAC generation key),
// decrypts the PIN block with the PIN key (format 0 in DE52; AES format 4 in DE110) and MACs
// its answer with the MAC response key, echoing the KSN. The highest counter per device is
// checked in memory and stored (dukpt_counters) in the same transaction as the accepted
// request's journal line, and loaded when the host starts, so a restart forgets no device.

// dukptCounters is the highest counter the host accepted per device (KSN without counter).
type dukptCounters struct {
	mu   sync.Mutex
	high map[string]uint32
}

// dukptReq is what a DUKPT request's KSN tells the host.
type dukptReq struct {
	ksn     []byte
	aes     bool
	bdk     []byte
	device  string
	counter uint32
}

func (a *Acquirer) ksnField() int {
	if a.o.KSNField > 0 {
		return a.o.KSNField
	}
	return iso.DefaultKSNField
}

// dukptOf reads a request's KSN: nil, nil for a request without one.
func (a *Acquirer) dukptOf(m *iso.Message) (*dukptReq, error) {
	ksn, err := iso.KSNOf(m, a.ksnField())
	if err != nil || ksn == nil {
		return nil, err
	}
	f := a.ksnField()
	bdk, scheme, ok := a.o.Cards.BDK(ksn)
	if !ok {
		return nil, fmt.Errorf("field %d: no BDK in the fixture for KSN %s", f, dukpt.FormatKSN(ksn))
	}
	r := &dukptReq{ksn: ksn, aes: scheme == "aes", bdk: bdk}
	if want := map[bool]int{true: dukpt.AESKSNLen, false: dukpt.KSNLen}[r.aes]; len(ksn) != want {
		return nil, fmt.Errorf("field %d: a %s KSN is %d bytes, got %d", f, scheme, want, len(ksn))
	}
	if r.device, r.counter, err = dukpt.Device(ksn); err != nil {
		return nil, fmt.Errorf("field %d: %w", f, err)
	}
	return r, nil
}

// key derives a working key of the request's transaction.
func (r *dukptReq) key(tdes dukpt.Usage, aes dukpt.KeyUsage) (keys.Key, error) {
	if r.aes {
		return dukpt.AESHostKey(r.bdk, r.ksn, aes, dukpt.AES128)
	}
	return dukpt.DeriveKey(r.bdk, r.ksn, tdes)
}

// dukptMACAlgorithm: AES-CMAC for AES DUKPT; for TDES the host's Options.MAC when set,
// else X9.19 (the retail MAC DUKPT PIN pads compute), whatever the dialect's usual one.
func (a *Acquirer) dukptMACAlgorithm(r *dukptReq) mac.Algorithm {
	switch {
	case r.aes:
		return mac.AESCMAC
	case a.o.MAC != mac.None:
		return a.o.MAC
	}
	return mac.X919
}

// securityFailCode answers a DUKPT request the host cannot trust (replayed counter, no BDK):
// A7 "security processing failed" in the UnionPay table, 96 (system malfunction) in ISO's.
func (a *Acquirer) securityFailCode() string {
	if a.o.Dialect == iso.CUP {
		return iso.RCCUPSecurity
	}
	return iso.RCSystemMalfunction
}

// checkDUKPT decides a DUKPT request's security before it is processed: handled is false
// for a request without a KSN (the master/session key path applies). A replay — a counter
// not above the highest accepted for the device, except a repeat (xxx1) of the last one —
// or an unknown BDK is refused with securityFailCode; a MAC that does not verify with the
// host's MAC failure code. The counter is recorded only once the MAC verified.
func (a *Acquirer) checkDUKPT(m *iso.Message, payload []byte) (handled bool, reject *rejection) {
	r, err := a.dukptOf(m)
	switch {
	case err != nil:
		return true, &rejection{a.securityFailCode(), "DUKPT: " + err.Error()}
	case r == nil:
		return false, nil
	}
	a.dukpt.mu.Lock()
	defer a.dukpt.mu.Unlock()
	if high, seen := a.dukpt.high[r.device]; seen && (r.counter < high || (r.counter == high && !iso.IsRepeat(m.MTI))) {
		return true, &rejection{a.securityFailCode(), fmt.Sprintf("DUKPT: KSN %s replayed: counter %d, the device already used %d",
			dukpt.FormatKSN(r.ksn), r.counter, high)}
	}
	if len(m.MAC) > 0 || len(m.MAC2) > 0 {
		k, err := r.key(dukpt.MACRequest, dukpt.MACGeneration)
		if err != nil {
			return true, &rejection{a.securityFailCode(), "DUKPT MAC key: " + err.Error()}
		}
		if err := a.o.Dialect.VerifyMAC(a.dukptMACAlgorithm(r), k, m, payload); err != nil {
			return true, &rejection{a.macFailCode(), "MAC verification failed (DUKPT KSN " + dukpt.FormatKSN(r.ksn) + "): " + err.Error()}
		}
	}
	if r.counter > a.dukpt.high[r.device] {
		a.dukpt.high[r.device] = r.counter
	}
	return true, nil
}

// dukptPIN decrypts a DUKPT request's PIN block (ok false: not a DUKPT request).
func (a *Acquirer) dukptPIN(m *iso.Message) (pinDigits string, ok bool, err error) {
	r, err := a.dukptOf(m)
	if err != nil || r == nil {
		return "", err != nil || r != nil, err
	}
	k, err := r.key(dukpt.PIN, dukpt.PINEncryption)
	if err != nil {
		return "", true, err
	}
	if r.aes {
		v, _ := m.Get(iso.AESPINField)
		block, err := hex.DecodeString(v)
		if err != nil {
			return "", true, fmt.Errorf("field %d (AES PIN block): not hex: %w", iso.AESPINField, pin.ErrFormat)
		}
		p, err := pin.DecryptAES(k, block, m.PANOf())
		return p, true, err
	}
	p, _, err := pin.Decrypt(k, m.PINBlock, m.PANOf())
	return p, true, err
}

// signDUKPTAnswer MACs an answer with the MAC response key of the KSN it echoes (ok false:
// not a DUKPT answer).
func (a *Acquirer) signDUKPTAnswer(m *iso.Message, payload []byte) (ok bool, err error) {
	r, err := a.dukptOf(m)
	if err != nil || r == nil {
		return err != nil || r != nil, err
	}
	k, err := r.key(dukpt.MACResponse, dukpt.MACVerification)
	if err != nil {
		return true, err
	}
	return true, a.o.Dialect.SignMAC(a.dukptMACAlgorithm(r), k, m, payload)
}
