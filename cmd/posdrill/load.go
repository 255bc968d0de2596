package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/load"
	"github.com/posdrill/posdrill/iso/mac"
)

// newLoadCmd is `posdrill load`: a fleet of lean terminals against a host, and how fast it
// answered.
func newLoadCmd() *cobra.Command {
	var (
		host, mix, cardsFile, amount, dialect, framing, merchant, tids string
		macName                                                        string
		terminals, inflight, idleConns, pid                            int
		duration, timeout, hold                                        time.Duration
		count, seed                                                    int64
		rate                                                           float64
		asJSON, noEcho                                                 bool
		cardList                                                       []string
		cpuProfile                                                     string
	)
	cmd := &cobra.Command{
		Use:   "load --host ADDR --terminals N (--duration D | --count N) [--rate R] [--mix sale:90,refund:5,reversal:5] [--json]",
		Short: "Load-test an ISO 8583 host with a fleet of terminals and report throughput and latency",
		Long: `load opens one connection per terminal (terminal ids TERM0001..TERM0009 of the built-in
merchant, in turn; STANs stay unique per terminal id across the fleet) and sends sales,
refunds, balance inquiries, echo tests and reversals (a 0400 for one of that connection's
earlier approved sales) in the --mix proportions, over the same wire layer as the terminal
engine. Without --rate each of the --inflight slots of a terminal sends as soon as its
previous answer came (closed loop: the host's maximum); with --rate the fleet sends that
many requests per second in total whatever the answers do (open loop), and latency counts
from when each request was due.

At the end: throughput, latency p50/p90/p99/p99.9/max, counts by operation and response
code, timeouts, errors and unmatched answers; --json prints the same for tools. A progress
bar goes to stderr when it is a terminal. The seed is printed; the same seed draws the same
operations and amounts.

--idle-conns N opens N more connections that stay idle (after one echo test each, unless
--no-echo) and, with --pid, reports that process's resident memory (/proc/PID/status)
before and while they are open. Alone it holds them for --hold; with --duration or
--count the load runs while they are open.

posdrill canned is the baseline host: it answers everything 00 at once, so its throughput
is the most this machine, transport and load generator allow.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			usage := func(format string, a ...any) error {
				return &exitError{code: 2, err: fmt.Errorf(format, a...)}
			}
			runLoad := duration > 0 || count > 0
			if duration > 0 && count > 0 {
				return usage("give --duration or --count, not both")
			}
			if !runLoad && idleConns == 0 {
				return usage("give --duration or --count (or --idle-conns)")
			}
			if !cmd.Flags().Changed("seed") {
				seed = time.Now().UnixNano()
			}
			d, err := iso.DialectByName(dialect)
			if err != nil {
				return usage("--dialect: %v", err)
			}
			fr, err := iso.ParseFraming(framing)
			if err != nil {
				return usage("--framing: %v", err)
			}
			macAlg, err := mac.ParseAlgorithm(macName)
			if err != nil {
				return usage("--mac: %v", err)
			}
			m, err := load.ParseMix(mix)
			if err != nil {
				return usage("--mix: %v", err)
			}
			set, err := loadCardsArg(cmd.InOrStdin(), "--cards", cardsFile)
			if err != nil {
				if _, serr := os.Stat(cardsFile); serr != nil && cardsFile != "-" && !strings.HasSuffix(cardsFile, ".yaml") {
					return usage("%v (--cards is a card set file; card names go in --card)", err)
				}
				return err
			}
			var fleetCards []cards.Card
			for _, name := range cardList {
				c, ok := set.ByName(name)
				if !ok {
					return unknownName("--card", "card", iso.MaskText(name), set.Names())
				}
				fleetCards = append(fleetCards, c)
			}
			if host == "" {
				return usage("--host is required (the host's address, e.g. 127.0.0.1:8583)")
			}
			if err := checkHostPort("--host", host); err != nil {
				return err
			}
			lo, hi, err := parseAmountRange(amount)
			if err != nil {
				return usage("--amount: %v", err)
			}
			if merchant == "" {
				merchant = set.Merchants[0].ID
			}
			mer, ok := set.Merchant(merchant)
			if !ok {
				return usage("--merchant: no merchant %q in the card set", merchant)
			}
			tidList := splitList(tids)
			if len(tidList) == 0 {
				tidList = mer.Terminals
			}
			if len(tidList) == 0 {
				return usage("merchant %s has no terminals: give --tids", merchant)
			}

			defer tuneGC()()
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			ctx := cmd.Context()
			stderr := cmd.ErrOrStderr()
			out := loadOutput{Seed: seed}
			var idle *load.Idle
			if idleConns > 0 {
				if pid > 0 {
					if ps, err := load.ReadProcStatus(pid); err == nil {
						out.Idle.HostRSSBefore = ps.RSS
					} else {
						return usage("--pid: %v", err)
					}
				}
				fmt.Fprintf(stderr, "load: opening %d idle connections to %s\n", idleConns, host)
				idle, err = load.OpenIdle(ctx, load.IdleConfig{Addr: host, Conns: idleConns, Echo: !noEcho, TIDs: tidList,
					Dialect: d, Framing: fr, Timeout: timeout, Seed: seed})
				if err != nil {
					return err
				}
				defer idle.Close()
				out.Idle.Conns, out.Idle.Opened, out.Idle.OpenSeconds = idleConns, idle.Opened, idle.Took.Seconds()
				out.Idle.Echoed, out.Idle.EchoFailed = idle.Echoed, idle.Failed
				if pid > 0 {
					if ps, err := load.ReadProcStatus(pid); err == nil {
						out.Idle.HostRSS, out.Idle.HostHWM, out.Idle.HostThreads = ps.RSS, ps.HWM, ps.Threads
					}
				}
				if !runLoad && hold > 0 {
					fmt.Fprintf(stderr, "load: holding them for %s\n", hold)
					t := time.NewTimer(hold)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
					}
				}
				out.Idle.AliveAtEnd = idle.Alive()
				out.idle = true
			}
			if runLoad {
				cfg := load.Config{Addr: host, Terminals: terminals, InFlight: inflight, Duration: duration, Count: count,
					Rate: rate, Mix: m, Cards: fleetCards, Merchant: merchant, TIDs: tidList, Currency: mer.Currency,
					AmountMin: lo, AmountMax: hi, Dialect: d, Framing: fr, Timeout: timeout, Seed: seed, MAC: macAlg}
				bar := newProgressBar(stderr)
				if bar != nil {
					cfg.Progress = bar.update
				}
				rep, err := load.Run(ctx, cfg)
				if bar != nil {
					bar.clear()
				}
				if err != nil {
					return err
				}
				out.Load = rep
				if idle != nil {
					out.Idle.AliveAtEnd = idle.Alive()
					if pid > 0 {
						if ps, err := load.ReadProcStatus(pid); err == nil {
							out.Idle.HostRSSAfterLoad, out.Idle.HostHWM = ps.RSS, ps.HWM
						}
					}
				}
			}
			if self, err := load.ReadProcStatus(os.Getpid()); err == nil {
				out.SelfRSS = self.RSS
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out.forJSON())
			}
			out.writeText(w)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "", "host address, e.g. 127.0.0.1:8583")
	f.IntVar(&terminals, "terminals", 1, "terminals (connections) in the fleet")
	f.IntVar(&inflight, "inflight", 1, "requests in flight per terminal (pipelined)")
	f.DurationVar(&duration, "duration", 0, "run for this long (e.g. 20s)")
	f.Int64Var(&count, "count", 0, "or send this many requests in total")
	f.Float64Var(&rate, "rate", 0, "requests per second across the fleet, open loop (0: as fast as answers come)")
	f.StringVar(&mix, "mix", load.DefaultMix, "operations and weights: "+strings.Join(load.Ops(), ", "))
	f.StringSliceVar(&cardList, "card", load.DefaultCards, "cards to use in turn, by name (repeatable, or comma-separated)")
	f.StringVar(&cardsFile, "cards", "", "card set YAML (default: the built-in cards)")
	// --cards-file was --cards' name while --cards took card names (docs/CLI.md).
	f.StringVar(&cardsFile, "cards-file", "", "")
	_ = f.MarkDeprecated("cards-file", "use --cards FILE")
	f.StringVar(&amount, "amount", "0.01", "amount of each sale and refund in major units, or a range 0.01-1.00")
	f.StringVar(&merchant, "merchant", "", "merchant id, DE42 (default: the card set's first merchant)")
	f.StringVar(&tids, "tids", "", "terminal ids to use in turn (default: the merchant's terminals)")
	f.StringVar(&dialect, "dialect", "ascii", "ISO 8583 dialect: ascii, ascii-hex, bcd or a moov-io JSON spec file")
	f.StringVar(&framing, "framing", "len2", "length header: "+strings.Join(iso.Framings(), ", "))
	f.DurationVar(&timeout, "timeout", 5*time.Second, "response timeout")
	f.StringVar(&macName, "mac", "", "sign each terminal id on for working keys, then MAC every request with this algorithm and verify the answers' (x9.19, iso9797-alg3-m1, iso9797-alg3-m2, cup-ecb; the host's own)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.Int64Var(&seed, "seed", 0, "seed for the operation mix and amounts (default: from the clock, printed)")
	f.IntVar(&idleConns, "idle-conns", 0, "also open and hold this many idle connections")
	f.BoolVar(&noEcho, "no-echo", false, "with --idle-conns: do not send the echo test on each")
	f.IntVar(&pid, "pid", 0, "with --idle-conns: the host's process id, to report its resident memory")
	f.DurationVar(&hold, "hold", 0, "with --idle-conns alone: hold them this long before closing")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the load generator to this file")
	_ = f.MarkHidden("cpuprofile")
	return cmd
}

// tuneGC lets the heap grow to 4× the live data between collections (unless GOGC says
// otherwise): a load generator or baseline host keeps little live data and allocates per
// message, and at the default the collector takes a sizeable share of the CPU it competes
// for with the host under test.
// It returns a function that restores the previous setting.
func tuneGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(400)
	return func() { debug.SetGCPercent(old) }
}

// startCPUProfile writes a pprof CPU profile to path until stop is called ("" does
// nothing).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseAmountRange reads "0.01" or "0.01-1.00" (major units) into minor units.
func parseAmountRange(s string) (lo, hi int64, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = iso.ParseMoney(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = iso.ParseMoney(b); err != nil {
			return 0, 0, err
		}
	}
	if lo <= 0 || hi < lo {
		return 0, 0, fmt.Errorf("%q: amounts must be above zero, low to high", s)
	}
	return lo, hi, nil
}

// loadOutput is what `posdrill load` reports.
type loadOutput struct {
	Seed    int64
	Load    *load.Report
	Idle    idleOutput
	idle    bool
	SelfRSS int64
}

type idleOutput struct {
	Conns            int     `json:"conns"`
	Opened           int     `json:"opened"`
	OpenSeconds      float64 `json:"open_s"`
	Echoed           int     `json:"echoed"`
	EchoFailed       int     `json:"echo_failed"`
	AliveAtEnd       int     `json:"alive_at_end"`
	HostRSSBefore    int64   `json:"host_rss_before_bytes,omitempty"`
	HostRSS          int64   `json:"host_rss_bytes,omitempty"`
	HostRSSAfterLoad int64   `json:"host_rss_after_load_bytes,omitempty"`
	HostHWM          int64   `json:"host_peak_rss_bytes,omitempty"`
	HostThreads      int     `json:"host_threads,omitempty"`
}

func (o *loadOutput) forJSON() any {
	v := struct {
		Seed    int64        `json:"seed"`
		Load    *load.Report `json:"load,omitempty"`
		Idle    *idleOutput  `json:"idle,omitempty"`
		SelfRSS int64        `json:"load_generator_rss_bytes,omitempty"`
	}{Seed: o.Seed, Load: o.Load, SelfRSS: o.SelfRSS}
	if o.idle {
		v.Idle = &o.Idle
	}
	return v
}

func (o *loadOutput) writeText(w io.Writer) {
	if o.idle {
		i := o.Idle
		fmt.Fprintf(w, "idle: %d of %d connections open in %.2f s", i.Opened, i.Conns, i.OpenSeconds)
		if i.Echoed+i.EchoFailed > 0 {
			fmt.Fprintf(w, "; echo test answered 00 on %d, not on %d", i.Echoed, i.EchoFailed)
		}
		fmt.Fprintln(w)
		if i.HostRSS > 0 {
			fmt.Fprintf(w, "idle: host resident memory %s before, %s with them open (peak %s, %d threads)\n",
				mib(i.HostRSSBefore), mib(i.HostRSS), mib(i.HostHWM), i.HostThreads)
		}
		if i.HostRSSAfterLoad > 0 {
			fmt.Fprintf(w, "idle: host resident memory %s after the load (peak %s)\n", mib(i.HostRSSAfterLoad), mib(i.HostHWM))
		}
		fmt.Fprintf(w, "idle: %d still open at the end\n", i.AliveAtEnd)
	}
	if o.Load != nil {
		o.Load.WriteText(w)
	} else {
		fmt.Fprintf(w, "seed %d\n", o.Seed)
	}
	if o.SelfRSS > 0 {
		fmt.Fprintf(w, "load generator resident memory %s\n", mib(o.SelfRSS))
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// progressBar draws on stderr when it is a terminal.
type progressBar struct {
	w     io.Writer
	last  load.Progress
	width int
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	width := 30
	if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols < 90 {
		width = max(10, cols-60)
	}
	return &progressBar{w: w, width: width}
}

func (b *progressBar) update(p load.Progress) {
	rate := 0.0
	if dt := (p.Elapsed - b.last.Elapsed).Seconds(); dt > 0 {
		rate = float64(p.Answered-b.last.Answered) / dt
	}
	b.last = p
	n := int(p.Fraction() * float64(b.width))
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%% %6.1fs %9d answered %6.0f/s %d timeouts %d errors\033[K",
		strings.Repeat("=", n), strings.Repeat(" ", b.width-n), p.Fraction()*100, p.Elapsed.Seconds(),
		p.Answered, rate, p.Timeouts, p.Errors)
}

func (b *progressBar) clear() { fmt.Fprint(b.w, "\r\033[K") }
