package iso_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/posdrill/posdrill/iso"
)

// cupSignOn is a UnionPay sign-on request as a terminal builds it: DE60 = type 00, batch,
// network code 003 (double-length keys), DE63 = operator 001.
func cupSignOn() *iso.Message {
	return &iso.Message{MTI: "0800", STAN: "000001", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001",
		Batch:     iso.DE60{Type: iso.CUPTypeManagement, Batch: "000001", NetCode: iso.CUPNetSignOnTDES}.String(),
		Private63: "001"}
}

func TestCUPDialectPacksNumericsLeftAligned(t *testing.T) {
	// DE22 "051" is 05 10 in CUP (left-aligned, 0 filler), 00 51 in the generic BCD dialect;
	// DE60 of 11 digits is 6 bytes with a trailing 0 nibble; DE49 is ASCII.
	m := &iso.Message{MTI: "0200", STAN: "000123", EntryMode: "051", Currency: "156",
		Batch: iso.DE60{Type: "22", Batch: "000001", NetCode: "000"}.String()}
	b, err := iso.CUP.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x02, 0x00, // MTI
		0x00, 0x20, 0x04, 0x00, 0x00, 0x00, 0x80, 0x10, // bitmap: 11, 22, 49, 60
		0x00, 0x01, 0x23, // DE11
		0x05, 0x10, // DE22
		'1', '5', '6', // DE49
		0x00, 0x11, 0x22, 0x00, 0x00, 0x01, 0x00, 0x00} // DE60: LLL 011, digits 22000001000 + 0
	if !bytes.Equal(b, want) {
		t.Fatalf("packed\n got % X\nwant % X", b, want)
	}
	back, err := iso.CUP.Unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, back); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	// An F filler (some terminals) reads the same; a filler of 5 is an error naming it.
	fb := append([]byte(nil), b...)
	fb[len(fb)-1] = 0x0F
	if again, err := iso.CUP.Unpack(fb); err != nil || again.Batch != m.Batch {
		t.Fatalf("F filler: %v, %+v", err, again)
	}
	fb[len(fb)-1] = 0x05
	_, err = iso.CUP.Unpack(fb)
	var de *iso.DecodeError
	if !errors.As(err, &de) || de.FieldID != 60 || !strings.Contains(de.Reason, "filler nibble 5") {
		t.Fatalf("bad filler: %v", err)
	}
}

