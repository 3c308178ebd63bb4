package coordinator_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/tsdb/models"
)

func samplePoints() []models.Point {
	return []models.Point{
		{
			Measurement: []byte("cpu"),
			Tags:        models.Tags{{Key: []byte("host"), Value: []byte("a b")}, {Key: []byte("region"), Value: []byte("eu")}},
			Fields: []models.Field{
				{Key: []byte("f"), Value: models.FloatValue(-1.5)},
				{Key: []byte("i"), Value: models.IntegerValue(math.MinInt64)},
				{Key: []byte("u"), Value: models.UnsignedValue(math.MaxUint64)},
				{Key: []byte("b"), Value: models.BooleanValue(true)},
				{Key: []byte("s"), Value: models.StringValue([]byte("hello \"world\""))},
				{Key: []byte("e"), Value: models.StringValue([]byte{})},
			},
			Time: 1_700_000_000_000_000_000,
		},
		{Measurement: []byte("m"), Fields: []models.Field{{Key: []byte("v"), Value: models.BooleanValue(false)}}, Time: math.MinInt64},
		{Measurement: []byte("m"), Fields: []models.Field{{Key: []byte("v"), Value: models.FloatValue(math.Copysign(0, -1))}}, Time: math.MaxInt64},
		{Measurement: []byte("m"), Fields: []models.Field{{Key: []byte("v"), Value: models.IntegerValue(0)}}, Time: -1},
	}
}

func pointsEqual(a, b []models.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		p, q := &a[i], &b[i]
		if string(p.Measurement) != string(q.Measurement) || p.Time != q.Time || len(p.Tags) != len(q.Tags) || len(p.Fields) != len(q.Fields) {
			return false
		}
		for j := range p.Tags {
			if string(p.Tags[j].Key) != string(q.Tags[j].Key) || string(p.Tags[j].Value) != string(q.Tags[j].Value) {
				return false
			}
		}
		for j := range p.Fields {
			if string(p.Fields[j].Key) != string(q.Fields[j].Key) || !p.Fields[j].Value.Equal(q.Fields[j].Value) {
				return false
			}
		}
	}
	return true
}

func TestCodec_RoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		pts  []models.Point
	}{
		{"empty", nil},
		{"sample", samplePoints()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("keep")
			b := coordinator.AppendPoints(prefix, tc.pts)
			if string(b[:4]) != "keep" {
				t.Fatalf("AppendPoints clobbered dst's prefix: got %q", b[:4])
			}
			got, err := coordinator.DecodePoints(b[4:], make([]models.Point, 1, 8))
			if err != nil {
				t.Fatalf("DecodePoints: got error %v; want nil", err)
			}
			if !pointsEqual(got, tc.pts) {
				t.Fatalf("round trip: got %v; want %v", got, tc.pts)
			}
		})
	}
}

// TestCodec_TSBS round-trips real TSBS devops data (integers and floats,
// nine measurements), as parsed from a /write body, and checks the
// encoding is compact.
func TestCodec_TSBS(t *testing.T) {
	pts := loadParsedPoints(t, "tsbs-devops-s10-1h.lp.gz", 5000)
	b := coordinator.AppendPoints(nil, pts)
	got, err := coordinator.DecodePoints(b, nil)
	if err != nil {
		t.Fatalf("DecodePoints: got error %v; want nil", err)
	}
	if !pointsEqual(got, pts) {
		t.Fatal("round trip of TSBS points: decoded points differ from the input")
	}
	lpSize := 0
	for i := range pts {
		lpSize += len(pts[i].AppendLine(nil))
	}
	// 100 hosts: each series and field-key list is spelled once, the
	// other points refer to it (about 11% of line protocol).
	if len(b) >= lpSize/4 {
		t.Errorf("encoded size %d bytes; want less than a quarter of the %d bytes of line protocol", len(b), lpSize)
	}
	t.Logf("%d points: %d bytes line protocol, %d bytes encoded, %d bytes s2-compressed", len(pts), lpSize, len(b), len(s2.Encode(nil, b)))
}

