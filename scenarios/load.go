package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

//go:embed library/*.yaml
var library embed.FS

// libraryDir is where the built-ins live inside the embedded FS, and how their File reads.
const libraryDir = "library"

// LibraryFS is the built-in scenario library (library/*.yaml).
func LibraryFS() fs.FS { return library }

// Library parses every built-in scenario, sorted by name.
func Library() ([]*Scenario, error) {
	entries, err := fs.Glob(library, "library/*.yaml")
	if err != nil {
		return nil, err
	}
	var scs []*Scenario
	var errs ErrorList
	for _, e := range entries {
		sc, err := parseFS(library, e, e)
		if err != nil {
			errs = append(errs, asList(err)...)
			continue
		}
		scs = append(scs, sc)
	}
	errs = append(errs, checkNames(scs)...)
	sort.Slice(scs, func(i, j int) bool { return scs[i].Name < scs[j].Name })
	errs.sort()
	return scs, errs.Err()
}

// Load resolves arguments as `posdrill run` does: a .yaml/.yml file, a directory (every
// .yaml/.yml file under it, recursively), or the name of a library scenario. With no
// arguments it returns the whole library. It returns every scenario that is valid and,
// when some are not, an ErrorList with every problem of every file (errors.Is ErrInvalid).
func Load(args ...string) ([]*Scenario, error) {
	if len(args) == 0 {
		return Library()
	}
	var lib []*Scenario
	var libErr error
	libLoaded := false
	var scs []*Scenario
	var errs ErrorList
	add := func(sc *Scenario, err error) {
		if err != nil {
			errs = append(errs, asList(err)...)
			return
		}
		scs = append(scs, sc)
	}
	for _, arg := range args {
		info, statErr := os.Stat(arg)
		switch {
		case statErr == nil && info.IsDir():
			var files []string
			err := filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && isYAML(p) {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				errs = append(errs, &Error{Pos{File: arg}, fmt.Sprintf("cannot read the directory: %v", unwrapPathError(err))})
				continue
			}
			if len(files) == 0 {
				errs = append(errs, &Error{Pos{File: arg}, "the directory holds no .yaml scenario files"})
			}
			sort.Strings(files)
			for _, f := range files {
				add(ParseFile(f))
			}
		case statErr == nil:
			add(ParseFile(arg))
		case isYAML(arg) || strings.ContainsRune(arg, os.PathSeparator) || strings.ContainsRune(arg, '/'):
			errs = append(errs, &Error{Pos{File: arg}, fmt.Sprintf("cannot read the file: %v", unwrapPathError(statErr))})
		default:
			if !libLoaded {
				lib, libErr = Library()
				libLoaded = true
				if libErr != nil {
					errs = append(errs, asList(libErr)...)
				}
			}
			i := slices.IndexFunc(lib, func(sc *Scenario) bool { return sc.Name == arg })
			if i < 0 {
				names := make([]string, len(lib))
				for j, sc := range lib {
					names[j] = sc.Name
				}
				errs = append(errs, &Error{Pos{File: arg}, fmt.Sprintf("no such file, directory or library scenario%s; `posdrill run --list` shows the library", suggest(arg, names))})
				continue
			}
			scs = append(scs, lib[i])
		}
	}
	scs = dedupe(scs)
	errs = append(errs, checkNames(scs)...)
	errs.sort()
	return scs, errs.Err()
}

// asList returns err's problems as an ErrorList (one entry for a foreign error).
func asList(err error) ErrorList {
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	return ErrorList{{Msg: err.Error()}}
}

func isYAML(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

// dedupe drops a scenario named twice on the command line (same file).
func dedupe(scs []*Scenario) []*Scenario {
	var out []*Scenario
	for _, sc := range scs {
		if !slices.ContainsFunc(out, func(o *Scenario) bool { return o.File == sc.File && o.Name == sc.Name }) {
			out = append(out, sc)
		}
	}
	return out
}

// checkNames reports two scenarios of one run sharing a name (names identify subtests,
// JUnit cases and re-runs).
func checkNames(scs []*Scenario) ErrorList {
	var errs ErrorList
	seen := map[string]*Scenario{}
	for _, sc := range scs {
		if first, ok := seen[sc.Name]; ok {
			errs = append(errs, &Error{Pos{File: sc.File, Line: 1, Col: 1},
				fmt.Sprintf("scenario name %q is already used by %s; give one of them another name", sc.Name, first.File)})
			continue
		}
		seen[sc.Name] = sc
	}
	return errs
}

// FilterTags keeps the scenarios that carry at least one of tags (all when tags is empty).
func FilterTags(scs []*Scenario, tags []string) []*Scenario {
	if len(tags) == 0 {
		return scs
	}
	var out []*Scenario
	for _, sc := range scs {
		if slices.ContainsFunc(sc.Tags, func(t string) bool { return slices.Contains(tags, t) }) {
			out = append(out, sc)
		}
	}
	return out
}
