package acquirer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/listen"
)

// Serve accepts connections on ln (TCP or iso/memnet) until Close, then closes ln and
// returns nil. Called after Close, it closes ln and returns nil at once (a test that ends
// before its Serve goroutine starts is not an error).
func (a *Acquirer) Serve(ln net.Listener) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		ln.Close()
		return nil
	}
	// The shared accept loop: it backs off when descriptors run out instead of returning
	// the error (which used to end Serve and the process), and closes connections over
	// MaxConns or MaxPerSource at once.
	per := max(a.o.MaxPerSource, 0)
	wl := listen.New(ln, listen.Options{MaxConns: a.o.MaxConns, MaxPerSource: per, ExemptLoopback: !a.o.PerSourceLoopback,
		Logger: a.log, OnReject: func(reason string, remote net.Addr) {
			a.m.conns.WithLabelValues(reason).Inc()
		}, OnBackoff: func(err error, _ time.Duration) {
			a.m.backoffs.Inc()
		}})
	a.listeners[ln] = wl
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.listeners, ln)
		a.mu.Unlock()
	}()
	a.log.Info("acquirer listening", "addr", ln.Addr().String(), "dialect", a.o.Dialect.Name, "framing", a.o.Framing.String(),
		"max_conns", a.o.MaxConns, "max_per_source", per, "first_frame_timeout", a.o.FirstFrameTimeout.String())
	for {
		nc, err := wl.Accept()
		if err != nil {
			if a.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("acquirer: accept on %s: %w", ln.Addr(), err)
		}
		a.accept(nc)
	}
}

func (a *Acquirer) isClosed() bool {
	select {
	case <-a.closing:
		return true
	default:
		return false
	}
}

// sendBuffer is the kernel send buffer asked for each TCP connection.
const sendBuffer = 16 << 10

// serverConn is one client connection.
type serverConn struct {
	a    *Acquirer
	id   int64
	nc   net.Conn
	ic   *iso.Conn
	reqs sync.WaitGroup // request goroutines of this connection
	obs  iso.Observer   // this connection's observer (nil: none)

	// MaxInFlight slots. Only the read goroutine takes them (take); request goroutines give
	// them back (put), straight to the read goroutine when it is waiting for one.
	slotMu  sync.Mutex
	free    int           // slots not in use
	waiting bool          // the read goroutine is blocked in take
	wake    chan struct{} // buffered(1): put hands a slot (and a token) to the waiter
	// readToken: the read goroutine owns a clock token while it runs (iso/memnet hands one
	// out with each Read; TCP does not), so it gives it up while it waits for a slot.
	readToken bool
}

func (a *Acquirer) accept(nc net.Conn) {
	id := a.connSeq.Add(1)
	remote := nc.RemoteAddr().String()
	if f := a.faults.RefuseConnection(); f != nil {
		a.m.conns.WithLabelValues("refused_fault").Inc()
		a.m.faults.WithLabelValues(fault.ActionRefuseConnections).Inc()
		a.log.Info("connection refused by fault", "conn", id, "remote", remote, "rule", f.RuleName, "id", f.RuleID)
		a.fired(id, f, nil)
		// Journal first, so that whoever sees the connection end also finds the firing.
		e := &Entry{Time: a.clk.Now(), Conn: id, Direction: "conn",
			Decision: "connection from " + remote + " refused: a refuse_connections rule is active",
			Fault:    fault.ActionRefuseConnections, FaultAction: fault.ActionRefuseConnections}
		if err := a.st.update(context.Background(), func(tx storeTx) error { return tx.appendJournal(e) }); err != nil {
			a.log.Error("journal refused connection", "conn", id, "err", err)
		}
		abort(nc)
		return
	}
	obs := a.observerFor(id) // outside a.mu: it calls the owner's code
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		nc.Close()
		return
	}
	if len(a.conns) >= a.o.MaxConns {
		a.mu.Unlock()
		a.m.conns.WithLabelValues("over_limit").Inc()
		a.log.Warn("connection closed: too many connections", "conn", id, "remote", remote, "max", a.o.MaxConns)
		nc.Close()
		return
	}
	raw := nc
	if lc, ok := nc.(*listen.Conn); ok {
		raw = lc.NetConn()
	}
	_, tcp := raw.(*net.TCPConn)
	sc := &serverConn{a: a, id: id, nc: nc, obs: obs,
		free: a.o.MaxInFlight, wake: make(chan struct{}, 1), readToken: !tcp}
	a.conns[sc] = struct{}{}
	a.work.Add(1)
	a.m.conns.WithLabelValues("accepted").Inc()
	a.m.open.Inc()
	opts := []iso.ConnOption{
		iso.WithDialect(a.o.Dialect), iso.WithFraming(a.o.Framing), iso.WithClock(a.clk),
		iso.WithMaxFrame(a.o.MaxFrame), iso.WithWriteTimeout(a.o.WriteTimeout),
		iso.WithHandler(sc.handle), iso.WithEvents(sc.event), iso.WithSigner(a.signAnswer),
	}
	if obs != nil {
		opts = append(opts, iso.WithObserver(obs))
	}
	if tc, ok := nc.(interface{ SetWriteBuffer(int) error }); ok {
		// ISO 8583 answers are small (64 in flight fit in 16 KiB): a modest kernel buffer
		// bounds memory with thousands of connections, and makes a peer that never reads
		// hit the write timeout after a few hundred answers rather than megabytes (a peer
		// with a full receive buffer also drops our ACKs, so its own requests trickle in
		// on retransmits and a big buffer would never fill).
		_ = tc.SetWriteBuffer(sendBuffer)
	}
	dc := &deadlineConn{Conn: nc, framing: a.o.Framing, frameTimeout: a.o.FrameTimeout, idleTimeout: a.o.IdleTimeout}
	if a.o.FirstFrameTimeout > 0 {
		dc.firstBy = time.Now().Add(a.o.FirstFrameTimeout)
	}
	// The read goroutine may call handle before NewConn returns; handle only uses the Conn
	// it is given, and sc.ic is set before anyone else reads it (under a.mu).
	sc.ic = iso.NewConn(dc, opts...)
	a.mu.Unlock()
	a.log.Debug("connection accepted", "conn", id, "remote", remote)
	go sc.wait()
}

