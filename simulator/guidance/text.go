package guidance

import (
	"strings"
	"unicode"
)

// Text is prose a scenario or drill gives in English, Simplified Chinese or both: a title, a
// situation, a debrief, what the customer says. It lives here, beside Lang, because both the
// scenario format and the training UI carry it and neither may import the other.
type Text struct {
	En string
	Zh string
}

// PlainText is a text written without saying its language (a plain string in a user's
// scenario): Chinese when it is mostly Chinese, English otherwise. "Mostly" counts a Chinese
// character as three Latin letters (a word's worth), so 插入 Visa 卡 is Chinese and an English
// sentence quoting a Chinese screen message stays English.
func PlainText(s string) Text {
	han, latin := 0, 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.IsLetter(r):
			latin++
		}
	}
	if han > 0 && 3*han >= latin {
		return Text{Zh: s}
	}
	return Text{En: s}
}

// In returns the text in lang, or in the other language when lang was not given: a
// one-language text shows in both UIs rather than not at all.
func (t Text) In(lang Lang) string {
	if lang == Zh {
		if t.Zh != "" {
			return t.Zh
		}
		return t.En
	}
	if t.En != "" {
		return t.En
	}
	return t.Zh
}

// String is the English text (or the Chinese one when there is none): reports, logs and the
// CLI are in English.
func (t Text) String() string { return t.In(En) }

// IsZero reports whether neither language was given.
func (t Text) IsZero() bool { return t.En == "" && t.Zh == "" }

// Missing lists the languages t lacks, in the order En, Zh.
func (t Text) Missing() []Lang {
	var out []Lang
	if strings.TrimSpace(t.En) == "" {
		out = append(out, En)
	}
	if strings.TrimSpace(t.Zh) == "" {
		out = append(out, Zh)
	}
	return out
}

// HasHan reports whether s contains a Chinese character.
func HasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
