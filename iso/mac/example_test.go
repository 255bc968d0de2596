package mac_test

import (
	"errors"
	"fmt"

	"github.com/posdrill/posdrill/iso/mac"
)

func ExampleVerify() {
	key := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}
	alg, _ := mac.ParseAlgorithm("x9.19")
	sum, _ := mac.Compute(alg, key, []byte("Now is the time for all "))
	fmt.Printf("%X\n", sum[:4])

	err := mac.Verify(alg, key, []byte("Now is the time for ALL "), sum)
	fmt.Println(errors.Is(err, mac.ErrMismatch)) // the acquirer answers A0
	// Output:
	// A1C72E74
	// true
}
