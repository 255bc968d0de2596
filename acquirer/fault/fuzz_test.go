package fault

import (
	"errors"
	"os"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseYAML: any input gives rules or a *ParseError, never a panic, and every reported
// position is inside the input.
func FuzzParseYAML(f *testing.F) {
	addSeeds(f, "testdata/good.yaml", "testdata/bad.yaml")
	for _, s := range []string{"", "- action: *a\n", "a: &a [*a]\n", "- {action: delay, params: {ms: 9999999999999999999999}}\n",
		"- <<: {x: 1}\n", "faults:\n- action: !!str 1\n", "[[[[[[[[[[[[[[[[[[[[[[[[[[", "- action: reset\n\t- x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseYAML(data, "fuzz.yaml")
		checkResult(t, rules, err)
		var pe *ParseError
		if errors.As(err, &pe) {
			lines := 1
			for i, c := range data {
				// YAML breaks lines at \n, and at a lone \r too.
				if c == '\n' || (c == '\r' && (i+1 == len(data) || data[i+1] != '\n')) {
					lines++
				}
			}
			for _, e := range pe.Errs {
				if e.Line < 1 || e.Column < 0 || (utf8.Valid(data) && e.Line > lines+1) {
					t.Errorf("position %d:%d outside the %d-line input: %s", e.Line, e.Column, lines, e)
				}
			}
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"action":"reset"}`, `[{"action":"delay","params":{"ms":5}},{"action":"explode"}]`,
		`{"match":{"mti":["0200",1]},"action":"decline","params":{"code":"05"},"probability":1e400}`, `[`, `{"a":1,"a":2}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseJSON(data)
		checkResult(t, rules, err)
	})
}

func checkResult(t *testing.T, rules []Rule, err error) {
	t.Helper()
	if err != nil {
		if rules != nil {
			t.Errorf("rules and error both returned")
		}
		if !errors.Is(err, ErrInvalidRule) {
			t.Errorf("error does not wrap ErrInvalidRule: %v", err)
		}
		return
	}
	// Whatever parses must be accepted by the engine unchanged.
	e := NewEngine(1, nil)
	if _, err := e.Add(rules...); err != nil {
		t.Errorf("parsed rules rejected by Add: %v", err)
	}
}
