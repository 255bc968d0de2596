package iso_test

// Fuzz targets for everything that reads bytes off the wire: the frame reader (every
// framing) and each dialect's Unpack/Decode. The seed corpora under testdata/fuzz/<Target>/
// are real packed messages; TestFuzzSeedCorpus checks they are current and rewrites them
// with -update. Crashers found by `go test -fuzz` land in the same directories and stay
// there as regression seeds. Commands and run lengths: RELIABILITY.md.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/posdrill/posdrill/iso"
)

// fuzzMaxFrame is small so that the fuzzer reaches the "too large" branch often.
const fuzzMaxFrame = 512

func framingAt(i uint8) iso.Framing {
	names := iso.Framings()
	fr, err := iso.ParseFraming(names[int(i)%len(names)])
	if err != nil {
		panic(err)
	}
	return fr
}

// FuzzReadFrame: any byte stream, in any framing, gives frames or an error — never a panic,
// never a frame larger than the maximum, and the same answer whether the bytes arrive at
// once or one at a time. Every frame read re-frames to exactly the bytes it came from.
func FuzzReadFrame(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzReadFrame (readFrameSeeds).
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		fr := framingAt(which)
		whole := readAll(fr, bytes.NewReader(data))
		slow := readAll(fr, iotest.OneByteReader(bytes.NewReader(data)))
		if diff := cmp.Diff(whole, slow); diff != "" {
			t.Fatalf("%s: one byte at a time reads differently (-whole +slow):\n%s", fr, diff)
		}
		off := 0
		for i, r := range whole.frames {
			if len(r.Payload)+len(r.TPDU)+len(r.Header) > fuzzMaxFrame {
				t.Fatalf("%s: frame %d is %d bytes, above the maximum %d", fr, i, len(r.Payload)+len(r.TPDU)+len(r.Header), fuzzMaxFrame)
			}
			if fr.TPDU != (r.TPDU != nil) || (fr.TPDU && len(r.TPDU) != iso.TPDULen) {
				t.Fatalf("%s: frame %d has TPDU % X", fr, i, r.TPDU)
			}
			if len(r.Header) != fr.AppHeader {
				t.Fatalf("%s: frame %d has a %d-byte message header", fr, i, len(r.Header))
			}
			again, err := fr.AppendFrameHeader(nil, r.TPDU, r.Header, r.Payload)
			if err != nil {
				t.Fatalf("%s: frame %d read but does not re-frame: %v", fr, i, err)
			}
			if !bytes.HasPrefix(data[off:], again) {
				t.Fatalf("%s: frame %d re-frames to % X, the input had % X", fr, i, again, data[off:min(len(data), off+len(again))])
			}
			off += len(again)
		}
		// The error is one a reader can act on: end of stream, a cut frame or a bad header.
		err := whole.err
		switch {
		case errors.Is(err, io.EOF):
			if off != len(data) {
				t.Fatalf("%s: io.EOF with %d bytes unread", fr, len(data)-off)
			}
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, iso.ErrFrameTooLarge), errors.Is(err, iso.ErrEmptyFrame),
			errors.Is(err, iso.ErrBadHeader), errors.Is(err, iso.ErrShortFrame):
		default:
			t.Fatalf("%s: unexpected error %v", fr, err)
		}
	})
}

type readResult struct {
	frames []iso.Frame
	err    error
}

// readAll reads frames until the first error. Errors compare by text in cmp.Diff.
func readAll(fr iso.Framing, r io.Reader) readResult {
	var res readResult
	for range 10_000 { // bounded: a frame takes at least a header's bytes
		f, err := fr.ReadFrame(r, fuzzMaxFrame)
		if err != nil {
			res.err = err
			return res
		}
		res.frames = append(res.frames, f)
	}
	res.err = errors.New("more than 10000 frames")
	return res
}

func (r readResult) Equal(o readResult) bool {
	if fmt.Sprint(r.err) != fmt.Sprint(o.err) || len(r.frames) != len(o.frames) {
		return false
	}
	for i := range r.frames {
		if !bytes.Equal(r.frames[i].TPDU, o.frames[i].TPDU) || !bytes.Equal(r.frames[i].Payload, o.frames[i].Payload) {
			return false
		}
	}
	return true
}

func FuzzUnpackASCII(f *testing.F)    { fuzzUnpack(f, iso.ASCII) }
func FuzzUnpackASCIIHex(f *testing.F) { fuzzUnpack(f, iso.ASCIIHex) }
func FuzzUnpackBCD(f *testing.F)      { fuzzUnpack(f, iso.BCD) }

