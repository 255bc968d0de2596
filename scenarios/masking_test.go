package scenarios_test

// Card data never leaves the process in clear: this runs the whole scenario library (and
// the deliberately failing scenarios), a faulty soak with every component logging at debug
// level, and the CLI, and searches every output — text, verbose traces, JSON and JUnit
// reports, failure texts, slog logs (text and JSON) — for any test card's full PAN, its
// track 2, its PAN as a hex dump of ASCII, its PIN block and an EMV cryptogram in clear.

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/isotest"
	"github.com/posdrill/posdrill/scenarios"
	"github.com/posdrill/posdrill/scenarios/soak"
)

// secret is one sensitive string and what it is (described masked).
type secret struct{ value, what string }

func secrets(t *testing.T) []secret {
	t.Helper()
	var out []secret
	for _, c := range cards.Builtin().Cards {
		m := iso.MaskPAN(c.PAN)
		ascii := hex.EncodeToString([]byte(c.PAN))
		out = append(out,
			secret{c.PAN, "full PAN of " + c.Name + " (" + m + ")"},
			secret{c.PAN + "=", "track 2 of " + c.Name},
			secret{c.PAN + "D", "track 2 of " + c.Name},
			secret{ascii, "PAN of " + c.Name + " as a hex dump of ASCII"},
			secret{strings.ToUpper(ascii), "PAN of " + c.Name + " as a hex dump of ASCII"},
		)
		if block, err := iso.EncryptPINBlock(c.PIN, c.PAN, iso.TestPINKey); err == nil {
			out = append(out,
				secret{hex.EncodeToString(block), "PIN block of " + c.Name},
				secret{strings.ToUpper(hex.EncodeToString(block)), "PIN block of " + c.Name})
		}
	}
	return out
}

// emvCryptogram is tag 9F26 with its 8-byte value, as a hex dump of DE55 shows it.
var emvCryptogram = regexp.MustCompile(`(?i)9F26\s?08\s?[0-9A-F]{16}`)

type scanner struct {
	t       *testing.T
	secrets []secret
	scanned int
	report  func(format string, args ...any) // default t.Errorf
}

func (s *scanner) scan(where, out string) {
	s.t.Helper()
	report := s.report
	if report == nil {
		report = s.t.Errorf
	}
	s.scanned += len(out)
	for _, sec := range s.secrets {
		if i := strings.Index(out, sec.value); i >= 0 {
			report("%s shows the %s: …%s…", where, sec.what, iso.MaskText(out[max(0, i-40):min(len(out), i+len(sec.value)+40)]))
		}
	}
	if loc := emvCryptogram.FindStringIndex(out); loc != nil {
		report("%s shows EMV data (DE55 tag 9F26) in clear: …%s…", where, iso.MaskText(out[max(0, loc[0]-40):min(len(out), loc[1]+20)]))
	}
}

// TestScannerCatchesLeaks: the scan finds each kind of leak it looks for, so that its
// silence elsewhere means something.
func TestScannerCatchesLeaks(t *testing.T) {
	visa, _ := cards.Builtin().ByName("visa-ok")
	block, err := iso.EncryptPINBlock(visa.PIN, visa.PAN, iso.TestPINKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{
		"pan=" + visa.PAN,
		"track2=" + visa.PAN + "D3012201",
		"raw 0200 " + hex.EncodeToString([]byte("0200"+visa.PAN)),
		"DE52=" + strings.ToUpper(hex.EncodeToString(block)),
		"DE55=9F260811223344556677889F2701",
	} {
		var got []string
		s := &scanner{t: t, secrets: secrets(t), report: func(f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) }}
		s.scan("sample", "before "+leak+" after")
		if len(got) == 0 {
			t.Errorf("leak not found in %q", iso.MaskText(leak))
		}
	}
}

