package acquirer

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/pin"
)

// The security layer of the host (docs/cup.md): at a UnionPay sign-on (DE60.3 001/003/004)
// it makes new working keys for the terminal — PIN key, MAC key, track key with 004 — and
// delivers them in DE62 encrypted under the terminal's master key (the fixture's TMK) with
// 4-byte check values. From then on it verifies the MAC of the terminal's requests (A0 when
// it fails), MACs its answers, and decrypts PIN blocks under the PIN key (99 when a block
// does not decrypt to a valid format). The keys live in memory: a restarted host knows none,
// and its terminals' MACs fail until they sign on again, as in the field.

// sessionKeys are one terminal's working keys. keys.Key never prints its bytes.
type sessionKeys struct {
	pik, mak, tdk keys.Key
}

type keyring struct {
	mu    sync.Mutex
	byTID map[string]sessionKeys
	rnd   *rand.Rand // the acquirer's seed: the same run delivers the same keys
}

func newKeyring(seed int64) *keyring {
	return &keyring{byTID: map[string]sessionKeys{}, rnd: rand.New(rand.NewSource(seed ^ 0x6b657973))}
}

func (k *keyring) get(tid string) (sessionKeys, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.byTID[strings.TrimSpace(tid)]
	return s, ok
}

// newKey draws n key bytes.
func (k *keyring) newKey(n int) keys.Key {
	b := make([]byte, n)
	k.rnd.Read(b)
	return b
}

// issue makes and stores new working keys of keyLen bytes for tid.
func (k *keyring) issue(tid string, keyLen int, track bool) sessionKeys {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := sessionKeys{pik: k.newKey(keyLen), mak: k.newKey(keyLen)}
	if track {
		s.tdk = k.newKey(keyLen)
	}
	k.byTID[strings.TrimSpace(tid)] = s
	return s
}

// forget drops tid's working keys (a sign-on without key exchange).
func (k *keyring) forget(tid string) {
	k.mu.Lock()
	delete(k.byTID, strings.TrimSpace(tid))
	k.mu.Unlock()
}

// rotate replaces tid's working keys with new ones it was not told about (fault
// rotate_keys): every MAC fails until the terminal signs on again. false when tid has none.
func (k *keyring) rotate(tid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.byTID[strings.TrimSpace(tid)]
	if !ok {
		return false
	}
	s.pik, s.mak = k.newKey(len(s.pik)), k.newKey(len(s.mak))
	k.byTID[strings.TrimSpace(tid)] = s
	return true
}

// macAlgorithm is the algorithm the host verifies and computes: Options.MAC, or the
// dialect's usual one (UnionPay ECB for cup, X9.19 otherwise).
func (a *Acquirer) macAlgorithm() mac.Algorithm {
	if a.o.MAC != mac.None {
		return a.o.MAC
	}
	if a.o.Dialect == iso.CUP {
		return mac.CUPECB
	}
	return mac.X919
}

// macFailCode is the code of a MAC failure in the host's table: A0 (UnionPay), 98 (ISO).
func (a *Acquirer) macFailCode() string {
	if a.o.Dialect == iso.CUP {
		return iso.RCCUPMACError
	}
	return iso.RCMACError
}

// deliverKeys makes working keys for a sign-on with UnionPay network code netCode and
// returns DE62: each key encrypted under the terminal's TMK, followed by its check value.
func (a *Acquirer) deliverKeys(tid, netCode string) ([]byte, error) {
	keyLen, _, err := iso.KeyBlockLen(netCode)
	if err != nil {
		return nil, err
	}
	tmk, ok := a.o.Cards.TMK(strings.TrimSpace(tid))
	if !ok {
		return nil, fmt.Errorf("terminal %s has no master key (TMK) in the fixture", tid)
	}
	s := a.keys.issue(tid, keyLen, netCode == iso.CUPNetSignOnTDK)
	var kb iso.KeyBlock
	wrap := func(k keys.Key, block, kcv *[]byte) error {
		b, c, err := keys.WrapN(tmk, k, iso.KCVLen)
		*block, *kcv = b, c
		return err
	}
	if err := errors.Join(wrap(s.pik, &kb.PIK, &kb.PIKCheck), wrap(s.mak, &kb.MAK, &kb.MAKCheck)); err != nil {
		return nil, err
	}
	if s.tdk != nil {
		if err := wrap(s.tdk, &kb.TDK, &kb.TDKCheck); err != nil {
			return nil, err
		}
	}
	return kb.Bytes(), nil
}

