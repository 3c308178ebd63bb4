package tsdb

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
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

// TestCompareCompositeKeys checks the order (series, then field, whatever
// bytes they hold) and that comparing allocates nothing: sorts of every
// snapshot and compaction call it for each pair.
func TestCompareCompositeKeys(t *testing.T) {
	key := func(series, field string) string {
		return string(appendCompositeKey(nil, []byte(series), []byte(field)))
	}
	ordered := []string{key("a", "z"), key("a,b=1", "a"), key("a,b=1", "b"), key("b", ""), key("b\x00", "a")}
	for i := range ordered {
		for j := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := compareCompositeKeys(ordered[i], ordered[j]); got != want {
				t.Errorf("compare(%q, %q) = %d; want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	long := "cpu,hostname=host_0,region=eu-central-1,datacenter=eu-central-1a,rack=6" // past any small-buffer copy
	a, b := key(long, "usage_user"), key(long, "usage_system")
	if n := testing.AllocsPerRun(100, func() { compareCompositeKeys(a, b) }); n != 0 {
		t.Errorf("compareCompositeKeys allocates %.0f times per call; want 0", n)
	}
}

// TestCacheSortsOnlyWhenNeeded checks that reads see sorted, deduplicated
// values after out-of-order and duplicate appends, including appends that
// arrive after an earlier read sorted the entry.
func TestCacheSortsOnlyWhenNeeded(t *testing.T) {
	c := newCache()
	s, f := []byte("m"), []byte("v")
	read := func() []int64 {
		a, _ := c.values(s, f, math.MinInt64, math.MaxInt64)
		return a.Timestamps
	}
	for _, ts := range []int64{3, 1, 2} {
		c.write(s, f, ts, models.IntegerValue(ts))
	}
	if got := read(); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("after 3,1,2: %v; want [1 2 3]", got)
	}
	c.write(s, f, 5, models.IntegerValue(5)) // in order: no sort needed
	c.write(s, f, 0, models.IntegerValue(0)) // before the rest, after a read
	c.write(s, f, 5, models.IntegerValue(50))
	a, _ := c.values(s, f, math.MinInt64, math.MaxInt64)
	if !slices.Equal(a.Timestamps, []int64{0, 1, 2, 3, 5}) || a.Integers[4] != 50 {
		t.Fatalf("after 5,0,5 again: %v %v; want [0 1 2 3 5] with the last 5 = 50", a.Timestamps, a.Integers)
	}
}

// TestCacheWideSeries checks the cache of a series with more fields than
// cacheIndexMin, where fields are found by name through an index: writes
// by point and by value land on the right field, also after a delete of
// one field has moved the others.
func TestCacheWideSeries(t *testing.T) {
	c := newCache()
	series := []byte("wide")
	const n = 3 * cacheIndexMin
	p := models.Point{Measurement: series}
	for i := range n {
		p.Fields = append(p.Fields, models.Field{Key: []byte(fmt.Sprintf("f%d", i)), Value: models.IntegerValue(int64(i))})
	}
	p.Time = 1
	c.writePoint(cacheRef{}, series, &p)
	slices.Reverse(p.Fields) // out of order: the position hint misses
	p.Time = 2
	c.writePoint(cacheRef{}, series, &p)
	c.deleteRange(&Tombstone{SeriesKey: series, Field: []byte("f5"), Min: math.MinInt64, Max: math.MaxInt64})
	for i := range n {
		c.write(series, []byte(fmt.Sprintf("f%d", i)), 3, models.IntegerValue(int64(-i)))
	}
	cs := c.part(series).series[string(series)]
	if len(cs.fields) != n {
		t.Fatalf("%d fields cached, want %d", len(cs.fields), n)
	}
	for i := range n {
		a, ok := c.values(series, []byte(fmt.Sprintf("f%d", i)), math.MinInt64, math.MaxInt64)
		want := []int64{1, 2, 3}
		if i == 5 {
			want = []int64{3} // deleted, then written again
		}
		if !ok || !slices.Equal(a.Timestamps, want) || a.Integers[a.Len()-1] != int64(-i) {
			t.Fatalf("field f%d: got %+v, want times %v ending with value %d", i, a, want, -i)
		}
	}
}

// TestCacheForEachSortedOrder: a snapshot visits entries in the order of
// the cache's sorted composite keys (the data file order), normalized,
// whether series list their fields in one order, each in its own, or have
// different fields.
func TestCacheForEachSortedOrder(t *testing.T) {
	c := newCache()
	for i := range 200 {
		series := []byte(fmt.Sprintf("cpu,host=h%d", (i*37)%50))
		c.write(series, []byte(fmt.Sprintf("f%d", (i*7)%5)), int64(1000-i), models.IntegerValue(int64(i)))
	}
	for s := range 30 {
		series := []byte(fmt.Sprintf("mem,host=h%d", s))
		for f := range 4 + s%2 {
			name := fmt.Sprintf("g%d", (f+s/3)%(4+s%2)) // runs of series with one order
			c.write(series, []byte(name), int64(s), models.IntegerValue(int64(f)))
		}
	}
	var got []string
	err := c.forEachSorted(func(series, field []byte, arr *tsm.Array) error {
		if !slices.IsSorted(arr.Timestamps) {
			t.Errorf("%s %s: timestamps %v not sorted", series, field, arr.Timestamps)
		}
		got = append(got, string(appendCompositeKey(nil, series, field)))
		return nil
	})
	if err != nil {
		t.Fatalf("forEachSorted: %v", err)
	}
	if want := c.keys(); !slices.Equal(got, want) {
		t.Fatalf("forEachSorted order:\n got %q\nwant %q", got, want)
	}
}
