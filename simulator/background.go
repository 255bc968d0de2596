package simulator

import (
	"context"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/clock"
)

// background is the terminal's own goroutine: it repeats queued reversals and advices on the
// clock (reversal_interval apart, and moves expired ones to manual reconciliation) and, with
// an echo interval, tests the idle link. It follows the token rule: it owns a token while it
// works and gives it up while it waits; whatever wakes it (its timer, a kick, the stop)
// hands it one.
func (t *Terminal) background() {
	defer t.wg.Done()
	for {
		var timer clock.Timer
		var fire <-chan time.Time
		if wake, ok := t.nextWake(); ok {
			timer = t.clk.NewTimer(wake.Sub(t.clk.Now()))
			fire = timer.C()
		}
		t.clk.Release()
		select {
		case <-fire:
			t.tick()
		case <-t.kickCh:
			if timer != nil {
				timer.Stop()
			}
		case <-t.life.Done():
			if timer != nil {
				timer.Stop()
			}
			// kick checks bgStopped, set before life was cancelled: no kick can follow.
			select {
			case <-t.kickCh:
				t.clk.Release()
			default:
			}
			t.clk.Release() // the token stopBackground held for us
			return
		}
	}
}

// nextWake is when the background goroutine has something to do, if ever.
func (t *Terminal) nextWake() (time.Time, bool) {
	var wake time.Time
	if rows, err := t.j.safRows(safQueued); err == nil && len(rows) > 0 {
		h := rows[0]
		wake = h.NextAt
		if h.Expires.Before(wake) {
			wake = h.Expires
		}
	}
	t.mu.Lock()
	if t.profile.EchoInterval > 0 && t.wantLink {
		e := t.lastActivity.Add(t.profile.EchoInterval)
		if wake.IsZero() || e.Before(wake) {
			wake = e
		}
	}
	t.mu.Unlock()
	return wake, !wake.IsZero()
}

// tick does what is due: SAF repeats and expiries, then the echo test of an idle link.
func (t *Terminal) tick() {
	ctx := t.life
	if err := t.line.lock(ctx); err != nil {
		return
	}
	defer t.line.unlock()
	t.mu.Lock()
	stopped := t.crashed || t.closed
	t.mu.Unlock()
	if stopped {
		return
	}
	_ = t.drainSAF(ctx, true) // failures are reported as events; the entry stays at the head
	t.mu.Lock()
	echoDue := t.profile.EchoInterval > 0 && t.wantLink &&
		!t.clk.Now().Before(t.lastActivity.Add(t.profile.EchoInterval))
	t.mu.Unlock()
	if echoDue {
		t.echoTest(ctx)
	}
	if !t.isCrashed() {
		t.setPhase(PhaseIdle, time.Time{})
	}
}

// echoTest sends 0800/301 on the idle link. A failed echo means a dead link: the terminal
// drops it, reconnects and signs on (then sends what waits in the queue).
func (t *Terminal) echoTest(ctx context.Context) {
	t.mu.Lock()
	c, dead := t.conn, t.connDead
	t.mu.Unlock()
	if c != nil && !dead {
		resp, _, err := t.network(ctx, c, iso.NetEcho)
		if err == nil && resp.ResponseCode == iso.RCApproved {
			return
		}
		why := "echo test failed"
		if err != nil {
			why += ": " + err.Error()
		} else {
			why += ": answered " + resp.ResponseCode
		}
		t.mu.Lock()
		still := t.conn == c
		t.mu.Unlock()
		if still {
			t.dropLink(c, why)
		}
	} else if c != nil {
		t.dropLink(c, "connection ended while idle")
	}
	if _, err := t.link(ctx); err == nil {
		_ = t.drainSAF(ctx, false)
	}
}
