package fault

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

// Actions. The acquirer performs them; this package only decides when.
const (
	ActionDecline              = "decline"                // answer with params.code
	ActionDelay                = "delay"                  // answer params.ms late
	ActionDelayRequest         = "delay_request"          // hold the request params.ms before the host sees it
	ActionNoResponse           = "no_response"            // process, never answer, keep the link
	ActionDropBeforeProcessing = "drop_before_processing" // swallow the request unprocessed
	ActionDropAfterCommit      = "drop_after_commit"      // process and commit, lose the answer
	ActionReset                = "reset"                  // abortive close (RST) instead of answering
	ActionTruncateResponse     = "truncate_response"      // send only the first params.bytes of the frame
	ActionSplitResponse        = "split_response"         // write the frame in params.chunk pieces, params.gap_ms apart
	ActionGarbleResponse       = "garble_response"        // corrupt the answer's bytes
	ActionWrongSTAN            = "wrong_stan"             // answer with a different DE11
	ActionDuplicateResponse    = "duplicate_response"     // answer twice
	ActionRefuseConnections    = "refuse_connections"     // refuse new connections for params.ms (0 = until removed)
	ActionPartialApproval      = "partial_approval"       // approve params.amount (major units) of the request
	// ActionRequestSignOn answers as usual, with the UnionPay message header's processing
	// requirement set to 3 (sign on again): the terminal signs on after the transaction.
	ActionRequestSignOn = "request_sign_on"
	// ActionBadMAC answers as usual but with a MAC that does not verify: the terminal must
	// treat the answer as unusable (reversal), then sign on again.
	ActionBadMAC = "bad_mac"
	// ActionRotateKeys makes the host replace the terminal's working keys without telling
	// it: this and every later MAC fails (A0) until the terminal signs on again.
	ActionRotateKeys = "rotate_keys"
	// ActionBadARPC answers as usual but with an ARPC (DE55 tag 91) that the card rejects:
	// the chip declines after the host approved, and the terminal must reverse.
	ActionBadARPC = "bad_arpc"
)

// actionParams lists, per action, the params it takes. Anything else is rejected by name.
var actionParams = map[string][]string{
	ActionDecline:              {"code"},
	ActionDelay:                {"ms"},
	ActionDelayRequest:         {"ms"},
	ActionNoResponse:           nil,
	ActionDropBeforeProcessing: nil,
	ActionDropAfterCommit:      nil,
	ActionReset:                nil,
	ActionTruncateResponse:     {"bytes"},
	ActionSplitResponse:        {"chunk", "gap_ms"},
	ActionGarbleResponse:       nil,
	ActionWrongSTAN:            nil,
	ActionDuplicateResponse:    nil,
	ActionRefuseConnections:    {"ms"},
	ActionPartialApproval:      {"amount"},
	ActionRequestSignOn:        nil,
	ActionBadMAC:               nil,
	ActionRotateKeys:           nil,
	ActionBadARPC:              nil,
}

// NetworkActions are the actions that act on the messages in transit rather than on the
// host's decision: the ones a fault proxy between a terminal and a host can perform.
var NetworkActions = []string{
	ActionDelay, ActionDelayRequest, ActionNoResponse, ActionDropBeforeProcessing,
	ActionDropAfterCommit, ActionReset, ActionTruncateResponse, ActionSplitResponse,
	ActionGarbleResponse, ActionWrongSTAN, ActionDuplicateResponse, ActionRefuseConnections,
}

// Aliases are shorthands for decline with a fixed DE39 code; they normalise to ActionDecline.
var Aliases = map[string]string{
	"do_not_honour":      "05",
	"pick_up":            "04",
	"invalid_amount":     "13",
	"reenter":            "19",
	"format_error":       "30",
	"insufficient_funds": "51",
	"expired_card":       "54",
	"not_permitted":      "58",
	"issuer_down":        "91",
	"system_error":       "96",
	"mac_error":          "98",
	// UnionPay domestic codes (iso.CUPCodes): each asks the terminal to sign on again.
	"mac_verify_failed": "A0",
	"pin_format_error":  "99",
	"security_failure":  "A7",
	"batch_out_of_sync": "77",
}

var knownActions = func() string {
	var names []string
	for a := range actionParams {
		names = append(names, a)
	}
	for a := range Aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}()

// Upper bounds keep durations and sizes in ranges the acquirer can act on without overflow.
const (
	maxMS    = 24 * 60 * 60 * 1000 // a day
	maxBytes = 1 << 20
	maxCount = math.MaxInt32
)

// ErrInvalidRule is wrapped by every parse and validation error (test with errors.Is).
var ErrInvalidRule = errors.New("invalid fault rule")

