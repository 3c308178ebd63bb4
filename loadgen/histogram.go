package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram is log-linear over microseconds: values below
// 2*histSub get one bucket each, and every power of two above is split into
// histSub buckets, so any recorded latency is known within 1/histSub (~3%).
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits + 1) * histSub
)

// histogram counts latencies; Record is safe for concurrent use.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	sumUs  atomic.Uint64
	maxUs  atomic.Uint64
}

// histCounts is a point-in-time copy of a histogram's buckets.
type histCounts [histBuckets]uint64

func bucketOf(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	shift := bits.Len64(us) - (histSubBits + 1)
	return (shift+1)*histSub + int(us>>shift) - histSub
}

// bucketValue is the middle of bucket i, in microseconds.
func bucketValue(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	lo := uint64(i%histSub+histSub) << shift
	return lo + (uint64(1)<<shift)/2
}

// Record adds one latency.
func (h *histogram) Record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(us)].Add(1)
	h.sumUs.Add(us)
	for {
		cur := h.maxUs.Load()
		if us <= cur || h.maxUs.CompareAndSwap(cur, us) {
			return
		}
	}
}

// Snapshot copies the bucket counts into dst.
func (h *histogram) Snapshot(dst *histCounts) {
	for i := range h.counts {
		dst[i] = h.counts[i].Load()
	}
}

// quantile returns the q-quantile (0 < q <= 1) of the counts of c minus
// those of base (nil for none), or 0 when there are none.
func (c *histCounts) quantile(base *histCounts, q float64) time.Duration {
	var total uint64
	for i := range c {
		total += c.delta(base, i)
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	if float64(rank) < q*float64(total) || rank == 0 {
		rank++
	}
	var seen uint64
	for i := range c {
		seen += c.delta(base, i)
		if seen >= rank {
			return time.Duration(bucketValue(i)) * time.Microsecond
		}
	}
	return 0
}

func (c *histCounts) delta(base *histCounts, i int) uint64 {
	if base == nil {
		return c[i]
	}
	return c[i] - base[i]
}
