package simulator

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
)

// ErrProfile marks an invalid terminal profile.
var ErrProfile = errors.New("invalid terminal profile")

// Reversal STAN policies (Profile.ReversalSTAN).
const (
	STANReuse = "reuse" // the reversal carries the original's DE11
	STANNew   = "new"   // the reversal gets a STAN of its own; DE90 still points at the original
)

// Profile is everything about the terminal that varies between acquirers. Every field has a
// documented default (DefaultProfile, README.md); YAML keys are the snake_case names below.
type Profile struct {
	// Preset is the named profile this one starts from ("cup": the UnionPay domestic POS
	// profile, see PresetProfile); the keys set beside it override the preset's values.
	Preset     string `yaml:"preset"`
	TID        string `yaml:"tid"`         // DE41, ans8
	MID        string `yaml:"mid"`         // DE42, ans15
	Currency   string `yaml:"currency"`    // DE49, ISO 4217 numeric
	Host       string `yaml:"host"`        // host:port the dialer connects to
	Dialect    string `yaml:"dialect"`     // ascii, ascii-hex, bcd or a dialect JSON file
	Framing    string `yaml:"framing"`     // len2, len2-bcd, len4-ascii, len4, each optionally +tpdu
	TPDU       string `yaml:"tpdu"`        // 10 hex digits, used when the framing has +tpdu
	AcquirerID string `yaml:"acquirer_id"` // DE32 and the acquirer part of DE90; empty: not sent
	// Header is the application header (hex) when the framing has one: the UnionPay 6-byte
	// message header for "cup" (application type, version, terminal status, processing
	// requirement, software version; the terminal sends processing requirement 0).
	Header string `yaml:"header"`
	// Codes is the response-code table the terminal reads answers with: iso or cup (""
	// means cup with the cup dialect, else iso). It decides guidance and the actions a code
	// asks of the terminal (sign on again after A0, 99, A7, 77).
	Codes string `yaml:"codes"`
	// MAC is the algorithm of DE64/DE128 once a sign-on delivered a MAC key: none (default),
	// x9.19, iso9797-alg3-m1, iso9797-alg3-m2 or cup-ecb (see iso/mac). Everything but
	// network management is MACed (the MAC over the message up to the MAC field), and the
	// answers' MACs are verified.
	MAC string `yaml:"mac"`
	// PINFormat is the ISO 9564 PIN block format: 0 (default) or 3, encrypted under the PIN
	// key of the last sign-on (else the fixed test key); "clear" sends the block unencrypted
	// for hosts that want it (posdrill's acquirer does not).
	PINFormat string `yaml:"pin_format"`
	// TMK is the terminal master key (32 hex digits); empty: the wallet fixture's for the TID
	// (iso/cards builtin.yaml "tmks"). Test values only.
	TMK string `yaml:"tmk"`
	// WorkingKeys is what a UnionPay sign-on asks for: single (DE60.3 001), double (003,
	// default) or double+track (004).
	WorkingKeys string `yaml:"working_keys"`
	// EMV makes chip and contactless reads send real chip data: an ARQC computed with the
	// test card keys (iso/emv), and the card's second decision on the host's ARPC (tag 91)
	// — a chip that declines an approved transaction is reversed. Off: fixed-shape DE55.
	EMV bool `yaml:"emv"`
	// KeyScheme is how PIN and MAC keys are had: "" (master key / session key: working keys
	// at sign-on, as above) or dukpt (a new key per transaction from the initial key the
	// wallet fixture's BDK gives the KSN; no key exchange). See docs/cup.md "DUKPT".
	KeyScheme string `yaml:"key_scheme"`
	// DUKPT is the DUKPT variant: tdes (X9.24-1; PIN format 0 under the PIN variant, MAC
	// with the MAC request variant) or aes (X9.24-3; PIN format 4 in DE110, AES-CMAC).
	DUKPT string `yaml:"dukpt"`
	// KSN is the initial key serial number, hex (counter 0): the device identity the host
	// tracks. Empty: the standards' sample KSN (FFFF9876543210E00000 for tdes,
	// 123456789012345600000000 for aes). Two terminals must not share one.
	KSN string `yaml:"ksn"`
	// KSNField is the field the KSN travels in (default 53, iso.DefaultKSNField).
	KSNField int `yaml:"ksn_field"`

	ConnectTimeout  time.Duration `yaml:"connect_timeout"`
	ResponseTimeout time.Duration `yaml:"response_timeout"`
	// PINTimeout is how long the PIN pad waits for the cardholder (pin_timeout device fault).
	PINTimeout time.Duration `yaml:"pin_timeout"`

	ReversalMTI      string        `yaml:"reversal_mti"`      // 0420 (advice) or 0400
	ReversalRepeats  int           `yaml:"reversal_repeats"`  // refused tries before the queue is reported blocked
	ReversalInterval time.Duration `yaml:"reversal_interval"` // between transmissions of a queued entry
	ReversalExpiry   time.Duration `yaml:"reversal_expiry"`   // then: manual reconciliation list
	ReversalSTAN     string        `yaml:"reversal_stan"`     // reuse or new

	SignOnAtConnect bool          `yaml:"sign_on_at_connect"`
	EchoInterval    time.Duration `yaml:"echo_interval"` // 0 = no echo tests
	// SAFMax bounds the store-and-forward queue for offline advices (0 = no limit). Reversals
	// are always queued: dropping one would leave a customer charged.
	SAFMax int `yaml:"saf_max"`
	// OfflineFloorLimit: sales up to this amount may be approved offline when the host is
	// unreachable (0 = never).
	OfflineFloorLimit Money `yaml:"offline_floor_limit"`
	// PartialApproval: the terminal accepts 10 (approved for a partial amount). Without it a
	// partial approval is reversed at once.
	PartialApproval bool `yaml:"partial_approval"`

	// SkipReversal makes a deliberately broken terminal that does NOT reverse after a lost
	// or unreadable answer. Never use it at a till: it exists so that a regression scenario
	// can prove it catches such a terminal (the customer is left charged).
	SkipReversal bool `yaml:"skip_reversal"`
	// Entry lists the entry modes this terminal's hardware and set-up accept.
	Entry []string `yaml:"entry"`
	// Brands lists the card brands accepted at this terminal; empty means any (the host
	// decides).
	Brands []string `yaml:"brands"`
}

