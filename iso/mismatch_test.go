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

// A request whose first frame cannot even be framed our way (only the framing differs) is
// handed to the handler, which answers in its own framing; the connection stays open until
// the peer has read that answer and hung up, and then ends naming the mismatch. Bytes that
// read as nothing still close the connection without calling the handler.
func TestConnAnswersARequestInAnotherFraming(t *testing.T) {
	for _, tc := range []struct {
		name, theirs string
		sent         []byte
		wantAnswer   bool
	}{
		{"len4-ascii to len2", "len4-ascii", frameOf(t, iso.ASCII, "len4-ascii", req("000042")), true},
		{"garbage", "len2", []byte("\xff\xffGET / HTTP/1.1\r\n\r\n"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			handled := make(chan iso.Inbound, 1)
			c := iso.NewConn(server, iso.WithHandler(func(c *iso.Conn, in iso.Inbound) {
				handled <- in
				var mm *iso.MismatchError
				if errors.As(in.Err, &mm) {
					// Answered from another goroutine, as the acquirer does.
					go func() { _ = c.Write(nil, mm.Msg.Reply("30")) }()
				}
			}))
			defer c.Close()
			go func() { _, _ = client.Write(tc.sent) }()
			if !tc.wantAnswer {
				<-c.Done()
				select {
				case in := <-handled:
					t.Fatalf("handler called with %v", in.Err)
				default:
				}
				if errors.Is(c.Err(), iso.ErrMismatch) {
					t.Errorf("Err = %v, want no mismatch", c.Err())
				}
				return
			}
			var in iso.Inbound
			select {
			case in = <-handled:
			case <-c.Done():
				t.Fatalf("connection closed (%v) without handing the request to the handler", c.Err())
			}
			if !errors.Is(in.Err, iso.ErrMismatch) || !bytes.Contains([]byte(in.Err.Error()), []byte("framing mismatch")) {
				t.Fatalf("handler got %v, want a framing mismatch", in.Err)
			}
			// The answer arrives in our framing (len2) although the request came in len4-ascii.
			fr, err := iso.DefaultFraming.ReadFrame(client, iso.DefaultMaxFrame)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			m, err := iso.ASCII.Unpack(fr.Payload)
			if err != nil || m.MTI != "0210" || m.ResponseCode != "30" || m.STAN != "000042" {
				t.Fatalf("answer %+v, %v; want 0210 30 STAN 000042", m, err)
			}
			select {
			case <-c.Done():
				t.Fatal("the connection ended before the peer hung up")
			default:
			}
			client.Close()
			<-c.Done()
			if !errors.Is(c.Err(), iso.ErrMismatch) || !errors.Is(c.Err(), iso.ErrConnClosed) {
				t.Errorf("Err = %v, want ErrMismatch and ErrConnClosed", c.Err())
			}
		})
	}
}

// A peer that never hangs up after a mismatched first frame does not hold the connection:
// Close ends it at once, and bytes it keeps sending are not read as frames.
func TestConnMismatchLingerEndsOnClose(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	handled := make(chan struct{})
	c := iso.NewConn(server, iso.WithHandler(func(c *iso.Conn, in iso.Inbound) {
		if in.Msg != nil {
			t.Errorf("a frame after the mismatch was read: %s", in.Msg.MTI)
		}
		close(handled)
	}))
	go func() {
		_, _ = client.Write(frameOf(t, iso.ASCII, "len4-ascii", req("000042")))
		// A well-formed frame of ours next: the stream is out of step, so it must not be read.
		_, _ = client.Write(frameOf(t, iso.ASCII, "len2", req("000043")))
	}()
	select {
	case <-handled:
	case <-c.Done():
		t.Fatalf("connection closed (%v) without handing the request to the handler", c.Err())
	}
	if err := c.Close(); err != nil {
		t.Logf("Close: %v", err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), iso.ErrMismatch) {
		t.Errorf("Err = %v, want ErrMismatch", c.Err())
	}
}
