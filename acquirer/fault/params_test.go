package fault

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestParamTable: every parameter of the one table reads from a rule file into Params and
// comes back out of ParamMap under the same key, and each action's params are in the table.
func TestParamTable(t *testing.T) {
	values := map[string]string{"code": "05", "ms": "1500", "bytes": "12", "chunk": "8", "gap_ms": "200", "amount": "10.00"}
	for _, p := range ParamList() {
		t.Run(p.Key, func(t *testing.T) {
			v, ok := values[p.Key]
			if !ok {
				t.Fatalf("the test has no value for %q", p.Key)
			}
			var ps Params
			if err := p.Set(&ps, v); err != nil {
				t.Fatal(err)
			}
			if got := ParamMap(ps); len(got) != 1 || got[p.Key] != v {
				t.Errorf("ParamMap after Set(%q) = %v", v, got)
			}
			if p.Flag == "" || p.Help == "" {
				t.Errorf("%s has no flag or help", p.Key)
			}
		})
	}
	if len(values) != len(ParamList()) {
		t.Errorf("the test knows %d params, the table %d", len(values), len(ParamList()))
	}
	for _, a := range Actions() {
		for _, k := range ActionParams(a) {
			if _, ok := paramByKey(k); !ok {
				t.Errorf("action %s takes %q, which is not in the parameter table", a, k)
			}
		}
	}
	// The admin API and rule JSON spell the keys with Params' struct tags: the same keys.
	var all Params
	for _, p := range ParamList() {
		if err := p.Set(&all, values[p.Key]); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range ParamKeys() {
		if _, ok := keys[k]; !ok || len(keys) != len(ParamKeys()) {
			t.Errorf("Params as JSON %s, want the keys %v", raw, ParamKeys())
			break
		}
	}
	var ps Params
	if err := (Param{Key: "ms", num: func(p *Params) *int { return &p.MS }}).Set(&ps, "soon"); err == nil || !strings.Contains(err.Error(), "params.ms") {
		t.Errorf("a word for a number: %v", err)
	}
}

// TestDocsListEveryActionAndParam keeps docs/acquirer.md in step with the tables.
func TestDocsListEveryActionAndParam(t *testing.T) {
	raw, err := os.ReadFile("../../docs/acquirer.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, a := range Actions() {
		row := "| `" + a
		if ps := ActionParams(a); len(ps) > 0 {
			row += " {" + strings.Join(ps, ", ") + "}`"
		} else {
			row += "`"
		}
		if !strings.Contains(doc, row) {
			t.Errorf("docs/acquirer.md has no row %q", row)
		}
	}
	for _, k := range ParamKeys() {
		if !strings.Contains(doc, "`"+k+"`") {
			t.Errorf("docs/acquirer.md does not name the parameter %q", k)
		}
	}
}
