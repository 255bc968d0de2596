package iso

import "strings"

// Entry modes: how the card was presented. These are the names everything uses — a
// scenario's payment, a fault rule's match.entry_mode, the CLI's --entry, the terminal, the
// acquirer's journal and the UI — and DE22 (POS entry mode) is mapped to and from them here
// only, so that a contactless magnetic-stripe request (DE22 91x) is "contactless" to every
// side. See docs/domain.md for what each mode means at the counter.
const (
	EntryChip        = "chip"
	EntryContactless = "contactless"
	EntrySwipe       = "swipe"
	EntryFallback    = "fallback" // chip-to-stripe fallback after an unreadable chip
	EntryKeyed       = "keyed"
	EntryQR          = "qr"
)

// EntryModes lists every entry mode in a fixed order.
func EntryModes() []string {
	return []string{EntryChip, EntryContactless, EntrySwipe, EntryFallback, EntryKeyed, EntryQR}
}

// de22Entry is DE22's PAN entry mode (its first two digits): the entry mode it is (""
// when it is none posdrill names) and what it means, for decode.
var de22Entry = map[string]struct{ mode, meaning string }{
	"00": {"", "unknown"},
	"01": {EntryKeyed, "keyed (manual entry)"},
	"02": {EntrySwipe, "magnetic stripe, track not guaranteed"},
	"03": {EntryQR, "barcode / QR"},
	"04": {"", "OCR"},
	"05": {EntryChip, "chip (contact)"},
	"07": {EntryContactless, "contactless chip"},
	"10": {"", "credential on file"},
	"79": {"", "chip failed, keyed fallback"},
	"80": {EntryFallback, "chip-to-stripe fallback"},
	"81": {"", "e-commerce"},
	"90": {EntrySwipe, "magnetic stripe (full track)"},
	"91": {EntryContactless, "contactless magnetic stripe"},
	"95": {"", "chip, unreliable CVV"},
}

// sentDE22 is DE22 as posdrill's terminal sends each mode; the third digit 1 says the
// terminal can take a PIN (2: keyed entry, no PIN pad in use).
var sentDE22 = map[string]string{
	EntryChip:        "051",
	EntryContactless: "071",
	EntrySwipe:       "901",
	EntryFallback:    "801",
	EntryKeyed:       "012",
	EntryQR:          "031",
}

// EntryModeOf maps a DE22 value to its entry mode ("" when it is none posdrill names or is
// shorter than two digits).
func EntryModeOf(de22 string) string {
	if len(de22) < 2 {
		return ""
	}
	return de22Entry[de22[:2]].mode
}

// EntryMeaning says what DE22's first two digits mean ("" when unknown).
func EntryMeaning(de22 string) string {
	if len(de22) < 2 {
		return ""
	}
	return de22Entry[de22[:2]].meaning
}

// EntryDE22 is DE22 as posdrill's terminal sends an entry mode ("" for an unknown mode).
func EntryDE22(mode string) string { return sentDE22[mode] }

// EntryModeNamed reads an entry mode written by a person or a file: a mode name in any case,
// or a raw DE22 value ("051", "91"). ok is false for anything else.
func EntryModeNamed(s string) (mode string, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if _, known := sentDE22[s]; known {
		return s, true
	}
	if AllDigits(s) {
		if m := EntryModeOf(s); m != "" {
			return m, true
		}
	}
	return "", false
}
