package keys_test

import (
	"errors"
	"fmt"

	"github.com/posdrill/posdrill/iso/keys"
)

// A sign-on: the host wraps a working key under the terminal's master key; the terminal
// unwraps it and checks the KCV before storing it.
func ExampleUnwrap() {
	tmk, _ := keys.ParseHex("TMK", "0123456789ABCDEF FEDCBA9876543210")
	mak, _ := keys.ParseHex("MAK", "1111111111111111 2222222222222222")

	block, kcv, _ := keys.WrapN(tmk, mak, 4) // what DE62 carries: key block + 4-byte check value
	got, err := keys.Unwrap(tmk, block, kcv)
	fmt.Println(got, err)

	wrongTMK, _ := keys.ParseHex("TMK", "FEDCBA9876543210 0123456789ABCDEF")
	_, err = keys.Unwrap(wrongTMK, block, kcv)
	fmt.Println(errors.Is(err, keys.ErrKCVMismatch))
	// Output:
	// key(16 bytes, KCV D2B91C) <nil>
	// true
}
