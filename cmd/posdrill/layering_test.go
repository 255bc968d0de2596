package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps imports flowing one way: cmd → classroom → trainer → scenarios → {simulator,
// acquirer} → iso; simulator and acquirer never import each other; tui only sees the
// simulator side.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, "github.com/posdrill/posdrill/...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	const mod = "github.com/posdrill/posdrill/"
	forbidden := map[string][]string{
		"iso":       {"acquirer", "simulator", "scenarios", "trainer", "classroom", "cmd"},
		"acquirer":  {"simulator", "scenarios", "trainer", "classroom", "cmd"},
		"simulator": {"acquirer", "scenarios", "trainer", "classroom", "cmd"},
		"scenarios": {"trainer", "classroom", "cmd"},
		"trainer":   {"classroom", "cmd"},
		"classroom": {"cmd"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		rel := strings.TrimPrefix(pkg, mod)
		top, _, _ := strings.Cut(rel, "/")
		for _, imp := range strings.Fields(imports) {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			impTop, _, _ := strings.Cut(strings.TrimPrefix(imp, mod), "/")
			for _, bad := range forbidden[top] {
				if impTop == bad {
					t.Errorf("%s imports %s: %s must not depend on %s", rel, strings.TrimPrefix(imp, mod), top, bad)
				}
			}
			if strings.HasPrefix(rel, "simulator/tui") && (impTop == "acquirer" || impTop == "scenarios") {
				t.Errorf("%s imports %s: the UI only consumes the simulator", rel, imp)
			}
		}
	}
}
