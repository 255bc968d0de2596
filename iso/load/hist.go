package load

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts durations in log-linear buckets (HDR style): values below 256 ns are
// exact, above that each power of two is split into 128 buckets, so a bucket is at most
// 1/128 (0.8%) of its value wide. Quantiles report the bucket's upper bound (never an
// underestimate); Max and Min are exact. The zero value is ready; it is not safe for
// concurrent use (each worker keeps its own and they are merged).
type Histogram struct {
	counts []uint64
	n      uint64
	sum    float64
	min    time.Duration
	max    time.Duration
}

const (
	subBits  = 7
	subCount = 1 << subBits // buckets per power of two
)

func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	e := bits.Len64(v) - (subBits + 1) // v>>e is in [128, 255]
	return (e+1)*subCount + int(v>>uint(e)) - subCount
}

// upperBound is the largest value that falls in bucket i.
func upperBound(i int) uint64 {
	if i < 2*subCount {
		return uint64(i)
	}
	e := i/subCount - 1
	mant := uint64(i%subCount + subCount)
	return (mant+1)<<uint(e) - 1
}

// Record adds one duration (negative counts as 0).
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := bucketOf(uint64(d))
	if i >= len(h.counts) {
		n := max(i+1, 2*len(h.counts), 64*subCount/4)
		c := make([]uint64, n)
		copy(c, h.counts)
		h.counts = c
	}
	h.counts[i]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += float64(d)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		c := make([]uint64, len(o.counts))
		copy(c, h.counts)
		h.counts = c
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded.
func (h *Histogram) Max() time.Duration { return h.max }

// Min is the smallest value recorded.
func (h *Histogram) Min() time.Duration { return h.min }

// Mean is the average value.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at or below which a fraction q of the values fall (q in
// [0, 1]), as the upper bound of its bucket, capped at Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(upperBound(i)), h.max)
		}
	}
	return h.max
}
