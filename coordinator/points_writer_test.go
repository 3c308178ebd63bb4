package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// localRecorder returns a store recording writes as node self.
func localRecorder(self uint64, rec *recorder) *fakeStore {
	return &fakeStore{WriteToShardFn: func(shard uint64, pts []models.Point) error {
		rec.add(self, shard, pts)
		return nil
	}}
}

func remoteRecorder(rec *recorder) *fakeShardWriter {
	return &fakeShardWriter{WriteShardFn: func(_ context.Context, node, shard uint64, pts []models.Point) error {
		rec.add(node, shard, pts)
		return nil
	}}
}

func noRemote(t *testing.T) *fakeShardWriter {
	return &fakeShardWriter{WriteShardFn: func(_ context.Context, node, shard uint64, _ []models.Point) error {
		t.Errorf("unexpected remote write to node %d shard %d", node, shard)
		return nil
	}}
}

// TestPointsWriter_Routing checks each point lands on the shard
// (*meta.Data).ShardFor picks for its series key, in the group covering its
// time, keeping the points' order within a shard.
func TestPointsWriter_Routing(t *testing.T) {
	g1 := group(1, testGroupStart, 10, []uint64{1}, []uint64{1}, []uint64{1})
	g2 := group(2, testGroupStart.Add(time.Hour), 20, []uint64{1}, []uint64{1}, []uint64{1})
	d := testData(1, 1, g1, g2)
	var rec recorder
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &rec), noRemote(t), nil, nil)

	var lp strings.Builder
	for i := range 300 {
		ts := testGroupStart.Add(time.Duration(i) * 20 * time.Second) // spans both groups
		fmt.Fprintf(&lp, "cpu,host=h%d,region=r%d usage=%d %d\n", i%37, i%5, i, ts.UnixNano())
	}
	pts := mustParse(t, lp.String())
	if err := w.WritePoints(context.Background(), testDB, testRP, coordinator.ConsistencyLevelAll, pts); err != nil {
		t.Fatalf("WritePoints: got %v; want nil", err)
	}

	want := map[uint64][]string{}
	for i := range pts {
		p := &pts[i]
		g := d.ShardGroupByTimestamp(testDB, testRP, time.Unix(0, p.Time))
		sh := d.ShardFor(g, models.AppendSeriesKey(nil, p.Measurement, p.Tags)) // built, not the parser's Key
		want[sh.ID] = append(want[sh.ID], p.String())
	}
	got := map[uint64][]string{}
	for _, wr := range rec.all() {
		if _, dup := got[wr.shard]; dup {
			t.Errorf("shard %d written twice in one WritePoints; want one batch per shard", wr.shard)
		}
		got[wr.shard] = wr.lines
	}
	if len(want) != 6 {
		t.Fatalf("test setup: points cover %d shards; want all 6", len(want))
	}
	for id, lines := range want {
		if !slices.Equal(got[id], lines) {
			t.Errorf("shard %d: got %d points %q...; want %d points %q...", id, len(got[id]), head(got[id]), len(lines), head(lines))
		}
	}
	if len(got) != len(want) {
		t.Errorf("shards written: got %d; want %d", len(got), len(want))
	}
}

func head(s []string) []string { return s[:min(len(s), 2)] }

// TestPointsWriter_SingleShardPassesPointsThrough checks the fast path:
// a batch for one shard reaches the store as the caller's slice.
func TestPointsWriter_SingleShardPassesPointsThrough(t *testing.T) {
	d := testData(1, 1, group(1, testGroupStart, 10, []uint64{1}))
	pts := mustParse(t, fmt.Sprintf("m v=1 %d\nm v=2 %d", testGroupStart.UnixNano(), testGroupStart.UnixNano()+5))
	var same bool
	local := &fakeStore{WriteToShardFn: func(_ uint64, got []models.Point) error {
		same = len(got) == len(pts) && &got[0] == &pts[0]
		return nil
	}}
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), local, noRemote(t), nil, nil)
	if err := w.WritePoints(context.Background(), testDB, testRP, coordinator.ConsistencyLevelOne, pts); err != nil {
		t.Fatalf("WritePoints: got %v; want nil", err)
	}
	if !same {
		t.Error("single-shard batch was copied; want the caller's slice passed through")
	}
}

