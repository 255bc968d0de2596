package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// IdleConfig describes a set of idle connections to hold open against a host.
type IdleConfig struct {
	Addr  string
	Dial  func(ctx context.Context, addr string) (net.Conn, error) // default TCP
	Conns int
	// Echo sends one echo test (0800/301) on every connection once all are open, to prove
	// the host serves each of them; they are idle again afterwards.
	Echo     bool
	TIDs     []string // terminal ids for the echoes (default TERM0001..TERM0009)
	Dialect  *iso.Dialect
	Framing  iso.Framing
	Timeout  time.Duration // dial and echo timeout (default 10 s)
	Parallel int           // dials at a time (default 200)
	Seed     int64
}

// Idle is a set of open connections.
type Idle struct {
	conns  []*iso.Conn
	Opened int           // connections open
	Took   time.Duration // time to open them all
	Echoed int           // echo tests answered 00 (with Echo)
	Failed int           // echo tests not answered 00
}

// OpenIdle opens cfg.Conns connections (and echoes on each when asked). It fails if any
// connection cannot be opened, after closing those that were.
func OpenIdle(ctx context.Context, cfg IdleConfig) (*Idle, error) {
	if cfg.Addr == "" || cfg.Conns <= 0 {
		return nil, fmt.Errorf("%w: idle connections need an address and a count", ErrConfig)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 200
	}
	if cfg.Dialect == nil {
		cfg.Dialect = iso.ASCII
	}
	if len(cfg.TIDs) == 0 {
		c := Config{Addr: cfg.Addr, Count: 1}
		_ = c.defaults()
		cfg.TIDs = c.TIDs
	}
	if cfg.Dial == nil {
		d := &net.Dialer{Timeout: cfg.Timeout}
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	idle := &Idle{conns: make([]*iso.Conn, cfg.Conns)}
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	sem := make(chan struct{}, cfg.Parallel)
	for i := range idle.conns {
		if failed.Load() != nil || ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			nc, err := cfg.Dial(ctx, cfg.Addr)
			if err != nil {
				err = fmt.Errorf("%w: connection %d of %d to %s: %w", ErrConnect, i+1, cfg.Conns, cfg.Addr, err)
				failed.CompareAndSwap(nil, &err)
				return
			}
			idle.conns[i] = iso.NewConn(nc, iso.WithDialect(cfg.Dialect), iso.WithFraming(cfg.Framing))
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil || ctx.Err() != nil {
		idle.Close()
		if p != nil {
			return nil, *p
		}
		return nil, ctx.Err()
	}
	idle.Took = time.Since(start)
	idle.Opened = len(idle.conns)
	if !cfg.Echo {
		return idle, nil
	}
	st := newSTANs(cfg.Seed, cfg.TIDs)
	var echoed, bad atomic.Int64
	for i, c := range idle.conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			tid := cfg.TIDs[i%len(cfg.TIDs)]
			m := &iso.Message{MTI: iso.MTINetworkRequest, TransmissionTime: time.Now().UTC().Format("0102150405"),
				STAN: st.take(tid), TerminalID: tid, NetworkCode: iso.NetEcho}
			r, err := c.Send(ctx, m, cfg.Timeout)
			if err == nil && r.ResponseCode == iso.RCApproved {
				echoed.Add(1)
			} else {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	idle.Echoed, idle.Failed = int(echoed.Load()), int(bad.Load())
	return idle, nil
}

// Alive counts the connections still open.
func (i *Idle) Alive() int {
	n := 0
	for _, c := range i.conns {
		if c == nil {
			continue
		}
		select {
		case <-c.Done():
		default:
			n++
		}
	}
	return n
}

// Close closes every connection.
func (i *Idle) Close() {
	for _, c := range i.conns {
		if c != nil {
			c.Close()
		}
	}
}

// ProcStatus is the memory a process uses, from /proc/PID/status (Linux).
type ProcStatus struct {
	PID     int
	RSS     int64 // VmRSS, bytes
	HWM     int64 // VmHWM: peak RSS, bytes
	Threads int
}

// ErrNoProc is returned where /proc/PID/status cannot be read (not Linux, no such process).
var ErrNoProc = errors.New("process status not available")

// ReadProcStatus reads VmRSS, VmHWM and Threads of a process.
func ReadProcStatus(pid int) (ProcStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStatus{}, fmt.Errorf("%w: %w", ErrNoProc, err)
	}
	defer f.Close()
	ps := ProcStatus{PID: pid}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			ps.RSS = n * 1024
		case "VmHWM":
			ps.HWM = n * 1024
		case "Threads":
			ps.Threads = int(n)
		}
	}
	if ps.RSS == 0 {
		return ps, fmt.Errorf("%w: no VmRSS in /proc/%d/status", ErrNoProc, pid)
	}
	return ps, sc.Err()
}
