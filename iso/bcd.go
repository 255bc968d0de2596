package iso

import (
	"fmt"

	"github.com/moov-io/iso8583/encoding"
)

// track2BCD packs track 2 data as BCD nibbles: digits as themselves, the field separator
// ('=' or 'D') as 0xD, an odd length padded on the right with 0xF (the usual terminal
// layout). It decodes the separator back to '='.
var track2BCD encoding.Encoder = track2Encoder{}

type track2Encoder struct{}

func (track2Encoder) Encode(src []byte) ([]byte, error) {
	out, err := packLeft(src, func(c byte, i int) (byte, error) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', nil
		case c == '=' || c == 'D' || c == 'd':
			return 0xD, nil
		}
		return 0, fmt.Errorf("track 2 character %q at %d is not a digit or separator", c, i)
	})
	if err != nil {
		return nil, err
	}
	if len(src)%2 == 1 {
		out[len(out)-1] |= 0xF
	}
	return out, nil
}

func (track2Encoder) Decode(src []byte, length int) ([]byte, int, error) {
	return unpackLeft(src, length, func(n byte, i int) (byte, error) {
		switch {
		case n <= 9:
			return '0' + n, nil
		case n == 0xD:
			return '=', nil
		}
		return 0, fmt.Errorf("track 2 nibble %X at %d is not a digit or separator", n, i)
	})
}

// packLeft packs one nibble per input character, two to a byte, high nibble first: the
// layout track 2 and CUP numerics share. An odd count leaves the last low nibble 0; the
// caller sets its own filler.
func packLeft(src []byte, toNibble func(c byte, i int) (byte, error)) ([]byte, error) {
	out := make([]byte, (len(src)+1)/2)
	for i, c := range src {
		n, err := toNibble(c, i)
		if err != nil {
			return nil, err
		}
		if i%2 == 0 {
			out[i/2] = n << 4
		} else {
			out[i/2] |= n
		}
	}
	return out, nil
}

// unpackLeft reads length nibbles, high nibble first, mapping each with fromNibble; it
// returns the characters and the bytes read. The filler nibble of an odd length is the
// caller's to check.
func unpackLeft(src []byte, length int, fromNibble func(n byte, i int) (byte, error)) ([]byte, int, error) {
	if length < 0 {
		return nil, 0, fmt.Errorf("length should be positive, got %d", length)
	}
	read := (length + 1) / 2
	if len(src) < read {
		return nil, 0, fmt.Errorf("not enough data to decode: need %d bytes, have %d", read, len(src))
	}
	out := make([]byte, length)
	for i := 0; i < length; i++ {
		c, err := fromNibble(nibble(src, i), i)
		if err != nil {
			return nil, 0, err
		}
		out[i] = c
	}
	return out, read, nil
}

// nibble is the i-th 4-bit digit of packed bytes, high nibble first.
func nibble(src []byte, i int) byte {
	if i%2 == 1 {
		return src[i/2] & 0x0F
	}
	return src[i/2] >> 4
}