// TestPointsWriter_CreatesMissingShardGroups checks a point with no
// covering group makes the writer create one through meta, once per group,
// under the resolved policy name, and route into what meta returned.
func TestPointsWriter_CreatesMissingShardGroups(t *testing.T) {
	existing := group(1, testGroupStart, 10, []uint64{1})
	d := testData(2, 1, existing)
	var mu sync.Mutex
	var created []time.Time
	mc := &fakeMeta{
		DataFn: func() *meta.Data { return d },
		CreateShardGroupFn: func(_ context.Context, db, rp string, ts time.Time) (*meta.ShardGroupInfo, error) {
			if db != testDB || rp != testRP {
				t.Errorf("CreateShardGroup(%q, %q): want (%q, %q)", db, rp, testDB, testRP)
			}
			mu.Lock()
			defer mu.Unlock()
			created = append(created, ts)
			start := ts.Truncate(time.Hour)
			g := group(uint64(10+len(created)), start, uint64(100*len(created)), []uint64{2}, []uint64{1})
			return &g, nil
		},
	}
	var rec recorder
	w := newPointsWriter(t, testConfig(), selfID(1), mc, localRecorder(1, &rec), remoteRecorder(&rec), nil, nil)
	base := testGroupStart.UnixNano()
	hour := int64(time.Hour)
	lp := fmt.Sprintf("m,t=a v=1 %d\nm,t=b v=2 %d\nm,t=c v=3 %d\nm,t=d v=4 %d\nm,t=e v=5 %d\n",
		base+1, base+hour+1, base+hour+2, base-hour, base+hour+3)
	if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, mustParse(t, lp)); err != nil {
		t.Fatalf("WritePoints: got %v; want nil", err)
	}
	wantCreated := []time.Time{time.Unix(0, base+hour+1).UTC(), time.Unix(0, base-hour).UTC()}
	if !slices.EqualFunc(created, wantCreated, time.Time.Equal) {
		t.Errorf("CreateShardGroup times: got %v; want %v", created, wantCreated)
	}
	points := 0
	for _, wr := range rec.all() {
		points += len(wr.lines)
		if wr.shard != 10 && wr.shard != 100 && wr.shard != 101 && wr.shard != 200 && wr.shard != 201 {
			t.Errorf("write to shard %d; want only shards of the existing or created groups", wr.shard)
		}
	}
	if points != 5 {
		t.Errorf("points written: got %d; want 5", points)
	}
}

func TestPointsWriter_CreateShardGroupFails(t *testing.T) {
	d := testData(1, 1)
	boom := errors.New("meta unreachable")
	mc := &fakeMeta{
		DataFn: func() *meta.Data { return d },
		CreateShardGroupFn: func(context.Context, string, string, time.Time) (*meta.ShardGroupInfo, error) {
			return nil, boom
		},
	}
	local := &fakeStore{WriteToShardFn: func(uint64, []models.Point) error {
		t.Error("store written although no shard group could be made")
		return nil
	}}
	w := newPointsWriter(t, testConfig(), selfID(1), mc, local, noRemote(t), nil, nil)
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, mustParse(t, "m v=1 1"))
	if !errors.Is(err, boom) {
		t.Fatalf("WritePoints: got %v; want an error wrapping %v", err, boom)
	}
}

func TestPointsWriter_CreatedGroupNotCovering(t *testing.T) {
	d := testData(1, 1)
	mc := &fakeMeta{
		DataFn: func() *meta.Data { return d },
		CreateShardGroupFn: func(context.Context, string, string, time.Time) (*meta.ShardGroupInfo, error) {
			g := group(1, testGroupStart, 10, []uint64{1})
			return &g, nil
		},
	}
	w := newPointsWriter(t, testConfig(), selfID(1), mc, localRecorder(1, &recorder{}), noRemote(t), nil, nil)
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, mustParse(t, "m v=1 1"))
	if err == nil || !strings.Contains(err.Error(), "not covering") {
		t.Fatalf("WritePoints: got %v; want an error saying meta's group does not cover the point", err)
	}
}

func TestPointsWriter_LookupErrors(t *testing.T) {
	d := testData(1, 1, group(1, testGroupStart, 10, []uint64{1}))
	pts := mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano()))
	for _, tc := range []struct {
		name   string
		data   *meta.Data
		db, rp string
		want   []error
	}{
		{"database", d, "nope", "", []error{coordinator.ErrDatabaseNotFound, meta.ErrDatabaseNotFound}},
		{"policy", d, testDB, "nope", []error{coordinator.ErrRetentionPolicyNotFound, meta.ErrRetentionPolicyNotFound}},
		{"no state", nil, testDB, "", []error{coordinator.ErrMetaNotReady}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := &fakeStore{WriteToShardFn: func(uint64, []models.Point) error {
				t.Error("store written on a failed lookup")
				return nil
			}}
			reg := prometheus.NewRegistry()
			w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, tc.data), local, noRemote(t), nil, reg)
			err := w.WritePoints(context.Background(), tc.db, tc.rp, coordinator.ConsistencyLevelOne, pts)
			for _, want := range tc.want {
				if !errors.Is(err, want) {
					t.Errorf("WritePoints: got %v; want an error wrapping %v", err, want)
				}
			}
			if got := metricValue(t, reg, "strata_coordinator_writes_total", "result", "failed"); got != 1 {
				t.Errorf("writes_total{result=failed}: got %v; want 1", got)
			}
		})
	}
}

