package acquirer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// Fuzz targets for the server's read path. Seed corpora: testdata/fuzz/<target>/ (plus the
// f.Add seeds below); run one with e.g. go test ./acquirer -fuzz FuzzReadPath -fuzztime 60s.

// bytesConn is a net.Conn reading from a buffer (deadlines accepted and ignored).
type bytesConn struct {
	net.Conn
	r io.Reader
}

func (b *bytesConn) Read(p []byte) (int, error)      { return b.r.Read(p) }
func (b *bytesConn) SetReadDeadline(time.Time) error { return nil }

// oneByteReader hands out one byte per Read, like a slow link (testing/iotest style).
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func framingSeeds(t testing.TB) [][]byte {
	m := sale(t, "visa-ok", 2500, "000001")
	var out [][]byte
	for _, fname := range iso.Framings() {
		f, _ := iso.ParseFraming(fname)
		p, err := iso.ASCII.Pack(m)
		if err != nil {
			t.Fatal(err)
		}
		fr, _ := f.AppendFrame(nil, nil, p)
		out = append(out, append(fr, fr...))
	}
	return out
}

// FuzzFrameTracker checks that deadlineConn follows frame boundaries exactly as
// iso.Framing.ReadFrame consumes them, in every framing and with one-byte reads: after each
// whole frame it must be between frames (else the idle/frame deadlines would be wrong).
func FuzzFrameTracker(f *testing.F) {
	for i, s := range framingSeeds(f) {
		f.Add(uint8(i), s)
	}
	f.Add(uint8(0), []byte{0, 0})
	f.Add(uint8(2), []byte("00A5xx"))
	f.Add(uint8(1), []byte{0x99, 0x99, 1})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		names := iso.Framings()
		fr, _ := iso.ParseFraming(names[int(which)%len(names)])
		for _, slow := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(data)
			if slow {
				r = oneByteReader{r}
			}
			d := &deadlineConn{Conn: &bytesConn{r: r}, framing: fr, frameTimeout: time.Second}
			for {
				_, err := fr.ReadFrame(d, 1<<16)
				if err != nil {
					break
				}
				if d.hdrGot != 0 || d.body != 0 || d.broken {
					t.Fatalf("%s slow=%v: after a whole frame the tracker says header %d body %d broken %v",
						fr, slow, d.hdrGot, d.body, d.broken)
				}
			}
		}
	})
}

// FuzzPartialMessage: reading what can be read of an undecodable payload never panics,
// yields a valid MTI when it yields anything, and agrees with Unpack on payloads that do
// unpack.
func FuzzPartialMessage(f *testing.F) {
	m := sale(f, "visa-ok", 2500, "000001")
	for _, d := range iso.Dialects() {
		p, err := d.Pack(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(len(f.Name())%3), p)
		f.Add(uint8(0), p[:len(p)/2])
	}
	f.Add(uint8(0), []byte("0200"))
	f.Add(uint8(2), []byte{0x02, 0x00, 0xFF})
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		d := iso.Dialects()[int(which)%len(iso.Dialects())]
		pm := partialMessage(d, payload)
		if pm != nil && !iso.ValidMTI(pm.MTI) {
			t.Fatalf("%s: partial message with MTI %q", d.Name, pm.MTI)
		}
		if full, err := d.Unpack(payload); err == nil {
			if pm == nil || pm.MTI != full.MTI || pm.STAN != full.STAN || pm.TerminalID != full.TerminalID {
				t.Fatalf("%s: unpacks as %s/%s/%q but partial reading gives %+v", d.Name, full.MTI, full.STAN, full.TerminalID, pm)
			}
		}
	})
}

var (
	fuzzOnce    sync.Once
	fuzzAddr    string
	fuzzHealthy *iso.Conn
	fuzzSTAN    int
)

// FuzzReadPath sends arbitrary bytes to a running acquirer (loopback TCP, len2 ASCII) and
// half-closes: the server must answer with well-formed frames only, end the connection,
// never panic and keep serving: a healthy connection's echo is checked after every input.
func FuzzReadPath(f *testing.F) {
	for _, s := range framingSeeds(f)[:1] {
		f.Add(s)
	}
	good, _ := iso.ASCII.Pack(echo("000001"))
	f.Add(append([]byte{0, byte(len(good))}, good...))
	f.Add([]byte{0, 0})
	f.Add([]byte{0xFF, 0xFF, 1, 2, 3})
	f.Add(append([]byte{0, byte(len(good) + 3)}, append(good, "xyz"...)...))
	fuzzOnce.Do(func() {
		a, err := New(Options{})
		if err != nil {
			f.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.Fatal(err)
		}
		go a.Serve(ln)
		fuzzAddr = ln.Addr().String()
		nc, err := net.Dial("tcp", fuzzAddr)
		if err != nil {
			f.Fatal(err)
		}
		fuzzHealthy = iso.NewConn(nc)
		// Shared by every input of this process; it ends with the process.
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("tcp", fuzzAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Write(data); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Fatal(err)
		}
		_ = nc.(*net.TCPConn).CloseWrite()
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			fr, err := iso.DefaultFraming.ReadFrame(nc, 0)
			if err != nil {
				if isTimeout(err) {
					t.Fatal("the server did not end the connection after the input and EOF")
				}
				break // EOF, reset: the server ended it
			}
			if _, err := iso.ASCII.Unpack(fr.Payload); err != nil {
				t.Fatalf("server sent an answer that does not unpack: %v", err)
			}
		}
		fuzzSTAN = fuzzSTAN%999999 + 1
		m := echo(fmt.Sprintf("%06d", fuzzSTAN))
		m.TerminalID = "TERM0009"
		r, err := fuzzHealthy.Send(context.Background(), m, 5*time.Second)
		if err != nil || r.ResponseCode != "00" {
			t.Fatalf("healthy echo after the input: %v %v", r, err)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