// PosError is one problem in a rule file or rule list.
type PosError struct {
	File   string // YAML file name as given to ParseYAML; "" for JSON and Add
	Line   int    // 1-based; 0 when unknown (JSON, Add)
	Column int    // 1-based; 0 when unknown
	Rule   int    // 0-based index of the rule in the file or list; -1 when not inside a rule
	Field  string // dotted field path, e.g. "params.ms"; "" for syntax errors
	Reason string // what is wrong with the field
	Msg    string // the whole sentence: usually "field: reason"
}

func (e PosError) String() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
	case e.Rule >= 0:
		return fmt.Sprintf("rule %d: %s", e.Rule, e.Msg)
	default:
		return e.Msg
	}
}

// ParseError holds every problem found, in file order.
type ParseError struct {
	Errs  []PosError
	limit error // the bounded.Error when the document broke a size, depth or node limit
}

// Error prints one problem per line.
func (e *ParseError) Error() string {
	lines := make([]string, len(e.Errs))
	for i, pe := range e.Errs {
		lines[i] = pe.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalidRule) true.
// With a document over a limit, errors.Is(err, bounded.ErrLimit) is true too.
func (e *ParseError) Unwrap() []error {
	if e.limit != nil {
		return []error{ErrInvalidRule, e.limit}
	}
	return []error{ErrInvalidRule}
}

// fieldErr is a validation finding before it is given a position.
type fieldErr struct{ field, reason, msg string }

func fe(field, format string, a ...any) fieldErr {
	r := fmt.Sprintf(format, a...)
	return fieldErr{field: field, reason: r, msg: field + ": " + r}
}

// presentParams reports the params a Go-built rule sets (non-zero), standing in for the keys
// a file spells out.
func presentParams(p Params) map[string]bool {
	m := map[string]bool{}
	for k := range ParamMap(p) {
		m[k] = true
	}
	return m
}

// normalize resolves aliases and checks every field of r in place, returning all findings.
// present names the params the source spelled out.
func normalize(r *Rule, present map[string]bool) []fieldErr {
	var errs []fieldErr
	// A rule name ends up in logs and journals: a card number typed into it must not.
	r.Name = iso.MaskText(r.Name)

	action := strings.TrimSpace(r.Action)
	var allowed []string
	switch code, alias := Aliases[action]; {
	case action == "":
		errs = append(errs, fieldErr{"action", "missing", "action: missing (known: " + knownActions + ")"})
	case alias:
		if present["code"] {
			errs = append(errs, fe("params.code", "not allowed for %s (it always declines with %s)", action, code))
		}
		if r.Name == "" {
			r.Name = action
		}
		r.Action, r.Params.Code = ActionDecline, code
		allowed = []string{"code"}
		present = withoutKey(present, "code")
	default:
		var ok bool
		if allowed, ok = actionParams[action]; !ok {
			reason := fmt.Sprintf("unknown action %q (known: %s)", iso.MaskText(action), knownActions)
			errs = append(errs, fieldErr{"action", reason, reason})
			action = ""
		}
		r.Action = action
	}
	if r.Action != "" {
		errs = append(errs, checkParams(r, allowed, present)...)
	}
	errs = append(errs, checkMatch(&r.Match)...)
	if r.After < 0 || r.After > maxCount {
		errs = append(errs, fe("after", "must be between 0 and %d", maxCount))
	}
	if r.Count < 0 || r.Count > maxCount {
		errs = append(errs, fe("count", "must be between 0 and %d (0 = every match)", maxCount))
	}
	if p := r.Probability; p != nil && (math.IsNaN(*p) || *p < 0 || *p > 1) {
		errs = append(errs, fe("probability", "must be between 0 and 1"))
	}
	return errs
}

func withoutKey(m map[string]bool, k string) map[string]bool {
	out := map[string]bool{}
	for x, v := range m {
		if x != k {
			out[x] = v
		}
	}
	return out
}

func checkParams(r *Rule, allowed []string, present map[string]bool) []fieldErr {
	var errs []fieldErr
	names := make([]string, 0, len(present))
	for k, set := range present {
		if set {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		if !contains(allowed, k) {
			takes := "no params"
			if len(allowed) > 0 {
				takes = "only " + strings.Join(allowed, ", ")
			}
			errs = append(errs, fe("params."+k, "not a parameter of %s (it takes %s)", r.Action, takes))
		}
	}
	p := &r.Params
	a := r.Action
	switch a {
	case ActionDecline:
		p.Code = strings.TrimSpace(p.Code)
		if len(p.Code) != 2 || !isAlnum(p.Code) {
			errs = append(errs, fe("params.code", "must be a 2-character response code like \"05\" for decline"))
		}
	case ActionDelay, ActionDelayRequest:
		if p.MS <= 0 || p.MS > maxMS {
			errs = append(errs, fe("params.ms", "must be > 0 for %s (at most %d)", a, maxMS))
		}
	case ActionRefuseConnections:
		if p.MS < 0 || p.MS > maxMS {
			errs = append(errs, fe("params.ms", "must be >= 0 for refuse_connections (0 = until removed; at most %d)", maxMS))
		}
	case ActionTruncateResponse:
		if p.Bytes <= 0 || p.Bytes > maxBytes {
			errs = append(errs, fe("params.bytes", "must be > 0 for truncate_response (at most %d)", maxBytes))
		}
	case ActionSplitResponse:
		if p.Chunk <= 0 || p.Chunk > maxBytes {
			errs = append(errs, fe("params.chunk", "must be > 0 for split_response (at most %d)", maxBytes))
		}
		if p.GapMS < 0 || p.GapMS > maxMS {
			errs = append(errs, fe("params.gap_ms", "must be >= 0 for split_response (at most %d)", maxMS))
		}
	case ActionPartialApproval:
		if n, err := iso.ParseMoney(p.Amount); p.Amount == "" {
			errs = append(errs, fe("params.amount", "missing: partial_approval needs the approved amount in major units like \"10.00\""))
		} else if err != nil {
			errs = append(errs, fe("params.amount", "%v", err))
		} else if n == 0 {
			errs = append(errs, fe("params.amount", "must be more than 0.00"))
		}
	}
	return errs
}

func checkMatch(m *Match) []fieldErr {
	var errs []fieldErr
	for i, mti := range m.MTI {
		if len(mti) != 4 || !iso.AllDigits(mti) {
			f := "match.mti"
			if len(m.MTI) > 1 {
				f = fmt.Sprintf("match.mti[%d]", i)
			}
			errs = append(errs, fe(f, "%q is not a 4-digit message type like \"0200\"", iso.MaskText(mti)))
		}
	}
	// Card numbers are never echoed back, not even in an error.
	if strings.Contains(m.PAN, "*") {
		errs = append(errs, fe("match.pan", "is masked (listings hide card numbers): give the full number, or use pan_prefix"))
	} else if m.PAN != "" && (len(m.PAN) < 12 || len(m.PAN) > 19 || !iso.AllDigits(m.PAN)) {
		errs = append(errs, fe("match.pan", "must be a card number of 12 to 19 digits"))
	}
	if m.PANPrefix != "" && (len(m.PANPrefix) > 19 || !iso.AllDigits(m.PANPrefix)) {
		errs = append(errs, fe("match.pan_prefix", "must be 1 to 19 digits"))
	}
	if m.Terminal != "" && len(m.Terminal) > 8 {
		errs = append(errs, fe("match.terminal", "%q is longer than a terminal id (8 characters)", iso.MaskText(m.Terminal)))
	}
	if m.STAN != "" && (len(m.STAN) != 6 || !iso.AllDigits(m.STAN)) {
		errs = append(errs, fe("match.stan", "%q is not a 6-digit STAN (DE11) like \"000123\"", iso.MaskText(m.STAN)))
	}
	var amounts [3]int64
	for i, f := range []struct{ name, v string }{{"match.amount", m.Amount}, {"match.amount_min", m.AmountMin}, {"match.amount_max", m.AmountMax}} {
		if f.v == "" {
			continue
		}
		n, err := iso.ParseMoney(f.v)
		if err != nil {
			errs = append(errs, fe(f.name, "%v", err))
		}
		amounts[i] = n
	}
	if m.Amount != "" && (m.AmountMin != "" || m.AmountMax != "") {
		errs = append(errs, fe("match.amount", "cannot be combined with amount_min/amount_max"))
	}
	if m.AmountMin != "" && m.AmountMax != "" && amounts[1] > amounts[2] {
		errs = append(errs, fe("match.amount_min", "is more than amount_max"))
	}
	if pc := m.ProcessingCode; pc != "" && ((len(pc) != 2 && len(pc) != 6) || !iso.AllDigits(pc)) {
		errs = append(errs, fe("match.processing_code", "%q must be 6 digits, or 2 digits for the transaction type (\"20\" = refund)", iso.MaskText(pc)))
	}
	if m.EntryMode != "" && !contains(iso.EntryModes(), m.EntryMode) {
		errs = append(errs, fe("match.entry_mode", "unknown entry mode %q (known: %s)", iso.MaskText(m.EntryMode), strings.Join(iso.EntryModes(), ", ")))
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
