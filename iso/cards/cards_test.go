package cards_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/cards"
)

func TestBuiltin(t *testing.T) {
	s := cards.Builtin()
	if len(s.Cards) != 11 {
		t.Fatalf("%d cards", len(s.Cards))
	}
	for _, c := range s.Cards {
		if c.Name == "amex" {
			continue
		}
		if !cards.Luhn(c.PAN) {
			t.Errorf("%s: PAN fails Luhn", c.Name)
		}
	}
	c, ok := s.ByName("visa-ok")
	if !ok || c.Track2() != "4111111111111111=30122010000000000" {
		t.Fatalf("track2 = %q", c.Track2())
	}
	if _, ok := s.Merchant("POSDRILL0000001"); !ok {
		t.Fatal("merchant missing")
	}
}

func TestParseErrorsSayWhere(t *testing.T) {
	_, err := cards.Parse([]byte("cards:\n  - name: x\n    pan: 12\n    bogus: 1\n"), "my.yaml")
	if err == nil || !strings.Contains(err.Error(), "my.yaml") || !strings.Contains(err.Error(), "4:") {
		t.Fatalf("err = %v", err)
	}
}

func TestLuhn(t *testing.T) {
	for pan, want := range map[string]bool{"4111111111111111": true, "4111111111111112": false, "378282246310005": true, "": false, "41x1": false} {
		if cards.Luhn(pan) != want {
			t.Errorf("Luhn(%q) != %v", pan, want)
		}
	}
}

// TestBDKs: the built-in fixture holds the published sample BDKs, found by the KSN's prefix;
// a bad entry is refused naming it.
func TestBDKs(t *testing.T) {
	s := cards.Builtin()
	for _, tc := range []struct{ name, ksn, scheme string }{
		{"tdes", "FFFF9876543210E00001", "tdes"},
		{"aes", "123456789012345600000001", "aes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ksn, _ := hex.DecodeString(tc.ksn)
			if _, scheme, ok := s.BDK(ksn); !ok || scheme != tc.scheme {
				t.Fatalf("BDK(%s) = %s, %v", tc.ksn, scheme, ok)
			}
		})
	}
	if _, _, ok := s.BDK([]byte{0xAA, 0xAA}); ok {
		t.Fatal("a KSN of no BDK found one")
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"scheme", `{id: "AB", scheme: des, key: "00"}`, "scheme must be tdes or aes"},
		{"tdes length", `{id: "AB", scheme: tdes, key: "0011"}`, "a TDES BDK is 32 hex digits"},
		{"id", `{id: "xyz", scheme: aes, key: "00112233445566778899AABBCCDDEEFF"}`, "id must be hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := "merchants:\n  - {id: M1, name: N, terminals: [T1], currency: \"156\"}\nbdks:\n  - " + tc.yaml + "\n"
			if _, err := cards.Parse([]byte(raw), "f.yaml"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
