package simulator_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/posdrill/posdrill/simulator"
)

func TestDefaultProfile(t *testing.T) {
	p := simulator.DefaultProfile()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"tid", p.TID, "TERM0001"}, {"mid", p.MID, "POSDRILL0000001"}, {"currency", p.Currency, "156"},
		{"host", p.Host, "127.0.0.1:8583"}, {"dialect", p.Dialect, "ascii"}, {"framing", p.Framing, "len2"},
		{"connect_timeout", p.ConnectTimeout, 10 * time.Second}, {"response_timeout", p.ResponseTimeout, 30 * time.Second},
		{"reversal_mti", p.ReversalMTI, "0420"}, {"reversal_repeats", p.ReversalRepeats, 3},
		{"reversal_interval", p.ReversalInterval, 30 * time.Second}, {"reversal_expiry", p.ReversalExpiry, 24 * time.Hour},
		{"reversal_stan", p.ReversalSTAN, "reuse"}, {"sign_on_at_connect", p.SignOnAtConnect, true},
		{"echo_interval", p.EchoInterval, time.Duration(0)}, {"offline_floor_limit", p.OfflineFloorLimit, simulator.Money(0)},
		{"partial_approval", p.PartialApproval, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseProfile(t *testing.T) {
	yaml := `
tid: TERM0002
response_timeout: 45s
reversal_mti: "0400"
reversal_stan: new
echo_interval: 5m
offline_floor_limit: "50.00"
partial_approval: false
entry: [chip, contactless]
framing: len2+tpdu
tpdu: "6000030000"
`
	p, err := simulator.ParseProfile([]byte(yaml), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := simulator.DefaultProfile()
	want.TID, want.ResponseTimeout, want.ReversalMTI, want.ReversalSTAN = "TERM0002", 45*time.Second, "0400", "new"
	want.EchoInterval, want.OfflineFloorLimit, want.PartialApproval = 5*time.Minute, 5000, false
	want.Entry, want.Framing, want.TPDU = []string{"chip", "contactless"}, "len2+tpdu", "6000030000"
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("profile (-want +got):\n%s", diff)
	}
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if q, err := simulator.LoadProfile(path); err != nil || !cmp.Equal(p, q) {
		t.Errorf("LoadProfile: %v", err)
	}
}

func TestProfileErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "tid: T1\nbogus: 1\n", "p.yaml"},
		{"reversal mti", `reversal_mti: "0200"`, "reversal_mti"},
		{"stan policy", "reversal_stan: sometimes", "reversal_stan"},
		{"negative repeats", "reversal_repeats: -1", "reversal_repeats"},
		{"bad duration", "response_timeout: soon", "p.yaml"},
		{"entry mode", "entry: [chip, telepathy]", "entry"},
		{"framing", "framing: len3", "framing"},
		{"tpdu", "framing: len2+tpdu\ntpdu: 60", "tpdu"},
		{"floor limit", `offline_floor_limit: "12.345"`, "p.yaml"},
		{"long tid", "tid: TERMINAL01", "tid"},
		{"currency", "currency: CNY", "currency"},
		{"key scheme", "key_scheme: dukpd", "key_scheme"},
		{"dukpt without scheme", "dukpt: tdes", "key_scheme"},
		{"dukpt variant", "key_scheme: dukpt\ndukpt: des", "dukpt"},
		{"dukpt ksn length", "key_scheme: dukpt\ndukpt: aes\nksn: FFFF9876543210E00000", "ksn: a aes KSN is 24 hex digits"},
		{"dukpt ksn hex", "key_scheme: dukpt\ndukpt: tdes\nksn: nothex", "ksn"},
		{"dukpt aes mac", "key_scheme: dukpt\ndukpt: aes\nmac: x9.19", "mac: AES DUKPT MACs with aes-cmac"},
		{"dukpt tdes mac", "key_scheme: dukpt\ndukpt: tdes\nmac: aes-cmac", "mac"},
		{"dukpt pin format", "key_scheme: dukpt\ndukpt: tdes\npin_format: 3", "pin_format"},
		{"ksn field", "key_scheme: dukpt\ndukpt: tdes\nksn_field: 200", "ksn_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := simulator.ParseProfile([]byte(tc.yaml), "p.yaml")
			if !errors.Is(err, simulator.ErrProfile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrProfile mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPresetCUP(t *testing.T) {
	p, err := simulator.ParseProfile([]byte("preset: cup\ntid: TERM0007\n"), "cup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Dialect != "cup" || p.Framing != "cup" || p.TPDU != "6000060000" || p.Header != "603100311003" ||
		p.Codes != "cup" || p.ReversalMTI != "0400" || p.TID != "TERM0007" {
		t.Fatalf("cup preset: %+v", p)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown preset", "preset: visa\n", `unknown preset "visa"`},
		{"short header", "preset: cup\nheader: \"6031\"\n", "header: must be 12 hex digits for framing cup"},
		{"header not BCD", "preset: cup\nheader: \"6031A0311003\"\n", "header: message header terminal status / processing requirement, byte 2"},
		{"unknown code table", "codes: visa\n", `codes: unknown response-code table "visa"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := simulator.ParseProfile([]byte(tc.yaml), "p.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
