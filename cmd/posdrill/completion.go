package main

// Shell completion of the names a user types (cards, scenarios, dialects, framings, entry
// modes, languages), registered by flag name over the whole tree, so a command added later
// that follows the flag names of docs/CLI.md completes them too. A command registers its own
// function first where its set differs (decode's framings); that one is kept.

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/scenarios"
)

type completeFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// fixed completes from a fixed list.
func fixed(names ...string) completeFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// flagCompletions maps flag names (docs/CLI.md) to what completes their values.
var flagCompletions = map[string]completeFunc{
	"card":    completeCards,
	"dialect": completeDialects,
	"framing": fixed(iso.Framings()...),
	"lang":    fixed("en", "zh"),
	"entry":   fixed(iso.EntryModes()...),
}

// completeCards lists the card names of the command's --cards file, or the built-in ones.
func completeCards(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	set := cards.Builtin()
	if f := cmd.Flags().Lookup("cards"); f != nil && f.Value.String() != "" {
		if s, err := cards.Load(f.Value.String()); err == nil {
			set = s
		}
	}
	return set.Names(), cobra.ShellCompDirectiveNoFileComp
}

// completeDialects lists the built-in dialects; a moov-io JSON spec file completes as a file.
func completeDialects(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.ContainsAny(toComplete, "./") {
		return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
	}
	return iso.DialectNames(), cobra.ShellCompDirectiveNoFileComp
}

// completeScenarios lists the library's scenario names; files and directories complete too.
func completeScenarios(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.ContainsAny(toComplete, "./") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	lib, err := scenarios.Library()
	if err != nil {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var names []string
	for _, sc := range lib {
		if strings.HasPrefix(sc.Name, toComplete) {
			names = append(names, sc.Name+"\t"+sc.Title.String())
		}
	}
	return names, cobra.ShellCompDirectiveDefault
}

// completeCases lists the built-in terminal suite's case names; files and directories
// complete too.
func completeCases(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.ContainsAny(toComplete, "./") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	suite, err := scenarios.TerminalSuite()
	if err != nil {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var names []string
	for _, sc := range suite {
		if strings.HasPrefix(sc.Name, toComplete) {
			names = append(names, sc.Name+"\t"+sc.Title.String())
		}
	}
	return names, cobra.ShellCompDirectiveDefault
}

// registerCompletions adds the flag completions to every command of the tree that has one of
// those flags and no completion of its own for it.
func registerCompletions(root *cobra.Command) {
	walk(root, func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			fn, ok := flagCompletions[f.Name]
			if !ok {
				return
			}
			if _, exists := c.GetFlagCompletionFunc(f.Name); exists {
				return
			}
			_ = c.RegisterFlagCompletionFunc(f.Name, fn)
		})
	})
}