// checkRequestMAC says why a request is refused for its MAC ("" when fine): a terminal the
// host gave working keys must MAC everything but network management, with the host's
// algorithm and its current MAC key.
func (a *Acquirer) checkRequestMAC(m *iso.Message, payload []byte) string {
	s, ok := a.keys.get(m.TerminalID)
	hasMAC := len(m.MAC) > 0 || len(m.MAC2) > 0
	switch {
	case iso.BaseMTI(m.MTI) == iso.MTINetworkRequest && !hasMAC:
		return ""
	case !ok && !hasMAC:
		return ""
	case !ok:
		return fmt.Sprintf("MAC verification failed: terminal %s has no working keys (not signed on since the host started)", strings.TrimSpace(m.TerminalID))
	case !hasMAC:
		return "MAC verification failed: the terminal signed on with working keys but sent no MAC (DE64)"
	}
	if err := a.o.Dialect.VerifyMAC(a.macAlgorithm(), s.mak, m, payload); err != nil {
		return "MAC verification failed: " + err.Error()
	}
	return ""
}

// signAnswer is the Conn's signer: the MAC of an answer under the terminal's MAC key.
func (a *Acquirer) signAnswer(m *iso.Message, payload []byte) error {
	if ok, err := a.signDUKPTAnswer(m, payload); ok {
		return err
	}
	s, ok := a.keys.get(m.TerminalID)
	if !ok {
		return fmt.Errorf("answer MAC: terminal %s has no working keys", strings.TrimSpace(m.TerminalID))
	}
	return a.o.Dialect.SignMAC(a.macAlgorithm(), s.mak, m, payload)
}

// wantsAnswerMAC: an answer carries a MAC when its request did and the host still has the
// terminal's keys; never on a MAC failure (the host could not trust the request's keys).
func (a *Acquirer) wantsAnswerMAC(ex *exchange) bool {
	if ex.resp == nil || (len(ex.req.MAC) == 0 && len(ex.req.MAC2) == 0) || ex.code == a.macFailCode() {
		return false
	}
	if r, err := a.dukptOf(ex.req); err == nil && r != nil {
		return ex.code != a.securityFailCode()
	}
	_, ok := a.keys.get(ex.req.TerminalID)
	return ok
}

// pinKey is the key DE52 is decrypted with: the terminal's PIN key after a key-exchange
// sign-on, else the fixed test key.
func (a *Acquirer) pinKey(tid string) []byte {
	if s, ok := a.keys.get(tid); ok {
		return s.pik
	}
	return iso.TestPINKey
}

// pinFormatCode is the code for a PIN block that does not decrypt to a valid format: 99 in
// the UnionPay table; "" elsewhere (it counts as a wrong PIN, 55).
func (a *Acquirer) pinFormatCode() string {
	if a.o.Dialect == iso.CUP {
		return iso.RCCUPPINFormat
	}
	return ""
}

// isPINFormat reports a PIN block format error.
func isPINFormat(err error) bool { return errors.Is(err, pin.ErrFormat) }

// badMAC flips the MAC's last byte in a framed answer (fault bad_mac): the answer arrives
// whole but its MAC does not verify.
func badMAC(frame []byte) {
	if len(frame) > 0 {
		frame[len(frame)-1] ^= 0x5A
	}
}

// faultRotatesKeys performs rotate_keys when it fires: before the request's MAC is checked.
func (a *Acquirer) faultRotatesKeys(f *fault.Firing, tid string) {
	if f != nil && f.Action == fault.ActionRotateKeys {
		a.keys.rotate(tid)
	}
}

// pinDecrypter is how a request's PIN block is opened: under the request's DUKPT PIN key,
// else the terminal's PIN key (or the fixed test key).
func (a *Acquirer) pinDecrypter(m *iso.Message) func() (string, error) {
	return func() (string, error) {
		if p, ok, err := a.dukptPIN(m); ok {
			return p, err
		}
		return iso.DecryptPINBlock(m.PINBlock, m.PANOf(), a.pinKey(m.TerminalID))
	}
}
