package scenarios

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/simulator"
)

// The words a scenario may use come from the packages that give them meaning, so that a
// file is checked against what the engines really do.

// EntryModes returns the card entries a payment may name ("tap" is contactless).
func EntryModes() []string { return append(iso.EntryModes(), "tap") }

// DeviceFaultKinds returns the terminal faults device_fault may inject.
func DeviceFaultKinds() []string {
	return []string{simulator.DeviceChipUnreadable, simulator.DeviceCardRemoved, simulator.DevicePINTimeout,
		simulator.DevicePrinterOut, simulator.DevicePowerLoss}
}

// PowerLossPoints returns where a power_loss device fault may strike.
func PowerLossPoints() []string {
	return []string{simulator.PowerBeforeSend, simulator.PowerAfterSend, simulator.PowerAfterAnswer}
}

// OutcomeKinds returns every terminal outcome kind.
func OutcomeKinds() []string {
	return []string{simulator.KindApproved, simulator.KindDeclined, simulator.KindPartiallyApproved,
		simulator.KindTimedOutReversed, simulator.KindReversalPending, simulator.KindVoided,
		simulator.KindOfflineApproved, simulator.KindAdviceQueued, simulator.KindNoAnswer,
		simulator.KindNotSent, simulator.KindRefusedAtTerminal, simulator.KindDeviceFault,
		simulator.KindPowerLoss, simulator.KindSettled, simulator.KindSettleFailed, simulator.KindAnswerRejected}
}

// EventKinds returns every terminal event kind events_contain may name.
func EventKinds() []string {
	return []string{simulator.EventConnecting, simulator.EventConnected, simulator.EventConnectFailed,
		simulator.EventSignedOn, simulator.EventSignOnFailed, simulator.EventSignOnRequested, simulator.EventChipDeclined, simulator.EventSignedOff,
		simulator.EventRefused, simulator.EventDeviceFault, simulator.EventPINEntry, simulator.EventSent,
		simulator.EventNotSent, simulator.EventWaiting, simulator.EventAnswered,
		simulator.EventInvalidAnswer, simulator.EventTimedOut, simulator.EventConnLost,
		simulator.EventReversalQueued, simulator.EventReversalSent, simulator.EventReversalAcknowledged,
		simulator.EventReversalRefused, simulator.EventReversalNoAnswer, simulator.EventAdviceQueued,
		simulator.EventAdviceSent, simulator.EventAdviceAcknowledged, simulator.EventReceiptPrinted,
		simulator.EventReceiptHeld, simulator.EventLateAnswer, simulator.EventDuplicateAnswer,
		simulator.EventUnmatchedAnswer, simulator.EventGarbledAnswer, simulator.EventSAFBlocked,
		simulator.EventLinkDead, simulator.EventManualReconciliation, simulator.EventOfflineApproved,
		simulator.EventBatchUpload, simulator.EventBatchClosed, simulator.EventPowerLoss,
		simulator.EventRecovered}
}

// TxnStates returns the host transaction states a journal expectation may name.
func TxnStates() []string {
	return []string{acquirer.StateApproved, acquirer.StateDeclined, acquirer.StateReversed,
		acquirer.StateHeld, acquirer.StateCaptured, acquirer.StateSettled, acquirer.StateRefunded}
}

// GuidanceKeys returns every guidance key: those of host response codes and those of
// terminal-side outcomes.
func GuidanceKeys() []string {
	var out []string
	for _, t := range iso.CodeTables() {
		for _, c := range t.Codes() {
			if !slices.Contains(out, c.Guidance) {
				out = append(out, c.Guidance)
			}
		}
	}
	out = append(out, iso.TerminalOutcomes()...)
	out = append(out, iso.GuidanceUnknownCode)
	return out
}

// profileKey finds the key a profile validation error names ("...: tid: must be ...").
var profileKey = regexp.MustCompile(`invalid terminal profile: ([a-z_]+): (.*)$`)

// profile applies `profile:` overrides to the default profile with the terminal's own
// parser, on an isolated copy of the node so that errors keep this file's positions.
func (p *parser) profile(n ast.Node) simulator.Profile {
	if n == nil || isNull(n) {
		return simulator.DefaultProfile()
	}
	kvs, ok := p.pairs(n, "profile")
	if !ok {
		return simulator.DefaultProfile()
	}
	// Unknown keys are all reported here: the profile parser stops at its first error.
	known := profileKeys()
	bad := false
	for _, kv := range kvs {
		if !slices.Contains(known, kv.key) {
			p.unknownKey(kv, "profile", known)
			bad = true
		}
	}
	if bad {
		return simulator.DefaultProfile()
	}
	doc, err := p.src.isolate(n)
	if err != nil {
		p.errorf(n, "profile: %v", err)
		return simulator.DefaultProfile()
	}
	prof, err := simulator.ParseProfile(doc, p.file)
	if err == nil {
		return prof
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if m := profileKey.FindStringSubmatch(line); m != nil {
			at := childAt(n, m[1])
			if at == n {
				p.errorf(n, "profile %s: %s", m[1], m[2])
			} else {
				p.errorf(at, "profile %s %s", m[1], m[2])
			}
			return simulator.DefaultProfile()
		}
		if m := anywhereBracketed.FindStringSubmatch(line); m != nil {
			l, _ := strconv.Atoi(m[1])
			c, _ := strconv.Atoi(m[2])
			at := Pos{File: p.file, Line: l, Col: c}
			msg := "profile: " + m[3]
			// Type errors name Go types; say it with the key and the YAML words instead.
			for _, kv := range kvs {
				if vp := p.pos(kv.value); vp.Line == l && vp.Col == c {
					if t := typeWords(m[3]); t != "" {
						msg = fmt.Sprintf("profile %s must be %s, not %s", kv.key, t, kindOf(kv.value))
					}
				}
			}
			p.errorAt(at, "%s", msg)
			continue
		}
	}
	if !strings.Contains(err.Error(), "[") {
		p.errorf(n, "profile: %s", strings.TrimPrefix(err.Error(), p.file+": "))
	}
	return simulator.DefaultProfile()
}

var anywhereBracketed = regexp.MustCompile(`\[(\d+):(\d+)\] (.*)$`)

// profileKeys are the YAML keys of simulator.Profile.
func profileKeys() []string {
	var out []string
	t := reflect.TypeFor[simulator.Profile]()
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

var goType = regexp.MustCompile(`cannot unmarshal \S+ into Go (?:struct field \S+|value) of type (\S+)`)

// typeWords turns a Go type in a decoding error into words for the file's author.
func typeWords(msg string) string {
	m := goType.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	switch m[1] {
	case "int", "int64", "uint", "simulator.Money":
		return "a number"
	case "time.Duration":
		return `a duration like "30s"`
	case "bool":
		return "true or false"
	case "string":
		return "text"
	case "[]string":
		return "a list of words"
	}
	return ""
}
