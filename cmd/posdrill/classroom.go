package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/classroom"
	"github.com/posdrill/posdrill/iso/trace"
	"github.com/posdrill/posdrill/simulator/guidance"
	"github.com/posdrill/posdrill/simulator/tui"
)

type classroomFlags struct {
	listen, admin, token, results, lang string
	seed                                int64
	headless                            bool
}

func newClassroomCmd() *cobra.Command {
	var f classroomFlags
	cmd := &cobra.Command{
		Use:   "classroom",
		Short: "Run a class: one acquirer for every trainee, the trainer's console, results kept in SQLite",
		Long: `Run a class until the trainer quits the console (q).

Trainees join with
    posdrill train --host ISO-ADDR --class ADMIN-ADDR --name 张三
and get their own terminal id (CLASS001, CLASS002, ...; the same again for the same name).
The console lists them with their drill and last score; f faults the selected trainee's
next transaction, F everyone's; s starts a drill on every terminal; h holds the selected
trainee's next request for you to answer (a approve, x decline with a code, n never);
c / j export the results as CSV / JSON next to --results.

Results are committed to --results (SQLite) before a trainee's screen shows the score;
restart the class on the same file and the trainees and results are still there.
Off loopback, --admin needs --admin-token (16+ characters): it guards the acquirer's
admin API; trainees use only the /class/ routes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runClassroom(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8583", "ISO 8583 address the trainees' terminals dial (--host of posdrill train; no host: 127.0.0.1, 0.0.0.0 for a class on the network)")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:8584", "class API and admin API address (--class of posdrill train); off loopback it requires --admin-token")
	fl.StringVar(&f.token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token of the admin API (env POSDRILL_ADMIN_TOKEN)")
	fl.StringVar(&f.results, "results", "classroom.db", "SQLite file of trainees and results (kept; reopened on restart)")
	fl.StringVar(&f.lang, "lang", "", "console language: en or zh (default: from the locale)")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the acquirer's random choices")
	fl.BoolVar(&f.headless, "headless", false, "no console: print the addresses and serve until interrupted (scripts, tests)")
	cmd.AddCommand(newClassroomExportCmd())
	return cmd
}

func runClassroom(ctx context.Context, f classroomFlags, stdout, stderr io.Writer) error {
	// No host part means loopback, as everywhere: nothing is on the network by accident.
	f.listen, f.admin = trace.ListenAddr(f.listen), trace.ListenAddr(f.admin)
	if err := checkAdminAddr(f.admin, f.token); err != nil {
		return err
	}
	lang := guidance.DetectLang(os.Getenv)
	switch f.lang {
	case "":
	case "en", "zh":
		lang = guidance.Lang(f.lang)
	default:
		return usageErrorf("--lang %q: want en or zh", f.lang)
	}
	if f.results == "" || f.results == "-" {
		return usageErrorf("--results: give a file (the results must survive the class)")
	}
	store, err := classroom.OpenStore(f.results)
	if err != nil {
		return usageErrorf("--results: %w", err)
	}
	defer store.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if f.headless {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	var console atomic.Pointer[tui.Console]
	class, err := classroom.New(classroom.Options{Store: store, Seed: f.seed, AdminToken: f.token, Logger: logger,
		OnChange: func() {
			if c := console.Load(); c != nil {
				c.Changed()
			}
		}})
	if err != nil {
		return err
	}
	defer class.Close()
	isoLn, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageErrorf("--listen: %w", err)
	}
	apiLn, err := net.Listen("tcp", f.admin)
	if err != nil {
		isoLn.Close()
		return usageErrorf("--admin: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	errs := make(chan error, 2)
	go func() { errs <- class.Serve(isoLn) }()
	go func() {
		if err := class.ServeHTTP(srv, apiLn); !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("class API: %w", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // ends the trainees' streams: they show the class as gone
	}()
	label := fmt.Sprintf("iso=%s class=%s results=%s", isoLn.Addr(), apiLn.Addr(), f.results)
	if f.headless {
		fmt.Fprintf(stdout, "listening iso=%s admin=%s\n", isoLn.Addr(), apiLn.Addr())
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			return err
		}
	}
	c := classroom.Desk{C: class, ExportBase: classroom.ExportBase(f.results)}.Console(tui.ConsoleConfig{Lang: lang, Label: label})
	console.Store(c)
	s, err := tcell.NewScreen()
	if err != nil {
		return fmt.Errorf("open the terminal screen: %w", err)
	}
	if err := s.Init(); err != nil {
		return fmt.Errorf("open the terminal screen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case err := <-errs:
			if err != nil {
				fmt.Fprintln(stderr, err)
			}
			cancel()
		case <-ctx.Done():
		}
	}()
	return c.Run(ctx, s)
}

func newClassroomExportCmd() *cobra.Command {
	var results string
	var asCSV, asJSON bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a class's results as CSV or JSON on stdout",
		Long: `Write every result of a class's results file: trainee, terminal, drill, started,
finished, score, max, passed, missing (expected actions not done), forbidden (forbidden
actions done).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asCSV == asJSON {
				return usageErrorf("give one of --csv or --json")
			}
			if results == "" {
				return usageErrorf("--results: give the class's results file")
			}
			if _, err := os.Stat(results); err != nil {
				return usageErrorf("--results: %w", err)
			}
			store, err := classroom.OpenStore(results)
			if err != nil {
				return usageErrorf("--results: %w", err)
			}
			defer store.Close()
			rs, err := store.Results()
			if err != nil {
				return usageErrorf("--results: %w", err)
			}
			if asJSON {
				return classroom.WriteJSON(cmd.OutOrStdout(), rs)
			}
			return classroom.WriteCSV(cmd.OutOrStdout(), rs)
		},
	}
	cmd.Flags().StringVar(&results, "results", "classroom.db", "the class's results file")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "CSV with a header line")
	cmd.Flags().BoolVar(&asJSON, "json", false, "a JSON array")
	return cmd
}
