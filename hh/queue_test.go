package hh_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/hh"
)

// TestReplayOrder checks that a queue filled while its node is down (from
// several goroutines, across segments) replays every record once, and each
// writer's records in the order it queued them.
func TestReplayOrder(t *testing.T) {
	s := &fakeSender{fn: down}
	svc := openService(t, testConfig(t.TempDir()), s, nil)
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// 40 KiB records: 200 of them span several 1 MiB segments.
				if err := svc.WriteShardBatch(2, 7, testBatch(w*1000+i, 40<<10)); err != nil {
					t.Errorf("WriteShardBatch: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if !svc.Pending(2) || svc.Pending(3) {
		t.Fatalf("Pending(2), Pending(3) = %v, %v; want true, false", svc.Pending(2), svc.Pending(3))
	}
	s.setFn(nil)
	waitFor(t, "the queue to drain", func() bool { return !svc.Pending(2) })
	got := s.seqs()
	if len(got) != writers*each {
		t.Fatalf("replayed %d records; want %d", len(got), writers*each)
	}
	for w := range writers {
		var mine []int
		for _, seq := range got {
			if seq/1000 == w {
				mine = append(mine, seq)
			}
		}
		if want := seqRange(w*1000, w*1000+each); !slices.Equal(mine, want) {
			t.Errorf("writer %d's records replayed as %v; want %v", w, mine, want)
		}
	}
}

// TestRestartMidReplay checks that a queue closed part-way through replay
// resumes after the last acknowledged record when reopened, with its
// unreplayed records intact.
func TestRestartMidReplay(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.BatchSize = 1 // save the position after every record
	s := &fakeSender{fn: down}
	svc := hh.NewService(cfg, s, testCodec{}, nil, nil)
	if err := svc.Open(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, svc, 0, 100, 30<<10)
	// Accept 40 records, then fail.
	var mu sync.Mutex
	accepted := 0
	s.setFn(func(uint64, uint64, []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if accepted == 40 {
			return errDown
		}
		accepted++
		return nil
	})
	waitFor(t, "40 records replayed", func() bool { return len(s.seqs()) == 40 })
	if err := svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := &fakeSender{}
	svc2 := openService(t, cfg, s2, nil)
	waitFor(t, "the reopened queue to drain", func() bool { return !svc2.Pending(2) })
	if got, want := s2.seqs(), seqRange(40, 100); !slices.Equal(got, want) {
		t.Errorf("after reopening, replayed %v; want %v", got, want)
	}
}

// TestTornTail checks that a record cut short by a crash is truncated on
// open and counted, the records before it replay and new appends work.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s := &fakeSender{fn: down}
	svc := hh.NewService(cfg, s, testCodec{}, nil, nil)
	if err := svc.Open(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, svc, 0, 5, 1000)
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segments(t, dir, 2)
	last := segs[len(segs)-1]
	size := fileSize(t, last)
	// Cut the last record in half, as a crash during its write would.
	if err := os.Truncate(last, size-500); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	s.setFn(nil)
	svc2 := openService(t, cfg, s, reg)
	waitFor(t, "the queue to drain", func() bool { return !svc2.Pending(2) })
	if got, want := s.seqs(), seqRange(0, 4); !slices.Equal(got, want) {
		t.Errorf("replayed %v; want %v", got, want)
	}
	if got := metric(t, reg, "strata_hh_torn_tails_total"); got != 1 {
		t.Errorf("strata_hh_torn_tails_total = %v; want 1", got)
	}
	enqueue(t, svc2, 10, 11, 1000)
	waitFor(t, "the new record", func() bool { return len(s.seqs()) == 5 })
	if got := s.seqs()[4]; got != 10 {
		t.Errorf("record appended after the repair replayed as %d; want 10", got)
	}
}

