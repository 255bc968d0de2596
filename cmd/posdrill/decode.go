package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/bounded"
	"github.com/posdrill/posdrill/iso/decode"
)

func newDecodeCmd() *cobra.Command {
	var dialect, framing, inputFormat string
	var asJSON bool
	var headerLen int
	cmd := &cobra.Command{
		Use:   "decode [INPUT|-]",
		Short: "Show an ISO 8583 message from a hex, xxd, hexdump -C, base64 or binary dump, card data masked",
		Long: `Decode an ISO 8583 message and show its MTI, bitmap and every field with its number,
name, format, offset and value. Card data is masked; response codes, entry modes, original
data (DE90) and dates are explained.

INPUT is a hex string, a file (hex, xxd, hexdump -C, base64 or the binary message itself),
or - (the default) for standard input. The length header, TPDU and dialect are detected:
every built-in framing (also none) and dialect is tried, and the one whose length header
counts exactly the input and that decodes to the last byte wins; the "chosen:" line says why
(with --input-format, --framing and --dialect to force another reading). A reading whose MTI
no ISO 8583 version defines, or whose length header announces more bytes than follow, is not
taken. Each field is checked against its type: letters in a numeric field or month 13 in a
date are shown as warnings.

An input that does not decode shows what the best reading decoded before the failure, the
byte and field where it failed, what it expected and what it found, and the rest of the bytes
raw; the exit status is then 1 (2 for usage errors).

UnionPay domestic POS messages (2-byte length, TPDU, the 6-byte CUP message header, BCD
fields) are detected as framing "cup", dialect "cup"; the header's parts (application
type, version, terminal status, processing requirement) and DE60 (type, batch, network
code) are explained. For another network's own header after the length (and TPDU), give
its size with --header-len N.`,
		Example: `  posdrill decode 008A30323030723C...
  xxd capture.bin | posdrill decode
  posdrill decode capture.bin --framing len2+tpdu --dialect bcd --json
  posdrill decode capture.bin --framing cup --dialect cup
  posdrill decode capture.bin --header-len 12`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := detectOptions(dialect, framing)
			if err != nil {
				return usageError(err)
			}
			if headerLen < 0 || headerLen > iso.MaxAppHeader {
				return usageError(fmt.Errorf("--header-len %d: use 1 to %d (0: none)", headerLen, iso.MaxAppHeader))
			}
			opts.HeaderLen = headerLen
			raw, err := readInput(cmd, args)
			if err != nil {
				return usageError(err)
			}
			var res *decode.Result
			if inputFormat != "" {
				b, perr := iso.ParseDumpAs(raw, iso.DumpFormat(inputFormat))
				if perr != nil {
					return &exitError{1, perr}
				}
				if res, err = decode.Bytes(b, opts); res != nil {
					res.Format = iso.DumpFormat(inputFormat)
				}
			} else {
				res, err = decode.Input(raw, opts)
			}
			if err != nil {
				var de *decode.Error
				if errors.As(err, &de) {
					// What the best reading decoded before it failed, and the rest raw.
					if asJSON {
						_ = decode.WriteJSON(cmd.OutOrStdout(), de.View())
					} else {
						_ = decode.WriteErrorText(cmd.OutOrStdout(), de.View())
					}
					first, _, _ := strings.Cut(err.Error(), "\n")
					return failed(errors.New(first))
				}
				return failed(err)
			}
			if asJSON {
				return decode.WriteJSON(cmd.OutOrStdout(), res.View())
			}
			return decode.WriteText(cmd.OutOrStdout(), res.View())
		},
	}
	cmd.Flags().StringVar(&dialect, "dialect", "", "dialect name (ascii, ascii-hex, bcd, cup) or moov-io JSON spec file (default: detect)")
	cmd.Flags().IntVar(&headerLen, "header-len", 0, "size in bytes of an application header after the length header and TPDU (0: none, or the framing's)")
	cmd.Flags().StringVar(&framing, "framing", "", "framing: "+strings.Join(decode.FramingNames(), ", ")+" (default: detect)")
	cmd.Flags().StringVar(&inputFormat, "input-format", "", "dump layout when detection guesses wrong: hex, xxd, hexdump-C, base64, binary")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for tools (stable field names)")
	_ = cmd.RegisterFlagCompletionFunc("framing", fixed(decode.FramingNames()...))
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

func detectOptions(dialect, framing string) (decode.Options, error) {
	var o decode.Options
	if dialect != "" {
		d, err := iso.DialectByName(dialect)
		if err != nil {
			return o, err
		}
		o.Dialects = []*iso.Dialect{d}
	}
	if framing != "" {
		_, perr := iso.ParseFraming(framing)
		if !slices.Contains(decode.FramingNames(), framing) && perr != nil {
			return o, unknownName("--framing", "framing", framing, decode.FramingNames())
		}
		o.Framings = []string{framing}
	}
	return o, nil
}

// maxInput bounds what decode reads: a message is at most a few KiB, even as a dump.
const maxInput = 4 << 20

// readInput reads INPUT: "-" or nothing for stdin, an existing file, or else the argument
// itself as a dump (a hex or base64 string).
func readInput(cmd *cobra.Command, args []string) ([]byte, error) {
	if len(args) == 0 || args[0] == "-" {
		return readLimited(cmd.InOrStdin(), "standard input")
	}
	arg := args[0]
	if _, err := os.Stat(arg); err == nil {
		// An existing path is a file to read, and must be a regular one (a FIFO or a
		// device would hang or stream for ever).
		f, err := bounded.Open(arg, maxInput)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readLimited(f, arg)
	}
	if strings.TrimSpace(arg) == "" {
		return nil, errors.New("empty input")
	}
	// Hex and base64 never hold a dot: such an argument was meant as a file.
	if strings.Contains(arg, ".") {
		return nil, fmt.Errorf("%s: no such file", arg)
	}
	return []byte(arg), nil
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a message dump", name, maxInput)
	}
	return b, nil
}