// observerFor is the observer of connection id's frames: Options.Observer and what
// Options.ObserverFor gives for it, or nil.
func (a *Acquirer) observerFor(id int64) iso.Observer {
	all, per := a.o.Observer, iso.Observer(nil)
	if a.o.ObserverFor != nil {
		per = a.o.ObserverFor(connID(id))
	}
	switch {
	case per == nil:
		return all
	case all == nil:
		return per
	}
	return func(dir iso.Direction, raw []byte, m *iso.Message, t time.Time) {
		all(dir, raw, m, t)
		per(dir, raw, m, t)
	}
}

// wait retires the connection once it has ended and its requests are done.
func (sc *serverConn) wait() {
	<-sc.ic.Done()
	sc.reqs.Wait()
	a := sc.a
	a.mu.Lock()
	delete(a.conns, sc)
	a.mu.Unlock()
	a.m.open.Dec()
	a.work.Done()
}

// event logs what the Conn reports: the end of the connection (with why: EOF, an oversize
// or zero length header, a frame timeout) and answers a client should not send us.
func (sc *serverConn) event(e iso.Event) {
	log := sc.a.log.With("conn", sc.id)
	switch e.Kind {
	case iso.EventClosed:
		reason := iso.MaskText(fmt.Sprint(e.Err))
		if errors.Is(e.Err, net.ErrClosed) || errors.Is(e.Err, io.EOF) {
			log.Debug("connection ended", "reason", reason)
			return
		}
		sc.a.m.badInput.WithLabelValues("connection_error").Inc()
		if errors.Is(e.Err, iso.ErrMismatch) {
			log.Warn("connection closed: the client speaks another dialect or framing", "reason", reason)
			return
		}
		log.Warn("connection closed on bad input", "reason", reason)
	default:
		var mti string
		if e.Msg != nil {
			mti = e.Msg.MTI
		}
		log.Warn("unexpected message from client", "kind", string(e.Kind), "mti", mti, "err", iso.MaskText(fmt.Sprint(e.Err)))
	}
}