// TestPointsWriter_RetentionDrop checks points older than now minus the
// policy's duration are dropped and reported as InfluxDB does, and the
// rest are written.
func TestPointsWriter_RetentionDrop(t *testing.T) {
	now := time.Now().UTC()
	cur := now.Truncate(time.Hour)
	d := testData(1, 1, group(1, cur, 10, []uint64{1}))
	d.Databases[0].RetentionPolicies[0].Duration = 2 * time.Hour
	var rec recorder
	reg := prometheus.NewRegistry()
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &rec), noRemote(t), nil, reg)

	old := now.Add(-3 * time.Hour).UnixNano()
	lp := fmt.Sprintf("m v=1 %d\nm v=2 %d\nm v=3 %d\n", old, cur.UnixNano(), old-1)
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, mustParse(t, lp))
	var pe *coordinator.PartialWriteError
	if !errors.As(err, &pe) || pe.Dropped != 2 || !errors.Is(err, coordinator.ErrPartialWrite) {
		t.Fatalf("WritePoints: got %v; want *PartialWriteError with Dropped 2", err)
	}
	if want := "partial write: points beyond retention policy dropped=2"; err.Error() != want {
		t.Errorf("error: got %q; want %q", err, want)
	}
	writes := rec.all()
	if len(writes) != 1 || len(writes[0].lines) != 1 || !strings.HasPrefix(writes[0].lines[0], "m v=2 ") {
		t.Errorf("writes: got %v; want only the in-retention point", writes)
	}
	if got := metricValue(t, reg, "strata_coordinator_writes_total", "result", "partial"); got != 1 {
		t.Errorf("writes_total{result=partial}: got %v; want 1", got)
	}
	if got := metricValue(t, reg, "strata_coordinator_points_written_total", "", ""); got != 1 {
		t.Errorf("points_written_total: got %v; want 1", got)
	}

	// Everything too old: nothing is written, all are reported.
	rec = recorder{}
	err = w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, mustParse(t, fmt.Sprintf("m v=1 %d", old)))
	if !errors.As(err, &pe) || pe.Dropped != 1 {
		t.Fatalf("all-old WritePoints: got %v; want *PartialWriteError with Dropped 1", err)
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("all-old WritePoints: %d store writes; want 0", n)
	}
}

// TestPointsWriter_OwnerPartialWrite checks that an owner rejecting some
// points (field type conflict) still acknowledges, and the writer reports
// the drop once per shard, not once per owner.
func TestPointsWriter_OwnerPartialWrite(t *testing.T) {
	d := testData(2, 2, group(1, testGroupStart, 10, []uint64{1, 2}))
	local := &fakeStore{WriteToShardFn: func(uint64, []models.Point) error {
		return fmt.Errorf("write shard 10: %w", &partialErr{dropped: 2})
	}}
	remote := &fakeShardWriter{WriteShardFn: func(context.Context, uint64, uint64, []models.Point) error {
		return &coordinator.PartialWriteError{Reason: "field type conflict", Dropped: 2}
	}}
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), local, remote, nil, nil)
	ts := testGroupStart.UnixNano()
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll,
		mustParse(t, fmt.Sprintf("m v=1 %d\nm v=\"x\" %d\nm v=\"y\" %d", ts, ts+1, ts+2)))
	var pe *coordinator.PartialWriteError
	if !errors.As(err, &pe) || pe.Dropped != 2 {
		t.Fatalf("WritePoints: got %v; want *PartialWriteError with Dropped 2 (level all met)", err)
	}
	if !strings.HasPrefix(err.Error(), "partial write: field type conflict") || strings.Count(err.Error(), "dropped=") != 1 {
		t.Errorf("error: got %q; want one InfluxDB-style partial write message", err)
	}
}

