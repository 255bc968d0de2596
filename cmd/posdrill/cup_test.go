package main

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestPayCUPAgainstAcquirer: the UnionPay profile end to end through the commands, as a
// developer runs them: `posdrill acquirer --dialect cup --framing cup` and `posdrill pay
// --profile cup` over loopback TCP (sign-on with key exchange, MACed sale, chip data).
func TestPayCUPAgainstAcquirer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	var stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"acquirer", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--seed", "7",
			"--dialect", "cup", "--framing", "cup"}, nil, outW, &stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("no output; stderr:\n%s", stderr.String())
	}
	m := regexp.MustCompile(`^listening iso=(127\.0\.0\.1:\d+) `).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("first line %q", lines.Text())
	}
	go io.Copy(io.Discard, out)
	var stdout, payErr strings.Builder
	code := run(ctx, []string{"pay", "--profile", "cup", "--host", m[1], "--card", "unionpay-ok", "--amount", "12.34",
		"--entry", "chip", "--pin", "1234", "--journal", ":memory:"}, nil, &stdout, &payErr)
	if code != 0 || !strings.Contains(stdout.String(), "APPROVED") {
		t.Fatalf("pay exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), payErr.String())
	}
	cancel()
	if c := <-done; c != 0 {
		t.Fatalf("acquirer exit %d: %s", c, stderr.String())
	}
}
