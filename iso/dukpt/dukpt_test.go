package dukpt_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/dukpt"
	"github.com/posdrill/posdrill/iso/internal/testhex"
	"github.com/posdrill/posdrill/iso/keys"
	"github.com/posdrill/posdrill/iso/mac"
	"github.com/posdrill/posdrill/iso/pin"
)

func unhex(t testing.TB, s string) []byte { t.Helper(); return testhex.Decode(t, s) }

func hexOf(b []byte) string { return fmt.Sprintf("%X", b) }

// ANSI X9.24-1:2009 Annex A.4.2 "initial sequence": BDK 0123456789ABCDEFFEDCBA9876543210,
// KSN FFFF9876543210E0000n, PIN 1234, PAN 4012345678909, data "4012345678909D987" (zero
// padded, TDES CBC, zero IV), MACs ANSI X9.19 over the same data. The same table is in the
// test suites of moov-io/dukpt and other public implementations.
func TestTDESInitialSequence(t *testing.T) {
	bdk := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	tests := []struct {
		ksn, txKey, pinBlock, dataReq, dataResp, macReq, macResp string
	}{
		{"FFFF9876543210E00001", "042666B49184CFA368DE9628D0397BC9", "1B9C1845EB993A7A",
			"FC0D53B7EA1FDA9EE68AAF2E70D9B9506229BE2AA993F04F", "1FCC89AF66222F27B903898BB2BC8589CDBFDE5EC6AFCC25",
			"9CCC78173FC4FB64", "20364223C1FF00FA"},
		{"FFFF9876543210E00002", "C46551CEF9FD24B0AA9AD834130D3BC7", "10A01C8D02C69107",
			"A2B4E70F846E63D68775B7215EB4563DFD3037244C61CC13", "5B692A6B1FDD5E25B0DEFAFDE1672E402F8011360CFF3508",
			"F608A9BCA6FFC311", "D1FCA6BEF05D24D2"},
		{"FFFF9876543210E00003", "0DF3D9422ACA56E547676D07AD6BADFA", "18DC07B94797B466",
			"BD751E65F10E75B6C1D5B1D283496A36C2DE21D993C387A7", "345992D4163E4926C927BFD8ABD5D76F087A9CE81D5A27B8",
			"20B59A4FEAC937E3", "BAD4CC9CC2AE326C"},
		{"FFFF9876543210E00004", "279C0F6AEED0BE652B2C733E1383AE91", "0BC79509D5645DF7",
			"1118F50947441BBDA3C8C70220021A12EC31CC473F7215F4", "418C7413576C0D1819E785D3807AF32334231FDEC23414DB",
			"C7BFA6CC44161828", "1EB08AEECE6FF0C2"},
		{"FFFF9876543210E00005", "5F8DC6D2C845C125508DDC048093B83F", "5BC0AF22AD87B327",
			"9FD7BD1EC28845ACA93367A9DA9317BD555C6B33AE22D365", "7D4C109E49E83355A556AE949EED359F4404E7A2F0167C00",
			"0202B96339022058", "5CBE3E81D1D2A0FB"},
	}
	data := []byte("4012345678909D987")
	padded := make([]byte, 24)
	copy(padded, data)
	for _, tt := range tests {
		t.Run(tt.ksn, func(t *testing.T) {
			ksn := unhex(t, tt.ksn)
			ipek, err := dukpt.IPEK(bdk, ksn)
			if err != nil {
				t.Fatal(err)
			}
			if hexOf(ipek) != "6AC292FAA1315B4D858AB3A3D7D5933A" {
				t.Fatalf("IPEK %X", []byte(ipek))
			}
			tk, err := dukpt.TransactionKey(ipek, ksn)
			if err != nil || hexOf(tk) != tt.txKey {
				t.Fatalf("transaction key %X, %v; want %s", []byte(tk), err, tt.txKey)
			}
			pk, err := dukpt.DeriveKey(bdk, ksn, dukpt.PIN)
			if err != nil {
				t.Fatal(err)
			}
			blk, err := pin.Encrypt(pk, pin.Format0, "1234", "4012345678909", nil)
			if err != nil || hexOf(blk) != tt.pinBlock {
				t.Fatalf("PIN block %X, %v; want %s", blk, err, tt.pinBlock)
			}
			for _, c := range []struct {
				u    dukpt.Usage
				want string
			}{{dukpt.DataRequest, tt.dataReq}, {dukpt.DataResponse, tt.dataResp}} {
				dk, _ := dukpt.DeviceKey(ipek, ksn, c.u)
				enc, err := keys.EncryptCBC(dk, nil, padded)
				if err != nil || hexOf(enc) != c.want {
					t.Errorf("%v: %X, %v; want %s", c.u, enc, err, c.want)
				}
			}
			for _, c := range []struct {
				u    dukpt.Usage
				want string
			}{{dukpt.MACRequest, tt.macReq}, {dukpt.MACResponse, tt.macResp}} {
				mk, _ := dukpt.DeviceKey(ipek, ksn, c.u)
				m, err := mac.Compute(mac.X919, mk, data)
				if err != nil || hexOf(m) != c.want {
					t.Errorf("%v: %X, %v; want %s", c.u, m, err, c.want)
				}
			}
		})
	}
}

