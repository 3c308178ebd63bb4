package hh_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/meta"
)

// testCodec reads the batches testBatch makes: min time, max time, a
// sequence number, then filler; each holds 10 points.
type testCodec struct{}

func (testCodec) PointCount(b []byte) int { return 10 }

func (testCodec) TimeRange(b []byte) (int64, int64, error) {
	if len(b) < 24 {
		return 0, 0, errors.New("short test batch")
	}
	return int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:])), nil
}

// testBatch returns batch number seq of size bytes (at least 24), covering
// times [seq*1000, seq*1000+999].
func testBatch(seq, size int) []byte {
	b := make([]byte, max(size, 24))
	binary.LittleEndian.PutUint64(b, uint64(seq*1000))
	binary.LittleEndian.PutUint64(b[8:], uint64(seq*1000+999))
	binary.LittleEndian.PutUint64(b[16:], uint64(seq))
	for i := 24; i < len(b); i++ {
		b[i] = byte(seq + i)
	}
	return b
}

func batchSeq(b []byte) int { return int(binary.LittleEndian.Uint64(b[16:])) }

// sent is one batch a fakeSender took.
type sent struct {
	node, shard uint64
	seq         int
}

// fakeSender records what it is sent; fn, when set, answers instead of
// nil (before recording: a batch is recorded only when fn returns nil).
type fakeSender struct {
	mu   sync.Mutex
	fn   func(node, shard uint64, batch []byte) error
	got  []sent
	sent chan struct{} // receives a token per accepted batch, if not nil
}

func (f *fakeSender) WriteShardBatch(ctx context.Context, node, shard uint64, batch []byte) error {
	f.mu.Lock()
	fn := f.fn
	f.mu.Unlock()
	if fn != nil {
		if err := fn(node, shard, batch); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.got = append(f.got, sent{node, shard, batchSeq(batch)})
	f.mu.Unlock()
	if f.sent != nil {
		f.sent <- struct{}{}
	}
	return nil
}

func (f *fakeSender) setFn(fn func(node, shard uint64, batch []byte) error) {
	f.mu.Lock()
	f.fn = fn
	f.mu.Unlock()
}

func (f *fakeSender) seqs() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int, len(f.got))
	for i, s := range f.got {
		out[i] = s.seq
	}
	return out
}

var errDown = errors.New("node down")

func down(uint64, uint64, []byte) error { return errDown }

// testConfig is a config for dir with small segments and quick retries.
func testConfig(dir string) hh.Config {
	cfg := hh.NewConfig()
	cfg.Dir = dir
	cfg.SegmentSize = 1 << 20
	cfg.RetryInterval = meta.Duration(10 * time.Millisecond)
	cfg.RetryMaxInterval = meta.Duration(50 * time.Millisecond)
	return cfg
}

// openService opens a Service and closes it at cleanup.
func openService(t *testing.T, cfg hh.Config, s hh.Sender, reg prometheus.Registerer) *hh.Service {
	t.Helper()
	svc := hh.NewService(cfg, s, testCodec{}, nil, reg)
	if err := svc.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// enqueue queues batches first..last-1 of size bytes for node 2, shard 7.
func enqueue(t *testing.T, svc *hh.Service, first, last, size int) {
	t.Helper()
	for i := first; i < last; i++ {
		if err := svc.WriteShardBatch(2, 7, testBatch(i, size)); err != nil {
			t.Fatalf("WriteShardBatch(%d): %v", i, err)
		}
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seqRange returns [first, last).
func seqRange(first, last int) []int {
	var out []int
	for i := first; i < last; i++ {
		out = append(out, i)
	}
	return out
}

// segments lists the segment files of node's queue.
func segments(t *testing.T, dir string, node uint64) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, fmt.Sprint(node), "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// metric returns the value of an hh metric for node 2 (and reason, for
// points_dropped_total).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			want := append([]string{"node", "2"}, labels...)
			for i := 0; i < len(want); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == want[i] && l.GetValue() == want[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
