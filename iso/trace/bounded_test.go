package trace_test

import (
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/trace"
)

// TestReaderBoundsRecords: a trace line nested deep or with too many values is refused
// before it is decoded, with its line number; a line past 4 MiB ends the read with an error.
func TestReaderBoundsRecords(t *testing.T) {
	tests := []struct{ name, input, want string }{
		{"nested", `{"type":"message","x":` + strings.Repeat("[", 1<<20) + "\n", "line 1: not a trace record: line 1 column 30: nested deeper than 8"},
		{"many values", "\n" + `{"type":"message","x":[` + strings.Repeat("1,", 2000) + "1]}\n", "line 2: not a trace record: line 1 column"},
		{"too long", `{"type":"message","x":"` + strings.Repeat("a", 5<<20) + `"}` + "\n", "token too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := trace.NewReader(strings.NewReader(tc.input)).Next()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Next = %v, want %q", err, tc.want)
			}
		})
	}
}
