package iso

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dtSampleMsg is a 0200 with a 2-byte length header and TPDU, long enough for several dump
// lines and with a run of zeros so hexdump -C uses "*".
var dtSampleMsg = func() []byte {
	b, _ := hex.DecodeString("00556000030000020030200580" +
		"20c000001647617390010100100000000000000001234500004200510054455" +
		"24d303030314d45524348414e54303030303030310156")
	b = append(b, make([]byte, 48)...)
	return append(b, "|end|"...)
}()

// printable is the ASCII column character of xxd and hexdump -C.
func dtPrintable(c byte) byte {
	if c >= 0x20 && c < 0x7f {
		return c
	}
	return '.'
}

// dtXXDLayout writes b the way `xxd -g group` does (16 bytes a line).
func dtXXDLayout(b []byte, group int) string {
	var sb strings.Builder
	width := 16*2 + 16/group // hex digits plus one space per group
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		var h strings.Builder
		for i, c := range line {
			if i%group == 0 {
				h.WriteByte(' ')
			}
			fmt.Fprintf(&h, "%02x", c)
		}
		fmt.Fprintf(&sb, "%08x:%-*s  ", off, width, h.String())
		for _, c := range line {
			sb.WriteByte(dtPrintable(c))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// dtHexdumpCLayout writes b the way `hexdump -C` does, "*" for repeated lines included.
func dtHexdumpCLayout(b []byte) string {
	var sb strings.Builder
	var prev []byte
	starred := false
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		if len(line) == 16 && bytes.Equal(line, prev) {
			if !starred {
				sb.WriteString("*\n")
				starred = true
			}
			continue
		}
		starred = false
		prev = line
		var h strings.Builder
		for i, c := range line {
			if i == 8 {
				h.WriteByte(' ')
			}
			fmt.Fprintf(&h, "%02x ", c)
		}
		fmt.Fprintf(&sb, "%08x  %-49s |", off, h.String())
		for _, c := range line {
			sb.WriteByte(dtPrintable(c))
		}
		sb.WriteString("|\n")
	}
	fmt.Fprintf(&sb, "%08x\n", len(b))
	return sb.String()
}

func dtSpaced(b []byte, prefix, sep string, perLine int) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			if perLine > 0 && i%perLine == 0 {
				sb.WriteString("\n")
			} else {
				sb.WriteString(sep)
			}
		}
		fmt.Fprintf(&sb, "%s%02X", prefix, c)
	}
	return sb.String()
}

func dtWrap(s string, n int) string {
	var sb strings.Builder
	for len(s) > n {
		sb.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	return sb.String() + s + "\n"
}

func TestParseDumpLayouts(t *testing.T) {
	msg := dtSampleMsg
	lower := hex.EncodeToString(msg)
	tests := []struct {
		name   string
		input  string
		format DumpFormat
	}{
		{"hex lower", lower, DumpHex},
		{"hex upper", strings.ToUpper(lower), DumpHex},
		{"hex trailing newline", lower + "\n", DumpHex},
		{"hex crlf wrapped", strings.ReplaceAll(dtWrap(lower, 32), "\n", "\r\n"), DumpHex},
		{"hex spaced", dtSpaced(msg, "", " ", 0), DumpHex},
		{"hex spaced 16 a line", dtSpaced(msg, "", " ", 16), DumpHex},
		{"hex colons", dtSpaced(msg, "", ":", 0), DumpHex},
		{"hex 0x per byte", dtSpaced(msg, "0x", ", ", 8), DumpHex},
		{"hex 0x once", "0x" + lower, DumpHex},
		{"hex indented", "    " + strings.ReplaceAll(dtWrap(lower, 40), "\n", "\n    "), DumpHex},
		{"hex bom", "\ufeff" + lower, DumpHex},
		{"xxd", dtXXDLayout(msg, 2), DumpXXD},
		{"xxd -g1", dtXXDLayout(msg, 1), DumpXXD},
		{"xxd -g4", dtXXDLayout(msg, 4), DumpXXD},
		{"xxd no final newline", strings.TrimSuffix(dtXXDLayout(msg, 2), "\n"), DumpXXD},
		{"xxd indented", "  " + strings.ReplaceAll(dtXXDLayout(msg, 2), "\n", "\n  "), DumpXXD},
		{"xxd crlf", strings.ReplaceAll(dtXXDLayout(msg, 2), "\n", "\r\n"), DumpXXD},
		{"hexdump -C", dtHexdumpCLayout(msg), DumpHexdumpC},
		{"hexdump -C crlf", strings.ReplaceAll(dtHexdumpCLayout(msg), "\n", "\r\n"), DumpHexdumpC},
		{"base64 std", base64.StdEncoding.EncodeToString(msg), DumpBase64},
		{"base64 std raw", base64.RawStdEncoding.EncodeToString(msg), DumpBase64},
		{"base64 url", base64.URLEncoding.EncodeToString(msg), DumpBase64},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString(msg), DumpBase64},
		{"base64 wrapped", dtWrap(base64.StdEncoding.EncodeToString(msg), 76), DumpBase64},
		{"binary", string(msg), DumpBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f, err := ParseDump([]byte(tt.input))
			if err != nil {
				t.Fatalf("ParseDump: %v\ninput:\n%s", err, tt.input)
			}
			if f != tt.format {
				t.Errorf("format = %q, want %q", f, tt.format)
			}
			if !bytes.Equal(got, msg) {
				t.Errorf("bytes differ:\n got %x\nwant %x", got, msg)
			}
			forced, err := ParseDumpAs([]byte(tt.input), tt.format)
			if err != nil || !bytes.Equal(forced, msg) {
				t.Errorf("ParseDumpAs(%q) = %x, %v", tt.format, forced, err)
			}
		})
	}
}

