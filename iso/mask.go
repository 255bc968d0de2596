package iso

import "strings"

// Masking of card data for logs, error texts, traces and screens. Nothing posdrill writes
// may carry a full PAN or track-2 data; route every such string through MaskText.

// MaskPAN masks a primary account number: at most the first 6 and the last 4 characters
// stay visible, every other character becomes '*'. Numbers of 16 or more characters keep
// the usual 6/4. Shorter inputs show at most half of their characters, preferring the last
// ones (the last 4 are what receipts and staff use): 15 → first 3 + last 4, 12 → 2 + 4,
// 8 → 0 + 4, 4 → 0 + 2, 1 → none. The empty string stays empty. The length is kept.
func MaskPAN(pan string) string {
	r := []rune(pan)
	n := len(r)
	if n == 0 {
		return ""
	}
	first, last := panVisible(n)
	for i := first; i < n-last; i++ {
		r[i] = '*'
	}
	return string(r)
}

// panVisible returns how many leading and trailing characters of an n-character PAN stay
// visible.
func panVisible(n int) (first, last int) {
	if n >= 16 {
		return 6, 4
	}
	budget := n / 2
	last = min(4, budget)
	first = min(6, budget-last)
	return first, last
}

// MaskTrack2 masks track-2 equivalent data: the PAN part is masked like MaskPAN and nothing
// after the field separator ('=' or 'D') survives: the separator is kept and followed by
// "****" (expiry, service code and discretionary data are all hidden). A leading ';' start
// sentinel is kept. Input without a separator is masked as a PAN.
func MaskTrack2(t string) string {
	prefix := ""
	if strings.HasPrefix(t, ";") {
		prefix, t = ";", t[1:]
	}
	i := strings.IndexAny(t, "=Dd")
	if i < 0 {
		return prefix + MaskPAN(t)
	}
	return prefix + MaskPAN(t[:i]) + t[i:i+1] + "****"
}

// Lengths of digit runs MaskText treats as a PAN.
const (
	minPANDigits = 12
	maxPANDigits = 19
	// alwaysMaskDigits: runs this long are masked whatever they hold. Shorter runs (12–15
	// digits) are masked when they pass the Luhn check or lead track-2 data: otherwise every
	// RRN and n12 amount in a trace would be starred out.
	alwaysMaskDigits = 16
)

// MaskText masks every card number in free text: any run of 16 or more consecutive digits,
// and any run of 12–15 that passes the Luhn check or starts track-2 data, is masked with
// MaskPAN semantics (runs longer than 19 digits are masked too, because a PAN
// may sit inside them, e.g. an LL-prefixed DE2 in an ASCII message). A run followed by a
// track-2 separator ('=' or 'D') and at least 4 digits is treated as track-2 data: the
// separator is kept and everything after it (digits, 'F' padding, a '?' end sentinel) is
// replaced by "****". Card numbers written in groups separated by single spaces or dashes
// ("4111 1111 1111 1111") are masked when they have 12–19 digits and pass the Luhn check;
// the separators are kept.
func MaskText(s string) string {
	if !hasLongDigitRun(s) && !strings.ContainsAny(s, " -") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for i < len(s) {
		c := s[i]
		if !isDigitByte(c) || (i > 0 && isDigitByte(s[i-1])) {
			b.WriteByte(c)
			i++
			continue
		}
		j := i
		for j < len(s) && isDigitByte(s[j]) {
			j++
		}
		run := s[i:j]
		if len(run) >= alwaysMaskDigits || (len(run) >= minPANDigits && (luhnValid([]byte(run)) || isTrack2(s, j))) {
			b.WriteString(MaskPAN(run))
			if end, ok := track2Tail(s, j); ok {
				b.WriteByte(s[j])
				b.WriteString("****")
				j = end
			}
			i = j
			continue
		}
		if end, ok := groupedPAN(s, i); ok {
			b.WriteString(maskGrouped(s[i:end]))
			i = end
			continue
		}
		b.WriteString(run)
		i = j
	}
	return b.String()
}

func isTrack2(s string, j int) bool {
	_, ok := track2Tail(s, j)
	return ok
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

func hasLongDigitRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigitByte(s[i]) {
			n++
			if n >= minPANDigits {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

// track2Tail reports whether s[j:] starts with a track-2 separator followed by at least 4
// digits, and returns where the track-2 tail ends.
func track2Tail(s string, j int) (int, bool) {
	if j >= len(s) || (s[j] != '=' && s[j] != 'D' && s[j] != 'd') {
		return 0, false
	}
	k := j + 1
	digits := 0
	for k < len(s) && isDigitByte(s[k]) {
		k++
		digits++
	}
	if digits < 4 {
		return 0, false
	}
	for k < len(s) && (isDigitByte(s[k]) || s[k] == 'F' || s[k] == 'f') {
		k++
	}
	if k < len(s) && s[k] == '?' {
		k++
	}
	return k, true
}

// groupedPAN recognises digits in groups of 3–6 separated by one ' ' or '-' (the same
// separator throughout), 12–19 digits in all and Luhn-valid, starting at s[i].
func groupedPAN(s string, i int) (int, bool) {
	var sep byte
	digits := make([]byte, 0, maxPANDigits)
	end := i
	k := i
	for {
		g := k
		for k < len(s) && isDigitByte(s[k]) {
			k++
		}
		gl := k - g
		if gl < 3 || gl > 6 || len(digits)+gl > maxPANDigits {
			break
		}
		digits = append(digits, s[g:k]...)
		end = k
		if k+1 >= len(s) || !isDigitByte(s[k+1]) {
			break
		}
		if sep == 0 && (s[k] == ' ' || s[k] == '-') {
			sep = s[k]
		}
		if s[k] != sep {
			break
		}
		k++
	}
	if sep == 0 || len(digits) < minPANDigits || !luhnValid(digits) {
		return 0, false
	}
	// A longer digit group right after the match means this was not a card number.
	if end < len(s) && isDigitByte(s[end]) {
		return 0, false
	}
	return end, true
}

// maskGrouped masks the digits of a grouped PAN, keeping separators.
func maskGrouped(g string) string {
	n := 0
	for i := 0; i < len(g); i++ {
		if isDigitByte(g[i]) {
			n++
		}
	}
	first, last := panVisible(n)
	out := []byte(g)
	d := 0
	for i := range out {
		if !isDigitByte(out[i]) {
			continue
		}
		if d >= first && d < n-last {
			out[i] = '*'
		}
		d++
	}
	return string(out)
}

func luhnValid(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
