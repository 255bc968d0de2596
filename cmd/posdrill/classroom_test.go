package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/classroom"
	"github.com/posdrill/posdrill/simulator"
	"github.com/posdrill/posdrill/simulator/tui"
)

// TestClassroomCommand: `posdrill classroom --headless` serves a class on the addresses it
// prints; a trainee joins and reports; a class restarted on the same results file gives
// the trainee the same terminal id; `classroom export` writes the row.
func TestClassroomCommand(t *testing.T) {
	results := filepath.Join(t.TempDir(), "class.db")
	run := func() (api string, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- runClassroom(ctx, classroomFlags{listen: ":0", admin: ":0", results: results, headless: true, seed: 1}, pw, io.Discard)
			pw.Close()
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil {
			t.Fatalf("first line: %v", err)
		}
		go io.Copy(io.Discard, pr)
		_, admin, ok := strings.Cut(strings.TrimSpace(line), " admin=")
		if !strings.HasPrefix(line, "listening iso=127.0.0.1:") || !ok {
			t.Fatalf("first line %q", line)
		}
		return admin, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("classroom: %v", err)
			}
		}
	}
	api, stop := run()
	link, err := classroom.Join(context.Background(), api, "张三")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := tui.DrillRecord{Drill: "no-answer", Started: now, Finished: now, DrillScore: simulator.DrillScore{Max: 1,
		Lines: []simulator.DrillLine{{Action: simulator.ActCheckLast}}}}
	if err := link.RecordDrill(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	link.Close()
	stop()

	api, stop = run()
	defer stop()
	link, err = classroom.Join(context.Background(), api, "张三")
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	if link.Terminal() != "CLASS001" {
		t.Errorf("after the restart 张三 is %s, want CLASS001", link.Terminal())
	}

	cmd := newClassroomExportCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--results", results, "--csv"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "trainee,terminal,drill,started,finished,score,max,passed,missing,forbidden\n张三,CLASS001,no-answer,") ||
		!strings.Contains(out.String(), ",0,1,false,check_last,\n") {
		t.Errorf("export:\n%s", out.String())
	}
}
