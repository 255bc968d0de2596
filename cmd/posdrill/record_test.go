package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/trace"
)

// startAcquirer serves a fresh acquirer (built-in cards, in-memory store) on loopback.
func startAcquirer(t *testing.T) (*acquirer.Acquirer, string) {
	t.Helper()
	return startAcquirerWith(t, acquirer.Options{Seed: 7})
}

// startAcquirerWith serves an acquirer with these options on loopback until the test ends.
func startAcquirerWith(t *testing.T, o acquirer.Options) (*acquirer.Acquirer, string) {
	t.Helper()
	a, err := acquirer.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Serve(ln)
	}()
	t.Cleanup(func() {
		a.Close()
		ln.Close()
		<-done
	})
	return a, ln.Addr().String()
}

// cli runs posdrill in-process and returns its exit status, standard output and error.
func cli(ctx context.Context, args ...string) (int, string, string) {
	var out, errb strings.Builder
	code := run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// startRecord runs "posdrill record" until the returned stop is called; it returns the
// proxy address read from the first line of its output.
func startRecord(t *testing.T, upstream, traceFile string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb strings.Builder
	var wg sync.WaitGroup
	wg.Add(1)
	code := -1
	go func() {
		defer wg.Done()
		code = run(ctx, []string{"record", "--upstream", upstream, "--trace", traceFile}, strings.NewReader(""), pw, &errb)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		wg.Wait()
		t.Fatalf("record printed nothing: %v (stderr %q)", err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening proxy=")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("first line %q, want listening proxy=127.0.0.1:PORT", line)
	}
	return addr, func() {
		cancel()
		wg.Wait()
		if code != 0 {
			t.Errorf("record exited %d: %s", code, errb.String())
		}
	}
}

func saleRequest(stan, amount string) *iso.Message {
	pin, err := iso.EncryptPINBlock("1234", "4111111111111111", iso.TestPINKey)
	if err != nil {
		panic(err)
	}
	return &iso.Message{
		MTI: "0200", PAN: "4111111111111111", ProcessingCode: "000000", Amount: amount,
		TransmissionTime: time.Now().UTC().Format("0102150405"), STAN: stan, LocalTime: "101500", LocalDate: "1126",
		Expiry: "3012", EntryMode: "051", ConditionCode: "00", TerminalID: "TERM0001",
		MerchantID: "POSDRILL0000001", Currency: "156", PINBlock: pin,
	}
}

// A session recorded through the proxy replays against a fresh acquirer with no
// differences, and with exactly the decline as difference once a decline fault is added.
func TestRecordReplayAgainstAcquirer(t *testing.T) {
	_, acqAddr := startAcquirer(t)
	tracePath := filepath.Join(t.TempDir(), "shop.jsonl")
	proxy, stop := startRecord(t, acqAddr, tracePath)

	nc, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	c := iso.NewConn(nc)
	ctx := context.Background()
	signOn := &iso.Message{MTI: "0800", TransmissionTime: "1126021500", STAN: "000001", TerminalID: "TERM0001",
		MerchantID: "POSDRILL0000001", NetworkCode: iso.NetSignOn}
	for _, m := range []*iso.Message{signOn, saleRequest("000002", "000000002500"), saleRequest("000003", "000000001000")} {
		ans, err := c.Send(ctx, m, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", m.MTI, err)
		}
		if ans.ResponseCode != "00" {
			t.Fatalf("%s STAN %s answered %s", m.MTI, m.STAN, ans.ResponseCode)
		}
	}
	c.Close()
	stop()

	raw, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"4111111111111111", "1111111111"} {
		if strings.Contains(string(raw), leak) {
			t.Fatalf("trace holds card data %q", leak)
		}
	}
	recs, err := trace.ReadAll(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if src, exs := trace.Requests(recs); src != trace.SourceProxy || len(exs) != 3 {
		t.Fatalf("trace holds %d requests from %s, want 3 from the proxy:\n%s", len(exs), src, raw)
	}

	t.Run("same acquirer, no differences", func(t *testing.T) {
		_, addr := startAcquirer(t)
		code, out, errOut := cli(ctx, "replay", tracePath, "--host", addr, "--timeout", "10s")
		if code != 0 || !strings.Contains(out, "replayed 3 request(s) from the proxy's records: no differences") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("decline fault, the decline is the difference", func(t *testing.T) {
		a, addr := startAcquirer(t)
		if _, err := a.Faults().Add(fault.Rule{Name: "bank says no", Match: fault.Match{MTI: fault.StringList{"0200"}},
			Action: "decline", Params: fault.Params{Code: "05"}, After: 1}); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := cli(ctx, "replay", tracePath, "--host", addr, "--timeout", "10s")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, want := range []string{
			`#2 0200 STAN 000002 terminal TERM0001: 0210 DE39 "00" approved — same`,
			`#3 0200 STAN 000003 terminal TERM0001: 0210 DE39 "05" do not honour — `,
			`DE39: recorded "00" approved, now "05" do not honour`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if !strings.Contains(errOut, "difference(s) from the recording") {
			t.Errorf("stderr: %s", errOut)
		}
	})
}
