package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/classroom"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/trainer"
)

// trainOptions are the flags of `posdrill train` (and of the bare `posdrill`).
type trainOptions struct {
	host    string // external acquirer's ISO 8583 address; "" = embedded acquirer
	admin   string // external acquirer's admin API base URL
	token   string // admin API bearer token
	lang    string // en, zh; "" = from the locale
	seed    int64
	profile string // terminal profile YAML; "" = defaults
	trace   string // JSONL trace file; "" = none
	class   string // the class's API (posdrill classroom's --admin); "" = not in a class
	name    string // the trainee's name in the class
}

func newTrainCmd() *cobra.Command {
	var o trainOptions
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Open the training terminal: take payments, inject failures, run drills (default command)",
		Long: `Open the full-screen training terminal. By default it runs its own acquirer in the
process (nothing to set up); --host drives an external acquirer instead, and --admin gives
the trainer panel that acquirer's admin API (balances, journal, faults, reset).

Press ? in the terminal for every key; q or Ctrl-C quits.

--trace FILE writes a JSONL trace of the terminal's messages and events (and, with the
embedded acquirer, the faults it fires), card data masked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd.Context(), o) },
	}
	addTrainFlags(cmd, &o)
	return cmd
}

func addTrainFlags(cmd *cobra.Command, o *trainOptions) {
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "external acquirer address host:port (default: an embedded acquirer)")
	f.StringVar(&o.admin, "admin", "", "external acquirer's admin API, e.g. http://127.0.0.1:8080")
	f.StringVar(&o.token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token for the admin API (env POSDRILL_ADMIN_TOKEN)")
	f.StringVar(&o.lang, "lang", "", "language: en or zh (default: from LC_ALL / LC_MESSAGES / LANG)")
	f.Int64Var(&o.seed, "seed", 1, "seed of the embedded acquirer's random choices")
	f.StringVar(&o.profile, "profile", "", "terminal profile YAML (default: the built-in profile)")
	f.StringVar(&o.trace, "trace", "", "write a JSONL trace of the terminal's messages and events to this file")
	f.StringVar(&o.class, "class", "", "join a class: the class API address of posdrill classroom (its --admin), with --host and --name")
	f.StringVar(&o.name, "name", "", "your name in the class (with --class)")
}

// runTrain opens the UI on the user's terminal.
func runTrain(ctx context.Context, o trainOptions) error {
	link, err := joinClass(ctx, o)
	if err != nil {
		return err
	}
	var apply func(*trainer.Options)
	if link != nil {
		defer link.Close()
		apply = link.Apply
	}
	env, err := newTrainEnv(o, clock.Real{}, apply)
	if err != nil {
		return err
	}
	defer env.Close()
	if link != nil {
		link.Follow(env.App)
	}
	s, err := tcell.NewScreen()
	if err != nil {
		return fmt.Errorf("open the terminal screen: %w", err)
	}
	if err := s.Init(); err != nil {
		return fmt.Errorf("open the terminal screen: %w", err)
	}
	return env.App.Run(ctx, s) // Run restores the terminal when it returns
}

// newTrainEnv turns the flags into trainer.Options: the language, the profile file and the
// trace file (closed after everything that writes to it).
func newTrainEnv(o trainOptions, clk clock.Clock, apply func(*trainer.Options)) (*trainer.Env, error) {
	to := trainer.Options{Host: o.host, Admin: o.admin, AdminToken: o.token, Seed: o.seed, Clock: clk,
		Lang: guidance.DetectLang(os.Getenv)}
	switch o.lang {
	case "":
	case "en", "zh":
		to.Lang = guidance.Lang(o.lang)
	default:
		return nil, fmt.Errorf("--lang %q: want en or zh", o.lang)
	}
	if o.admin != "" {
		if o.host == "" {
			return nil, errors.New("--admin needs --host: the embedded acquirer has no separate admin API")
		}
		// Checked here too, so that a bad address is reported under its flag's name.
		if _, err := acquirer.NewAdminClient(o.admin, o.token); err != nil {
			return nil, fmt.Errorf("--admin: %w", err)
		}
	}
	if o.profile != "" {
		p, err := simulator.LoadProfile(o.profile)
		if err != nil {
			return nil, err
		}
		to.Profile = &p
	}
	closeTrace := func() error { return nil }
	if o.trace != "" {
		if o.trace == "-" {
			return nil, errors.New("--trace -: the screen is on standard output; give a file")
		}
		tw, closeOut, err := openTrace(nil, o.trace, clk)
		if err != nil {
			return nil, err
		}
		to.Trace = tw
		closeTrace = func() error {
			err := closeOut()
			if werr := tw.Err(); werr != nil {
				err = werr
			}
			return err
		}
	}
	if apply != nil {
		apply(&to)
	}
	env, err := trainer.New(to)
	if err != nil {
		_ = closeTrace()
		return nil, err
	}
	env.CloseAfter(closeTrace)
	return env, nil
}

// joinClass joins the class of --class as --name (nil, nil without --class or --name).
func joinClass(ctx context.Context, o trainOptions) (*classroom.Link, error) {
	if o.class == "" && o.name == "" {
		return nil, nil
	}
	switch {
	case o.class == "":
		return nil, usageErrorf("--name is for a class: give the class's address with --class (and its ISO address with --host)")
	case strings.TrimSpace(o.name) == "":
		return nil, usageErrorf("--name: a trainee needs a name to join the class (posdrill train --host ISO --class API --name 张三)")
	case o.host == "":
		return nil, usageErrorf("--class needs --host: the class's ISO 8583 address (posdrill classroom prints both)")
	case o.admin != "":
		return nil, usageErrorf("--class and --admin: a trainee's panel goes through the class, not the admin API")
	}
	if err := classroom.CheckName(o.name); err != nil {
		return nil, usageErrorf("--name: %w", err)
	}
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	link, err := classroom.Join(jctx, o.class, o.name)
	if err != nil {
		return nil, usageError(err)
	}
	return link, nil
}