// TestPointsWriter_LocalOwner checks this node's replica goes to the local
// store and the other to the remote writer, and a failing local store
// counts as a failed owner (not handed off).
func TestPointsWriter_LocalOwner(t *testing.T) {
	d := testData(2, 2, group(1, testGroupStart, 10, []uint64{1, 2}))
	pts := mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano()))
	var rec recorder
	w := newPointsWriter(t, testConfig(), selfID(2), staticMeta(t, d), localRecorder(2, &rec), remoteRecorder(&rec), nil, nil)
	if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts); err != nil {
		t.Fatalf("WritePoints: got %v; want nil", err)
	}
	nodes := []uint64{}
	for _, wr := range rec.all() {
		nodes = append(nodes, wr.node)
	}
	slices.Sort(nodes)
	if !slices.Equal(nodes, []uint64{1, 2}) {
		t.Errorf("written to nodes %v; want [1 2]", nodes)
	}

	diskFull := errors.New("disk full")
	failing := &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { return diskFull }}
	hh := &fakeHH{
		PendingFn: func(uint64) bool { return false },
		WriteShardFn: func(node, _ uint64, _ []models.Point) error {
			t.Errorf("hinted handoff got node %d's write; a local failure is not handed off", node)
			return nil
		},
	}
	reg := prometheus.NewRegistry()
	var remote recorder
	w = newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), failing, remoteRecorder(&remote), hh, reg)
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts)
	// The local failure rules level all out at once, so the answer may come
	// before or after node 2's write: 0 or 1 acknowledgements.
	var we *coordinator.WriteError
	if !errors.As(err, &we) || !errors.Is(err, diskFull) || we.Acked > 1 {
		t.Fatalf("WritePoints with a failing local store: got %v; want a *WriteError with at most 1 ack wrapping %v", err, diskFull)
	}
	w.Close() // waits for node 2's write, which goes on after the answer
	if got := len(remote.all()); got != 1 || remote.all()[0].node != 2 {
		t.Errorf("remote writes after a local failure: %d; want node 2's one write", got)
	}
	var oe *coordinator.OwnerError
	if !errors.As(err, &oe) || oe.OwnerID != 1 {
		t.Errorf("owner error: got %v; want one for owner 1", oe)
	}
	if got := metricValue(t, reg, "strata_coordinator_replica_write_failures_total", "node", "1"); got != 1 {
		t.Errorf("replica_write_failures_total{node=1}: got %v; want 1", got)
	}
}

// TestPointsWriter_HintedHandoffPending checks that while a node's queue
// is not empty its new writes go to the queue, not to the node.
func TestPointsWriter_HintedHandoffPending(t *testing.T) {
	d := testData(3, 3, group(1, testGroupStart, 10, []uint64{1, 2, 3}))
	var remoteCalls, queued atomic.Int32
	remote := &fakeShardWriter{WriteShardFn: func(_ context.Context, node, _ uint64, _ []models.Point) error {
		if node == 2 {
			t.Error("node 2 written directly while its hinted-handoff queue is pending")
		}
		remoteCalls.Add(1)
		return nil
	}}
	hh := &fakeHH{
		PendingFn: func(node uint64) bool { return node == 2 },
		WriteShardFn: func(node, shard uint64, pts []models.Point) error {
			if node != 2 || shard != 10 || len(pts) != 1 {
				t.Errorf("hinted handoff write: got node %d shard %d %d points; want node 2 shard 10 1 point", node, shard, len(pts))
			}
			queued.Add(1)
			return nil
		},
	}
	reg := prometheus.NewRegistry()
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), remote, hh, reg)
	pts := mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano()))

	if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelQuorum, pts); err != nil {
		t.Fatalf("quorum with a queued owner: got %v; want nil", err)
	}
	// A queued write is not an owner acknowledgement.
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts)
	if !errors.Is(err, coordinator.ErrConsistency) || !errors.Is(err, coordinator.ErrQueued) {
		t.Fatalf("level all with a queued owner: got %v; want ErrConsistency naming the queued owner", err)
	}
	w.Close() // the quorum write may have answered before its queued owner
	if remoteCalls.Load() != 2 || queued.Load() != 2 {
		t.Errorf("remote calls %d, queued %d; want 2 and 2", remoteCalls.Load(), queued.Load())
	}
	if got := metricValue(t, reg, "strata_coordinator_hinted_handoff_writes_total", "node", "2"); got != 2 {
		t.Errorf("hinted_handoff_writes_total{node=2}: got %v; want 2", got)
	}
}

