package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run the real posdrill command inside the test binary.
//
// Besides posdrill, scripts get "posdrill-status CODE ARGS...": it runs posdrill ARGS
// (output passed through) and succeeds only when the exit status is CODE, because
// testscript's "!" cannot tell a usage error (2) from a failure (1).
func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"posdrill": func() int { return run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr) },
		"posdrill-status": func() int {
			if len(os.Args) < 2 {
				fmt.Fprintln(os.Stderr, "usage: posdrill-status CODE ARGS...")
				return 2
			}
			want, err := strconv.Atoi(os.Args[1])
			if err != nil {
				fmt.Fprintln(os.Stderr, "posdrill-status: CODE must be a number")
				return 2
			}
			if got := run(context.Background(), os.Args[2:], os.Stdin, os.Stdout, os.Stderr); got != want {
				fmt.Fprintf(os.Stderr, "posdrill-status: exit status %d, want %d\n", got, want)
				return 1
			}
			return 0
		},
	}))
}

// TestScripts runs the CLI behaviour tests in testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
