package scenarios_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/dukpt"
	"github.com/posdrill/posdrill/simulator"
)

// wire records what a terminal sent and received.
type wire struct {
	mu       sync.Mutex
	requests []*iso.Message
	answers  []*iso.Message
}

func (w *wire) observer() iso.Observer {
	return func(dir iso.Direction, _ []byte, m *iso.Message, _ time.Time) {
		if m == nil {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if dir == iso.Out {
			w.requests = append(w.requests, m.Clone())
		} else {
			w.answers = append(w.answers, m.Clone())
		}
	}
}

func (w *wire) snapshot() (req, ans []*iso.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*iso.Message(nil), w.requests...), append([]*iso.Message(nil), w.answers...)
}

func (e *e2e) terminalWith(journal string, w *wire) *simulator.Terminal {
	e.t.Helper()
	return e.terminalObserved(journal, w.observer())
}

// ksnCounter reads the counter of a TDES or AES KSN.
func ksnCounter(t *testing.T, ksn []byte) uint32 {
	t.Helper()
	if len(ksn) == dukpt.AESKSNLen {
		c, _ := dukpt.AESCounter(ksn)
		return c
	}
	c, err := dukpt.Counter(ksn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDUKPTTerminalAgainstAcquirer: DUKPT terminals (TDES X9.24-1 and AES X9.24-3) against
// the real acquirer. Sales with PIN and MAC are approved (the host derived the PIN and MAC
// request keys from the fixture's BDK and the KSN in DE53; the terminal verified the answer's
// MAC under the MAC response key); every request carries a new KSN; a wrong PIN is 55; an
// answer whose MAC was tampered with (bad_mac) is treated as no answer and reversed; the KSN
// survives a restart (the host, which refuses a counter it has seen, approves the next sale);
// a terminal whose journal was lost starts its counter again and is refused 96 (replay).
func TestDUKPTTerminalAgainstAcquirer(t *testing.T) {
	for _, sc := range []struct {
		name, scheme, mac string
		ksnLen            int
		pinField          int
	}{
		{"tdes", "tdes", "x9.19", dukpt.KSNLen, 52},
		{"aes", "aes", "aes-cmac", dukpt.AESKSNLen, iso.AESPINField},
	} {
		for _, transport := range transports() {
			t.Run(sc.name+"/"+transport, func(t *testing.T) {
				e := newE2E(t, transport)
				e.profile.KeyScheme, e.profile.DUKPT, e.profile.MAC = "dukpt", sc.scheme, sc.mac
				journal := filepath.Join(t.TempDir(), "terminal.db")
				w := &wire{}
				term := e.terminalWith(journal, w)
				ctx := context.Background()

				for i := 0; i < 2; i++ {
					if out := term.Sale(ctx, simulator.Payment{Card: card, Amount: 1000, PIN: "1234"}); out.Kind != simulator.KindApproved {
						t.Fatalf("sale %d: %s %s (%s)", i+1, out.Kind, out.ResponseCode, out.Guidance)
					}
				}
				if out := term.Sale(ctx, simulator.Payment{Card: card, Amount: 1000, PIN: "9999"}); out.ResponseCode != iso.RCIncorrectPIN {
					t.Fatalf("wrong PIN: %s %s, want 55", out.Kind, out.ResponseCode)
				}

				reqs, answers := w.snapshot()
				var last uint32
				n := 0
				for _, m := range reqs {
					ksn, err := iso.KSNOf(m, iso.DefaultKSNField)
					if err != nil {
						t.Fatal(err)
					}
					if iso.BaseMTI(m.MTI) == iso.MTINetworkRequest {
						if ksn != nil {
							t.Errorf("%s carries a KSN", m.MTI)
						}
						continue
					}
					n++
					if len(ksn) != sc.ksnLen {
						t.Fatalf("%s %s: DE53 is %d bytes, want a %d-byte KSN", m.MTI, m.STAN, len(ksn), sc.ksnLen)
					}
					if c := ksnCounter(t, ksn); c <= last {
						t.Errorf("%s %s: KSN counter %d not above the previous %d", m.MTI, m.STAN, c, last)
					} else {
						last = c
					}
					if len(m.MAC) == 0 && len(m.MAC2) == 0 {
						t.Errorf("%s %s has no MAC", m.MTI, m.STAN)
					}
					if _, ok := m.Get(sc.pinField); !ok {
						t.Errorf("%s %s has no PIN block in field %d", m.MTI, m.STAN, sc.pinField)
					}
				}
				if n != 3 {
					t.Fatalf("%d DUKPT requests, want 3", n)
				}
				for _, m := range answers {
					if iso.BaseMTI(m.MTI) != iso.MTINetworkResponse && m.ResponseCode == iso.RCApproved && (len(m.MAC) == 0 && len(m.MAC2) == 0) {
						t.Errorf("approved %s %s without a MAC", m.MTI, m.STAN)
					}
				}
				before := term.KSN()
				if c := ksnCounter(t, mustKSN(t, before)); c != last {
					t.Fatalf("terminal KSN %s, counter %d; last sent %d", before, c, last)
				}

				// A spoilt answer MAC (bad_mac; in the ASCII dialect it spoils the hex of DE64, so the
				// answer is unreadable): the terminal must not take the approval, and reverses it.
				if _, err := e.acq.Faults().Add(rule(fault.ActionBadMAC, sale, 1, fault.Params{})); err != nil {
					t.Fatal(err)
				}
				if out := term.Sale(ctx, simulator.Payment{Card: card, Amount: 500, PIN: "1234"}); out.Kind == simulator.KindApproved {
					t.Fatalf("approval with a bad answer MAC accepted: %+v", out)
				}
				e.recoverAll(ctx, term)
				if got := e.charged(); got != 2000 {
					t.Errorf("customer charged %d at the host, want 2000", got)
				}

				// Restart: the counter carries on from the journal and the host approves.
				before = term.KSN()
				if err := term.Close(); err != nil {
					t.Fatal(err)
				}
				term = e.terminalWith(journal, &wire{})
				if got := term.KSN(); got != before {
					t.Fatalf("KSN after restart %s, want %s", got, before)
				}
				if out := term.Sale(ctx, simulator.Payment{Card: card, Amount: 1000, PIN: "1234"}); out.Kind != simulator.KindApproved {
					t.Fatalf("sale after restart: %s %s", out.Kind, out.ResponseCode)
				}
				if got := e.charged(); got != 3000 {
					t.Errorf("customer charged %d at the host, want 3000", got)
				}

				// A terminal that lost its journal re-uses counters: refused as a replay.
				_ = term.Close()
				fresh := e.terminalWith(filepath.Join(t.TempDir(), "lost.db"), &wire{})
				if out := fresh.Sale(ctx, simulator.Payment{Card: card, Amount: 1000, PIN: "1234"}); out.ResponseCode != iso.RCSystemMalfunction {
					t.Fatalf("replayed KSN: %s %s, want 96", out.Kind, out.ResponseCode)
				}
				if got := e.charged(); got != 3000 {
					t.Errorf("customer charged %d at the host, want 3000", got)
				}
			})
		}
	}
}

func mustKSN(t *testing.T, s string) []byte {
	t.Helper()
	b, err := dukpt.ParseKSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
