package cards_test

import (
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
