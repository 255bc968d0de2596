package fault

import (
	"fmt"
	"strconv"

	"github.com/posdrill/posdrill/iso"
)

// Frame-level actions: what a firing does to the bytes of a framed answer. They live here,
// not in the acquirer, so that the acquirer and the fault proxy (which has no acquirer, only
// frames) perform each action the same way.

// Garble corrupts the MTI of a framed message in place while the length header, TPDU and
// application header stay valid, so the reader gets a whole frame that does not unpack: its
// first payload bytes become 0xFF, which is neither an ASCII digit nor a BCD digit.
func Garble(frame []byte, f iso.Framing) {
	off := f.HeaderLen() + f.AppHeader
	if f.TPDU {
		off += iso.TPDULen
	}
	for i := off; i < len(frame) && i < off+4; i++ {
		frame[i] = 0xFF
	}
}

// WrongSTAN is the STAN a wrong_stan answer carries instead of stan: stan+1 modulo 1e6.
func WrongSTAN(stan string) string {
	n, _ := strconv.Atoi(stan)
	return fmt.Sprintf("%06d", (n+1)%1000000)
}

// Truncated is the prefix of frame a truncate_response answer sends: the first n bytes, but
// always at least one byte short, so that the answer is really incomplete.
func Truncated(frame []byte, n int) []byte {
	if len(frame) == 0 {
		return nil
	}
	return frame[:min(n, len(frame)-1)]
}

// Chunks cuts frame into the pieces a split_response answer is written in (chunk >= 1).
func Chunks(frame []byte, chunk int) [][]byte {
	chunk = max(chunk, 1)
	var out [][]byte
	for off := 0; off < len(frame); off += chunk {
		out = append(out, frame[off:min(off+chunk, len(frame))])
	}
	return out
}
