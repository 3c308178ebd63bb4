package tsdb

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/datasets"
	"github.com/strata-db/strata/loadgen"
	"github.com/strata-db/strata/tsdb/models"
)

type decodedValue struct {
	key, field string
	ts         int64
	v          models.Value
}

func decodeAll(t testing.TB, rec []byte) ([]decodedValue, []Tombstone, error) {
	t.Helper()
	var vals []decodedValue
	var tombs []Tombstone
	d := walDecoder{seriesKey: walTestIndex.key}
	err := d.decode(rec, walVisitor{
		value: func(key, field []byte, ts int64, v models.Value) error {
			v.S = bytes.Clone(v.S)
			vals = append(vals, decodedValue{string(key), string(field), ts, v})
			return nil
		},
		delete: func(tb Tombstone) error {
			tombs = append(tombs, tb)
			return nil
		},
	})
	return vals, tombs, err
}

// walTestIndex stands in for a shard's index in the WAL record tests: it
// gives each series key an id, as Index.CreateSeriesAndFields does, for
// the encoder, and finds the keys of ids for the decoder.
var walTestIndex = &testSeriesIndex{ids: map[string]uint64{}, keys: [][]byte{nil}}

type testSeriesIndex struct {
	mu   sync.Mutex // protects ids, keys
	ids  map[string]uint64
	keys [][]byte // by id; id 0 is none
}

// testIDs returns the ids of pts's series in walTestIndex.
func testIDs(pts []models.Point) []uint64 {
	ix := walTestIndex
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ids := make([]uint64, len(pts))
	for i := range pts {
		key := pts[i].AppendSeriesKey(nil)
		id, ok := ix.ids[string(key)]
		if !ok {
			id = uint64(len(ix.keys))
			ix.ids[string(key)] = id
			ix.keys = append(ix.keys, key)
		}
		ids[i] = id
	}
	return ids
}

// key returns the key of series id, or nil for an unknown id.
func (ix *testSeriesIndex) key(id uint64) []byte {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if id >= uint64(len(ix.keys)) {
		return nil
	}
	return ix.keys[id]
}

func testPoints(n int, tagLen int) []models.Point {
	var pts []models.Point
	for i := range n {
		pts = append(pts, models.Point{
			Measurement: []byte("cpu,x"),
			Tags: models.Tags{
				{Key: []byte("host"), Value: []byte(fmt.Sprintf("h %d%s", i%7, strings.Repeat("z", tagLen)))},
			},
			Fields: []models.Field{
				{Key: []byte("f"), Value: models.FloatValue(float64(i) / 3)},
				{Key: []byte("i"), Value: models.IntegerValue(-int64(i) * 1000)},
				{Key: []byte("u"), Value: models.UnsignedValue(uint64(i) << 40)},
				{Key: []byte("s"), Value: models.StringValue([]byte(fmt.Sprintf("str%d", i)))},
				{Key: []byte("b"), Value: models.BooleanValue(i%3 == 0)},
			},
			Time: int64(i)*1e9 - 5e9,
		})
	}
	return pts
}

// schemaTestPoints returns n points that alternate between two series
// (sharing their slices, as parsed points do) and, every two points,
// between three lists of field keys: user and system, the same in the
// other order, and idle; point i has the values user = i, system = i/2,
// idle = "x<i>" at time i seconds.
func schemaTestPoints(n int) []models.Point {
	series := []models.Point{
		{Measurement: []byte("cpu"), Tags: models.Tags{{Key: []byte("host"), Value: []byte("a")}}},
		{Measurement: []byte("mem")},
	}
	var pts []models.Point
	for i := range n {
		p := series[i%2]
		user := models.Field{Key: []byte("user"), Value: models.IntegerValue(int64(i))}
		system := models.Field{Key: []byte("system"), Value: models.FloatValue(float64(i) / 2)}
		switch (i / 2) % 3 {
		case 0:
			p.Fields = []models.Field{user, system}
		case 1:
			p.Fields = []models.Field{system, user}
		default:
			p.Fields = []models.Field{{Key: []byte("idle"), Value: models.StringValue([]byte(fmt.Sprintf("x%d", i)))}}
		}
		p.Time = int64(i) * 1e9
		pts = append(pts, p)
	}
	return pts
}

func TestWALRecordPointsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n, tagLen int
	}{
		{"small", 2, 0},
		{"large", 200, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pts := testPoints(tc.n, tc.tagLen)
			drop := make([]bool, len(pts))
			drop[1] = true
			var e walEncoder
			rec := e.encodePoints(pts, drop, testIDs(pts))
			if rec[0] != walRecordSeriesIDs || rec[1] != 0 {
				t.Fatalf("kind %d, flags %d: want %d, 0 (uncompressed)", rec[0], rec[1], walRecordSeriesIDs)
			}
			vals, _, err := decodeAll(t, rec)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			var want []decodedValue
			for i, p := range pts {
				if drop[i] {
					continue
				}
				for _, f := range p.Fields {
					want = append(want, decodedValue{string(p.AppendSeriesKey(nil)), string(f.Key), p.Time, f.Value})
				}
			}
			if len(vals) != len(want) {
				t.Fatalf("decoded %d values, want %d", len(vals), len(want))
			}
			for i := range want {
				g, w := vals[i], want[i]
				if g.key != w.key || g.field != w.field || g.ts != w.ts || !g.v.Equal(w.v) {
					t.Fatalf("value %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestWALRecordDeleteRoundTrip(t *testing.T) {
	in := []Tombstone{
		{SeriesKey: []byte("cpu,host=a"), Min: -5, Max: 10},
		{SeriesKey: []byte("cpu,host=b"), Field: []byte("usage"), Min: 0, Max: 0},
	}
	var e walEncoder
	_, got, err := decodeAll(t, e.encodeDelete(in))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(got) != 2 || !bytes.Equal(got[1].Field, in[1].Field) || got[0].Min != -5 || got[0].Max != 10 ||
		!bytes.Equal(got[0].SeriesKey, in[0].SeriesKey) {
		t.Fatalf("tombstones: got %+v, want %+v", got, in)
	}
}

func TestWALRecordCorruptIsErrorNotPanic(t *testing.T) {
	var e walEncoder
	pts := testPoints(3, 0)
	rec := bytes.Clone(e.encodePoints(pts, nil, testIDs(pts)))
	for cut := 0; cut < len(rec); cut++ {
		if _, _, err := decodeAll(t, rec[:cut]); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("record cut at %d of %d: got %v, want ErrCorruptRecord", cut, len(rec), err)
		}
	}
	bad := bytes.Clone(rec)
	bad[0] = 9
	if _, _, err := decodeAll(t, bad); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("unknown kind: got %v, want ErrCorruptRecord", err)
	}
}

// TestWALRecordSeriesIDs checks how a record naming series by index id
// decodes: the values of a series the index no longer has (dropped) are
// skipped and counted, the others decode; an id of 0 is corruption, and a
// decoder without the index refuses the record.
func TestWALRecordSeriesIDs(t *testing.T) {
	pts := testPoints(14, 0) // series h 0 to h 6, twice each
	ids := testIDs(pts)
	var e walEncoder
	rec := bytes.Clone(e.encodePoints(pts, nil, ids))
	dropped := ids[3]
	d := walDecoder{seriesKey: func(id uint64) []byte {
		if id == dropped {
			return nil
		}
		return walTestIndex.key(id)
	}}
	var got []string
	err := d.decode(rec, walVisitor{value: func(key, field []byte, ts int64, v models.Value) error {
		if field[0] == 'i' {
			got = append(got, fmt.Sprintf("%s@%d", key, ts))
		}
		return nil
	}})
	var want []string
	for i := range pts {
		if ids[i] != dropped {
			want = append(want, fmt.Sprintf("%s@%d", pts[i].AppendSeriesKey(nil), pts[i].Time))
		}
	}
	if err != nil || !slices.Equal(got, want) || d.unknownSeries != 2*len(pts[3].Fields) {
		t.Fatalf("decoded %v (%d values of unknown series), %v; want %v (%d)", got, d.unknownSeries, err, want, 2*len(pts[3].Fields))
	}

	// The first schema defined: series 0, then its id.
	defs := e.defs
	if defs[0] != 0 || defs[1] != byte(ids[0]) {
		t.Fatalf("schema section starts %v, want [0 %d ...] (test ids below 128)", defs[:2], ids[0])
	}
	zero := bytes.Clone(rec)
	zero[len(rec)-len(defs)+1] = 0
	if _, _, err := decodeAll(t, zero); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("series id 0: got %v, want ErrCorruptRecord", err)
	}
	var bare walDecoder
	if err := bare.decode(rec, walVisitor{}); !errors.Is(err, errNoSeriesResolver) {
		t.Fatalf("decoder without the index: got %v, want errNoSeriesResolver", err)
	}
}

func TestWALEncodeAllocationFree(t *testing.T) {
	pts := testPoints(100, 20)
	var e walEncoder
	ids := testIDs(pts)
	e.encodePoints(pts, nil, ids)
	if n := testing.AllocsPerRun(20, func() { e.encodePoints(pts, nil, ids) }); n != 0 {
		t.Fatalf("allocations per encode: got %v, want 0", n)
	}
}

func FuzzWALRecordDecode(f *testing.F) {
	var e walEncoder
	for _, pts := range [][]models.Point{testPoints(2, 0), testPoints(50, 20)} {
		f.Add(bytes.Clone(e.encodePoints(pts, nil, testIDs(pts))))
	}
	f.Add(bytes.Clone(e.encodeDelete([]Tombstone{{SeriesKey: []byte("a"), Min: 1, Max: 2}})))
	for _, name := range []string{"wal-points-kind1.rec", "wal-points-kind1-s2.rec", "wal-points-kind3.rec", "wal-points-kind3-s2.rec", "wal-points-kind4.rec", "wal-points-kind4-s2.rec"} {
		rec, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		if len(rec) > 1<<20 {
			return
		}
		_, _, err := decodeAll(t, rec)
		if err != nil && !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("error does not wrap ErrCorruptRecord: %v", err)
		}
	})
}

