package tsdb

import (
	"math"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestCacheSizeCountsCapacity checks that the cache's size is the memory
// its arrays really hold (capacity, not just values), so the snapshot
// threshold bounds memory, and that deleting everything gives it all back.
func TestCacheSizeCountsCapacity(t *testing.T) {
	c := newCache()
	series := []byte("cpu,host=a")
	for i := range 3000 {
		c.write(series, []byte("v"), int64(i), models.FloatValue(1))
		c.write(series, []byte("s"), int64(i), models.StringValue([]byte("abc")))
	}
	var held int64
	cs := c.part(series).series[string(series)]
	for _, f := range cs.fields {
		held += arraySize(&f.arr) + cacheFieldOverhead + int64(len(f.name))
	}
	held += cacheSeriesOverhead + int64(len(series))
	if got := c.size.Load(); got != held {
		t.Fatalf("cache size = %d; want %d (capacity of its arrays plus overheads)", got, held)
	}
	if values := int64(3000 * (16 + 32 + 3)); c.size.Load() <= values {
		t.Fatalf("cache size = %d; want more than the %d bytes of values alone (arrays have spare capacity)", c.size.Load(), values)
	}
	freed := c.deleteRange(&Tombstone{SeriesKey: series, Min: math.MinInt64, Max: math.MaxInt64})
	if freed != held || c.size.Load() != 0 {
		t.Fatalf("after deleting everything: freed %d, size %d; want %d freed, size 0", freed, c.size.Load(), held)
	}
}
