package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

func TestParseConsistencyLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want coordinator.ConsistencyLevel
	}{
		{"", coordinator.ConsistencyLevelOne},
		{"any", coordinator.ConsistencyLevelAny},
		{"one", coordinator.ConsistencyLevelOne},
		{"QUORUM", coordinator.ConsistencyLevelQuorum},
		{"all", coordinator.ConsistencyLevelAll},
	} {
		got, err := coordinator.ParseConsistencyLevel(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseConsistencyLevel(%q) = %v, %v; want %v, nil", tc.in, got, err, tc.want)
		}
		if tc.in != "" && got.String() != strings.ToLower(tc.in) {
			t.Errorf("%v.String() = %q; want %q", got, got.String(), strings.ToLower(tc.in))
		}
	}
	for _, in := range []string{"two", "majority", " one"} {
		if _, err := coordinator.ParseConsistencyLevel(in); !errors.Is(err, coordinator.ErrInvalidConsistencyLevel) {
			t.Errorf("ParseConsistencyLevel(%q) error = %v; want ErrInvalidConsistencyLevel", in, err)
		}
	}
}

// outcome is what a fake owner does with a write.
type outcome int

const (
	ownerOK      outcome = iota // acknowledges
	ownerFail                   // answers an error at once
	ownerTimeout                // blocks until the write's context ends
)

func (o outcome) String() string { return [...]string{"ok", "fail", "timeout"}[o] }

// matrixCase is one row of the consistency matrix.
type matrixCase struct {
	level    coordinator.ConsistencyLevel
	owners   []outcome // owner i+1 does owners[i]; all owners are remote
	hh       bool      // hinted handoff present (and always succeeding)
	wantErr  error     // nil, ErrConsistency or ErrTimeout
	wantAck  int       // WriteError.Acked when failing
	wantReq  int       // WriteError.Required when failing
	wantHHed int       // writes queued in hinted handoff
}

func (c matrixCase) name() string {
	s := make([]string, len(c.owners))
	for i, o := range c.owners {
		s[i] = o.String()
	}
	return fmt.Sprintf("rf%d/%s/%s/hh=%t", len(c.owners), c.level, strings.Join(s, ","), c.hh)
}

