package simulator

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/emv"
)

// Real chip data (profile emv: true; the cup preset): the simulated card computes an ARQC
// with its test keys (iso/emv DefaultKeys: the issuer master key of its brand, Option A
// derivation, session key from its ATC) and the terminal sends the chip data in DE55. When
// the host approves, the card's second GENERATE AC checks the ARPC in tag 91; a missing or
// wrong one makes the chip decline an approved transaction, and the terminal reverses it.
// Without emv the terminal sends the fixed-shape data of fakeEMV, which no host checks.

// chipData builds DE55 for a chip or contactless read. A card whose brand has no test
// issuer key gets the fixed-shape data instead (nothing to compute it with).
func (t *Terminal) chipData(c cards.Card, m *iso.Message, now time.Time) ([]byte, error) {
	mk, err := t.emvKeys.CardKey(c.Brand, c.Name, c.PAN)
	if err != nil {
		return fakeEMV(c, m, now), nil
	}
	atc, err := t.j.nextATC(c.Name)
	if err != nil {
		return nil, err
	}
	un := make([]byte, 4)
	t.rnd.Read(un)
	amount := m.Amount
	if amount == "" {
		amount = iso.FormatAmount(0)
	}
	typ := byte(0x00)
	switch {
	case strings.HasPrefix(m.ProcessingCode, "20"):
		typ = 0x20
	case strings.HasPrefix(m.ProcessingCode, "31"):
		typ = 0x31
	}
	card := emv.Card{MK: mk, PSN: t.emvKeys.PSN(c.Name), ATC: atc}
	l, err := card.Request(emv.Txn{Amount: amount, Currency: m.Currency, Country: t.profile.Currency, Date: now, Type: typ, UN: un})
	if err != nil {
		return nil, fmt.Errorf("chip data for card %s: %w", iso.MaskPAN(c.PAN), err)
	}
	return l.Bytes(), nil
}

// secondAC is the card's decision on an approved answer: nil when the card accepts it (or
// the terminal does not check chip data for this transaction), else why it declined.
func (t *Terminal) secondAC(req, resp *iso.Message) error {
	if !t.profile.EMV || len(req.EMV) == 0 {
		return nil
	}
	c, ok := t.wallet.ByPAN(req.PANOf())
	if !ok {
		return nil
	}
	mk, err := t.emvKeys.CardKey(c.Brand, c.Name, c.PAN)
	if err != nil {
		return nil // fixed-shape data: nothing to check
	}
	request, err := emv.Parse(req.EMV)
	if err != nil {
		return fmt.Errorf("own chip data unreadable: %w", err)
	}
	var response emv.List
	if len(resp.EMV) > 0 {
		if response, err = emv.Parse(resp.EMV); err != nil {
			return fmt.Errorf("the answer's chip data (DE55) is unreadable: %w", err)
		}
	}
	d := emv.Complete(mk, request, response, resp.ResponseCode)
	if d.Approved {
		return nil
	}
	return fmt.Errorf("%s", d.Reason)
}

// nextATC is the card's application transaction counter for this transaction: kept per
// card in the journal, as the chip keeps it (1 to 65535, then it wraps).
func (j *journal) nextATC(card string) (uint16, error) {
	var n int
	err := j.tx("chip transaction counter", func(tx *sql.Tx) error {
		v, err := getMeta(tx, "atc_"+card, 0)
		if err != nil {
			return err
		}
		n = v%65535 + 1
		return setMeta(tx, "atc_"+card, n)
	})
	return uint16(n), err
}
