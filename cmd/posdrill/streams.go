package main

// Files named on the command line (docs/CLI.md): "-" is stdin or stdout wherever a file is
// read or written, and a file written gets its parent directories created before any work,
// so a path that cannot be written fails at once, not after a long run.

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/simulator"
)

// createOutput opens path for writing on behalf of flag ("--junit"): "-" is stdout (never
// closed), anything else is created with its parent directories. Errors are usage errors.
func createOutput(stdout io.Writer, flag, path string) (io.Writer, func() error, error) {
	if path == "-" {
		return stdout, func() error { return nil }, nil
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, usageErrorf("%s: cannot create the directory for %s: %w", flag, path, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, usageErrorf("%s: %w", flag, err)
	}
	return f, f.Close, nil
}

// readInputArg reads a file named on the command line by what ("--cards", "TRACE"), at most
// max bytes; "-" reads stdin. name is how later errors should call it. Errors are usage errors.
func readInputArg(stdin io.Reader, what, path string, max int64) (raw []byte, name string, err error) {
	if path == "-" {
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		raw, err = bounded.ReadAll(stdin, max, "standard input")
		name = "standard input"
	} else {
		raw, err = bounded.ReadFile(path, max)
		name = path
	}
	if err != nil {
		return nil, name, usageErrorf("%s: %w", what, err)
	}
	return raw, name, nil
}

// loadCardsArg reads a --cards file ("-": stdin); "" is the built-in set.
func loadCardsArg(stdin io.Reader, flag, path string) (*cards.Set, error) {
	if path == "" {
		return cards.Builtin(), nil
	}
	raw, name, err := readInputArg(stdin, flag, path, bounded.MaxDocument)
	if err != nil {
		return nil, err
	}
	set, err := cards.Parse(raw, name)
	if err != nil {
		return nil, usageErrorf("%s: %w", flag, err)
	}
	return set, nil
}

// readTraceArg reads a JSONL trace ("-": stdin).
func readTraceArg(stdin io.Reader, what, path string) ([]trace.Record, error) {
	raw, name, err := readInputArg(stdin, what, path, bounded.MaxTrace)
	if err != nil {
		return nil, err
	}
	recs, err := trace.ReadAll(bytes.NewReader(raw))
	if err != nil {
		return nil, usageErrorf("%s: %w", name, err)
	}
	return recs, nil
}

// loadMappingArg reads a --map file ("-": stdin).
func loadMappingArg(stdin io.Reader, flag, path string) (trace.Mapping, error) {
	raw, name, err := readInputArg(stdin, flag, path, bounded.MaxDocument)
	if err != nil {
		return trace.Mapping{}, err
	}
	m, err := trace.ParseMapping(raw, name)
	if err != nil {
		return m, usageErrorf("%s: %w", flag, err)
	}
	return m, nil
}

// loadProfileArg reads a --profile file ("-": stdin).
func loadProfileArg(stdin io.Reader, flag, path string) (simulator.Profile, error) {
	raw, name, err := readInputArg(stdin, flag, path, bounded.MaxDocument)
	if err != nil {
		return simulator.Profile{}, err
	}
	p, err := simulator.ParseProfile(raw, name)
	if err != nil {
		return p, usageErrorf("%s: %w", flag, err)
	}
	return p, nil
}

// checkHostPort makes an address without a port (or with a bad one) a usage error that says
// what was probably meant, before anything dials it.
func checkHostPort(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		if !strings.Contains(addr, ":") || strings.Count(addr, ":") > 1 && !strings.HasPrefix(addr, "[") {
			return usageErrorf("%s %q: no port (did you mean %s?)", flag, addr, net.JoinHostPort(addr, "8583"))
		}
		return usageErrorf("%s %q: want HOST:PORT, e.g. 127.0.0.1:8583", flag, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return usageErrorf("%s %q: port %q is not a number from 1 to 65535", flag, addr, port)
	}
	return nil
}

// stdoutUsers rejects two outputs that both want stdout (e.g. --json and --junit -).
func stdoutUsers(flags map[string]bool) error {
	var users []string
	for _, name := range []string{"--json", "--junit", "--json-report", "--trace", "--raw"} {
		if flags[name] {
			users = append(users, name)
		}
	}
	if len(users) > 1 {
		return usageErrorf("%s and %s both want standard output: give one of them a file", users[0], users[1])
	}
	return nil
}