// TestCorruptSealedRecord checks that a corrupt record in a sealed segment
// is skipped and counted, and every other record is replayed.
func TestCorruptSealedRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   int64 // offset of the flipped byte within record 3
	}{
		{"payload", 100},
		{"length", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			s := &fakeSender{fn: down}
			svc := hh.NewService(cfg, s, testCodec{}, nil, nil)
			if err := svc.Open(); err != nil {
				t.Fatal(err)
			}
			const recSize = 100 << 10 // 10 per 1 MiB segment
			enqueue(t, svc, 0, 25, recSize)
			if err := svc.Close(); err != nil {
				t.Fatal(err)
			}
			segs := segments(t, dir, 2)
			if len(segs) < 3 {
				t.Fatalf("%d segments; want at least 3", len(segs))
			}
			f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			// Records are 32 header bytes + payload, after an 8-byte
			// segment header.
			off := 8 + 3*(32+recSize) + tc.at
			var b [1]byte
			if _, err := f.ReadAt(b[:], off); err != nil {
				t.Fatal(err)
			}
			b[0] ^= 0xff
			if _, err := f.WriteAt(b[:], off); err != nil {
				t.Fatal(err)
			}
			f.Close()

			reg := prometheus.NewRegistry()
			s.setFn(nil)
			svc2 := openService(t, cfg, s, reg)
			waitFor(t, "the queue to drain", func() bool { return !svc2.Pending(2) })
			want := slices.Delete(seqRange(0, 25), 3, 4)
			if got := s.seqs(); !slices.Equal(got, want) {
				t.Errorf("replayed %v; want %v", got, want)
			}
			if got := metric(t, reg, "strata_hh_corrupt_records_total"); got != 1 {
				t.Errorf("strata_hh_corrupt_records_total = %v; want 1", got)
			}
		})
	}
}