// TestWALEncodePresized checks that a fresh encoder sizes its buffers from
// the batch: schemaDefSize is exact for the longest series id and
// pointEntrySize for a one-byte schema number and the longest time delta,
// and the encode allocates each buffer once instead of regrowing it.
func TestWALEncodePresized(t *testing.T) {
	var pts []models.Point
	for i, v := range []int64{0, -1, 63, -64, 64, -65, 1 << 40, -1 << 62, 1<<63 - 1, -1 << 63} {
		pts = append(pts, models.Point{
			Measurement: []byte("cpu"),
			Tags:        models.Tags{{Key: []byte("host"), Value: []byte(strings.Repeat("h", i*20))}},
			Fields: []models.Field{
				{Key: []byte(strings.Repeat("k", 100+i*10)), Value: models.IntegerValue(v)},
				{Key: []byte("f"), Value: models.FloatValue(float64(v))},
				{Key: []byte("u"), Value: models.UnsignedValue(uint64(v))},
				{Key: []byte("s"), Value: models.StringValue([]byte(strings.Repeat("s", i*15)))},
				{Key: []byte("b"), Value: models.BooleanValue(v > 0)},
			},
			Time: v,
		})
	}
	for i := range pts {
		var e walEncoder
		ids := testIDs(pts[i : i+1])
		e.encodePoints(pts[i:i+1], nil, ids)
		if got, want := schemaDefSize(&pts[i]), len(e.defs)+binary.MaxVarintLen64-uvarintLen(ids[0]); got != want {
			t.Fatalf("point %d: schemaDefSize %d, schema is %d bytes", i, got, want)
		}
		want := int(binary.LittleEndian.Uint32(e.raw[2:])) - 1 // count 1
		// The bound assumes a 4-byte schema number and the longest time
		// delta; the first point's delta is its time.
		got := pointEntrySize(&pts[i]) - 3 - binary.MaxVarintLen64 + len(binary.AppendVarint(nil, pts[i].Time))
		if got != want {
			t.Fatalf("point %d: pointEntrySize %d, entry is %d bytes", i, got, want)
		}
	}
	big := make([]models.Point, 0, 2000)
	for len(big) < cap(big) {
		big = append(big, pts...)
	}
	// A GC during the runs would empty s2's sync.Pool of hash tables and
	// count its allocation.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, batch := range [][]models.Point{pts, big} {
		ids := testIDs(batch)
		if n := testing.AllocsPerRun(10, func() {
			var e walEncoder
			e.encodePoints(batch, nil, ids)
		}); n > 7 {
			t.Fatalf("%d points: a fresh encoder made %v allocations, want at most 7 (raw, defs, keys, series, schemas, field keys, keys built)", len(batch), n)
		}
	}
}

