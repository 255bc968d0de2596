package tui

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/guidance"
)

// verbs finds fmt verbs, including explicit argument indexes (%[2]s).
var verbs = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*[a-zA-Z%]`)

func verbSet(s string) map[string]int {
	out := map[string]int{}
	for _, v := range verbs.FindAllString(s, -1) {
		out[strings.TrimLeft(v[1:], "[]0123456789")]++
	}
	return out
}

func TestCatalogHasBothLanguages(t *testing.T) {
	for _, key := range CatalogKeys() {
		e := catalog[key]
		if strings.TrimSpace(e.en) == "" || strings.TrimSpace(e.zh) == "" {
			t.Errorf("%s: en %q zh %q: both languages need a text", key, e.en, e.zh)
		}
		if a, b := verbSet(e.en), verbSet(e.zh); len(verbs.FindAllString(e.en, -1)) != len(verbs.FindAllString(e.zh, -1)) || !mapsEqual(a, b) {
			t.Errorf("%s: format verbs differ: en %q zh %q", key, e.en, e.zh)
		}
		if iso.MaskText(e.en) != e.en || iso.MaskText(e.zh) != e.zh {
			t.Errorf("%s: contains a card number", key)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestEveryStringIsInTheCatalog finds the catalog keys the code uses and checks each one
// exists, so no user-visible string can be missing in a language.
func TestEveryStringIsInTheCatalog(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// m.t("key"…), T(lang, "key"…), hostCmd("key", …), and keys listed in tables.
	uses := regexp.MustCompile(`(?:\bt\(|T\([^,]+, |hostCmd\()"([a-z_]+\.[a-z_.0-9]+)"`)
	listed := regexp.MustCompile(`"((?:help|hint|face|drill|trainer|notice|info)\.[a-z_.0-9]+)"`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "catalog.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{uses, listed} {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				if strings.HasSuffix(m[1], ".") {
					continue // a prefix: TestDynamicKeys checks its values
				}
				n++
				if !Has(m[1]) {
					t.Errorf("%s uses %q, which is not in the catalog", f, m[1])
				}
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d catalog uses found: the scan is broken", n)
	}
}

// TestDynamicKeys: keys built from a prefix and a value exist for every value.
func TestDynamicKeys(t *testing.T) {
	need := map[string][]string{
		"op.":         {simulator.OpSale, simulator.OpRefund, simulator.OpPreAuth, simulator.OpCompletion, simulator.OpBalance, simulator.OpVoid, simulator.OpSettle, simulator.OpEcho, simulator.OpSignOn, OpDrainSAF, OpReprint, OpCheckLast, OpPowerOn, simulator.OpSignOff, simulator.OpOffline},
		"kind.":       {simulator.KindApproved, simulator.KindDeclined, simulator.KindPartiallyApproved, simulator.KindTimedOutReversed, simulator.KindReversalPending, simulator.KindVoided, simulator.KindOfflineApproved, simulator.KindAdviceQueued, simulator.KindNoAnswer, simulator.KindNotSent, simulator.KindRefusedAtTerminal, simulator.KindDeviceFault, simulator.KindPowerLoss, simulator.KindSettled, simulator.KindSettleFailed, KindError, KindSAFSent, KindPoweredOn},
		"entry.":      append(iso.EntryModes(), "none"),
		"status.":     {simulator.StatusSending, simulator.StatusApproved, simulator.StatusPartial, simulator.StatusDeclined, simulator.StatusNotSent, simulator.StatusReversalPending, simulator.StatusReversed, simulator.StatusVoidPending, simulator.StatusVoided, simulator.StatusOffline, simulator.StatusUnknown, "refused"},
		"face.phase.": {simulator.PhaseIdle, simulator.PhaseConnecting, simulator.PhaseSigningOn, simulator.PhasePINEntry, simulator.PhaseWaiting, simulator.PhaseReversing, simulator.PhaseSettling, simulator.PhaseCrashed, simulator.PhaseClosed},
		"event.": {simulator.EventConnecting, simulator.EventConnected, simulator.EventConnectFailed, simulator.EventSignedOn, simulator.EventSignOnFailed, simulator.EventSignOnRequested, simulator.EventChipDeclined,
			simulator.EventSignedOff, simulator.EventRefused, simulator.EventDeviceFault, simulator.EventPINEntry, simulator.EventSent, simulator.EventNotSent,
			simulator.EventWaiting, simulator.EventAnswered, simulator.EventInvalidAnswer, simulator.EventTimedOut, simulator.EventConnLost,
			simulator.EventReversalQueued, simulator.EventReversalSent, simulator.EventReversalAcknowledged, simulator.EventReversalRefused,
			simulator.EventReversalNoAnswer, simulator.EventAdviceQueued, simulator.EventAdviceSent, simulator.EventAdviceAcknowledged,
			simulator.EventReceiptPrinted, simulator.EventReceiptHeld, simulator.EventLateAnswer, simulator.EventDuplicateAnswer,
			simulator.EventUnmatchedAnswer, simulator.EventGarbledAnswer, simulator.EventSAFBlocked, simulator.EventLinkDead,
			simulator.EventManualReconciliation, simulator.EventOfflineApproved, simulator.EventBatchUpload, simulator.EventBatchClosed,
			simulator.EventPowerLoss, simulator.EventRecovered},
		"fault.":     FaultActions(),
		"hoststate.": {"approved", "declined", "reversed", "held", "captured", "settled", "refunded"},
		"flag.":      {"late", "unmatched", "duplicate", "garbled", "closed", "timeout"},
	}
	need["act."] = simulator.DrillActions() // every drill action can be shown in a debrief
	for prefix, values := range need {
		for _, v := range values {
			if !Has(prefix + v) {
				t.Errorf("catalog has no %q", prefix+v)
			}
		}
	}
}

// TestFaultMenuCoversEveryAction: the trainer panel offers every fault action of the
// acquirer and every device fault of the terminal.
func TestFaultMenuCoversEveryAction(t *testing.T) {
	want := []string{FaultDecline, FaultDelay, FaultNoResponse, FaultDropBeforeProcessing, FaultDropAfterCommit,
		FaultReset, FaultTruncate, FaultSplit, FaultGarble, FaultWrongSTAN, FaultDuplicate, FaultRefuseConnections,
		FaultPartialApproval, DeviceChipUnreadable, DeviceCardRemoved, DevicePINTimeout, DevicePrinterOut, DevicePowerLoss}
	got := FaultActions()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("fault menu = %v\nwant        %v", got, want)
	}
}

func TestT(t *testing.T) {
	if got := T(guidance.Zh, "drill.customer", "CNY 25.00", "VISA 411111******1111"); got != "顾客用 VISA 411111******1111 支付 CNY 25.00" {
		t.Errorf("zh with argument indexes: %q", got)
	}
	if got := T(guidance.En, "no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key: %q", got)
	}
}
