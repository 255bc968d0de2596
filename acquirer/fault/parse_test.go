package fault

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func prob(p float64) *float64 { return &p }

func TestParseYAMLGoodFile(t *testing.T) {
	data, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseYAML(data, "good.yaml")
	if err != nil {
		t.Fatalf("ParseYAML: %v", err)
	}
	want := []Rule{
		{Name: "issuer down on the coffee card", Match: Match{Card: "coffee", MTI: StringList{"0200"}},
			Action: "decline", Params: Params{Code: "91"}, Count: 1},
		{Name: "lose the answer to big sales", Match: Match{MTI: StringList{"0200", "0201"}, AmountMin: "100.00"},
			Action: "drop_after_commit", After: 2},
		{Name: "slow refunds", Match: Match{ProcessingCode: "20", EntryMode: "contactless"},
			Action: "delay", Params: Params{MS: 35000}, Probability: prob(0.5)},
		{Action: "split_response", Params: Params{Chunk: 7}},
		{Action: "refuse_connections"},
		{Action: "partial_approval", Match: Match{Amount: "25.00", PANPrefix: "476173"}, Params: Params{Amount: "10.00"}},
		{Action: "decline", Params: Params{Code: "05"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestParseYAMLBadFileReportsEveryError(t *testing.T) {
	data, err := os.ReadFile("testdata/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseYAML(data, "faults.yaml")
	if rules != nil {
		t.Errorf("rules = %v, want nil on error", rules)
	}
	if !errors.Is(err, ErrInvalidRule) {
		t.Fatalf("errors.Is(err, ErrInvalidRule) = false for %v", err)
	}
	want := []string{
		`faults.yaml:7:11: unknown action "explode" (known: ` + knownActions + `)`,
		`faults.yaml:13:9: params.ms: must be > 0 for delay (at most 86400000)`,
		`faults.yaml:14:5: params.colour: unknown parameter (known: code, ms, bytes, chunk, gap_ms, amount)`,
		`faults.yaml:17:18: params.code: must be a 2-character response code like "05" for decline`,
		`faults.yaml:18:10: after: must be a whole number, got string "many"`,
		`faults.yaml:19:16: probability: must be between 0 and 1`,
		`faults.yaml:21:17: match.mti[1]: "02x0" is not a 4-digit message type like "0200"`,
		`faults.yaml:22:17: match.entry_mode: unknown entry mode "tap" (known: chip, contactless, swipe, fallback, keyed, qr)`,
		`faults.yaml:23:13: match.amount: amount "25.001": 3 decimals; an amount has at most 2, e.g. 25.00`,
		`faults.yaml:24:3: acton: unknown field (known: name, match, action, params, after, count, probability)`,
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error is %T, want *ParseError", err)
	}
	// Structured fields for tools: the fourth problem is in the fourth rule (index 3).
	if got := pe.Errs[3]; got.Rule != 3 || got.Field != "params.code" || got.Line != 17 || got.Column != 18 || got.File != "faults.yaml" {
		t.Errorf("Errs[3] = %+v", got)
	}
}

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"syntax error has a position", "- action: delay\n  params: {ms: 5\n",
			[]string{"f.yaml:2:11: could not find flow mapping end token '}'"}},
		{"top level scalar", "hello\n",
			[]string{"f.yaml:1:1: expected a rule (mapping) or a list of rules, got string"}},
		{"rule is not a mapping", "- reset\n",
			[]string{"f.yaml:1:3: a rule must be a mapping of fields, got string"}},
		{"missing action", "- name: x\n",
			[]string{"f.yaml:1:3: action: missing (known: " + knownActions + ")"}},
		{"alias takes no code", "- action: issuer_down\n  params: {code: \"05\"}\n",
			[]string{"f.yaml:2:18: params.code: not allowed for issuer_down (it always declines with 91)"}},
		{"param of another action", "- action: reset\n  params:\n    bytes: 3\n",
			[]string{"f.yaml:3:12: params.bytes: not a parameter of reset (it takes no params)"}},
		{"wrong type for params", "- action: delay\n  params: 5\n",
			[]string{"f.yaml:2:11: params: must be a mapping of parameters, got integer"}},
		{"fraction where whole number", "- action: delay\n  params: {ms: 1.5}\n",
			[]string{"f.yaml:2:16: params.ms: must be a whole number, got 1.5"}},
		{"duplicate key", "- action: reset\n  action: delay\n",
			[]string{`f.yaml:2:3: mapping key "action" already defined at [1:3]`}},
		{"merge key", "- <<: {action: reset}\n",
			[]string{"f.yaml:1:3: merge keys (<<) are not supported: write the fields out"}},
		{"unknown alias", "- action: *nope\n",
			[]string{"f.yaml:1:11: alias *nope refers to no anchor defined before it"}},
		{"amount range inverted", "- action: reset\n  match: {amount_min: \"9.00\", amount_max: \"1.00\"}\n",
			[]string{"f.yaml:2:23: match.amount_min: is more than amount_max"}},
		{"amount with range", "- action: reset\n  match: {amount: \"1.00\", amount_max: \"2.00\"}\n",
			[]string{"f.yaml:2:19: match.amount: cannot be combined with amount_min/amount_max"}},
		{"bad pan is not echoed", "- action: reset\n  match: {pan: \"4761739001010010x\"}\n",
			[]string{"f.yaml:2:16: match.pan: must be a card number of 12 to 19 digits"}},
		{"card number in a bad field is masked", "- action: reset\n  match: {terminal: \"4761739001010010\"}\n",
			[]string{`f.yaml:2:21: match.terminal: "476173******0010" is longer than a terminal id (8 characters)`}},
		{"empty mti list", "- action: reset\n  match: {mti: []}\n",
			[]string{"f.yaml:2:16: match.mti: must list at least one message type (leave mti out to match any)"}},
		{"faults wrapper must be a list", "faults: 3\n",
			[]string{"f.yaml:1:9: faults: must be a list of rules, got integer"}},
		{"two rules two errors", "- action: delay\n- action: truncate_response\n  params: {bytes: -1}\n",
			[]string{"f.yaml:1:3: params.ms: must be > 0 for delay (at most 86400000)",
				"f.yaml:3:19: params.bytes: must be > 0 for truncate_response (at most 1048576)"}},
		{"split needs chunk", "- action: split_response\n  params: {gap_ms: -1}\n",
			[]string{"f.yaml:2:12: params.chunk: must be > 0 for split_response (at most 1048576)",
				"f.yaml:2:20: params.gap_ms: must be >= 0 for split_response (at most 86400000)"}},
		{"partial approval amount", "- action: partial_approval\n",
			[]string{`f.yaml:1:3: params.amount: missing: partial_approval needs the approved amount in major units like "10.00"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tt.yaml), "f.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidRule) {
				t.Errorf("errors.Is(err, ErrInvalidRule) = false")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseYAMLShapes(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []Rule
	}{
		{"empty file", "", nil},
		{"single rule", "action: reset\n", []Rule{{Action: "reset"}}},
		{"faults wrapper", "faults:\n  - action: reset\n", []Rule{{Action: "reset"}}},
		{"two documents", "action: reset\n---\n- action: wrong_stan\n", []Rule{{Action: "reset"}, {Action: "wrong_stan"}}},
		{"anchor and alias", "- match: &m {card: tea}\n  action: reset\n- match: *m\n  action: wrong_stan\n",
			[]Rule{{Match: Match{Card: "tea"}, Action: "reset"}, {Match: Match{Card: "tea"}, Action: "wrong_stan"}}},
		{"str tag keeps text", "- action: decline\n  params: {code: !!str 05}\n", []Rule{{Action: "decline", Params: Params{Code: "05"}}}},
		{"probability integer", "- action: reset\n  probability: 0\n", []Rule{{Action: "reset", Probability: prob(0)}}},
		{"refuse with explicit zero", "- action: refuse_connections\n  params: {ms: 0}\n", []Rule{{Action: "refuse_connections"}}},
		{"alias gets its name", "- action: mac_error\n", []Rule{{Name: "mac_error", Action: "decline", Params: Params{Code: "98"}}}},
		{"read-only fields ignored", "- {id: f9, matched: 3, fired: 1, action: reset}\n", []Rule{{Action: "reset"}}},
		{"pan in a name is masked", "- {name: \"card 4761739001010010\", action: reset}\n", []Rule{{Name: "card 476173******0010", Action: "reset"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseYAML([]byte(tt.yaml), "f.yaml")
			if err != nil {
				t.Fatalf("ParseYAML: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	t.Run("object and list", func(t *testing.T) {
		one, err := ParseJSON([]byte(`{"action":"delay","params":{"ms":50},"match":{"mti":"0200"}}`))
		if err != nil {
			t.Fatal(err)
		}
		many, err := ParseJSON([]byte(`[{"action":"delay","params":{"ms":50},"match":{"mti":["0200"]}}]`))
		if err != nil {
			t.Fatal(err)
		}
		want := []Rule{{Action: "delay", Params: Params{MS: 50}, Match: Match{MTI: StringList{"0200"}}}}
		if diff := cmp.Diff(want, one); diff != "" {
			t.Errorf("object (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, many); diff != "" {
			t.Errorf("list (-want +got):\n%s", diff)
		}
	})
	tests := []struct {
		name, json string
		want       []string
	}{
		{"example from the brief", `[{"action":"reset"},{"action":"reset"},{"action":"delay","params":{"ms":0}}]`,
			[]string{"rule 2: params.ms: must be > 0 for delay (at most 86400000)"}},
		{"unknown action", `{"action":"explode"}`,
			[]string{`rule 0: unknown action "explode" (known: ` + knownActions + `)`}},
		{"wrong type", `{"action":"delay","params":{"ms":"soon"}}`,
			[]string{`rule 0: params.ms: must be a whole number, got string "soon"`}},
		{"unknown field", `{"action":"reset","colour":"red"}`,
			[]string{"rule 0: colour: unknown field (known: name, match, action, params, after, count, probability)"}},
		{"all errors", `[{"action":"decline"},{"action":"delay","params":{"ms":1},"count":-1}]`,
			[]string{`rule 0: params.code: must be a 2-character response code like "05" for decline`,
				"rule 1: count: must be between 0 and 2147483647 (0 = every match)"}},
		{"syntax error has line and column", "[\n {\"action\": \"reset\",}\n]",
			[]string{"JSON line 2 column 21: invalid character '}' looking for beginning of object key string"}},
		{"truncated", `[{"action":`, []string{"JSON line 1 column 12: unexpected end of input"}},
		{"trailing data", `{"action":"reset"} {}`, []string{"JSON line 1 column 20: unexpected data after the top-level value"}},
		{"duplicate key", `{"action":"reset","action":"delay"}`, []string{`JSON line 1 column 27: duplicate key "action"`}},
		{"not an object", `42`, []string{"expected a rule (mapping) or a list of rules, got integer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(tt.json))
			if !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("errors.Is(%v, ErrInvalidRule) = false", err)
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
