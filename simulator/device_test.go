package simulator_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
)

func TestChipUnreadableOffersFallback(t *testing.T) {
	tests := []struct {
		name  string
		card  string
		fault bool
	}{
		{"damaged-chip card", "damaged-chip", false},
		{"injected fault", "visa-ok", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, answerAll)
			if tc.fault {
				r.term.InjectDeviceFault(simulator.DeviceFault{Kind: simulator.DeviceChipUnreadable, Count: 1})
			}
			out := r.term.Sale(r.ctx, simulator.Payment{Card: tc.card, Amount: 1000, Entry: "chip", PIN: "1234"})
			if out.Kind != simulator.KindDeviceFault || out.Guidance != iso.GuidanceChipFallback {
				t.Fatalf("outcome %s/%s", out.Kind, out.Guidance)
			}
			if len(r.host.seen) != 0 {
				t.Fatalf("host received %v", r.host.requests())
			}
			out = r.term.Sale(r.ctx, simulator.Payment{Card: tc.card, Amount: 1000, Entry: "fallback", PIN: "1234"})
			if out.Kind != simulator.KindApproved {
				t.Fatalf("fallback: %s", out.Kind)
			}
			if m := r.host.received("0200")[0]; m.EntryMode != "801" || m.Track2 == "" || len(m.EMV) != 0 {
				t.Errorf("fallback DE22 %s, track 2 %v, EMV %v", m.EntryMode, m.Track2 != "", len(m.EMV) > 0)
			}
		})
	}
}

func TestPINTimeoutSendsNothing(t *testing.T) {
	r := newRig(t, answerAll)
	r.term.InjectDeviceFault(simulator.DeviceFault{Kind: simulator.DevicePINTimeout, Count: 1})
	before := r.clk.Now()
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
	if out.Kind != simulator.KindDeviceFault || out.Guidance != iso.GuidancePINTimeout {
		t.Fatalf("outcome %s/%s", out.Kind, out.Guidance)
	}
	if waited := r.clk.Now().Sub(before); waited != 30*time.Second {
		t.Errorf("PIN pad waited %s of virtual time, want 30s", waited)
	}
	if len(r.host.seen) != 0 || len(r.term.Transactions()) != 0 {
		t.Errorf("something was sent or journaled: %v", r.host.requests())
	}
	if again := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000}); again.Kind != simulator.KindApproved {
		t.Errorf("after the fault (count 1): %s", again.Kind)
	}
}

func TestCardRemovedReversesWithReason22(t *testing.T) {
	r := newRig(t, answerAll)
	r.term.InjectDeviceFault(simulator.DeviceFault{Kind: simulator.DeviceCardRemoved, Count: 1})
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000, Entry: "chip"})
	if out.Kind != simulator.KindDeviceFault || out.Guidance != iso.GuidanceCardRemoved || out.ResponseCode != "00" {
		t.Fatalf("outcome %s/%s/%s", out.Kind, out.Guidance, out.ResponseCode)
	}
	revs := r.host.received("0420")
	if len(revs) != 1 || revs[0].ResponseCode != iso.ReasonMalfunction || revs[0].RRN != out.RRN || revs[0].AuthCode != out.AuthCode {
		t.Fatalf("reversal %v (DE39 %q)", r.host.requests(), revs[0].ResponseCode)
	}
	if tx := r.term.Transactions(); tx[0].Status != simulator.StatusReversed {
		t.Errorf("status %s", tx[0].Status)
	}
	if !strings.Contains(out.Receipt.Customer, "CUSTOMER NOT CHARGED") {
		t.Errorf("reversal slip:\n%s", out.Receipt.Customer)
	}
}

func TestPrinterOutOfPaper(t *testing.T) {
	r := newRig(t, answerAll)
	r.term.InjectDeviceFault(simulator.DeviceFault{Kind: simulator.DevicePrinterOut})
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
	if out.Kind != simulator.KindApproved || out.Guidance != iso.GuidancePrinterOut || out.Receipt.Printed {
		t.Fatalf("outcome %s/%s printed %v", out.Kind, out.Guidance, out.Receipt.Printed)
	}
	if _, err := r.term.Reprint(simulator.Ref{}); !errors.Is(err, simulator.ErrPrinterOut) {
		t.Fatalf("reprint without paper: %v", err)
	}
	r.term.ClearDeviceFaults()
	rc, err := r.term.Reprint(out.Ref())
	if err != nil || !rc.Printed || rc.STAN != out.STAN || rc.Customer != out.Receipt.Customer {
		t.Fatalf("reprint: %v %+v", err, rc)
	}
	rc2, err := r.term.Reprint(out.Ref())
	if err != nil || !strings.HasPrefix(rc2.Customer, "*** DUPLICATE (REPRINT) ***") {
		t.Errorf("second reprint is not marked duplicate: %v", err)
	}
}

