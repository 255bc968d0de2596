package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"go install of a tag", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			"posdrill v1.2.3 (go1.26.8)"},
		{"checkout build", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "9c82fa8e0d1f2a3b4c5d6e7f8091a2b3c4d5e6f7"},
			{Key: "vcs.time", Value: "2026-12-05T17:17:35Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, "posdrill (devel) (revision 9c82fa8e0d1f, 2026-12-05T17:17:35Z, modified, go1.26.8)"},
		{"nothing known", debug.BuildInfo{}, "posdrill (devel)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(&tt.info); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