// DefaultProfile returns the documented defaults.
func DefaultProfile() Profile {
	return Profile{
		TID:              "TERM0001",
		MID:              "POSDRILL0000001",
		Currency:         "156",
		Host:             "127.0.0.1:8583",
		Dialect:          "ascii",
		Framing:          "len2",
		TPDU:             "6000010000",
		ConnectTimeout:   10 * time.Second,
		ResponseTimeout:  30 * time.Second,
		PINTimeout:       30 * time.Second,
		ReversalMTI:      iso.MTIReversalAdvice,
		ReversalRepeats:  3,
		ReversalInterval: 30 * time.Second,
		ReversalExpiry:   24 * time.Hour,
		ReversalSTAN:     STANReuse,
		SignOnAtConnect:  true,
		EchoInterval:     0,
		SAFMax:           100,
		PartialApproval:  true,
		Entry:            iso.EntryModes(),
	}
}

// Presets lists the named profiles (Profile.Preset, posdrill pay --profile NAME).
func Presets() []string { return []string{PresetCUP} }

// PresetCUP is the UnionPay domestic POS profile.
const PresetCUP = "cup"

// PresetProfile returns a named profile: "cup" is DefaultProfile with the UnionPay domestic
// wire (dialect and framing cup, TPDU 6000060000, message header 603100311003), the CUP
// response-code table and 0400 reversals carrying the original STAN.
func PresetProfile(name string) (Profile, error) {
	switch name {
	case "", "default":
		return DefaultProfile(), nil
	case PresetCUP:
		p := DefaultProfile()
		p.Preset = PresetCUP
		p.Dialect, p.Framing, p.TPDU = "cup", "cup", "6000060000"
		p.Header = strings.ToUpper(hex.EncodeToString(iso.DefaultCUPHeader.Bytes()))
		p.Codes = "cup"
		p.MAC, p.WorkingKeys, p.PINFormat, p.EMV = "cup-ecb", "double", "0", true
		p.ReversalMTI = iso.MTIReversalRequest
		p.ReversalSTAN = STANReuse
		return p, nil
	}
	return Profile{}, fmt.Errorf("%w: preset: unknown preset %q (use %s)", ErrProfile, name, strings.Join(Presets(), ", "))
}

