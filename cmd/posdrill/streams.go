package main

// Files named on the command line (docs/CLI.md): "-" is stdin or stdout wherever a file is
// read or written, and a file written gets its parent directories created before any work,
// so a path that cannot be written fails at once, not after a long run.

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// readFileArg reads a file named on the command line; "-" reads stdin. what names it in
// errors ("--cards", "TRACE").
func readFileArg(stdin io.Reader, what, path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, usageErrorf("%s: reading standard input: %w", what, err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("%s: %w", what, err)
	}
	return b, nil
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