func TestWALEncoderTrim(t *testing.T) {
	var e walEncoder
	pts := testPoints(2000, 20)
	e.encodePoints(pts, nil, testIDs(pts))
	if cap(e.raw) == 0 || cap(e.defs) == 0 || cap(e.keys) == 0 {
		t.Fatal("encode left no buffers")
	}
	e.trim(1 << 30)
	if cap(e.raw) == 0 || cap(e.defs) == 0 || cap(e.keys) == 0 {
		t.Fatal("trim under the limit dropped buffers")
	}
	e.trim(1024)
	if e.raw != nil || e.defs != nil || e.keys != nil {
		t.Fatalf("trim to 1 KiB kept raw %d, defs %d, keys %d", cap(e.raw), cap(e.defs), cap(e.keys))
	}
	pts = testPoints(3, 0)
	rec := e.encodePoints(pts, nil, testIDs(pts))
	if vals, _, err := decodeAll(t, rec); err != nil || len(vals) != 15 {
		t.Fatalf("encode after trim: %d values, %v", len(vals), err)
	}
}

// TestWALRecordKeyLimit checks that the WAL reader bounds field keys, and
// the series keys of older records, by models.MaxKeyLength, the write
// path's limit: keys at the limit read back, longer ones are corruption.
// (Records with series ids take their series keys from the index.)
func TestWALRecordKeyLimit(t *testing.T) {
	point := func(measurement, field int) models.Point {
		return models.Point{
			Measurement: bytes.Repeat([]byte("m"), measurement),
			Fields:      []models.Field{{Key: bytes.Repeat([]byte("f"), field), Value: models.FloatValue(1)}},
			Time:        1,
		}
	}
	for _, tc := range []struct {
		name     string
		p        models.Point
		rejected bool
	}{
		{"keys at the limit", point(models.MaxKeyLength, models.MaxKeyLength), false},
		{"field key past the limit", point(1, models.MaxKeyLength+1), true},
	} {
		var e walEncoder
		pts := []models.Point{tc.p}
		vals, _, err := decodeAll(t, e.encodePoints(pts, nil, testIDs(pts)))
		if tc.rejected != errors.Is(err, ErrCorruptRecord) || (!tc.rejected && len(vals) != 1) {
			t.Errorf("%s: decoded %d values, error %v; want rejected=%v", tc.name, len(vals), err, tc.rejected)
		}
	}
	for _, n := range []int{models.MaxKeyLength, models.MaxKeyLength + 1} {
		key := bytes.Repeat([]byte("m"), n)
		defs := slices.Concat([]byte{0}, binary.AppendUvarint(nil, uint64(n)), key, []byte{0, 1, 1, 'f'})
		vals, _, err := decodeAll(t, kind4Record(defs))
		if n > models.MaxKeyLength != errors.Is(err, ErrCorruptRecord) || err == nil && len(vals) != 1 {
			t.Errorf("kind-4 series key of %d bytes: decoded %d values, error %v", n, len(vals), err)
		}
	}
}

// kind4Record returns a walRecordSchemaSection record of one point, of
// schema 1 at time delta 0 with f = true, whose schema section is defs.
func kind4Record(defs []byte) []byte {
	points := []byte{1, 1, 0, byte(models.FieldTypeBoolean), 1}
	return slices.Concat([]byte{walRecordSchemaSection, 0, byte(len(points)), 0, 0, 0}, points, defs)
}

