package pin_test

import (
	"testing"

	"github.com/posdrill/posdrill/iso/pin"
)

// PIN work per message: the terminal encrypts one block, the acquirer decrypts and checks it.
// Numbers in BENCHMARKS.md (go test -bench . ./iso/mac ./iso/pin -benchtime=1s).
func BenchmarkEncryptFormat0(b *testing.B) {
	for b.Loop() {
		if _, err := pin.Encrypt(testPINKey, pin.Format0, "1234", "4111111111111111", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptFormat3(b *testing.B) {
	for b.Loop() {
		if _, err := pin.Encrypt(testPINKey, pin.Format3, "1234", "4111111111111111", zeros{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	blk, _ := pin.Encrypt(testPINKey, pin.Format0, "1234", "4111111111111111", nil)
	for b.Loop() {
		if ok, err := pin.Verify(testPINKey, blk, "4111111111111111", "1234"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
