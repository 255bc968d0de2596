// Package testhex decodes the hex test vectors of the security-layer tests, written with
// spaces or colons between groups as the standards print them.
package testhex

import (
	"encoding/hex"
	"strings"
	"testing"
)

// Decode returns the bytes of s (hex; spaces and colons ignored) or fails the test.
func Decode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "").Replace(s))
	if err != nil {
		t.Fatalf("test vector %q: %v", s, err)
	}
	return b
}
