package main

// The command-line contract (docs/CLI.md) in one place: exit codes, usage errors with
// "did you mean", and the walk over the command tree that makes cobra's own flag and argument
// errors follow it, so a subcommand added later gets the same behaviour without doing anything.

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/suggest"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses (docs/CLI.md).
const (
	exitOK     = 0 // success
	exitFailed = 1 // the thing tested failed: a scenario, a check, a replay difference
	exitUsage  = 2 // usage or input error: flag, value, name, file, unreachable host
)

// exitError carries a specific exit status; its message is printed as one line by run.
// An empty message means the command has already said everything on stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks an error in how the command was called or in its input (exit status 2).
func usageError(err error) error { return &exitError{exitUsage, err} }

// usageErrorf is usageError(fmt.Errorf(format, a...)).
func usageErrorf(format string, a ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, a...)}
}

// failed marks "the thing tested failed" (exit status 1).
func failed(err error) error { return &exitError{exitFailed, err} }

// unknownName is the usage error for a name that is not one of known, with "did you mean".
// kind is what the name names ("card", "scenario", "dialect", "framing", "entry mode"); flag,
// when not "", is the flag it came from and starts the message. A name that may be a card
// number must be masked by the caller.
func unknownName(flag, kind, name string, known []string) error {
	err := suggest.Unknown(kind, name, known)
	if flag != "" {
		err = fmt.Errorf("%s: %w", flag, err)
	}
	return usageError(err)
}

// exitCode maps an error returned by a command to its exit status: an explicit exitError
// wins; an unknown name anywhere in the chain is a usage error; anything else is 1.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.code == exitFailed && badFile(ee.err) {
			return exitUsage
		}
		return ee.code
	}
	if errors.Is(err, suggest.ErrUnknown) || cobraUsage(err) || badFile(err) {
		return exitUsage
	}
	return exitFailed
}

// badFile says whether err is an input file refused by its kind or its limits (a FIFO, a
// device, a directory, too large, nested too deep): an input error, exit 2, whichever
// command met it.
func badFile(err error) bool {
	return errors.Is(err, bounded.ErrNotRegular) || errors.Is(err, bounded.ErrTooLarge) || errors.Is(err, bounded.ErrLimit)
}

// cobraUsage recognises the usage errors cobra returns as plain errors after the flags have
// parsed (MarkFlagRequired, MarkFlagsMutuallyExclusive, ... and unknown commands).
func cobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"required flag(s) ", "if any flags in the group ", "at least one of the flags in the group ", "unknown command "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// errorLine is the one line run prints for err from cmd: "posdrill <cmd>: message".
// Cobra and pflag messages that span lines are folded so scripts can grep one line.
func errorLine(cmd *cobra.Command, err error) string {
	msg := strings.TrimSpace(err.Error())
	if msg == "" {
		return ""
	}
	if strings.Contains(msg, "\n") && !multiLineOK(err) {
		msg = strings.Join(strings.Fields(msg), " ")
	}
	path := "posdrill"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	return path + ": " + msg
}

// multiLineError is implemented by errors that list several problems, one per line (e.g. all
// the problems of a scenario file), which read better unfolded.
type multiLineError interface{ MultiLine() bool }

func multiLineOK(err error) bool {
	var m multiLineError
	return errors.As(err, &m) && m.MultiLine()
}

// usageArgs makes an argument-count error a usage error (exit status 2).
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			}
			// cobra says "accepts 1 arg(s), received 0"; the usage line says which.
			return usageErrorf("%v (usage: %s)", err, cmd.UseLine())
		}
		return nil
	}
}

// applyContract walks the whole tree under root (run it after every AddCommand):
//   - flag errors (unknown flag, bad value, missing value) become usage errors with a
//     readable message and, for an unknown flag, "did you mean";
//   - every Args validator returns usage errors;
//   - a command that only groups subcommands rejects an unknown one with "did you mean" and,
//     called alone, says which subcommands exist (exit 2), instead of cobra's help and exit 0.
func applyContract(root *cobra.Command) {
	root.SetFlagErrorFunc(flagError)
	walk(root, deprecationsToStderr)
	walk(root, func(c *cobra.Command) {
		if c.HasSubCommands() {
			groupCommand(c)
			return
		}
		if c.Name() == "help" && c.Parent() == root {
			c.Args = helpTopic
			return
		}
		if c.Args != nil {
			c.Args = usageArgs(c.Args)
		}
	})
}

