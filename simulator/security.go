package simulator

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/pin"
)

// The terminal's security layer (UnionPay profile): the master key (TMK) from the profile or
// the wallet fixture; working keys from the sign-on answer's DE62, each decrypted under the
// TMK and checked against its check value, stored in the journal only when every check
// matches; requests MACed with the MAC key, answers' MACs verified; PIN blocks encrypted
// under the PIN key. Keys are keys.Key values: they never print their bytes.

// errKeyCheck marks a sign-on whose working keys did not pass their check values (or whose
// DE62 did not parse): nothing was stored.
var errKeyCheck = errors.New("working keys failed their check")

// workingKeys are the keys of the last good sign-on.
type workingKeys struct {
	pik, mak, tdk keys.Key
}

// Working key lengths a profile asks for at sign-on (Profile.WorkingKeys) and their DE60.3.
var workingKeyCodes = map[string]string{
	"single":       iso.CUPNetSignOn,
	"double":       iso.CUPNetSignOnTDES,
	"double+track": iso.CUPNetSignOnTDK,
}

// signOnCode is the DE60.3 a sign-on asks with.
func (p Profile) signOnCode() string {
	if c, ok := workingKeyCodes[p.WorkingKeys]; ok {
		return c
	}
	return iso.CUPNetSignOnTDES
}

// macAlgorithm is the profile's MAC algorithm (Validate checked the name).
func (p Profile) macAlgorithm() mac.Algorithm {
	a, _ := mac.ParseAlgorithm(p.MAC)
	return a
}

// tmk is the terminal's master key: the profile's, else the wallet fixture's for its TID.
func (t *Terminal) tmk() (keys.Key, error) {
	if t.profile.TMK != "" {
		return keys.ParseHex("tmk", t.profile.TMK)
	}
	if b, ok := t.wallet.TMK(t.profile.TID); ok {
		return b, nil
	}
	return nil, fmt.Errorf("terminal %s has no master key (profile tmk, or the fixture's tmks)", t.profile.TID)
}

// installKeys reads DE62 of an approved sign-on answer: each key decrypted under the TMK
// and checked against its check value. Only when all match are they stored (journal and
// memory). An answer without DE62 leaves the keys as they are.
func (t *Terminal) installKeys(resp *iso.Message) error {
	v, ok := resp.Get(62)
	if !ok {
		return nil
	}
	raw, err := hex.DecodeString(v)
	if err != nil {
		return fmt.Errorf("%w: DE62 is not binary", errKeyCheck)
	}
	code := t.profile.signOnCode()
	if d, err := iso.ParseDE60(resp.Batch); err == nil {
		code = d.NetCode // the host says which layout it delivered
	}
	kb, err := iso.ParseKeyBlock(raw, code)
	if err != nil {
		return fmt.Errorf("%w: %w", errKeyCheck, err)
	}
	tmk, err := t.tmk()
	if err != nil {
		return fmt.Errorf("%w: %w", errKeyCheck, err)
	}
	var wk workingKeys
	unwrap := func(name string, block, kcv []byte, dst *keys.Key) error {
		if block == nil {
			return nil
		}
		k, err := keys.Unwrap(tmk, block, kcv)
		if err != nil {
			return fmt.Errorf("%w: DE62 %s: %w", errKeyCheck, name, err)
		}
		*dst = k
		return nil
	}
	for _, k := range []struct {
		name       string
		block, kcv []byte
		dst        *keys.Key
	}{{"PIN key", kb.PIK, kb.PIKCheck, &wk.pik}, {"MAC key", kb.MAK, kb.MAKCheck, &wk.mak}, {"track key", kb.TDK, kb.TDKCheck, &wk.tdk}} {
		if err := unwrap(k.name, k.block, k.kcv, k.dst); err != nil {
			return err // the first key that fails: nothing is stored
		}
	}
	if err := t.j.tx("store working keys", func(tx *sql.Tx) error { return putKeys(tx, wk) }); err != nil {
		return err
	}
	t.mu.Lock()
	t.keys = wk
	t.mu.Unlock()
	return nil
}

