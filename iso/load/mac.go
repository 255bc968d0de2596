package load

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/cards"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
)

// The MAC option of a load run (Config.MAC): before the clock starts, each terminal id signs
// on once with a UnionPay-style DE60 (network code 003) and unwraps the delivered MAC key
// under its master key (Config.TMK, default the built-in fixture's). Every request but
// network management then carries a MAC, and every answer's MAC is verified, as a real
// terminal does: the run measures the host with its security layer on.

// macKeys holds each terminal id's MAC key, written before the run starts, read after.
type macKeys struct {
	mu  sync.RWMutex
	mak map[string]keys.Key
}

func (k *macKeys) get(tid string) keys.Key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.mak[tid]
}

// signOnForKeys signs each distinct terminal id on over its first connection and keeps its
// MAC key.
func (r *runner) signOnForKeys(ctx context.Context) error {
	cfg := &r.cfg
	tmk := cfg.TMK
	if tmk == nil {
		tmk = cards.Builtin().TMK
	}
	r.keys = &macKeys{mak: map[string]keys.Key{}}
	for _, t := range r.terms {
		if r.keys.get(t.tid) != nil {
			continue
		}
		c, err := t.current()
		if err != nil {
			return err
		}
		m := &iso.Message{MTI: iso.MTINetworkRequest, STAN: r.stans.take(t.tid), TerminalID: t.tid, MerchantID: cfg.Merchant,
			Batch: iso.DE60{Type: iso.CUPTypeManagement, Batch: "000001", NetCode: iso.CUPNetSignOnTDES}.String()}
		resp, err := c.Send(ctx, m, cfg.Timeout)
		if err != nil {
			return fmt.Errorf("%w: sign-on of %s for MAC keys: %w", ErrConnect, t.tid, err)
		}
		v, ok := resp.Get(62)
		if resp.ResponseCode != iso.RCApproved || !ok {
			return fmt.Errorf("%w: sign-on of %s for MAC keys: answered %s without working keys (DE62)", ErrConnect, t.tid, resp.ResponseCode)
		}
		raw, err := hex.DecodeString(v) // binary DE62 comes hex-encoded; a text one is hex already
		if err != nil {
			return fmt.Errorf("%w: sign-on of %s: DE62 is not hex", ErrConnect, t.tid)
		}
		kb, err := iso.ParseKeyBlock(raw, iso.CUPNetSignOnTDES)
		if err != nil {
			return fmt.Errorf("%w: sign-on of %s: %w", ErrConnect, t.tid, err)
		}
		key, ok := tmk(t.tid)
		if !ok {
			return fmt.Errorf("%w: terminal %s has no master key", ErrConfig, t.tid)
		}
		mak, err := keys.Unwrap(key, kb.MAK, kb.MAKCheck)
		if err != nil {
			return fmt.Errorf("%w: sign-on of %s: %w", ErrConnect, t.tid, err)
		}
		r.keys.mu.Lock()
		r.keys.mak[t.tid] = mak
		r.keys.mu.Unlock()
	}
	return nil
}

// connOptions are the MAC hooks of a connection (none without Config.MAC).
func (r *runner) connOptions() []iso.ConnOption {
	if r.cfg.MAC == mac.None {
		return nil
	}
	d := r.cfg.Dialect
	return []iso.ConnOption{
		iso.WithSigner(func(m *iso.Message, p []byte) error {
			return d.SignMAC(r.cfg.MAC, r.keys.get(m.TerminalID), m, p)
		}),
		iso.WithVerifier(func(m *iso.Message, p []byte) error {
			k := r.keys.get(m.TerminalID)
			if k == nil || (len(m.MAC) == 0 && len(m.MAC2) == 0) || m.MTI == iso.MTINetworkResponse {
				return nil
			}
			return d.VerifyMAC(r.cfg.MAC, k, m, p)
		}),
	}
}