// TestNoCardDataInReports runs every library scenario and the failing test scenarios and
// scans the text report (verbose: every trace), the JSON and JUnit reports, and each
// failure text.
func TestNoCardDataInReports(t *testing.T) {
	s := &scanner{t: t, secrets: secrets(t)}
	lib, err := scenarios.Library()
	if err != nil {
		t.Fatal(err)
	}
	failing, err := scenarios.Load("testdata/failing")
	if err != nil {
		t.Fatal(err)
	}
	all := append(lib, failing...)
	rep := scenarios.RunAll(context.Background(), all, scenarios.Options{TempDir: t.TempDir()})
	reports := reportOutputs(t, rep)
	for where, out := range reports {
		s.scan(where, out)
	}
	text := reports[verboseText]
	var traced, failed int
	for _, r := range rep.Results {
		traced += len(r.Trace)
		s.scan("trace of "+r.Name, strings.Join(r.Trace, "\n"))
		if !r.Passed {
			failed++
			s.scan("failure text of "+r.Name, r.FailureText())
		}
	}
	// The scan means something only if the outputs carry what would leak: traces of
	// card transactions, and failures with their diffs.
	if traced < 10*len(lib) || failed == 0 || !strings.Contains(text, "411111******1111") {
		t.Errorf("too little output to prove anything: %d trace lines, %d failed scenarios, masked PAN shown: %v",
			traced, failed, strings.Contains(text, "411111******1111"))
	}
	t.Logf("%d scenarios, %d trace lines, %d KiB scanned", len(all), traced, s.scanned>>10)
}

// TestNoCardDataInScenarioErrors: a scenario file that puts card numbers where they do not
// belong gets errors that point at them masked.
func TestNoCardDataInScenarioErrors(t *testing.T) {
	s := &scanner{t: t, secrets: secrets(t)}
	for i, src := range []string{
		"title: x\nsteps:\n  - sale: {card: \"4111111111111111\", amount: \"1.00\"}\n",
		"title: x\nsteps:\n  - sale: {card: visa-ok, amount: \"4111111111111111\"}\n",
		"title: 4111111111111111\nsteps: [4111111111111111]\n",
		"title: x\nfaults:\n  - {action: decline, match: {pan: \"5555555555554444=3012\"}, params: {code: \"4111111111111111\"}}\nsteps:\n  - echo: {}\n",
		"title: x\ncards: {cards: [{name: a, pan: \"4111111111111111x\", expiry: \"3012\"}]}\nsteps:\n  - echo: {}\n",
		"title: x\nsteps:\n  - sale: {card: visa-ok, amount: \"1.00\"}\n    expect: {journal: [{stan: \"4111111111111111\"}], ledger: {\"5555555555554444\": \"1.00\"}}\n",
	} {
		_, err := scenarios.Parse([]byte(src), filepath.Join(t.TempDir(), "bad.yaml"))
		if err == nil {
			continue // valid after all: nothing printed
		}
		s.scan(fmt.Sprintf("parse error %d", i), err.Error())
	}
}

