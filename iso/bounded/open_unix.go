//go:build unix

package bounded

import (
	"os"
	"syscall"
)

// openNonblock opens path read-only without blocking on a FIFO that has no writer; the
// caller refuses a FIFO right after, so the flag never matters for a regular file (reads
// of regular files do not block anyway).
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