// fuzzUnpack: Unpack and Decode never panic (the codec's panics are recovered into a
// *DecodeError), agree with each other, never put card data in an error, and whatever
// unpacks re-packs and re-unpacks to the same Message.
func fuzzUnpack(f *testing.F, d *iso.Dialect) {
	// Seeds: testdata/fuzz/FuzzUnpack<Dialect> (seedMessages packed).
	f.Fuzz(func(t *testing.T, payload []byte) {
		dec, derr := d.Decode(payload)
		m, err := d.Unpack(payload)
		if err != nil {
			if m != nil {
				t.Fatalf("Unpack returned a message and an error")
			}
			var de *iso.DecodeError
			if errors.As(err, &de) && (de.Offset < 0 || de.Offset > len(payload)) {
				t.Fatalf("error offset %d outside the %d-byte payload: %v", de.Offset, len(payload), err)
			}
			if s := err.Error(); strings.Contains(s, "4111111111111111") || strings.Contains(s, "5555555555554444") {
				t.Fatalf("error shows a full PAN: %v", err)
			}
			if derr == nil && dec.Trailing == 0 {
				if _, merr := dec.Message(); merr == nil {
					t.Fatalf("Decode succeeded without trailing bytes but Unpack failed: %v", err)
				}
			}
			return
		}
		if derr != nil || dec.Trailing != 0 {
			t.Fatalf("Unpack succeeded but Decode says %v (trailing %d)", derr, dec.Trailing)
		}
		if !iso.ValidMTI(m.MTI) {
			t.Fatalf("Unpack accepted MTI %q", m.MTI)
		}
		packed, err := d.Pack(m)
		if err != nil {
			t.Fatalf("unpacked message does not re-pack: %v", err)
		}
		again, err := d.Unpack(packed)
		if err != nil {
			t.Fatalf("re-packed message does not unpack: %v\n% X", err, packed)
		}
		// A zero-length variable field (LLL 000) unpacks as empty and re-packs as absent:
		// the same thing to a Message (Get reports neither as present).
		if diff := cmp.Diff(m, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("pack/unpack changed the message (-first +second):\n%s", diff)
		}
		// Packing is a function of the message: a second round gives the same bytes.
		packed2, err := d.Pack(again)
		if err != nil || !bytes.Equal(packed, packed2) {
			t.Fatalf("re-pack not stable: %v\n% X\n% X", err, packed, packed2)
		}
	})
}