// TestPointsWriter_NoHandoffForPermanentErrors checks a shard the peer does
// not have is not queued (replay would fail the same way forever), and a
// failing queue leaves the owner failed.
func TestPointsWriter_NoHandoffForPermanentErrors(t *testing.T) {
	d := testData(2, 2, group(1, testGroupStart, 10, []uint64{1, 2}))
	pts := mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano()))
	remoteErr := fmt.Errorf("write shard: %w", coordinator.ErrShardNotFound)
	remote := &fakeShardWriter{WriteShardFn: func(context.Context, uint64, uint64, []models.Point) error { return remoteErr }}
	hh := &fakeHH{
		PendingFn: func(uint64) bool { return false },
		WriteShardFn: func(uint64, uint64, []models.Point) error {
			t.Error("hinted handoff got a write the peer can never accept")
			return nil
		},
	}
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), remote, hh, nil)
	if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAny, pts); err != nil {
		t.Fatalf("level any with the local owner ok: got %v; want nil", err)
	}
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts)
	if !errors.Is(err, coordinator.ErrShardNotFound) {
		t.Fatalf("level all: got %v; want an error wrapping ErrShardNotFound", err)
	}
	for _, permanent := range []error{coordinator.ErrCorruptBatch, coordinator.ErrBodyTooLarge} {
		remoteErr = fmt.Errorf("write shard: %w", permanent)
		if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts); !errors.Is(err, permanent) {
			t.Fatalf("level all: got %v; want an error wrapping %v", err, permanent)
		}
	}

	queueFull := errors.New("queue full")
	remote.WriteShardFn = func(context.Context, uint64, uint64, []models.Point) error { return errors.New("refused") }
	hh.WriteShardFn = func(uint64, uint64, []models.Point) error { return queueFull }
	local := &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { return errors.New("disk") }}
	w = newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), local, remote, hh, nil)
	err = w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAny, pts)
	if !errors.Is(err, queueFull) || !errors.Is(err, coordinator.ErrConsistency) {
		t.Fatalf("level any, every owner and queue failing: got %v; want ErrConsistency wrapping %v", err, queueFull)
	}
}

func TestPointsWriter_ShardWithoutOwners(t *testing.T) {
	d := testData(1, 1, group(1, testGroupStart, 10, []uint64{}))
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), noRemote(t), nil, nil)
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll,
		mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano())))
	if !errors.Is(err, coordinator.ErrConsistency) || !strings.Contains(err.Error(), "no owners") {
		t.Fatalf("WritePoints: got %v; want ErrConsistency saying the shard has no owners", err)
	}
}

// TestPointsWriter_CallerCancel checks a cancelled caller context ends the
// write with remote owners cut short, reported as a timeout.
func TestPointsWriter_CallerCancel(t *testing.T) {
	d := testData(2, 2, group(1, testGroupStart, 10, []uint64{2}))
	remote := &fakeShardWriter{WriteShardFn: func(ctx context.Context, _, _ uint64, _ []models.Point) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), remote, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	err := w.WritePoints(ctx, testDB, "", coordinator.ConsistencyLevelOne, mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano())))
	if !errors.Is(err, coordinator.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("WritePoints: got %v; want ErrTimeout wrapping context.Canceled", err)
	}
}

// TestPointsWriter_Concurrent runs writers in parallel (run with -race):
// pooled scratch space must never mix two writes' points.
func TestPointsWriter_Concurrent(t *testing.T) {
	d := testData(2, 1, group(1, testGroupStart, 10, []uint64{1}, []uint64{2}))
	var total atomic.Int64
	check := func(pts []models.Point) {
		for i := range pts {
			if string(pts[i].Measurement) != "m" {
				t.Errorf("point %q reached the wrong write", pts[i].String())
			}
		}
		total.Add(int64(len(pts)))
	}
	local := &fakeStore{WriteToShardFn: func(_ uint64, pts []models.Point) error { check(pts); return nil }}
	remote := &fakeShardWriter{WriteShardFn: func(_ context.Context, _, _ uint64, pts []models.Point) error { check(pts); return nil }}
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), local, remote, nil, nil)
	var lp strings.Builder
	for i := range 100 {
		fmt.Fprintf(&lp, "m,host=h%d v=%d %d\n", i, i, testGroupStart.UnixNano()+int64(i))
	}
	pts := mustParse(t, lp.String())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts); err != nil {
					t.Errorf("WritePoints: got %v; want nil", err)
				}
			}
		})
	}
	wg.Wait()
	if got := total.Load(); got != 8*20*100 {
		t.Errorf("points written: got %d; want %d", got, 8*20*100)
	}
}