// reseal recomputes the CRC of a batch after the test edited it.
func reseal(b []byte) []byte {
	body := b[:len(b)-4]
	binary.LittleEndian.PutUint32(b[len(body):], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestCodec_Corrupt(t *testing.T) {
	good := coordinator.AppendPoints(nil, samplePoints())
	one := coordinator.AppendPoints(nil, []models.Point{{Measurement: []byte("m"),
		Fields: []models.Field{{Key: []byte("v"), Value: models.BooleanValue(true)}}, Time: 5}})
	// one's layout: magic(2) version flags accepted(8) count=1 | new schema 0, new series 0 | 1 'm' | 0 tags |
	// 1 field key: 1 'v' | value: type=5 1 | time=10 (zigzag) | crc
	m := []byte("m")
	two := coordinator.AppendPoints(nil, []models.Point{{Measurement: m,
		Fields: []models.Field{{Key: []byte("v"), Value: models.BooleanValue(true)}}, Time: 5}, {Measurement: m,
		Fields: []models.Field{{Key: []byte("w"), Value: models.BooleanValue(true)}}, Time: 6}})
	// two: one's point, then (at 24) a new schema (0) of the series of schema 1 (1), 1 key 'w', value, time.
	edit := func(b []byte, f func([]byte) []byte) []byte {
		return f(append([]byte(nil), b...))
	}
	for _, tc := range []struct {
		name    string
		in      []byte
		wantVer bool
	}{
		{"empty", nil, false},
		{"short", good[:13], false},
		{"bad magic", edit(good, func(b []byte) []byte { b[0] = 'X'; return reseal(b) }), false},
		{"flipped bit", edit(good, func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }), false},
		{"bad crc", edit(good, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), false},
		{"version 4", edit(good, func(b []byte) []byte { b[2] = 4; return reseal(b) }), true},
		{"unknown flags", edit(good, func(b []byte) []byte { b[3] = 1; return reseal(b) }), false},
		{"count too large", edit(one, func(b []byte) []byte { b[12] = 0x7f; return reseal(b) }), false},
		{"count above data", edit(one, func(b []byte) []byte { b[12] = 2; return reseal(b) }), false},
		{"empty measurement", edit(one, func(b []byte) []byte { b[15] = 0; return reseal(b) }), false},
		{"no fields", edit(one, func(b []byte) []byte { b[18] = 0; return reseal(b) }), false},
		{"empty field key", edit(one, func(b []byte) []byte { b[19] = 0; return reseal(b) }), false},
		{"unknown field type", edit(one, func(b []byte) []byte { b[21] = 9; return reseal(b) }), false},
		{"bad boolean", edit(one, func(b []byte) []byte { b[22] = 2; return reseal(b) }), false},
		{"schema not defined", edit(two, func(b []byte) []byte { b[24] = 2; return reseal(b) }), false},
		{"series of a schema not defined", edit(two, func(b []byte) []byte { b[25] = 2; return reseal(b) }), false},
		{"trailing bytes", reseal(append(append([]byte(nil), one[:len(one)-4]...), 0, 0, 0, 0, 0)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pts, err := coordinator.DecodePoints(tc.in, nil)
			if !errors.Is(err, coordinator.ErrCorruptBatch) {
				t.Fatalf("DecodePoints: got %d points, error %v; want ErrCorruptBatch", len(pts), err)
			}
			if got := errors.Is(err, coordinator.ErrProtocolVersion); got != tc.wantVer {
				t.Errorf("errors.Is(err, ErrProtocolVersion) = %t; want %t (err %v)", got, tc.wantVer, err)
			}
		})
	}
	// Every truncation of a good batch is rejected.
	for n := range len(good) {
		if _, err := coordinator.DecodePoints(good[:n], nil); !errors.Is(err, coordinator.ErrCorruptBatch) {
			t.Fatalf("DecodePoints(first %d of %d bytes): got %v; want ErrCorruptBatch", n, len(good), err)
		}
	}
	// The hand-computed offsets above assume this layout.
	if len(one) != 28 || one[21] != byte(models.FieldTypeBoolean) || len(two) != 36 || two[24] != 0 || two[25] != 1 {
		t.Fatalf("batch layout changed: % x, % x", one, two)
	}
}

func FuzzDecodePoints(f *testing.F) {
	f.Add(coordinator.AppendPoints(nil, samplePoints()))
	f.Add(coordinator.AppendPoints(nil, mustParse(f, "m,t=a v=1,w=2i 1\nm,t=b v=2 1\nm,t=a v=3,w=4i 2\nm,t=a s=\"x\" 3\nm,t=a v=5,w=6i 4\n")))
	f.Add(coordinator.AppendPointsV2(samplePoints()))
	f.Add(coordinator.AppendPoints(nil, nil))
	f.Add([]byte("SB\x01\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		pts, err := coordinator.DecodePoints(in, nil)
		if err != nil {
			if !errors.Is(err, coordinator.ErrCorruptBatch) {
				t.Fatalf("DecodePoints error %v does not wrap ErrCorruptBatch", err)
			}
			return
		}
		// Bounded: a batch cannot claim more points than its bytes hold.
		if len(pts) > len(in)/4 {
			t.Fatalf("decoded %d points from %d bytes", len(pts), len(in))
		}
		again, err := coordinator.DecodePoints(coordinator.AppendPoints(nil, pts), nil)
		if err != nil || !pointsEqual(again, pts) {
			t.Fatalf("re-encoded batch does not round-trip: error %v", err)
		}
	})
}

// TestPointsDecoder_Reuse checks a decoder reused across batches of
// different shapes decodes each correctly.
func TestPointsDecoder_Reuse(t *testing.T) {
	var d coordinator.PointsDecoder
	var dst []models.Point
	batches := [][]models.Point{samplePoints(), samplePoints()[1:2], samplePoints()[:1], nil, samplePoints()}
	for i, want := range batches {
		var err error
		dst, err = d.Decode(coordinator.AppendPoints(nil, want), dst)
		if err != nil || !pointsEqual(dst, want) {
			t.Fatalf("batch %d: got %v, %v; want %v, nil", i, dst, err, want)
		}
	}
}

// TestBatchLen checks that BatchLen reads the point count from a batch's
// header and refuses what is not a batch.
func TestBatchLen(t *testing.T) {
	pts := samplePoints()
	for _, n := range []int{0, 1, len(pts)} {
		if got, err := coordinator.BatchLen(coordinator.AppendPoints(nil, pts[:n])); got != n || err != nil {
			t.Errorf("BatchLen of a %d-point batch = %d, %v; want %d, nil", n, got, err, n)
		}
	}
	batch := coordinator.AppendPoints(nil, pts)
	lying := append([]byte(nil), batch[:12]...)
	lying = binary.AppendUvarint(lying, 1<<40)
	lying = append(lying, make([]byte, 8)...)
	for name, b := range map[string][]byte{"empty": nil, "short": batch[:13], "bad magic": append([]byte("XX"), batch[2:]...),
		"count past length": lying} {
		if _, err := coordinator.BatchLen(b); !errors.Is(err, coordinator.ErrCorruptBatch) {
			t.Errorf("BatchLen(%s) error = %v; want ErrCorruptBatch", name, err)
		}
	}
}

// TestCodec_AcceptedTime: a batch carries the time its write was accepted
// (BatchAccepted), and a version-1 batch, without it, as hinted-handoff
// queues written before version 2 hold, still decodes, its time unknown.
func TestCodec_AcceptedTime(t *testing.T) {
	pts := samplePoints()
	const accepted = int64(1767571260123456789)
	batch := coordinator.AppendAcceptedPoints(nil, pts, accepted)
	if got := coordinator.BatchAccepted(batch); got != accepted {
		t.Errorf("BatchAccepted = %d, want %d", got, accepted)
	}
	if got := coordinator.BatchAccepted(coordinator.AppendPoints(nil, pts)); got != 0 {
		t.Errorf("BatchAccepted of AppendPoints' batch = %d, want 0", got)
	}
	// Version 1: a version-2 batch without the 8 bytes of accepted time.
	v2 := coordinator.AppendPointsV2(pts)
	v1 := append([]byte{v2[0], v2[1], 1, 0}, v2[12:]...)
	v1 = reseal(v1)
	got, err := coordinator.DecodePoints(v1, nil)
	if err != nil || !pointsEqual(got, pts) {
		t.Fatalf("version-1 batch: %d points, error %v; want the %d points", len(got), err, len(pts))
	}
	if n, err := coordinator.BatchLen(v1); n != len(pts) || err != nil {
		t.Errorf("BatchLen(version 1) = %d, %v; want %d", n, err, len(pts))
	}
	if got := coordinator.BatchAccepted(v1); got != 0 {
		t.Errorf("BatchAccepted(version 1) = %d, want 0 (unknown)", got)
	}
}
