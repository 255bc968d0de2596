package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso/isotest"
)

// TestAdminTokenOffLoopback: off loopback the admin API needs a token that is not blank
// and at least 16 characters; without one `posdrill acquirer` refuses to start (exit 2,
// nothing listening), with one the start-up check passes (tests bind loopback only). A healthy terminal pays at another acquirer
// throughout and its ledger is checked after.
func TestAdminTokenOffLoopback(t *testing.T) {
	acq, host := startAcquirerWith(t, acquirer.Options{Seed: 1})
	stop, approved := healthyPayer(t, host)
	tests := []struct {
		name, admin, token string
		refused            string // "" = starts
	}{
		{"loopback, no token", "127.0.0.1:0", "", ""},
		{"loopback, short token", "127.0.0.1:0", "short", ""},
		{"blank token on loopback", "127.0.0.1:0", "    ", "blank"},
		{"every interface, no token", ":0", "", "every interface is not a loopback address"},
		{"0.0.0.0, no token", "0.0.0.0:0", "", "0.0.0.0 is not a loopback address"},
		{"0.0.0.0, blank token", "0.0.0.0:0", "                    ", "blank"},
		{"0.0.0.0, 15 characters", "0.0.0.0:0", "abcdefghijklmno", "15 characters is too short"},
		{"0.0.0.0, 16 characters", "0.0.0.0:0", "abcdefghijklmnop", ""},
		{"::, 15 characters from the environment", "[::]:0", "env:abcdefghijklmno", "too short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"acquirer", "--listen", "127.0.0.1:0", "--admin", tc.admin}
			t.Setenv("POSDRILL_ADMIN_TOKEN", "")
			if tok, ok := strings.CutPrefix(tc.token, "env:"); ok {
				t.Setenv("POSDRILL_ADMIN_TOKEN", tok)
			} else if tc.token != "" {
				args = append(args, "--admin-token", tc.token)
			}
			var stdout, stderr bytes.Buffer
			if tc.refused != "" {
				code := runWithin(t, 20*time.Second, args, &stdout, &stderr)
				if code != 2 || !strings.Contains(stderr.String(), tc.refused) || stdout.Len() != 0 {
					t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing listening, %q", code, stdout.String(), stderr.String(), tc.refused)
				}
				return
			}
			if !strings.HasPrefix(tc.admin, "127.") {
				// Tests bind loopback only: off loopback, check the start-up rule itself.
				if err := checkAdminAddr(tc.admin, tc.token); err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			out := &notifyBuf{wrote: make(chan struct{}, 1)}
			var errb isotest.Buffer
			go func() { done <- run(ctx, args, strings.NewReader(""), out, &errb) }()
			for !strings.Contains(out.String(), "listening iso=") {
				select {
				case code := <-done:
					t.Fatalf("exit %d before listening: %s", code, errb.String())
				case <-out.wrote:
				}
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d after a clean stop: %s", code, errb.String())
			}
		})
	}
	stop()
	checkLedger(t, acq, approved())
}

// notifyBuf is a buffer that signals each write on wrote (buffered 1, never blocks).
type notifyBuf struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (n *notifyBuf) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case n.wrote <- struct{}{}:
	default:
	}
	return n.b.Write(p)
}

func (n *notifyBuf) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.b.String()
}
