package decode_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/decode"
)

var update = flag.Bool("update", false, "rewrite golden files and the binary fixtures")

// dumps is the shared fixture folder (testdata/dumps at the repository root): the same
// messages the CLI tests use.
const dumps = "../../testdata/dumps"

// fixture is a message kept as a binary file; its text layouts in testdata/dumps were made
// from that file with the real tools (see testdata/dumps/README.md).
type fixture struct {
	name    string
	dialect *iso.Dialect
	framing string
	tpdu    []byte
	msg     *iso.Message
}

var fixtures = []fixture{
	{"sale-ascii", iso.ASCII, "len2+tpdu", []byte{0x60, 0x00, 0x03, 0x00, 0x00}, &iso.Message{
		MTI: "0200", ProcessingCode: "000000", Amount: "000000002500", TransmissionTime: "1126021500",
		STAN: "000123", LocalTime: "101500", LocalDate: "1126", EntryMode: "051", ConditionCode: "00",
		Track2: "4111111111111111=30122011234567890", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
		Currency: "156", PINBlock: []byte{0x04, 0x12, 0x34, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE},
		EMV: []byte{0x9F, 0x26, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x5A, 0x08, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11},
	}},
	{"reversal-bcd", iso.BCD, "len2", nil, &iso.Message{
		MTI: "0420", PAN: "5555555555554444", ProcessingCode: "000000", Amount: "000000002500",
		TransmissionTime: "1126021531", STAN: "000124", EntryMode: "071", ResponseCode: "68",
		TerminalID: "TERM0002", MerchantID: "POSDRILL0000001", Currency: "156",
		OriginalData: iso.OriginalData{MTI: "0200", STAN: "000123", Transmitted: "1126021500", AcquirerID: "12345"}.String(),
	}},
	{"decline-ascii-hex", iso.ASCIIHex, "len4-ascii", nil, &iso.Message{
		MTI: "0210", PAN: "4000000000009995", ProcessingCode: "000000", Amount: "000000900000",
		TransmissionTime: "1126021500", STAN: "000125", RRN: "633012000125", ResponseCode: "51",
		TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Currency: "156",
	}},
}

func (f fixture) frame(t testing.TB) []byte {
	t.Helper()
	payload, err := f.dialect.Pack(f.msg)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := iso.ParseFraming(f.framing)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fr.AppendFrame(nil, f.tpdu, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", name, d)
	}
}

func TestFixturesAreTheMessages(t *testing.T) {
	for _, f := range fixtures {
		path := filepath.Join(dumps, f.name+".bin")
		if *update {
			if err := os.WriteFile(path, f.frame(t), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.frame(t)) {
			t.Errorf("%s is not %s packed in %s with %s framing", path, f.msg.MTI, f.dialect.Name, f.framing)
		}
	}
}

// Every layout of the same message must decode to the same fields, and the text shown for
// it is golden.
func TestEveryLayoutDecodesTheSame(t *testing.T) {
	layouts := []struct{ suffix, format string }{
		{".bin", "binary"}, {".hex", "hex"}, {".spaced.hex", "hex"}, {".0x.hex", "hex"},
		{".xxd", "xxd"}, {".hexdump-C", "hexdump-C"}, {".b64", "base64"},
	}
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			var first *decode.View
			for _, l := range layouts {
				path := filepath.Join(dumps, f.name+l.suffix)
				raw, err := os.ReadFile(path)
				if os.IsNotExist(err) && l.suffix != ".bin" && f.name != "sale-ascii" {
					continue // every layout is kept for the sale; the others have a few
				}
				if err != nil {
					t.Fatal(err)
				}
				res, err := decode.Input(raw, decode.Options{})
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				v := res.View()
				if v.InputFormat != l.format {
					t.Errorf("%s: read as %s, want %s", path, v.InputFormat, l.format)
				}
				if v.Framing != f.framing || v.Dialect != f.dialect.Name {
					t.Errorf("%s: detected %s/%s, want %s/%s", path, v.Framing, v.Dialect, f.framing, f.dialect.Name)
				}
				if first == nil {
					first = &v
					var b bytes.Buffer
					if err := decode.WriteText(&b, v); err != nil {
						t.Fatal(err)
					}
					golden(t, f.name+".txt", b.Bytes())
					continue
				}
				v.InputFormat = first.InputFormat
				if d := cmp.Diff(*first, v); d != "" {
					t.Errorf("%s decodes differently from the binary (-bin +%s):\n%s", path, l.format, d)
				}
			}
		})
	}
}

func TestJSONGolden(t *testing.T) {
	for _, f := range fixtures {
		res, err := decode.Bytes(f.frame(t), decode.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := decode.WriteJSON(&b, res.View()); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "1111111111") || strings.Contains(b.String(), "5555555555") {
			t.Errorf("%s: JSON shows card data:\n%s", f.name, b.String())
		}
		golden(t, f.name+".json", b.Bytes())
	}
}

// Broken inputs must say at which byte of the whole input, in which field, what was
// expected and what was found.
func TestBrokenInputs(t *testing.T) {
	sale := fixtures[0].frame(t)
	rev := fixtures[1].frame(t)
	hexOf := func(b []byte) []byte { return []byte(hex.EncodeToString(b)) }
	corrupt := func(b []byte, at int, c byte) []byte {
		b = append([]byte(nil), b...)
		b[at] = c
		return b
	}
	cases := []struct {
		name  string
		input []byte
		opts  decode.Options
	}{
		{"truncated sale", hexOf(sale[:60]), decode.Options{}},
		{"truncated reversal", rev[:40], decode.Options{}},
		{"letter in the MTI", hexOf(corrupt(sale, 7, 'X')), decode.Options{}},
		{"LL length of track 2 not digits", hexOf(corrupt(sale, 68, 'x')), decode.Options{}},
		{"bitmap announces a missing field", append(hexOf(sale[:7]), hexOf([]byte("0200\x00\x00\x00\x00\x00\x00\x00\x01"))...), decode.Options{}},
		{"forced wrong dialect", hexOf(sale), decode.Options{Dialects: []*iso.Dialect{iso.BCD}, Framings: []string{"len2+tpdu"}}},
		{"forced framing, bad header", []byte("ZZ0200"), decode.Options{Framings: []string{"len4-ascii"}}},
		{"not a dump", []byte("hello, world\n"), decode.Options{}},
		{"odd hex", []byte("0200 7 2"), decode.Options{}},
	}
	var out strings.Builder
	for _, c := range cases {
		_, err := decode.Input(c.input, c.opts)
		if err == nil {
			t.Errorf("%s: decoded, want an error", c.name)
			continue
		}
		if strings.Contains(err.Error(), "111111111") {
			t.Errorf("%s: error shows card data: %v", c.name, err)
		}
		out.WriteString("## " + c.name + "\n" + err.Error() + "\n\n")
	}
	golden(t, "errors.txt", []byte(out.String()))
}
