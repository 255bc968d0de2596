package iso

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// genericPack and genericUnpack are the moov-based path, whether or not AppendPack and
// Unpack take the fast path first.
func genericPack(d *Dialect, dst []byte, m *Message) ([]byte, error) {
	fastPathOff.Store(true)
	defer fastPathOff.Store(false)
	return d.AppendPack(dst, m)
}

func genericUnpack(d *Dialect, b []byte) (*Message, error) {
	fastPathOff.Store(true)
	defer fastPathOff.Store(false)
	return d.Unpack(b)
}

func defOf(id int) (fieldDef, bool) {
	for _, f := range fields87 {
		if f.id == id {
			return f, true
		}
	}
	return fieldDef{}, false
}

// randText returns a value for a text field: mostly valid for its kind and length, some
// short (padding), too long, empty, with a byte above 0x7F or a non-digit.
func randText(r *rand.Rand, def fieldDef, hostile bool) string {
	n := def.length
	if def.vary != 0 {
		n = r.IntN(min(def.length, 40) + 1)
	}
	switch p := r.IntN(100); {
	case p < 10 && def.vary == 0 && def.length > 1:
		n = 1 + r.IntN(def.length-1) // short: padded
	case p < 16 && hostile:
		n = def.length + 1 + r.IntN(3) // too long
	case p < 20:
		return ""
	}
	b := make([]byte, n)
	for i := range b {
		switch def.k {
		case kN:
			b[i] = '0' + byte(r.IntN(10))
		case kZ:
			b[i] = '0' + byte(r.IntN(10))
		default:
			b[i] = byte(0x20 + r.IntN(0x5F))
		}
	}
	if def.k == kZ && n > 2 {
		b[n/2] = "=Dd"[r.IntN(3)]
	}
	if n > 0 && hostile {
		switch p := r.IntN(100); {
		case p < 4:
			b[r.IntN(n)] = byte(0x80 + r.IntN(0x80))
		case p < 8:
			b[r.IntN(n)] = "A= ?F"[r.IntN(5)]
		}
	}
	return string(b)
}

