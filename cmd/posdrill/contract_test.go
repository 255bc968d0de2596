package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestContract enforces docs/CLI.md on every command of the tree, including those added after
// this test was written: a bad flag, a bad value and a wrong argument each end with exit
// status 2 and exactly one line on stderr naming the command, before the command does anything.
func TestContract(t *testing.T) {
	root := newRootCmd()
	var cmds []*cobra.Command
	walk(root, func(c *cobra.Command) { cmds = append(cmds, c) })
	if len(cmds) < 15 {
		t.Fatalf("walked only %d commands", len(cmds))
	}
	for _, c := range cmds {
		path := strings.Fields(c.CommandPath())[1:] // without "posdrill"
		name := strings.Join(append([]string{"posdrill"}, path...), " ")
		t.Run(name, func(t *testing.T) {
			if !c.HasSubCommands() && c.Args == nil && c.Name() != "help" {
				t.Errorf("%s declares no Args: say which arguments it takes (cobra.NoArgs, ExactArgs(1), ...)", name)
			}
			t.Run("bad flag", func(t *testing.T) {
				checkUsage(t, name, append(path, "--no-such-flag"), "--no-such-flag")
			})
			t.Run("bad value", func(t *testing.T) {
				if c.HasSubCommands() {
					t.Skip("a group: its subcommands check the values of its flags")
				}
				flag, value, ok := badValue(c)
				if !ok {
					t.Skipf("%s has no flag whose value can be wrong", name)
				}
				// Arguments the command would accept, so the value is what it must object to:
				// flag values are checked before arguments are opened or read.
				args := append(append([]string(nil), path...), placeholderArgs(c)...)
				checkUsage(t, name, append(args, "--"+flag+"="+value), "--"+flag, value)
			})
			t.Run("bad argument", func(t *testing.T) {
				args, mention := badArgs(c)
				checkUsage(t, name, append(path, args...), mention...)
			})
		})
	}
}

// checkUsage runs posdrill args and wants exit status 2 and one stderr line that starts with
// "name: " and mentions one of the words in mention (if any).
func checkUsage(t *testing.T, name string, args []string, mention ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	if ctx.Err() != nil {
		t.Fatalf("posdrill %s: ran until cancelled instead of rejecting its input", strings.Join(args, " "))
	}
	errText := strings.TrimRight(stderr.String(), "\n")
	if code != exitUsage {
		t.Errorf("posdrill %s: exit status %d, want 2; stderr:\n%s", strings.Join(args, " "), code, errText)
	}
	if lines := strings.Count(errText, "\n") + 1; errText == "" || lines != 1 {
		t.Errorf("posdrill %s: stderr has %d lines, want one:\n%s", strings.Join(args, " "), lines, errText)
	}
	if !strings.HasPrefix(errText, name+": ") {
		t.Errorf("posdrill %s: stderr does not start with %q: %s", strings.Join(args, " "), name+": ", errText)
	}
	if len(mention) > 0 {
		found := false
		for _, m := range mention {
			found = found || strings.Contains(errText, m)
		}
		if !found {
			t.Errorf("posdrill %s: error mentions none of %q: %s", strings.Join(args, " "), mention, errText)
		}
	}
}

// badValues are values every command must reject for these flags, before doing any work.
// Typed flags (numbers, durations) are tried first: pflag rejects them while parsing.
var badValues = []struct{ flag, value string }{
	{"dialect", "no-such-dialect"},
	{"framing", "no-such-framing"},
	{"lang", "xx"},
	{"entry", "foo"},
	{"card", "no-such-card"},
	{"side", "no-such-side"},
	{"input-format", "no-such-format"},
	{"action", "no-such-action"},
	{"host", "no-port"},
	{"listen", "no-port"},
	{"upstream", "no-port"},
	{"admin", "::no-port"},
}

func badValue(c *cobra.Command) (flag, value string, ok bool) {
	var typed string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if typed == "" && !f.Hidden && wantedValue(f.Value.Type()) != "" && f.Value.Type() != "bool" {
			typed = f.Name
		}
	})
	if typed != "" {
		return typed, "not-a-number", true
	}
	c.InheritedFlags().VisitAll(func(f *pflag.Flag) {
		if typed == "" && !f.Hidden && wantedValue(f.Value.Type()) != "" && f.Value.Type() != "bool" {
			typed = f.Name
		}
	})
	if typed != "" {
		return typed, "not-a-number", true
	}
	for _, b := range badValues {
		if c.Flags().Lookup(b.flag) != nil || c.InheritedFlags().Lookup(b.flag) != nil {
			return b.flag, b.value, true
		}
	}
	return "", "", false
}

// placeholderArgs returns the fewest arguments c's Args accepts ("x", "x", ...).
func placeholderArgs(c *cobra.Command) []string {
	if c.Args == nil {
		return nil
	}
	var args []string
	for n := 0; n < 4; n++ {
		if c.Args(c, args) == nil {
			return args
		}
		args = append(args, "x")
	}
	return nil
}

// badArgs returns arguments the command must reject: none when it needs some, one too many
// when it takes a fixed number, else an argument that names nothing.
func badArgs(c *cobra.Command) (args []string, mention []string) {
	if c.HasSubCommands() {
		return []string{"no-such-command"}, []string{"no-such-command"}
	}
	if c.Args == nil {
		return []string{"no-such-thing"}, nil
	}
	if err := c.Args(c, nil); err != nil {
		return nil, nil
	}
	many := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}
	var ee *exitError
	if err := c.Args(c, many); err != nil && errors.As(err, &ee) {
		return many, nil
	}
	return []string{"no-such-thing"}, []string{"no-such-thing"}
}

// TestHelpStandsAlone: a user of the binary alone has no repository. Every command says what
// it does (Short), every command that runs something explains itself (Long), and a help text
// that names a document names where it lives (the repository), not a bare path.
func TestHelpStandsAlone(t *testing.T) {
	root := newRootCmd()
	docRef := regexp.MustCompile(`\b[\w./-]+\.md\b`)
	walk(root, func(c *cobra.Command) {
		name := c.CommandPath()
		if c.Short == "" {
			t.Errorf("%s: no Short", name)
		}
		if c.Runnable() && !c.HasSubCommands() && c.Long == "" && c.Parent() != nil && c.Parent().Name() != "completion" && c.Name() != "help" {
			t.Errorf("%s: no Long help", name)
		}
		texts := []string{c.Long, c.Example}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) { texts = append(texts, f.Usage) })
		for _, text := range texts {
			if docRef.MatchString(text) && !strings.Contains(text, "github.com/posdrill/posdrill") {
				t.Errorf("%s: names %q without saying it is in the repository (github.com/posdrill/posdrill):\n%s",
					name, docRef.FindString(text), text)
			}
		}
	})
}
