package scenarios_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/decode"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/simulator"
)

// maxReaderAlloc is the stated bound (RELIABILITY.md) on what any YAML or JSON reader of
// posdrill allocates for a hostile document of 1 MiB: it is refused by the limit scan
// (iso/bounded) before a parser builds anything.
const maxReaderAlloc = 8 << 20

// hostileDocs are 1 MiB documents: nested every way YAML and JSON nest, and flat with
// too many nodes.
func hostileDocs() map[string][]byte {
	const mib = 1 << 20
	var indented strings.Builder
	for i := 0; indented.Len() < mib-2048; i++ {
		indented.WriteString(strings.Repeat(" ", i%2000) + "k:\n")
	}
	return map[string][]byte{
		"yaml flow":        []byte("a: " + strings.Repeat("[", mib-3)),
		"yaml flow maps":   []byte(strings.Repeat("{a: ", mib/4)),
		"yaml compact":     []byte(strings.Repeat("- ", mib/2)),
		"yaml indented":    []byte(indented.String()),
		"yaml many nodes":  []byte(strings.Repeat("- a\n", mib/4)),
		"yaml alias storm": []byte("a: &a [x, x]\n" + strings.Repeat("b: [*a, *a, *a, *a]\n", mib/24)),
		"json nested":      []byte(strings.Repeat(`{"a":`, mib/5)),
		"json arrays":      []byte(strings.Repeat("[", mib)),
		"json many nodes":  []byte("[" + strings.Repeat("1,", mib/2-1) + "1]"),
	}
}

// TestNestedDocumentsBounded feeds every YAML and JSON reader each hostile document and
// checks it is refused within maxReaderAlloc (runtime.MemStats TotalAlloc, which counts
// every allocation, garbage included). The POST /faults and file paths use the same
// readers; cmd/posdrill's TestHostileFiles gives them as files to every flag.
func TestNestedDocumentsBounded(t *testing.T) {
	readers := map[string]func([]byte) error{
		"scenario":           func(b []byte) error { _, err := scenarios.Parse(b, "s.yaml"); return err },
		"fault rules (YAML)": func(b []byte) error { _, err := fault.ParseYAML(b, "f.yaml"); return err },
		"fault rules (JSON)": func(b []byte) error { _, err := fault.ParseJSON(b); return err },
		"cards":              func(b []byte) error { _, err := cards.Parse(b, "c.yaml"); return err },
		"profile":            func(b []byte) error { _, err := simulator.ParseProfile(b, "p.yaml"); return err },
		"encode input":       func(b []byte) error { _, err := decode.ParseLiteral(b, "m.yaml"); return err },
	}
	for rname, read := range readers {
		for dname, doc := range hostileDocs() {
			json := strings.HasPrefix(dname, "json")
			if rname == "fault rules (JSON)" && !json {
				continue
			}
			t.Run(rname+"/"+dname, func(t *testing.T) {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				err := read(doc)
				runtime.ReadMemStats(&after)
				if err == nil {
					t.Fatal("accepted")
				}
				d := after.TotalAlloc - before.TotalAlloc
				t.Logf("%d KiB", d>>10)
				if d > maxReaderAlloc {
					t.Errorf("allocated %d KiB reading a 1 MiB document (bound %d KiB): %v", d>>10, maxReaderAlloc>>10, firstLine(err))
				}
			})
		}
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