// ParseProfile reads a YAML profile; keys it does not set keep their defaults (or the
// preset's, when it names one). Errors carry name:line:column.
func ParseProfile(data []byte, name string) (Profile, error) {
	// Bounded before either decoder builds anything; no aliases, which they would expand.
	if err := bounded.CheckYAML(data, bounded.Strict); err != nil {
		return Profile{}, fmt.Errorf("%w: %s: %w", ErrProfile, name, err)
	}
	var head struct {
		Preset string `yaml:"preset"`
	}
	_ = yaml.Unmarshal(data, &head) // syntax errors are reported by the strict pass below
	p, err := PresetProfile(head.Preset)
	if err != nil {
		return Profile{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := yaml.UnmarshalWithOptions(data, &p, yaml.Strict()); err != nil {
		return Profile{}, fmt.Errorf("%w: %s: %s", ErrProfile, name, yaml.FormatError(err, false, false))
	}
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// LoadProfile reads a YAML profile file.
func LoadProfile(path string) (Profile, error) {
	raw, err := bounded.ReadFile(path, bounded.MaxDocument)
	if err != nil {
		return Profile{}, fmt.Errorf("load profile: %w", err)
	}
	return ParseProfile(raw, path)
}

// Validate checks every field; the error names the YAML key.
func (p Profile) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrProfile, key, fmt.Sprintf(format, a...))
	}
	switch {
	case p.TID == "" || len(p.TID) > 8:
		return bad("tid", "must be 1 to 8 characters, got %q", p.TID)
	case p.MID == "" || len(p.MID) > 15:
		return bad("mid", "must be 1 to 15 characters, got %q", p.MID)
	case len(p.Currency) != 3 || !iso.AllDigits(p.Currency):
		return bad("currency", "must be a 3-digit ISO 4217 code, got %q", p.Currency)
	case p.Host == "":
		return bad("host", "is empty")
	case p.ConnectTimeout <= 0:
		return bad("connect_timeout", "must be positive")
	case p.ResponseTimeout <= 0:
		return bad("response_timeout", "must be positive")
	case p.PINTimeout <= 0:
		return bad("pin_timeout", "must be positive")
	case p.ReversalMTI != iso.MTIReversalAdvice && p.ReversalMTI != iso.MTIReversalRequest:
		return bad("reversal_mti", "must be 0420 or 0400, got %q", p.ReversalMTI)
	case p.ReversalRepeats < 0:
		return bad("reversal_repeats", "must not be negative")
	case p.ReversalInterval <= 0:
		return bad("reversal_interval", "must be positive")
	case p.ReversalExpiry <= 0:
		return bad("reversal_expiry", "must be positive")
	case p.ReversalSTAN != STANReuse && p.ReversalSTAN != STANNew:
		return bad("reversal_stan", "must be reuse or new, got %q", p.ReversalSTAN)
	case p.EchoInterval < 0:
		return bad("echo_interval", "must not be negative (0 = off)")
	case p.SAFMax < 0:
		return bad("saf_max", "must not be negative (0 = no limit)")
	case p.OfflineFloorLimit < 0:
		return bad("offline_floor_limit", "must not be negative (0 = off)")
	case p.AcquirerID != "" && (len(p.AcquirerID) > 11 || !iso.AllDigits(p.AcquirerID)):
		return bad("acquirer_id", "must be up to 11 digits")
	}
	if _, err := iso.DialectByName(p.Dialect); err != nil {
		return bad("dialect", "%v", err)
	}
	f, err := iso.ParseFraming(p.Framing)
	if err != nil {
		return bad("framing", "%v", err)
	}
	if f.TPDU {
		if b, err := hex.DecodeString(p.TPDU); err != nil || len(b) != iso.TPDULen {
			return bad("tpdu", "must be %d hex digits, got %q", 2*iso.TPDULen, p.TPDU)
		}
	}
	if f.AppHeader > 0 && p.Header != "" {
		b, err := hex.DecodeString(p.Header)
		if err != nil || len(b) != f.AppHeader {
			return bad("header", "must be %d hex digits for framing %s, got %q", 2*f.AppHeader, f, p.Header)
		}
		if f.AppHeader == iso.CUPHeaderLen {
			if _, err := iso.ParseCUPHeader(b); err != nil {
				return bad("header", "%v", err)
			}
		}
	}
	if _, err := iso.CodeTableByName(p.Codes); err != nil {
		return bad("codes", "%v", err)
	}
	if _, err := mac.ParseAlgorithm(p.MAC); err != nil {
		return bad("mac", "%v", err)
	}
	switch p.PINFormat {
	case "", "0", "3", "clear":
	default:
		return bad("pin_format", "must be 0, 3 or clear, got %q", p.PINFormat)
	}
	if p.TMK != "" {
		if _, err := keys.ParseHex("tmk", p.TMK); err != nil {
			return bad("tmk", "%v", err)
		}
	}
	if _, ok := workingKeyCodes[p.WorkingKeys]; !ok && p.WorkingKeys != "" {
		return bad("working_keys", "must be single, double or double+track, got %q", p.WorkingKeys)
	}
	if err := p.validateDUKPT(); err != nil {
		return bad(err.key, "%s", err.msg)
	}
	if p.Preset != "" && !slices.Contains(Presets(), p.Preset) {
		return bad("preset", "unknown preset %q (use %s)", p.Preset, strings.Join(Presets(), ", "))
	}
	for _, e := range p.Entry {
		if !slices.Contains(iso.EntryModes(), e) {
			return bad("entry", "unknown entry mode %q (use %s)", e, strings.Join(iso.EntryModes(), ", "))
		}
	}
	return nil
}

