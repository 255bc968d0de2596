package scenarios_test

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/scenarios"
)

// FuzzParseScenario: any input gives a scenario or an ErrorList (errors.Is ErrInvalid),
// never a panic; every position is inside the input; no full card number is echoed in an
// error. Seeds: every library scenario (f.Add), so they follow the library as it grows.
func FuzzParseScenario(f *testing.F) {
	_ = fs.WalkDir(scenarios.LibraryFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			if b, err := fs.ReadFile(scenarios.LibraryFS(), p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		// `cards: PATH` reads a file: keep the fuzzer away from devices and the system
		// (reading /dev/zero never ends; see RELIABILITY.md).
		if bytes.Contains(data, []byte("cards")) {
			for _, p := range []string{"/", "..", "~"} { // only files next to fuzz.yaml
				if bytes.Contains(data, []byte(p)) {
					t.Skip()
				}
			}
		}
		sc, err := scenarios.Parse(data, filepath.Join(dir, "fuzz.yaml"))
		if err != nil {
			if sc != nil {
				t.Fatalf("scenario and error both returned")
			}
			if !errors.Is(err, scenarios.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			msg := err.Error()
			for _, pan := range []string{"4111111111111111", "5555555555554444", "6212345678901265"} {
				if strings.Contains(msg, pan) {
					t.Fatalf("error shows a full card number: %s", iso.MaskText(msg))
				}
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			var list scenarios.ErrorList
			if errors.As(err, &list) {
				for _, e := range list {
					if e.Pos.Line < 0 || e.Pos.Line > lines+1 {
						t.Fatalf("error position line %d outside the %d-line input: %v", e.Pos.Line, lines, e)
					}
				}
			}
			return
		}
		if sc == nil || len(sc.Steps) == 0 {
			t.Fatalf("valid scenario without steps: %+v", sc)
		}
	})
}
