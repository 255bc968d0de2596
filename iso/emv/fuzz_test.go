package emv_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/posdrill/posdrill/iso/emv"
)

// FuzzParse: any input either fails with a *ParseError whose offset lies inside the input,
// or parses into objects whose encoding parses again to the same encoding (Bytes writes the
// shortest length form, so the input itself may differ), and prints without panicking.
// Runs on its seeds in go test; fuzz with go test -fuzz FuzzParse ./iso/emv.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		sampleDE55,
		"7105 9F1808 0000",
		"9F2683 000008",
		"9C81 01 00",
		"9F10820003 010203",
		"",
	} {
		b, _ := hex.DecodeString(stripSpaces(s))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := emv.Parse(data)
		if err != nil {
			var pe *emv.ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(data) {
				t.Fatalf("error %v (%T) has no valid offset", err, err)
			}
			return
		}
		again, err := emv.Parse(l.Bytes())
		if err != nil {
			t.Fatalf("re-parse of own encoding: %v", err)
		}
		if !bytes.Equal(again.Bytes(), l.Bytes()) {
			t.Fatal("encoding not stable")
		}
		_ = l.String()
	})
}

func stripSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }
