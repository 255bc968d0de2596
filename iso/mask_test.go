package iso

import (
	"regexp"
	"strings"
	"testing"
)

func TestMaskPAN(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"16 digits", "4111111111111111", "411111******1111"},
		{"19 digits", "6212345678901234567", "621234*********4567"},
		{"15 digits", "378282246310005", "378********0005"},
		{"13 digits", "4222222222222", "42*******2222"},
		{"12 digits", "123456789012", "12******9012"},
		{"8 digits", "12345678", "****5678"},
		{"4 digits", "1234", "**34"},
		{"3 digits", "123", "**3"},
		{"1 digit", "7", "*"},
		{"spaces kept in length", "4111 1111 1111 1111", "4111 1*********1111"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MaskPAN(tt.in)
			if got != tt.want {
				t.Errorf("MaskPAN(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if len([]rune(got)) != len([]rune(tt.in)) {
				t.Errorf("length changed")
			}
		})
	}
}

func TestMaskPANNeverMoreThanHalfForShort(t *testing.T) {
	for n := 1; n < 16; n++ {
		t.Run(strings.Repeat("9", n), func(t *testing.T) {
			got := MaskPAN(strings.Repeat("9", n))
			visible := strings.Count(got, "9")
			if visible*2 > n {
				t.Errorf("%d of %d characters visible: %q", visible, n, got)
			}
		})
	}
}

func TestMaskTrack2(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"equals", "4111111111111111=30121010000000000000", "411111******1111=****"},
		{"D separator", "4111111111111111D30121010000000000000F", "411111******1111D****"},
		{"sentinels", ";4111111111111111=3012101?", ";411111******1111=****"},
		{"no separator", "4111111111111111", "411111******1111"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskTrack2(tt.in); got != tt.want {
				t.Errorf("MaskTrack2(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no digits", "terminal signed on", "terminal signed on"},
		{"12-digit amount kept (fails Luhn)", "STAN 000042 amount 000000012345 rc=51",
			"STAN 000042 amount 000000012345 rc=51"},
		{"12-digit RRN kept (fails Luhn)", "rrn=633012000001", "rrn=633012000001"},
		{"15-digit Amex masked (passes Luhn)", "card 378282246310005", "card 378********0005"},
		{"16-digit run masked whatever it holds", "x 4111111111111112 y", "x 411111******1112 y"},
		{"11 digits kept", "rrn 12345678901", "rrn 12345678901"},
		{"pan in text", "declined card 4761739001010010 rc=05", "declined card 476173******0010 rc=05"},
		{"pan at start and end", "4111111111111111", "411111******1111"},
		{"two pans", "a=4111111111111111,b=5500005555555559;",
			"a=411111******1111,b=550000******5559;"},
		{"track2 equals", "DE35 4111111111111111=30121010000000000000 next",
			"DE35 411111******1111=**** next"},
		{"track2 D with padding", "t2:4111111111111111D3012101123456789F!", "t2:411111******1111D****!"},
		{"track2 sentinel", ";4111111111111111=3012101?", ";411111******1111=****"},
		{"D not track2", "4111111111111111Done", "411111******1111Done"},
		{"long run", "DE90 020000004201251230120000000000100000000000",
			"DE90 020000********************************0000"},
		{"LL prefixed pan", "164111111111111111", "164111********1111"},
		{"grouped spaces", "card 4111 1111 1111 1111 ok", "card 4111 11** **** 1111 ok"},
		{"grouped dashes", "4111-1111-1111-1111", "4111-11**-****-1111"},
		{"grouped amex", "3782 822463 10005", "378* ****** *0005"},
		{"grouped not luhn", "call 0123 4567 8901 2346", "call 0123 4567 8901 2346"},
		{"date not masked", "2024-01-15 10:00:00", "2024-01-15 10:00:00"},
		{"unicode around", "卡号6222021234567890123已拒绝", "卡号622202*********0123已拒绝"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskText(tt.in); got != tt.want {
				t.Errorf("MaskText(%q)\n = %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskTextLeavesNoLongRun(t *testing.T) {
	long := regexp.MustCompile(`[0-9]{12,}`)
	inputs := []string{
		"x4111111111111111y",
		strings.Repeat("1234567890", 10),
		"4111111111111111=4111111111111111=4111111111111111",
		"=====4111111111111111DDDD",
	}
	for _, in := range inputs {
		t.Run(in[:10], func(t *testing.T) {
			if got := MaskText(in); long.MatchString(got) {
				t.Errorf("MaskText(%q) = %q still has a long digit run", in, got)
			}
		})
	}
}

func FuzzMaskText(f *testing.F) {
	f.Add("4111111111111111=3012")
	f.Add("4111 1111 1111 1111")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got := MaskText(s)
		if regexp.MustCompile(`[0-9]{16,}`).MatchString(got) {
			t.Errorf("MaskText(%q) = %q leaves a long digit run", s, got)
		}
		for _, run := range regexp.MustCompile(`[0-9]{12,15}`).FindAllString(got, -1) {
			if luhnValid([]byte(run)) {
				t.Errorf("MaskText(%q) = %q leaves a Luhn-valid run %q", s, got, run)
			}
		}
	})
}