func TestCUPFramingCarriesTheMessageHeader(t *testing.T) {
	fr, err := iso.ParseFraming("cup")
	if err != nil || fr != iso.CUPFraming || fr.String() != "cup" {
		t.Fatalf("ParseFraming(cup) = %v, %v", fr, err)
	}
	payload, err := iso.CUP.Pack(cupSignOn())
	if err != nil {
		t.Fatal(err)
	}
	hdr := iso.CUPHeader{AppType: "60", Version: "31", Processing: iso.CUPProcSignOn, Software: "311003"}
	framed, err := fr.AppendFrameHeader(nil, []byte{0x60, 0, 6, 0, 0}, hdr.Bytes(), payload)
	if err != nil {
		t.Fatal(err)
	}
	if got := framed[7:13]; !bytes.Equal(got, []byte{0x60, 0x31, 0x03, 0x31, 0x10, 0x03}) {
		t.Fatalf("header bytes % X", got)
	}
	got, err := fr.ReadFrame(bytes.NewReader(framed), 0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := iso.ParseCUPHeader(got.Header)
	if err != nil || h != hdr {
		t.Fatalf("header = %+v, %v", h, err)
	}
	if !bytes.Equal(got.Payload, payload) {
		t.Fatal("payload differs")
	}
	// Without a header given, the default one goes out.
	def, _ := fr.AppendFrame(nil, nil, payload)
	if !bytes.Equal(def[7:13], iso.DefaultCUPHeader.Bytes()) {
		t.Fatalf("default header % X", def[7:13])
	}
	// A frame too short for the header says so and where.
	short := []byte{0, 8, 0x60, 0, 6, 0, 0, 0x60, 0x31, 0}
	_, err = fr.ReadFrame(bytes.NewReader(short), 0)
	if !errors.Is(err, iso.ErrShortFrame) || !strings.Contains(err.Error(), "6-byte message header") {
		t.Fatalf("short frame: %v", err)
	}
	// +hdrN is the generic form.
	g, err := iso.ParseFraming("len4+tpdu+hdr12")
	if err != nil || g.AppHeader != 12 || !g.TPDU || g.String() != "len4+tpdu+hdr12" {
		t.Fatalf("len4+tpdu+hdr12 = %+v, %v", g, err)
	}
	for _, bad := range []string{"len2+hdr0", "len2+hdr999", "len2+hdrx", "cup+tpdu"} {
		if _, err := iso.ParseFraming(bad); err == nil {
			t.Errorf("ParseFraming(%q) accepted", bad)
		}
	}
}

func TestParseCUPHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string // error text part; "" = ok
	}{
		{"default", iso.DefaultCUPHeader.Bytes(), ""},
		{"short", []byte{0x60, 0x31, 0x00}, "expected 6 bytes, found 3"},
		{"long", make([]byte, 7), "expected 6 bytes, found 7"},
		{"not BCD in the status byte", []byte{0x60, 0x31, 0xA0, 0x31, 0x10, 0x03}, "terminal status / processing requirement, byte 2: A0 is not two BCD digits"},
		{"not BCD in the version", []byte{0x60, 0x3F, 0x00, 0x31, 0x10, 0x03}, "version, byte 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := iso.ParseCUPHeader(tc.in)
			if tc.want == "" {
				if err != nil || !bytes.Equal(h.Bytes(), tc.in) {
					t.Fatalf("%+v, %v", h, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, iso.ErrMalformed) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	r := iso.ReplyCUPHeader(iso.DefaultCUPHeader.Bytes(), iso.CUPProcSignOn)
	if h, _ := iso.ParseCUPHeader(r); h.Processing != 3 || h.Software != "311003" {
		t.Fatalf("reply header %+v", h)
	}
	if iso.CUPProcessingMeaning(3) != "sign on again" {
		t.Fatal(iso.CUPProcessingMeaning(3))
	}
}

func TestParseDE60(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     iso.DE60
		err      string
	}{
		{"sign-on", "00000001003", iso.DE60{Type: "00", Batch: "000001", NetCode: "003"}, ""},
		{"sale with capability", "2200000200050", iso.DE60{Type: "22", Batch: "000002", NetCode: "000", ReadCap: "5", ICCond: "0"}, ""},
		{"with rest", "22000002000501", iso.DE60{Type: "22", Batch: "000002", NetCode: "000", ReadCap: "5", ICCond: "0", Rest: "1"}, ""},
		{"short batch", "0000001", iso.DE60{}, "DE60.2 batch number, digit 2: expected 6 digits, found 5"},
		{"no network code", "00000001", iso.DE60{}, "DE60.3 network management code, digit 8: expected 3 digits, found 0"},
		{"letters", "00ABCDEF003", iso.DE60{}, "DE60.2 batch number, digit 2: expected digits"},
		{"empty", "", iso.DE60{}, "DE60.1 transaction type, digit 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := iso.ParseDE60(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || got.String() != tc.in {
				t.Fatalf("got %+v (%q), %v", got, got.String(), err)
			}
		})
	}
	m := &iso.Message{Batch: "00000001003"}
	if iso.BatchNumber(m) != "000001" || iso.NetworkCodeOf(m) != iso.NetSignOn {
		t.Fatalf("BatchNumber %q NetworkCodeOf %q", iso.BatchNumber(m), iso.NetworkCodeOf(m))
	}
	if iso.BatchNumber(&iso.Message{Batch: "000007"}) != "000007" {
		t.Fatal("plain DE60 batch")
	}
}

func TestParseKeyBlock(t *testing.T) {
	block := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	for _, tc := range []struct {
		name, code string
		in         []byte
		err        string
	}{
		{"single", iso.CUPNetSignOn, block(24), ""},
		{"double", iso.CUPNetSignOnTDES, block(40), ""},
		{"double with track key", iso.CUPNetSignOnTDK, block(60), ""},
		{"short in the MAC key", iso.CUPNetSignOnTDES, block(30), "DE62 MAC key, byte 20: expected 16 bytes, found 10"},
		{"short in a check value", iso.CUPNetSignOn, block(10), "DE62 PIN key check value, byte 8: expected 4 bytes, found 2"},
		{"too long", iso.CUPNetSignOn, block(25), "DE62 key block, byte 24: 1 bytes after the last key"},
		{"not a sign-on code", iso.CUPNetEcho, block(24), "is not a sign-on code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kb, err := iso.ParseKeyBlock(tc.in, tc.code)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, iso.ErrMalformed) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !bytes.Equal(kb.Bytes(), tc.in) {
				t.Fatalf("%v", err)
			}
			if tc.code == iso.CUPNetSignOnTDK && len(kb.TDK) != 16 {
				t.Fatalf("TDK %d bytes", len(kb.TDK))
			}
		})
	}
}

