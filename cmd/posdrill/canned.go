package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/load"
)

// newCannedCmd is `posdrill canned`: the baseline host for `posdrill load`.
func newCannedCmd() *cobra.Command {
	var listen, dialect, framing, cpuProfile string
	cmd := &cobra.Command{
		Use:   "canned --listen 127.0.0.1:0 [--dialect D] [--framing F]",
		Short: "Run a trivial host that answers every request 00 at once (the baseline for posdrill load)",
		Long: `canned answers every ISO 8583 request with its reply and code 00, in the connection's read
goroutine, with no ledger and no journal, over the same wire layer as the acquirer. The
throughput posdrill load reaches against it is what the machine, the transport and the
load generator allow; compare the acquirer's with it (measured numbers: BENCHMARKS.md in the repository,
github.com/posdrill/posdrill).

It prints "listening on ADDR" and serves until interrupted, then prints how many answers
it sent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := iso.DialectByName(dialect)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--dialect: %v", err)}
			}
			fr, err := iso.ParseFraming(framing)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--framing: %v", err)}
			}
			defer tuneGC()()
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			s := load.NewCannedServer(ln, d, fr)
			fmt.Fprintf(cmd.OutOrStdout(), "listening on %s\n", s.Addr())
			<-cmd.Context().Done()
			err = s.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "canned: %d answers\n", s.Served())
			if err != nil && !strings.Contains(err.Error(), "use of closed") {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8583", "address to listen on (port 0: any free port)")
	cmd.Flags().StringVar(&dialect, "dialect", "ascii", "ISO 8583 dialect: ascii, ascii-hex, bcd or a moov-io JSON spec file")
	cmd.Flags().StringVar(&framing, "framing", "len2", "length header: "+strings.Join(iso.Framings(), ", "))
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	return cmd
}