// TestPointsWriter_NoRemoteWriter checks a writer built without a shard
// writer fails remote owners instead of crashing.
func TestPointsWriter_NoRemoteWriter(t *testing.T) {
	d := testData(2, 1, group(1, testGroupStart, 10, []uint64{2}))
	w := newPointsWriter(t, testConfig(), nil, staticMeta(t, d), localRecorder(1, &recorder{}), nil, nil, nil)
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne,
		mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano())))
	if !errors.Is(err, coordinator.ErrConsistency) || !errors.Is(err, coordinator.ErrNodeNotFound) {
		t.Fatalf("WritePoints: got %v; want ErrConsistency wrapping ErrNodeNotFound", err)
	}
}

// scribble overwrites points and every byte they reference, as a caller
// reusing its parser buffers after WritePoints returned does.
func scribble(pts []models.Point) {
	fill := func(b []byte) {
		for i := range b {
			b[i] = 'X'
		}
	}
	for i := range pts {
		p := &pts[i]
		fill(p.Measurement)
		for _, tag := range p.Tags {
			fill(tag.Key)
			fill(tag.Value)
		}
		for j := range p.Fields {
			fill(p.Fields[j].Key)
			fill(p.Fields[j].Value.S)
			p.Fields[j].Value.N = ^p.Fields[j].Value.N
		}
		pts[i] = models.Point{Measurement: []byte("scribbled"), Time: -1}
	}
}

// twoShardWrite returns points for the group of twoShardData covering
// both its shards, and each shard's points as lines, by shard id.
func twoShardWrite(t *testing.T, d *meta.Data, value int) ([]models.Point, map[uint64][]string) {
	t.Helper()
	var lp strings.Builder
	for i := range 20 {
		fmt.Fprintf(&lp, "cpu,host=h%d usage=%d,note=\"n%d\" %d\n", i, value+i, value, testGroupStart.UnixNano()+int64(i))
	}
	pts := mustParse(t, lp.String())
	want := map[uint64][]string{}
	for i := range pts {
		g := d.ShardGroupByTimestamp(testDB, testRP, time.Unix(0, pts[i].Time))
		sh := d.ShardFor(g, pts[i].AppendSeriesKey(nil))
		want[sh.ID] = append(want[sh.ID], pts[i].String())
	}
	if len(want) != 2 {
		t.Fatalf("test setup: points cover %d shards; want 2", len(want))
	}
	return pts, want
}

// checkWrites checks rec holds exactly one write per shard of want for
// node, with want's points.
func checkWrites(t *testing.T, what string, rec *recorder, node uint64, want map[uint64][]string) {
	t.Helper()
	got := map[uint64][]string{}
	for _, wr := range rec.all() {
		if wr.node == node {
			if _, dup := got[wr.shard]; dup {
				t.Errorf("%s: shard %d written twice to node %d", what, wr.shard, node)
			}
			got[wr.shard] = wr.lines
		}
	}
	for id, lines := range want {
		if !slices.Equal(got[id], lines) {
			t.Errorf("%s: node %d shard %d got %q...; want %q...", what, node, id, head(got[id]), head(lines))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: node %d got writes for %d shards; want %d", what, node, len(got), len(want))
	}
}

// TestPointsWriter_HungOwnerDoesNotDelayLevelOne runs on virtual time:
// node 2 hangs until the write's deadline, yet a consistency=one write
// answers at once (shard 10 through the local owner, shard 11 through
// node 3); node 2's batches land in hinted handoff after the timeout with
// the points as written, although the caller overwrote them meanwhile;
// and once node 2's queue is pending its next writes go to the queue
// without waiting for node 2 at all.
func TestPointsWriter_HungOwnerDoesNotDelayLevelOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := testData(3, 2, group(1, testGroupStart, 10, []uint64{1, 2}, []uint64{2, 3}))
		var sent, queued recorder
		var node2Calls atomic.Int32
		remote := &fakeShardWriter{WriteShardFn: func(ctx context.Context, node, shard uint64, pts []models.Point) error {
			if node == 2 {
				node2Calls.Add(1)
				<-ctx.Done()
				return fmt.Errorf("node 2 hung: %w", ctx.Err())
			}
			sent.add(node, shard, pts)
			return nil
		}}
		var pending atomic.Bool
		hh := &fakeHH{
			PendingFn: func(node uint64) bool { return node == 2 && pending.Load() },
			WriteShardFn: func(node, shard uint64, pts []models.Point) error {
				queued.add(node, shard, pts)
				pending.Store(node == 2)
				return nil
			},
		}
		cfg := testConfig()
		reg := prometheus.NewRegistry()
		w := newPointsWriter(t, cfg, selfID(1), staticMeta(t, d), localRecorder(1, &sent), remote, hh, reg)

		pts, want := twoShardWrite(t, d, 0)
		start := time.Now()
		if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, pts); err != nil {
			t.Fatalf("WritePoints with node 2 hung: got %v; want nil", err)
		}
		if el := time.Since(start); el != 0 {
			t.Errorf("WritePoints answered after %v of virtual time; want at once, not after node 2's timeout", el)
		}
		scribble(pts)
		synctest.Wait()
		if n := len(queued.all()); n != 0 {
			t.Errorf("hinted handoff writes before the timeout: got %d; want 0", n)
		}
		time.Sleep(cfg.WriteTimeout.D())
		synctest.Wait()
		checkWrites(t, "hinted handoff after the timeout", &queued, 2, want)
		checkWrites(t, "node 1", &sent, 1, map[uint64][]string{10: want[10]})
		checkWrites(t, "node 3", &sent, 3, map[uint64][]string{11: want[11]})

		queued = recorder{}
		pts, want = twoShardWrite(t, d, 100)
		start = time.Now()
		if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, pts); err != nil {
			t.Fatalf("second WritePoints: got %v; want nil", err)
		}
		synctest.Wait()
		if el := time.Since(start); el != 0 {
			t.Errorf("second write: node 2's queue took %v of virtual time; want none", el)
		}
		if n := node2Calls.Load(); n != 2 {
			t.Errorf("writes sent to node 2: got %d; want the first write's 2 only (then its queue is pending)", n)
		}
		checkWrites(t, "hinted handoff of the second write", &queued, 2, want)
		if got := metricValue(t, reg, "strata_coordinator_hinted_handoff_writes_total", "node", "2"); got != 4 {
			t.Errorf("hinted_handoff_writes_total{node=2}: got %v; want 4", got)
		}
	})
}