func TestTDESCounterAndNext(t *testing.T) {
	base := unhex(t, "FFFF9876543210E00000")
	tests := []struct {
		name    string
		from    uint32
		want    uint32
		wantErr error
	}{
		{"zero to one", 0, 1, nil},
		{"plain increment", 0x0004, 0x0005, nil},
		{"10 one bits allowed", 0x3FE, 0x3FF, nil},
		{"11 one bits skipped", 0x3FF, 0x400, nil},
		{"skip a run", 0xFFC00, 0x100000, nil},
		{"exhausted", 0x1FF800, 0, dukpt.ErrExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ksn, err := dukpt.WithCounter(base, tt.from)
			if err != nil {
				t.Fatal(err)
			}
			next, err := dukpt.Next(ksn)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, _ := dukpt.Counter(next)
			if c != tt.want {
				t.Fatalf("next counter %#x, want %#x", c, tt.want)
			}
			if hexOf(next[:7]) != hexOf(base[:7]) || next[7]&0xE0 != base[7]&0xE0 {
				t.Fatalf("key serial number changed: %X", next)
			}
		})
	}
}

func TestTDESErrors(t *testing.T) {
	bdk := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	ksn := unhex(t, "FFFF9876543210E00001")
	if _, err := dukpt.IPEK(bdk[:8], ksn); !errors.Is(err, keys.ErrKeyLength) || !strings.Contains(err.Error(), "BDK is 8 bytes") {
		t.Errorf("short BDK: %v", err)
	}
	if _, err := dukpt.IPEK(bdk, ksn[:9]); !errors.Is(err, dukpt.ErrKSN) || !strings.Contains(err.Error(), "9 bytes") {
		t.Errorf("short KSN: %v", err)
	}
	zero, _ := dukpt.WithCounter(ksn, 0)
	if _, err := dukpt.DeriveKey(bdk, zero, dukpt.PIN); !errors.Is(err, dukpt.ErrCounter) {
		t.Errorf("counter 0: %v", err)
	}
	eleven, _ := dukpt.WithCounter(ksn, 0x7FF)
	if _, err := dukpt.DeriveKey(bdk, eleven, dukpt.PIN); !errors.Is(err, dukpt.ErrCounter) {
		t.Errorf("counter with 11 one bits: %v", err)
	}
	if _, err := dukpt.WithCounter(ksn, 1<<21); !errors.Is(err, dukpt.ErrCounter) {
		t.Errorf("22-bit counter: %v", err)
	}
}

