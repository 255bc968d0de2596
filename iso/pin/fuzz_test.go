package pin_test

import (
	"errors"
	"testing"

	"github.com/posdrill/posdrill/iso/pin"
)

// FuzzParse: any 8 bytes either parse to a 4–12 digit PIN that rebuilds to the same block
// (format 0) or fail with ErrFormat. Runs on its seeds in go test; fuzz with
// go test -fuzz FuzzParse ./iso/pin.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0x04, 0x12, 0x25, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE}, "4111111111111111")
	f.Add([]byte{0x34, 0x12, 0xAC, 0xDC, 0xFE, 0x98, 0xBA, 0x32}, "43219876543210987")
	f.Add([]byte{0x14, 0x12}, "4111111111111111")
	f.Fuzz(func(t *testing.T, block []byte, pan string) {
		p, format, err := pin.Parse(block, pan)
		if err != nil {
			if !errors.Is(err, pin.ErrFormat) && !errors.Is(err, pin.ErrPAN) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(p) < 4 || len(p) > 12 {
			t.Fatalf("PIN of %d digits accepted", len(p))
		}
		if format == pin.Format0 {
			again, err := pin.Build(pin.Format0, p, pan, nil)
			if err != nil || string(again) != string(block) {
				t.Fatalf("rebuild differs: %X vs %X (%v)", again, block, err)
			}
		}
	})
}
