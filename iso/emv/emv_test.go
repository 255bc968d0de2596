package emv_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/emv"
	"github.com/posdrill/posdrill/iso/internal/testhex"
	"github.com/posdrill/posdrill/iso/keys"
)

func unhex(t testing.TB, s string) []byte { t.Helper(); return testhex.Decode(t, s) }

func kcv2(t testing.TB, k []byte) string {
	t.Helper()
	cv, err := keys.CheckValue(k, 2)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%X", cv)
}

// Vectors from the public pyemv test suite (knovichikhin/pyemv, tests/test_kd.py and the
// kd module doctest): IMK 0123456789ABCDEFFEDCBA9876543210, Option A, common session key
// with R = 1234567890123456, AC over 0123456789ABCDEF0123456789ABCDEF, ARPC method 1 with
// ARC 0000 (binary, as the suite passes it).
func TestPublishedCryptogramVectors(t *testing.T) {
	imk := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	t.Run("Option A full key (doctest)", func(t *testing.T) {
		mk, err := emv.MasterKeyA(imk, "99012345678901234", "45")
		if err != nil || fmt.Sprintf("%X", []byte(mk)) != "67F8292358083E5EA7AB7FDA58D53B6B" {
			t.Fatalf("%X %v", []byte(mk), err)
		}
	})
	tests := []struct {
		name, psn                string
		mkKCV, skKCV, ac, arpcMK string
	}{
		{"PSN 45", "45", "FF08", "DF82", "19C1FBC83EBDC0D5", "78A372523FA35A03"},
		{"no PSN", "", "", "3F4F", "8698A7319324FD93", "BEA11C8F4A47EF6F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk, err := emv.MasterKeyA(imk, "12345678901234567", tt.psn)
			if err != nil {
				t.Fatal(err)
			}
			if tt.mkKCV != "" && kcv2(t, mk) != tt.mkKCV {
				t.Errorf("ICC MK KCV %s, want %s", kcv2(t, mk), tt.mkKCV)
			}
			sk, err := emv.SessionKey(mk, unhex(t, "1234567890123456"))
			if err != nil || kcv2(t, sk) != tt.skKCV {
				t.Fatalf("session key KCV %s, %v; want %s", kcv2(t, sk), err, tt.skKCV)
			}
			ac, err := emv.ComputeAC(sk, unhex(t, "0123456789ABCDEF0123456789ABCDEF"))
			if err != nil || fmt.Sprintf("%X", ac) != tt.ac {
				t.Fatalf("AC %X, %v; want %s", ac, err, tt.ac)
			}
			arpc, err := emv.ARPC1(mk, ac, []byte{0, 0})
			if err != nil || fmt.Sprintf("%X", arpc) != tt.arpcMK {
				t.Fatalf("ARPC %X, %v; want %s", arpc, err, tt.arpcMK)
			}
		})
	}
	t.Run("ARPC under the session key", func(t *testing.T) {
		mk, _ := emv.MasterKeyA(imk, "12345678901234567", "45")
		sk, _ := emv.SessionKey(mk, unhex(t, "1234567890123456"))
		arpc, _ := emv.ARPC1(sk, unhex(t, "19C1FBC83EBDC0D5"), []byte{0, 0})
		if fmt.Sprintf("%X", arpc) != "C3620580668E5B65" {
			t.Fatalf("ARPC %X", arpc)
		}
	})
}

// sampleDE55 is a typical authorisation request's chip data, not in hex order (82 after 9F..).
const sampleDE55 = "9F2608 1122334455667788" + "9F2701 80" + "9F1007 06010A03A00000" +
	"9F3704 A1B2C3D4" + "9F3602 001C" + "9505 0000000000" + "9A03 261205" + "9C01 00" +
	"9F0206 000000001000" + "9F0306 000000000000" + "5F2A02 0156" + "8202 7C00" + "9F1A02 0156" +
	"5A08 6212345678901265" + "5F3401 01"

