package simulator

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/dukpt"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/pin"
)

// DUKPT, the key scheme of international terminals (docs/cup.md "DUKPT"): no key exchange
// at sign-on; every request gets the next key serial number (KSN), persisted in the journal
// before the request can go out so that a restart never uses a counter twice, and its PIN
// block and MAC are made under keys derived for that KSN. The host derives the same keys
// from its base derivation key (BDK) and the KSN the request carries.

// Sample initial KSNs (counter 0) of the published test vectors, the defaults.
const (
	sampleTDESKSN = "FFFF9876543210E00000"
	sampleAESKSN  = "123456789012345600000000"
)

type profileErr struct{ key, msg string }

func (e *profileErr) Error() string { return e.key + ": " + e.msg }

// validateDUKPT checks the DUKPT settings (nil when the profile does not use DUKPT).
func (p Profile) validateDUKPT() *profileErr {
	switch p.KeyScheme {
	case "", "mk/sk":
		if p.DUKPT != "" || p.KSN != "" {
			return &profileErr{"key_scheme", "dukpt and ksn are set but key_scheme is not dukpt"}
		}
		return nil
	case "dukpt":
	default:
		return &profileErr{"key_scheme", fmt.Sprintf("must be dukpt or empty (master/session keys), got %q", p.KeyScheme)}
	}
	if p.DUKPT != "tdes" && p.DUKPT != "aes" {
		return &profileErr{"dukpt", fmt.Sprintf("must be tdes or aes, got %q", p.DUKPT)}
	}
	ksn, err := dukpt.ParseKSN(p.initialKSN())
	if err != nil {
		return &profileErr{"ksn", err.Error()}
	}
	if want := p.ksnLen(); len(ksn) != want {
		return &profileErr{"ksn", fmt.Sprintf("a %s KSN is %d hex digits, got %d", p.DUKPT, 2*want, 2*len(ksn))}
	}
	if p.KSNField < 0 || p.KSNField == 1 || p.KSNField > 128 || p.KSNField == 52 || p.KSNField == 64 || p.KSNField == 128 || p.KSNField == iso.AESPINField {
		return &profileErr{"ksn_field", fmt.Sprintf("must be a field number 2..128 (default %d), got %d", iso.DefaultKSNField, p.KSNField)}
	}
	a := p.macAlgorithm()
	if p.DUKPT == "aes" && a != mac.None && a != mac.AESCMAC {
		return &profileErr{"mac", fmt.Sprintf("AES DUKPT MACs with aes-cmac (or none), got %s", a)}
	}
	if p.DUKPT == "tdes" && a == mac.AESCMAC {
		return &profileErr{"mac", "TDES DUKPT keys cannot compute aes-cmac: use x9.19"}
	}
	if p.PINFormat == "3" || p.PINFormat == "clear" {
		return &profileErr{"pin_format", "DUKPT uses format 0 (tdes) or 4 (aes): leave pin_format empty"}
	}
	return nil
}

func (p Profile) ksnLen() int {
	if p.DUKPT == "aes" {
		return dukpt.AESKSNLen
	}
	return dukpt.KSNLen
}

func (p Profile) initialKSN() string {
	switch {
	case p.KSN != "":
		return p.KSN
	case p.DUKPT == "aes":
		return sampleAESKSN
	}
	return sampleTDESKSN
}

func (p Profile) ksnField() int {
	if p.KSNField == 0 {
		return iso.DefaultKSNField
	}
	return p.KSNField
}

// dukptDevice is a DUKPT terminal's key state: the initial key loaded from the fixture's BDK
// (what key injection gives a real PIN pad) and the last KSN used.
type dukptDevice struct {
	aes   bool
	field int
	ik    keys.Key // IPEK (TDES) or initial key (AES); never printed

	mu  sync.Mutex
	ksn []byte // the KSN of the last request (counter 0 before the first)
}

