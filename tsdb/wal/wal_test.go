package wal_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb/wal"
)

// testConfig returns a config with a small segment size; fsync stays on
// unless noSync.
func testConfig(segmentSize int64) wal.Config {
	cfg := wal.NewConfig()
	cfg.SegmentSize = segmentSize
	return cfg
}

func mustOpen(t *testing.T, dir string, cfg wal.Config, reg prometheus.Registerer) *wal.WAL {
	t.Helper()
	w, err := wal.Open(dir, cfg, nil, reg)
	if err != nil {
		t.Fatalf("Open(%s): got error %v; want nil", dir, err)
	}
	return w
}

// replayed is a record seen by Replay.
type replayed struct {
	seg uint64
	rec []byte
}

func replayAll(t *testing.T, w *wal.WAL) []replayed {
	t.Helper()
	var got []replayed
	err := w.Replay(func(seg uint64, rec []byte) error {
		got = append(got, replayed{seg, bytes.Clone(rec)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: got error %v; want nil", err)
	}
	return got
}

// makeRecord returns a deterministic record of n bytes for key i.
func makeRecord(i, n int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), uint64(n)))
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(wal.MinSegmentSize)
	w := mustOpen(t, dir, cfg, nil)
	sizes := []int{0, 1, 7, 8, 100, 1000, 3000, 5000, 9000, 17, 0, 4096}
	var want []replayed
	for i, n := range sizes {
		rec := makeRecord(i, n)
		seg, err := w.Write(rec)
		if err != nil {
			t.Fatalf("Write(record %d, %d bytes): got error %v; want nil", i, n, err)
		}
		want = append(want, replayed{seg, rec})
	}
	multi := [][]byte{makeRecord(100, 10), makeRecord(101, 20), makeRecord(102, 30)}
	seg, err := w.WriteMulti(multi...)
	if err != nil {
		t.Fatalf("WriteMulti: got error %v; want nil", err)
	}
	for _, rec := range multi {
		want = append(want, replayed{seg, rec})
	}
	segsBefore := w.Segments()
	if len(segsBefore) < 3 {
		t.Errorf("Segments() = %v; want >= 3 segments with %d-byte segments", segsBefore, cfg.SegmentSize)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}

	w = mustOpen(t, dir, cfg, nil)
	defer w.Close()
	got := replayAll(t, w)
	if len(got) != len(want) {
		t.Fatalf("Replay returned %d records; want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].seg != want[i].seg || !bytes.Equal(got[i].rec, want[i].rec) {
			t.Errorf("record %d: got segment %d, %d bytes; want segment %d, %d bytes (equal=%v)",
				i, got[i].seg, len(got[i].rec), want[i].seg, len(want[i].rec), bytes.Equal(got[i].rec, want[i].rec))
		}
	}
	// The reopened WAL writes to a new segment after the recovered ones.
	segs := w.Segments()
	if last := segs[len(segs)-1]; last != segsBefore[len(segsBefore)-1]+1 {
		t.Errorf("active segment after reopen = %d; want %d", last, segsBefore[len(segsBefore)-1]+1)
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(wal.MinSegmentSize)
	cfg.MaxRecordSize = 100
	w := mustOpen(t, dir, cfg, nil)
	if _, err := w.Write(make([]byte, 101)); !errors.Is(err, wal.ErrRecordTooLarge) {
		t.Errorf("Write(101 bytes, max 100): got error %v; want ErrRecordTooLarge", err)
	}
	if _, err := w.Write(make([]byte, 100)); err != nil {
		t.Errorf("Write(100 bytes, max 100): got error %v; want nil", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: got %v; want nil", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: got %v; want nil", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("Write after Close: got %v; want ErrClosed", err)
	}
	if _, err := w.Rotate(); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("Rotate after Close: got %v; want ErrClosed", err)
	}
	if err := w.Replay(func(uint64, []byte) error { return nil }); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("Replay after Close: got %v; want ErrClosed", err)
	}
}