// TestMaxSize checks that an enqueue past max-size fails with
// ErrQueueFull, is counted, and its shard's time range recorded for
// anti-entropy, while the queue keeps what it had.
func TestMaxSize(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxSize = 10 * (32 + 1000)
	reg := prometheus.NewRegistry()
	s := &fakeSender{fn: down}
	svc := openService(t, cfg, s, reg)
	enqueue(t, svc, 0, 10, 1000)
	for name, want := range map[string]float64{"strata_hh_queue_records": 10, "strata_hh_queue_bytes": 10 * (32 + 1000),
		"strata_hh_points_enqueued_total": 100} {
		if got := metric(t, reg, name); got != want {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
	err := svc.WriteShardBatch(2, 9, testBatch(10, 1000))
	if !errors.Is(err, hh.ErrQueueFull) {
		t.Fatalf("enqueue past max-size: got %v; want ErrQueueFull", err)
	}
	if got := metric(t, reg, "strata_hh_points_dropped_total", "reason", hh.DropQueueFull); got != 10 {
		t.Errorf("points dropped (queue_full) = %v; want 10", got)
	}
	want := []hh.PurgedRange{{NodeID: 2, ShardID: 9, MinTime: 10000, MaxTime: 10999}}
	if got := svc.PurgedRanges(); !slices.Equal(got, want) {
		t.Errorf("PurgedRanges = %v; want %v", got, want)
	}
	s.setFn(nil)
	waitFor(t, "the queue to drain", func() bool { return !svc.Pending(2) })
	if got, want := s.seqs(), seqRange(0, 10); !slices.Equal(got, want) {
		t.Errorf("replayed %v; want %v", got, want)
	}
	// Room again.
	if err := svc.WriteShardBatch(2, 9, testBatch(11, 1000)); err != nil {
		t.Errorf("enqueue after the queue drained: %v", err)
	}
}

// TestRejectedRecord checks that a record the node rejects for good is
// counted under the Sender's reason and skipped, not retried.
func TestRejectedRecord(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := &fakeSender{fn: func(_, _ uint64, b []byte) error {
		switch batchSeq(b) {
		case 2:
			return &hh.RejectError{Reason: "shard_not_found", Err: errors.New("shard 7 not found")}
		case 4:
			return &hh.RejectError{Reason: "type_conflict", Points: 3, Err: errors.New("partial write")}
		}
		return nil
	}}
	svc := openService(t, testConfig(t.TempDir()), s, reg)
	enqueue(t, svc, 0, 6, 100)
	waitFor(t, "the queue to drain", func() bool { return !svc.Pending(2) })
	if got, want := s.seqs(), []int{0, 1, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("accepted %v; want %v", got, want)
	}
	for reason, want := range map[string]float64{"shard_not_found": 10, "type_conflict": 3} {
		if got := metric(t, reg, "strata_hh_points_dropped_total", "reason", reason); got != want {
			t.Errorf("points dropped (%s) = %v; want %v", reason, got, want)
		}
	}
	if got := metric(t, reg, "strata_hh_points_replayed_total"); got != 4*10+7 {
		t.Errorf("points replayed = %v; want 47", got)
	}
	if got := metric(t, reg, "strata_hh_replay_errors_total"); got != 0 {
		t.Errorf("replay errors = %v; want 0 (rejections are not retried)", got)
	}
}

// TestRemoveNodesExcept checks that a removed node's queue is deleted,
// files and all, and the others kept.
func TestRemoveNodesExcept(t *testing.T) {
	dir := t.TempDir()
	s := &fakeSender{fn: down}
	svc := openService(t, testConfig(dir), s, nil)
	enqueue(t, svc, 0, 3, 100)
	if err := svc.WriteShardBatch(3, 7, testBatch(0, 100)); err != nil {
		t.Fatal(err)
	}
	if err := svc.RemoveNodesExcept(func(id uint64) bool { return id == 3 }); err != nil {
		t.Fatalf("RemoveNodesExcept: %v", err)
	}
	if svc.Pending(2) || !svc.Pending(3) {
		t.Errorf("Pending(2), Pending(3) = %v, %v; want false, true", svc.Pending(2), svc.Pending(3))
	}
	if _, err := os.Stat(dir + "/2"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("queue dir of removed node 2: stat error %v; want not exist", err)
	}
	if got := svc.Status(); len(got) != 1 || got[0].NodeID != 3 {
		t.Errorf("Status = %+v; want node 3 only", got)
	}
}

// TestPurge checks an operator's purge: every record dropped and counted,
// the shards' ranges recorded, and ForgetPurged forgetting a checked range.
func TestPurge(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := &fakeSender{fn: down}
	svc := openService(t, testConfig(t.TempDir()), s, reg)
	enqueue(t, svc, 3, 6, 100)
	res, err := svc.Purge(context.Background(), 2)
	if err != nil || res.Records != 3 || res.Points != 30 {
		t.Fatalf("Purge = %+v, %v; want 3 records, 30 points", res, err)
	}
	if svc.Pending(2) {
		t.Error("Pending after Purge")
	}
	if got := metric(t, reg, "strata_hh_points_dropped_total", "reason", hh.DropPurged); got != 30 {
		t.Errorf("points dropped (purged) = %v; want 30", got)
	}
	want := hh.PurgedRange{NodeID: 2, ShardID: 7, MinTime: 3000, MaxTime: 5999}
	if got := svc.PurgedRanges(); !slices.Equal(got, []hh.PurgedRange{want}) {
		t.Fatalf("PurgedRanges = %v; want [%v]", got, want)
	}
	stale := want
	stale.MaxTime = 4999
	if err := svc.ForgetPurged(func(r hh.PurgedRange) bool { return r != stale }); err != nil {
		t.Fatal(err)
	}
	if got := svc.PurgedRanges(); len(got) != 1 {
		t.Errorf("forgetting a range since widened removed it: %v", got)
	}
	if err := svc.ForgetPurged(func(r hh.PurgedRange) bool { return r != want }); err != nil {
		t.Fatal(err)
	}
	if got := svc.PurgedRanges(); len(got) != 0 {
		t.Errorf("PurgedRanges after ForgetPurged = %v; want none", got)
	}
}

// TestBadPositionFile checks that a position file that fails its check
// makes the queue replay from its start (resending is harmless), not fail
// to open.
func TestBadPositionFile(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s := &fakeSender{}
	svc := hh.NewService(cfg, s, testCodec{}, nil, nil)
	if err := svc.Open(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, svc, 0, 3, 100)
	waitFor(t, "the queue to drain", func() bool { return !svc.Pending(2) })
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/2/position", []byte("not a position"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := &fakeSender{}
	svc2 := openService(t, cfg, s2, nil)
	waitFor(t, "the queue to drain again", func() bool { return len(s2.seqs()) == 3 && !svc2.Pending(2) })
	if got, want := s2.seqs(), seqRange(0, 3); !slices.Equal(got, want) {
		t.Errorf("after a bad position file, replayed %v; want %v", got, want)
	}
}