// TestWALEncodeSharedSeries checks that points sharing their series slices
// (as Parser returns repeated series) decode as unshared copies do, refer
// to their series instead of spelling it again, and that every key's first
// points to an equal key.
func TestWALEncodeSharedSeries(t *testing.T) {
	series := make([]models.Point, 40)
	for i := range series {
		series[i] = models.Point{
			Measurement: []byte("cpu x"), // escaped in the key
			Tags:        models.Tags{{Key: []byte("host"), Value: []byte(fmt.Sprintf("h%d", i))}, {Key: []byte("rack"), Value: []byte(fmt.Sprintf("r,%d", i%3))}},
		}
	}
	shared := make([]models.Point, 300)
	copies := make([]models.Point, len(shared))
	for i := range shared {
		shared[i] = series[i%len(series)] // the series' slices themselves
		shared[i].Fields = []models.Field{{Key: []byte("usage"), Value: models.IntegerValue(int64(i))}}
		shared[i].Time = int64(i) * 1e9
		copies[i] = shared[i].Clone()
	}
	drop := make([]bool, len(shared))
	drop[45] = true // a point whose series an earlier one has
	var a, b walEncoder
	want, _, err := decodeAll(t, b.encodePoints(copies, drop, testIDs(copies)))
	if err != nil {
		t.Fatal(err)
	}
	copiesSize := len(b.defs)
	got, _, err := decodeAll(t, a.encodePoints(shared, drop, testIDs(shared)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(g, w decodedValue) bool {
		return g.key == w.key && g.field == w.field && g.ts == w.ts && g.v.Equal(w.v)
	}) {
		t.Fatalf("record of shared points decodes differently from the record of their copies")
	}
	if len(a.defs) > copiesSize/3 {
		t.Fatalf("schemas of shared points take %d bytes, of copies %d: want under a third", len(a.defs), copiesSize)
	}
	kept := slices.Delete(slices.Clone(copies), 45, 46)
	hits := 0
	for k := range a.keys {
		first := a.keys[k].first
		if string(a.seriesKey(k)) != string(kept[k].AppendSeriesKey(nil)) || !bytes.Equal(a.seriesKey(k), a.seriesKey(first)) {
			t.Fatalf("key %d %q (first %d: %q); want %q", k, a.seriesKey(k), first, a.seriesKey(first), kept[k].AppendSeriesKey(nil))
		}
		if first != k {
			hits++
		}
	}
	if hits < 200 {
		t.Fatalf("%d of %d keys found an earlier point of their series; want most of them", hits, len(a.keys))
	}
}

// TestWALEncodeUsesPointKey checks that a record of parsed points, which
// carry their series key, is the record of the same points without it (the
// encoder then builds the keys), for keys with and without escapes.
func TestWALEncodeUsesPointKey(t *testing.T) {
	body := []byte("cpu,host=a,rack=1 f=1i 1\n" +
		"cpu\\ x,host=b\\,c,rack=2 f=2i,g=1 2\n" +
		"cpu,host=a,rack=1 f=3i 3\n" +
		"mem,host=c used=4i 4\n")
	var p models.Parser
	pts, err := p.Parse(body, models.PrecisionNanosecond, 0)
	if err != nil || len(pts) != 4 {
		t.Fatalf("Parse: %d points, error %v; want 4, none", len(pts), err)
	}
	bare := make([]models.Point, len(pts))
	for i := range pts {
		if pts[i].Key == nil {
			t.Fatalf("point %d has no Key", i)
		}
		bare[i] = pts[i]
		bare[i].Key = nil
	}
	var a, b walEncoder
	want := bytes.Clone(b.encodePoints(bare, nil, testIDs(bare)))
	if got := a.encodePoints(pts, nil, testIDs(pts)); !bytes.Equal(got, want) {
		t.Fatalf("record of points with their Key:\n%q\nwant (built keys):\n%q", got, want)
	}
	for k := range a.keys {
		if string(a.seriesKey(k)) != string(b.seriesKey(k)) {
			t.Fatalf("key %d %q, want %q", k, a.seriesKey(k), b.seriesKey(k))
		}
	}
}

// TestWALRecordSchemas checks the round trip of points that share a series
// with other field keys, change their keys' order, go back to earlier keys
// and jump between the extreme times (whose difference overflows int64),
// and that each series key is spelled once and each list of field keys
// once per change: the other series' schema with the same keys refers to
// them.
func TestWALRecordSchemas(t *testing.T) {
	series := []models.Point{
		{Measurement: []byte("cpu"), Tags: models.Tags{{Key: []byte("host"), Value: []byte("a")}}},
		{Measurement: []byte("mem")},
	}
	fields := [][]models.Field{
		{{Key: []byte("user"), Value: models.IntegerValue(1)}, {Key: []byte("system"), Value: models.FloatValue(2.5)}},
		{{Key: []byte("system"), Value: models.FloatValue(-1)}, {Key: []byte("user"), Value: models.IntegerValue(-7)}},
		{{Key: []byte("idle"), Value: models.StringValue([]byte("x"))}},
	}
	times := []int64{models.MinNanoTime, models.MaxNanoTime, 0, -1, models.MaxNanoTime, models.MinNanoTime}
	var pts []models.Point
	for i := range 60 {
		p := series[i%2]
		p.Fields = slices.Clone(fields[(i/2)%3])
		p.Fields[0].Value = models.IntegerValue(int64(i))
		p.Time = times[i%len(times)]
		pts = append(pts, p)
	}
	var e walEncoder
	rec := bytes.Clone(e.encodePoints(pts, nil, testIDs(pts)))
	if rec[0] != walRecordSeriesIDs {
		t.Fatalf("record kind %d, want %d", rec[0], walRecordSeriesIDs)
	}
	vals, _, err := decodeAll(t, rec)
	if err != nil {
		t.Fatal(err)
	}
	var want []decodedValue
	for _, p := range pts {
		for _, f := range p.Fields {
			want = append(want, decodedValue{string(p.AppendSeriesKey(nil)), string(f.Key), p.Time, f.Value})
		}
	}
	if !slices.EqualFunc(vals, want, func(g, w decodedValue) bool {
		return g.key == w.key && g.field == w.field && g.ts == w.ts && g.v.Equal(w.v)
	}) {
		t.Fatalf("decoded %+v\nwant %+v", vals, want)
	}
	// Each series is defined once; every change of field keys (each
	// series goes through the three lists 10 times) defines a schema, and
	// mem's takes the keys of the schema cpu defined just before.
	body := e.defs
	if len(e.series) != 2 {
		t.Fatalf("%d series defined, want 2", len(e.series))
	}
	if n := bytes.Count(body, []byte("idle")); n != 10 {
		t.Fatalf("field key idle spelled %d times, want 10 (once per pair of schemas)", n)
	}
}

// TestWALRecordRandomBatches round-trips random batches: points drawn from
// a few series (sharing their slices, as parsed points do, or copies),
// each with a random list of field keys of random types, random times and
// random drops, through one reused encoder.
func TestWALRecordRandomBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	series := make([]models.Point, 12)
	for i := range series {
		series[i] = models.Point{Measurement: []byte(fmt.Sprintf("m%d", i%3))}
		for j := range i % 4 {
			series[i].Tags = append(series[i].Tags, models.Tag{Key: []byte(fmt.Sprintf("t%d", j)), Value: []byte(fmt.Sprintf("v %d", i))})
		}
	}
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("dd")}
	values := []models.Value{models.FloatValue(1.5), models.IntegerValue(-3), models.UnsignedValue(7), models.StringValue([]byte("s")), models.BooleanValue(true)}
	var e walEncoder
	for round := range 200 {
		pts := make([]models.Point, 1+rng.IntN(300))
		drop := make([]bool, len(pts))
		for i := range pts {
			p := series[rng.IntN(len(series))]
			if rng.IntN(10) == 0 {
				p = p.Clone() // a series the memo cannot recognise
			}
			for _, k := range rng.Perm(len(keys))[:1+rng.IntN(len(keys))] {
				p.Fields = append(p.Fields, models.Field{Key: keys[k], Value: values[rng.IntN(len(values))]})
			}
			p.Time = rng.Int64() - rng.Int64()
			pts[i] = p
			drop[i] = rng.IntN(8) == 0
		}
		vals, _, err := decodeAll(t, e.encodePoints(pts, drop, testIDs(pts)))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var want []decodedValue
		for i, p := range pts {
			if drop[i] {
				continue
			}
			for _, f := range p.Fields {
				want = append(want, decodedValue{string(p.AppendSeriesKey(nil)), string(f.Key), p.Time, f.Value})
			}
		}
		if !slices.EqualFunc(vals, want, func(g, w decodedValue) bool {
			return g.key == w.key && g.field == w.field && g.ts == w.ts && g.v.Equal(w.v)
		}) {
			t.Fatalf("round %d: decoded %d values, want %d", round, len(vals), len(want))
		}
	}
}

