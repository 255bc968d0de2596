package bounded

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Default sizes for the files posdrill reads.
const (
	// MaxDocument bounds a configuration document: a scenario, fault rules, cards, a
	// terminal profile, a dialect spec, encode input.
	MaxDocument = 1 << 20
	// MaxTrace bounds a trace or capture file read back (decode, replay, from-trace).
	MaxTrace = 256 << 20
)

// ErrNotRegular is returned (wrapped) for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned (wrapped) for input over its size bound.
var ErrTooLarge = errors.New("too large")

// Open opens path for reading if it is a regular file of at most max bytes (max <= 0: no
// size bound). The checks use the opened file's own Stat, so a path swapped between check
// and open cannot slip a FIFO or a device through. Opening a FIFO for reading blocks until
// a writer appears, so Open first looks at the path without following it into the open
// (O_NONBLOCK on the open itself), and refuses anything but a regular file.
func Open(path string, max int64) (*os.File, error) {
	f, err := openNonblock(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := checkInfo(path, st, max); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkInfo(path string, st fs.FileInfo, max int64) error {
	if !st.Mode().IsRegular() {
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (it is %s)", ErrNotRegular, kind(st.Mode()))}
	}
	if max > 0 && st.Size() > max {
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %s, more than the %s allowed", ErrTooLarge, Size(st.Size()), Size(max))}
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// ReadFile reads a regular file of at most max bytes (see Open). A file that grows past
// max while it is read is refused too.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := Open(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, max, path)
}

// ReadAll reads r to its end, failing with ErrTooLarge once it gives more than max bytes
// (max <= 0: no bound); name says what r is in the error. For stdin ("-") and request bodies.
func ReadAll(r io.Reader, max int64, name string) ([]byte, error) {
	if max <= 0 {
		return io.ReadAll(r)
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w: more than the %s allowed", name, ErrTooLarge, Size(max))
	}
	return b, nil
}

// Size formats a byte count for messages: "1 MiB", "2 GiB", "300 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// RegularOrAbsent checks that path, if it exists, is a regular file: for a database the
// program creates or reopens (it grows, so it has no size bound), a FIFO, a device or a
// directory must be refused before the database driver blocks or fails obscurely.
func RegularOrAbsent(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return checkInfo(path, st, 0)
}
