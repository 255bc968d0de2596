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