// TestPointsWriter_ConsistencyMatrix checks, as InfluxDB v0.11.1's
// TestPointsWriter_WritePoints does, every consistency level against
// replication factors 1-3 and every combination of owner outcomes, with
// and without hinted handoff. A few rows are spelled out by hand first;
// the rest are generated from the rule in DESIGN.md.
func TestPointsWriter_ConsistencyMatrix(t *testing.T) {
	A, O, Q, L := coordinator.ConsistencyLevelAny, coordinator.ConsistencyLevelOne, coordinator.ConsistencyLevelQuorum, coordinator.ConsistencyLevelAll
	ok, fail, tout := ownerOK, ownerFail, ownerTimeout
	cases := []matrixCase{
		{level: O, owners: []outcome{ok}},
		{level: O, owners: []outcome{fail}, wantErr: coordinator.ErrConsistency, wantReq: 1},
		{level: A, owners: []outcome{fail}, wantErr: coordinator.ErrConsistency, wantReq: 1}, // no HH: any is one
		{level: A, owners: []outcome{fail}, hh: true, wantHHed: 1},
		{level: O, owners: []outcome{fail}, hh: true, wantErr: coordinator.ErrConsistency, wantReq: 1, wantHHed: 1},
		{level: O, owners: []outcome{tout}, wantErr: coordinator.ErrTimeout, wantReq: 1},
		{level: A, owners: []outcome{tout}, hh: true, wantHHed: 1},
		{level: Q, owners: []outcome{ok, fail}, wantErr: coordinator.ErrConsistency, wantAck: 1, wantReq: 2},
		{level: O, owners: []outcome{ok, fail}},
		{level: Q, owners: []outcome{ok, fail, ok}},
		{level: Q, owners: []outcome{ok, fail, tout}, hh: true, wantErr: coordinator.ErrTimeout, wantAck: 1, wantReq: 2, wantHHed: 2},
		{level: L, owners: []outcome{ok, ok, tout}, wantErr: coordinator.ErrTimeout, wantAck: 2, wantReq: 3},
		{level: L, owners: []outcome{ok, ok, ok}},
		{level: A, owners: []outcome{fail, fail, fail}, hh: true, wantHHed: 3},
	}
	for _, rf := range []int{1, 2, 3} {
		for combo := 0; combo < pow3(rf); combo++ {
			owners := make([]outcome, rf)
			for i, c := 0, combo; i < rf; i, c = i+1, c/3 {
				owners[i] = outcome(c % 3)
			}
			for _, level := range []coordinator.ConsistencyLevel{A, O, Q, L} {
				for _, hh := range []bool{false, true} {
					cases = append(cases, expected(level, owners, hh))
				}
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name(), func(t *testing.T) {
			t.Parallel()
			// On virtual time the deadline passes only once every other
			// goroutine is blocked, so prompt owners always answer first.
			synctest.Test(t, func(t *testing.T) { runMatrixCase(t, tc) })
		})
	}
}

func pow3(n int) int {
	p := 1
	for range n {
		p *= 3
	}
	return p
}

// expected derives a row's answer. Acknowledgements are the ok owners,
// plus for level any the owners hinted handoff took: a failed owner's at
// once, a timed-out owner's at the deadline (the writer waits for the
// writes of shards still undecided then, as they share the deadline). A
// missed level is a timeout when the prompt answers alone neither met nor
// ruled out the level, so the shard was still undecided at the deadline;
// otherwise the writer answers ErrConsistency at once.
func expected(level coordinator.ConsistencyLevel, owners []outcome, hh bool) matrixCase {
	c := matrixCase{level: level, owners: owners, hh: hh}
	acked, failed, timedOut := 0, 0, 0
	for _, o := range owners {
		switch o {
		case ownerOK:
			acked++
		case ownerTimeout:
			timedOut++
		default:
			failed++
		}
	}
	prompt, got := acked, acked
	if hh {
		c.wantHHed = failed + timedOut
		if level == coordinator.ConsistencyLevelAny {
			prompt += failed
			got += failed + timedOut
		}
	}
	need := map[coordinator.ConsistencyLevel]int{
		coordinator.ConsistencyLevelAny: 1, coordinator.ConsistencyLevelOne: 1,
		coordinator.ConsistencyLevelQuorum: len(owners)/2 + 1, coordinator.ConsistencyLevelAll: len(owners),
	}[level]
	if got < need {
		c.wantErr, c.wantAck, c.wantReq = coordinator.ErrConsistency, got, need
		if timedOut > 0 && prompt+timedOut >= need {
			c.wantErr = coordinator.ErrTimeout
		}
	}
	return c
}

func runMatrixCase(t *testing.T, tc matrixCase) {
	rf := len(tc.owners)
	owners := make([]uint64, rf)
	for i := range owners {
		owners[i] = uint64(i + 1)
	}
	d := testData(rf, rf, group(1, testGroupStart, 10, owners))
	remote := &fakeShardWriter{WriteShardFn: func(ctx context.Context, node, shard uint64, pts []models.Point) error {
		if shard != 10 || len(pts) != 2 {
			t.Errorf("remote write to node %d: got shard %d with %d points; want shard 10 with 2", node, shard, len(pts))
		}
		switch tc.owners[node-1] {
		case ownerFail:
			return fmt.Errorf("node %d: connection refused", node)
		case ownerTimeout:
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	var hhed atomic.Int32
	var hh coordinator.HintedHandoff
	if tc.hh {
		hh = &fakeHH{
			PendingFn: func(uint64) bool { return false },
			WriteShardFn: func(node, shard uint64, pts []models.Point) error {
				if tc.owners[node-1] == ownerOK {
					t.Errorf("hinted handoff got a write for node %d, which acknowledged", node)
				}
				hhed.Add(1)
				return nil
			},
		}
	}
	cfg := testConfig()
	cfg.WriteTimeout = meta.Duration(30 * time.Millisecond)
	reg := prometheus.NewRegistry()
	local := &fakeStore{WriteToShardFn: func(uint64, []models.Point) error {
		t.Error("local store written, but this node owns nothing")
		return nil
	}}
	w := newPointsWriter(t, cfg, selfID(99), staticMeta(t, d), local, remote, hh, reg)
	pts := mustParse(t, "cpu,host=a v=1 "+fmt.Sprint(testGroupStart.UnixNano())+"\ncpu,host=b v=2 "+fmt.Sprint(testGroupStart.UnixNano()+1))

	err := w.WritePoints(context.Background(), testDB, "", tc.level, pts)

	w.Close() // let the writes still in flight end
	if got := int(hhed.Load()); got != tc.wantHHed {
		t.Errorf("hinted handoff writes after Close: got %d; want %d", got, tc.wantHHed)
	}
	if tc.wantErr == nil {
		if err != nil {
			t.Fatalf("WritePoints: got error %v; want nil", err)
		}
		// "hh" when the answer saw a queued write: surely when the level
		// needed one, maybe when other owners met it first.
		ok := metricValue(t, reg, "strata_coordinator_writes_total", "result", "ok")
		hhRes := metricValue(t, reg, "strata_coordinator_writes_total", "result", "hh")
		needQueued := tc.level == coordinator.ConsistencyLevelAny && !slices.Contains(tc.owners, ownerOK)
		switch {
		case ok+hhRes != 1:
			t.Errorf("writes_total{result=ok|hh}: got %v and %v; want one write", ok, hhRes)
		case tc.wantHHed == 0 && hhRes != 0, needQueued && hhRes != 1:
			t.Errorf("writes_total{result=hh}: got %v; want %v", hhRes, map[bool]int{true: 1}[needQueued])
		}
		return
	}
	if !errors.Is(err, tc.wantErr) {
		t.Fatalf("WritePoints: got error %v; want one wrapping %v", err, tc.wantErr)
	}
	var we *coordinator.WriteError
	if !errors.As(err, &we) {
		t.Fatalf("WritePoints: got error %T %v; want a *WriteError", err, err)
	}
	// A shard ruled out before the deadline is answered at once: owners
	// that had not answered yet are not counted.
	ackOK := we.Acked == tc.wantAck || tc.wantErr == coordinator.ErrConsistency && we.Acked < tc.wantAck
	if we.Level != tc.level || we.ShardID != 10 || !ackOK || we.Required != tc.wantReq || we.Owners != rf {
		t.Errorf("WriteError: got level %v shard %d acked %d required %d owners %d; want %v 10 %d %d %d",
			we.Level, we.ShardID, we.Acked, we.Required, we.Owners, tc.level, tc.wantAck, tc.wantReq, rf)
	}
	if we.Timeout != (tc.wantErr == coordinator.ErrTimeout) {
		t.Errorf("WriteError.Timeout: got %t; want %t", we.Timeout, tc.wantErr == coordinator.ErrTimeout)
	}
	if !strings.Contains(err.Error(), "consistency level "+tc.level.String()+" not met") {
		t.Errorf("error message %q does not name the failed level %s", err, tc.level)
	}
	wantResult := "failed"
	if tc.wantErr == coordinator.ErrTimeout {
		wantResult = "timeout"
	}
	if got := metricValue(t, reg, "strata_coordinator_writes_total", "result", wantResult); got != 1 {
		t.Errorf("writes_total{result=%q}: got %v; want 1", wantResult, got)
	}
}
