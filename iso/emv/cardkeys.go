package emv

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/keys"
)

// TestIMK is the issuer master key (IMK-AC) of every brand in posdrill's built-in card data:
// the classic test key 0123456789ABCDEF FEDCBA9876543210 (KCV 08D7B4). The same values are
// in testdata/iso/cards/emv-keys.yaml, which a test compares with DefaultKeys.
var TestIMK = []byte{
	0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF,
	0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
}

// Keys holds the issuer master keys by brand and the PAN sequence numbers by card name: what
// a terminal's simulated cards and the acquirer's issuer side share to make and check ARQCs.
type Keys struct {
	imk map[string]keys.Key // brand → IMK-AC
	psn map[string]string   // card name → PSN
}

type keysFile struct {
	Issuers []struct {
		Brand string `yaml:"brand"`
		IMKAC string `yaml:"imk_ac"`
		KCV   string `yaml:"kcv"`
	} `yaml:"issuers"`
	PSN map[string]string `yaml:"psn"`
}

// DefaultKeys is the built-in key set: TestIMK for visa, mastercard, unionpay and amex, and
// PSN 01 for the card named unionpay-ok (00 elsewhere).
func DefaultKeys() *Keys {
	k := &Keys{imk: map[string]keys.Key{}, psn: map[string]string{"unionpay-ok": "01"}}
	for _, b := range []string{"visa", "mastercard", "unionpay", "amex"} {
		k.imk[b] = keys.Key(TestIMK)
	}
	return k
}

// LoadKeys reads a key file (see testdata/iso/cards/emv-keys.yaml). Each IMK must be 16
// bytes of hex and match its kcv; errors name the brand.
func LoadKeys(r io.Reader) (*Keys, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read EMV keys: %w", err)
	}
	var f keysFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read EMV keys: %w", err)
	}
	k := &Keys{imk: map[string]keys.Key{}, psn: map[string]string{}}
	for i, is := range f.Issuers {
		where := fmt.Sprintf("issuers[%d] (brand %q)", i, is.Brand)
		if is.Brand == "" {
			return nil, fmt.Errorf("read EMV keys: %s: brand missing", where)
		}
		imk, err := keys.ParseHex("imk_ac", is.IMKAC)
		if err != nil {
			return nil, fmt.Errorf("read EMV keys: %s: %w", where, err)
		}
		if len(imk) != 16 {
			return nil, fmt.Errorf("read EMV keys: %s: imk_ac is %d bytes, want 16", where, len(imk))
		}
		kcv, _ := keys.KCV(imk)
		if want := strings.ToUpper(strings.TrimSpace(is.KCV)); want == "" || fmt.Sprintf("%X", kcv) != want {
			return nil, fmt.Errorf("read EMV keys: %s: %w: kcv %q, key gives %X", where, keys.ErrKCVMismatch, is.KCV, kcv)
		}
		k.imk[strings.ToLower(is.Brand)] = imk
	}
	for name, p := range f.PSN {
		if len(p) != 2 || !iso.AllDigits(p) {
			return nil, fmt.Errorf("read EMV keys: psn of %q is %q, want 2 digits", name, p)
		}
		k.psn[name] = p
	}
	return k, nil
}

// Brands lists the brands with an issuer key, sorted.
func (k *Keys) Brands() []string {
	out := make([]string, 0, len(k.imk))
	for b := range k.imk {
		out = append(out, b)
	}
	sort.Strings(out)
	return out
}

// PSN returns the PAN sequence number of a card by name ("00" when not listed).
func (k *Keys) PSN(card string) string {
	if p, ok := k.psn[card]; ok {
		return p
	}
	return "00"
}

// CardKey derives the ICC master key of a card: its brand's IMK, its PAN and its PSN.
func (k *Keys) CardKey(brand, card, pan string) (keys.Key, error) {
	imk, ok := k.imk[strings.ToLower(brand)]
	if !ok {
		return nil, fmt.Errorf("card %q: no issuer master key for brand %q (have %s)", card, brand, strings.Join(k.Brands(), ", "))
	}
	return MasterKeyA(imk, pan, k.PSN(card))
}
