package guidance

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
)

// isoKeys is every guidance key package iso can produce: the keys of all response codes,
// the unknown-code key and the terminal-outcome keys.
func isoKeys() []string {
	var keys []string
	for _, t := range iso.CodeTables() {
		for _, c := range t.Codes() {
			keys = append(keys, c.Guidance)
		}
	}
	keys = append(keys, iso.LookupCode("not a code").Guidance)
	keys = append(keys, iso.TerminalOutcomes()...)
	slices.Sort(keys)
	return slices.Compact(keys)
}

func entryTexts(e Entry) []string {
	return append([]string{e.Title, e.What, e.Tell}, e.Steps...)
}

func TestEveryISOKeyHasEntries(t *testing.T) {
	for _, key := range isoKeys() {
		for _, lang := range []Lang{En, Zh} {
			t.Run(key+"/"+string(lang), func(t *testing.T) {
				if !Known(key) {
					t.Fatalf("no catalog entry for %q", key)
				}
				e := Lookup(key, lang)
				if strings.TrimSpace(e.Title) == "" || strings.TrimSpace(e.What) == "" || strings.TrimSpace(e.Tell) == "" {
					t.Errorf("empty Title, What or Tell: %+v", e)
				}
				if len(e.Steps) == 0 {
					t.Fatal("no steps")
				}
				for i, s := range e.Steps {
					if strings.TrimSpace(s) == "" {
						t.Errorf("step %d empty", i+1)
					}
				}
				for _, s := range entryTexts(e) {
					if lang == Zh && s != "" && !HasHan(s) {
						t.Errorf("zh text without Chinese: %q", s)
					}
					if lang == En && HasHan(s) {
						t.Errorf("en text with Chinese: %q", s)
					}
				}
			})
		}
	}
}

func TestKeysMatchISO(t *testing.T) {
	if got, want := Keys(), isoKeys(); !slices.Equal(got, want) {
		t.Errorf("Keys() = %v\nwant iso keys %v", got, want)
	}
	if !slices.IsSorted(Keys()) {
		t.Error("Keys() not sorted")
	}
}

func TestNoCardDataInCatalog(t *testing.T) {
	longDigits := regexp.MustCompile(`[0-9]{12,}`)
	for _, key := range Keys() {
		for _, lang := range []Lang{En, Zh} {
			t.Run(key+"/"+string(lang), func(t *testing.T) {
				for _, s := range entryTexts(Lookup(key, lang)) {
					if longDigits.MatchString(s) || iso.MaskText(s) != s {
						t.Errorf("text may contain a PAN: %q", s)
					}
				}
			})
		}
	}
}

// TestKeyAdvice pins the advice that matters most (docs/domain.md §2, §3).
func TestKeyAdvice(t *testing.T) {
	tests := []struct {
		name, key string
		lang      Lang
		want      []string // substrings of What+Steps+Tell, case-insensitive
	}{
		{"expired checks date", iso.GuidanceExpiredCard, En, []string{"expiry date", "another card"}},
		{"expired zh", iso.GuidanceExpiredCard, Zh, []string{"有效期", "换一张卡"}},
		{"pending never charge again", iso.GuidanceReversalPending, En, []string{"do not charge the card again", "last transaction", "released"}},
		{"pending zh", iso.GuidanceReversalPending, Zh, []string{"不要再刷卡扣款", "最后一笔", "自动退回"}},
		{"reversed no refund", iso.GuidanceNoAnswerReversed, En, []string{"do not refund", "not been charged"}},
		{"duplicate never re-key", iso.GuidanceDuplicateTransmission, En, []string{"do not key the payment in again", "last transaction"}},
		{"duplicate zh", iso.GuidanceDuplicateTransmission, Zh, []string{"不要重新输入", "最后一笔"}},
		{"nsf split", iso.GuidanceInsufficientFunds, En, []string{"another card", "split"}},
		{"pick up calm", iso.GuidancePickUpCard, En, []string{"do not try the card again", "do not accuse", "calm"}},
		{"pick up zh", iso.GuidancePickUpCard, Zh, []string{"不要再用这张卡重试", "不要指责"}},
		{"issuer down retry once", iso.GuidanceIssuerUnavailable, En, []string{"wait", "once more", "another payment"}},
		{"printer reprint", iso.GuidancePrinterOut, En, []string{"approved", "paper", "reprint", "do not charge"}},
		{"printer zh", iso.GuidancePrinterOut, Zh, []string{"已经成功", "纸", "重打印"}},
		{"fraud not disclosed", iso.GuidanceCardRestricted, En, []string{"do not tell"}},
		{"host unreachable safe", iso.GuidanceHostUnreachable, En, []string{"nothing was charged", "try again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Lookup(tt.key, tt.lang)
			all := strings.ToLower(strings.Join(entryTexts(e), "\n"))
			for _, w := range tt.want {
				if !strings.Contains(all, strings.ToLower(w)) {
					t.Errorf("%s/%s lacks %q", tt.key, tt.lang, w)
				}
			}
		})
	}
}

func TestLookupFallbacks(t *testing.T) {
	tests := []struct {
		name string
		key  string
		lang Lang
		want Entry
	}{
		{"unknown key en", "no_such_key", En, generic.en},
		{"unknown key zh", "no_such_key", Zh, generic.zh},
		{"empty key", "", En, generic.en},
		{"unknown lang is English", iso.GuidanceApproved, Lang("fr"), catalog[iso.GuidanceApproved].en},
		{"empty lang is English", iso.GuidanceApproved, "", catalog[iso.GuidanceApproved].en},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Lookup(tt.key, tt.lang)
			if got.Title != tt.want.Title || !slices.Equal(got.Steps, tt.want.Steps) || got.Title == "" {
				t.Errorf("Lookup(%q, %q) = %+v, want %+v", tt.key, tt.lang, got, tt.want)
			}
		})
	}
	if Known("no_such_key") {
		t.Error("Known(no_such_key) = true")
	}
}

func TestLookupReturnsCopy(t *testing.T) {
	e := Lookup(iso.GuidanceApproved, En)
	e.Steps[0] = "changed"
	if Lookup(iso.GuidanceApproved, En).Steps[0] == "changed" {
		t.Error("Lookup shares its Steps slice with the catalog")
	}
}

func TestDetectLang(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Lang
	}{
		{"nothing set", nil, En},
		{"LANG zh_CN", map[string]string{"LANG": "zh_CN.UTF-8"}, Zh},
		{"LANG zh_TW", map[string]string{"LANG": "zh_TW.UTF-8"}, Zh},
		{"LANG bare zh", map[string]string{"LANG": "zh"}, Zh},
		{"LANG en_US", map[string]string{"LANG": "en_US.UTF-8"}, En},
		{"LANG C", map[string]string{"LANG": "C"}, En},
		{"LC_ALL wins over LANG", map[string]string{"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, En},
		{"LC_ALL zh", map[string]string{"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, Zh},
		{"LC_MESSAGES over LANG", map[string]string{"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, Zh},
		{"LC_ALL over LC_MESSAGES", map[string]string{"LC_ALL": "C.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, En},
		{"empty LC_ALL skipped", map[string]string{"LC_ALL": "", "LANG": "zh_SG.UTF-8"}, Zh},
		{"upper case", map[string]string{"LANG": "ZH_CN"}, Zh},
		{"POSIX", map[string]string{"LANG": "POSIX"}, En},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return tt.env[k] }
			if got := DetectLang(env); got != tt.want {
				t.Errorf("DetectLang = %q, want %q", got, tt.want)
			}
		})
	}
}
