package emv_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	moovemv "github.com/moov-io/iso8583/exp/emv"
	"github.com/moov-io/iso8583/field"
)

// moov-io/iso8583's BER-TLV composite (its exp/emv DE55 spec) reads the sample exactly as
// iso/emv does, tag for tag. It also shows why DE55 is not a composite field in our dialects:
// packing it back sorts the tags, so the bytes a MAC covered would change (docs/libraries.md).
func TestAgreesWithMoovBerTLVComposite(t *testing.T) {
	raw := unhex(t, sampleDE55)
	ours := sample(t)

	c := field.NewComposite(moovemv.Spec)
	if _, err := c.Unpack(append([]byte(fmt.Sprintf("%03d", len(raw))), raw...)); err != nil {
		t.Fatal(err)
	}
	subs := c.GetSubfields()
	for _, o := range ours {
		f, ok := subs[o.Tag.String()]
		if !ok {
			t.Errorf("moov did not read tag %s", o.Tag)
			continue
		}
		got, err := f.String()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(got, fmt.Sprintf("%X", o.Value)) {
			t.Errorf("tag %s: moov %s, iso/emv %X", o.Tag, got, o.Value)
		}
	}
	if len(subs) != len(ours) {
		t.Errorf("moov read %d tags, iso/emv %d", len(subs), len(ours))
	}

	packed, err := c.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(packed[3:], raw) {
		t.Fatal("moov kept the wire order: revisit the DE55 decision in docs/libraries.md")
	}
	if !bytes.Equal(ours.Bytes(), raw) {
		t.Fatal("iso/emv changed the wire order")
	}
}