func sample(t testing.TB) emv.List {
	t.Helper()
	l, err := emv.Parse(unhex(t, sampleDE55))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseBuildRoundTrip(t *testing.T) {
	raw := unhex(t, sampleDE55)
	l := sample(t)
	if len(l) != 15 {
		t.Fatalf("%d objects", len(l))
	}
	if !bytes.Equal(l.Bytes(), raw) {
		t.Fatalf("rebuilt\n%X\nwant\n%X", l.Bytes(), raw)
	}
	if v := l.Value(emv.TagATC); fmt.Sprintf("%X", v) != "001C" {
		t.Fatalf("9F36 = %X", v)
	}
	if l[0].Tag.String() != "9F26" || l[0].Tag.Name() != "Application Cryptogram" {
		t.Fatalf("first %v %q", l[0].Tag, l[0].Tag.Name())
	}
	// Constructed: an issuer script template 71 holding 9F18 and a command 86; long lengths.
	script := emv.List{{Tag: emv.TagIssuerScript1, Children: emv.List{
		{Tag: 0x9F18, Value: unhex(t, "00000001")},
		{Tag: 0x86, Value: bytes.Repeat([]byte{0x84}, 200)},
	}}}
	b := script.Bytes()
	if !bytes.HasPrefix(b, unhex(t, "7181D2 9F1804")) {
		t.Fatalf("71 encoded as %X…", b[:8])
	}
	back, err := emv.Parse(b)
	if err != nil || len(back) != 1 || len(back[0].Children) != 2 || len(back.Value(0x86)) != 200 {
		t.Fatalf("%v %v", back, err)
	}
	big := emv.List{{Tag: 0x9F10, Value: make([]byte, 300)}}.Bytes()
	if !bytes.HasPrefix(big, unhex(t, "9F1082012C")) {
		t.Fatalf("300-byte value encoded as %X…", big[:5])
	}
}

// Broken TLV: an error naming the byte and the tag, never a panic.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, data string
		offset     int
		tag, msg   string
	}{
		{"value longer than data", "9F2608 11223344", 0, "9F26", "length 8 but only 4 bytes remain"},
		{"second object cut", "9C01 00 9F3704 A1B2", 3, "9F37", "length 4 but only 2 bytes remain"},
		{"length missing", "9C01 00 9F37", 5, "9F37", "length missing"},
		{"tag cut short", "9C01 00 9F", 3, "", "tag cut short"},
		{"tag longer than 3 bytes", "9F8181 01 00", 0, "", "longer than 3 bytes"},
		{"indefinite length", "9F26 80 00", 2, "9F26", "indefinite"},
		{"3 length bytes", "9F26 83 000008", 2, "9F26", "more than 2 length bytes"},
		{"81 cut", "9C 81", 1, "9C", "cut short"},
		{"padding byte", "9C01 00 00", 3, "", "padding"},
		{"inside a constructed tag", "7105 9F1808 0000", 2, "9F18", "length 8 but only 2 bytes remain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := emv.Parse(unhex(t, tt.data))
			var pe *emv.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, emv.ErrTLV) {
				t.Fatalf("err = %v", err)
			}
			if pe.Offset != tt.offset || pe.Tag != tt.tag || !strings.Contains(pe.Reason, tt.msg) {
				t.Fatalf("got byte %d tag %q %q; want byte %d tag %q %q", pe.Offset, pe.Tag, pe.Reason, tt.offset, tt.tag, tt.msg)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("byte %d", tt.offset)) {
				t.Fatalf("message %q lacks the offset", err)
			}
		})
	}
}

// PAN-bearing tags never print in full: not in String, not through %v, not in Lines.
func TestMasking(t *testing.T) {
	l := sample(t)
	l = append(l, emv.TLV{Tag: emv.TagTrack2, Value: unhex(t, "6212345678901265D30122011234567F")},
		emv.TLV{Tag: 0x56, Value: []byte("B6212345678901265^TEST/CARD^3012")},
		emv.TLV{Tag: 0x9F6B, Value: unhex(t, "6212345678901265D3012201")})
	for _, out := range []string{l.String(), fmt.Sprint(l), fmt.Sprintf("%v %s %x", l, l, l)} {
		if strings.Contains(out, "6212345678901265") || strings.Contains(out, "2345678901") || strings.Contains(out, "TEST/CARD") {
			t.Fatalf("PAN or track data printed:\n%s", out)
		}
	}
	if got := emv.Display(emv.TagPAN, unhex(t, "6212345678901265")); got != "621234******1265" {
		t.Errorf("5A shown as %q", got)
	}
	if got := emv.Display(emv.TagPAN, unhex(t, "4111111111111F")); got != "411***11111" && strings.Contains(got, "4111111111111") {
		t.Errorf("odd-length 5A shown as %q", got)
	}
	if got := emv.Display(emv.TagTrack2, unhex(t, "6212345678901265D30122011234567F")); got != "621234******1265D****" {
		t.Errorf("57 shown as %q", got)
	}
	if got := emv.Display(0x9F26, unhex(t, "1122334455667788")); got != "1122334455667788" {
		t.Errorf("9F26 shown as %q", got)
	}
	if !strings.Contains(l.String(), "5A Application PAN (8): 621234******1265") {
		t.Errorf("String:\n%s", l)
	}
}