// TestNoCardDataInLogs runs a faulty soak (every host fault action, reversals, power
// losses) with the acquirer and every terminal logging at debug level, as text and as
// JSON, and scans the logs and the report.
func TestNoCardDataInLogs(t *testing.T) {
	s := &scanner{t: t, secrets: secrets(t)}
	var text, js isotest.Buffer
	h := multiHandler{slog.NewTextHandler(&text, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewJSONHandler(&js, &slog.HandlerOptions{Level: slog.LevelDebug})}
	n := 150
	if testing.Short() {
		n = 40
	}
	rep, err := soak.Run(context.Background(), soak.Options{Transactions: n, Terminals: 3, Seed: 11, FaultRate: 0.3,
		Logger: slog.New(h), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	s.scan("soak report", out.String())
	s.scan("slog text logs", text.String())
	s.scan("slog JSON logs", js.String())
	if text.Len() < 10_000 || !strings.Contains(text.String(), "******") {
		t.Errorf("only %d bytes of logs, masked PANs shown: %v: too little to prove anything", text.Len(), strings.Contains(text.String(), "******"))
	}
	t.Logf("%d KiB of logs scanned", s.scanned>>10)
}

// TestNoCardDataInCLI runs the posdrill binary: `run` over the whole library with -v,
// --json and --junit, `pay` through approved, declined and unanswered payments, and `soak`,
// and scans stdout, stderr and the report files.
func TestNoCardDataInCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	s := &scanner{t: t, secrets: secrets(t)}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "posdrill")
	if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/posdrill/posdrill/cmd/posdrill").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	runCLI := func(name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run() // exit codes vary on purpose (declines exit 1)
		s.scan(name+" stdout", stdout.String())
		s.scan(name+" stderr", stderr.String())
		return stdout.String() + stderr.String()
	}
	jsonPath, junitPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	out := runCLI("posdrill run -v", "run", "-v", "--json-report", jsonPath, "--junit", junitPath)
	if !strings.Contains(out, "******") {
		t.Errorf("posdrill run -v shows no masked PAN: too little output to prove anything")
	}
	for _, p := range []string{jsonPath, junitPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("report file: %v", err)
			continue
		}
		s.scan(filepath.Base(p), string(b))
	}

	engine := fault.NewEngine(1, nil)
	if _, err := engine.Add(fault.Rule{Name: "lost", Match: fault.Match{Card: "mc-ok"}, Action: fault.ActionNoResponse, Count: 1},
		fault.Rule{Name: "garbled", Match: fault.Match{Card: "unionpay-ok"}, Action: fault.ActionGarbleResponse, Count: 1}); err != nil {
		t.Fatal(err)
	}
	var logs isotest.Buffer
	a, err := acquirer.New(acquirer.Options{Faults: engine, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	defer func() {
		a.Close()
		<-served
		s.scan("acquirer log", logs.String())
	}()
	profile := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(profile, []byte("response_timeout: 300ms\nreversal_interval: 50ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "terminal.db")
	var pays strings.Builder
	for _, c := range []struct{ card, entry string }{{"visa-ok", "chip"}, {"low-funds", "swipe"}, {"mc-ok", "tap"},
		{"unionpay-ok", "keyed"}, {"4111111111111111", "chip"}, {"amex", "chip"}, {"wallet-qr", "qr"}} {
		for _, asJSON := range []bool{false, true} {
			args := []string{"pay", "--host", ln.Addr().String(), "--card", c.card, "--amount", "12.34", "--pin", "1234",
				"--entry", c.entry, "--profile", profile, "--journal", journal}
			if asJSON {
				args = append(args, "--json")
			}
			pays.WriteString(runCLI(fmt.Sprintf("posdrill pay %s %s json=%v", iso.MaskText(c.card), c.entry, asJSON), args...))
		}
	}
	// The payments went through the paths that print card data: approvals with receipts, a
	// decline, a lost answer reversed, a garbled answer.
	for _, want := range []string{"******", `"outcome": "approved"`, `"outcome": "declined"`, "timed out reversed"} {
		if !strings.Contains(pays.String(), want) {
			t.Errorf("posdrill pay outputs never show %q: the scan proves less than it should\n%s", want, pays.String())
		}
	}
	runCLI("posdrill soak", "soak", "--transactions", "40", "--terminals", "2", "--seed", "3", "--fault-rate", "0.3")
	runCLI("posdrill run (failing)", "run", "-v", "testdata/failing")
}

// verboseText is the key of the verbose text report in reportOutputs.
const verboseText = "verbose text report"

// reportOutputs renders rep in every report format (the text one verbose: every trace),
// keyed by the name a failure message gives it, so a masking test scans them all.
func reportOutputs(t *testing.T, rep *scenarios.Report) map[string]string {
	t.Helper()
	var text, js, junit strings.Builder
	if err := rep.WriteText(&text, true); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	return map[string]string{verboseText: text.String(), "JSON report": js.String(), "JUnit report": junit.String()}
}

// multiHandler sends every record to several handlers.
type multiHandler []slog.Handler

func (m multiHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range m {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (m multiHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range m {
		if err := h.Handle(ctx, r.Clone()); err != nil {
			return err
		}
	}
	return nil
}

func (m multiHandler) WithAttrs(a []slog.Attr) slog.Handler {
	out := make(multiHandler, len(m))
	for i, h := range m {
		out[i] = h.WithAttrs(a)
	}
	return out
}

func (m multiHandler) WithGroup(name string) slog.Handler {
	out := make(multiHandler, len(m))
	for i, h := range m {
		out[i] = h.WithGroup(name)
	}
	return out
}
