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
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/listen"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/trace"
)

type acquirerFlags struct {
	listen, admin, db, cardsFile, dialect, framing, faults, token, logLevel string
	trace, cpuProfile, mac                                                  string
	stdin                                                                   io.Reader // for "-" as a file
	seed                                                                    int64
	frameTimeout, idleTimeout, firstFrame                                   time.Duration
	maxConns, maxPerSource, ksnField                                        int
}

func newAcquirerCmd() *cobra.Command {
	var f acquirerFlags
	cmd := &cobra.Command{
		Use:   "acquirer",
		Short: "Run the mock card acquirer (ISO 8583 over TCP, admin HTTP API on loopback)",
		Long: `Run the mock card acquirer until interrupted.

It authorizes ISO 8583 requests against the test cards, keeps a ledger and a journal of
every message (SQLite, committed before each answer), and fails on purpose where fault
rules say so. The first line on stdout is

    listening iso=HOST:PORT admin=HOST:PORT

(port 0 picks a free port), the second seed=N. Logs (card numbers masked) go to stderr.
The admin API serves /healthz /journal /transactions /cards /cards/{name} /reset /metrics
and /faults (fault rules as JSON; amounts in minor units with NAME_major beside them). A
--faults file is a YAML list of rules:

  - name: issuer down for visa
    match: {mti: "0200", card: visa-ok}     # also terminal, amount, pan_prefix, entry_mode ...
    action: decline                           # posdrill fault add --help lists the actions
    params: {code: "91"}
    count: 3                                  # fire at most 3 times (0: always)

A rule naming a card this acquirer does not have is refused. The decision order, the
store, the admin API and every action are described in docs/acquirer.md in the repository
(github.com/posdrill/posdrill). --trace writes a JSONL trace of every message in and out
(connections "c1", "c2"... as the journal numbers them) and every fault fired, card data
masked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("seed") {
				// A fresh seed per run, printed so that the run can be repeated.
				f.seed = time.Now().UnixNano() % 1_000_000_000
			}
			stop, err := startCPUProfile(f.cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			f.stdin = cmd.InOrStdin()
			return runAcquirer(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8583", "ISO 8583 address to listen on (port 0: any free port)")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:8584", "admin HTTP address (port 0: any free port); off loopback it requires --admin-token")
	fl.StringVar(&f.db, "db", ":memory:", "SQLite database file (kept across restarts) or :memory:")
	fl.StringVar(&f.cardsFile, "cards", "", "test cards and merchants YAML (default: the built-in set)")
	fl.StringVar(&f.dialect, "dialect", "ascii", "ISO 8583 dialect: ascii, ascii-hex, bcd or a moov-io JSON spec file")
	fl.StringVar(&f.framing, "framing", "len2", "length header: "+strings.Join(iso.Framings(), ", "))
	fl.IntVar(&f.ksnField, "ksn-field", iso.DefaultKSNField, "field a DUKPT terminal's key serial number travels in (a request carrying one is handled as DUKPT, keys from the cards file's bdks)")
	fl.StringVar(&f.mac, "mac", "", "MAC algorithm the host verifies and computes: x9.19, iso9797-alg3-m1, iso9797-alg3-m2, cup-ecb (default: cup-ecb with --dialect cup, x9.19 otherwise)")
	fl.StringVar(&f.faults, "faults", "", "fault rules YAML file to start with")
	fl.Int64Var(&f.seed, "seed", 0, "seed for fault probabilities, RRNs and auth codes (default: random, printed)")
	fl.StringVar(&f.token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token the admin API requires (env POSDRILL_ADMIN_TOKEN)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level on stderr: debug, info, warn, error")
	fl.DurationVar(&f.frameTimeout, "frame-timeout", acquirer.DefaultFrameTimeout, "time a started frame may take to arrive whole")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", 0, "close connections idle this long (0: never)")
	fl.IntVar(&f.maxConns, "max-conns", 0, fmt.Sprintf("maximum open connections (default %d, lowered below the descriptor limit; the choice is logged)", acquirer.DefaultMaxConns))
	fl.IntVar(&f.maxPerSource, "max-conns-per-source", acquirer.DefaultMaxPerSource, "maximum open connections from one IP address (loopback exempt; -1: no cap)")
	fl.DurationVar(&f.firstFrame, "first-frame-timeout", acquirer.DefaultFirstFrame, "close a connection whose first frame has not started this long after it was accepted (negative: never)")
	fl.StringVar(&f.trace, "trace", "", "write a JSONL trace of every message and fault fired to this file (- for stdout, after the first two lines)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile to this file until the acquirer stops")
	_ = fl.MarkHidden("cpuprofile")
	return cmd
}

// adminMaxConns caps the admin API's connections (part of listen.Reserve).
const adminMaxConns = 64

func runAcquirer(ctx context.Context, f acquirerFlags, stdout, stderr io.Writer) error {
	usage := func(format string, a ...any) error { return &exitError{code: 2, err: fmt.Errorf(format, a...)} }
	dialect, err := iso.DialectByName(f.dialect)
	if err != nil {
		return usage("--dialect: %v", err)
	}
	framing, err := iso.ParseFraming(f.framing)
	if err != nil {
		return usage("--framing: %v", err)
	}
	macAlg, err := mac.ParseAlgorithm(f.mac)
	if err != nil {
		return usage("--mac: %v", err)
	}
	if f.ksnField < 2 || f.ksnField > 128 || f.ksnField == 52 || f.ksnField == 64 || f.ksnField == 128 {
		return usage("--ksn-field: %d is not a free field number 2..128 (default %d)", f.ksnField, iso.DefaultKSNField)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usage("--log-level: %q is not debug, info, warn or error", f.logLevel)
	}
	if err := checkAdminAddr(f.admin, f.token); err != nil {
		return err
	}
	fixtures, err := loadCardsArg(f.stdin, "--cards", f.cardsFile)
	if err != nil {
		return err
	}
	engine := fault.NewEngine(f.seed, clock.Real{})
	engine.Cards(fixtures.Names())
	if err := loadFaults(engine, f.stdin, f.faults); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	maxConns, why := listen.DefaultMaxConns(acquirer.DefaultMaxConns)
	if f.maxConns > 0 {
		maxConns, why = f.maxConns, fmt.Sprintf("%d (--max-conns)", f.maxConns)
		if lim, err := listen.DescriptorLimit(); err == nil && uint64(f.maxConns)+listen.Reserve > lim {
			logger.Warn("--max-conns is above what the descriptor limit leaves for connections: accepts will back off when descriptors run out",
				"max_conns", f.maxConns, "descriptor_limit", lim)
		}
	}
	logger.Info("connection cap", "max_conns", why)
	o := acquirer.Options{Dialect: dialect, Framing: framing, MAC: macAlg, KSNField: f.ksnField, Seed: f.seed, Cards: fixtures,
		DB: f.db, Faults: engine, Logger: logger, AdminToken: f.token, FrameTimeout: f.frameTimeout,
		IdleTimeout: f.idleTimeout, MaxConns: maxConns, MaxPerSource: f.maxPerSource, FirstFrameTimeout: f.firstFrame}
	closeTrace := func() error { return nil }
	if f.trace != "" {
		// With "-", records follow the two-line header: connections are accepted only
		// once Serve runs, after it is printed.
		tw, closeFn, err := openTraceFlag(stdout, f.trace)
		if err != nil {
			return err
		}
		o.ObserverFor = func(conn string) iso.Observer { return trace.Observer(tw, trace.SourceAcquirer, conn, dialect) }
		o.OnFault = acquirer.FaultTracer(tw)
		closeTrace = closeFn
	}
	a, err := acquirer.New(o)
	if err != nil {
		_ = closeTrace()
		return err
	}
	// stop closes the acquirer, then the trace: nothing is written to it after that.
	stop := func() error {
		err := a.Close()
		if cerr := closeTrace(); err == nil {
			err = cerr
		}
		return err
	}
	isoLn, err := net.Listen("tcp", f.listen)
	if err != nil {
		_ = stop()
		return fmt.Errorf("--listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", f.admin)
	if err != nil {
		isoLn.Close()
		_ = stop()
		return fmt.Errorf("--admin: %w", err)
	}
	srv := &http.Server{Handler: a.Admin(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}

	fmt.Fprintf(stdout, "listening iso=%s admin=%s\n", isoLn.Addr(), adminLn.Addr())
	fmt.Fprintf(stdout, "seed=%d\n", f.seed)

	errs := make(chan error, 2)
	go func() { errs <- a.Serve(isoLn) }()
	go func() {
		// The admin API shares the accept loop (back-off when descriptors run out) with
		// its own small caps: it serves a few operators and scripts, not terminals.
		adminL := listen.New(adminLn, listen.Options{MaxConns: adminMaxConns, MaxPerSource: adminMaxConns / 4, ExemptLoopback: true, Logger: logger})
		if err := srv.Serve(adminL); !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("admin API: %w", err)
			return
		}
		errs <- nil
	}()
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("stopping")
	case runErr = <-errs:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	if err := stop(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// minAdminToken is the shortest token accepted off loopback: long enough that guessing it
// over the network is not a plan (16 random characters).
const minAdminToken = 16

// checkAdminAddr refuses an admin API address off loopback without a real token: the API
// controls faults (and on the acquirer resets the ledger), so others must not reach it
// unauthenticated. A blank token (spaces only) is refused anywhere: it would be a token
// nobody meant.
func checkAdminAddr(admin, token string) error {
	host, _, err := net.SplitHostPort(admin)
	if err != nil {
		return usageError(fmt.Errorf("--admin: %w", err))
	}
	if token != "" && strings.TrimSpace(token) == "" {
		return usageError(errors.New("--admin-token: the token is blank (only spaces)"))
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	where := host
	if where == "" {
		where = "every interface"
	}
	switch {
	case token == "":
		return usageError(fmt.Errorf("--admin: %s is not a loopback address: give --admin-token (or POSDRILL_ADMIN_TOKEN) of at least %d characters to bind the admin API there", where, minAdminToken))
	case len(token) < minAdminToken:
		return usageError(fmt.Errorf("--admin-token: %d characters is too short to guard the admin API on %s: give at least %d", len(token), where, minAdminToken))
	}
	return nil
}

// loadFaults adds the rules of a --faults file (none when path is empty) to engine.
func loadFaults(engine *fault.Engine, stdin io.Reader, path string) error {
	if path == "" {
		return nil
	}
	raw, name, err := readInputArg(stdin, "--faults", path, bounded.MaxDocument)
	if err != nil {
		return err
	}
	rules, err := fault.ParseYAML(raw, name)
	if err == nil {
		_, err = engine.Add(rules...)
	}
	if err != nil {
		return usageError(fmt.Errorf("--faults: %w", err))
	}
	return nil
}

// openTraceFlag opens a --trace file on the real clock, and returns the function that closes
// it and reports the first write error.
func openTraceFlag(stdout io.Writer, path string) (*trace.Writer, func() error, error) {
	tw, closeOut, err := openTrace(stdout, path, clock.Real{})
	if err != nil {
		return nil, nil, err
	}
	return tw, func() error {
		err := closeOut()
		if werr := tw.Err(); werr != nil {
			err = werr
		}
		if err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
		return nil
	}, nil
}
