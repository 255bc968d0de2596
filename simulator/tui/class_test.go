package tui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/simulator"
)

// TestClassDrillRecordedBeforeScore: in a class, a drill the trainer starts opens by
// name, is reported when it starts, and its score appears only once RecordDrill returned
// (the class has it on disk); a result the class did not take is said so on screen.
func TestClassDrillRecordedBeforeScore(t *testing.T) {
	started := make(chan string, 1)
	recorded := make(chan DrillRecord, 1)
	release := make(chan error)
	hs := startApp(t, Config{Terminal: expiredTerm(), Host: newFakeHost(), Wallet: testWallet, Drills: []Drill{expiredDrill},
		Class:        "张三",
		DrillStarted: func(_ context.Context, name string, _ time.Time) { started <- name },
		RecordDrill: func(_ context.Context, r DrillRecord) error {
			recorded <- r
			return <-release
		}}, 80, 24)
	hs.waitFor("READY", "class: 张三")

	hs.app.StartDrill("no-such-drill")
	hs.waitFor(`The class asked for drill "no-such-drill"`)

	hs.app.StartDrill(expiredDrill.Name)
	hs.waitFor("THE SITUATION", "drill: Card with a worn")
	if got := <-started; got != expiredDrill.Name {
		t.Errorf("DrillStarted(%q), want %q", got, expiredDrill.Name)
	}
	hs.payWith("2500", '3', 'i', "1234") // the same expired card: the forbidden retry is not needed to fail
	hs.waitFor("DECLINED — 54")
	hs.press(K(KeyF4), R('f'))
	var r DrillRecord
	select {
	case r = <-recorded:
	case <-time.After(15 * time.Second):
		t.Fatal("RecordDrill was never called")
	}
	// The record is being kept: no score on screen yet.
	screen := hs.waitFor("Scoring…")
	if strings.Contains(screen, "Score:") {
		t.Errorf("a score shows before the class recorded it:\n%s", screen)
	}
	missing, forbidden := r.Missing()
	if r.Drill != expiredDrill.Name || r.Score != 1 || r.Max != 2 || r.Passed ||
		!slices.Equal(missing, []string{simulator.ActOtherCard}) || len(forbidden) != 0 {
		t.Errorf("record %+v (missing %v, forbidden %v)", r, missing, forbidden)
	}
	release <- errors.New("class unreachable")
	hs.waitFor("Score: 1 of 2", "Result NOT recorded by the class: class unreachable")

	// The link drops and comes back: the title bar and the notice say so.
	hs.app.ClassLink(false)
	hs.waitFor("class link LOST (张三)", "The connection to the class dropped")
	hs.app.ClassLink(true)
	hs.waitFor("class: 张三", "Back in the class")
}