// handle runs in the Conn's read goroutine for every request. It consults the fault engine
// here (so firings follow the order requests arrived in) and hands the request to a
// goroutine of its own, at most MaxInFlight at a time.
func (sc *serverConn) handle(c *iso.Conn, in iso.Inbound) {
	a := sc.a
	defer func() {
		if r := recover(); r != nil {
			sc.panicked(r)
		}
	}()
	msg := in.Msg
	var mm *iso.MismatchError
	if in.Err != nil && errors.As(in.Err, &mm) && mm.Msg.STAN != "" && mm.Msg.TerminalID != "" {
		// The client speaks another dialect or framing: say so, and answer 30 (format
		// error) the way this host speaks, so that the client, unable to read it, can say so too.
		a.m.badInput.WithLabelValues("mismatch_answered").Inc()
		a.log.Warn("client speaks another dialect or framing: answering 30", "conn", sc.id, "mti", mm.Msg.MTI, "stan", mm.Msg.STAN,
			"ours", mm.OurDialect+"/"+mm.OurFraming, "theirs", mm.TheirDialect+"/"+mm.TheirFraming)
		sc.start(c, in, mm.Msg, nil, &rejection{iso.RCFormatError, "format error: " + mm.Error()})
		return
	}
	if in.Err != nil {
		msg = partialMessage(a.o.Dialect, in.Frame.Payload)
		reason := iso.MaskText(in.Err.Error())
		if msg == nil || msg.STAN == "" || msg.TerminalID == "" || iso.IsResponse(msg.MTI) {
			a.m.badInput.WithLabelValues("undecodable_closed").Inc()
			a.log.Warn("closing connection: frame does not unpack and has no readable MTI, DE11 and DE41", "conn", sc.id, "err", reason)
			sc.nc.Close()
			return
		}
		a.m.badInput.WithLabelValues("undecodable_answered").Inc()
		a.log.Warn("frame does not unpack: answering 30", "conn", sc.id, "mti", msg.MTI, "stan", msg.STAN, "err", reason)
		sc.start(c, in, msg, nil, &rejection{iso.RCFormatError, "format error: " + reason})
		return
	}
	card, _ := a.resolveCard(msg)
	amt, _ := iso.ParseAmount(msg.Amount)
	firing := a.faults.Evaluate(fault.Request{MTI: msg.MTI, PAN: msg.PANOf(), Card: card.Name,
		Terminal: strings.TrimSpace(msg.TerminalID), ProcessingCode: msg.ProcessingCode,
		EntryMode: iso.EntryModeOf(msg.EntryMode), STAN: msg.STAN, Amount: amt})
	if firing != nil {
		a.m.faults.WithLabelValues(firing.Action).Inc()
		a.log.Info("fault fired", "conn", sc.id, "rule", firing.RuleName, "id", firing.RuleID,
			"action", firing.Action, "mti", msg.MTI, "stan", msg.STAN)
		a.fired(sc.id, firing, msg)
	}
	if firing != nil && firing.Action == fault.ActionDropBeforeProcessing {
		// The host "never saw" the request: no ledger change, no transaction; the journal
		// still records the firing so that a report can say which message it hit.
		ex := &exchange{conn: sc.id, req: msg, at: a.clk.Now(), firing: firing, card: card, known: card.Name != ""}
		ex.decision = fmt.Sprintf("dropped before processing by fault rule %q: connection closed", ex.faultName())
		if err := a.st.update(context.Background(), func(tx storeTx) error { return a.writeJournal(tx, ex) }); err != nil {
			a.log.Error("journal dropped request", "conn", sc.id, "err", err)
		}
		sc.nc.Close()
		return
	}
	a.faultRotatesKeys(firing, msg.TerminalID)
	if handled, rej := a.checkDUKPT(msg, in.Frame.Payload); handled {
		if rej != nil {
			kind := "mac_failed"
			if rej.code == a.securityFailCode() {
				kind = "dukpt_refused" // replayed counter or no BDK
			}
			a.m.badInput.WithLabelValues(kind).Inc()
		}
		sc.start(c, in, msg, firing, rej)
		return
	}
	if why := a.checkRequestMAC(msg, in.Frame.Payload); why != "" {
		a.m.badInput.WithLabelValues("mac_failed").Inc()
		sc.start(c, in, msg, firing, &rejection{a.macFailCode(), why})
		return
	}
	sc.start(c, in, msg, firing, nil)
}

// rejection is an answer decided before the request is looked at: 30 for a frame that
// does not unpack, A0/98 for a MAC that does not verify.
type rejection struct {
	code, why string
}

// start runs the request in a goroutine of its own once a slot is free.
func (sc *serverConn) start(c *iso.Conn, in iso.Inbound, msg *iso.Message, firing *fault.Firing, reject *rejection) {
	a := sc.a
	sc.take()
	sc.reqs.Add(1)
	a.clk.Hold() // the request goroutine's token (clock token rule)
	go func() {
		defer func() {
			sc.put() // before our token goes: it may hand one to the read goroutine
			sc.reqs.Done()
			a.clk.Release()
		}()
		defer func() {
			if r := recover(); r != nil {
				sc.panicked(r)
			}
		}()
		sc.process(c, in, msg, firing, reject)
	}()
}