func randBytes(r *rand.Rand, def fieldDef, hostile bool) []byte {
	n := def.length
	if def.vary != 0 {
		n = 1 + r.IntN(min(def.length, 60))
	}
	switch p := r.IntN(100); {
	case p < 8 && hostile:
		n += 1 + r.IntN(3)
	case p < 12 && n > 1 && hostile:
		n--
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

// randMessage: half the messages are valid, in the other half any field may be damaged.
func randMessage(r *rand.Rand) *Message {
	hostile := r.IntN(2) == 0
	m := &Message{MTI: fmt.Sprintf("%04d", r.IntN(10000))}
	if hostile && r.IntN(20) == 0 {
		m.MTI = []string{"", "02x0", "020", "02000"}[r.IntN(4)]
	}
	density := 0.1 + 0.5*r.Float64()
	for _, id := range namedIDs {
		if r.Float64() > density {
			continue
		}
		def, _ := defOf(id)
		if p := m.bin(id); p != nil {
			*p = randBytes(r, def, hostile)
		} else {
			*m.str(id) = randText(r, def, hostile)
		}
	}
	if r.IntN(8) == 0 {
		// An unnamed field, as Set stores it.
		for {
			def := fields87[r.IntN(len(fields87))]
			if m.str(def.id) != nil || m.bin(def.id) != nil {
				continue
			}
			if def.k == kB {
				m.Other = map[int]string{def.id: fmt.Sprintf("%x", randBytes(r, def, hostile))}
			} else if v := randText(r, def, hostile); v != "" {
				m.Other = map[int]string{def.id: v}
			}
			break
		}
	}
	return m
}

// mutate damages a payload the way a bad peer or a bad line would.
func mutate(r *rand.Rand, p []byte) []byte {
	q := append([]byte(nil), p...)
	if len(q) == 0 {
		return []byte{byte(r.IntN(256))}
	}
	switch r.IntN(5) {
	case 0:
		q[r.IntN(len(q))] = byte(r.IntN(256))
	case 1:
		q = q[:r.IntN(len(q))]
	case 2:
		q = append(q, byte(r.IntN(256)))
	case 3:
		q[r.IntN(len(q))] = '0' + byte(r.IntN(10))
	case 4:
		i := r.IntN(len(q))
		q[i] ^= 1 << r.IntN(8)
	}
	return q
}

func TestFastPathCompiledForEveryBuiltinDialect(t *testing.T) {
	for _, d := range Dialects() {
		if fastCodecs[d] == nil {
			t.Errorf("dialect %s: no fast codec (compileFast rejected its spec)", d.Name)
		}
	}
}

// TestFastPathIsByteIdentical: for random messages (valid, padded, too long, non-ASCII,
// unnamed fields) and random damage to their packed form, whatever the fast path accepts
// it packs to the same bytes and unpacks to the same Message as the generic path; and it
// accepts every message without unnamed fields that the generic path packs, and every
// payload the generic path packed.
func TestFastPathIsByteIdentical(t *testing.T) {
	for _, d := range Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			fc := fastCodecs[d]
			if fc == nil {
				t.Skip("no fast codec")
			}
			n := 4000
			if d == BCD || testing.Short() {
				n = 600 // moov's BCD is ~100 µs a message
			}
			r := rand.New(rand.NewPCG(uint64(len(d.Name)), 8))
			prefix := []byte{0xAA, 0xBB}
			var packedFast, packedGeneric, unpackedFast, unpackedGeneric int
			for i := 0; i < n; i++ {
				m := randMessage(r)
				g, gerr := genericPack(d, append([]byte(nil), prefix...), m)
				f, ok := fc.appendPack(append([]byte(nil), prefix...), m)
				if gerr == nil {
					packedGeneric++
				}
				if ok {
					packedFast++
					if gerr != nil {
						t.Fatalf("message %d: fast path packed what the generic path refuses (%v): %+v", i, gerr, m)
					}
					if !bytes.Equal(f, g) {
						t.Fatalf("message %d: packed bytes differ\nfast    % X\ngeneric % X\n%+v", i, f, g, m)
					}
				} else if gerr == nil && len(m.Other) == 0 {
					t.Fatalf("message %d: generic path packs it, fast path declines: %+v", i, m)
				}
				if gerr != nil {
					continue
				}
				payloads := [][]byte{g[len(prefix):]}
				for j := 0; j < 4; j++ {
					payloads = append(payloads, mutate(r, g[len(prefix):]))
				}
				for j, p := range payloads {
					gm, gerr := genericUnpack(d, p)
					fm, ok := fc.unpack(p)
					if gerr == nil {
						unpackedGeneric++
					}
					if !ok {
						if j == 0 {
							t.Fatalf("message %d: fast path declines a payload the generic path packed: % X", i, p)
						}
						continue
					}
					unpackedFast++
					if gerr != nil {
						t.Fatalf("message %d/%d: fast path unpacked what the generic path refuses (%v): % X", i, j, gerr, p)
					}
					if !reflect.DeepEqual(gm, fm) {
						t.Fatalf("message %d/%d: unpacked messages differ (-generic +fast):\n%s\npayload % X", i, j, cmp.Diff(gm, fm), p)
					}
				}
			}
			t.Logf("%d messages: packed generic %d, fast %d; unpacked generic %d, fast %d",
				n, packedGeneric, packedFast, unpackedGeneric, unpackedFast)
			if packedFast < n/4 {
				t.Errorf("only %d of %d random messages took the fast path: the generator is too hostile to test much", packedFast, n)
			}
		})
	}
}

// FuzzFastUnpack: on any bytes the fast path either declines or agrees with the generic
// path.
func FuzzFastUnpack(f *testing.F) {
	for _, d := range Dialects() {
		p, err := genericPack(d, nil, benchSale())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, d := range Dialects() {
			fc := fastCodecs[d]
			fm, ok := fc.unpack(p)
			if !ok {
				continue
			}
			gm, err := genericUnpack(d, p)
			if err != nil {
				t.Fatalf("%s: fast path unpacked what the generic path refuses: %v", d.Name, err)
			}
			if !reflect.DeepEqual(gm, fm) {
				t.Fatalf("%s: (-generic +fast):\n%s", d.Name, cmp.Diff(gm, fm))
			}
		}
	})
}

func TestNamedIDsArrayMatchesNamedIDs(t *testing.T) {
	if len(namedIDsArray) != len(namedIDs) {
		t.Fatalf("namedIDsArray has %d ids, namedIDs %d", len(namedIDsArray), len(namedIDs))
	}
	for i, id := range namedIDs {
		if int(namedIDsArray[i]) != id {
			t.Fatalf("namedIDsArray[%d] = %d, namedIDs[%d] = %d", i, namedIDsArray[i], i, id)
		}
	}
}

// TestPresentIDsMatchesPresent: the unrolled presence list agrees with present for random
// messages.
func TestPresentIDsMatchesPresent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 2000; i++ {
		m := randMessage(r)
		var ids [len(namedIDsArray)]uint8
		n := m.presentIDs(&ids)
		var want []uint8
		for _, id := range namedIDsArray {
			if m.present(int(id)) {
				want = append(want, id)
			}
		}
		if !bytes.Equal(ids[:n], want) {
			t.Fatalf("presentIDs %v, present %v", ids[:n], want)
		}
	}
}