func TestReplayCallbackError(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(wal.MinSegmentSize)
	w := mustOpen(t, dir, cfg, nil)
	for i := range 3 {
		if _, err := w.Write(makeRecord(i, 10)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	w.Close()
	w = mustOpen(t, dir, cfg, nil)
	defer w.Close()
	stop := errors.New("stop")
	calls := 0
	err := w.Replay(func(uint64, []byte) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Replay with failing fn: got error %v after %d calls; want the fn's error after 1 call", err, calls)
	}
}

func TestConcurrentGroupCommit(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(64 << 10)
	reg := prometheus.NewRegistry()
	w := mustOpen(t, dir, cfg, reg)
	const writers, perWriter = 8, 40
	type ack struct {
		seg uint64
		rec []byte
	}
	acks := make([][]ack, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				rec := makeRecord(g*1000+i, 100+(g*31+i*17)%3000)
				seg, err := w.Write(rec)
				if err != nil {
					t.Errorf("writer %d Write %d: got error %v; want nil", g, i, err)
					return
				}
				acks[g] = append(acks[g], ack{seg, rec})
			}
		})
	}
	wg.Wait()
	writes := metricValue(t, reg, "strata_wal_writes_total")
	if writes != writers*perWriter {
		t.Errorf("strata_wal_writes_total = %v; want %d", writes, writers*perWriter)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	w = mustOpen(t, dir, cfg, nil)
	defer w.Close()
	got := replayAll(t, w)
	if len(got) != writers*perWriter {
		t.Fatalf("Replay returned %d records; want %d", len(got), writers*perWriter)
	}
	// Each writer's records appear in its order, in the segment Write named.
	index := make(map[string]int, len(got))
	for i, r := range got {
		index[string(r.rec)] = i
	}
	for g := range writers {
		prev := -1
		for i, a := range acks[g] {
			pos, ok := index[string(a.rec)]
			if !ok {
				t.Fatalf("writer %d record %d: acknowledged but not replayed", g, i)
			}
			if got[pos].seg != a.seg {
				t.Errorf("writer %d record %d: replayed from segment %d; Write returned %d", g, i, got[pos].seg, a.seg)
			}
			if pos <= prev {
				t.Errorf("writer %d record %d: replayed at %d, not after its predecessor at %d", g, i, pos, prev)
			}
			prev = pos
		}
	}
}

// metricValue returns the value of the single-series metric name in reg: a
// counter's or gauge's value, or a histogram's sample count.
func metricValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestRotateAndRemoveThrough(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(1 << 20)
	reg := prometheus.NewRegistry()
	w := mustOpen(t, dir, cfg, reg)
	defer w.Close()
	var sealed []uint64
	for i := range 4 {
		seg, err := w.Write(makeRecord(i, 50))
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		s, err := w.Rotate()
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if s != seg {
			t.Errorf("Rotate sealed %d; want %d, the segment the last Write went to", s, seg)
		}
		sealed = append(sealed, s)
	}
	segs := w.Segments()
	if want := append(slices.Clone(sealed), sealed[3]+1); !slices.Equal(segs, want) {
		t.Fatalf("Segments() = %v; want %v", segs, want)
	}
	if g := metricValue(t, reg, "strata_wal_segments"); g != 5 {
		t.Errorf("strata_wal_segments = %v; want 5", g)
	}
	sizeBefore := w.Size()
	if err := w.RemoveThrough(sealed[1]); err != nil {
		t.Fatalf("RemoveThrough(%d): %v", sealed[1], err)
	}
	if want := []uint64{sealed[2], sealed[3], sealed[3] + 1}; !slices.Equal(w.Segments(), want) {
		t.Errorf("Segments() after RemoveThrough(%d) = %v; want %v", sealed[1], w.Segments(), want)
	}
	for _, id := range sealed[:2] {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%020d.wal", id))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("segment %d file after RemoveThrough: stat error %v; want not exist", id, err)
		}
	}
	if got, want := w.Size(), sizeBefore-2*(8+8+50); got != want {
		t.Errorf("Size() after removing two segments = %d; want %d", got, want)
	}
	if g := metricValue(t, reg, "strata_wal_segments"); g != 3 {
		t.Errorf("strata_wal_segments = %v; want 3", g)
	}
	active := w.Segments()[2]
	if err := w.RemoveThrough(active); !errors.Is(err, wal.ErrActiveSegment) {
		t.Errorf("RemoveThrough(active %d): got %v; want ErrActiveSegment", active, err)
	}
	if n := len(w.Segments()); n != 3 {
		t.Errorf("RemoveThrough(active) removed segments: %d left; want 3", n)
	}
}

