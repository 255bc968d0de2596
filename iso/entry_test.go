package iso_test

import (
	"testing"

	"github.com/posdrill/posdrill/iso"
)

func TestEntryModes(t *testing.T) {
	tests := []struct {
		de22, mode string
	}{
		{"051", iso.EntryChip}, {"071", iso.EntryContactless}, {"912", iso.EntryContactless},
		{"901", iso.EntrySwipe}, {"021", iso.EntrySwipe}, {"801", iso.EntryFallback},
		{"012", iso.EntryKeyed}, {"031", iso.EntryQR}, {"811", ""}, {"991", ""}, {"5", ""}, {"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.de22, func(t *testing.T) {
			if got := iso.EntryModeOf(tt.de22); got != tt.mode {
				t.Errorf("EntryModeOf(%q) = %q, want %q", tt.de22, got, tt.mode)
			}
		})
	}
	// What the terminal sends reads back as the same mode, for every mode.
	for _, m := range iso.EntryModes() {
		de22 := iso.EntryDE22(m)
		if len(de22) != 3 || iso.EntryModeOf(de22) != m {
			t.Errorf("%s is sent as DE22 %q, which reads back as %q", m, de22, iso.EntryModeOf(de22))
		}
		if got, ok := iso.EntryModeNamed(" " + m + " "); !ok || got != m {
			t.Errorf("EntryModeNamed(%q) = %q, %v", m, got, ok)
		}
	}
	for in, want := range map[string]string{"Contactless": iso.EntryContactless, "912": iso.EntryContactless, "051": iso.EntryChip} {
		if got, ok := iso.EntryModeNamed(in); !ok || got != want {
			t.Errorf("EntryModeNamed(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "tap", "04", "x1"} {
		if got, ok := iso.EntryModeNamed(bad); ok {
			t.Errorf("EntryModeNamed(%q) = %q, want not ok", bad, got)
		}
	}
	if got := iso.EntryMeaning("911"); got != "contactless magnetic stripe" {
		t.Errorf("EntryMeaning(911) = %q", got)
	}
}