// TestWALRecordReadsOlderKinds checks that records of the earlier points
// layouts still decode, so a WAL written before an upgrade is replayed
// after it: kind 1, written by the encoder before schemas, kind 3,
// written before schemas shared field keys, and kind 4, written before
// series were named by index id (testdata, made from testPoints(50, 20)
// without point 3, s2-compressed, testPoints(2, 0) and
// schemaTestPoints(12)).
func TestWALRecordReadsOlderKinds(t *testing.T) {
	for _, tc := range []struct {
		file string
		kind byte
		pts  []models.Point
		drop int
	}{
		{"wal-points-kind1-s2.rec", walRecordPoints, testPoints(50, 20), 3},
		{"wal-points-kind1.rec", walRecordPoints, testPoints(2, 0), -1},
		{"wal-points-kind3-s2.rec", walRecordSchemaPoints, testPoints(50, 20), 3},
		{"wal-points-kind3.rec", walRecordSchemaPoints, schemaTestPoints(12), -1},
		{"wal-points-kind4-s2.rec", walRecordSchemaSection, testPoints(50, 20), 3},
		{"wal-points-kind4.rec", walRecordSchemaSection, schemaTestPoints(12), -1},
	} {
		rec, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if rec[0] != tc.kind {
			t.Fatalf("%s: kind %d, want %d", tc.file, rec[0], tc.kind)
		}
		vals, _, err := decodeAll(t, rec)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		var want []decodedValue
		for i, p := range tc.pts {
			if i == tc.drop {
				continue
			}
			for _, f := range p.Fields {
				want = append(want, decodedValue{string(p.AppendSeriesKey(nil)), string(f.Key), p.Time, f.Value})
			}
		}
		if !slices.EqualFunc(vals, want, func(g, w decodedValue) bool {
			return g.key == w.key && g.field == w.field && g.ts == w.ts && g.v.Equal(w.v)
		}) {
			t.Fatalf("%s: decoded %d values, want %d: %+v", tc.file, len(vals), len(want), vals)
		}
	}
}

