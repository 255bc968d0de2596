package tui

import (
	"strings"
	"testing"
)

// TestWrapKeepsQuotesWithTheirText: a Chinese line never starts with a closing mark (” is
// narrow in uniseg's widths, unlike ，。) nor ends with an opening one.
func TestWrapKeepsQuotesWithTheirText(t *testing.T) {
	for _, w := range []int{10, 11, 12, 13, 30, 31, 32} {
		for _, line := range wrap("顾客：“我挥一下就行吧？赶时间。”旁边的人说：“快点。”", w) {
			if strings.HasPrefix(line, "”") || strings.HasPrefix(line, "。") || strings.HasSuffix(line, "“") {
				t.Errorf("width %d: line %q breaks a quotation", w, line)
			}
			if textWidth(line) > w {
				t.Errorf("width %d: line %q is %d wide", w, line, textWidth(line))
			}
		}
	}
}

// TestReceiptLinesMaskCardsNotRRN: a slip on screen keeps its retrieval reference number
// (12 digits that pass the Luhn check here) while any card number is masked.
func TestReceiptLinesMaskCardsNotRRN(t *testing.T) {
	got := receiptLines("CARD 4111111111111111\nRRN                 379200822466\n参考号(REFER NO.): 379200822466\nNOTE 4111111111111111\n")
	want := []string{"CARD 411111******1111", "RRN                 379200822466", "参考号(REFER NO.): 379200822466", "NOTE 411111******1111"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("receiptLines = %q, want %q", got, want)
	}
}