// TestParseDumpRealTools checks output captured from the real tools (testdata/dumps, made
// with `xxd`, `xxd -a` and `hexdump -C` from util-linux) against the .bin they were made from.
func TestParseDumpRealTools(t *testing.T) {
	tests := []struct {
		file, bin string
		format    DumpFormat
	}{
		{"sale.xxd", "sale.bin", DumpXXD},
		{"sale.hexdump-C", "sale.bin", DumpHexdumpC},
		{"zeros.xxd", "zeros.bin", DumpXXD},
		{"zeros.hexdump-C", "zeros.bin", DumpHexdumpC},
		{"sale.bin", "sale.bin", DumpBinary},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "dumps", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "dumps", tt.bin))
			if err != nil {
				t.Fatal(err)
			}
			got, f, err := ParseDump(in)
			if err != nil {
				t.Fatalf("ParseDump: %v", err)
			}
			if f != tt.format {
				t.Errorf("format = %q, want %q", f, tt.format)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("bytes differ:\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestParseDumpAmbiguity(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		want   []byte
		format DumpFormat
	}{
		// "AAAA" is valid base64 too, but only-hex-digits of even length is hex.
		{"hex digits even is hex", "AAAA", []byte{0xaa, 0xaa}, DumpHex},
		{"deadbeef is hex", "deadBEEF", []byte{0xde, 0xad, 0xbe, 0xef}, DumpHex},
		{"padding makes base64", "AAAA\nAA==", []byte{0, 0, 0, 0}, DumpBase64},
		{"non-hex letters make base64", "AgByOA", []byte{0x02, 0x00, 0x72, 0x38}, DumpBase64},
		{"plain hex 8 digits not hexdump offset", "00000000", []byte{0, 0, 0, 0}, DumpHex},
		{"free text is binary", "hello, world", []byte("hello, world"), DumpBinary},
		{"control bytes are binary", "\x00\x55ab", []byte("\x00\x55ab"), DumpBinary},
		{"invalid utf8 is binary", "\xff\xfe02", []byte("\xff\xfe02"), DumpBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f, err := ParseDump([]byte(tt.input))
			if err != nil {
				t.Fatalf("ParseDump: %v", err)
			}
			if f != tt.format || !bytes.Equal(got, tt.want) {
				t.Errorf("ParseDump(%q) = %x, %q; want %x, %q", tt.input, got, f, tt.want, tt.format)
			}
		})
	}
}

