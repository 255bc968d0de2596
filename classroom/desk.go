package classroom

import (
	"fmt"
	"os"
	"strings"

	"github.com/posdrill/posdrill/acquirer"
	"github.com/posdrill/posdrill/simulator/tui"
	"github.com/posdrill/posdrill/trainer"
)

// Desk is the class as the trainer's console (tui.Console) sees it.
type Desk struct {
	C *Class
	// ExportBase is the results file without its extension: exports go to
	// ExportBase+".csv" / ".json".
	ExportBase string
}

var _ tui.ClassDesk = Desk{}

// Console returns the trainer's console for the class.
func (d Desk) Console(cfg tui.ConsoleConfig) *tui.Console {
	cfg.Desk = d
	if cfg.Drills == nil {
		cfg.Drills, _ = trainer.LibraryDrills(ClassCards())
	}
	return tui.NewConsole(cfg)
}

func (d Desk) Trainees() []tui.ClassTrainee {
	var out []tui.ClassTrainee
	for _, t := range d.C.Trainees() {
		row := tui.ClassTrainee{Name: t.Name, Terminal: t.Terminal, Online: t.Online, Drill: t.Drill, Armed: t.Armed}
		if t.Last != nil {
			row.LastDrill, row.Score, row.Max, row.Passed = t.Last.Drill, t.Last.Score, t.Last.Max, t.Last.Passed
		}
		if t.Held != nil {
			row.Held = &tui.HeldRequest{MTI: t.Held.MTI, Amount: t.Held.Amount, MaskedPAN: t.Held.MaskedPAN}
		}
		out = append(out, row)
	}
	return out
}

func (d Desk) Fault(tid string, f tui.FaultSpec) error {
	_, err := d.C.Fault(tid, trainer.RuleOf(f))
	return err
}

func (d Desk) StartDrill(name string) (int, error) { return d.C.StartDrill(name) }

func (d Desk) AnswerNextByHand(tid string, on bool) { d.C.AnswerNextByHand(tid, on) }

func (d Desk) Decide(tid, verdict, code string) error {
	return d.C.Decide(tid, acquirer.HandAnswer{Verdict: verdict, Code: code})
}

func (d Desk) Export(format string) (string, error) {
	if d.ExportBase == "" {
		return "", fmt.Errorf("export: the class keeps its results in memory; start it with --results FILE.db")
	}
	rs, err := d.C.Results()
	if err != nil {
		return "", err
	}
	path := d.ExportBase + "." + format
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	if format == "json" {
		err = WriteJSON(f, rs)
	} else {
		err = WriteCSV(f, rs)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	return path, nil
}

// ExportBase is path without a .db extension.
func ExportBase(path string) string { return strings.TrimSuffix(path, ".db") }
