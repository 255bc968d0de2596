// Package cards holds the test cards and merchants that both sides share: the acquirer
// authorizes against them, and the terminal's customer carries them in a wallet. The
// built-in set is embedded; a YAML file of the same shape replaces it (--cards).
package cards

import (
	_ "embed"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/posdrill/posdrill/iso/bounded"
)

//go:embed builtin.yaml
var builtinYAML []byte

// Card is one test card.
type Card struct {
	Name    string `yaml:"name" json:"name"`
	PAN     string `yaml:"pan" json:"-"`
	Expiry  string `yaml:"expiry" json:"expiry"`   // YYMM
	Balance string `yaml:"balance" json:"balance"` // opening balance, major units ("10000.00")
	PIN     string `yaml:"pin" json:"-"`
	Brand   string `yaml:"brand" json:"brand"`   // visa, mastercard, unionpay, amex
	Status  string `yaml:"status" json:"status"` // active, lost, stolen, do-not-honour
	// ChipDamaged: the terminal cannot read the chip; it offers fallback to swipe.
	ChipDamaged bool `yaml:"chip_damaged,omitempty" json:"chip_damaged,omitempty"`
	// Wallet: a QR/barcode wallet rather than a plastic card (scanned, not inserted).
	Wallet bool `yaml:"wallet,omitempty" json:"wallet,omitempty"`
	// ServiceCode for track 2 (default 201: chip card, normal authorization).
	ServiceCode string `yaml:"service_code,omitempty" json:"service_code,omitempty"`
	Note        string `yaml:"note,omitempty" json:"note,omitempty"` // what happens, for people
}

// Merchant is one acquiring relationship: a merchant id and its terminals.
type Merchant struct {
	ID        string   `yaml:"id" json:"id"`
	Name      string   `yaml:"name" json:"name"`
	Terminals []string `yaml:"terminals" json:"terminals"`
	Currency  string   `yaml:"currency" json:"currency"` // ISO 4217 numeric
	// Entry modes accepted: chip, contactless, swipe, fallback, keyed, qr.
	Entry []string `yaml:"entry" json:"entry"`
	// Brands accepted.
	Brands []string `yaml:"brands" json:"brands"`
	// MaxAmount is the per-transaction maximum, major units ("50000.00").
	MaxAmount string `yaml:"max_amount" json:"max_amount"`
	// TMKs are the terminals' master keys (terminal id → 32 hex digits, double-length
	// TDES), test values: sign-on delivers working keys encrypted under them. Never
	// printed by posdrill (JSON leaves them out).
	TMKs map[string]string `yaml:"tmks" json:"-"`
}

// Set is the whole fixture: cards and merchants.
type Set struct {
	Cards     []Card     `yaml:"cards" json:"cards"`
	Merchants []Merchant `yaml:"merchants" json:"merchants"`
	// BDKs are the DUKPT base derivation keys (test values): the acquirer derives each
	// request's keys from the one whose id starts the request's KSN; a simulated terminal
	// "injects" its initial key from the same entry. Never printed (JSON leaves them out).
	BDKs []BDK `yaml:"bdks,omitempty" json:"-"`
}

// BDK is one DUKPT base derivation key.
type BDK struct {
	// ID is the hex prefix of the KSNs under this key: the key set ID (TDES, e.g. the
	// X9.24-1 sample FFFF987654) or the BDK ID, the first 4 bytes of the initial key ID (AES).
	ID string `yaml:"id"`
	// Scheme is tdes (X9.24-1, a double-length key) or aes (X9.24-3, AES-128/192/256).
	Scheme string `yaml:"scheme"`
	Key    string `yaml:"key"` // hex
}

// BDK finds the base derivation key of a KSN: the entry whose id is the longest prefix of
// the KSN's hex. false when none.
func (s *Set) BDK(ksn []byte) (key []byte, scheme string, ok bool) {
	h := strings.ToUpper(hex.EncodeToString(ksn))
	best := -1
	for i, b := range s.BDKs {
		id := strings.ToUpper(b.ID)
		if strings.HasPrefix(h, id) && (best < 0 || len(id) > len(s.BDKs[best].ID)) {
			best = i
		}
	}
	if best < 0 {
		return nil, "", false
	}
	k, err := hex.DecodeString(s.BDKs[best].Key)
	return k, s.BDKs[best].Scheme, err == nil
}

// Builtin returns a fresh copy of the embedded fixture.
func Builtin() *Set {
	s, err := Parse(builtinYAML, "builtin.yaml")
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return s
}

