package trace_test

import (
	"bytes"
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
