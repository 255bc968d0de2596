package scenarios_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
)

// lyingRelay sits between a terminal and the real acquirer and rewrites the acquirer's
// answers to financial requests (0210) with edit; everything else passes unchanged.
func lyingRelay(t *testing.T, upstream string, edit func(req, resp *iso.Message)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			un, err := net.Dial("tcp", upstream)
			if err != nil {
				nc.Close()
				continue
			}
			up := iso.NewConn(un)
			down := iso.NewConn(nc, iso.WithHandler(func(c *iso.Conn, in iso.Inbound) {
				if in.Err != nil {
					return
				}
				req := in.Msg
				go func() {
					resp, err := up.Send(context.Background(), req, 5*time.Second)
					if err != nil {
						return
					}
					if resp.MTI == iso.ResponseMTI(iso.MTIFinancialRequest) {
						edit(req, resp)
					}
					_ = c.Write(nil, resp)
				}()
			}))
			t.Cleanup(func() { down.Close(); up.Close() })
		}
	}()
	return ln.Addr().String()
}

// TestTerminalChecksAnswers: an answer that does not match its request is no approval.
// A relay rewrites the real acquirer's answers (a partial approval of 100 times the
// amount, of nothing, of zero or of the whole amount; another amount, currency, processing
// code, terminal or merchant): the terminal must not record an approval, must reverse (the
// acquirer did charge), and must say why (answer_rejected / answer_mismatch). A healthy
// terminal pays directly at the same acquirer between every case; after all of them the
// card is charged exactly the healthy terminal's payments.
func TestTerminalChecksAnswers(t *testing.T) {
	e := newE2E(t, "tcp")
	acqAddr := e.profile.Host
	healthy := e.terminal(":memory:")
	ctx := context.Background()
	paid := int64(0)
	pay := func(when string) {
		out := healthy.Sale(ctx, simulator.Payment{Card: card, Amount: 100})
		if out.Kind != simulator.KindApproved {
			t.Fatalf("healthy terminal %s: %s (%v)", when, out.Kind, out.Err)
		}
		paid += 100
	}
	pay("before")
	tests := []struct {
		name string
		edit func(req, resp *iso.Message)
		kind string // default answer_rejected
	}{
		{"partial of 100 times the amount", func(req, r *iso.Message) {
			v, _ := iso.ParseAmount(req.Amount)
			r.ResponseCode, r.Amount = iso.RCPartial, iso.FormatAmount(v*100)
		}, ""},
		{"partial without an amount", func(_, r *iso.Message) { r.ResponseCode, r.Amount = iso.RCPartial, "" }, ""},
		{"partial of zero", func(_, r *iso.Message) { r.ResponseCode, r.Amount = iso.RCPartial, iso.FormatAmount(0) }, ""},
		{"partial of the whole amount", func(req, r *iso.Message) { r.ResponseCode, r.Amount = iso.RCPartial, req.Amount }, ""},
		{"approved another amount", func(_, r *iso.Message) { r.Amount = iso.FormatAmount(1) }, ""},
		{"another currency", func(_, r *iso.Message) { r.Currency = "840" }, ""},
		{"another processing code", func(_, r *iso.Message) { r.ProcessingCode = iso.ProcRefund }, ""},
		{"another merchant", func(_, r *iso.Message) { r.MerchantID = "OTHERMERCHANT01" }, ""},
		// An answer naming another terminal is not even paired with the request: no answer.
		{"another terminal", func(_, r *iso.Message) { r.TerminalID = "TERM0099" }, simulator.KindTimedOutReversed},
	}
	// One lying relay and one terminal behind it (its own TID and STANs): each case swaps
	// the relay's edit.
	var edit atomic.Pointer[func(req, resp *iso.Message)]
	p := e.profile
	p.TID = "TERM0002"
	p.Host = lyingRelay(t, acqAddr, func(req, resp *iso.Message) { (*edit.Load())(req, resp) })
	term, err := simulator.New(p, simulator.Options{Clock: e.clk, Journal: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			edit.Store(&tc.edit)
			before := e.charged()
			txBefore := len(term.Transactions())
			out := term.Sale(ctx, simulator.Payment{Card: card, Amount: 1000})
			want := tc.kind
			if want == "" {
				want = simulator.KindAnswerRejected
			}
			if out.Kind != want || out.Approved != 0 {
				t.Fatalf("outcome %s approved %d (%v), want %s and nothing approved", out.Kind, out.Approved, out.Err, want)
			}
			if want == simulator.KindAnswerRejected && out.Guidance != iso.GuidanceAnswerMismatch {
				t.Errorf("guidance %s, want %s", out.Guidance, iso.GuidanceAnswerMismatch)
			}
			if tot := term.Snapshot().Totals; tot.SalesCount != 0 || tot.SalesAmount != 0 {
				t.Errorf("totals %+v: the rejected answer was counted as a sale", tot)
			}
			if got := term.Transactions(); len(got) != txBefore+1 || got[len(got)-1].Status != simulator.StatusReversed {
				t.Errorf("journal: %+v, want one more sale, reversed", got)
			}
			if after := e.charged(); after != before {
				t.Errorf("charged %d at the host after the reversal (was %d)", after, before)
			}
			pay("after " + tc.name)
		})
	}
	if got := e.charged(); got != paid {
		t.Errorf("card charged %d at the host, want the healthy terminal's %d", got, paid)
	}
	txns, err := e.acq.Transactions(acquirer.Filter{Terminal: "TERM0002"})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range txns {
		if x.Amount != 0 || x.State != acquirer.StateReversed {
			t.Errorf("a sale behind the lying relay is still in effect at the host: %+v", x)
		}
	}
}
