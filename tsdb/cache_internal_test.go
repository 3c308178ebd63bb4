package tsdb

import (
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestCacheSizeHints checks that a cache generation presizes the arrays of
// the fields that were large in the previous one, and only those, so a
// steady load fills them without regrowing.
func TestCacheSizeHints(t *testing.T) {
	old := newCache(nil)
	series := []byte("cpu,host=a")
	for i := range 3000 {
		old.write(series, []byte("big"), int64(i), models.FloatValue(1))
	}
	for i := range 10 {
		old.write(series, []byte("small"), int64(i), models.IntegerValue(1))
	}
	hints := old.sizeHints()
	if got := hints[string(series)]; len(got) != 1 || got[0] != (fieldSize{name: "big", n: 3000}) {
		t.Fatalf("sizeHints = %v; want only big with 3000 values", hints)
	}

	c := newCache(hints)
	p := models.Point{Fields: []models.Field{
		{Key: []byte("big"), Value: models.FloatValue(2)},
		{Key: []byte("small"), Value: models.IntegerValue(2)},
	}}
	c.writePoint(series, &p)
	c.write([]byte("other"), []byte("big"), 1, models.FloatValue(3))
	cs := c.part(series).series[string(series)]
	big, _, _ := cs.field([]byte("big"), 0, false)
	small, _, _ := cs.field([]byte("small"), 1, false)
	if cap(big.arr.Timestamps) != 3000 || cap(big.arr.Floats) != 3000 || big.arr.Len() != 1 {
		t.Errorf("big: cap %d/%d, len %d; want capacity 3000 (presized) holding 1 value", cap(big.arr.Timestamps), cap(big.arr.Floats), big.arr.Len())
	}
	if cap(small.arr.Timestamps) >= minSizeHint {
		t.Errorf("small: capacity %d; want it unsized (below %d)", cap(small.arr.Timestamps), minSizeHint)
	}
	other, _, _ := c.part([]byte("other")).series["other"].field([]byte("big"), 0, false)
	if cap(other.arr.Timestamps) >= minSizeHint {
		t.Errorf("a field of another series got capacity %d from this series' hint", cap(other.arr.Timestamps))
	}
	if got, want := c.size.Load(), int64(2*cacheSeriesOverhead+len(series)+len("other")+3*cacheFieldOverhead+len("big")*2+len("small")+3*16); got != want {
		t.Errorf("cache size = %d; want %d (values, not capacity: presizing does not fill the cache)", got, want)
	}
}
