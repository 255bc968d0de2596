package acquirer

import (
	"errors"
	"fmt"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/emv"
)

// Chip data (DE55) at the host, for terminals in a security session (signed on with key
// exchange: the cup profile; other terminals' DE55 is carried, not checked, as before): the
// request's TLVs must parse (30 naming the byte otherwise), its ARQC must verify under the
// card's keys (iso/emv test issuer keys; 05 otherwise), and the answer carries tag 91 — the
// ARPC with the response code — which the card checks at its second GENERATE AC.

// chipRequest reads and checks a request's DE55. ok is false when the host does not check
// chip data for this request; code/why is a refusal decided before the ledger is looked at.
func (a *Acquirer) chipRequest(ex *exchange) (list emv.List, mk []byte, ok bool, code, why string) {
	m := ex.req
	base := iso.BaseMTI(m.MTI)
	if len(m.EMV) == 0 || (base != iso.MTIAuthRequest && base != iso.MTIFinancialRequest) {
		return nil, nil, false, "", ""
	}
	if _, session := a.keys.get(m.TerminalID); !session {
		return nil, nil, false, "", ""
	}
	list, err := emv.Parse(m.EMV)
	if err != nil {
		return nil, nil, false, iso.RCFormatError, fmt.Sprintf("format error: field 55 (ICC data): %v", err)
	}
	if !ex.known {
		return nil, nil, false, "", "" // the ledger answers 14 for an unknown card
	}
	mk, err = a.emvKeys.CardKey(ex.card.Brand, ex.card.Name, ex.card.PAN)
	if err != nil {
		return nil, nil, false, "", "" // a brand without test issuer keys: not checked
	}
	if err := emv.VerifyARQC(mk, list); err != nil {
		if errors.Is(err, emv.ErrARQC) {
			return nil, nil, false, iso.RCDoNotHonour, "chip cryptogram (ARQC, 9F26) does not verify under the card's keys"
		}
		return nil, nil, false, iso.RCFormatError, fmt.Sprintf("format error: field 55 (ICC data): %v", err)
	}
	return list, mk, true, "", ""
}

// chipAnswer puts the issuer's chip data (tag 91: ARPC and response code) in the answer.
// A bad_arpc fault changes the ARPC's first byte: the card will not accept the approval.
func (a *Acquirer) chipAnswer(ex *exchange, list emv.List, mk []byte) {
	if ex.resp == nil || len(ex.resp.ResponseCode) != 2 {
		return
	}
	out, err := emv.Respond(mk, list, ex.resp.ResponseCode)
	if err != nil {
		a.log.Warn("chip answer not built", "stan", ex.req.STAN, "err", iso.MaskText(err.Error()))
		return
	}
	b := out.Bytes()
	if ex.firing != nil && ex.firing.Action == fault.ActionBadARPC {
		badARPC(b)
		ex.outNote = "with an ARPC (tag 91) that does not verify, by fault"
	}
	ex.resp.EMV = b
}

// badARPC flips the first byte of tag 91's value (tag 91, length, value...).
func badARPC(b []byte) {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0x91 {
			b[i+2] ^= 0xFF
			return
		}
	}
}
