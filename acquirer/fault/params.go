package fault

import (
	"fmt"
	"sort"
	"strconv"
)

// Param is one parameter of a rule (Rule.Params): its key in rule files, the admin API and
// traces, its flag on `posdrill fault add`, what it says, and where it lives in Params. The
// table below is the one list of them: the parser, validation, ParamMap, the runner's and
// from-trace's rule text, the CLI's flags and the docs test read it, so a new parameter is
// added here and nowhere else (plus its action's entry in actionParams).
type Param struct {
	Key    string // "gap_ms"
	Flag   string // "gap-ms"
	Number bool   // an integer (milliseconds, bytes); otherwise text
	Help   string
	str    func(*Params) *string
	num    func(*Params) *int
}

var paramTable = []Param{
	{Key: "code", Flag: "code", Help: "decline: the response code (DE39)",
		str: func(p *Params) *string { return &p.Code }},
	{Key: "ms", Flag: "ms", Number: true, Help: "delay, delay_request, refuse_connections: milliseconds",
		num: func(p *Params) *int { return &p.MS }},
	{Key: "bytes", Flag: "bytes", Number: true, Help: "truncate_response: bytes of the answer written before the connection closes",
		num: func(p *Params) *int { return &p.Bytes }},
	{Key: "chunk", Flag: "chunk", Number: true, Help: "split_response: bytes per write",
		num: func(p *Params) *int { return &p.Chunk }},
	{Key: "gap_ms", Flag: "gap-ms", Number: true, Help: "split_response: milliseconds between writes",
		num: func(p *Params) *int { return &p.GapMS }},
	// --amount on the command line matches the request's amount; this one is the answer's.
	{Key: "amount", Flag: "partial-amount", Help: "partial_approval: the approved amount in major units (\"10.00\")",
		str: func(p *Params) *string { return &p.Amount }},
}

// ParamList returns every rule parameter, in a fixed order.
func ParamList() []Param { return append([]Param(nil), paramTable...) }

// ParamKeys returns every parameter's key, in ParamList's order.
func ParamKeys() []string {
	keys := make([]string, len(paramTable))
	for i, p := range paramTable {
		keys[i] = p.Key
	}
	return keys
}

func paramByKey(key string) (Param, bool) {
	for _, p := range paramTable {
		if p.Key == key {
			return p, true
		}
	}
	return Param{}, false
}

// Get is the parameter's value in ps as text, "" when it is not set (zero).
func (p Param) Get(ps Params) string {
	if p.num != nil {
		if n := *p.num(&ps); n != 0 {
			return strconv.Itoa(n)
		}
		return ""
	}
	return *p.str(&ps)
}

// Set stores a value written as text into ps: a number parameter wants an integer.
func (p Param) Set(ps *Params, v string) error {
	if p.num != nil {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("params.%s: %q is not a whole number", p.Key, v)
		}
		*p.num(ps) = n
		return nil
	}
	*p.str(ps) = v
	return nil
}

// IntPtr and StringPtr give where the parameter lives in ps (one of them is nil), for flag
// packages that bind to a variable.
func (p Param) IntPtr(ps *Params) *int {
	if p.num == nil {
		return nil
	}
	return p.num(ps)
}

// StringPtr: see IntPtr.
func (p Param) StringPtr(ps *Params) *string {
	if p.str == nil {
		return nil
	}
	return p.str(ps)
}

// ParamMap is p as key → value for traces and records; nil when no parameter is set.
func ParamMap(p Params) map[string]string {
	m := map[string]string{}
	for _, pr := range paramTable {
		if v := pr.Get(p); v != "" {
			m[pr.Key] = v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// Actions returns every action (not the aliases), sorted.
func Actions() []string {
	out := make([]string, 0, len(actionParams))
	for a := range actionParams {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ActionParams returns the keys of the parameters action takes.
func ActionParams(action string) []string { return append([]string(nil), actionParams[action]...) }
