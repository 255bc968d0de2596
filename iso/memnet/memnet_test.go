package memnet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso/clock"
	"github.com/posdrill/posdrill/iso/memnet"
)

var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// connect returns both ends of a fresh connection on l.
func connect(t *testing.T, l *memnet.Listener) (client, server net.Conn) {
	t.Helper()
	client, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	b := make([]byte, n)
	got, err := c.Read(b)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return string(b[:got])
}

func TestAddrs(t *testing.T) {
	l := memnet.Listen("acquirer:8583", nil)
	defer l.Close()
	if a := l.Addr(); a.Network() != "memnet" || a.String() != "acquirer:8583" {
		t.Fatalf("Addr = %s/%s", a.Network(), a)
	}
	c, s := connect(t, l)
	if c.RemoteAddr().String() != "acquirer:8583" || s.LocalAddr().String() != "acquirer:8583" {
		t.Fatalf("client remote %v, server local %v", c.RemoteAddr(), s.LocalAddr())
	}
	if c.LocalAddr().String() != s.RemoteAddr().String() || c.LocalAddr().Network() != "memnet" {
		t.Fatalf("client local %v, server remote %v", c.LocalAddr(), s.RemoteAddr())
	}
}

func TestPartialReadsAndEOF(t *testing.T) {
	l := memnet.Listen("a", nil)
	defer l.Close()
	c, s := connect(t, l)
	// Writes never block and accumulate: this is not a synchronous net.Pipe.
	for _, w := range []string{"hello ", "world"} {
		if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, 3); got != "hel" {
		t.Fatalf("got %q", got)
	}
	if got := readN(t, s, 100); got != "lo world" {
		t.Fatalf("got %q", got)
	}
	for range 2 {
		if n, err := s.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("Read after peer close = %d, %v; want io.EOF", n, err)
		}
	}
	// Writing to a peer that has gone is silently discarded, as after a TCP FIN.
	if _, err := s.Write([]byte("late")); err != nil {
		t.Fatalf("Write after peer close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after own Close: %v", err)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after own Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBlockedReadWokenByData(t *testing.T) {
	l := memnet.Listen("a", nil)
	defer l.Close()
	c, s := connect(t, l)
	got := make(chan string)
	go func() {
		b, err := io.ReadAll(s)
		if err != nil {
			got <- err.Error()
		}
		got <- string(b)
	}()
	want := bytes.Repeat([]byte("0123456789"), 10000)
	for i := 0; i < len(want); i += 777 {
		c.Write(want[i:min(i+777, len(want))])
	}
	c.Close()
	if g := <-got; g != string(want) {
		t.Fatalf("ReadAll got %d bytes, want %d", len(g), len(want))
	}
}

func TestReset(t *testing.T) {
	l := memnet.Listen("a", nil)
	defer l.Close()
	c, s := connect(t, l)
	s.Write([]byte("unread"))
	blocked := make(chan error)
	go func() {
		// Reads s's own direction: nothing there, so it blocks (or not yet started)
		// until the reset; either way it must see ECONNRESET.
		_, err := s.Read(make([]byte, 10))
		blocked <- err
	}()
	if err := c.(interface{ SetLinger(int) error }).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("blocked Read after reset: %v", err)
	}
	if _, err := s.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after reset: %v", err)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Write after reset: %v", err)
	}

	// Unread data is discarded by a reset.
	c, s = connect(t, l)
	c.Write([]byte("never seen"))
	c.(*memnet.Conn).SetLinger(0)
	c.Close()
	if n, err := s.Read(make([]byte, 100)); n != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read = %d, %v; want 0, ECONNRESET", n, err)
	}
}

func TestDeadlines(t *testing.T) {
	l := memnet.Listen("a", nil)
	defer l.Close()
	c, s := connect(t, l)

	checkTimeout := func(what string, err error) {
		t.Helper()
		var ne net.Error
		if !os.IsTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) ||
			!errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%s: %v is not a timeout", what, err)
		}
	}

	// A future deadline wakes a blocked Read.
	start := time.Now()
	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := s.Read(make([]byte, 1))
	checkTimeout("Read", err)
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("deadline fired early")
	}
	// A past deadline fails at once even with data available; clearing it restores reads.
	c.Write([]byte("x"))
	_, err = s.Read(make([]byte, 1))
	checkTimeout("Read past deadline", err)
	s.SetReadDeadline(time.Time{})
	if got := readN(t, s, 1); got != "x" {
		t.Fatalf("got %q", got)
	}

	// Changing the deadline of a blocked Read takes effect.
	errc := make(chan error)
	s.SetReadDeadline(time.Now().Add(time.Hour))
	go func() {
		_, err := s.Read(make([]byte, 1))
		errc <- err
	}()
	s.SetDeadline(time.Now().Add(-time.Second))
	checkTimeout("Read after SetDeadline", <-errc)

	// Write times out only when it has to wait for room.
	big := make([]byte, 16<<20)
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("filling Write = %d, %v", n, err)
	}
	c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	n, err := c.Write([]byte("overflow"))
	checkTimeout("Write", err)
	if n != 0 {
		t.Fatalf("Write wrote %d", n)
	}
}

