package iso

// Codec benchmarks: a 0200 sale in the default dialect (ASCII) against moov-io's stock ASCII
// spec (specs.Spec87ASCII) with an equivalent message. BENCHMARKS.md has the numbers and
// the command:
//
//	go test -run '^$' -bench 'Pack0200|Unpack0200' -benchmem ./iso/

import (
	"strings"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/specs"
)

// benchSale is the 0200 a chip terminal sends (without a PIN): 16 fields besides MTI and
// bitmap.
func benchSale() *Message {
	return &Message{
		MTI: "0200", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000002500",
		TransmissionTime: "1126021500", STAN: "000123", LocalTime: "101500", LocalDate: "1126",
		Expiry: "3012", EntryMode: "051", CardSeq: "001", ConditionCode: "00", AcquirerID: "12345678901",
		TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Currency: "156",
		EMV: []byte{0x9F, 0x26, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x9F, 0x27, 0x01, 0x80, 0x95, 0x05, 0, 0, 0, 0, 0},
	}
}

// moovSale is the same 0200 for moov's struct mapping. Spec87ASCII carries DE55 as ASCII
// text (hex characters here). No DE52: the stock spec's DE52 (String, hex encoding, fixed 8)
// packs the hex text of its value and unpacks only half of it, so it cannot round-trip.
type moovSale struct {
	MTI              string `iso8583:"0"`
	PAN              string `iso8583:"2"`
	ProcessingCode   string `iso8583:"3"`
	Amount           string `iso8583:"4"`
	TransmissionTime string `iso8583:"7"`
	STAN             string `iso8583:"11"`
	LocalTime        string `iso8583:"12"`
	LocalDate        string `iso8583:"13"`
	Expiry           string `iso8583:"14"`
	EntryMode        string `iso8583:"22"`
	CardSeq          string `iso8583:"23"`
	ConditionCode    string `iso8583:"25"`
	AcquirerID       string `iso8583:"32"`
	TerminalID       string `iso8583:"41"`
	MerchantID       string `iso8583:"42"`
	Currency         string `iso8583:"49"`
	EMV              string `iso8583:"55"`
}

func benchMoovSale() *moovSale {
	return &moovSale{
		MTI: "0200", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000002500",
		TransmissionTime: "1126021500", STAN: "000123", LocalTime: "101500", LocalDate: "1126",
		Expiry: "3012", EntryMode: "051", CardSeq: "001", ConditionCode: "00", AcquirerID: "12345678901",
		TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Currency: "156",
		EMV: "9F26080102030405060708" + "9F270180" + "9505" + "0000000000",
	}
}

func moovPacked(b *testing.B) []byte {
	m := iso8583.NewMessage(specs.Spec87ASCII)
	if err := m.Marshal(benchMoovSale()); err != nil {
		b.Fatal(err)
	}
	out, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkPack0200 packs the sale: what a terminal does per request and the acquirer per
// answer.
func BenchmarkPack0200(b *testing.B) {
	for _, d := range Dialects() {
		// Pack as it is wired today, the generic (moov) path alone, and the fast path
		// alone (fastpath.go).
		b.Run("posdrill-"+d.Name, func(b *testing.B) {
			m := benchSale()
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := d.Pack(m)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
		b.Run("posdrill-"+d.Name+"-generic", func(b *testing.B) {
			m := benchSale()
			fastPathOff.Store(true)
			defer fastPathOff.Store(false)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := d.Pack(m)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
		b.Run("posdrill-"+d.Name+"-fastpath", func(b *testing.B) {
			m := benchSale()
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, ok := d.fastAppendPack(nil, m)
				if !ok {
					b.Fatal("fast path declined")
				}
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
	}
	// AppendPack into a reused buffer: what Conn.write does.
	b.Run("posdrill-ascii-append", func(b *testing.B) {
		m := benchSale()
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = ASCII.AppendPack(buf[:0], m); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	// moov's usual path: new message, Marshal the struct, Pack.
	b.Run("moov-spec87ascii-marshal+pack", func(b *testing.B) {
		v := benchMoovSale()
		b.ReportAllocs()
		var n int
		for b.Loop() {
			m := iso8583.NewMessage(specs.Spec87ASCII)
			if err := m.Marshal(v); err != nil {
				b.Fatal(err)
			}
			out, err := m.Pack()
			if err != nil {
				b.Fatal(err)
			}
			n = len(out)
		}
		b.SetBytes(int64(n))
	})
	// moov's floor: Pack of an already populated message.
	b.Run("moov-spec87ascii-pack-only", func(b *testing.B) {
		m := iso8583.NewMessage(specs.Spec87ASCII)
		if err := m.Marshal(benchMoovSale()); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var n int
		for b.Loop() {
			out, err := m.Pack()
			if err != nil {
				b.Fatal(err)
			}
			n = len(out)
		}
		b.SetBytes(int64(n))
	})
}

// BenchmarkUnpack0200 unpacks the sale into a usable value: what the acquirer does per
// request and the terminal per answer.
func BenchmarkUnpack0200(b *testing.B) {
	for _, d := range Dialects() {
		b.Run("posdrill-"+d.Name, func(b *testing.B) {
			raw, err := d.Pack(benchSale())
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Unpack(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("posdrill-"+d.Name+"-generic", func(b *testing.B) {
			raw, err := d.Pack(benchSale())
			if err != nil {
				b.Fatal(err)
			}
			fastPathOff.Store(true)
			defer fastPathOff.Store(false)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Unpack(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("posdrill-"+d.Name+"-fastpath", func(b *testing.B) {
			raw, err := d.Pack(benchSale())
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := d.fastUnpack(raw); !ok {
					b.Fatal("fast path declined")
				}
			}
		})
	}
	b.Run("moov-spec87ascii-unpack+unmarshal", func(b *testing.B) {
		raw := moovPacked(b)
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			m := iso8583.NewMessage(specs.Spec87ASCII)
			if err := m.Unpack(raw); err != nil {
				b.Fatal(err)
			}
			var v moovSale
			if err := m.Unmarshal(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("moov-spec87ascii-unpack-only", func(b *testing.B) {
		raw := moovPacked(b)
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			m := iso8583.NewMessage(specs.Spec87ASCII)
			if err := m.Unpack(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBenchMessagesAreEquivalent keeps the comparison honest: both sides carry the same
// field numbers and the same values.
func TestBenchMessagesAreEquivalent(t *testing.T) {
	m := iso8583.NewMessage(specs.Spec87ASCII)
	if err := m.Unpack(moovPackedT(t)); err != nil {
		t.Fatal(err)
	}
	ours := benchSale()
	var want []int
	for _, id := range ours.Present() {
		want = append(want, id)
	}
	var got []int
	for id := range m.GetFields() {
		if id > 1 {
			got = append(got, id)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("moov message has fields %v, ours %v", got, want)
	}
	for _, id := range want {
		v, _ := ours.Get(id)
		mv, err := m.GetString(id)
		if err != nil {
			t.Fatalf("field %d: %v", id, err)
		}
		if id == 3 || id == 4 {
			// The stock spec pads DE3 and DE4 with zeros and strips them on unpack.
			v, mv = strings.TrimLeft(v, "0"), strings.TrimLeft(mv, "0")
		}
		if mv != v {
			t.Errorf("field %d: moov %q, ours %q", id, mv, v)
		}
	}
}

func moovPackedT(t *testing.T) []byte {
	m := iso8583.NewMessage(specs.Spec87ASCII)
	if err := m.Marshal(benchMoovSale()); err != nil {
		t.Fatal(err)
	}
	out, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
