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
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
)

type proxyFlags struct {
	listen, upstream, faults, admin, token, traceFile, dialect, framing, cardsFile string
	seed                                                                           int64
	verbose                                                                        bool
	stdin                                                                          io.Reader // for "-" as a file
}

// newProxyCmd is `posdrill proxy`: the record proxy with the fault engine in its path.
func newProxyCmd() *cobra.Command {
	var f proxyFlags
	cmd := &cobra.Command{
		Use:   "proxy --listen ADDR --upstream ADDR [--faults FILE] [--admin ADDR] [--trace FILE]",
		Short: "Stand between a real terminal and a real host and make network faults happen on chosen messages",
		Long: `Listen for terminals, connect each one to the upstream host, and pass every frame through,
decoded, while fault rules (the acquirer's rule format: match on mti, card, pan_prefix,
terminal, amount, processing_code, entry_mode; after, count, probability) make network
failures happen on the message they name:

  on the host's answer to the matched request: delay, no_response, drop_after_commit
  (answer lost, connection closed), reset, truncate_response, split_response,
  garble_response, wrong_stan, duplicate_response;
  on the request itself: drop_before_processing (the host never sees it), delay_request;
  on connections: refuse_connections.

Decisions (decline, partial_approval, aliases such as issuer_down) belong to the host and are
refused: use posdrill acquirer for those. Untouched frames pass byte for byte; a frame that
does not decode passes unchanged and is reported. --admin serves the same /faults API as the
acquirer, so posdrill fault --admin ADDR adds and clears rules while the proxy runs.

The first line on standard output is "listening proxy=HOST:PORT admin=HOST:PORT|off", the
second "seed=N". Each firing, and everything that goes wrong (upstream down, garbage, a
stream cut mid-frame, an undecodable frame), is printed on standard error and written to
--trace (JSONL, card data masked). Stop with Ctrl-C.`,
		Example: `  posdrill proxy --listen :9583 --upstream 10.0.0.5:8583 --faults lose-0210.yaml --trace shop.jsonl
  posdrill proxy --upstream 127.0.0.1:8583 --admin 127.0.0.1:9584 &
  posdrill fault --admin 127.0.0.1:9584 add --action drop_after_commit --mti 0200 --count 1`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("seed") {
				f.seed = time.Now().UnixNano() % 1_000_000_000
			}
			f.stdin = cmd.InOrStdin()
			return runProxy(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr(), nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:9583", "address terminals connect to (no host: 127.0.0.1; port 0: any free port)")
	fl.StringVar(&f.upstream, "upstream", "", "HOST:PORT of the real host (required)")
	fl.StringVar(&f.faults, "faults", "", "fault rules YAML file to start with")
	fl.StringVar(&f.admin, "admin", "", "serve the /faults admin API here (port 0: any free port); off loopback it requires --admin-token")
	fl.StringVar(&f.token, "admin-token", os.Getenv("POSDRILL_ADMIN_TOKEN"), "bearer token the admin API requires (env POSDRILL_ADMIN_TOKEN)")
	fl.StringVar(&f.traceFile, "trace", "", "write a JSONL trace of every frame, firing and event to this file (- for stdout)")
	fl.StringVar(&f.dialect, "dialect", "ascii", "dialect to decode frames: ascii, ascii-hex, bcd or a moov-io JSON spec file")
	fl.StringVar(&f.framing, "framing", "len2", "length header: "+strings.Join(iso.Framings(), ", "))
	fl.StringVar(&f.cardsFile, "cards", "", "cards YAML, to resolve match.card names from PANs (default: the built-in set)")
	fl.Int64Var(&f.seed, "seed", 0, "seed for fault probabilities (default: random, printed)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "also print each connection's start and end on standard error")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

// proxyReady is told the addresses once the proxy listens (tests use it instead of parsing
// stdout).
type proxyReady func(proxyAddr, adminAddr string)

func runProxy(ctx context.Context, f proxyFlags, stdout, stderr io.Writer, ready proxyReady) error {
	usage := func(format string, a ...any) error { return usageError(fmt.Errorf(format, a...)) }
	if f.upstream == "" {
		return usage("--upstream is required: the HOST:PORT of the host the terminals should reach")
	}
	if _, _, err := net.SplitHostPort(f.upstream); err != nil {
		return usage("--upstream: %v", err)
	}
	dialect, err := iso.DialectByName(f.dialect)
	if err != nil {
		return usage("--dialect: %v", err)
	}
	framing, err := iso.ParseFraming(f.framing)
	if err != nil {
		return usage("--framing: %v", err)
	}
	fixtures, err := loadCardsArg(f.stdin, "--cards", f.cardsFile)
	if err != nil {
		return err
	}
	if f.admin != "" {
		if err := checkAdminAddr(f.admin, f.token); err != nil {
			return err
		}
	}
	engine := fault.NewEngine(f.seed, clock.Real{})
	engine.Cards(fixtures.Names())
	var console sync.Mutex
	say := func(format string, a ...any) {
		console.Lock()
		defer console.Unlock()
		fmt.Fprintf(stderr, "proxy: "+format+"\n", a...)
	}
	var tw *trace.Writer
	closeTrace := func() error { return nil }
	if f.traceFile != "" {
		var err error
		if tw, closeTrace, err = openTraceFlag(stdout, f.traceFile); err != nil {
			return usage("--trace: %v", err)
		}
	} else {
		tw = trace.NewWriter(io.Discard)
	}
	shaper := fault.NewShaper(engine, fault.ShaperOptions{Dialect: dialect, Framing: framing, Cards: fixtures, Trace: tw,
		OnFire: func(r trace.Fault) {
			say("%s: fault %s %q fired: %s on %s STAN %s terminal %s", r.Conn, r.RuleID, r.Rule, r.Action, r.MTI, r.STAN, r.Terminal)
		}})
	if err := loadFaults(engine, f.stdin, f.faults); err != nil {
		_ = closeTrace()
		return err
	}
	p := trace.NewProxy(f.upstream, tw, trace.ProxyOptions{Dialect: dialect, Framing: framing, Shaper: shaper,
		OnEvent: consoleEvents(stderr, &console, f.verbose)})
	ln, err := net.Listen("tcp", trace.ListenAddr(f.listen))
	if err != nil {
		_ = closeTrace()
		return usage("--listen: %v", err)
	}
	adminAddr := "off"
	var srv *http.Server
	errs := make(chan error, 2)
	if f.admin != "" {
		aln, err := net.Listen("tcp", f.admin)
		if err != nil {
			ln.Close()
			_ = closeTrace()
			return usage("--admin: %v", err)
		}
		adminAddr = aln.Addr().String()
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
		})
		fh := fault.Handler(engine)
		mux.Handle("/faults", fh)
		mux.Handle("/faults/", fh)
		srv = &http.Server{Handler: fault.RequireToken(f.token, "posdrill proxy", mux), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(slog.NewTextHandler(stderr, nil), slog.LevelWarn)}
		go func() {
			if err := srv.Serve(aln); !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("admin API: %w", err)
			}
		}()
	}
	fmt.Fprintf(stdout, "listening proxy=%s admin=%s\n", ln.Addr(), adminAddr)
	fmt.Fprintf(stdout, "seed=%d\n", f.seed)
	if ready != nil {
		ready(ln.Addr().String(), adminAddr)
	}
	go func() { errs <- p.Serve(ln) }()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	p.Close()
	if errors.Is(runErr, trace.ErrProxyClosed) {
		runErr = nil
	}
	if err := closeTrace(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// consoleEvents prints a proxy's events on w, one line each (connections opening and closing
// only when verbose): what went wrong on the line is said on the console, not only in the
// trace.
func consoleEvents(w io.Writer, mu *sync.Mutex, verbose bool) func(trace.Event) {
	return func(e trace.Event) {
		if (e.Kind == "connect" || e.Kind == "close" || e.Kind == "fault_applied") && !verbose {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "proxy: %s: %s: %s\n", e.Conn, e.Kind, e.Detail)
	}
}
