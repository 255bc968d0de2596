package main

import (
	"runtime/debug"
	"strings"
)

// version describes this binary from its build info: the module version (set by
// `go install ...@v1.2.3`; "(devel)" in a checkout) and the VCS revision, time and dirty flag
// that `go build` stamps in a checkout. Nothing is set by hand, so it cannot go stale.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "posdrill (no build information)"
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var extra []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		extra = append(extra, "revision "+rev)
	}
	if at != "" {
		extra = append(extra, at)
	}
	if modified {
		extra = append(extra, "modified")
	}
	if info.GoVersion != "" {
		extra = append(extra, info.GoVersion)
	}
	out := "posdrill " + v
	if len(extra) > 0 {
		out += " (" + strings.Join(extra, ", ") + ")"
	}
	return out
}
