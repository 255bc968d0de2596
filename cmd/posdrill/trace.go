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
		Short: "Work with JSONL traces (import from jPOS logs)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError(fmt.Errorf("trace needs a subcommand: import-jpos"))
		},
	}
	cmd.AddCommand(newTraceImportJPOSCmd())
	return cmd
}

func newTraceImportJPOSCmd() *cobra.Command {
	var side, dialect string
	cmd := &cobra.Command{
		Use:   "import-jpos LOG|-",
		Short: "Convert a jPOS XML log into a posdrill trace (card data masked) on standard output",
		Long: `Read a jPOS XML log (<log realm=… at=…> with <send>/<receive> and <isomsg>, or bare
<isomsg direction="outgoing|incoming">) and write a posdrill JSONL trace on standard output,
card data masked on the way in. The log's realm becomes the connection id.

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
			n, err := trace.ImportJPOS(in, trace.NewWriter(cmd.OutOrStdout()), o)
			if err != nil {
				return &exitError{1, fmt.Errorf("%s: %w", args[0], err)}
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
