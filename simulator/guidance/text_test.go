package guidance

import "testing"

func TestPlainTextLanguage(t *testing.T) {
	tests := []struct {
		name, in string
		want     Text
	}{
		{"english", "Expired card declined", Text{En: "Expired card declined"}},
		{"chinese", "卡片过期被拒", Text{Zh: "卡片过期被拒"}},
		{"chinese with a brand", "顾客插入 Visa 卡", Text{Zh: "顾客插入 Visa 卡"}},
		{"english quoting the screen", `The host declines with A0 ("MAC校验错，请重新签到"). Nothing was charged.`,
			Text{En: `The host declines with A0 ("MAC校验错，请重新签到"). Nothing was charged.`}},
		{"digits only", "42", Text{En: "42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlainText(tt.in); got != tt.want {
				t.Errorf("PlainText(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestTextFallsBack(t *testing.T) {
	both := Text{En: "Card expired", Zh: "卡片过期"}
	if both.In(Zh) != "卡片过期" || both.In(En) != "Card expired" || both.String() != "Card expired" {
		t.Errorf("both: %q %q %q", both.In(Zh), both.In(En), both.String())
	}
	zh := Text{Zh: "卡片过期"}
	if zh.In(En) != "卡片过期" || len(zh.Missing()) != 1 || zh.Missing()[0] != En {
		t.Errorf("zh only: %q, missing %v", zh.In(En), zh.Missing())
	}
	if !(Text{}).IsZero() || both.IsZero() {
		t.Error("IsZero")
	}
}
