package simulator

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// link returns a live connection, connecting and signing on first when needed. The caller
// holds the line.
func (t *Terminal) link(ctx context.Context) (*iso.Conn, error) {
	t.mu.Lock()
	c, dead := t.conn, t.connDead
	t.mu.Unlock()
	if c != nil && !dead {
		return c, nil
	}
	if c != nil {
		t.dropLink(c, "connection ended")
	}
	if t.isCrashed() {
		return nil, ErrCrashed
	}
	t.setPhase(PhaseConnecting, t.clk.Now().Add(t.profile.ConnectTimeout))
	t.emit(Event{Kind: EventConnecting, Detail: "host " + t.profile.Host})
	dctx, cancel := context.WithTimeout(ctx, t.profile.ConnectTimeout)
	nc, err := t.dial(dctx, t.profile.Host)
	cancel()
	if err != nil {
		t.mu.Lock()
		t.lastActivity = t.clk.Now() // the echo timer waits a full interval before trying again
		t.mu.Unlock()
		t.emit(Event{Kind: EventConnectFailed, Detail: err.Error()})
		return nil, fmt.Errorf("%w: connect %s: %w", ErrUnreachable, t.profile.Host, err)
	}
	// The event hook needs the Conn itself, to ignore the close of a link already replaced;
	// the Conn starts reading inside NewConn, hence the pointer set just after.
	var self atomic.Pointer[iso.Conn]
	conn := iso.NewConn(nc,
		iso.WithDialect(t.dialect), iso.WithFraming(t.framing), iso.WithClock(t.clk),
		iso.WithTPDU(t.tpdu), iso.WithHeader(t.header), iso.WithSigner(t.signMAC), iso.WithVerifier(t.verifyAnswerMAC), iso.WithObserver(t.observeWire), iso.WithEvents(t.onConnEvent(self.Load)))
	self.Store(conn)
	t.mu.Lock()
	t.conn, t.connDead, t.signedOn, t.lastActivity, t.wantLink = conn, false, false, t.clk.Now(), true
	t.mu.Unlock()
	t.emit(Event{Kind: EventConnected, Detail: "host " + t.profile.Host})
	if t.profile.SignOnAtConnect {
		if err := t.signOn(ctx, conn); err != nil {
			t.dropLink(conn, "")
			if errors.Is(err, errKeyCheck) {
				return nil, err // the host answered: not an unreachable host but a key set-up problem
			}
			return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
	}
	return conn, nil
}

// dropLink forgets the connection and closes it; why, when set, is reported as link_dead.
func (t *Terminal) dropLink(c *iso.Conn, why string) {
	t.mu.Lock()
	if t.conn == c {
		t.conn, t.connDead, t.signedOn = nil, false, false
	}
	t.mu.Unlock()
	if why != "" {
		t.emit(Event{Kind: EventLinkDead, Detail: why})
	}
	_ = c.Close()
}

// onConnEvent reports what the connection's reader saw besides answers. It runs in the
// reader goroutine. Late, duplicate, unmatched and garbled answers never complete a request:
// they are only reported (a late approval never overrides the reversal already decided).
// observeWire passes frames to the Observer, except what arrives while the terminal is
// losing power (see deaf).
func (t *Terminal) observeWire(dir iso.Direction, raw []byte, m *iso.Message, now time.Time) {
	if t.observer == nil || (dir == iso.In && t.deaf.Load()) {
		return
	}
	t.observer(dir, raw, m, now)
}

func (t *Terminal) onConnEvent(c func() *iso.Conn) func(iso.Event) {
	return func(e iso.Event) {
		if t.deaf.Load() {
			return // a terminal losing power hears nothing
		}
		ev := Event{}
		if e.Msg != nil {
			ev.STAN, ev.MTI, ev.Code = e.Msg.STAN, e.Msg.MTI, e.Msg.ResponseCode
		}
		switch e.Kind {
		case iso.EventLate:
			ev.Kind, ev.Detail = EventLateAnswer, "answer after the timeout: ignored, the reversal stands"
		case iso.EventDuplicate:
			ev.Kind, ev.Detail = EventDuplicateAnswer, "second answer to a request already answered: ignored"
		case iso.EventUnmatched:
			ev.Kind, ev.Detail = EventUnmatchedAnswer, "answer matching no request (wrong STAN or terminal): ignored"
		case iso.EventGarbled:
			ev.Kind, ev.Detail = EventGarbledAnswer, "unreadable frame: ignored"
			if e.Err != nil {
				ev.Detail += ": " + e.Err.Error()
			}
		case iso.EventClosed:
			// Only noted here; the engine reports link_dead when it next uses the link,
			// so that events keep one order whatever the scheduling.
			t.mu.Lock()
			if cur := c(); cur != nil && t.conn == cur {
				t.connDead = true
			}
			t.mu.Unlock()
			return
		default:
			return
		}
		t.emit(ev)
	}
}

// exchange sends a request and waits for its answer, reporting each step. Errors:
// iso.ErrNotSent (nothing went out), iso.ErrTimeout, iso.ErrConnClosed, ctx errors,
// errInvalidAnswer — all but the first mean the host may have acted on it.
func (t *Terminal) exchange(ctx context.Context, conn *iso.Conn, m *iso.Message) (*iso.Message, error) {
	deadline := t.clk.Now().Add(t.profile.ResponseTimeout)
	if t.cup {
		t.cupFields(m)
	}
	if t.dk != nil {
		if err := t.dukptRequest(m); err != nil {
			return nil, fmt.Errorf("%w: DUKPT KSN: %w", iso.ErrNotSent, err)
		}
	}
	if t.wantsMAC(m) {
		iso.RequestMAC(m)
	} else {
		m.MAC, m.MAC2 = nil, nil
	}
	t.emit(Event{Kind: EventSent, STAN: m.STAN, MTI: m.MTI, Code: reasonOf(m), Detail: describe(m)})
	t.setPhase(PhaseWaiting, deadline)
	t.emit(Event{Kind: EventWaiting, STAN: m.STAN, MTI: m.MTI, Detail: "response timeout " + t.profile.ResponseTimeout.String()})
	resp, err := conn.Send(ctx, m, t.profile.ResponseTimeout)
	if t.isCrashed() {
		return nil, ErrCrashed
	}
	t.mu.Lock()
	t.lastActivity = t.clk.Now()
	t.mu.Unlock()
	switch {
	case err == nil:
	case errors.Is(err, iso.ErrAnswerMAC):
		// The answer arrived but cannot be trusted: as if none came (the caller reverses);
		// the keys are suspect, so sign on again after this operation.
		t.emit(Event{Kind: EventInvalidAnswer, STAN: m.STAN, MTI: resp.MTI, Code: resp.ResponseCode,
			Detail: iso.MaskText(err.Error()) + ": treated as no answer"})
		t.mu.Lock()
		t.resignOn = "the answer's MAC did not verify"
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", errInvalidAnswer, err)
	case errors.Is(err, iso.ErrNotSent):
		t.emit(Event{Kind: EventNotSent, STAN: m.STAN, MTI: m.MTI, Detail: err.Error()})
		t.dropLink(conn, "")
		return nil, err
	case errors.Is(err, iso.ErrConnClosed):
		t.emit(Event{Kind: EventConnLost, STAN: m.STAN, MTI: m.MTI, Detail: "connection closed while waiting for the answer"})
		t.dropLink(conn, "connection closed by the host or the network")
		return nil, err
	default: // timeout, cancelled
		t.emit(Event{Kind: EventTimedOut, STAN: m.STAN, MTI: m.MTI, Detail: err.Error()})
		return nil, err
	}
	if err := checkAnswer(m, resp, t.profile.TID); err != nil {
		t.emit(Event{Kind: EventInvalidAnswer, STAN: m.STAN, MTI: resp.MTI, Code: resp.ResponseCode, Detail: err.Error() + ": treated as no answer"})
		return nil, fmt.Errorf("%w: %w", errInvalidAnswer, err)
	}
	t.emit(Event{Kind: EventAnswered, STAN: resp.STAN, MTI: resp.MTI, Code: resp.ResponseCode, Detail: t.lookup(resp.ResponseCode).Meaning})
	t.noteSignOnRequests(m, resp)
	return resp, nil
}

// checkAnswer says why an answer that matched our request cannot be trusted (nil if it
// can). Echoed fields that disagree with the request (iso.CheckEcho: amount, currency,
// processing code, terminal, merchant, a partial approval's amount) wrap iso.ErrEchoMismatch.
func checkAnswer(req, resp *iso.Message, tid string) error {
	switch {
	case resp.MTI != iso.ResponseMTI(req.MTI):
		return fmt.Errorf("answer MTI %s does not answer %s", resp.MTI, req.MTI)
	case len(resp.ResponseCode) != 2:
		return errors.New("answer has no response code (DE39)")
	case resp.STAN != req.STAN:
		return fmt.Errorf("answer STAN %s is not %s", resp.STAN, req.STAN)
	case resp.TerminalID != "" && resp.TerminalID != tid:
		return fmt.Errorf("answer is for terminal %q", resp.TerminalID)
	}
	return iso.CheckEcho(req, resp)
}

// describe is a one-line, masked summary of a message for events.
func describe(m *iso.Message) string {
	s := m.MTI
	if m.ProcessingCode != "" {
		s += " proc " + m.ProcessingCode
	}
	if m.Amount != "" {
		if n, err := iso.ParseAmount(m.Amount); err == nil {
			s += " amount " + iso.FormatMoney(n)
		}
	}
	if p := m.PANOf(); p != "" {
		s += " card " + iso.MaskPAN(p)
	}
	if m.NetworkCode != "" {
		s += " code " + m.NetworkCode
	}
	if m.OriginalData != "" {
		if od, err := iso.ParseOriginalData(m.OriginalData); err == nil {
			s += fmt.Sprintf(" original %s/%s", od.MTI, od.STAN)
		}
	}
	return s
}

// reasonOf is the reversal reason of a reversal message (its DE39), for events.
func reasonOf(m *iso.Message) string {
	if len(m.MTI) == 4 && m.MTI[1] == '4' {
		return m.ResponseCode
	}
	return ""
}

// baseMessage fills the fields every request carries.
func (t *Terminal) baseMessage(mti, stan string, now time.Time) *iso.Message {
	return &iso.Message{
		MTI:              mti,
		STAN:             stan,
		TransmissionTime: now.UTC().Format("0102150405"),
		LocalTime:        now.Format("150405"),
		LocalDate:        now.Format("0102"),
		TerminalID:       t.profile.TID,
		MerchantID:       t.profile.MID,
	}
}

// network sends an 0800 with the given DE70 code on conn.
func (t *Terminal) network(ctx context.Context, conn *iso.Conn, code string) (*iso.Message, string, error) {
	stan, err := t.j.nextSTAN()
	if err != nil {
		return nil, "", err
	}
	m := t.baseMessage(iso.MTINetworkRequest, stan, t.clk.Now())
	m.LocalTime, m.LocalDate = "", ""
	m.MerchantID = ""
	m.NetworkCode = code
	resp, err := t.exchange(ctx, conn, m)
	return resp, stan, err
}

// signOn sends 0800/001 on a fresh connection.
func (t *Terminal) signOn(ctx context.Context, conn *iso.Conn) error {
	t.setPhase(PhaseSigningOn, time.Time{})
	resp, stan, err := t.network(ctx, conn, iso.NetSignOn)
	if err != nil {
		t.emit(Event{Kind: EventSignOnFailed, STAN: stan, Detail: err.Error()})
		return fmt.Errorf("sign-on: %w", err)
	}
	if resp.ResponseCode != iso.RCApproved {
		t.emit(Event{Kind: EventSignOnFailed, STAN: stan, Code: resp.ResponseCode, Detail: "sign-on refused: " + t.lookup(resp.ResponseCode).Meaning})
		return fmt.Errorf("sign-on refused with %s: %w", resp.ResponseCode, &hostCode{resp.ResponseCode})
	}
	if t.cup {
		if err := t.installKeys(resp); err != nil {
			t.emit(Event{Kind: EventSignOnFailed, STAN: stan, Code: resp.ResponseCode, Detail: "working keys not stored: " + err.Error()})
			return fmt.Errorf("sign-on: %w", err)
		}
		if err := t.syncBatch(resp); err != nil {
			return fmt.Errorf("sign-on: %w", err)
		}
	}
	t.mu.Lock()
	t.signedOn, t.resignOn = true, ""
	t.mu.Unlock()
	t.emit(Event{Kind: EventSignedOn, STAN: stan, Code: resp.ResponseCode})
	return nil
}

// hostCode carries a refusing response code through an error.
type hostCode struct{ code string }

func (h *hostCode) Error() string { return "response code " + h.code }
