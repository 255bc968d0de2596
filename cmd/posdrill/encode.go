package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/decode"
)

func newEncodeCmd() *cobra.Command {
	var dialect, framing, tpduHex, rawOut string
	cmd := &cobra.Command{
		Use:   "encode FILE.yaml|FILE.json|-",
		Short: "Build an ISO 8583 message from field values and print it as hex",
		Long: `Build a message from a YAML or JSON file and print it as upper-case hex, length header
(and TPDU) included. The file:

  mti: "0200"
  tpdu: "6000030000"        # optional; used with a +tpdu framing
  fields:
    2: "4111111111111111"    # field numbers, DE numbers (DE11) or names (pan, stan, ...)
    3: 000000                # leading zeros are kept, quoted or not
    4: 2500                  # fixed numeric fields are zero-padded on the left
    stan: 000123
    52: 0412EEEEEEEEEEEE     # binary fields as hex

Every value is checked against its field in --dialect before anything is packed, the way
the scenario parser checks scenarios: digits only in a numeric field (amounts are minor
units: 12.34 is written 1234), no value longer than its field, binary fields as hex of their
size. Every problem is reported as file:line:column and the exit status is 2.

The printed hex holds the message as given, card number included: it is test data you
wrote. --raw FILE also writes the framed bytes to FILE.`,
		Example: `  posdrill encode sale.yaml
  posdrill encode sale.yaml --dialect bcd --framing len2+tpdu --tpdu 6000010000 --raw sale.bin
  posdrill encode sale.yaml | posdrill decode`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := iso.DialectByName(dialect)
			if err != nil {
				return usageError(err)
			}
			fr, err := iso.ParseFraming(framing)
			if err != nil {
				return usageError(err)
			}
			if args[0] != "-" {
				if st, err := os.Stat(args[0]); err != nil || st.IsDir() {
					return usageError(fmt.Errorf("%s is not a readable file", args[0]))
				}
			}
			raw, err := readInput(cmd, args)
			if err != nil {
				return usageError(err)
			}
			mf, err := decode.ParseMessageFileFor(raw, args[0], d)
			if err != nil {
				// An invalid input file: every problem with its line and column, exit 2.
				var fe decode.FileErrors
				if errors.As(err, &fe) && len(fe) > 1 {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					return usageErrorf("%d problem(s) in %s; nothing was encoded", len(fe), args[0])
				}
				return usageError(err)
			}
			tpdu := mf.TPDU
			if tpduHex != "" {
				if tpdu, err = hex.DecodeString(strings.ReplaceAll(tpduHex, " ", "")); err != nil || len(tpdu) != iso.TPDULen {
					return usageError(fmt.Errorf("--tpdu must be %d bytes of hex, got %q", iso.TPDULen, tpduHex))
				}
			}
			if tpdu != nil && !fr.TPDU {
				return usageError(fmt.Errorf("a TPDU needs a +tpdu framing (e.g. --framing %s+tpdu)", fr))
			}
			payload, err := d.Pack(mf.Message)
			if err != nil {
				return usageError(fmt.Errorf("%s: %w", args[0], err))
			}
			out, err := fr.AppendFrame(nil, tpdu, payload)
			if err != nil {
				return &exitError{1, err}
			}
			if rawOut != "" {
				if err := os.WriteFile(rawOut, out, 0o644); err != nil {
					return &exitError{1, err}
				}
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%X\n", out)
			return err
		},
	}
	cmd.Flags().StringVar(&dialect, "dialect", "ascii", "dialect name (ascii, ascii-hex, bcd) or moov-io JSON spec file")
	cmd.Flags().StringVar(&framing, "framing", "len2", "framing: "+strings.Join(iso.Framings(), ", "))
	cmd.Flags().StringVar(&tpduHex, "tpdu", "", "TPDU as 10 hex digits (default 6000000000 with a +tpdu framing)")
	cmd.Flags().StringVar(&rawOut, "raw", "", "also write the framed message bytes to this file")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}
