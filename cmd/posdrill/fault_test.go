package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/acquirer"
)

// TestFaultCommand drives `posdrill fault` against a running acquirer's admin API: a rule
// added from flags is live (a payment is declined by it and it counts the firing), a file
// with a broken rule is refused with file:line:column and changes nothing, and clear
// removes everything. The API's token is required.
func TestFaultCommand(t *testing.T) {
	acq, host := startAcquirerWith(t, acquirer.Options{Seed: 3, AdminToken: "s3cret"})
	admin := httptest.NewServer(acq.Admin())              // 127.0.0.1:0
	t.Cleanup(admin.Close)                                // before the acquirer's own cleanup (LIFO)
	adminAddr := strings.TrimPrefix(admin.URL, "http://") // HOST:PORT, as the flag's default
	ctx := context.Background()
	fault := func(wantCode int, args ...string) (stdout, stderr string) {
		t.Helper()
		code, stdout, stderr := cli(ctx, append([]string{"fault"}, args...)...)
		if code != wantCode {
			t.Fatalf("posdrill fault %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s",
				strings.Join(args, " "), code, wantCode, stdout, stderr)
		}
		return stdout, stderr
	}
	auth := []string{"--admin", adminAddr, "--admin-token", "s3cret"}

	// The token is required.
	_, stderr := fault(2, "list", "--admin", adminAddr, "--token", "wrong")
	if !strings.Contains(stderr, "401") {
		t.Errorf("list with a wrong token: stderr %q, want the 401", stderr)
	}

	out, _ := fault(0, append([]string{"add", "--action", "decline", "--code", "05", "--card", "visa-ok",
		"--name", "visa says no"}, auth...)...)
	if out != "added f1\n" {
		t.Errorf("add printed %q, want \"added f1\\n\"", out)
	}
	rules := acq.Faults().List()
	if len(rules) != 1 || rules[0].Action != "decline" || rules[0].Params.Code != "05" || rules[0].Match.Card != "visa-ok" {
		t.Fatalf("rules after add: %+v", rules)
	}

	// The rule is live: a visa-ok payment is declined 05, another card is not.
	if code, out, errOut := cli(ctx, "pay", "--host", host, "--journal", ":memory:", "--card", "visa-ok", "--amount", "5.00", "--pin", "1234"); code != 1 ||
		!strings.Contains(out, "DECLINED  (05") {
		t.Errorf("pay visa-ok under the rule: exit %d\n%s%s", code, out, errOut)
	}
	out, _ = fault(0, append([]string{"list"}, auth...)...)
	// ID NAME ACTION MATCH MATCHED FIRED
	if !regexp.MustCompile(`(?m)^f1\s+visa says no\s+decline\s+\{"card":"visa-ok"\}\s+1\s+1\s*$`).MatchString(out) {
		t.Errorf("list does not show f1 fired once:\n%s", out)
	}

	// A file with one good and one broken rule: refused whole, with the position.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("- name: slow\n  action: delay\n  params: {ms: 100}\n- name: boom\n  action: explode\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr = fault(2, append([]string{"add", "--file", bad}, auth...)...)
	if !strings.Contains(stderr, bad+`:5:11: unknown action "explode"`) {
		t.Errorf("add --file bad.yaml: stderr %q, want %s:5:11 and the reason", stderr, bad)
	}
	if rules := acq.Faults().List(); len(rules) != 1 || rules[0].ID != "f1" {
		t.Errorf("rules after a refused file: %+v, want f1 only", rules)
	}
	out, _ = fault(0, append([]string{"list"}, auth...)...)
	if strings.Contains(out, "slow") || !strings.Contains(out, "visa says no") {
		t.Errorf("list after a refused file:\n%s", out)
	}

	// A rule naming a card the acquirer does not have would never fire: refused (HTTP 400,
	// exit 2) with a suggestion, and nothing is added.
	_, stderr = fault(2, append([]string{"add", "--action", "decline", "--code", "05", "--card", "visa-okk"}, auth...)...)
	if !strings.Contains(stderr, `match.card: unknown card "visa-okk" (did you mean "visa-ok"?): such a rule would never fire`) ||
		!strings.Contains(stderr, "400 Bad Request") {
		t.Errorf("add --card visa-okk: stderr %q", stderr)
	}
	if rules := acq.Faults().List(); len(rules) != 1 {
		t.Errorf("rules after a refused card: %+v, want f1 only", rules)
	}
	// An acquirer that is not there: exit 2, with what to check.
	_, stderr = fault(2, "list", "--admin", "127.0.0.1:1")
	if !strings.Contains(stderr, "is the acquirer running") {
		t.Errorf("list against nothing: stderr %q", stderr)
	}

	// Both, or neither, of --file and --action: a usage error.
	fault(2, append([]string{"add", "--file", bad, "--action", "reset"}, auth...)...)
	fault(2, append([]string{"add"}, auth...)...)

	out, _ = fault(0, append([]string{"clear"}, auth...)...)
	if out != "cleared\n" {
		t.Errorf("clear printed %q", out)
	}
	if rules := acq.Faults().List(); len(rules) != 0 {
		t.Errorf("rules after clear: %+v", rules)
	}
	out, _ = fault(0, append([]string{"list"}, auth...)...)
	if out != "no fault rules\n" {
		t.Errorf("list after clear printed %q", out)
	}

	// An address that is not one is a usage error.
	_, stderr = fault(2, "list", "--admin", "ftp://127.0.0.1:1")
	if !strings.Contains(stderr, "--admin") {
		t.Errorf("bad --admin: stderr %q", stderr)
	}
}
