package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/trace"
)

func newTraceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Work with JSONL traces: show one, import one from a jPOS log",
		Long: `A trace is a JSONL file, one record per line: the messages a side sent and received
(masked fields and payload), the events of a terminal (outcomes, reversals queued, late
answers) and the faults the acquirer fired. It is written by posdrill record, posdrill pay
--trace, posdrill acquirer --trace, posdrill run --trace-dir and trace import-jpos, and read
by trace show, replay and scenario from-trace. The format is described in iso/trace/doc.go
of the repository (github.com/posdrill/posdrill).`,
	}
	cmd.AddCommand(newTraceImportJPOSCmd(), newTraceShowCmd())
	return cmd
}

func newTraceShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show TRACE|-",
		Short: "Print a trace the way posdrill run -v prints a scenario's: one line per record, card data masked",
		Long: `Print a JSONL trace one line per record, as posdrill run -v does:

  +00:00:00.312  → 0200 stan=000123 pc=000000 amount=25.00 pan=411111******1111 tid=TERM0001
  +00:00:00.604  ← 0210 stan=000123 rrn=… auth=… rc=00 tid=TERM0001
  +00:00:30.605  · outcome stan=000124 outcome=timed_out_reversed
  +00:00:00.600  ! fault "answer lost" (drop_after_commit) on 0200 stan=000124

Times count from the first record. → is a message the side that wrote the trace sent, ← one
it received, · an event, ! a fault the acquirer fired. When the trace holds several sources
or connections, each line names its own ([terminal t1]). - reads standard input.`,
		Example: `  posdrill run answer-lost-after-approval --trace-dir traces && posdrill trace show traces/answer-lost-after-approval.jsonl
  posdrill trace import-jpos q2.log | posdrill trace show -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, err := readTraceArg(cmd.InOrStdin(), "TRACE", args[0])
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return usageErrorf("%s: the trace is empty", args[0])
			}
			w := cmd.OutOrStdout()
			for _, l := range trace.Lines(recs) {
				fmt.Fprintln(w, l)
			}
			return nil
		},
	}
}

func newTraceImportJPOSCmd() *cobra.Command {
	var side, dialect string
	cmd := &cobra.Command{
		Use:   "import-jpos LOG|-",
		Short: "Convert a jPOS XML log into a posdrill trace (card data masked) on standard output",
		Long: `Read a jPOS XML log (<log realm=… at=…> with <send>/<receive> and <isomsg>, or bare
<isomsg direction="outgoing|incoming">) and write a posdrill JSONL trace on standard output,
card data masked on the way in. The log's realm becomes the connection id. Times ("at")
are read in jPOS 2's ISO 8601 and jPOS 1's Date.toString form ("Tue Nov 26 10:15:00 CST
2024.123"). A message logged inside <info>, <debug>, <warn>... has no direction and is
skipped with a note on standard error.

--side host (the default) says the log was written by the host, so what it received is what
the terminal sent; --side terminal for a log written by a jPOS client. The "raw" of each
record is the fields packed in --dialect (jPOS logs hold values, not bytes).`,
		Example: `  posdrill trace import-jpos q2.log > shop.jsonl && posdrill replay shop.jsonl --host 127.0.0.1:8583`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := trace.JPOSOptions{}
			switch side {
			case "host":
				o.Source = trace.SourceAcquirer
			case "terminal":
				o.Source = trace.SourceTerminal
			default:
				return usageError(fmt.Errorf("--side must be host or terminal, got %q", side))
			}
			var err error
			if o.Dialect, err = iso.DialectByName(dialect); err != nil {
				return usageError(err)
			}
			in := cmd.InOrStdin()
			if args[0] != "-" {
				f, err := bounded.Open(args[0], bounded.MaxTrace)
				if err != nil {
					return usageError(err)
				}
				defer f.Close()
				in = f
			}
			name := args[0]
			if name == "-" {
				name = "standard input"
			}
			o.Skipped = func(line int, why string) {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s:%d: %s\n", cmd.CommandPath(), name, line, why)
			}
			n, err := trace.ImportJPOS(in, trace.NewWriter(cmd.OutOrStdout()), o)
			if err != nil {
				return usageErrorf("%s: %w", name, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "imported %d message(s)\n", n)
			return nil
		},
	}
	cmd.Flags().StringVar(&side, "side", "host", "who wrote the log: host or terminal")
	cmd.Flags().StringVar(&dialect, "dialect", "ascii", "dialect the imported fields are packed in for \"raw\"")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}