// TestPointsWriter_InFlightWritesOwnNoCallerMemory holds node 2's writes
// until the caller has overwritten its points and made another write
// (which reuses the writer's pooled routing scratch): node 2 still gets
// each write's points exactly. Run with -race.
func TestPointsWriter_InFlightWritesOwnNoCallerMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := testData(3, 2, group(1, testGroupStart, 10, []uint64{1, 2}, []uint64{2, 3}))
		release := make(chan struct{})
		var sent recorder
		remote := &fakeShardWriter{WriteShardFn: func(_ context.Context, node, shard uint64, pts []models.Point) error {
			if node == 2 {
				<-release
			}
			sent.add(node, shard, pts)
			return nil
		}}
		w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), remote, nil, nil)

		first, want := twoShardWrite(t, d, 0)
		if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, first); err != nil {
			t.Fatalf("WritePoints: got %v; want nil", err)
		}
		scribble(first)
		second, _ := twoShardWrite(t, d, 100)
		if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, second); err != nil {
			t.Fatalf("second WritePoints: got %v; want nil", err)
		}
		scribble(second)
		synctest.Wait()
		close(release)
		w.Close()
		var firsts recorder
		for _, wr := range sent.all() {
			if wr.node == 2 && strings.Contains(wr.lines[0], `note="n0"`) {
				firsts.add(wr.node, wr.shard, mustParse(t, strings.Join(wr.lines, "\n")))
			}
		}
		checkWrites(t, "node 2, first write", &firsts, 2, want)
	})
}

// TestPointsWriter_CloseHandsOffInFlightWrites checks Close cancels a
// remote write still in flight, which then goes to hinted handoff, and
// that a closed writer refuses writes.
func TestPointsWriter_CloseHandsOffInFlightWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := testData(2, 2, group(1, testGroupStart, 10, []uint64{1, 2}))
		remote := &fakeShardWriter{WriteShardFn: func(ctx context.Context, _, _ uint64, _ []models.Point) error {
			<-ctx.Done()
			return ctx.Err()
		}}
		var queued recorder
		hh := &fakeHH{
			PendingFn:    func(uint64) bool { return false },
			WriteShardFn: func(node, shard uint64, pts []models.Point) error { queued.add(node, shard, pts); return nil },
		}
		w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), remote, hh, nil)
		pts := mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano()))
		if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, pts); err != nil {
			t.Fatalf("WritePoints: got %v; want nil", err)
		}
		start := time.Now()
		w.Close()
		if el := time.Since(start); el != 0 {
			t.Errorf("Close took %v of virtual time; want it to cancel the hung write, not wait for its timeout", el)
		}
		checkWrites(t, "hinted handoff after Close", &queued, 2, map[uint64][]string{10: {pts[0].String()}})
		if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, pts); !errors.Is(err, coordinator.ErrClosed) {
			t.Errorf("WritePoints after Close: got %v; want ErrClosed", err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close: got %v; want nil", err)
		}
	})
}

