package trace_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/posdrill/posdrill/iso/trace"
)

func TestImportJPOS(t *testing.T) {
	f, err := os.Open("../../testdata/traces/jpos-sample.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := trace.ImportJPOS(f, trace.NewWriter(&buf), trace.JPOSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("imported %d messages, want 5", n)
	}
	noCardData(t, buf.Bytes())
	golden(t, "../../testdata/traces/jpos-sample.jsonl", buf.Bytes())
	recs, err := trace.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// The host received the requests: they are the terminal side, each with its answer,
	// except the sale of STAN 000124 whose answer the log does not have.
	src, exs := trace.Requests(recs)
	if src != trace.SourceAcquirer || len(exs) != 3 {
		t.Fatalf("requests: %s %d", src, len(exs))
	}
	if exs[0].Recorded == nil || exs[1].Recorded != nil || exs[2].Recorded == nil || exs[2].Recorded.MTI != "0430" {
		t.Errorf("answers matched wrongly: %+v", exs)
	}
	if !strings.Contains(recs[0].Message.Err, "composite fields not imported: 55") {
		t.Errorf("composite DE55 not noted: %q", recs[0].Message.Err)
	}
}

func TestImportJPOSErrors(t *testing.T) {
	for name, in := range map[string]string{
		"no direction": `<isomsg><field id="0" value="0800"/></isomsg>`,
		"bad field id": `<log><send><isomsg><field id="x" value="1"/></isomsg></send></log>`,
		"bad time":     `<log at="noon"><send><isomsg><field id="0" value="0800"/></isomsg></send></log>`,
	} {
		_, err := trace.ImportJPOS(strings.NewReader(in), trace.NewWriter(&bytes.Buffer{}), trace.JPOSOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), "line ") {
			t.Errorf("%s: err = %v, want one with a line", name, err)
		}
	}
}

// jPOS 1.x writes "at" as Java's Date.toString with the milliseconds after the year; jPOS 2
// as ISO 8601. Both import, to the millisecond.
func TestImportJPOSTimes(t *testing.T) {
	tests := []struct{ at, want string }{
		{"Tue Nov 26 10:15:00 UTC 2024.123", "2024-11-26T10:15:00.123Z"},
		{"Tue Nov 26 10:15:00 UTC 2024", "2024-11-26T10:15:00Z"},
		{"Tue Nov 26 10:15:00.456 UTC 2024", "2024-11-26T10:15:00.456Z"},
		{"Tue Nov  5 10:15:00 UTC 2024.7", "2024-11-05T10:15:00.007Z"},
		{"2024-11-26T10:15:00.123", "2024-11-26T10:15:00.123Z"},
		{"2024-11-26T10:15:00.123+08:00", "2024-11-26T02:15:00.123Z"},
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			in := `<log realm="c" at="` + tt.at + `"><send><isomsg><field id="0" value="0800"/><field id="11" value="000001"/></isomsg></send></log>`
			var buf bytes.Buffer
			if _, err := trace.ImportJPOS(strings.NewReader(in), trace.NewWriter(&buf), trace.JPOSOptions{}); err != nil {
				t.Fatal(err)
			}
			recs, err := trace.ReadAll(&buf)
			if err != nil || len(recs) != 1 {
				t.Fatalf("records %v, %v", recs, err)
			}
			if got := recs[0].Message.Time.UTC().Format("2006-01-02T15:04:05.999Z07:00"); got != tt.want {
				t.Errorf("time %s, want %s", got, tt.want)
			}
		})
	}
}

// A message a participant logs inside <info> (or <debug>, <warn>) has no direction and
// usually repeats one logged in <send>/<receive>: it is passed over and reported, and the
// import goes on.
func TestImportJPOSSkipsInfoBlocks(t *testing.T) {
	in := `<log realm="c" at="2024-11-26T10:15:00">
  <receive><isomsg><field id="0" value="0200"/><field id="11" value="000001"/></isomsg></receive>
  <info>
    <isomsg><field id="0" value="0200"/><field id="11" value="000001"/></isomsg>
  </info>
</log>
<log realm="c" at="2024-11-26T10:15:01">
  <send><isomsg><field id="0" value="0210"/><field id="11" value="000001"/><field id="39" value="00"/></isomsg></send>
</log>`
	var buf bytes.Buffer
	var skipped []string
	n, err := trace.ImportJPOS(strings.NewReader(in), trace.NewWriter(&buf), trace.JPOSOptions{
		Skipped: func(line int, why string) { skipped = append(skipped, fmt.Sprintf("line %d: %s", line, why)) }})
	if err != nil || n != 2 {
		t.Fatalf("ImportJPOS = %d, %v; want 2 messages", n, err)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0], "line 4: <isomsg> inside <info> has no direction") {
		t.Errorf("skipped = %q", skipped)
	}
	recs, _ := trace.ReadAll(&buf)
	if recs[0].Message.Dir != "in" || recs[1].Message.Dir != "out" {
		t.Errorf("directions %s, %s", recs[0].Message.Dir, recs[1].Message.Dir)
	}
}
