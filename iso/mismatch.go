package iso

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
)

// ErrMismatch is wrapped by *MismatchError: the peer speaks another dialect or framing.
var ErrMismatch = errors.New("dialect or framing mismatch")

// MismatchError says that bytes we could not read as our dialect and framing read cleanly as
// another built-in pair: the two ends are configured differently. Without it, a terminal
// would report such a host as unreachable ("check the cable") and an acquirer as garbage.
type MismatchError struct {
	OurDialect, OurFraming     string
	TheirDialect, TheirFraming string
	// Msg is the peer's first message read their way (for an answer "30 format error" that
	// echoes its keys); never printed whole, since it may carry card data.
	Msg *Message
}

func (e *MismatchError) Error() string {
	what := "dialect"
	switch {
	case e.OurDialect != e.TheirDialect && e.OurFraming != e.TheirFraming:
		what = "dialect and framing"
	case e.OurDialect == e.TheirDialect:
		what = "framing"
	}
	return fmt.Sprintf("%s mismatch: the peer's message reads as dialect %s, framing %s; this end speaks dialect %s, framing %s",
		what, e.TheirDialect, e.TheirFraming, e.OurDialect, e.OurFraming)
}

// Unwrap makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// mismatchWindow is how many of a connection's first bytes a Conn keeps to diagnose a
// mismatch: the first message and its header fit in it.
const mismatchWindow = 4096

// Mismatch reads first (the first bytes received on a connection) with every built-in
// dialect and framing. When ours does not read a whole, plausible message from them and
// another pair does, it returns the *MismatchError naming that pair; otherwise nil (the bytes
// are garbage, or ours reads them and the problem is elsewhere).
func Mismatch(first []byte, ours *Dialect, ourFraming Framing) *MismatchError {
	read := func(d *Dialect, f Framing) *Message {
		fr, err := f.ReadFrame(bufio.NewReader(bytes.NewReader(first)), DefaultMaxFrame)
		if err != nil {
			return nil
		}
		m, err := d.Unpack(fr.Payload)
		if err != nil || !plausibleMTI(m.MTI) {
			return nil
		}
		return m
	}
	if read(ours, ourFraming) != nil {
		return nil
	}
	// Our dialect first: a framing mismatch alone is the likelier one to name.
	dialects := append([]*Dialect{ours}, Dialects()...)
	for _, d := range dialects {
		for _, name := range Framings() {
			f, err := ParseFraming(name)
			if err != nil || (d == ours && f == ourFraming) {
				continue
			}
			if m := read(d, f); m != nil {
				return &MismatchError{OurDialect: ours.Name, OurFraming: ourFraming.String(),
					TheirDialect: d.Name, TheirFraming: f.String(), Msg: m}
			}
		}
	}
	return nil
}

// plausibleMTI is an MTI of ISO 8583 versions 1987 to 2003 with a known message class.
func plausibleMTI(mti string) bool {
	if len(mti) != 4 || mti[0] < '0' || mti[0] > '2' || mti[1] < '1' || mti[1] > '9' {
		return false
	}
	for _, c := range mti {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
