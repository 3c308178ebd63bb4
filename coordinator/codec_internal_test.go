package coordinator

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// sizePoints covers every value type and the varint length boundaries.
func sizePoints() []models.Point {
	long := bytes.Repeat([]byte("x"), 20000)
	var pts []models.Point
	ints := []int64{0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, math.MaxInt64, math.MinInt64}
	uints := []uint64{0, 127, 128, 16383, 16384, math.MaxUint64}
	times := []int64{0, 5, -1 << 62, 1 << 62, math.MaxInt64, math.MinInt64, 3}
	for i, ts := range times {
		p := models.Point{Measurement: []byte("m"), Time: ts}
		if i%2 == 0 {
			p.Tags = models.Tags{{Key: []byte("host"), Value: []byte(fmt.Sprint("h", i))}, {Key: long[:128], Value: long[:127]}}
		}
		p.Fields = append(p.Fields,
			models.Field{Key: []byte("f"), Value: models.FloatValue(float64(i) / 3)},
			models.Field{Key: []byte("i"), Value: models.IntegerValue(ints[i%len(ints)])},
			models.Field{Key: []byte("u"), Value: models.UnsignedValue(uints[i%len(uints)])},
			models.Field{Key: []byte("b"), Value: models.BooleanValue(i%2 == 0)},
			models.Field{Key: []byte("s"), Value: models.StringValue(long[:[]int{0, 1, 127, 128, 16384, 20000, 3}[i]])},
		)
		pts = append(pts, p)
	}
	for _, v := range ints {
		pts = append(pts, models.Point{Measurement: long[:200], Fields: []models.Field{{Key: []byte("i"), Value: models.IntegerValue(v)}}, Time: v})
	}
	for _, v := range uints {
		pts = append(pts, models.Point{Measurement: []byte("u"), Fields: []models.Field{{Key: long[:129], Value: models.UnsignedValue(v)}}, Time: int64(v)})
	}
	return pts
}

func TestEncodedSize(t *testing.T) {
	all := sizePoints()
	for n := 0; n <= len(all); n++ {
		pts := all[:n]
		b := AppendPoints(nil, pts)
		if got := encodedSize(pts); got != len(b) {
			t.Fatalf("%d points: encodedSize %d, encoding is %d bytes", n, got, len(b))
		}
		if _, err := DecodePoints(b, nil); err != nil {
			t.Fatalf("%d points: decode: %v", n, err)
		}
	}
	// Appending after existing bytes grows by the batch's size.
	prefix := []byte("prefix")
	b := AppendPoints(prefix, all)
	if !bytes.Equal(b[:len(prefix)], prefix) || !bytes.Equal(b[len(prefix):], AppendPoints(nil, all)) {
		t.Fatal("AppendPoints after a prefix changed the prefix or the batch")
	}
}

func TestAppendPoints_OneAllocation(t *testing.T) {
	pts := sizePoints()
	if n := testing.AllocsPerRun(20, func() { _ = AppendPoints(nil, pts) }); n != 1 {
		t.Fatalf("AppendPoints(nil) made %v allocations, want 1 (sized to the batch)", n)
	}
	dst := AppendPoints(nil, pts)
	if n := testing.AllocsPerRun(20, func() { dst = AppendPoints(dst[:0], pts) }); n != 0 {
		t.Fatalf("AppendPoints into a large enough dst made %v allocations, want 0", n)
	}
}

func TestPointsDecoder_Release(t *testing.T) {
	var d PointsDecoder
	src := AppendPoints(nil, sizePoints())
	if _, err := d.Decode(src, nil); err != nil {
		t.Fatal(err)
	}
	if d.nTags == 0 || d.nFields == 0 {
		t.Fatalf("decode filled %d tags, %d fields", d.nTags, d.nFields)
	}
	d.release()
	for i, tg := range d.tags[:cap(d.tags)] {
		if tg.Key != nil || tg.Value != nil {
			t.Fatalf("tag %d still references the batch after release", i)
		}
	}
	for i, f := range d.fields[:cap(d.fields)] {
		if f.Key != nil || f.Value.S != nil {
			t.Fatalf("field %d still references the batch after release", i)
		}
	}
	// Still usable after release.
	pts, err := d.Decode(src, nil)
	if err != nil || len(pts) != len(sizePoints()) {
		t.Fatalf("decode after release: %d points, %v", len(pts), err)
	}
}

// TestPointsDecoder_StaleEntries checks that a decode of a smaller batch
// leaves no reference to the previous batch in the entries it does not use.
func TestPointsDecoder_StaleEntries(t *testing.T) {
	var d PointsDecoder
	all := sizePoints()
	if _, err := d.Decode(AppendPoints(nil, all), nil); err != nil {
		t.Fatal(err)
	}
	pts, err := d.Decode(AppendPoints(nil, all[:1]), nil)
	if err != nil || len(pts) != 1 {
		t.Fatalf("decode: %d points, %v", len(pts), err)
	}
	for i, tg := range d.tags[d.nTags:cap(d.tags)] {
		if tg.Key != nil || tg.Value != nil {
			t.Fatalf("unused tag %d still references the previous batch", d.nTags+i)
		}
	}
	for i, f := range d.fields[d.nFields:cap(d.fields)] {
		if f.Key != nil || f.Value.S != nil {
			t.Fatalf("unused field %d still references the previous batch", d.nFields+i)
		}
	}
}
