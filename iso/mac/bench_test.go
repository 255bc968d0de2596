package mac_test

import (
	"fmt"
	"testing"

	"github.com/posdrill/posdrill/iso/mac"
)

// MAC work per message: a typical 0200 MAC element block is 100–200 bytes. Numbers in
// BENCHMARKS.md (go test -bench . ./iso/mac ./iso/pin -benchtime=1s).
func BenchmarkCompute(b *testing.B) {
	key := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}
	data := make([]byte, 160)
	for i := range data {
		data[i] = byte(i)
	}
	for _, alg := range mac.Algorithms() {
		b.Run(fmt.Sprintf("%v/160B", alg), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := mac.Compute(alg, key, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
