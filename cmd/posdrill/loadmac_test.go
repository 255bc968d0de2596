package main

import (
	"context"
	"testing"
	"time"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/load"
	"github.com/posdrill/posdrill/iso/mac"
)

// TestLoadWithMAC: a load run with the security layer on against the real acquirer — each
// terminal id signs on for working keys, every request is MACed and accepted, every answer's
// MAC verifies; with the host on another algorithm every request is refused 98.
func TestLoadWithMAC(t *testing.T) {
	for _, tc := range []struct {
		name     string
		host     mac.Algorithm
		wantCode string
	}{
		{"same algorithm", mac.X919, iso.RCApproved},
		{"host on UnionPay ECB", mac.CUPECB, iso.RCMACError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startAcquirerWith(t, acquirer.Options{Seed: 3, MAC: tc.host})
			mix, _ := load.ParseMix("sale:80,refund:10,reversal:10")
			rep, err := load.Run(context.Background(), load.Config{Addr: addr, Terminals: 4, Count: 200,
				Mix: mix, Seed: 5, MAC: mac.X919, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Answered != 200 || rep.Errors != 0 || rep.Codes[tc.wantCode] != 200 {
				t.Fatalf("answered %d, errors %d %v, codes %v", rep.Answered, rep.Errors, rep.ErrorKinds, rep.Codes)
			}
		})
	}
}
