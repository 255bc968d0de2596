package simulator

import (
	"path/filepath"
	"testing"
)

func TestWrap6(t *testing.T) {
	tests := []struct{ in, want int }{{0, 1}, {1, 2}, {999998, 999999}, {999999, 1}, {-5, 1}}
	for _, tc := range tests {
		if got := wrap6(tc.in); got != tc.want {
			t.Errorf("wrap6(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestCountersPersistAndWrap: the STAN and batch counters survive a reopen and wrap
// 999999 → 000001.
func TestCountersPersistAndWrap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.setCounters(999998, 999999); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"999999", "000001"} {
		if got, err := j.nextSTAN(); err != nil || got != want {
			t.Fatalf("nextSTAN = %s, %v; want %s", got, err, want)
		}
	}
	if err := j.close(ErrClosed); err != nil {
		t.Fatal(err)
	}
	if _, err := j.nextSTAN(); err == nil {
		t.Fatal("a closed journal allocated a STAN")
	}
	j, err = openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close(ErrClosed)
	if got, _ := j.nextSTAN(); got != "000002" {
		t.Errorf("after reopen nextSTAN = %s, want 000002", got)
	}
	if got, _ := j.batch(); got != "999999" {
		t.Errorf("batch = %s", got)
	}
	if err := func() error { t := &Terminal{j: j}; return t.closeBatch() }(); err != nil {
		t.Fatal(err)
	}
	if got, _ := j.batch(); got != "000001" {
		t.Errorf("batch after closing 999999 = %s, want 000001", got)
	}
}
