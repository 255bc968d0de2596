package suggest

import (
	"errors"
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	cards := []string{"visa-ok", "visa-declined", "mc-ok", "amex-ok", "unionpay-ok"}
	tests := []struct {
		name, word string
		known      []string
		want       string
	}{
		{"one letter extra", "visa-okk", cards, "visa-ok"},
		{"case only", "VISA-OK", cards, "visa-ok"},
		{"two edits", "visa-declnd", cards, "visa-declined"},
		{"unique prefix", "union", cards, "unionpay-ok"},
		{"ambiguous prefix", "vis", cards, ""},
		{"far away", "diners", cards, ""},
		{"swapped letters are one edit", "tpa", []string{"tap", "chip"}, "tap"},
		{"short words allow one edit only", "tpx", []string{"tap", "chip"}, ""},
		{"swap in a step name", "sael", []string{"sale", "refund"}, "sale"},
		{"short word one edit", "chp", []string{"tap", "chip"}, "chip"},
		{"empty", "", cards, ""},
		{"flag", "tag", []string{"tags", "seed", "junit"}, "tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Closest(tt.word, tt.known); got != tt.want {
				t.Errorf("Closest(%q) = %q, want %q", tt.word, got, tt.want)
			}
		})
	}
}

func TestUnknownError(t *testing.T) {
	err := Unknown("card", "visa-okk", []string{"mc-ok", "visa-ok"})
	if got, want := err.Error(), `unknown card "visa-okk" (did you mean "visa-ok"?)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, ErrUnknown) {
		t.Error("errors.Is(err, ErrUnknown) = false")
	}
	err = Unknown("framing", "zzz", []string{"len2", "bcd2"})
	if got, want := err.Error(), `unknown framing "zzz" (known: bcd2, len2)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	many := make([]string, 20)
	for i := range many {
		many[i] = strings.Repeat("x", i+10)
	}
	if got := Unknown("scenario", "q", many).Error(); !strings.Contains(got, "8 more") {
		t.Errorf("long list not cut: %q", got)
	}
}
