package iso_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// frameOf packs m in dialect d and frames it with framing name fr, as a peer would send it.
func frameOf(t *testing.T, d *iso.Dialect, fr string, m *iso.Message) []byte {
	t.Helper()
	f, err := iso.ParseFraming(fr)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := d.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.AppendFrame(nil, []byte{0x60, 0, 1, 0, 0}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMismatch(t *testing.T) {
	m := req("000042")
	tests := []struct {
		name         string
		sent         []byte
		ours         *iso.Dialect
		ourFraming   string
		wantDialect  string // "" = no mismatch
		wantFraming  string
		wantMentions string
	}{
		{"ascii read as bcd", frameOf(t, iso.ASCII, "len2", m), iso.BCD, "len2", "ascii", "len2", "dialect mismatch"},
		{"bcd read as ascii", frameOf(t, iso.BCD, "len2", m), iso.ASCII, "len2", "bcd", "len2", "dialect mismatch"},
		{"len4-ascii read as len2", frameOf(t, iso.ASCII, "len4-ascii", m), iso.ASCII, "len2", "ascii", "len4-ascii", "framing mismatch"},
		{"tpdu missing on our side", frameOf(t, iso.ASCII, "len2+tpdu", m), iso.ASCII, "len2", "ascii", "len2+tpdu", "framing mismatch"},
		{"both differ", frameOf(t, iso.BCD, "len4-ascii", m), iso.ASCII, "len2", "bcd", "len4-ascii", "dialect and framing mismatch"},
		{"ours reads it", frameOf(t, iso.ASCII, "len2", m), iso.ASCII, "len2", "", "", ""},
		{"garbage", []byte("\x00\x10GET / HTTP/1.1\r\n\r\n"), iso.ASCII, "len2", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := iso.ParseFraming(tt.ourFraming)
			mm := iso.Mismatch(tt.sent, tt.ours, f)
			if tt.wantDialect == "" {
				if mm != nil {
					t.Fatalf("Mismatch = %v, want none", mm)
				}
				return
			}
			if mm == nil {
				t.Fatal("Mismatch = nil, want one")
			}
			if mm.TheirDialect != tt.wantDialect || mm.TheirFraming != tt.wantFraming {
				t.Errorf("theirs = %s/%s, want %s/%s", mm.TheirDialect, mm.TheirFraming, tt.wantDialect, tt.wantFraming)
			}
			if !errors.Is(mm, iso.ErrMismatch) || !bytes.Contains([]byte(mm.Error()), []byte(tt.wantMentions)) {
				t.Errorf("error %q: want errors.Is ErrMismatch and %q", mm, tt.wantMentions)
			}
			if mm.Msg.STAN != "000042" {
				t.Errorf("their message read their way: STAN %q", mm.Msg.STAN)
			}
		})
	}
}

// A terminal whose host answers in another dialect learns it from the answer at once: the
// request fails with ErrMismatch, not after its timeout as if the host were silent.
func TestSendReportsAnAnswerInAnotherDialect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answer := req("000007").Reply("00")
	frame := frameOf(t, iso.BCD, "len2", answer) // a BCD host
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 512)
		_, _ = nc.Read(buf) // the request, unread
		_, _ = nc.Write(frame)
		_, _ = nc.Read(buf) // until the terminal hangs up
	}()
	c := dial(t, ln.Addr().String()) // an ASCII terminal
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.Send(ctx, req("000007"), time.Minute)
	if !errors.Is(err, iso.ErrMismatch) || !errors.Is(err, iso.ErrConnClosed) {
		t.Fatalf("Send: %v, want ErrMismatch and ErrConnClosed", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Send waited for its timeout")
	}
}
