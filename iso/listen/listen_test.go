package listen_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso/listen"
)

// failing returns err from Accept while fail > 0, then accepts for real.
type failing struct {
	net.Listener
	fail atomic.Int64
	err  error
}

func (f *failing) Accept() (net.Conn, error) {
	if f.fail.Add(-1) >= 0 {
		return nil, f.err
	}
	return f.Listener.Accept()
}

func tcp(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestBacksOffOnExhaustion(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED} {
		t.Run(errno.Error(), func(t *testing.T) {
			f := &failing{Listener: tcp(t), err: &net.OpError{Op: "accept", Net: "tcp", Err: &osSyscallError{errno}}}
			f.fail.Store(5)
			var waits []time.Duration
			l := listen.New(f, listen.Options{MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
				OnBackoff: func(_ error, d time.Duration) { waits = append(waits, d) }})
			go func() {
				c, err := net.Dial("tcp", f.Addr().String())
				if err == nil {
					c.Close()
				}
			}()
			c, err := l.Accept()
			if err != nil {
				t.Fatalf("Accept returned %v; it must back off and keep accepting", err)
			}
			c.Close()
			want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}
			if len(waits) != len(want) {
				t.Fatalf("waits %v, want %v", waits, want)
			}
			for i := range want {
				if waits[i] != want[i] {
					t.Fatalf("waits %v, want %v (doubling, capped)", waits, want)
				}
			}
			s := l.Stats()
			if s.Backoffs != 5 || !s.Saturated || s.Why == "" {
				t.Fatalf("stats %+v: want 5 back-offs and saturated with a reason", s)
			}
		})
	}
}

// osSyscallError makes the error chain look like the runtime's (*os.SyscallError).
type osSyscallError struct{ errno syscall.Errno }

func (e *osSyscallError) Error() string { return "accept4: " + e.errno.Error() }
func (e *osSyscallError) Unwrap() error { return e.errno }

func TestOtherErrorsReturn(t *testing.T) {
	f := &failing{Listener: tcp(t), err: errors.New("boom")}
	f.fail.Store(1)
	if _, err := listen.New(f, listen.Options{}).Accept(); err == nil || err.Error() != "boom" {
		t.Fatalf("Accept = %v, want boom", err)
	}
}

func TestCloseEndsBackoff(t *testing.T) {
	f := &failing{Listener: tcp(t), err: syscall.EMFILE}
	f.fail.Store(1 << 40)
	waiting := make(chan struct{}, 1)
	l := listen.New(f, listen.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour,
		OnBackoff: func(error, time.Duration) { waiting <- struct{}{} }})
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	<-waiting // in its hour-long back-off now
	l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

func TestCaps(t *testing.T) {
	tests := []struct {
		name     string
		o        listen.Options
		admitted int
		reason   string
	}{
		{"max conns", listen.Options{MaxConns: 3}, 3, listen.RejectMaxConns},
		{"per source", listen.Options{MaxPerSource: 2}, 2, listen.RejectPerSource},
		{"loopback exempt", listen.Options{MaxPerSource: 2, ExemptLoopback: true, MaxConns: 4}, 4, listen.RejectMaxConns},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var reasons []string
			tc.o.OnReject = func(r string, _ net.Addr) {
				mu.Lock()
				reasons = append(reasons, r)
				mu.Unlock()
			}
			l := listen.New(tcp(t), tc.o)
			accepted := make(chan net.Conn, 10)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						close(accepted)
						return
					}
					accepted <- c
				}
			}()
			var clients []net.Conn
			dial := func() net.Conn {
				c, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				clients = append(clients, c)
				return c
			}
			var held []net.Conn
			for range tc.admitted {
				dial()
				held = append(held, <-accepted)
			}
			// One more: closed at once by the listener (EOF), never handed out.
			extra := dial()
			_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := extra.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("over the cap: read = %v, want EOF", err)
			}
			mu.Lock()
			got := reasons
			mu.Unlock()
			if len(got) != 1 || got[0] != tc.reason {
				t.Fatalf("rejections %v, want [%s]", got, tc.reason)
			}
			if s := l.Stats(); s.Open != tc.admitted || s.Rejected != 1 || !s.Saturated {
				t.Fatalf("stats %+v", s)
			}
			// A slot freed is a slot taken: the next client is admitted.
			held[0].Close()
			dial()
			c := <-accepted
			if c == nil {
				t.Fatal("listener ended")
			}
			c.Close()
			for _, c := range append(held, clients...) {
				c.Close()
			}
			l.Close()
		})
	}
}

func TestDefaultMaxConns(t *testing.T) {
	lim, err := listen.DescriptorLimit()
	if err != nil {
		t.Fatal(err)
	}
	n, why := listen.DefaultMaxConns(int(lim) * 2)
	if uint64(n) >= lim || n < 1 {
		t.Fatalf("DefaultMaxConns(%d) = %d with a descriptor limit of %d", lim*2, n, lim)
	}
	if why == "" {
		t.Fatal("no explanation")
	}
	if n, _ := listen.DefaultMaxConns(1); n != 1 {
		t.Fatalf("DefaultMaxConns(1) = %d", n)
	}
	t.Logf("limit %d: %s", lim, why)
}
