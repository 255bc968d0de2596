package main

import (
	"fmt"
	"io"

	"github.com/posdrill/posdrill/scenarios"
)

// reportSet is the report outputs of a command that runs scenarios or cases (run,
// check-terminal): --junit FILE, --json-report FILE and --json (stdout). The files are
// opened before anything runs, so a path that cannot be written fails at once.
type reportSet struct {
	outs []reportOut
}

type reportOut struct {
	write func(*scenarios.Report, io.Writer) error
	w     io.Writer
	close func() error
	flag  string
}

// openReports opens the outputs the flags ask for ("" : none).
func openReports(stdout io.Writer, junitPath, jsonPath string, asJSON bool) (*reportSet, error) {
	rs := &reportSet{}
	for _, r := range []struct {
		flag, path string
		write      func(*scenarios.Report, io.Writer) error
	}{
		{"--junit", junitPath, (*scenarios.Report).WriteJUnit},
		{"--json-report", jsonPath, (*scenarios.Report).WriteJSON},
	} {
		if r.path == "" {
			continue
		}
		w, closeFn, err := createOutput(stdout, r.flag, r.path)
		if err != nil {
			rs.close()
			return nil, err
		}
		rs.outs = append(rs.outs, reportOut{r.write, w, closeFn, r.flag})
	}
	if asJSON {
		rs.outs = append(rs.outs, reportOut{(*scenarios.Report).WriteJSON, stdout, func() error { return nil }, "--json"})
	}
	return rs, nil
}

// write writes rep to every output and closes it.
func (rs *reportSet) write(rep *scenarios.Report) error {
	for i, r := range rs.outs {
		err := r.write(rep, r.w)
		if cerr := r.close(); err == nil {
			err = cerr
		}
		rs.outs[i].close = func() error { return nil }
		if err != nil {
			return fmt.Errorf("%s: %w", r.flag, err)
		}
	}
	return nil
}

// close closes what write has not (an early return).
func (rs *reportSet) close() {
	for _, r := range rs.outs {
		_ = r.close()
	}
}
