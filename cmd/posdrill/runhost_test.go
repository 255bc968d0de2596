package main

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/scenarios"
)

// hostSubset is the part of the library TestRunLibraryAgainstHost runs by default: proxy
// faults on answers, requests and connections (TestProxyNetworkFaults covers every action),
// decisions, ledger and journal through the admin API, and one scenario
// of each skip reason. POSDRILL_HOST_LIBRARY=1 runs the
// whole library (about 30 s).
var hostSubset = []string{
	"approved-sale", "answer-lost-after-approval", "request-lost-before-processing", "garbled-answer",
	"host-down-at-connect", "partial-approval", "issuer-down",
	"sign-on-after-reconnect", "bcd-dialect-with-tpdu", "saf-head-blocked",
}

// startAdminAcquirer runs a posdrill acquirer with its admin API, both on loopback.
func startAdminAcquirer(t *testing.T) (iso, admin string) {
	t.Helper()
	acq, addr := startAcquirerWith(t, acquirer.Options{Seed: 1})
	srv := httptest.NewServer(acq.Admin())
	t.Cleanup(srv.Close)
	return addr, srv.URL
}

// TestRunLibraryAgainstHost runs the scenario library with our terminal against a posdrill
// acquirer over TCP, in real time (durations scaled by 0.01), host faults through the fault
// proxy, decisions and ledger/journal checks through --admin: every scenario that can run
// passes, and the ones that cannot are counted and named with their reason.
func TestRunLibraryAgainstHost(t *testing.T) {
	host, admin := startAdminAcquirer(t)
	names := hostSubset
	if os.Getenv("POSDRILL_HOST_LIBRARY") != "" {
		names = nil // the whole library
	}
	report := filepath.Join(t.TempDir(), "r.json")
	args := append([]string{"run", "--host", host, "--admin", admin, "--reset", "--time-scale", "0.01", "--timeout", "20s",
		"--json-report", report}, names...)
	code, stdout, stderr := runCLI(args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var rep scenarios.JSONReport
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, r := range rep.Results {
		if r.Host != host {
			t.Errorf("%s ran against %q, want %s", r.Name, r.Host, host)
		}
		if r.Skipped != "" {
			skipped[r.Name] = r.Skipped
		}
	}
	for name, why := range map[string]string{
		"sign-on-after-reconnect": "restart_acquirer",
		"bcd-dialect-with-tpdu":   "speaks bcd",
		"saf-head-blocked":        "more than the scenario time limit",
	} {
		if !strings.Contains(skipped[name], why) {
			t.Errorf("%s: skipped %q, want a reason with %q", name, skipped[name], why)
		}
		if !strings.Contains(stdout, "skipped scenario "+name+": ") {
			t.Errorf("the text report does not name the skipped %s", name)
		}
	}
	if rep.Skipped != len(skipped) || rep.Passed+rep.Skipped != rep.Scenarios || rep.SkippedChecks != 0 {
		t.Errorf("counts: %d scenarios, %d passed, %d skipped (%d named), %d checks skipped", rep.Scenarios, rep.Passed, rep.Skipped, len(skipped), rep.SkippedChecks)
	}
	if !strings.Contains(strings.Join(rep.FaultActions, " "), "garble_response") {
		t.Errorf("the proxy's firings are not in the report: %v", rep.FaultActions)
	}
}

// Without --admin the host's ledger and journal cannot be seen: those checks are skipped and
// named, and scenarios that need the host to decline on purpose are skipped.
func TestRunAgainstForeignHostSkipsWhatItCannotSee(t *testing.T) {
	host, _ := startAdminAcquirer(t)
	code, stdout, stderr := runCLI("run", "--host", host, "--time-scale", "0.01", "approved-sale", "issuer-down")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"skipped check in approved-sale: step 1 (sale sale) at library/approved-sale.yaml",
		"ledger visa-ok: the host's ledger is not observable on an external host",
		"skipped scenario issuer-down: not run against " + host + ": it needs the host to decide on purpose",
		"2 scenarios: 1 passed, 0 failed, 1 skipped (",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

// A scenario's profile.host is honoured (it runs against that host) or, when --host says
// otherwise, an error; an unreachable --host is a usage error (2).
func TestRunProfileHost(t *testing.T) {
	host, _ := startAdminAcquirer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "own-host.yaml")
	os.WriteFile(file, []byte(`title: Sale against the shop's own host
profile:
  host: "`+host+`"
steps:
  - sale: {card: visa-ok, amount: "1.00", pin: "1234"}
    expect: {outcome: approved}
`), 0o600)
	code, stdout, stderr := runCLI("run", file)
	if code != 0 || !strings.Contains(stdout, "1 scenarios: 1 passed") {
		t.Fatalf("profile.host not honoured: exit %d\n%s\n%s", code, stdout, stderr)
	}

	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	code, stdout, _ = runCLI("run", "--host", other.Addr().String(), file)
	if code != 1 || !strings.Contains(stdout, "profile.host at "+file+":3:9 is "+host+" but the run was asked to use --host") {
		t.Errorf("conflicting --host: exit %d\n%s", code, stdout)
	}

	for _, args := range [][]string{
		{"run", "--admin", "127.0.0.1:1", "approved-sale"},            // --admin needs --host
		{"run", "--host", host, "--time-scale", "0", "approved-sale"}, // not a factor
		{"run", "--host", host, "--reset", "approved-sale"},           // --reset needs --admin
		{"run", "--host", host, "--dialect", "bcdd", "approved-sale"}, // unknown dialect
	} {
		if code, _, stderr := runCLI(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}

	addr := other.Addr().String()
	other.Close()
	code, _, stderr = runCLI("run", "--host", addr, "approved-sale")
	if code != 2 || !strings.Contains(stderr, "--host: cannot reach "+addr) {
		t.Errorf("unreachable host: exit %d, stderr %s", code, stderr)
	}
}