// A card and a host sharing the test keys: the host verifies the card's ARQC, answers tag 91,
// and the card accepts it; any change to the data breaks the ARQC.
func TestARQCRoundTrip(t *testing.T) {
	k := emv.DefaultKeys()
	mk, err := k.CardKey("unionpay", "unionpay-ok", "6212345678901265")
	if err != nil {
		t.Fatal(err)
	}
	l := sample(t)
	arqc, err := emv.ARQC(mk, l)
	if err != nil {
		t.Fatal(err)
	}
	l = l.Set(emv.TagAC, arqc)
	if err := emv.VerifyARQC(mk, l); err != nil {
		t.Fatal(err)
	}
	t91, err := emv.IssuerAuthData(mk, l, "00")
	if err != nil || len(t91) != 10 || string(t91[8:]) != "00" {
		t.Fatalf("tag 91 %X %v", t91, err)
	}
	if arc, err := emv.VerifyIssuerAuthData(mk, l, t91); err != nil || arc != "00" {
		t.Fatalf("card check of tag 91: %q %v", arc, err)
	}
	bad91 := append([]byte{}, t91...)
	bad91[0] ^= 1
	if _, err := emv.VerifyIssuerAuthData(mk, l, bad91); !errors.Is(err, emv.ErrARQC) {
		t.Fatalf("bad tag 91 accepted: %v", err)
	}

	other, _ := k.CardKey("visa", "visa-ok", "6212345678901265") // PSN 00, not 01
	tests := []struct {
		name   string
		mk     []byte
		change func(emv.List) emv.List
		wantIs error
		msg    string
	}{
		{"amount changed", mk, func(l emv.List) emv.List { return l.Set(emv.TagAmount, unhex(t, "000000009999")) }, emv.ErrARQC, ""},
		{"ATC changed", mk, func(l emv.List) emv.List { return l.Set(emv.TagATC, unhex(t, "001D")) }, emv.ErrARQC, ""},
		{"other card key", other, func(l emv.List) emv.List { return l }, emv.ErrARQC, ""},
		{"9F37 short", mk, func(l emv.List) emv.List { return l.Set(emv.TagUN, unhex(t, "A1B2")) }, emv.ErrMissing, "9F37 is 2 bytes"},
		{"9F36 missing", mk, func(l emv.List) emv.List { return drop(l, emv.TagATC) }, emv.ErrMissing, "9F36"},
		{"9F26 missing", mk, func(l emv.List) emv.List { return drop(l, emv.TagAC) }, emv.ErrMissing, "9F26"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.change(append(emv.List(nil), l...))
			err := emv.VerifyARQC(tt.mk, c)
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v %q", err, tt.wantIs, tt.msg)
			}
		})
	}
}

func drop(l emv.List, t emv.Tag) emv.List {
	var out emv.List
	for _, o := range l {
		if o.Tag != t {
			out = append(out, o)
		}
	}
	return out
}

// The documented test keys in testdata are the built-in ones.
func TestKeysFixtureMatchesDefaults(t *testing.T) {
	f, err := os.Open("../../testdata/iso/cards/emv-keys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	loaded, err := emv.LoadKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	def := emv.DefaultKeys()
	if fmt.Sprint(loaded.Brands()) != fmt.Sprint(def.Brands()) {
		t.Fatalf("brands %v vs %v", loaded.Brands(), def.Brands())
	}
	for _, b := range def.Brands() {
		a, err1 := loaded.CardKey(b, "unionpay-ok", "6212345678901265")
		c, err2 := def.CardKey(b, "unionpay-ok", "6212345678901265")
		if err1 != nil || err2 != nil || !keys.Equal(a, c) {
			t.Fatalf("%s: %v %v", b, err1, err2)
		}
	}
	if loaded.PSN("unionpay-ok") != "01" || loaded.PSN("visa-ok") != "00" {
		t.Fatal("PSN table differs")
	}
	if _, err := def.CardKey("jcb", "jcb-1", "3530111333300000"); err == nil || !strings.Contains(err.Error(), "have amex, mastercard, unionpay, visa") {
		t.Fatalf("unknown brand: %v", err)
	}
}

func TestLoadKeysErrors(t *testing.T) {
	tests := []struct{ name, yaml, msg string }{
		{"bad kcv", "issuers:\n  - {brand: visa, imk_ac: 0123456789ABCDEFFEDCBA9876543210, kcv: 000000}\n", `brand "visa"`},
		{"short key", "issuers:\n  - {brand: visa, imk_ac: \"01234567\", kcv: 08D7B4}\n", "imk_ac is 4 bytes"},
		{"no brand", "issuers:\n  - {imk_ac: 0123456789ABCDEFFEDCBA9876543210, kcv: 08D7B4}\n", "brand missing"},
		{"bad psn", "psn: {visa-ok: \"1\"}\n", "want 2 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := emv.LoadKeys(strings.NewReader(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "0123456789ABCDEF") {
				t.Fatalf("key printed: %v", err)
			}
		})
	}
}

func TestParseTag(t *testing.T) {
	for in, want := range map[string]emv.Tag{"9F26": 0x9F26, "5A": 0x5A, "9f02": 0x9F02, "DF31": 0xDF31} {
		if got, err := emv.ParseTag(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "9F", "9F2626", "zz", "5A5A"} {
		if _, err := emv.ParseTag(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
