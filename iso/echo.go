package iso

import (
	"errors"
	"fmt"
	"strings"
)

// ErrEchoMismatch is wrapped by every *EchoError.
var ErrEchoMismatch = errors.New("answer does not match the request")

// EchoError says which echoed field of an answer does not agree with the request.
type EchoError struct {
	Field int    // the data element
	Name  string // its name in words
	Want  string // what the request says (or the rule, for a partial approval)
	Got   string // what the answer says ("" when absent)
}

func (e *EchoError) Error() string {
	got := e.Got
	if got == "" {
		got = "nothing"
	}
	return fmt.Sprintf("answer DE%d (%s) is %s, the request %s", e.Field, e.Name, MaskText(got), MaskText(e.Want))
}

func (e *EchoError) Unwrap() error { return ErrEchoMismatch }

// CheckEcho says whether an answer, already paired with its request (Answers), may be acted
// on as far as its echoed fields go: processing code (DE3), amount (DE4), currency (DE49),
// terminal (DE41) and merchant (DE42) must equal the request's wherever the answer carries
// them (blanks around DE41/DE42 ignored); and a partial approval (DE39 10) must carry an
// amount above zero and below the request's — a 10 with no amount, a zero amount, or one
// at or above what was asked does not say what was approved. A host that answers something
// else than what was asked has not approved what was asked: the terminal must treat such an
// answer as unusable (and reverse), never as an approval.
func CheckEcho(req, answer *Message) error {
	same := func(id int, name, want, got string, trim bool) error {
		if trim {
			want, got = strings.TrimSpace(want), strings.TrimSpace(got)
		}
		if got == "" || want == "" || got == want {
			return nil
		}
		return &EchoError{Field: id, Name: name, Want: "says " + want, Got: got}
	}
	if err := same(3, "processing code", req.ProcessingCode, answer.ProcessingCode, false); err != nil {
		return err
	}
	if answer.ResponseCode == RCPartial && req.Amount != "" {
		asked, err := ParseAmount(req.Amount)
		if err != nil {
			return &EchoError{Field: 4, Name: "amount", Want: "amount is unreadable", Got: answer.Amount}
		}
		want := fmt.Sprintf("asked %s, so a partial approval must be above 0 and below it", FormatMoney(asked))
		if answer.Amount == "" {
			return &EchoError{Field: 4, Name: "partial amount", Want: want}
		}
		got, err := ParseAmount(answer.Amount)
		if err != nil || got <= 0 || got >= asked {
			return &EchoError{Field: 4, Name: "partial amount", Want: want, Got: answer.Amount}
		}
	} else if err := same(4, "amount", req.Amount, answer.Amount, false); err != nil {
		return err
	}
	if err := same(49, "currency", req.Currency, answer.Currency, false); err != nil {
		return err
	}
	if err := same(41, "terminal", req.TerminalID, answer.TerminalID, true); err != nil {
		return err
	}
	return same(42, "merchant", req.MerchantID, answer.MerchantID, true)
}
