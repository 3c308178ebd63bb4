package loadgen

import (
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	prev := -1
	for _, us := range []uint64{0, 1, 31, 63, 64, 65, 127, 128, 1000, 12345, 1 << 20, 1<<40 + 7, 1<<63 + 5} {
		b := bucketOf(us)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, want monotonic within [0, %d)", us, b, histBuckets)
		}
		prev = b
		mid := bucketValue(b)
		diff := float64(mid) - float64(us)
		if diff < 0 {
			diff = -diff
		}
		if us >= 64 && diff/float64(us) > 1.0/histSub {
			t.Errorf("bucketValue(bucketOf(%d)) = %d: relative error %.3f, want <= %.3f", us, mid, diff/float64(us), 1.0/histSub)
		}
		if us < 64 && mid != us {
			t.Errorf("bucketValue(bucketOf(%d)) = %d, want exact", us, mid)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	var c histCounts
	h.Snapshot(&c)
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := c.quantile(nil, tc.q)
		if d := got - tc.want; d > tc.want/histSub || -d > tc.want/histSub {
			t.Errorf("quantile(%v) = %s, want %s within 1/%d", tc.q, got, tc.want, histSub)
		}
	}
	if got := time.Duration(h.maxUs.Load()) * time.Microsecond; got != time.Second {
		t.Errorf("max = %s, want 1s", got)
	}

	// Deltas against an earlier snapshot see only the later records.
	base := c
	for range 10 {
		h.Record(5 * time.Second)
	}
	h.Snapshot(&c)
	if got := c.quantile(&base, 0.5); got < 4800*time.Millisecond || got > 5200*time.Millisecond {
		t.Errorf("interval p50 = %s, want about 5s", got)
	}
	var empty histCounts
	if got := empty.quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %s, want 0", got)
	}
}