// BenchmarkWALEncode encodes 5,000-line TSBS batches as /write hands them
// to the engine: parsed, so the points of a series share their tags. One
// op is one batch. In tsbs-cpu a batch holds 100 series; in
// tsbs-cpu-new-series (the 1 M-series load) every line is a series
// of its own.
func BenchmarkWALEncode(b *testing.B) {
	b.Run("tsbs-cpu", func(b *testing.B) {
		benchWALEncode(b, datasets.Batches(b, "tsbs-cpu-only-s100-1d.lp.gz", 5000, 20000))
	})
	b.Run("tsbs-cpu-new-series", func(b *testing.B) {
		benchWALEncode(b, newSeriesBodies(b, 20000, 5000))
	})
}

// newSeriesBodies returns lines of `strata bench --hosts N` for lines
// hosts at one time step, in batches of batch lines: every line is a
// series of its own.
func newSeriesBodies(b *testing.B, lines, batch int) [][]byte {
	cfg := loadgen.NewCPUConfig()
	cfg.Hosts, cfg.Duration = lines, cfg.Interval
	g, err := loadgen.NewCPUGenerator(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var bodies [][]byte
	for done := false; !done; {
		var body []byte
		for range batch {
			var ok bool
			if body, ok = g.Next(body); !ok {
				done = true
				break
			}
		}
		if len(body) > 0 {
			bodies = append(bodies, body)
		}
	}
	return bodies
}

func benchWALEncode(b *testing.B, bodies [][]byte) {
	parsers := make([]models.Parser, len(bodies))
	batches := make([][]models.Point, len(bodies))
	values := 0
	for i, body := range bodies {
		pts, err := parsers[i].Parse(body, models.PrecisionNanosecond, 0)
		if err != nil {
			b.Fatal(err)
		}
		batches[i] = pts
		for j := range pts {
			values += len(pts[j].Fields)
		}
	}
	ids := make([][]uint64, len(batches))
	for i, pts := range batches {
		ids[i] = testIDs(pts)
	}
	var e walEncoder
	size := 0
	i := 0
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	for b.Loop() {
		size += len(e.encodePoints(batches[i%len(batches)], nil, ids[i%len(batches)]))
		i++
	}
	cpu := threadCPU() - cpu0
	b.ReportMetric(float64(size)/float64(i), "record-bytes/op")
	// CPU time of this thread: steadier than wall time on a loaded machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(i), "cpu-ns/op")
}

// threadCPU returns the CPU time used by the calling OS thread (the caller
// must hold runtime.LockOSThread).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWALDecode decodes the records BenchmarkWALEncode makes, as
// replay does. One op is one record.
func BenchmarkWALDecode(b *testing.B) {
	bodies := datasets.Batches(b, "tsbs-cpu-only-s100-1d.lp.gz", 5000, 20000)
	var recs [][]byte
	for _, body := range bodies {
		var p models.Parser
		pts, err := p.Parse(body, models.PrecisionNanosecond, 0)
		if err != nil {
			b.Fatal(err)
		}
		var e walEncoder
		recs = append(recs, bytes.Clone(e.encodePoints(pts, nil, testIDs(pts))))
	}
	d := walDecoder{seriesKey: walTestIndex.key}
	values := 0
	vis := walVisitor{value: func([]byte, []byte, int64, models.Value) error { values++; return nil }}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	i := 0
	for b.Loop() {
		if err := d.decode(recs[i%len(recs)], vis); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(i), "cpu-ns/op")
	b.ReportMetric(float64(values)/float64(i), "values/op")
}

// TestWALEncodeNewSeriesShareFieldKeys checks that a batch of new series
// with the same field keys (as copies, not shared slices) spells the keys
// once, again after a point with other keys, and decodes to its points;
// and that a schema taking the field keys of a schema not yet defined is
// corruption.
func TestWALEncodeNewSeriesShareFieldKeys(t *testing.T) {
	var pts []models.Point
	for i := range 100 {
		p := models.Point{
			Measurement: []byte("cpu"),
			Tags:        models.Tags{{Key: []byte("host"), Value: []byte(fmt.Sprintf("h%d", i))}},
			Fields: []models.Field{
				{Key: []byte("usage_user"), Value: models.IntegerValue(int64(i))},
				{Key: []byte("usage_system"), Value: models.FloatValue(float64(i))},
			},
			Time: int64(i),
		}
		if i == 50 {
			p.Fields = p.Fields[1:]
		}
		pts = append(pts, p)
	}
	var e walEncoder
	vals, _, err := decodeAll(t, e.encodePoints(pts, nil, testIDs(pts)))
	if err != nil {
		t.Fatal(err)
	}
	var want []decodedValue
	for _, p := range pts {
		for _, f := range p.Fields {
			want = append(want, decodedValue{string(p.AppendSeriesKey(nil)), string(f.Key), p.Time, f.Value})
		}
	}
	if !slices.EqualFunc(vals, want, func(g, w decodedValue) bool {
		return g.key == w.key && g.field == w.field && g.ts == w.ts && g.v.Equal(w.v)
	}) {
		t.Fatalf("decoded %d values, want %d", len(vals), len(want))
	}
	if n := bytes.Count(e.defs, []byte("usage_user")); n != 2 {
		t.Fatalf("field key usage_user spelled %d times, want 2 (before and after point 50)", n)
	}
	// One point, of schema 1 at time delta 0 with f = true; schema 1 is
	// series key "m" and its own field keys, one: "f". Then the same with
	// schema 1 taking the field keys of schema 1, not yet defined.
	good := kind4Record([]byte{0, 1, 'm', 0, 1, 1, 'f'})
	if vals, _, err := decodeAll(t, good); err != nil || len(vals) != 1 || vals[0].key != "m" || vals[0].field != "f" {
		t.Fatalf("hand-made record: %+v, %v; want m f=true", vals, err)
	}
	bad := slices.Concat(good[:len(good)-4], []byte{1})
	if _, _, err := decodeAll(t, bad); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("field keys of an undefined schema: got %v, want ErrCorruptRecord", err)
	}
}