func TestMetricsSharedByManyWALs(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig(wal.MinSegmentSize)
	// Two WALs opened with the same registry share its collectors.
	a := mustOpen(t, t.TempDir(), cfg, reg)
	defer a.Close()
	b := mustOpen(t, t.TempDir(), cfg, reg)
	defer b.Close()
	// A third gets a Metrics built once, as a Store with many shards would.
	m, err := wal.NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics on a registry that has them: got %v; want nil", err)
	}
	c, err := wal.Open(t.TempDir(), cfg, nil, nil, wal.WithMetrics(m))
	if err != nil {
		t.Fatalf("Open with WithMetrics: %v", err)
	}
	for i, w := range []*wal.WAL{a, b, c} {
		if _, err := w.WriteMulti(makeRecord(i, 10), makeRecord(i+10, 20)); err != nil {
			t.Fatalf("WriteMulti: %v", err)
		}
	}
	if got := metricValue(t, reg, "strata_wal_writes_total"); got != 6 {
		t.Errorf("strata_wal_writes_total = %v; want 6", got)
	}
	if got, want := metricValue(t, reg, "strata_wal_bytes_total"), float64(3*(8+10+8+20)); got != want {
		t.Errorf("strata_wal_bytes_total = %v; want %v", got, want)
	}
	if got := metricValue(t, reg, "strata_wal_fsync_duration_seconds"); got != 3 {
		t.Errorf("strata_wal_fsync_duration_seconds count = %v; want 3 (one group each)", got)
	}
	if got := metricValue(t, reg, "strata_wal_segments"); got != 3 {
		t.Errorf("strata_wal_segments = %v; want 3", got)
	}
	c.Close()
	if got := metricValue(t, reg, "strata_wal_segments"); got != 2 {
		t.Errorf("strata_wal_segments after closing one WAL = %v; want 2", got)
	}
}

func TestMetricsNameClash(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_wal_writes_total", Help: "something else"}))
	if _, err := wal.Open(t.TempDir(), testConfig(wal.MinSegmentSize), nil, reg); err == nil {
		t.Errorf("Open with a clashing metric registered: got nil error; want the registration error")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*wal.Config)
		ok     bool
	}{
		{"defaults", func(*wal.Config) {}, true},
		{"segment size too small", func(c *wal.Config) { c.SegmentSize = wal.MinSegmentSize - 1 }, false},
		{"segment size minimum", func(c *wal.Config) { c.SegmentSize = wal.MinSegmentSize }, true},
		{"zero max record", func(c *wal.Config) { c.MaxRecordSize = 0 }, false},
		{"max record past uint32", func(c *wal.Config) { c.MaxRecordSize = math.MaxInt }, strconv.IntSize < 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := wal.NewConfig()
			tc.modify(&cfg)
			err := cfg.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate() = %v; want ok=%v", err, tc.ok)
			}
			w, oerr := wal.Open(t.TempDir(), cfg, nil, nil)
			if (oerr == nil) != tc.ok {
				t.Errorf("Open() error = %v; want ok=%v", oerr, tc.ok)
			}
			if oerr == nil {
				w.Close()
			}
		})
	}
}

func TestConcurrentWriteRotateRemove(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(16 << 10)
	w := mustOpen(t, dir, cfg, nil)
	const writers, perWriter = 4, 150
	var mu sync.Mutex
	acked := make(map[string]uint64) // record → segment Write returned
	var removedThrough uint64
	var wg sync.WaitGroup
	done := make(chan struct{})
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				rec := makeRecord(g*10000+i, 50+(i*37)%2000)
				seg, err := w.Write(rec)
				if err != nil {
					t.Errorf("Write: got %v; want nil", err)
					return
				}
				mu.Lock()
				acked[string(rec)] = seg
				mu.Unlock()
			}
		})
	}
	var rotator sync.WaitGroup
	rotator.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			sealed, err := w.Rotate()
			if err != nil {
				t.Errorf("Rotate: got %v; want nil", err)
				return
			}
			if n%3 == 2 && sealed > 1 {
				if err := w.RemoveThrough(sealed - 1); err != nil {
					t.Errorf("RemoveThrough(%d): got %v; want nil", sealed-1, err)
					return
				}
				mu.Lock()
				removedThrough = sealed - 1
				mu.Unlock()
			}
			_ = w.Segments()
			_ = w.Size()
		}
	})
	wg.Wait()
	close(done)
	rotator.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.RemoveThrough(1); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("RemoveThrough after Close: got %v; want ErrClosed", err)
	}

	w = mustOpen(t, dir, cfg, nil)
	defer w.Close()
	got := replayAll(t, w)
	seen := make(map[string]bool, len(got))
	for _, r := range got {
		seg, ok := acked[string(r.rec)]
		if !ok {
			t.Fatalf("replayed a %d-byte record that no Write acknowledged", len(r.rec))
		}
		if seg != r.seg {
			t.Errorf("record replayed from segment %d; Write returned %d", r.seg, seg)
		}
		if seg <= removedThrough {
			t.Errorf("record of segment %d replayed after RemoveThrough(%d)", seg, removedThrough)
		}
		seen[string(r.rec)] = true
	}
	for rec, seg := range acked {
		if seg > removedThrough && !seen[rec] {
			t.Errorf("record acknowledged in segment %d (removed through %d) not replayed", seg, removedThrough)
		}
	}
	if removedThrough == 0 {
		t.Errorf("no segment was removed during the test; want the rotator to remove some")
	}
}