// TestPointsWriter_InFlightLimit checks a node with
// max-in-flight-bytes-per-node of writes pending gets its next write
// queued in hinted handoff (or failed without it) instead of piling up.
func TestPointsWriter_InFlightLimit(t *testing.T) {
	for _, withHH := range []bool{true, false} {
		t.Run(fmt.Sprintf("hh=%t", withHH), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := testData(2, 2, group(1, testGroupStart, 10, []uint64{1, 2}))
				release := make(chan struct{})
				var calls atomic.Int32
				remote := &fakeShardWriter{WriteShardFn: func(context.Context, uint64, uint64, []models.Point) error {
					calls.Add(1)
					<-release
					return nil
				}}
				var queued recorder
				var hh coordinator.HintedHandoff
				if withHH {
					hh = &fakeHH{
						PendingFn:    func(uint64) bool { return false },
						WriteShardFn: func(node, shard uint64, pts []models.Point) error { queued.add(node, shard, pts); return nil },
					}
				}
				cfg := testConfig()
				cfg.MaxInFlightBytesPerNode = 1 // one write at a time
				reg := prometheus.NewRegistry()
				w := newPointsWriter(t, cfg, selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), remote, hh, reg)
				pts := mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano()))
				for range 2 {
					if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, pts); err != nil {
						t.Fatalf("WritePoints: got %v; want nil", err)
					}
					synctest.Wait()
				}
				if got := metricValue(t, reg, "strata_coordinator_remote_write_in_flight_bytes", "node", "2"); got <= 0 {
					t.Errorf("remote_write_in_flight_bytes{node=2}: got %v; want > 0 while a write hangs", got)
				}
				err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts)
				if !errors.Is(err, coordinator.ErrInFlightLimit) || withHH != errors.Is(err, coordinator.ErrQueued) {
					t.Errorf("level all past the limit: got %v; want ErrInFlightLimit (queued: %t)", err, withHH)
				}
				close(release)
				w.Close()
				if n := calls.Load(); n != 1 {
					t.Errorf("writes sent to node 2: got %d; want 1", n)
				}
				if n, want := len(queued.all()), map[bool]int{true: 2}[withHH]; n != want {
					t.Errorf("hinted handoff writes: got %d; want %d", n, want)
				}
				if got := metricValue(t, reg, "strata_coordinator_replica_write_failures_total", "node", "2"); got != 2 {
					t.Errorf("replica_write_failures_total{node=2}: got %v; want 2", got)
				}
				if got := metricValue(t, reg, "strata_coordinator_remote_write_in_flight_bytes", "node", "2"); got != 0 {
					t.Errorf("remote_write_in_flight_bytes{node=2} after Close: got %v; want 0", got)
				}
			})
		})
	}
}

// storeFunc is a coordinator.TSDBStore that sees each write's context.
type storeFunc func(ctx context.Context, shardID uint64, points []models.Point) error

func (f storeFunc) WriteToShard(ctx context.Context, shardID uint64, points []models.Point) error {
	return f(ctx, shardID, points)
}

// TestPointsWriter_LocalWriteBoundedByWriteTimeout: a local store that
// holds a write back (a full cache waiting for a snapshot, issue 17) is
// given the write timeout as its context, so the client gets an answer
// naming the timeout instead of a request that hangs.
func TestPointsWriter_LocalWriteBoundedByWriteTimeout(t *testing.T) {
	d := testData(1, 1, group(1, testGroupStart, 10, []uint64{1}))
	pts := mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano()))
	full := storeFunc(func(ctx context.Context, _ uint64, _ []models.Point) error {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cache full: %w", context.Cause(ctx))
		case <-time.After(10 * time.Second):
			return errors.New("the store never saw the write timeout")
		}
	})
	cfg := testConfig()
	cfg.WriteTimeout = meta.Duration(50 * time.Millisecond)
	w := newPointsWriter(t, cfg, selfID(1), staticMeta(t, d), full, nil, nil, nil)
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, pts)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WritePoints into a store waiting past the write timeout: got %v; want an error wrapping DeadlineExceeded", err)
	}
}