func TestCUPCodeTable(t *testing.T) {
	for _, tc := range []struct {
		code, guidance, action string
		zh                     string
	}{
		{"A0", iso.GuidanceMACError, iso.ActionSignOn, "MAC校验错"},
		{"99", iso.GuidancePINFormatError, iso.ActionSignOn, "PIN格式错"},
		{"77", iso.GuidanceBatchOutOfSync, iso.ActionSignOn, "批次"},
		{"A7", iso.GuidanceSecurityFailure, iso.ActionSignOn, "安全处理失败"},
		{"98", iso.GuidanceIssuerUnavailable, iso.ActionNone, "发卡方"},
		{"95", iso.GuidanceReconcileError, iso.ActionBatchUpload, "批上送"},
		{"55", iso.GuidanceIncorrectPIN, iso.ActionNone, "密码错"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			c := iso.CUPCodes.Lookup(tc.code)
			if c.Guidance != tc.guidance || c.Action != tc.action || !strings.Contains(c.Text("zh"), tc.zh) || c.Text("en") == "" {
				t.Fatalf("%+v", c)
			}
		})
	}
	// The same codes mean other things in the ISO table.
	if iso.LookupCode("98").Guidance != iso.GuidanceMACError || iso.LookupCode("77").Guidance != iso.GuidanceOriginalMismatch {
		t.Fatal("ISO table changed")
	}
	if iso.CUPCodes.Lookup("ZZ").Known() {
		t.Fatal("ZZ known")
	}
	if tb, err := iso.CodeTableByName("cup"); err != nil || tb != iso.CUPCodes {
		t.Fatal(err)
	}
	if _, err := iso.CodeTableByName("visa"); err == nil {
		t.Fatal("unknown table accepted")
	}
}

// FuzzCUPHeader: any bytes either parse into a header that packs back to them, or give a
// PartError; never a panic.
func FuzzCUPHeader(f *testing.F) {
	f.Add(iso.DefaultCUPHeader.Bytes())
	f.Add([]byte{0x60, 0x31, 0x03, 0x31, 0x10, 0x03})
	f.Add([]byte{0x60, 0x31})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := iso.ParseCUPHeader(b)
		if err != nil {
			if !errors.Is(err, iso.ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(h.Bytes(), b) || h.Validate() != nil {
			t.Fatalf("% X → %+v → % X", b, h, h.Bytes())
		}
	})
}

// FuzzDE60: digits strings parse and render back; anything else is a PartError.
func FuzzDE60(f *testing.F) {
	for _, s := range []string{"00000001003", "2200000200050", "22000002000501", "0000001", "", "00ABCDEF003"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := iso.ParseDE60(s)
		if err != nil {
			if !errors.Is(err, iso.ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if d.String() != s {
			t.Fatalf("%q → %+v → %q", s, d, d.String())
		}
	})
}

// FuzzKeyBlock: DE62 of any length under every sign-on code: a key block that packs back,
// or a PartError.
func FuzzKeyBlock(f *testing.F) {
	f.Add(make([]byte, 24), byte(0))
	f.Add(make([]byte, 40), byte(1))
	f.Add(make([]byte, 59), byte(2))
	codes := []string{iso.CUPNetSignOn, iso.CUPNetSignOnTDES, iso.CUPNetSignOnTDK, iso.CUPNetEcho}
	f.Fuzz(func(t *testing.T, b []byte, which byte) {
		code := codes[int(which)%len(codes)]
		kb, err := iso.ParseKeyBlock(b, code)
		if err != nil {
			if !errors.Is(err, iso.ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(kb.Bytes(), b) {
			t.Fatal("key block does not pack back")
		}
	})
}

// FuzzUnpackCUP: the CUP dialect on untrusted payloads (same contract as the other
// dialects' targets).
func FuzzUnpackCUP(f *testing.F) { fuzzUnpack(f, iso.CUP) }