// TestPowerLoss kills the terminal at each step; a new Terminal on the same journal file
// recovers: whatever may have reached the host is reversed.
func TestPowerLoss(t *testing.T) {
	tests := []struct {
		at       string
		hostSaw  []string // before the restart
		reversal string   // the reversal's answer, from our scripted host
	}{
		{simulator.PowerBeforeSend, []string{"0800/000001"}, "25"},
		{simulator.PowerAfterSend, []string{"0800/000001", "0200/000002"}, "00"},
		{simulator.PowerAfterAnswer, []string{"0800/000001", "0200/000002"}, "00"},
	}
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "terminal.db")
			r := newRig(t, func(n int, m *iso.Message) act {
				if m.MTI[1] == '4' {
					return act{code: tc.reversal}
				}
				return act{}
			}, withJournal(path))
			r.term.InjectDeviceFault(simulator.DeviceFault{Kind: simulator.DevicePowerLoss, At: tc.at, Count: 1})
			out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
			if out.Kind != simulator.KindPowerLoss || !errors.Is(out.Err, simulator.ErrCrashed) {
				t.Fatalf("outcome %s %v", out.Kind, out.Err)
			}
			if again := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1}); again.Kind != simulator.KindPowerLoss {
				t.Errorf("a dead terminal answered %s", again.Kind)
			}
			r.settle()
			if got := r.host.requests(); !slices.Equal(got, tc.hostSaw) {
				t.Fatalf("host saw %v, want %v", got, tc.hostSaw)
			}
			r.restart(withJournal(path))
			if saf := r.term.SAF(); len(saf) != 1 || saf[0].OriginalSTAN != "000002" {
				t.Fatalf("recovered SAF %+v", saf)
			}
			r.settle() // the background sender sends it at once
			revs := r.host.received("0420")
			if len(revs) != 1 || revs[0].STAN != "000002" {
				t.Fatalf("after restart the host saw %v", r.host.requests())
			}
			if len(r.term.SAF()) != 0 {
				t.Errorf("SAF not empty after recovery: %+v", r.term.SAF())
			}
			tx := r.term.Transactions()
			if len(tx) != 1 || tx[0].Status != simulator.StatusReversed {
				t.Errorf("transactions after recovery %+v", tx)
			}
			if !hasKind(r.term.Events(), simulator.EventRecovered) {
				t.Errorf("no recovered event")
			}
			// STANs continue where the dead terminal left off.
			if next := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 100}); next.STAN != "000004" {
				t.Errorf("next STAN %s, want 000004 (000003 is the new link's sign-on)", next.STAN)
			}
		})
	}
}

func TestCrashWhileWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "terminal.db")
	var r *rig
	var seqs []int64
	r = newRig(t, only("0200", 1, act{silent: true}), withJournal(path), func(_ *simulator.Profile, o *simulator.Options) {
		o.OnEvent = func(e simulator.Event) {
			seqs = append(seqs, e.Seq)
			if e.Kind == simulator.EventWaiting && e.MTI == "0200" {
				// The power goes while the terminal waits for the answer; from the
				// callback itself, which must not deadlock.
				r.term.Crash()
			}
		}
	})
	out := r.term.Sale(r.ctx, simulator.Payment{Card: "visa-ok", Amount: 1000})
	if out.Kind != simulator.KindPowerLoss {
		t.Fatalf("outcome %s", out.Kind)
	}
	if !slices.IsSorted(seqs) || len(seqs) == 0 || seqs[len(seqs)-1] != int64(len(seqs)) {
		t.Errorf("OnEvent saw sequence numbers %v, want 1..n in order", seqs)
	}
	r.restart(withJournal(path))
	r.settle()
	if revs := r.host.received("0420"); len(revs) != 1 {
		t.Fatalf("host saw %v", r.host.requests())
	}
}