func TestParseDumpErrors(t *testing.T) {
	xxd := dtXXDLayout(dtSampleMsg, 2)
	xxdLines := strings.Split(xxd, "\n")
	hd := dtHexdumpCLayout(dtSampleMsg)
	hdLines := strings.Split(hd, "\n")
	tests := []struct {
		name  string
		input string
		want  string // full error text
	}{
		{"spaced bad byte", "02 00 72 38\n00 00 00 00\n30 20 05 80 20 c0 zz 16",
			`line 3, column 19: "zz" is not a hex byte`},
		{"odd digit byte", "02 00 7 38", `line 1, column 7: "7" is not a hex byte`},
		{"bad digit in run", "0200723800Z0", `line 1, column 11: "Z" is not a hex digit (in "0200723800Z0")`},
		{"odd run", "020072380", `line 1, column 1: "020072380" has an odd number of hex digits (9)`},
		{"0x bad", "0x02, 0x0g", `line 1, column 7: "0x0g" is not a hex byte`},
		{"empty", " \n\t\n", "empty input: no dump found"},
		{"xxd bad group", strings.Replace(xxd, "4761", "47g1", 1),
			`line 2, column 16: "47g1" is not a hex group (reading xxd output)`},
		{"xxd missing line", xxdLines[0] + "\n" + xxdLines[2] + "\n",
			`line 2, column 1: offset 00000020, expected 00000010 (a line is missing or repeated?) (reading xxd output)`},
		{"xxd not offset", xxdLines[0] + "\nhello there\n",
			`line 2, column 1: expected an offset like 00000010, found "hello" (reading xxd output)`},
		{"hexdump bad byte", strings.Replace(hd, "47 61", "47 6", 1),
			`line 2, column 20: "6" is not a hex byte (reading hexdump-C output)`},
		{"hexdump wrong total", strings.Replace(hd, fmt.Sprintf("%08x\n", len(dtSampleMsg)), "00000099\n", 1),
			fmt.Sprintf(`line %d, column 1: offset 00000099, expected %08x (a line is missing or repeated?) (reading hexdump-C output)`,
				len(hdLines)-1, len(dtSampleMsg))},
		{"hexdump star at end", hdLines[0] + "\n*\n",
			`line 2, column 1: "*" is not followed by an offset line, so the number of repeated lines is unknown (was the dump cut off?) (reading hexdump-C output)`},
		{"hexdump star uneven", hdLines[0] + "\n*\n00000018  00 |.|\n",
			`line 3, column 1: offset 00000018 does not continue the "*" repetition of line 2 (16-byte lines from 00000010) (reading hexdump-C output)`},
		{"hexdump star twice", hdLines[0] + "\n*\n*\n00000020\n",
			`line 3, column 1: "*" must follow a data line (reading hexdump-C output)`},
		{"0x long bad", "0x02007g", `line 1, column 8: "g" is not a hex digit (in "0x02007g")`},
		{"text after final offset", hd + "garbage\n",
			fmt.Sprintf(`line %d, column 1: unexpected text after the final offset line: "garbage" (reading hexdump-C output)`, len(hdLines))},
		{"hexdump without -C", "0000000 0200 7238 0000\n0000006\n",
			"line 1, column 1: looks like hexdump or od output without -C (16-bit words, byte order unknown); use hexdump -C or xxd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f, err := ParseDump([]byte(tt.input))
			if err == nil {
				t.Fatalf("ParseDump = %x, %q, want error %q", got, f, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var de *DumpError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DumpError", err)
			}
		})
	}
}

func TestParseDumpAsErrors(t *testing.T) {
	tests := []struct {
		name   string
		format DumpFormat
		input  string
	}{
		{"unknown format", "ebcdic", "00"},
		{"base64 invalid", DumpBase64, "not base64!"},
		{"hex invalid", DumpHex, "zz"},
		{"xxd not text", DumpXXD, "\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := ParseDumpAs([]byte(tt.input), tt.format); err == nil {
				t.Errorf("ParseDumpAs = %x, want error", b)
			}
		})
	}
}

func FuzzParseDump(f *testing.F) {
	f.Add([]byte(hex.EncodeToString(dtSampleMsg)))
	f.Add([]byte(dtXXDLayout(dtSampleMsg, 2)))
	f.Add([]byte(dtXXDLayout(dtSampleMsg, 1)))
	f.Add([]byte(dtHexdumpCLayout(dtSampleMsg)))
	f.Add([]byte(base64.StdEncoding.EncodeToString(dtSampleMsg)))
	f.Add(dtSampleMsg)
	f.Add([]byte("00000000: 0200\n*\n00000010:"))
	f.Add([]byte("00000000  00 01 |..|\n*\nffffffffffffffff\n"))
	f.Add([]byte("0x 0x0 0xZZ , :: -"))
	f.Add([]byte("AAAA=="))
	f.Add([]byte("\ufeff"))
	f.Add([]byte("卡号 02 00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, format, err := ParseDump(in)
		if err != nil {
			if b != nil {
				t.Errorf("error %v with non-nil bytes", err)
			}
			return
		}
		if format == DumpBinary && !bytes.Equal(b, in) {
			t.Errorf("binary dump changed the bytes")
		}
		switch format {
		case DumpHex, DumpXXD, DumpHexdumpC, DumpBase64, DumpBinary:
		default:
			t.Errorf("unexpected format %q", format)
		}
		// Re-encoding the result as hex must give back the same bytes.
		if len(b) > 0 {
			again, f2, err := ParseDump([]byte(hex.EncodeToString(b)))
			if err != nil || f2 != DumpHex || !bytes.Equal(again, b) {
				t.Errorf("hex round trip: %x, %q, %v", again, f2, err)
			}
		}
	})
}
