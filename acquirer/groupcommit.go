package acquirer

import (
	"context"
	"errors"
	"sync"
)

// maxBatch bounds how many updates share one commit. Beyond a few dozen the fsync is
// already shared well; a bound keeps one batch's latency in check.
const maxBatch = 128

type job struct {
	fn   func(storeTx) error
	done chan error
}

// errStoreClosed is returned by update after close.
var errStoreClosed = errors.New("store is closed")

// groupCommit is the queue and writer loop both stores share: callers queue updates, one
// goroutine takes whatever is queued (up to maxBatch) and hands it to the store's run,
// which commits the batch in one transaction (group commit) and answers every job.
type groupCommit struct {
	jobs     chan *job
	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

func newGroupCommit() groupCommit {
	return groupCommit{jobs: make(chan *job, maxBatch), stop: make(chan struct{}), stopped: make(chan struct{})}
}

// update queues fn for the writer and waits until its batch is committed.
func (g *groupCommit) update(ctx context.Context, fn func(storeTx) error) error {
	j := &job{fn: fn, done: make(chan error, 1)}
	select {
	case g.jobs <- j:
	case <-g.stop:
		return errStoreClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the job runs (stop drains the queue), so wait for it whatever ctx says:
	// the caller must know whether it was committed.
	return <-j.done
}

// writer is the single goroutine that touches the write connection; run commits a batch.
func (g *groupCommit) writer(run func([]*job)) {
	defer close(g.stopped)
	batch := make([]*job, 0, maxBatch)
	for {
		var first *job
		select {
		case first = <-g.jobs:
		case <-g.stop:
			// Drain what was queued before the stop, so no caller waits forever.
			for {
				select {
				case j := <-g.jobs:
					run([]*job{j})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		run(batch)
	}
}

// shutdown stops the writer after it has drained the queue, and waits for it.
func (g *groupCommit) shutdown() {
	g.stopOnce.Do(func() { close(g.stop) })
	<-g.stopped
}
