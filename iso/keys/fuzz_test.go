package keys_test

import (
	"errors"
	"testing"

	"github.com/posdrill/posdrill/iso/keys"
)

// FuzzUnwrap: any key block and check value either unwrap to a key whose check value is the
// one given, or fail with ErrKeyLength, ErrDataLength or ErrKCVMismatch. Runs on its seeds in
// go test; fuzz with go test -fuzz FuzzUnwrap ./iso/keys.
func FuzzUnwrap(f *testing.F) {
	tmk := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}
	block, kcv, _ := keys.Wrap(tmk, []byte("0123456789abcdef"))
	f.Add(block, kcv)
	f.Add(block[:7], kcv)
	f.Add(block, []byte{})
	f.Fuzz(func(t *testing.T, block, kcv []byte) {
		k, err := keys.Unwrap(tmk, block, kcv)
		if err != nil {
			if !errors.Is(err, keys.ErrKeyLength) && !errors.Is(err, keys.ErrDataLength) && !errors.Is(err, keys.ErrKCVMismatch) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if kcv != nil {
			cv, _ := keys.CheckValue(k, len(kcv))
			if !keys.Equal(cv, kcv) {
				t.Fatal("unwrapped a key whose check value differs")
			}
		}
	})
}
