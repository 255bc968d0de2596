package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/scenarios"
)

// payDrive is the --drive command that makes posdrill's own terminal the terminal under
// test: posdrill pay with a profile whose response timeout is 1 s and a journal of its own.
// The suite is scaled with --response-timeout 2s, not 1s: the windows then leave the
// terminal room for its journal's fsyncs on a loaded CI machine (at 1s a 35 s window is
// 1.17 s, 170 ms after the timeout), and a 40 s late answer (2.67 s) is still late for it.
const payDrive = "posdrill pay --host {host} --type {type} --card {card} --amount {amount} --entry {entry} --profile %PROFILE% --journal %JOURNAL% --json"

// inProcessDrive runs a filled --drive command line that starts with "posdrill" through
// run(), in this process: the same code path as the binary, without building it.
func inProcessDrive(template string) scenarios.Driver {
	return func(ctx context.Context, a scenarios.DriveAction) scenarios.DriveResult {
		line := scenarios.DriveCommand(template, a)
		args, err := shellWords(line)
		if err != nil || len(args) == 0 || args[0] != "posdrill" {
			return scenarios.DriveResult{Command: line, ExitCode: -1, Err: err}
		}
		var out bytes.Buffer
		code := run(ctx, args[1:], strings.NewReader(""), &out, &out)
		return scenarios.DriveResult{Command: line, ExitCode: code, Output: out.String()}
	}
}

// shellWords splits a line as sh would for the words DriveCommand writes: blanks separate,
// single quotes group (” is an empty word).
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// checkOwnTerminal runs the built-in suite against posdrill pay with the given profile
// lines and returns the JSON report.
func checkOwnTerminal(t testing.TB, profile string) (scenarios.JSONReport, string, error) {
	t.Helper()
	dir := t.TempDir()
	prof := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(prof, []byte("response_timeout: 1s\nreversal_interval: 1s\n"+profile), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl := strings.NewReplacer("%PROFILE%", prof, "%JOURNAL%", filepath.Join(dir, "terminal.db")).Replace(payDrive)
	f := checkTerminalFlags{listen: "127.0.0.1:0", dialect: "ascii", framing: "len2", lang: "en", seed: 1,
		responseTimeout: 2 * time.Second, quiet: 150 * time.Millisecond, jsonPath: filepath.Join(dir, "report.json")}
	var text bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := runCheckTerminal(ctx, f, nil, &text, &text, inProcessDrive(tmpl))
	raw, rerr := os.ReadFile(f.jsonPath)
	if rerr != nil {
		t.Fatalf("no JSON report: %v\n%s", rerr, text.String())
	}
	var rep scenarios.JSONReport
	if jerr := json.Unmarshal(raw, &rep); jerr != nil {
		t.Fatal(jerr)
	}
	return rep, text.String(), err
}

// TestCheckTerminalOwnTerminalPasses: posdrill's own terminal, driven through --drive,
// passes every case of the built-in suite over real TCP.
func TestCheckTerminalOwnTerminalPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite in real time (~12 s)")
	}
	t.Parallel()
	rep, text, err := checkOwnTerminal(t, "")
	if err != nil || rep.Failed != 0 {
		t.Fatalf("exit %v, %d failed:\n%s", err, rep.Failed, text)
	}
	if len(rep.Results) < 15 {
		t.Fatalf("only %d cases ran", len(rep.Results))
	}
	if strings.Contains(text, "4111111111111111") {
		t.Error("the report carries a full card number")
	}
}

// TestCheckTerminalCatchesSkippedReversal: the same terminal with skip_reversal fails
// exactly the cases that need a reversal, and each failure names the missing 0400/0420.
func TestCheckTerminalCatchesSkippedReversal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite in real time (~10 s)")
	}
	t.Parallel()
	rep, text, err := checkOwnTerminal(t, "skip_reversal: true\n")
	if exitCode(err) != exitFailed {
		t.Fatalf("exit status %d, want %d: %v", exitCode(err), exitFailed, err)
	}
	needReversal := []string{"lost-answer-after-commit", "no-answer", "late-answer", "wrong-stan", "garbled",
		"truncated", "reset", "reversal-unanswered-repeated"}
	var failed []string
	for _, sc := range rep.Results {
		if sc.Passed {
			continue
		}
		failed = append(failed, sc.Name)
		named := false
		for _, f := range sc.Failures {
			if strings.Contains(f.Message, "never sent 0400/0420") || strings.Contains(f.Message, "no 0400/0420") {
				named = true
			}
		}
		if !named {
			t.Errorf("%s failed without naming the missing 0400/0420: %+v", sc.Name, sc.Failures)
		}
	}
	slices.Sort(failed)
	slices.Sort(needReversal)
	if !slices.Equal(failed, needReversal) {
		t.Errorf("failed cases %v, want exactly %v\n%s", failed, needReversal, text)
	}
}

// BenchmarkCheckTerminalSuite is the time of the whole built-in suite against posdrill's own
// terminal (posdrill pay in-process, 1 s response timeout, judged at --response-timeout 2s)
// over TCP on loopback: go test -run x -bench CheckTerminalSuite -benchtime 3x ./cmd/posdrill
func BenchmarkCheckTerminalSuite(b *testing.B) {
	for range b.N {
		rep, text, err := checkOwnTerminal(b, "")
		if err != nil || rep.Failed != 0 {
			b.Fatalf("%v:\n%s", err, text)
		}
		b.ReportMetric(float64(len(rep.Results)), "cases")
	}
}