// putKeys and loadKeys keep the working keys in the journal's meta table (test keys of a
// training terminal; a real one keeps them in its secure element).
func putKeys(tx *sql.Tx, wk workingKeys) error {
	for k, v := range map[string]keys.Key{"pik": wk.pik, "mak": wk.mak, "tdk": wk.tdk} {
		if _, err := tx.Exec(`INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
			"key_"+k, hex.EncodeToString(v)); err != nil {
			return err
		}
	}
	return nil
}

func (j *journal) loadKeys() (workingKeys, error) {
	var wk workingKeys
	err := j.tx("read working keys", func(tx *sql.Tx) error {
		for k, dst := range map[string]*keys.Key{"pik": &wk.pik, "mak": &wk.mak, "tdk": &wk.tdk} {
			var v string
			err := tx.QueryRow(`SELECT value FROM meta WHERE key = ?`, "key_"+k).Scan(&v)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			b, err := hex.DecodeString(v)
			if err != nil {
				return fmt.Errorf("journal key_%s is not hex", k)
			}
			if len(b) > 0 {
				*dst = b
			}
		}
		return nil
	})
	return wk, err
}

func (t *Terminal) workingKeys() workingKeys {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keys
}

// wantsMAC: requests other than network management carry a MAC when the profile names an
// algorithm and a sign-on delivered a MAC key.
func (t *Terminal) wantsMAC(m *iso.Message) bool {
	return t.macAlg != mac.None && (t.dk != nil || t.workingKeys().mak != nil) && iso.BaseMTI(m.MTI) != iso.MTINetworkRequest
}

// signMAC is the Conn's signer: under the MAC key of the last sign-on, or with DUKPT the
// request's own MAC key.
func (t *Terminal) signMAC(m *iso.Message, payload []byte) error {
	if t.dk != nil {
		k, err := t.dukptMACKey(m, false)
		if err != nil {
			return fmt.Errorf("sign MAC: %w", err)
		}
		return t.dialect.SignMAC(t.macAlg, k, m, payload)
	}
	return t.dialect.SignMAC(t.macAlg, t.workingKeys().mak, m, payload)
}

// verifyAnswerMAC is the Conn's verifier: an answer's MAC must verify under the MAC key; an
// approval must carry one once the terminal MACs (a host that stops MACing is not trusted).
func (t *Terminal) verifyAnswerMAC(m *iso.Message, payload []byte) error {
	mak := t.workingKeys().mak
	if t.dk != nil {
		mak = keys.Key{} // not nil: the answer's key is derived below
	}
	if t.macAlg == mac.None || mak == nil || iso.BaseMTI(m.MTI) == iso.MTINetworkResponse {
		return nil
	}
	if len(m.MAC) == 0 && len(m.MAC2) == 0 {
		if t.lookup(m.ResponseCode).Approved {
			return fmt.Errorf("approved answer carries no MAC: %w", iso.ErrMACMissing)
		}
		return nil
	}
	if t.dk != nil {
		k, err := t.dukptMACKey(m, true)
		if err != nil {
			return fmt.Errorf("verify MAC: %w: %w", iso.ErrMACInvalid, err)
		}
		mak = k
	}
	return t.dialect.VerifyMAC(t.macAlg, mak, m, payload)
}

// pinBlock builds DE52: under the PIN key of the last sign-on (else the fixed test key), in
// the profile's format; "clear" sends the format 0 block unencrypted for hosts that want it.
func (t *Terminal) pinBlock(pinDigits, pan string) ([]byte, error) {
	f := pin.Format0
	switch t.profile.PINFormat {
	case "3":
		f = pin.Format3
	case "clear":
		return pin.Build(pin.Format0, pinDigits, pan, nil)
	}
	key := []byte(t.workingKeys().pik)
	if key == nil {
		key = iso.TestPINKey
	}
	return pin.Encrypt(key, f, pinDigits, pan, t.rnd)
}
