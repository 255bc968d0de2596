package simulator

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
)

// refusal is a reason the terminal will not send a transaction, with the guidance key.
type refusal struct {
	guidance string
	why      string
}

func (r *refusal) Error() string { return r.why }

// EntryWords lists every word normalizeEntry understands: the entry modes and what people
// call them ("tap", "insert", "manual", ...). A CLI checks a user's word against it.
func EntryWords() []string {
	return append(iso.EntryModes(), "tap", "nfc", "insert", "icc", "magstripe", "stripe", "key", "manual", "scan", "wallet")
}

// normalizeEntry maps what a person or a CLI says to an entry mode.
func normalizeEntry(e string, c cards.Card) string {
	switch strings.ToLower(strings.TrimSpace(e)) {
	case "":
		if c.Wallet {
			return iso.EntryQR
		}
		return iso.EntryChip
	case "tap", "contactless", "nfc":
		return iso.EntryContactless
	case "insert", "chip", "icc":
		return iso.EntryChip
	case "swipe", "magstripe", "stripe":
		return iso.EntrySwipe
	case "key", "keyed", "manual":
		return iso.EntryKeyed
	case "scan", "qr", "wallet":
		return iso.EntryQR
	case "fallback":
		return iso.EntryFallback
	}
	return strings.ToLower(e)
}

// resolveCard finds the card in the wallet by name or PAN.
func (t *Terminal) resolveCard(name string) (cards.Card, error) {
	if c, ok := t.wallet.ByName(name); ok {
		return c, nil
	}
	if c, ok := t.wallet.ByPAN(name); ok {
		return c, nil
	}
	return cards.Card{}, fmt.Errorf("card %q: %w", iso.MaskText(name), ErrUnknownCard)
}

// checkPayment is what the terminal itself knows it cannot do, before anything is sent.
func (t *Terminal) checkPayment(c cards.Card, entry string, p Payment, needAmount bool) *refusal {
	if iso.EntryDE22(entry) == "" {
		return &refusal{iso.GuidanceNotAccepted, fmt.Sprintf("entry mode %q is unknown", entry)}
	}
	if !slices.Contains(t.profile.Entry, entry) {
		return &refusal{iso.GuidanceNotAccepted, fmt.Sprintf("entry mode %s is not enabled on this terminal", entry)}
	}
	if c.Wallet && entry != iso.EntryQR && entry != iso.EntryKeyed {
		return &refusal{iso.GuidanceNotAccepted, fmt.Sprintf("a wallet code cannot be read by %s", entry)}
	}
	if len(t.profile.Brands) > 0 && !slices.Contains(t.profile.Brands, c.Brand) {
		return &refusal{iso.GuidanceCardNotSupported, fmt.Sprintf("brand %s is not accepted at this terminal", c.Brand)}
	}
	if !cards.Luhn(c.PAN) {
		return &refusal{iso.GuidanceInvalidCardNumber, fmt.Sprintf("card number %s fails the check digit", iso.MaskPAN(c.PAN))}
	}
	if needAmount && (p.Amount <= 0 || p.Amount > 999_999_999_999) {
		return &refusal{iso.GuidanceInvalidAmount, fmt.Sprintf("amount %s is not valid", iso.FormatMoney(p.Amount))}
	}
	if p.PIN != "" && (len(p.PIN) < 4 || len(p.PIN) > 12 || !iso.AllDigits(p.PIN)) {
		return &refusal{iso.GuidanceIncorrectPIN, "PIN must be 4 to 12 digits"}
	}
	return nil
}

// cardFields fills the card data of a request the way the entry mode reads it.
func (t *Terminal) cardFields(m *iso.Message, c cards.Card, entry, pin string, now time.Time) error {
	m.EntryMode = iso.EntryDE22(entry)
	switch entry {
	case iso.EntryChip, iso.EntryContactless:
		m.Track2 = c.Track2()
		m.CardSeq = "001"
		if t.profile.EMV {
			b, err := t.chipData(c, m, now)
			if err != nil {
				return err
			}
			m.EMV = b
		} else {
			m.EMV = fakeEMV(c, m, now)
		}
	case iso.EntrySwipe, iso.EntryFallback:
		m.Track2 = c.Track2()
	case iso.EntryKeyed, iso.EntryQR:
		m.PAN = c.PAN
		m.Expiry = c.Expiry
	}
	if pin != "" && t.dk != nil {
		if err := t.dukptPIN(m, pin, c.PAN); err != nil {
			return fmt.Errorf("DUKPT PIN block for card %s: %w", iso.MaskPAN(c.PAN), err)
		}
	} else if pin != "" {
		block, err := t.pinBlock(pin, c.PAN)
		if err != nil {
			return fmt.Errorf("PIN block for card %s: %w", iso.MaskPAN(c.PAN), err)
		}
		m.PINBlock = block
	}
	return nil
}

// fakeEMV builds a small, deterministic EMV TLV (DE55): what a chip returns for an online
// authorization. The cryptogram is a hash, not a real ARQC: hosts here do not verify it.
func fakeEMV(c cards.Card, m *iso.Message, now time.Time) []byte {
	sum := sha256.Sum256([]byte(c.PAN + "|" + m.Amount + "|" + m.STAN + "|" + m.TerminalID))
	amount := bcdDigits(fmt.Sprintf("%012s", m.Amount))
	cur := bcdDigits(fmt.Sprintf("%04s", m.Currency))
	date := bcdDigits(now.Format("060102"))
	atc := make([]byte, 2)
	binary.BigEndian.PutUint16(atc, uint16(sum[10])<<8|uint16(sum[11]))
	var out []byte
	tlv := func(tag []byte, v []byte) {
		out = append(out, tag...)
		out = append(out, byte(len(v)))
		out = append(out, v...)
	}
	tlv([]byte{0x9F, 0x26}, sum[:8])                        // application cryptogram
	tlv([]byte{0x9F, 0x27}, []byte{0x80})                   // cryptogram information: ARQC
	tlv([]byte{0x9F, 0x10}, []byte{0x06, 0x01, 0x0A, 0x03}) // issuer application data
	tlv([]byte{0x9F, 0x37}, sum[12:16])                     // unpredictable number
	tlv([]byte{0x9F, 0x36}, atc)                            // application transaction counter
	tlv([]byte{0x95}, []byte{0, 0, 0, 0, 0})                // terminal verification results
	tlv([]byte{0x9A}, date)                                 // transaction date YYMMDD
	tlv([]byte{0x9C}, []byte{0x00})                         // transaction type
	tlv([]byte{0x9F, 0x02}, amount)                         // amount, authorised
	tlv([]byte{0x5F, 0x2A}, cur)                            // transaction currency
	tlv([]byte{0x82}, []byte{0x19, 0x80})                   // application interchange profile
	tlv([]byte{0x9F, 0x1A}, cur)                            // terminal country (same code space here)
	return out
}

func bcdDigits(s string) []byte {
	if len(s)%2 == 1 {
		s = "0" + s
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		out[i] = (s[2*i]-'0')<<4 | (s[2*i+1] - '0')
	}
	return out
}
