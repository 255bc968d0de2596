package isotest_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/posdrill/posdrill/iso/isotest"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b isotest.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("ab"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if b.Len() != 8*100*2 || strings.Count(b.String(), "ab") != 800 {
		t.Fatalf("Len %d, %d pairs; want 1600 bytes, 800 pairs", b.Len(), strings.Count(b.String(), "ab"))
	}
}