// loadDUKPT sets up the device: the initial key from the wallet's BDK for the profile's KSN,
// the current KSN from the journal when it holds one for this device.
func (t *Terminal) loadDUKPT() (*dukptDevice, error) {
	p := t.profile
	ksn, err := dukpt.ParseKSN(p.initialKSN())
	if err != nil {
		return nil, fmt.Errorf("profile ksn: %w", err)
	}
	bdk, scheme, ok := t.wallet.BDK(ksn)
	if !ok || scheme != p.DUKPT {
		return nil, fmt.Errorf("DUKPT: the card fixture has no %s BDK whose id starts KSN %s (fixture bdks)", p.DUKPT, dukpt.FormatKSN(ksn))
	}
	d := &dukptDevice{aes: p.DUKPT == "aes", field: p.ksnField()}
	if d.aes {
		d.ik, err = dukpt.AESInitialKey(bdk, ksn[:dukpt.InitialKeyIDLen])
	} else {
		d.ik, err = dukpt.IPEK(bdk, ksn)
	}
	if err != nil {
		return nil, fmt.Errorf("DUKPT initial key: %w", err)
	}
	d.ksn = ksn
	var saved string
	err = t.j.tx("read DUKPT KSN", func(tx *sql.Tx) error {
		err := tx.QueryRow(`SELECT value FROM meta WHERE key = 'dukpt_ksn'`).Scan(&saved)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if b, err := hex.DecodeString(saved); err == nil && len(b) == len(ksn) && sameDevice(b, ksn) {
		d.ksn = b // the same device: carry on after the last counter used
	}
	return d, nil
}

// nextKSN advances the counter and stores it in the journal before anything uses it.
func (t *Terminal) nextKSN() ([]byte, error) {
	d := t.dk
	d.mu.Lock()
	defer d.mu.Unlock()
	var next []byte
	var err error
	if d.aes {
		next, err = dukpt.AESNext(d.ksn)
	} else {
		next, err = dukpt.Next(d.ksn)
	}
	if err != nil {
		return nil, err // exhausted: the device must be re-injected
	}
	if err := t.j.tx("store DUKPT KSN", func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO meta(key, value) VALUES('dukpt_ksn', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
			hex.EncodeToString(next))
		return err
	}); err != nil {
		return nil, err
	}
	d.ksn = next
	return next, nil
}

// KSN is the DUKPT terminal's last key serial number, hex (empty without DUKPT). A KSN is
// not secret.
func (t *Terminal) KSN() string {
	if t.dk == nil {
		return ""
	}
	t.dk.mu.Lock()
	defer t.dk.mu.Unlock()
	return dukpt.FormatKSN(t.dk.ksn)
}

// key derives a working key for ksn: PIN, MAC request or MAC response.
func (d *dukptDevice) key(ksn []byte, tdes dukpt.Usage, aes dukpt.KeyUsage) (keys.Key, error) {
	if d.aes {
		return dukpt.AESWorkingKey(d.ik, ksn, aes, dukpt.AES128)
	}
	return dukpt.DeviceKey(d.ik, ksn, tdes)
}

// dukptPIN encrypts the PIN for a request under a fresh KSN, which the request then carries:
// TDES format 0 in DE52; AES format 4 in iso.AESPINField.
func (t *Terminal) dukptPIN(m *iso.Message, pinDigits, pan string) error {
	ksn, err := t.nextKSN()
	if err != nil {
		return err
	}
	k, err := t.dk.key(ksn, dukpt.PIN, dukpt.PINEncryption)
	if err != nil {
		return err
	}
	if t.dk.aes {
		block, err := pin.EncryptAES(k, pinDigits, pan, t.rnd)
		if err != nil {
			return err
		}
		if err := m.Set(iso.AESPINField, strings.ToUpper(hex.EncodeToString(block))); err != nil {
			return err
		}
	} else {
		if m.PINBlock, err = pin.Encrypt(k, pin.Format0, pinDigits, pan, t.rnd); err != nil {
			return err
		}
	}
	return iso.SetKSN(m, t.dk.field, ksn)
}

// dukptRequest gives a request its KSN before it goes out: network management carries none;
// a request whose PIN block was made under a KSN keeps it (its repeats too: the block is
// bound to it); every other request — reversals and advices built from a stored original,
// which carry the original's KSN but no PIN block — gets the next one.
func (t *Terminal) dukptRequest(m *iso.Message) error {
	if iso.BaseMTI(m.MTI) == iso.MTINetworkRequest {
		return iso.SetKSN(m, t.dk.field, nil)
	}
	if cur, err := iso.KSNOf(m, t.dk.field); err == nil && cur != nil && iso.HasPINBlock(m) {
		return nil
	}
	ksn, err := t.nextKSN()
	if err != nil {
		return err
	}
	return iso.SetKSN(m, t.dk.field, ksn)
}

// dukptMACKey is the MAC key of a request (MAC request variant / MAC generation) or of an
// answer (MAC response variant / MAC verification), for the KSN the message carries.
func (t *Terminal) dukptMACKey(m *iso.Message, answer bool) (keys.Key, error) {
	ksn, err := iso.KSNOf(m, t.dk.field)
	if err != nil {
		return nil, err
	}
	if ksn == nil {
		return nil, fmt.Errorf("DUKPT: field %d (KSN) is missing", t.dk.field)
	}
	if answer {
		t.dk.mu.Lock()
		last := t.dk.ksn
		t.dk.mu.Unlock()
		if !strings.EqualFold(hex.EncodeToString(ksn), hex.EncodeToString(last)) {
			return nil, fmt.Errorf("DUKPT: the answer's KSN %s is not the request's %s", dukpt.FormatKSN(ksn), dukpt.FormatKSN(last))
		}
		return t.dk.key(ksn, dukpt.MACResponse, dukpt.MACVerification)
	}
	return t.dk.key(ksn, dukpt.MACRequest, dukpt.MACGeneration)
}

// sameDevice: two KSNs of one device (they differ at most in the counter).
func sameDevice(a, b []byte) bool {
	da, _, errA := dukpt.Device(a)
	db, _, errB := dukpt.Device(b)
	return errA == nil && errB == nil && da == db
}
