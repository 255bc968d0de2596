package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/trace"
)

func newRecordCmd() *cobra.Command {
	var listen, upstream, traceFile, dialect, framing string
	cmd := &cobra.Command{
		Use:   "record --upstream HOST:PORT --trace FILE [--listen ADDR]",
		Short: "Run a recording proxy between a terminal and a host; bytes pass unchanged, the trace is masked",
		Long: `Listen for terminals, connect each one to the upstream host, and pass every byte through
unchanged in both directions while writing a JSONL trace (see posdrill replay) of every frame
with card data masked. The first line on standard output is "listening proxy=HOST:PORT".
Without a host part, --listen binds 127.0.0.1. --trace - writes the trace to standard
output. What goes wrong on the line (host down, garbage, a stream cut mid-frame, a frame that
does not decode) is also said on standard error. To make failures happen on chosen messages,
use posdrill proxy. Stop with Ctrl-C.`,
		Example: `  posdrill record --listen :9583 --upstream 10.0.0.5:8583 --trace shop.jsonl`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := iso.DialectByName(dialect)
			if err != nil {
				return usageError(err)
			}
			fr, err := iso.ParseFraming(framing)
			if err != nil {
				return usageError(err)
			}
			if upstream == "" || traceFile == "" {
				return usageError(fmt.Errorf("--upstream and --trace are required"))
			}
			if err := checkHostPort("--upstream", upstream); err != nil {
				return err
			}
			tw, closeOut, err := openTrace(cmd.OutOrStdout(), traceFile, clock.Real{})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", trace.ListenAddr(listen))
			if err != nil {
				closeOut()
				return &exitError{1, err}
			}
			p := trace.NewProxy(upstream, tw, trace.ProxyOptions{Dialect: d, Framing: fr, OnEvent: consoleEvents(cmd.ErrOrStderr(), &sync.Mutex{}, false)})
			fmt.Fprintf(cmd.OutOrStdout(), "listening proxy=%s\n", ln.Addr())
			errc := make(chan error, 1)
			go func() { errc <- p.Serve(ln) }()
			select {
			case <-cmd.Context().Done():
				p.Close()
				<-errc
			case err = <-errc:
				p.Close()
			}
			if cerr := closeOut(); err == nil || err == trace.ErrProxyClosed {
				err = cerr
			}
			if err == nil {
				err = tw.Err()
			}
			if err != nil {
				return &exitError{1, err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address terminals connect to (no host: 127.0.0.1)")
	cmd.Flags().StringVar(&upstream, "upstream", "", "host:port of the real host")
	cmd.Flags().StringVar(&traceFile, "trace", "", "trace file to write (JSONL; - for standard output)")
	cmd.Flags().StringVar(&dialect, "dialect", "ascii", "dialect for decoding the trace (bytes pass unchanged anyway)")
	cmd.Flags().StringVar(&framing, "framing", "len2", "framing: "+strings.Join(iso.Framings(), ", "))
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

// openTrace opens a --trace FILE for any subcommand (truncating it; "-" is stdout):
// a trace.Writer whose records without a time are stamped by clk, each record flushed as it
// is written (so the file is complete up to the last frame however the process stops), and
// the function that closes the file. Wire a component with
// trace.Observer(w, trace.SourceAcquirer, connID, dialect) as its Observer, or with
// simulator.TerminalTrace and acquirer.FaultTracer.
func openTrace(stdout io.Writer, path string, clk clock.Clock) (*trace.Writer, func() error, error) {
	// Parent directories are created (docs/CLI.md); a path that cannot be written is a
	// usage error, reported before the command starts its work.
	out, closeFn, err := createOutput(stdout, "--trace", path)
	if err != nil {
		return nil, nil, err
	}
	return trace.NewWriter(flushWriter{bufio.NewWriter(out)}, trace.WithClock(clk)), closeFn, nil
}

// flushWriter flushes after every write: trace.Writer writes one whole line per call.
type flushWriter struct{ w *bufio.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.w.Flush()
	}
	return n, err
}