// take waits for a free in-flight slot. It runs in the read goroutine. While it waits it
// must not count as busy, or a virtual clock could never move the delayed requests that
// would free a slot; so it gives up the read goroutine's token (if it owns one) and put
// hands it one back together with the slot. The waker holding the token for the waiter,
// rather than the waiter taking one when it wakes, is what makes the hand-over safe: in the
// gap between a request goroutine freeing the slot (then releasing its own token) and the
// read goroutine running again, nobody would be busy and the clock could fire the client's
// response timeouts while the next request is still waiting to be started.
func (sc *serverConn) take() {
	sc.slotMu.Lock()
	if sc.free > 0 {
		sc.free--
		sc.slotMu.Unlock()
		return
	}
	sc.waiting = true
	sc.slotMu.Unlock()
	if sc.readToken {
		sc.a.clk.Release()
	}
	<-sc.wake // the slot, and a token held for us by put
}

// put gives a slot back when a request goroutine ends; the caller still owns its token. If
// the read goroutine waits in take, the slot goes straight to it with a token of its own.
func (sc *serverConn) put() {
	sc.slotMu.Lock()
	defer sc.slotMu.Unlock()
	if !sc.waiting {
		sc.free++
		return
	}
	sc.waiting = false
	if sc.readToken {
		sc.a.clk.Hold() // the read goroutine's token when it wakes
	}
	sc.wake <- struct{}{} // never blocks: one waiter, woken at most once per wait
}

// panicked logs a recovered panic (masked: a panic value may quote card data) and ends
// only this connection.
func (sc *serverConn) panicked(r any) {
	sc.a.m.panics.Inc()
	sc.a.log.Error("panic while handling a request: closing this connection", "conn", sc.id,
		"panic", iso.MaskText(fmt.Sprint(r)), "stack", iso.MaskText(string(debug.Stack())))
	sc.nc.Close()
}

// process decides and commits, then answers as the fault (if any) says.
func (sc *serverConn) process(c *iso.Conn, in iso.Inbound, msg *iso.Message, firing *fault.Firing, reject *rejection) {
	a := sc.a
	if firing != nil && firing.Action == fault.ActionDelayRequest {
		// The request reaches the host late: it is decided (and committed) only now, so a
		// reversal the terminal sends meanwhile may overtake it.
		if !a.sleep(time.Duration(firing.Params.MS) * time.Millisecond) {
			return
		}
	}
	if reject == nil {
		card, _ := a.resolveCard(msg)
		firing = a.handFiring(sc.id, msg, card.Name, firing)
	}
	began := a.clk.Now()
	if a.testHook != nil {
		a.testHook(msg)
	}
	ex := &exchange{conn: sc.id, req: msg, at: began, firing: firing}
	ex.card, ex.known = a.resolveCard(msg)
	var dk *dukptReq // an accepted DUKPT request: its counter is stored with its journal line
	if reject == nil {
		dk, _ = a.dukptOf(msg) // checkDUKPT already refused those with a bad KSN
	}
	err := a.st.update(context.Background(), func(tx storeTx) error {
		ex.noOut, ex.outNote = false, ""
		if reject != nil {
			ex.answer(reject.code, "%s", reject.why)
			return a.writeJournal(tx, ex)
		}
		if dk != nil {
			if err := tx.putDUKPT(dk.device, dk.counter); err != nil {
				return err
			}
		}
		return a.decide(tx, ex)
	})
	tpdu := iso.ReplyTPDU(in.Frame.TPDU)
	if err != nil {
		// Nothing was committed, so nothing happened: say so honestly.
		a.log.Error("store update failed: answering 96", "conn", sc.id, "mti", msg.MTI, "stan", msg.STAN, "err", iso.MaskText(err.Error()))
		r := msg.Reply(iso.RCSystemMalfunction)
		r.Header = replyHeader(c.Framing(), in.Frame.Header, nil)
		if werr := c.Write(tpdu, r); werr != nil {
			sc.writeFailed(werr)
		}
		return
	}
	if a.committed != nil {
		a.committed(msg.MTI, msg.STAN)
	}
	a.m.requests.WithLabelValues(msg.MTI, ex.code).Inc()
	defer func() { a.m.latency.WithLabelValues(msg.MTI).Observe(a.clk.Now().Sub(began).Seconds()) }()
	if ex.resp == nil {
		return
	}
	ex.resp.Header = replyHeader(c.Framing(), in.Frame.Header, ex.firing)
	if ksn, err := iso.KSNOf(ex.req, a.ksnField()); err == nil && ksn != nil {
		// A DUKPT answer echoes the request's KSN: its MAC is under that KSN's response key.
		ex.resp = ex.resp.Clone()
		_ = iso.SetKSN(ex.resp, a.ksnField(), ksn)
	}
	if a.wantsAnswerMAC(ex) {
		ex.resp = ex.resp.Clone() // the journal keeps the answer as decided
		iso.RequestMAC(ex.resp)
	}
	sc.perform(c, tpdu, ex)
}