// TestWALEncodeBytes pins the bytes of a walRecordSeriesIDs record, so a
// change to the encoder that the round trips accept but that writes other
// bytes (replay of an older binary's WAL reads them) fails: points with
// and without their Key, a series repeated with its schema, with another
// and with an earlier one, a new series taking the last schema, every
// value type and a time going back.
func TestWALEncodeBytes(t *testing.T) {
	body := []byte("cpu,host=a,rack=1 f=1i,g=2.5 10\n" +
		"cpu,host=b,rack=1 f=-3i,g=0.5 10\n" +
		"cpu,host=a,rack=1 f=4i,g=1 20\n" +
		"cpu,host=a,rack=1 s=\"x\",b=t,u=7u 5\n" +
		"mem,host=c used=4i 30\n" +
		"cpu,host=b,rack=1 f=5i,g=9 40\n")
	var p models.Parser
	pts, err := p.Parse(body, models.PrecisionNanosecond, 0)
	if err != nil || len(pts) != 6 {
		t.Fatalf("Parse: %d points, error %v; want 6, none", len(pts), err)
	}
	pts[1].Key, pts[4].Key = nil, nil // built by the encoder
	ids := []uint64{3, 300, 3, 3, 70000, 300}
	const want = "" +
		"05004200000006011402020100000000000004400200020501000000" +
		"000000e03f0114020801000000000000f03f031d0401780501030704" +
		"3202080214020a010000000000002240000300020166016700ac0201" +
		"01000301730162017500f0a20400010475736564"
	var e walEncoder
	got := e.encodePoints(pts, nil, ids)
	if hex.EncodeToString(got) != want {
		t.Fatalf("record\n%x\nwant\n%s", got, want)
	}
	for i := range pts {
		if k := string(e.seriesKey(i)); k != string(pts[i].AppendSeriesKey(nil)) {
			t.Fatalf("point %d: series key %q, want %q", i, k, pts[i].AppendSeriesKey(nil))
		}
	}
}