// seedMessages are the messages the flows really send, plus odd but legal ones.
func seedMessages() []*iso.Message {
	sale := &iso.Message{
		MTI: "0200", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000002500",
		TransmissionTime: "1126021500", STAN: "000123", LocalTime: "101500", LocalDate: "1126",
		Expiry: "3012", EntryMode: "051", ConditionCode: "00", TerminalID: "TERM0001",
		MerchantID: "POSDRILL0000001", Currency: "156",
		PINBlock: []byte{0x04, 0x12, 0x34, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE},
		EMV:      []byte{0x9F, 0x26, 0x02, 0xAB, 0xCD},
	}
	reply := sale.Reply("00")
	reply.AuthCode, reply.RRN, reply.AdditionalAmounts = "A1B2C3", "000000000001", "0002156C000000990000"
	refund := sale.Clone()
	refund.ProcessingCode, refund.STAN = iso.ProcRefund, "000124"
	swipe := &iso.Message{MTI: "0100", Track2: "5555555555554444=30122011234", ProcessingCode: "000000",
		Amount: "000000000100", STAN: "000001", EntryMode: "901", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001"}
	rev := &iso.Message{MTI: "0420", ProcessingCode: "000000", Amount: "000000002500", STAN: "000123",
		TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", ResponseCode: iso.ReasonTimeout,
		OriginalData: iso.OriginalData{MTI: "0200", STAN: "000123", Transmitted: "1126021500"}.String()}
	revRepeat := rev.Clone()
	revRepeat.MTI = "0421"
	completion := &iso.Message{MTI: "0220", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000001500",
		STAN: "000130", RRN: "000000000007", AuthCode: "XY1234", TerminalID: "TERM0001",
		OriginalData:    iso.OriginalData{MTI: "0100", STAN: "000129", Transmitted: "1126021400"}.String(),
		ReplacementAmts: strings.Repeat("0", 42)}
	echo := &iso.Message{MTI: "0800", TransmissionTime: "1126021500", STAN: "000002", TerminalID: "TERM0001", NetworkCode: iso.NetEcho}
	echoReply := echo.Reply("00")
	settle := &iso.Message{MTI: "0500", STAN: "000009", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Batch: "000001",
		DebitsNumber: "0000000002", DebitsAmount: "0000000000005000", CreditsNumber: "0000000000", CreditsAmount: "0000000000000000",
		Private63: "002000000005000000000000000"}
	upload := &iso.Message{MTI: "0320", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000002500",
		STAN: "000010", RRN: "000000000001", AuthCode: "A1B2C3", TerminalID: "TERM0001", Batch: "000001"}
	other := &iso.Message{MTI: "0200", STAN: "000001", TerminalID: "TERM0001", MAC: []byte{1, 2, 3, 4, 5, 6, 7, 8},
		MAC2: []byte{8, 7, 6, 5, 4, 3, 2, 1}, Other: map[int]string{43: "POSDRILL TEST SHOP      SHANGHAI      CN",
			48: "hello", 102: "ACCOUNT-1", 127: strings.Repeat("x", 999)}}
	decline := sale.Reply("51")
	return []*iso.Message{sale, reply, refund, swipe, rev, revRepeat, completion, echo, echoReply, settle, upload, other, decline}
}

type frameSeed struct {
	name    string
	framing uint8
	data    []byte
}

// readFrameSeeds: two real frames back to back in every framing, and the bad headers a
// hostile peer sends.
func readFrameSeeds() []frameSeed {
	msgs := seedMessages()
	var seeds []frameSeed
	for i, name := range iso.Framings() {
		fr, _ := iso.ParseFraming(name)
		a, _ := iso.ASCII.Pack(msgs[0])
		b, _ := iso.BCD.Pack(msgs[7])
		data, err := fr.AppendFrame(nil, []byte{0x60, 0x00, 0x01, 0x00, 0x02}, a)
		if err != nil {
			panic(err)
		}
		data, _ = fr.AppendFrame(data, nil, b)
		seeds = append(seeds,
			frameSeed{"two-" + name, uint8(i), data},
			frameSeed{"cut-" + name, uint8(i), data[:len(data)/3]},
		)
	}
	seeds = append(seeds,
		frameSeed{"zero-len2", 0, []byte{0, 0, 1, 2}},
		frameSeed{"huge-len2", 0, []byte{0xFF, 0xFF, 1, 2, 3}},
		frameSeed{"bad-bcd", 1, []byte{0xAB, 0x12, 1}},
		frameSeed{"huge-len4", 3, []byte{0x7F, 0xFF, 0xFF, 0xFF, 0}},
		frameSeed{"neg-len4", 3, []byte{0x80, 0, 0, 1, 0}},
		frameSeed{"letters-len4-ascii", 2, []byte("00a1x")},
		frameSeed{"short-tpdu", 4, []byte{0, 3, 0x60, 0, 0}},
		frameSeed{"half-header", 3, []byte{0, 0}},
	)
	return seeds
}

// TestFuzzSeedCorpus keeps testdata/fuzz/<Target>/seed-* equal to what the seed functions
// build from real packed messages; `go test ./iso -run TestFuzzSeedCorpus -update` rewrites
// them. Files not named seed-* are crashers found by the fuzzer: they stay.
func TestFuzzSeedCorpus(t *testing.T) {
	want := map[string]string{}
	for _, s := range readFrameSeeds() {
		want[filepath.Join("FuzzReadFrame", "seed-"+s.name)] = corpusFile(s.framing, s.data)
	}
	names := []string{"sale", "approved", "refund", "swipe", "reversal", "reversal-repeat", "completion",
		"echo", "echo-reply", "settlement", "batch-upload", "other-fields", "declined"}
	for target, d := range map[string]*iso.Dialect{"FuzzUnpackASCII": iso.ASCII, "FuzzUnpackASCIIHex": iso.ASCIIHex, "FuzzUnpackBCD": iso.BCD, "FuzzUnpackCUP": iso.CUP} {
		for i, m := range seedMessages() {
			b, err := d.Pack(m)
			if err != nil && d == iso.CUP {
				continue // text in a field CUP packs as BCD (DE48)
			}
			if err != nil {
				t.Fatal(err)
			}
			want[filepath.Join(target, "seed-"+names[i])] = corpusFile(b)
		}
	}
	for name, content := range want {
		path := filepath.Join("testdata", "fuzz", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("%s is missing or stale: run go test ./iso -run TestFuzzSeedCorpus -update", path)
		}
	}
}

// corpusFile renders values in Go's fuzz corpus format ("go test fuzz v1").
func corpusFile(vals ...any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case uint8:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		default:
			panic(fmt.Sprintf("corpus value of type %T", v))
		}
	}
	return b.String()
}
