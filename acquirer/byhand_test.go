package acquirer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// handFunc answers requests by a function (the classroom holds them for the trainer).
type handFunc func(ctx context.Context, r HandRequest) (HandAnswer, bool)

func (f handFunc) Answer(ctx context.Context, r HandRequest) (HandAnswer, bool) { return f(ctx, r) }

// TestByHand: a person's answer replaces the host's decision for the request it holds, and
// is journalled like a fault ("by hand"); requests it does not hold are decided as usual.
func TestByHand(t *testing.T) {
	var mu sync.Mutex
	var seen []HandRequest
	answers := map[string]HandAnswer{
		"000001": {Verdict: HandApprove},
		"000002": {Verdict: HandDecline, Code: "51"},
		"000003": {Verdict: HandSilent},
	}
	s := start(t, Options{ByHand: handFunc(func(_ context.Context, r HandRequest) (HandAnswer, bool) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		a, ok := answers[r.STAN]
		return a, ok
	})})
	c := s.dial(t)

	wantCode(t, c.send(t, sale(t, "visa-ok", 2500, "000001")), "00")
	if b := s.balance(t, "visa-ok"); b.Available != 997500 {
		t.Errorf("approve by hand: the host's ledger applies; balance %+v", b)
	}
	wantCode(t, c.send(t, sale(t, "visa-ok", 2500, "000002")), "51")
	if tx := s.txn(t, "000002"); tx.State != StateDeclined || tx.Fault != "by hand" {
		t.Errorf("decline by hand: txn %+v", tx)
	}
	if e := s.inEntry(t, "0200", "000002"); e.Fault != "by hand" {
		t.Errorf("journal of the hand decline: fault %q, want \"by hand\"", e.Fault)
	}
	_, err := c.Send(context.Background(), sale(t, "visa-ok", 1000, "000003"), 200*time.Millisecond)
	if !errors.Is(err, iso.ErrTimeout) {
		t.Fatalf("never answered by hand: %v, want a timeout", err)
	}
	if b := s.balance(t, "visa-ok"); b.Available != 996500 {
		t.Errorf("never answered: decided and committed all the same; balance %+v", b)
	}
	// Not held: the host decides; echoes are never asked about.
	wantCode(t, c.send(t, sale(t, "visa-ok", 100, "000004")), "00")
	wantCode(t, c.send(t, echo("000005")), "00")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 || seen[1].Amount != 2500 || seen[1].MaskedPAN != iso.MaskPAN(card(t, "visa-ok").PAN) || seen[1].Card != "visa-ok" {
		t.Errorf("requests shown to the person: %+v", seen)
	}
}

// TestByHandClose: a request still waiting for a person does not keep Close waiting.
func TestByHandClose(t *testing.T) {
	asked := make(chan struct{})
	s := start(t, Options{ByHand: handFunc(func(ctx context.Context, r HandRequest) (HandAnswer, bool) {
		close(asked)
		<-ctx.Done()
		return HandAnswer{}, false
	})})
	c := s.dial(t)
	go func() { _, _ = c.Send(context.Background(), sale(t, "visa-ok", 2500, "000001"), 5*time.Second) }()
	<-asked
	done := make(chan error, 1)
	go func() { done <- s.a.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for the person")
	}
}
