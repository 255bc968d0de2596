package bounded_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso/bounded"
)

// TestRealDocumentsPass runs the scan over every YAML and JSON document in the repository:
// none may be refused (the limits must not get in the way of real files).
func TestRealDocumentsPass(t *testing.T) {
	n := 0
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "fuzz" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.Contains(p, "hostile") || strings.Contains(p, "bad") || strings.Contains(p, "invalid") {
			return nil
		}
		var check func([]byte, bounded.Limits) error
		switch filepath.Ext(p) {
		case ".yaml", ".yml":
			check = bounded.CheckYAML
		case ".json":
			check = bounded.CheckJSON
		default:
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if err := check(b, bounded.Document); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("only %d documents found; the walk is broken", n)
	}
}

func TestCheckYAML(t *testing.T) {
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	var indented strings.Builder
	for i := range 70 {
		indented.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	var seqmap strings.Builder
	for i := range 40 {
		seqmap.WriteString(strings.Repeat("  ", 2*i) + "- a:\n")
	}
	tests := []struct {
		name, doc string
		lim       bounded.Limits
		want      string // "" = accepted
	}{
		{"plain mapping", "title: x\nsteps:\n  - sale: 10.00\n  - echo:\n", bounded.Document, ""},
		{"block scalar hides nothing", "a: |\n  - - - - - -\n  {{{{{{{{{\nb: 1\n", bounded.Limits{Depth: 3}, ""},
		{"quoted brackets", "a: \"[[[[[[[[\"\nb: '{{{{{{{{{{'''\n", bounded.Limits{Depth: 3}, ""},
		{"comment brackets", "a: 1 # [[[[[[[[[[\n", bounded.Limits{Depth: 3}, ""},
		{"apostrophe in plain scalar", "a: it's [fine]\nb: don't\n", bounded.Limits{Depth: 3}, ""},
		{"flow nesting", "a: " + deep("[", "]", 70), bounded.Document, "nested deeper than 64"},
		{"flow maps", "a: " + deep("{b: ", "}", 70), bounded.Document, "nested deeper than 64"},
		{"compact sequences", strings.Repeat("- ", 70) + "x\n", bounded.Document, "nested deeper than 64"},
		{"indentation", indented.String(), bounded.Document, "nested deeper than 64"},
		{"sequence of mappings", seqmap.String(), bounded.Document, "nested deeper than 64"},
		{"many nodes", strings.Repeat("- a\n", 30_000), bounded.Document, "more than 20000 nodes"},
		{"many flow nodes", "[" + strings.Repeat("1,", 30_000) + "1]", bounded.Document, "more than 20000 nodes"},
		{"alias refused", "a: &x 1\nb: *x\n", bounded.Strict, "aliases (*name) are not allowed"},
		{"aliases counted", "a: &x 1\nb: [" + strings.Repeat("*x, ", 101) + "]\n", bounded.Document, "more than 100 YAML aliases"},
		{"size", strings.Repeat("#", 2<<20), bounded.Document, "more than the 1 MiB allowed"},
		{"documents reset the stack", strings.Repeat("---\na:\n  b:\n    c: 1\n", 100), bounded.Limits{Depth: 4}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := bounded.CheckYAML([]byte(tc.doc), tc.lim)
			check(t, err, tc.want)
		})
	}
}

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name, doc string
		want      string
	}{
		{"object", `{"a": [1, 2, {"b": "[[[[[["}], "c": "\"{"}`, ""},
		{"deep arrays", strings.Repeat("[", 65) + strings.Repeat("]", 65), "line 1 column 65: nested deeper than 64"},
		{"deep objects", strings.Repeat(`{"a":`, 70), "nested deeper than 64"},
		{"many nodes", "[" + strings.Repeat("1,", 30_000) + "1]", "more than 20000 nodes"},
		{"size", `"` + strings.Repeat("x", 2<<20) + `"`, "more than the 1 MiB allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, bounded.CheckJSON([]byte(tc.doc), bounded.Document), tc.want)
		})
	}
}

func check(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want one containing %q", err, want)
	}
	if !errors.Is(err, bounded.ErrLimit) {
		t.Fatalf("%v does not wrap ErrLimit", err)
	}
}

// TestScanMemory: the scan of a 1 MiB nested document allocates (almost) nothing.
func TestScanMemory(t *testing.T) {
	docs := map[string][]byte{
		"yaml flow":    []byte(strings.Repeat("[", 1<<20)),
		"yaml compact": []byte(strings.Repeat("- ", 1<<19)),
		"json":         []byte(strings.Repeat(`{"a":`, (1<<20)/5)),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			lim := bounded.Limits{Size: 2 << 20}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var err error
			if strings.HasPrefix(name, "json") {
				err = bounded.CheckJSON(doc, lim)
			} else {
				err = bounded.CheckYAML(doc, lim)
			}
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("accepted")
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
				t.Fatalf("scan allocated %d bytes", d)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil { // 2 GiB, no blocks written
		t.Fatal(err)
	}
	f.Close()
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"fifo", fifo, "a named pipe (FIFO)"},
		{"dev zero", "/dev/zero", "a character device"},
		{"directory", dir, "a directory"},
		{"2 GiB sparse", sparse, "2 GiB, more than the 1 MiB allowed"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"regular", ok, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			b, err := bounded.ReadFile(tc.path, bounded.MaxDocument)
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start)) // a FIFO would block for ever
			}
			if tc.want == "" {
				if err != nil || string(b) != "a: 1\n" {
					t.Fatalf("ReadFile = %q, %v", b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("error = %v, want one naming %s and saying %q", err, tc.path, tc.want)
			}
		})
	}
}
