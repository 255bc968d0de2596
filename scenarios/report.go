package scenarios

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ProgressLine is the one line `posdrill run` prints per scenario on a terminal.
func ProgressLine(r *Result) string {
	status := "PASS"
	switch {
	case !r.Passed:
		status = "FAIL"
	case r.Skipped != "":
		return fmt.Sprintf("SKIP  %-40s %s  (%s)", r.Name, r.Title, r.Skipped)
	}
	if r.Host != "" {
		line := fmt.Sprintf("%s  %-40s %s  (against %s, %s, seed %d)", status, r.Name, r.Title, r.Host, roundDuration(r.WallTime), r.Seed)
		if n := len(r.Skips); n > 0 {
			line += fmt.Sprintf(", %d check(s) skipped", n)
		}
		return line
	}
	if r.External {
		return fmt.Sprintf("%s  %-40s %s  (%s real time, seed %d)", status, r.Name, r.Title, roundDuration(r.WallTime), r.Seed)
	}
	return fmt.Sprintf("%s  %-40s %s  (simulated %s in %s, seed %d)", status, r.Name, r.Title,
		r.SimTime, roundDuration(r.WallTime), r.Seed)
}

// WriteText writes the human summary: every failure with its diff, seed and trace (every
// scenario's trace when verbose), then one line of totals.
func (r *Report) WriteText(w io.Writer, verbose bool) error {
	var b strings.Builder
	for _, res := range r.Results {
		switch {
		case !res.Passed:
			b.WriteString("\n")
			b.WriteString(res.FailureText())
		case verbose:
			fmt.Fprintf(&b, "\nscenario %s (%s) passed — seed %d\n  trace:\n", res.Name, res.File, res.Seed)
			for _, l := range res.Trace {
				b.WriteString("    " + l + "\n")
			}
		}
	}
	// Skips are named, each with its reason: a skipped check is not a passed one.
	for _, res := range r.Results {
		if res.Skipped != "" {
			fmt.Fprintf(&b, "\nskipped scenario %s: %s", res.Name, res.Skipped)
		}
	}
	for _, res := range r.Results {
		for _, sk := range res.Skips {
			fmt.Fprintf(&b, "\nskipped check in %s: %s", res.Name, sk)
		}
	}
	if r.SkippedScenarios()+r.SkippedChecks() > 0 {
		b.WriteString("\n")
	}
	skipped := ""
	if n, c := r.SkippedScenarios(), r.SkippedChecks(); n+c > 0 {
		skipped = fmt.Sprintf(", %d skipped (%d checks skipped in the others)", n, c)
	}
	if len(r.Results) > 0 && !slices.ContainsFunc(r.Results, func(res *Result) bool { return !res.External }) {
		// Cases for an external terminal run in real time: there is no simulated time.
		fmt.Fprintf(&b, "\n%d cases: %d passed, %d failed · %s real time · %s\n",
			len(r.Results), len(r.Results)-r.Failed(), r.Failed(), roundDuration(r.WallTime), r.SeedText())
	} else if host := r.host(); host != "" && !slices.ContainsFunc(r.Results, func(res *Result) bool { return res.Host != host }) {
		// Against an external host the run takes real time: nothing was simulated.
		fmt.Fprintf(&b, "\n%d scenarios: %d passed, %d failed%s · against %s, %s real time · %s\n",
			len(r.Results), len(r.Results)-r.Failed()-r.SkippedScenarios(), r.Failed(), skipped, host, roundDuration(r.WallTime), r.SeedText())
	} else {
		fmt.Fprintf(&b, "\n%d scenarios: %d passed, %d failed%s · simulated %s in %s wall · %s\n",
			len(r.Results), len(r.Results)-r.Failed()-r.SkippedScenarios(), r.Failed(), skipped, r.SimTime(), roundDuration(r.WallTime), r.SeedText())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// host is the external host of the first result, "" when there is none.
func (r *Report) host() string {
	if len(r.Results) == 0 {
		return ""
	}
	return r.Results[0].Host
}

// JUnit XML, in the shape CI systems read (Jenkins, GitLab, GitHub actions reporters):
// one testsuite, one testcase per scenario, failure message and body with the diff and the
// trace.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	suite := junitSuite{
		Name:     "posdrill scenarios",
		Tests:    len(r.Results),
		Failures: r.Failed(),
		Skipped:  r.SkippedScenarios(),
		Time:     seconds(r.WallTime),
		Properties: []junitProperty{
			{"seed", r.SeedText()},
			{"simulated_time", r.SimTime().String()},
			{"response_codes", strings.Join(r.ResponseCodes(), " ")},
			{"fault_actions", strings.Join(r.FaultActions(), " ")},
		},
	}
	for _, res := range r.Results {
		c := junitCase{
			Name:      res.Name,
			Classname: "posdrill.scenarios",
			File:      res.File,
			Time:      seconds(res.WallTime),
			SystemOut: fmt.Sprintf("%s\nseed %d · simulated %s\n\n%s\n", res.Title, res.Seed, res.SimTime, strings.Join(res.Trace, "\n")),
		}
		if res.Skipped != "" {
			c.Skipped = &junitSkipped{Message: res.Skipped}
		}
		if len(res.Skips) > 0 {
			var lines []string
			for _, sk := range res.Skips {
				lines = append(lines, "skipped check: "+sk.String())
			}
			c.SystemOut = strings.Join(lines, "\n") + "\n" + c.SystemOut
		}
		if !res.Passed {
			msg := "failed"
			if len(res.Failures) > 0 {
				f := res.Failures[0]
				msg = f.What + ": " + f.Message
				if len(res.Failures) > 1 {
					msg += fmt.Sprintf(" (and %d more)", len(res.Failures)-1)
				}
			}
			c.Failure = &junitFailure{Message: msg, Type: "ExpectationFailed", Body: res.FailureText()}
		}
		suite.Cases = append(suite.Cases, c)
	}
	// An invalid file is a JUnit error (the test could not run), one case per file, so a CI
	// reporter shows what to fix instead of an empty report.
	for _, file := range r.Invalid.Files() {
		var lines []string
		for _, e := range r.Invalid {
			if e.Pos.File == file {
				lines = append(lines, e.Error())
			}
		}
		suite.Tests++
		suite.Errors++
		suite.Cases = append(suite.Cases, junitCase{
			Name: file, Classname: "posdrill.scenarios", File: file, Time: seconds(0),
			Error: &junitFailure{Message: fmt.Sprintf("invalid scenario file: %d problem(s); nothing was run", len(lines)),
				Type: "InvalidScenario", Body: strings.Join(lines, "\n")},
		})
	}
	doc := junitSuites{Name: "posdrill", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// JSON report.

// JSONReport is the shape of the JSON report (exported so tools can decode it).
type JSONReport struct {
	Seed          *int64       `json:"seed"` // null: each scenario used its own (see results)
	SeedNote      string       `json:"seed_note"`
	Scenarios     int          `json:"scenarios"`
	Passed        int          `json:"passed"`
	Failed        int          `json:"failed"`
	Skipped       int          `json:"skipped"`        // scenarios not run (see results[].skipped)
	SkippedChecks int          `json:"skipped_checks"` // expectations not checked in the others
	SimTimeMS     int64        `json:"sim_time_ms"`
	SimTime       string       `json:"sim_time"`
	WallTimeMS    float64      `json:"wall_time_ms"`
	ResponseCodes []string     `json:"response_codes"`
	FaultActions  []string     `json:"fault_actions"`
	DeviceFaults  []string     `json:"device_faults"`
	Outcomes      []string     `json:"outcomes"`
	Results       []JSONResult `json:"results"`
	// Invalid lists the problems of scenario files that stopped the run (nothing ran).
	Invalid []JSONProblem `json:"invalid,omitempty"`
}

// JSONProblem is one problem in a scenario file.
type JSONProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// JSONResult is one scenario in the JSON report.
type JSONResult struct {
	Name          string        `json:"name"`
	Title         string        `json:"title"`
	File          string        `json:"file"`
	Tags          []string      `json:"tags"`
	Seed          int64         `json:"seed"`
	Passed        bool          `json:"passed"`
	Host          string        `json:"host,omitempty"`
	Skipped       string        `json:"skipped,omitempty"`
	Skips         []JSONSkip    `json:"skips,omitempty"`
	Error         string        `json:"error,omitempty"`
	Failures      []JSONFailure `json:"failures"`
	Steps         int           `json:"steps"`
	SimTimeMS     int64         `json:"sim_time_ms"`
	SimTime       string        `json:"sim_time"`
	WallTimeMS    float64       `json:"wall_time_ms"`
	ResponseCodes []string      `json:"response_codes"`
	FaultActions  []string      `json:"fault_actions"`
	DeviceFaults  []string      `json:"device_faults"`
	Outcomes      []string      `json:"outcomes"`
	Trace         []string      `json:"trace"`
}

// JSONSkip is one expectation that could not be checked.
type JSONSkip struct {
	Label  string `json:"label"`
	What   string `json:"what"`
	Reason string `json:"reason"`
}

// JSONFailure is one failed expectation.
type JSONFailure struct {
	Step    int    `json:"step"` // 1-based like the text's "step 1"; 0: the final expect or the run itself
	Label   string `json:"label"`
	What    string `json:"what"`
	Message string `json:"message"`
	Diff    string `json:"diff,omitempty"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// JSON builds the JSON report.
func (r *Report) JSON() JSONReport {
	out := JSONReport{
		Seed:          r.SeedOverride,
		SeedNote:      r.SeedText(),
		Scenarios:     len(r.Results),
		Passed:        len(r.Results) - r.Failed() - r.SkippedScenarios(),
		Failed:        r.Failed(),
		Skipped:       r.SkippedScenarios(),
		SkippedChecks: r.SkippedChecks(),
		SimTimeMS:     r.SimTime().Milliseconds(),
		SimTime:       r.SimTime().String(),
		WallTimeMS:    float64(r.WallTime.Microseconds()) / 1000,
		ResponseCodes: nonNil(r.ResponseCodes()),
		FaultActions:  nonNil(r.FaultActions()),
		DeviceFaults:  nonNil(r.DeviceFaults()),
		Outcomes:      nonNil(r.Outcomes()),
		Results:       []JSONResult{},
	}
	for _, res := range r.Results {
		jr := JSONResult{
			Name: res.Name, Title: res.Title, File: res.File, Tags: nonNil(res.Tags), Seed: res.Seed,
			Passed: res.Passed, Host: res.Host, Skipped: res.Skipped, Error: res.Err, Failures: []JSONFailure{}, Steps: res.Steps,
			SimTimeMS: res.SimTime.Milliseconds(), SimTime: res.SimTime.String(),
			WallTimeMS:    float64(res.WallTime.Microseconds()) / 1000,
			ResponseCodes: nonNil(res.ResponseCodes), FaultActions: nonNil(res.FaultActions),
			DeviceFaults: nonNil(res.DeviceFaults), Outcomes: nonNil(res.Outcomes), Trace: nonNil(res.Trace),
		}
		for _, sk := range res.Skips {
			jr.Skips = append(jr.Skips, JSONSkip{Label: sk.Label, What: sk.What, Reason: sk.Reason})
		}
		for _, f := range res.Failures {
			// Result.Step is an index (-1: no step); readers of the report see "step 1" in
			// the label and the text, so the number agrees with them.
			jr.Failures = append(jr.Failures, JSONFailure{Step: f.Step + 1, Label: f.Label, What: f.What, Message: f.Message, Diff: f.Diff})
		}
		out.Results = append(out.Results, jr)
	}
	for _, e := range r.Invalid {
		out.Invalid = append(out.Invalid, JSONProblem{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg})
	}
	return out
}

// WriteJSON writes the JSON report, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.JSON())
}
