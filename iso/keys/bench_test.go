package keys_test

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/posdrill/posdrill/iso/keys"
)

// The cipher cache: what a cached key costs against a key seen for the first time (a DUKPT
// key, or the first message after sign-on). Numbers in BENCHMARKS.md.
func BenchmarkCipher(b *testing.B) {
	key := []byte("0123456789abcdef")
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := keys.Cipher(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new key", func(b *testing.B) {
		k := make([]byte, 16)
		var i uint64
		for b.Loop() {
			i++
			binary.BigEndian.PutUint64(k[8:], i)
			if _, err := keys.Cipher(k); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Many distinct keys (more than the cache holds) from several goroutines: every cipher still
// encrypts as a fresh one would. Run with -race to check the cache's locking.
func TestCipherCacheManyKeys(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := make([]byte, 16)
			for i := range 3000 {
				binary.BigEndian.PutUint32(k[4:], uint32(g))
				binary.BigEndian.PutUint32(k[12:], uint32(i))
				a, err := keys.EncryptECB(k, make([]byte, 8))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := keys.EncryptECB(k, make([]byte, 8)) // second time: from the cache
				kcv, _ := keys.KCV(k)
				if !keys.Equal(a, b) || !keys.Equal(a[:3], kcv) {
					t.Errorf("key %d/%d: %X %X %X", g, i, a, b, kcv)
					return
				}
			}
		}()
	}
	wg.Wait()
}
