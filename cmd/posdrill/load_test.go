package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// startCanned runs `posdrill canned` as the CLI does and returns its address; the returned
// function stops it and returns what it printed after the address.
func startCanned(t *testing.T) (addr string, stop func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"canned", "--listen", "127.0.0.1:0"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("canned printed nothing: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		cancel()
		t.Fatalf("canned's first line: %q", line)
	}
	stopped := false
	stop = func() string {
		if stopped {
			return ""
		}
		stopped = true
		cancel()
		rest, _ := io.ReadAll(br)
		if code := <-done; code != 0 {
			t.Errorf("canned exited %d", code)
		}
		return string(rest)
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestLoadAgainstCannedJSON(t *testing.T) {
	addr, stop := startCanned(t)
	code, out, errOut := runCLI("load", "--host", addr, "--terminals", "3", "--inflight", "2", "--count", "300",
		"--mix", "sale:8,refund:1,reversal:1", "--amount", "0.01-0.05", "--seed", "5", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v struct {
		Seed int64 `json:"seed"`
		Load struct {
			Answered int64            `json:"answered"`
			Codes    map[string]int64 `json:"codes"`
			Mix      string           `json:"mix"`
			Latency  struct {
				P99 float64 `json:"p99_ms"`
			} `json:"latency"`
		} `json:"load"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Seed != 5 || v.Load.Answered != 300 || v.Load.Codes["00"] != 300 || v.Load.Mix != "sale:8,refund:1,reversal:1" || v.Load.Latency.P99 <= 0 {
		t.Errorf("report: %s", out)
	}
	if rest := stop(); !strings.Contains(rest, "canned: 300 answers") {
		t.Errorf("canned said %q", rest)
	}
}

func TestLoadTextWithIdleConnections(t *testing.T) {
	addr, _ := startCanned(t)
	code, out, errOut := runCLI("load", "--host", addr, "--count", "50", "--idle-conns", "20",
		"--pid", fmt.Sprint(os.Getpid()))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"idle: 20 of 20 connections open", "echo test answered 00 on 20", "host resident memory",
		"idle: 20 still open at the end", "throughput", "p99", "seed "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestLoadUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no host":        {"load", "--count", "1"},
		"no end":         {"load", "--host", "127.0.0.1:1"},
		"both ends":      {"load", "--host", "127.0.0.1:1", "--count", "1", "--duration", "1s"},
		"bad mix":        {"load", "--host", "127.0.0.1:1", "--count", "1", "--mix", "steal:1"},
		"unknown card":   {"load", "--host", "127.0.0.1:1", "--count", "1", "--card", "nope"},
		"bad amount":     {"load", "--host", "127.0.0.1:1", "--count", "1", "--amount", "2.00-1.00"},
		"bad dialect":    {"load", "--host", "127.0.0.1:1", "--count", "1", "--dialect", "ebcdic"},
		"canned framing": {"canned", "--framing", "len3"},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, errOut := runCLI(args...); code != 2 {
				t.Errorf("exit %d, want 2 (%s)", code, errOut)
			}
		})
	}
}