func TestFullBufferBlocksUntilRead(t *testing.T) {
	l := memnet.Listen("a", nil)
	defer l.Close()
	c, s := connect(t, l)
	payload := bytes.Repeat([]byte{7}, 16<<20+12345)
	done := make(chan error)
	go func() {
		n, err := c.Write(payload)
		if err == nil && n != len(payload) {
			err = fmt.Errorf("short write %d", n)
		}
		done <- err
	}()
	got, err := io.ReadAll(io.LimitReader(s, int64(len(payload))))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestListenerClose(t *testing.T) {
	l := memnet.Listen("a", nil)
	acceptErr := make(chan error)
	go func() {
		_, err := l.Accept()
		acceptErr <- err
	}()
	queued, err := l.Dial() // taken by the goroutine above
	if err != nil {
		t.Fatal(err)
	}
	if err := <-acceptErr; err != nil {
		t.Fatalf("Accept: %v", err)
	}
	unaccepted, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := l.Accept() // takes unaccepted
		acceptErr <- err
		_, err = l.Accept() // blocks until Close
		acceptErr <- err
	}()
	if err := <-acceptErr; err != nil {
		t.Fatal(err)
	}
	stillQueued, _ := l.Dial()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-acceptErr; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked Accept after Close: %v", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if _, err := l.Dial(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial after Close: %v", err)
	}
	if _, err := l.DialContext(context.Background()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("DialContext after Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	// A connection never accepted is reset; accepted ones live on.
	if _, err := stillQueued.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read on never-accepted conn: %v", err)
	}
	for _, c := range []net.Conn{queued, unaccepted} {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("Write on accepted conn: %v", err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := memnet.Listen("b", nil).DialContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("DialContext with done ctx: %v", err)
	}
}

func TestConcurrentEcho(t *testing.T) {
	for _, name := range []string{"real", "virtual"} {
		t.Run(name, func(t *testing.T) {
			var clk clock.Clock = clock.Real{}
			v := clock.NewVirtual(epoch)
			if name == "virtual" {
				clk = v
			}
			l := memnet.Listen("echo", clk)
			var servers sync.WaitGroup
			servers.Add(1)
			go func() {
				defer servers.Done()
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					servers.Add(1)
					go func() {
						defer servers.Done()
						defer c.Close()
						io.Copy(c, c)
					}()
				}
			}()
			var clients sync.WaitGroup
			for i := range 20 {
				clients.Add(1)
				go func() {
					defer clients.Done()
					c, err := l.Dial()
					if err != nil {
						t.Error(err)
						return
					}
					msg := bytes.Repeat([]byte{byte(i)}, 1000+i*37)
					go func() {
						for j := 0; j < len(msg); j += 100 {
							c.Write(msg[j:min(j+100, len(msg))])
						}
					}()
					got := make([]byte, len(msg))
					if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
						t.Errorf("client %d: echo mismatch, %v", i, err)
					}
					c.Close()
				}()
			}
			clients.Wait()
			l.Close()
			servers.Wait()
			if name == "virtual" {
				// Every token handed out was given back.
				if v.Busy() != 0 || v.Underflows() != 0 {
					t.Fatalf("busy=%d underflows=%d", v.Busy(), v.Underflows())
				}
			}
		})
	}
}

