package listen

import (
	"fmt"
	"syscall"
)

// Reserve is the descriptors DefaultMaxConns leaves for everything but the connections:
// standard streams, the database and its WAL, listeners, the admin API's connections,
// trace and profile files, DNS, with room to spare.
const Reserve = 128

// DescriptorLimit returns the process's soft RLIMIT_NOFILE (Go raises it to the hard
// limit at start-up on Linux, so this is what the process may really open).
func DescriptorLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	return r.Cur, nil
}

// DefaultMaxConns chooses a connection cap: want, lowered to what the descriptor limit
// leaves after Reserve (half the limit when it is small), never below 1. why says what was
// chosen and from what, for the start-up log.
func DefaultMaxConns(want int) (n int, why string) {
	lim, err := DescriptorLimit()
	if err != nil {
		return want, fmt.Sprintf("%d (descriptor limit unknown: %v)", want, err)
	}
	room := int64(lim) - Reserve
	if int64(lim) < 2*Reserve {
		room = int64(lim) / 2
	}
	room = max(room, 1)
	if int64(want) <= room {
		return want, fmt.Sprintf("%d (descriptor limit %d leaves room for more)", want, lim)
	}
	return int(room), fmt.Sprintf("%d, lowered from %d to stay below the descriptor limit %d (RLIMIT_NOFILE) with %d to spare", room, want, lim, int64(lim)-room)
}
