package soak

import (
	"fmt"
	"sort"
	"strings"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
)

// charging reports whether a host transaction moves money now.
func charging(t acquirer.Txn) bool {
	switch t.State {
	case acquirer.StateApproved, acquirer.StateRefunded, acquirer.StateSettled, acquirer.StateCaptured:
		return t.Amount != 0
	}
	return false
}

func isRefund(t acquirer.Txn) bool { return strings.HasPrefix(t.ProcessingCode, "20") }

func describeHost(t acquirer.Txn) string {
	return fmt.Sprintf("host txn %d %s %s proc %s STAN %s card %s %s, requested %s, in effect %s, code %s, fault %q",
		t.ID, t.Terminal, t.MTI, t.ProcessingCode, t.STAN, t.Card, t.State, iso.FormatMoney(t.Requested), iso.FormatMoney(t.Amount), t.ResponseCode, t.Fault)
}

type key struct{ terminal, stan string }

// check verifies the soak invariants on what the customers saw (records), what each
// terminal's journal says after the SAF drain (termTxns, by terminal id), what the host
// recorded (hostTxns) and the host balances (by card name). It returns one sentence per
// violation, with every detail needed to follow it up; card numbers never appear.
func check(records []record, termTxns map[string][]simulator.Txn, hostTxns []acquirer.Txn, balances map[string]acquirer.Balance) []string {
	var v []string
	bad := func(format string, args ...any) { v = append(v, iso.MaskText(fmt.Sprintf(format, args...))) }

	// 1. The host ledger adds up, card by card, from its own transactions.
	sum := map[string]int64{}
	for _, t := range hostTxns {
		switch {
		case t.State == acquirer.StateDeclined || t.State == acquirer.StateReversed:
			if t.Amount != 0 {
				bad("%s keeps an amount in state %s", describeHost(t), t.State)
			}
		case t.State == acquirer.StateHeld || t.State == acquirer.StateCaptured:
			bad("%s: no pre-authorization was made in this soak", describeHost(t))
		}
		if !charging(t) || t.Card == "" {
			continue
		}
		if isRefund(t) {
			sum[t.Card] += t.Amount
		} else {
			sum[t.Card] -= t.Amount
		}
	}
	names := make([]string, 0, len(balances))
	for n := range balances {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := balances[n]
		if want := b.Opening + sum[n]; b.Available != want {
			bad("card %s: available %s, but opening %s − approved sales + refunds (host transactions) = %s",
				n, iso.FormatMoney(b.Available), iso.FormatMoney(b.Opening), iso.FormatMoney(want))
		}
		if b.Held != 0 {
			bad("card %s: %s still held", n, iso.FormatMoney(b.Held))
		}
	}

	// 2. Host transactions by terminal and STAN (sales and refunds are 0200s).
	host := map[key][]acquirer.Txn{}
	for _, t := range hostTxns {
		if t.MTI != iso.MTIFinancialRequest {
			bad("%s: only sales and refunds (0200) were sent in this soak", describeHost(t))
			continue
		}
		k := key{t.Terminal, t.STAN}
		host[k] = append(host[k], t)
	}

	// 3. The terminal's final word on each transaction, after the SAF drain.
	term := map[key]simulator.Txn{}
	for tid, txns := range termTxns {
		for _, t := range txns {
			if t.Operation != simulator.OpSale && t.Operation != simulator.OpRefund {
				continue
			}
			k := key{tid, t.STAN}
			if prev, dup := term[k]; dup {
				bad("%s used STAN %s twice (%s %s and %s %s)", tid, t.STAN, prev.Operation, prev.Status, t.Operation, t.Status)
			}
			term[k] = t
			hs := host[k]
			var charged []acquirer.Txn
			for _, h := range hs {
				if charging(h) {
					charged = append(charged, h)
				}
			}
			switch t.Status {
			case simulator.StatusApproved, simulator.StatusPartial:
				if len(charged) != 1 {
					bad("%s %s STAN %s %s for %s: terminal says %s, host has %d charging transactions: %s",
						tid, t.Operation, t.STAN, t.MaskedPAN, iso.FormatMoney(t.Approved), t.Status, len(charged), describeAll(hs))
					continue
				}
				h := charged[0]
				if h.Amount != t.Approved || isRefund(h) != (t.Operation == simulator.OpRefund) {
					bad("%s %s STAN %s: terminal approved %s, but %s", tid, t.Operation, t.STAN, iso.FormatMoney(t.Approved), describeHost(h))
				}
			case simulator.StatusDeclined, simulator.StatusNotSent, simulator.StatusReversed, simulator.StatusVoided:
				if len(charged) > 0 {
					bad("%s %s STAN %s %s for %s ended %s at the terminal, but the customer is charged: %s",
						tid, t.Operation, t.STAN, t.MaskedPAN, iso.FormatMoney(t.Amount), t.Status, describeAll(charged))
				}
			default:
				bad("%s %s STAN %s is still %s at the terminal after the SAF drain (host: %s)", tid, t.Operation, t.STAN, t.Status, describeAll(hs))
			}
		}
	}
	// No host charge that no terminal knows of (a double charge lands here too).
	keys := make([]key, 0, len(host))
	for k := range host {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].terminal != keys[j].terminal {
			return keys[i].terminal < keys[j].terminal
		}
		return keys[i].stan < keys[j].stan
	})
	for _, k := range keys {
		var charged []acquirer.Txn
		for _, h := range host[k] {
			if charging(h) {
				charged = append(charged, h)
			}
		}
		if len(charged) > 1 {
			bad("double charge: %s STAN %s has %d charging host transactions: %s", k.terminal, k.stan, len(charged), describeAll(charged))
		}
		if _, ok := term[k]; !ok && len(charged) > 0 {
			bad("host charge unknown to terminal %s (STAN %s): %s", k.terminal, k.stan, describeAll(charged))
		}
	}

	// 4. What the customer was told agrees with the terminal's final word.
	voided := map[key]record{}
	for _, r := range records {
		if r.Op == simulator.OpVoid {
			voided[key{r.Terminal, r.VoidOf}] = r
		}
	}
	for _, r := range records {
		if r.Op == "restart" {
			bad("%s", r)
			continue
		}
		if r.Op == simulator.OpVoid || r.STAN == "" {
			continue
		}
		k := key{r.Terminal, r.STAN}
		t, ok := term[k]
		approved := r.Kind == simulator.KindApproved || r.Kind == simulator.KindPartiallyApproved
		if !ok {
			if approved {
				bad("customer was told approved, but terminal %s has no transaction STAN %s: %s", r.Terminal, r.STAN, r)
			}
			continue
		}
		final := t.Status == simulator.StatusApproved || t.Status == simulator.StatusPartial
		vr, wasVoided := voided[k]
		switch {
		case approved && !final && !wasVoided:
			bad("customer was told approved, but the terminal ended it %s with no void: %s", t.Status, r)
		case approved && final && t.Approved != r.Approved:
			bad("customer was told %s approved, the terminal journal says %s: %s", iso.FormatMoney(r.Approved), iso.FormatMoney(t.Approved), r)
		case !approved && final:
			bad("customer was told %s, but the terminal ended it %s (so the host charges it): %s", r.Kind, t.Status, r)
		case approved && final && wasVoided && (vr.Kind == simulator.KindVoided || vr.Kind == simulator.KindReversalPending):
			bad("void of STAN %s ended %s, yet the original is still %s at the terminal: %s", r.STAN, vr.Kind, t.Status, vr)
		}
	}
	return v
}

func describeAll(ts []acquirer.Txn) string {
	if len(ts) == 0 {
		return "none"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = describeHost(t)
	}
	return strings.Join(parts, "; ")
}
