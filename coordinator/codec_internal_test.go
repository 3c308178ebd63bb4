package coordinator

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
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

// TestMaxEncodedSize checks maxEncodedSize is the exact size of a batch
// whose points are all of different series (sizePoints' first 7 points),
// and a bound of one whose points repeat series (which refer back to
// them: sizePoints' later points share their measurement slices).
func TestMaxEncodedSize(t *testing.T) {
	all := sizePoints()
	for n := 0; n <= len(all); n++ {
		pts := all[:n]
		b := AppendPoints(nil, pts)
		if got := maxEncodedSize(pts); got < len(b) || n <= 7 && got != len(b) {
			t.Fatalf("%d points: maxEncodedSize %d, encoding is %d bytes", n, got, len(b))
		}
		if _, err := DecodePoints(b, nil); err != nil {
			t.Fatalf("%d points: decode: %v", n, err)
		}
	}
	repeated := slices.Repeat(all, 3)
	if b := AppendPoints(nil, repeated); len(b) >= maxEncodedSize(repeated) {
		t.Fatalf("3 rounds of %d points: %d bytes, bound %d: the repeated series were spelled again", len(all), len(b), maxEncodedSize(repeated))
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

// decoderRefs returns which entries of d's arrays, over their whole
// capacity, still reference a batch; with unusedOnly, only among the
// entries past those the last Decode filled.
func decoderRefs(d *PointsDecoder, unusedOnly bool) []string {
	var refs []string
	check := func(what string, filled, capacity int, at func(int) bool) {
		from := 0
		if unusedOnly {
			from = filled
		}
		for i := from; i < capacity; i++ {
			if at(i) {
				refs = append(refs, fmt.Sprint(what, " ", i))
			}
		}
	}
	tags, fields, keys, schemas := d.tags.buf[:cap(d.tags.buf)], d.fields.buf[:cap(d.fields.buf)], d.keys.buf[:cap(d.keys.buf)], d.schemas.buf[:cap(d.schemas.buf)]
	check("tag", len(d.tags.buf), len(tags), func(i int) bool { return tags[i].Key != nil || tags[i].Value != nil })
	check("field", len(d.fields.buf), len(fields), func(i int) bool { return fields[i].Key != nil || fields[i].Value.S != nil })
	check("key", len(d.keys.buf), len(keys), func(i int) bool { return keys[i] != nil })
	check("schema", len(d.schemas.buf), len(schemas), func(i int) bool {
		return schemas[i].measurement != nil || schemas[i].tags != nil || schemas[i].keys != nil
	})
	return refs
}

// batchesOfEveryVersion returns pts encoded as a current batch and as a
// version-2 batch (each series spelled per point).
func batchesOfEveryVersion(pts []models.Point) map[string][]byte {
	return map[string][]byte{"v3": AppendPoints(nil, pts), "v2": appendPointsV2(pts)}
}

// appendPointsV2 encodes pts in the version-2 layout, as nodes before
// version 3 did (and hinted-handoff queues written by them hold).
func appendPointsV2(pts []models.Point) []byte {
	dst := []byte{batchMagic0, batchMagic1, batchVersion2, 0}
	dst = binary.LittleEndian.AppendUint64(dst, 0)
	dst = binary.AppendUvarint(dst, uint64(len(pts)))
	var prev int64
	for i := range pts {
		p := &pts[i]
		dst = appendBytes(dst, p.Measurement)
		dst = binary.AppendUvarint(dst, uint64(len(p.Tags)))
		for _, t := range p.Tags {
			dst = appendBytes(appendBytes(dst, t.Key), t.Value)
		}
		dst = binary.AppendUvarint(dst, uint64(len(p.Fields)))
		for _, f := range p.Fields {
			dst = models.AppendValue(appendBytes(dst, f.Key), f.Value)
		}
		dst = binary.AppendVarint(dst, p.Time-prev)
		prev = p.Time
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst, castagnoli))
}

func TestPointsDecoder_Release(t *testing.T) {
	for name, src := range batchesOfEveryVersion(slices.Repeat(sizePoints(), 2)) {
		var d PointsDecoder
		if _, err := d.Decode(src, nil); err != nil {
			t.Fatal(err)
		}
		if len(decoderRefs(&d, false)) == 0 {
			t.Fatalf("%s: decode left no entry referencing the batch", name)
		}
		d.release()
		if refs := decoderRefs(&d, false); len(refs) > 0 {
			t.Fatalf("%s: after release, still referencing the batch: %v", name, refs)
		}
		// Still usable after release.
		pts, err := d.Decode(src, nil)
		if err != nil || len(pts) != 2*len(sizePoints()) {
			t.Fatalf("%s: decode after release: %d points, %v", name, len(pts), err)
		}
	}
}

// TestPointsDecoder_StaleEntries checks that a decode of a smaller batch
// leaves no reference to the previous batch in the entries it does not
// use, whichever versions the two batches are.
func TestPointsDecoder_StaleEntries(t *testing.T) {
	all := slices.Repeat(sizePoints(), 2)
	for firstName, first := range batchesOfEveryVersion(all) {
		for secondName, second := range batchesOfEveryVersion(all[:1]) {
			var d PointsDecoder
			if _, err := d.Decode(first, nil); err != nil {
				t.Fatal(err)
			}
			pts, err := d.Decode(second, nil)
			if err != nil || len(pts) != 1 {
				t.Fatalf("decode: %d points, %v", len(pts), err)
			}
			if refs := decoderRefs(&d, true); len(refs) > 0 {
				t.Fatalf("%s then %s: unused entries still reference the first batch: %v", firstName, secondName, refs)
			}
		}
	}
}