// tpdu returns the TPDU bytes when the framing carries one.
func (p Profile) tpdu() []byte {
	f, _ := iso.ParseFraming(p.Framing)
	if !f.TPDU {
		return nil
	}
	b, _ := hex.DecodeString(p.TPDU)
	return b
}

// header returns the application header bytes (nil: the framing's default, or none).
func (p Profile) header() []byte {
	f, _ := iso.ParseFraming(p.Framing)
	if f.AppHeader == 0 || p.Header == "" {
		return nil
	}
	b, _ := hex.DecodeString(p.Header)
	return b
}

// codeTable is the response-code table the profile reads answers with.
func (p Profile) codeTable() *iso.CodeTable {
	if p.Codes == "" && p.Dialect == "cup" {
		return iso.CUPCodes
	}
	t, err := iso.CodeTableByName(p.Codes)
	if err != nil {
		return iso.ISOCodes
	}
	return t
}

// Money is an amount in minor units. In YAML it is written in major units ("50.00", 50).
type Money int64

// UnmarshalYAML reads "50.00", "50" or 50.
func (m *Money) UnmarshalYAML(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"'`)
	v, err := iso.ParseMoney(s)
	if err != nil {
		return err
	}
	*m = Money(v)
	return nil
}

// MarshalYAML writes major units.
func (m Money) MarshalYAML() ([]byte, error) {
	return []byte(strconv.Quote(iso.FormatMoney(int64(m)))), nil
}