// deprecationsToStderr moves a deprecated flag's notice to stderr: pflag writes it through
// cobra's Print, which is stdout once SetOut is called, and stdout belongs to the command's
// output (--json). The flag stays hidden and working; the notice is printed before the command runs.
func deprecationsToStderr(c *cobra.Command) {
	notes := map[*pflag.Flag]string{}
	for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.PersistentFlags()} {
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Deprecated != "" {
				notes[f] = f.Deprecated
				f.Deprecated, f.Hidden = "", true
			}
		})
	}
	if len(notes) == 0 {
		return
	}
	// Persistent flags reach the subcommands; each command that can see the flag says so.
	walk(c, func(sub *cobra.Command) {
		pre, preE := sub.PreRun, sub.PreRunE
		sub.PreRun = nil
		sub.PreRunE = func(cmd *cobra.Command, args []string) error {
			for f, note := range notes {
				if f.Changed {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: --%s is deprecated: %s\n", cmd.CommandPath(), f.Name, note)
				}
			}
			if preE != nil {
				return preE(cmd, args)
			}
			if pre != nil {
				pre(cmd, args)
			}
			return nil
		}
	})
}

// helpTopic rejects "posdrill help NOSUCH" (cobra prints "Unknown help topic" and exits 0).
func helpTopic(cmd *cobra.Command, args []string) error {
	cur := cmd.Root()
	for _, a := range args {
		next := (*cobra.Command)(nil)
		for _, s := range cur.Commands() {
			if s.Name() == a || s.HasAlias(a) {
				next = s
				break
			}
		}
		if next == nil {
			return usageError(suggest.Unknown("command", a, subcommandNames(cur)))
		}
		cur = next
	}
	return nil
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// subcommandNames lists the visible subcommands of c (and their aliases).
func subcommandNames(c *cobra.Command) []string {
	var names []string
	for _, s := range c.Commands() {
		if s.Hidden || s.Name() == "help" {
			continue
		}
		names = append(names, s.Name())
		names = append(names, s.Aliases...)
	}
	sort.Strings(names)
	return names
}

// groupCommand makes c reject unknown subcommands. The root keeps its own RunE (the training
// terminal); other groups get one that reports the missing subcommand.
func groupCommand(c *cobra.Command) {
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return usageError(suggest.Unknown("command", args[0], subcommandNames(cmd)))
	}
	if c.Run == nil && c.RunE == nil {
		c.RunE = func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("missing command: one of %s (see %s --help)", strings.Join(subcommandNames(cmd), ", "), cmd.CommandPath())
		}
	}
}

var (
	reUnknownFlag  = regexp.MustCompile(`^unknown flag: (--\S+)`)
	reUnknownShort = regexp.MustCompile(`^unknown shorthand flag: '(.)'`)
	reInvalidValue = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-\w, )?(--[^"]+)" flag: (.*)$`)
)

// flagError is cobra's FlagErrorFunc for the whole tree: pflag's messages, made readable and
// marked as usage errors.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if m := reUnknownShort.FindStringSubmatch(msg); m != nil {
		return usageErrorf("unknown flag -%s (see %s --help)", m[1], cmd.CommandPath())
	}
	if m := reUnknownFlag.FindStringSubmatch(msg); m != nil {
		name := strings.TrimLeft(m[1], "-")
		var known []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				known = append(known, f.Name)
			}
		})
		if c := suggest.Closest(name, known); c != "" {
			return usageErrorf("unknown flag %s (did you mean --%s?)", m[1], c)
		}
		return usageErrorf("unknown flag %s (see %s --help)", m[1], cmd.CommandPath())
	}
	if m := reInvalidValue.FindStringSubmatch(msg); m != nil {
		want := ""
		if f := cmd.Flags().Lookup(strings.TrimPrefix(m[2], "--")); f != nil {
			want = wantedValue(f.Value.Type())
		}
		if want == "" {
			return usageErrorf("%s %q: %s", m[2], m[1], m[3])
		}
		return usageErrorf("%s %q: want %s", m[2], m[1], want)
	}
	return usageError(err)
}

// wantedValue says in words what a pflag value type accepts.
func wantedValue(typ string) string {
	switch typ {
	case "int", "int8", "int16", "int32", "int64":
		return "a whole number"
	case "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number, 0 or more"
	case "float32", "float64":
		return "a number"
	case "duration":
		return "a duration such as 500ms, 30s or 2m"
	case "bool":
		return "true or false"
	case "intSlice", "uintSlice":
		return "whole numbers separated by commas"
	}
	return ""
}