// replyHeader is the application header of an answer: for the UnionPay header the
// request's, with the processing requirement the host wants (3, sign on again, when a
// request_sign_on fault fires); any other header is echoed. nil without one.
func replyHeader(f iso.Framing, req []byte, firing *fault.Firing) []byte {
	switch {
	case f.AppHeader == 0:
		return nil
	case f.AppHeader == iso.CUPHeaderLen:
		proc := iso.CUPProcNone
		if firing != nil && firing.Action == fault.ActionRequestSignOn {
			proc = iso.CUPProcSignOn
		}
		return iso.ReplyCUPHeader(req, proc)
	}
	return req
}

// shapeOutput says, before the journal is written, how the answer will travel: whether
// anything goes out, and a note for the out line. wrong_stan changes the answer itself.
func shapeOutput(ex *exchange) {
	if ex.firing == nil || ex.resp == nil {
		return
	}
	p := ex.firing.Params
	switch ex.firing.Action {
	case fault.ActionDelay:
		ex.outNote = fmt.Sprintf("delayed %d ms by fault", p.MS)
	case fault.ActionNoResponse, fault.ActionDropAfterCommit, fault.ActionReset:
		ex.noOut = true
	case fault.ActionTruncateResponse:
		ex.outNote = fmt.Sprintf("truncated to %d bytes by fault, then connection closed", p.Bytes)
	case fault.ActionSplitResponse:
		ex.outNote = fmt.Sprintf("in chunks of %d bytes, %d ms apart, by fault", p.Chunk, p.GapMS)
	case fault.ActionGarbleResponse:
		ex.outNote = "garbled by fault (MTI bytes corrupted)"
	case fault.ActionWrongSTAN:
		r := ex.resp.Clone()
		r.STAN = fault.WrongSTAN(r.STAN)
		ex.outNote = fmt.Sprintf("with wrong STAN %s (request STAN %s) by fault", r.STAN, ex.req.STAN)
		ex.resp = r
	case fault.ActionDuplicateResponse:
		ex.outNote = "sent twice by fault"
	case fault.ActionBadMAC:
		ex.outNote = "with a MAC that does not verify, by fault"
	}
}

// perform sends the answer the way the firing says.
func (sc *serverConn) perform(c *iso.Conn, tpdu []byte, ex *exchange) {
	a := sc.a
	log := a.log.With("conn", sc.id, "mti", ex.resp.MTI, "stan", ex.req.STAN)
	write := func() {
		if err := c.Write(tpdu, ex.resp); err != nil {
			sc.writeFailed(err)
		}
	}
	if ex.firing == nil {
		write()
		return
	}
	frame := func() []byte {
		b, err := c.Frame(tpdu, ex.resp)
		if err != nil {
			log.Error("frame answer", "err", err)
		}
		return b
	}
	p := ex.firing.Params
	switch ex.firing.Action {
	case fault.ActionDelay:
		if a.sleep(time.Duration(p.MS) * time.Millisecond) {
			write()
		}
	case fault.ActionNoResponse:
		// Committed; the answer is never sent and the connection stays open.
	case fault.ActionDropAfterCommit:
		sc.nc.Close()
	case fault.ActionReset:
		abort(sc.nc)
	case fault.ActionTruncateResponse:
		if f := frame(); f != nil {
			sc.raw(c, fault.Truncated(f, p.Bytes))
		}
		sc.nc.Close()
	case fault.ActionSplitResponse:
		for i, piece := range fault.Chunks(frame(), p.Chunk) {
			if i > 0 && !a.sleep(time.Duration(p.GapMS)*time.Millisecond) {
				return
			}
			if !sc.raw(c, piece) {
				return
			}
		}
	case fault.ActionGarbleResponse:
		if f := frame(); f != nil {
			fault.Garble(f, a.o.Framing)
			sc.raw(c, f)
		}
	case fault.ActionDuplicateResponse:
		write()
		write()
	case fault.ActionBadMAC:
		if len(ex.resp.MAC) == 0 && len(ex.resp.MAC2) == 0 {
			write() // nothing to spoil: the answer carries no MAC
			return
		}
		if f := frame(); f != nil {
			badMAC(f)
			sc.raw(c, f)
		}
	default: // decline, partial_approval, wrong_stan: the answer itself says it
		write()
	}
}

