package load

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/listen"
)

// CannedServer is the baseline host: it answers every request at once, in the connection's
// read goroutine, with the request's reply and code 00 (plus a fixed RRN and auth code on
// financial messages) — no ledger, no journal, no goroutine per request. Its throughput is
// what the wire layer, the codec and the load generator allow on the machine. It behaves
// like httptest.Server: it serves from construction, Addr says where, Close waits.
type CannedServer struct {
	ln      net.Listener
	dialect *iso.Dialect
	framing iso.Framing

	served atomic.Int64

	mu     sync.Mutex
	conns  map[*iso.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	done   chan struct{}
}

// NewCannedServer serves on ln with the dialect (nil: iso.ASCII) and framing.
func NewCannedServer(ln net.Listener, d *iso.Dialect, f iso.Framing) *CannedServer {
	if d == nil {
		d = iso.ASCII
	}
	// The shared accept loop: running out of descriptors backs off instead of ending serve.
	s := &CannedServer{ln: listen.New(ln, listen.Options{}), dialect: d, framing: f, conns: map[*iso.Conn]struct{}{}, done: make(chan struct{})}
	go s.serve()
	return s
}

// Addr is the listening address.
func (s *CannedServer) Addr() net.Addr { return s.ln.Addr() }

// Served is the number of answers written so far.
func (s *CannedServer) Served() int64 { return s.served.Load() }

func (s *CannedServer) serve() {
	defer close(s.done)
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		c := iso.NewConn(nc, iso.WithDialect(s.dialect), iso.WithFraming(s.framing), iso.WithHandler(s.answer))
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			<-c.Done()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.wg.Done()
		}()
	}
}

func (s *CannedServer) answer(c *iso.Conn, in iso.Inbound) {
	if in.Err != nil {
		return // undecodable: a canned server has nothing to say
	}
	r := in.Msg.Reply(iso.RCApproved)
	switch iso.BaseMTI(in.Msg.MTI) {
	case iso.MTIAuthRequest, iso.MTIFinancialRequest, iso.MTIFinancialAdvice, iso.MTIReversalRequest, iso.MTIReversalAdvice:
		r.RRN, r.AuthCode = "000000000001", "CANNED"
	}
	s.served.Add(1) // before the write, so that a client holding the answer sees it counted
	if err := c.Write(iso.ReplyTPDU(in.Frame.TPDU), r); err != nil {
		s.served.Add(-1)
	}
}

// Close stops accepting, closes every connection and waits for their goroutines.
func (s *CannedServer) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*iso.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	err := s.ln.Close()
	<-s.done
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
	return err
}
