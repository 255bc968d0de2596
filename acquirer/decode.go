package acquirer

import (
	"encoding/hex"
	"strings"

	"github.com/moov-io/iso8583/field"
	"github.com/posdrill/posdrill/iso"
)

// partialMessage reads what it can of a payload that does not unpack: the MTI and every
// field up to the first one that fails (or the whole message when only trailing bytes were
// wrong). It returns nil when not even the MTI can be read. The acquirer answers 30 when
// this yields the MTI, DE11 and DE41 (enough for the client to match the answer), and
// closes the connection otherwise.
func partialMessage(d *iso.Dialect, payload []byte) (m *iso.Message) {
	if dec, err := d.Decode(payload); err == nil {
		m, err := dec.Message()
		if err != nil {
			return nil
		}
		return m
	}
	defer func() {
		// The codec has no recover of its own and this input is hostile.
		if recover() != nil && m != nil && !iso.ValidMTI(m.MTI) {
			m = nil
		}
	}()
	mti := field.NewInstanceOf(d.Spec.Fields[0])
	n, err := mti.Unpack(payload)
	if err != nil {
		return nil
	}
	raw, _ := mti.Bytes()
	if !iso.ValidMTI(string(raw)) {
		return nil
	}
	m = &iso.Message{MTI: string(raw)}
	off := n
	bm, ok := field.NewInstanceOf(d.Spec.Fields[1]).(*field.Bitmap)
	if !ok || off >= len(payload) {
		return m
	}
	n, err = bm.Unpack(payload[off:])
	if err != nil {
		return m
	}
	off += n
	for id := 2; id <= min(bm.Len(), 128); id++ {
		if bm.IsBitmapPresenceBit(id) || !bm.IsSet(id) {
			continue
		}
		spec, ok := d.Spec.Fields[id]
		if !ok || off >= len(payload) {
			return m
		}
		f := field.NewInstanceOf(spec)
		n, err := f.Unpack(payload[off:])
		if err != nil {
			return m
		}
		v, _ := f.Bytes()
		s := string(v)
		if _, isBin := f.(*field.Binary); isBin {
			s = strings.ToUpper(hex.EncodeToString(v))
		}
		if m.Set(id, s) != nil {
			return m
		}
		off += n
	}
	return m
}
