package scenarios

import (
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
)

func TestParseFlowEntryRoundTrip(t *testing.T) {
	for _, s := range []string{
		"0200 → 0210 00",
		"0200 → (none)",
		"0200 → (late 0210 00)",
		"0200 → 0210 00, (duplicate 0210 00)",
		"0200 → (unmatched 0210 00)",
		"0200 → (garbled)",
		"earlier 0200 → (late 0210 05)",
		"0800 → 0810",
		"...",
		"0400|0420 → 0410|0430 00", // alternatives, for terminals we do not control
		"0400|0420",                // answers not compared
		"0200",
	} {
		e, err := ParseFlowEntry(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got := e.String(); got != s {
			t.Errorf("%q printed back as %q", s, got)
		}
	}
	if e, err := ParseFlowEntry("0420->0430 00"); err != nil || e.String() != "0420 → 0430 00" {
		t.Errorf("ASCII arrow: %v %v", e, err)
	}
	for _, bad := range []string{"020", "0200|", "200 → (none)", "0200 → ", "0200 → (none), 0210 00", "0200 → (lost 0210)", "0200 → 0210 000", "0200 → (late 0210 00"} {
		if _, err := ParseFlowEntry(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMatchFlowWildcards(t *testing.T) {
	parse := func(ss ...string) []FlowEntry { return flowOf(t, ss...) }
	got := parse("0200 → (none)", "0420 → (none)", "0421 → (none)", "0421 → 0430 00")
	tests := []struct {
		want []FlowEntry
		ok   bool
	}{
		{parse("0200 → (none)", "0420 → (none)", "0421 → (none)", "0421 → 0430 00"), true},
		{parse("0200 → (none)", "...", "0421 → 0430 00"), true},
		{parse("...", "0421 → 0430 00"), true},
		{parse("0200 → (none)", "..."), true},
		{parse("..."), true},
		{parse("0200 → (none)", "...", "0420 → 0430 00"), false},
		{parse("0200 → (none)"), false},
		{parse(), false},
		{parse("...", "0200 → (none)", "...", "0421 → (none)", "..."), true},
	}
	for i, tt := range tests {
		if matchFlow(tt.want, got) != tt.ok {
			t.Errorf("case %d: %v against %v: want %v", i, FormatFlow(tt.want), FormatFlow(got), tt.ok)
		}
	}
	if !matchFlow(parse(), nil) {
		t.Error("an empty flow does not match no messages")
	}
}

// TestFlowPairing builds flows from raw wire records: in time, late (after the terminal's
// response timeout), duplicate, unmatched (wrong STAN), garbled, and an answer to an
// earlier step's request.
func TestFlowPairing(t *testing.T) {
	t0 := DefaultStart
	r := newRecorder(t0, 30*time.Second)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	out := func(step, s int, mti, stan string) wireRec {
		return wireRec{step: step, at: at(s), dir: iso.Out, mti: mti, stan: stan, tid: "TERM0001"}
	}
	in := func(step, s int, mti, stan, code string) wireRec {
		return wireRec{step: step, at: at(s), dir: iso.In, mti: mti, stan: stan, tid: "TERM0001", code: code}
	}
	wire := []wireRec{
		out(0, 0, "0800", "000001"), in(0, 0, "0810", "000001", "00"),
		out(0, 0, "0200", "000002"), in(0, 0, "0210", "000099", "00"), // wrong STAN
		out(0, 30, "0420", "000002"), in(0, 30, "0430", "000002", "00"), in(0, 30, "0430", "000002", "00"),
		out(1, 60, "0200", "000003"), {step: 1, at: at(60), dir: iso.In, garbled: true},
		in(2, 95, "0210", "000003", "00"), // 35 s later: late, and in the next step
	}
	items := r.flowItems(wire)
	check := func(name string, got []FlowEntry, want ...string) {
		t.Helper()
		if g := FormatFlow(got); !equalStrings(g, want) {
			t.Errorf("%s:\n got %q\nwant %q", name, g, want)
		}
	}
	check("step 0", stepFlow(items, 0), "0800 → 0810 00", "0200 → (unmatched 0210 00)", "0420 → 0430 00, (duplicate 0430 00)")
	check("step 1", stepFlow(items, 1), "0200 → (garbled)")
	check("step 2", stepFlow(items, 2), "earlier 0200 → (late 0210 00)")
	check("run", runFlow(items), "0800 → 0810 00", "0200 → (unmatched 0210 00)", "0420 → 0430 00, (duplicate 0430 00)", "0200 → (garbled), (late 0210 00)")
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMatchFlowAlternatives(t *testing.T) {
	parse := func(ss ...string) []FlowEntry { return flowOf(t, ss...) }
	want := parse("0200 → (none)", "0400|0420 → 0410|0430 00")
	for _, tc := range []struct {
		name string
		got  []FlowEntry
		ok   bool
	}{
		{"0420", parse("0200 → (none)", "0420 → 0430 00"), true},
		{"0400", parse("0200 → (none)", "0400 → 0410 00"), true},
		{"0421 is not 0420", parse("0200 → (none)", "0421 → 0430 00"), false},
		{"refused", parse("0200 → (none)", "0420 → 0430 96"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchFlow(want, tc.got); got != tc.ok {
				t.Errorf("matchFlow = %v, want %v", got, tc.ok)
			}
		})
	}
	if !matchFlow(parse("0200 → (none)", "0400|0420"), parse("0200 → (none)", "0420 → (none)")) {
		t.Error("an entry without arrow must match whatever came back")
	}
}

// flowOf parses flow entries that must be valid.
func flowOf(t *testing.T, ss ...string) []FlowEntry {
	t.Helper()
	var out []FlowEntry
	for _, s := range ss {
		e, err := ParseFlowEntry(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