// TestTokenAccounting follows the busy count through a request/response exchange.
func TestTokenAccounting(t *testing.T) {
	v := clock.NewVirtual(epoch)
	l := memnet.Listen("a", v)
	check := func(step string, want int) {
		t.Helper()
		if got := v.Busy(); got != want {
			t.Fatalf("%s: Busy = %d, want %d", step, got, want)
		}
	}
	c, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	check("dialled, queued", 1)
	s, _ := l.Accept()
	check("accepted: acceptor owns it", 1)
	c.Write([]byte("abc"))
	check("request in flight", 2)
	readN(t, s, 2)
	check("partly read: the reader's token covers the rest", 2)
	readN(t, s, 2)
	check("drained", 2)
	s.Write([]byte("ok"))
	check("answer in flight", 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The server's read token is gone; the EOF joins the pending answer.
	check("server closed", 2)
	readN(t, c, 10)
	check("client read", 2)
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatal(err)
	}
	check("client saw EOF", 2)
	c.Close()
	check("client closed", 1)
	l.Close()
	check("listener closed", 0)

	// A goroutine that was already busy adopts its token into the conn.
	c, _ = memnet.Listen("b", v).Dial()
	v.Hold()
	c.(*memnet.Conn).AdoptToken()
	c.SetReadDeadline(time.Now().Add(-time.Second))
	c.Read(make([]byte, 1))
	check("timed-out read keeps the token", 2)
	c.Close()
	// Left: the dial waiting in b's queue, and the EOF the server end has yet to see.
	check("closed", 2)
	if v.Underflows() != 0 {
		t.Fatal("underflow")
	}
}

// outcome is what the client of the scenario observed, in virtual time since epoch.
type outcome struct {
	HostGotRequest time.Duration
	ClientDone     time.Duration
	Answer         string // "" on timeout
}

// runExchange plays a host that answers after hostDelay against a client with a 30 s
// timeout, with the virtual clock advancing on its own (Run).
func runExchange(t *testing.T, hostDelay time.Duration) outcome {
	v := clock.NewVirtual(epoch)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error)
	go func() { runDone <- v.Run(ctx) }()
	defer func() {
		cancel()
		<-runDone
	}()

	var out outcome
	v.Hold() // this goroutine, the client, is busy from the start
	l := memnet.Listen("acquirer:8583", v)

	var host sync.WaitGroup
	hostGot := make(chan time.Duration, 1)
	host.Add(1)
	go func() { // acceptor: hands each connection to a handler, holding one token at a time
		defer host.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host.Add(1)
			go func() {
				defer host.Done()
				defer c.Close()
				buf := make([]byte, 64)
				n, err := c.Read(buf)
				if err != nil {
					t.Errorf("host read: %v", err)
					return
				}
				hostGot <- v.Now().Sub(epoch)
				v.Sleep(hostDelay)
				c.Write(append([]byte("re:"), buf[:n]...))
				io.Copy(io.Discard, c) // until the client goes away
			}()
		}
	}()

	conn, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("0100"))
	answers := make(chan string, 1)
	go func() {
		// Starts without a token; the Read that returns data hands it one, which it
		// passes on to the client with the answer.
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		if err != nil {
			return // closed by the client after a timeout: no token owned
		}
		answers <- string(buf[:n])
	}()
	timeout := v.NewTimer(30 * time.Second)
	v.Release() // about to block in select
	select {
	case out.Answer = <-answers: // owning the reader's token, i.e. conn's read token
		timeout.Stop()
	case <-timeout.C(): // owning the timer's token
		select {
		case out.Answer = <-answers: // the answer came at the same instant after all
			v.Release() // two tokens: keep one
		default:
		}
	}
	out.ClientDone = v.Now().Sub(epoch)
	out.HostGotRequest = <-hostGot
	// Tear down while still busy, so the host sees it before time moves on.
	l.Close()
	conn.Close() // with an answer, our token is conn's read token and this releases it
	if out.Answer == "" {
		v.Release() // the timer's token
	}
	host.Wait()
	if err := v.WaitStalled(ctx); err != nil {
		t.Fatal(err)
	}
	if v.Underflows() != 0 || v.Pending() != 0 {
		t.Fatalf("underflows=%d pending=%d", v.Underflows(), v.Pending())
	}
	return out
}

func TestAutoAdvanceExchange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		want  outcome
	}{
		{"answered", 5 * time.Second, outcome{0, 5 * time.Second, "re:0100"}},
		{"timeout", 40 * time.Second, outcome{0, 30 * time.Second, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			realStart := time.Now()
			for i := range 200 {
				if got := runExchange(t, tc.delay); got != tc.want {
					t.Fatalf("run %d: %+v, want %+v", i, got, tc.want)
				}
			}
			t.Logf("200 runs in %v real time", time.Since(realStart))
		})
	}
}
