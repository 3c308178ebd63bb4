package tsdb_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
)

func TestFieldTypeConflictIsPartialWrite(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	must(t, sh.WritePoints(context.Background(), []models.Point{pt("a", "v", 1, models.FloatValue(1))}), "first write")
	err := sh.WritePoints(context.Background(), []models.Point{
		pt("a", "v", 2, models.IntegerValue(2)), // conflicts: v is float
		pt("b", "v", 3, models.FloatValue(3)),
	})
	var pwe *tsdb.PartialWriteError
	if !errors.As(err, &pwe) || pwe.Dropped != 1 {
		t.Fatalf("conflicting write: got %v, want *PartialWriteError with Dropped=1", err)
	}
	var fce *index.FieldConflictError
	if !errors.As(err, &fce) || fce.Field != "v" || fce.Existing != models.FieldTypeFloat || fce.Got != models.FieldTypeInteger {
		t.Fatalf("conflict detail: got %#v, want field v float vs integer", fce)
	}
	if got := readAll(t, sh, seriesKey("a"), "v", true); len(got) != 1 {
		t.Fatalf("series a: got %v, want only the first value", got)
	}
	if got := readAll(t, sh, seriesKey("b"), "v", true); len(got) != 1 || got[0].v.Float() != 3 {
		t.Fatalf("series b: got %v, want [3=3] (the good point of the batch)", got)
	}
	if sh.SeriesN() != 2 {
		t.Fatalf("SeriesN: got %d, want 2", sh.SeriesN())
	}
}

func TestDropSeriesAndMeasurement(t *testing.T) {
	cfg := testConfig(t.TempDir())
	st, sh := openShard(t, cfg)
	mem := func(host string, ts int64) models.Point {
		p := pt(host, "free", ts, models.IntegerValue(ts))
		p.Measurement = []byte("mem")
		return p
	}
	memKey := func(host string) []byte {
		return models.AppendSeriesKey(nil, []byte("mem"), models.Tags{{Key: []byte("host"), Value: []byte(host)}})
	}
	for ts := range int64(5) {
		must(t, sh.WritePoints(context.Background(), []models.Point{
			pt("a", "v", ts, models.FloatValue(1)), pt("b", "v", ts, models.FloatValue(2)),
			mem("a", ts), mem("b", ts),
		}), "write")
	}
	must(t, sh.Snapshot(), "snapshot")
	must(t, sh.DropSeries([]byte("cpu"), index.TagMatch{Key: "host", Op: index.Equal, Value: "a"}), "drop series")
	must(t, sh.DropMeasurement([]byte("mem")), "drop measurement")
	check := func(stage string) {
		t.Helper()
		if n := len(readAll(t, sh, seriesKey("a"), "v", true)); n != 0 {
			t.Fatalf("%s: dropped series cpu,host=a has %d values, want 0", stage, n)
		}
		if n := len(readAll(t, sh, seriesKey("b"), "v", true)); n != 5 {
			t.Fatalf("%s: cpu,host=b has %d values, want 5", stage, n)
		}
		for _, h := range []string{"a", "b"} {
			if n := len(readAll(t, sh, memKey(h), "free", true)); n != 0 {
				t.Fatalf("%s: dropped measurement mem host %s has %d values, want 0", stage, h, n)
			}
		}
		if sh.SeriesN() != 1 {
			t.Fatalf("%s: SeriesN: got %d, want 1", stage, sh.SeriesN())
		}
	}
	check("after drop")
	must(t, sh.Compact(true), "compact")
	check("compacted")
	must(t, st.Close(), "close")
	sh = openStore(t, cfg).Shard(1)
	check("reopen")
	// The measurement can come back with another field type.
	p := mem("a", 9)
	p.Fields[0].Value = models.StringValue([]byte("x"))
	must(t, sh.WritePoints(context.Background(), []models.Point{p}), "rewrite dropped measurement")
	if got := readAll(t, sh, memKey("a"), "free", true); len(got) != 1 || string(got[0].v.S) != "x" {
		t.Fatalf("re-created field: got %v, want [9=x]", got)
	}
}

func TestInvalidFieldTypeIsPartialWrite(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	bad := pt("a", "v", 1, models.Value{Type: 9, N: 1})
	err := sh.WritePoints(context.Background(), []models.Point{bad, pt("b", "v", 2, models.FloatValue(2))})
	var pwe *tsdb.PartialWriteError
	if !errors.As(err, &pwe) || pwe.Dropped != 1 || !errors.Is(err, tsdb.ErrInvalidFieldType) {
		t.Fatalf("write with an invalid type: got %v, want *PartialWriteError wrapping ErrInvalidFieldType, Dropped=1", err)
	}
	if got := readAll(t, sh, seriesKey("b"), "v", true); len(got) != 1 {
		t.Fatalf("valid point of the batch: got %v, want it written", got)
	}
	if n := sh.SeriesN(); n != 1 {
		t.Fatalf("SeriesN: got %d, want 1 (the invalid point created nothing)", n)
	}
}

// TestPointsPastLimitsArePartialWrite checks the engine's own guard, for
// callers that build points without the parser: a series key or field key
// past models.MaxKeyLength and a timestamp outside InfluxDB's range are
// dropped and reported, the rest of the batch is written, and all of it
// is there after the store is reopened. The bad points come twice: as
// callers build them, and with their Key set, as the parser makes them.
func TestPointsPastLimitsArePartialWrite(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s, sh := openShard(t, cfg)
	long := strings.Repeat("y", models.MaxKeyLength)
	bad := []models.Point{
		pt(long, "v", 1, models.FloatValue(1)),
		pt("a", long+"f", 1, models.FloatValue(1)),
		pt("b", "v", models.MaxNanoTime+1, models.FloatValue(1)),
		pt("c", "v", math.MinInt64, models.FloatValue(1)),
	}
	batch := append([]models.Point(nil), bad...)
	for _, p := range bad {
		p.Key = models.AppendSeriesKey(nil, p.Measurement, p.Tags)
		batch = append(batch, p)
	}
	batch = append(batch, pt("ok", "v", models.MaxNanoTime, models.FloatValue(2)))
	err := sh.WritePoints(context.Background(), batch)
	var pwe *tsdb.PartialWriteError
	if !errors.As(err, &pwe) || pwe.Dropped != 8 || !errors.Is(err, models.ErrKeyTooLong) || !errors.Is(err, models.ErrTimestampOutOfRange) {
		t.Fatalf("write past the limits: got %v, want *PartialWriteError of 8 points (key too long, time out of range)", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, cfg)
	sh = s.Shard(1)
	if n := sh.SeriesN(); n != 1 {
		t.Fatalf("SeriesN after reopen: got %d, want 1 (only the good point's series)", n)
	}
	if got := readAll(t, sh, seriesKey("ok"), "v", true); len(got) != 1 || got[0].ts != models.MaxNanoTime {
		t.Fatalf("good point after reopen: got %v", got)
	}
}