func TestParseKSN(t *testing.T) {
	k, err := dukpt.ParseKSN("FFFF 9876 5432 10E0 0001")
	if err != nil || dukpt.FormatKSN(k) != "FFFF9876543210E00001" {
		t.Fatalf("%X %v", k, err)
	}
	if _, err := dukpt.ParseKSN("1234567890123456 00000001"); err != nil {
		t.Fatalf("AES KSN: %v", err)
	}
	for _, bad := range []string{"FFFF98", "zz", "FFFF9876543210E0000100"} {
		if _, err := dukpt.ParseKSN(bad); !errors.Is(err, dukpt.ErrKSN) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// ANSI X9.24-3:2017 supplement test vectors for an AES-128 BDK
// (BDK FEDCBA9876543210F1F1F1F1F1F1F1F1, initial key ID 1234567890123456): the initial key,
// the transaction (intermediate derivation) keys and the AES-128 PIN, CMAC-generation and
// data-encryption working keys; the same values are in Leon Lynch's dukpt library tests.
func TestAESSupplementVectors(t *testing.T) {
	bdk := unhex(t, "FEDCBA9876543210F1F1F1F1F1F1F1F1")
	ik, err := dukpt.AESInitialKey(bdk, unhex(t, "1234567890123456"))
	if err != nil || hexOf(ik) != "1273671EA26AC29AFA4D1084127652A1" {
		t.Fatalf("initial key %X, %v", []byte(ik), err)
	}
	tests := []struct {
		counter                        string
		txKey, pinKey, macKey, dataKey string
	}{
		{"00000001", "4F21B565BAD9835E112B6465635EAE44", "AF8CB133A78F8DC2D1359F18527593FB", "A2DC23DE6FDE0824A2BC321E08E4B8B7", "A35C412EFD41FDB98B69797C02DCD08F"},
		{"00000002", "2F34D68DE10F68D38091A73B9E7C437C", "D30BDC73EC9714B000BEC66BDB7B6D09", "484C3B06E8562704528CD5B46FB12FB6", "D639514AA33AC43AD9229E433D6D4E5B"},
		{"00000003", "031504E530365CF81264238540518318", "", "", ""},
		{"00000008", "718EE6CF0B27E53D5F7AF99C4D8146A2", "4D9DF3FBEE3448FC3E676D04320A90F5", "6FD572E5D59E618875F193484F9178FB", "650F34204ABD4E57764D61AC3D266FB1"},
		{"0001FFFE", "E21E8C8D347F8561A2BE752DAA85A111", "", "", ""},
		{"00020000", "F7AE9025468A25D37B7249CFFED224C8", "", "", ""},
		{"00020001", "692C8EA4013645135B36497131DF9D2C", "", "", ""},
		{"FFFE2000", "48E585B694EB0B18D5C35443E163C0BA", "", "", ""},
		{"FFFF0000", "F6BA59389BD14A9855BE9727E7C52E3C", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.counter, func(t *testing.T) {
			ksn := unhex(t, "1234567890123456"+tt.counter)
			dk, err := dukpt.AESDerivationKey(ik, ksn)
			if err != nil || hexOf(dk) != tt.txKey {
				t.Fatalf("transaction key %X, %v; want %s", []byte(dk), err, tt.txKey)
			}
			for _, c := range []struct {
				u    dukpt.KeyUsage
				want string
			}{{dukpt.PINEncryption, tt.pinKey}, {dukpt.MACGeneration, tt.macKey}, {dukpt.DataEncrypt, tt.dataKey}} {
				if c.want == "" {
					continue
				}
				wk, err := dukpt.AESHostKey(bdk, ksn, c.u, dukpt.AES128)
				if err != nil || hexOf(wk) != c.want {
					t.Errorf("usage %#04x: %X, %v; want %s", uint16(c.u), []byte(wk), err, c.want)
				}
			}
		})
	}
}

func TestAESNextAndErrors(t *testing.T) {
	ksn := unhex(t, "1234567890123456"+"0000FFFF") // 16 one bits: allowed
	next, err := dukpt.AESNext(ksn)
	if err != nil || hexOf(next[8:]) != "00010000" {
		t.Fatalf("next %X, %v", next, err)
	}
	ksn = unhex(t, "1234567890123456"+"0001FFFE") // 16 one bits; +1 has 17 → skip
	next, _ = dukpt.AESNext(ksn)
	if hexOf(next[8:]) != "00020000" {
		t.Fatalf("next after 1FFFE = %X, want 00020000 (the supplement skips 1FFFF)", next[8:])
	}
	if _, err := dukpt.AESNext(unhex(t, "1234567890123456FFFF0000")); !errors.Is(err, dukpt.ErrExhausted) {
		t.Fatalf("last counter: %v", err)
	}
	ik := unhex(t, "1273671EA26AC29AFA4D1084127652A1")
	if _, err := dukpt.AESDerivationKey(ik, unhex(t, "12345678901234560001FFFF")); !errors.Is(err, dukpt.ErrCounter) {
		t.Fatalf("17 one bits: %v", err)
	}
	if _, err := dukpt.AESInitialKey(ik[:10], unhex(t, "1234567890123456")); !errors.Is(err, keys.ErrKeyLength) {
		t.Fatalf("short BDK: %v", err)
	}
	if _, err := dukpt.AESHostKey(ik, unhex(t, "123456"), dukpt.PINEncryption, dukpt.AES128); !errors.Is(err, dukpt.ErrKSN) {
		t.Fatalf("short KSN: %v", err)
	}
}

// AES DUKPT end to end as a host runs it: BDK and the message's KSN to the PIN key, then the
// format 4 block of the X9.24-3 supplement (PIN 1234, PAN 4111111111111111, PIN field fill
// 2F69ADDE2E9E7ACE).
func TestAESPINBlockFromBDK(t *testing.T) {
	bdk := unhex(t, "FEDCBA9876543210F1F1F1F1F1F1F1F1")
	for _, tt := range []struct{ ksn, want string }{
		{"123456789012345600000001", "A912150391AB65A67E52883D81CE2D15"},
		{"123456789012345600000002", "52A00503BD34BA1383F6A7EE9FE2547F"},
	} {
		t.Run(tt.ksn, func(t *testing.T) {
			k, err := dukpt.AESHostKey(bdk, unhex(t, tt.ksn), dukpt.PINEncryption, dukpt.AES128)
			if err != nil {
				t.Fatal(err)
			}
			blk, err := pin.EncryptAES(k, "1234", "4111111111111111", bytes.NewReader(unhex(t, "2F69ADDE2E9E7ACE")))
			if err != nil || hexOf(blk) != tt.want {
				t.Fatalf("block %X, %v; want %s", blk, err, tt.want)
			}
		})
	}
}

func TestDevice(t *testing.T) {
	for _, tc := range []struct {
		ksn, device string
		counter     uint32
	}{
		{"FFFF9876543210E00003", "FFFF9876543210E00000", 3},
		{"FFFF9876543210FFFFFF", "FFFF9876543210E00000", 0x1FFFFF},
		{"123456789012345600000102", "1234567890123456", 0x102},
	} {
		t.Run(tc.ksn, func(t *testing.T) {
			ksn, _ := dukpt.ParseKSN(tc.ksn)
			d, c, err := dukpt.Device(ksn)
			if err != nil || d != tc.device || c != tc.counter {
				t.Fatalf("Device = %s, %d, %v; want %s, %d", d, c, err, tc.device, tc.counter)
			}
		})
	}
	if _, _, err := dukpt.Device([]byte{1, 2, 3}); !errors.Is(err, dukpt.ErrKSN) {
		t.Fatalf("short KSN: %v", err)
	}
}