// Load reads a fixture file.
func Load(path string) (*Set, error) {
	raw, err := bounded.ReadFile(path, bounded.MaxDocument)
	if err != nil {
		return nil, err
	}
	return Parse(raw, path)
}

// Parse reads a fixture; errors carry file:line:column.
func Parse(raw []byte, name string) (*Set, error) {
	var s Set
	// Bounded before the decoder builds anything; no aliases, which it would expand.
	if err := bounded.CheckYAML(raw, bounded.Strict); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := yaml.UnmarshalWithOptions(raw, &s, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %s", name, yaml.FormatError(err, false, false))
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

func (s *Set) validate() error {
	seen := map[string]bool{}
	for i, c := range s.Cards {
		if c.Name == "" {
			return fmt.Errorf("card %d has no name", i+1)
		}
		if seen[c.Name] {
			return fmt.Errorf("card %q defined twice", c.Name)
		}
		seen[c.Name] = true
		if len(c.PAN) < 12 || len(c.PAN) > 19 || strings.Trim(c.PAN, "0123456789") != "" {
			return fmt.Errorf("card %q: PAN must be 12 to 19 digits", c.Name)
		}
		if len(c.Expiry) != 4 || strings.Trim(c.Expiry, "0123456789") != "" {
			return fmt.Errorf("card %q: expiry must be YYMM", c.Name)
		}
	}
	if len(s.Merchants) == 0 {
		return fmt.Errorf("no merchants defined")
	}
	for i, b := range s.BDKs {
		k, err := hex.DecodeString(b.Key)
		_, idErr := hex.DecodeString(b.ID)
		switch {
		case b.ID == "" || idErr != nil:
			return fmt.Errorf("bdks[%d]: id must be hex digits (the KSN prefix), got %q", i, b.ID)
		case b.Scheme != "tdes" && b.Scheme != "aes":
			return fmt.Errorf("bdks[%d] (%s): scheme must be tdes or aes, got %q", i, b.ID, b.Scheme)
		case err != nil:
			return fmt.Errorf("bdks[%d] (%s): key is not hex", i, b.ID)
		case b.Scheme == "tdes" && len(k) != 16:
			return fmt.Errorf("bdks[%d] (%s): a TDES BDK is 32 hex digits, got %d", i, b.ID, 2*len(k))
		case b.Scheme == "aes" && len(k) != 16 && len(k) != 24 && len(k) != 32:
			return fmt.Errorf("bdks[%d] (%s): an AES BDK is 32, 48 or 64 hex digits, got %d", i, b.ID, 2*len(k))
		}
	}
	for _, m := range s.Merchants {
		for tid, h := range m.TMKs {
			if b, err := hex.DecodeString(h); err != nil || (len(b) != 16 && len(b) != 8 && len(b) != 24) {
				return fmt.Errorf("merchant %s: tmks: %s: must be 16, 32 or 48 hex digits", m.ID, tid)
			}
		}
	}
	return nil
}

// TMK is the master key of a terminal (false when the fixture has none for it).
func (s *Set) TMK(tid string) ([]byte, bool) {
	for _, m := range s.Merchants {
		if h, ok := m.TMKs[tid]; ok {
			b, err := hex.DecodeString(h)
			return b, err == nil
		}
	}
	return nil, false
}

// ByName finds a card by its name.
func (s *Set) ByName(name string) (Card, bool) {
	for _, c := range s.Cards {
		if c.Name == name {
			return c, true
		}
	}
	return Card{}, false
}

// Names lists the card names in file order (for "did you mean" and shell completion).
func (s *Set) Names() []string {
	names := make([]string, len(s.Cards))
	for i, c := range s.Cards {
		names[i] = c.Name
	}
	return names
}

// ByPAN finds a card by its number.
func (s *Set) ByPAN(pan string) (Card, bool) {
	for _, c := range s.Cards {
		if c.PAN == pan {
			return c, true
		}
	}
	return Card{}, false
}

// Merchant finds a merchant by id.
func (s *Set) Merchant(id string) (Merchant, bool) {
	for _, m := range s.Merchants {
		if m.ID == id {
			return m, true
		}
	}
	return Merchant{}, false
}

// Track2 renders the card's track 2 equivalent data: PAN '=' YYMM service code and
// discretionary data.
func (c Card) Track2() string {
	sc := c.ServiceCode
	if sc == "" {
		sc = "201"
	}
	return c.PAN + "=" + c.Expiry + sc + "0000000000"
}

// Luhn reports whether a PAN passes the Luhn check.
func Luhn(pan string) bool {
	if pan == "" {
		return false
	}
	sum, double := 0, false
	for i := len(pan) - 1; i >= 0; i-- {
		c := pan[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