// raw writes bytes as they are and shows them to the observer.
func (sc *serverConn) raw(c *iso.Conn, b []byte) bool {
	if sc.obs != nil {
		sc.obs(iso.Out, b, nil, sc.a.clk.Now())
	}
	if err := c.WriteRaw(b); err != nil {
		sc.writeFailed(err)
		return false
	}
	return true
}

// writeFailed ends the connection after a failed write: a peer that does not read (write
// timeout) must not keep a connection and its requests busy, and after a partial write the
// stream is out of step anyway.
func (sc *serverConn) writeFailed(err error) {
	level := slog.LevelWarn
	if errors.Is(err, net.ErrClosed) {
		level = slog.LevelDebug // we closed it ourselves (fault, shutdown)
	}
	sc.a.log.Log(context.Background(), level, "write failed: closing the connection", "conn", sc.id, "err", iso.MaskText(err.Error()))
	sc.nc.Close()
}

// sleep waits d on the clock, or gives up (false) when the acquirer closes. On a virtual
// clock the caller's token is released while it waits, as clock.Sleep does.
func (a *Acquirer) sleep(d time.Duration) bool {
	if d <= 0 {
		return !a.isClosed()
	}
	t := a.clk.NewTimer(d)
	a.clk.Release()
	select {
	case <-t.C():
		return true // the firing handed us a token
	case <-a.closing:
		t.Stop()
		a.clk.Hold()
		return false
	}
}

// abort closes a connection abortively (RST) where the transport supports it: TCP and
// iso/memnet both have SetLinger.
func abort(nc net.Conn) {
	if l, ok := nc.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	nc.Close()
}

// deadlineConn sets the read deadlines of a server connection: while a frame is arriving
// it must arrive whole within frameTimeout of its first byte; between frames the
// connection may idle for idleTimeout (0: for ever). It follows the frames by reading their
// length headers as the bytes pass (iso.Conn reads exactly one header, then exactly one
// body, so every byte is accounted to a frame).
type deadlineConn struct {
	net.Conn
	framing      iso.Framing
	frameTimeout time.Duration
	idleTimeout  time.Duration
	firstBy      time.Time // the first frame must start by then (zero: no limit)
	started      bool      // a frame has started

	hdr        [4]byte
	hdrGot     int
	body       int // bytes of the current body still to come
	frameStart time.Time
	deadline   time.Time
	broken     bool // a header that cannot be read: the reader fails and closes
}

func (d *deadlineConn) Read(b []byte) (int, error) {
	var want time.Time
	if d.hdrGot == 0 && d.body == 0 {
		if d.idleTimeout > 0 {
			want = time.Now().Add(d.idleTimeout)
		}
		if !d.started && !d.firstBy.IsZero() && (want.IsZero() || d.firstBy.Before(want)) {
			want = d.firstBy
		}
	} else {
		want = d.frameStart.Add(d.frameTimeout)
	}
	if !want.Equal(d.deadline) {
		if err := d.Conn.SetReadDeadline(want); err != nil {
			return 0, err
		}
		d.deadline = want
	}
	n, err := d.Conn.Read(b)
	d.consume(b[:n])
	return n, err
}

// consume follows the frame boundaries through the bytes read.
func (d *deadlineConn) consume(p []byte) {
	hl := d.framing.HeaderLen()
	for len(p) > 0 && !d.broken {
		if d.body == 0 {
			if d.hdrGot == 0 {
				d.frameStart = time.Now()
				d.started = true
			}
			k := copy(d.hdr[d.hdrGot:hl], p)
			d.hdrGot += k
			p = p[k:]
			if d.hdrGot == hl {
				n, err := d.framing.DecodeLength(d.hdr[:hl])
				if err != nil || n == 0 {
					d.broken = true
					return
				}
				d.body = n
			}
			continue
		}
		k := min(d.body, len(p))
		d.body -= k
		p = p[k:]
		if d.body == 0 {
			d.hdrGot = 0
		}
	}
}
