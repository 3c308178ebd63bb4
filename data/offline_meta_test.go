package data_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
)

// startBound is how long a data node that saved the cluster state may
// take to serve after a restart without meta (it used to wait 60 s for
// meta and then exit).
const startBound = 10 * time.Second

// TestRestartServesWithoutMetaQuorum restarts a data node while 2 of 3
// meta nodes are down: it starts from its saved cluster state at once,
// takes writes to an existing shard group and answers queries, and
// catches up with meta once the quorum is back.
func TestRestartServesWithoutMetaQuorum(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Meta: 3, Data: 2})
	c.CreateDatabase("db", 2)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	body, want := batch(5, 3, t0)
	// At consistency all, so node 1 holds the batch before it stops (a
	// level-one write answers before its remote copy is written).
	if code, resp := c.Write(0, params("db", "db", "consistency", "all"), body); code != 204 {
		t.Fatalf("write: %d %s", code, resp)
	}
	c.Stop(1)
	c.Meta.Kill(0)
	c.Meta.Kill(1)

	start := time.Now()
	c.Restart(1)
	if took := time.Since(start); took > startBound {
		t.Fatalf("restart without a meta quorum took %v; want under %v", took, startBound)
	}
	// A point in the existing group, acknowledged by both owners.
	line := "cpu,host=h000,region=r0 usage=99.5 " + strconv.FormatInt(t0.Add(10*time.Second).UnixNano(), 10)
	if code, resp := c.Write(1, params("db", "db", "consistency", "all"), line); code != 204 {
		t.Fatalf("write to an existing group without a meta quorum: %d %s; want 204", code, resp)
	}
	got := queryNode(t, c, 1, "db", `SELECT count(usage) FROM cpu`)
	wantCount := `"values":[["1970-01-01T00:00:00Z",` + strconv.Itoa(len(want)/2+1) + `]]`
	if !strings.Contains(got, wantCount) {
		t.Fatalf("query without a meta quorum: got %s; want a count of %d", got, len(want)/2+1)
	}

	c.Meta.Restart(0)
	c.Meta.Restart(1)
	c.Meta.WaitLeader()
	c.CreateDatabase("db2", 1) // waits until every data node's cache has it
}

// TestRestartFromStaleSavedStateKeepsShards restarts a data node whose
// saved cluster state predates a shard group it holds acknowledged points
// in (as after a kill -9 within the state file's save interval of the
// group's creation): the node starts from that state before meta answers,
// and must not delete the shard as no longer owned meanwhile.
func TestRestartFromStaleSavedStateKeepsShards(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 1})
	c.CreateDatabase("db", 1)
	statePath := filepath.Join(c.Dir(0), "meta-state.json")
	var stale []byte
	c.WaitFor("the saved state to list database db", func() bool {
		b, err := os.ReadFile(statePath)
		stale = b
		return err == nil && bytes.Contains(b, []byte(`"db"`))
	})
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	body, want := batch(5, 3, t0)
	if code, resp := c.Write(0, params("db", "db"), body); code != 204 {
		t.Fatalf("write: %d %s", code, resp)
	}
	c.Stop(0)
	if err := os.WriteFile(statePath, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Restart(0)
	// Queries see the group once meta has answered; the points must be
	// there then (a shard deleted at the start comes back empty).
	wantCount := `"values":[["1970-01-01T00:00:00Z",` + strconv.Itoa(len(want)/2) + `]]`
	c.WaitFor("the points written before the restart", func() bool {
		return strings.Contains(queryNode(t, c, 0, "db", `SELECT count(usage) FROM cpu`), wantCount)
	})
}

// TestNewNodeWaitsForMeta starts a data node with no saved state and no
// meta node to ask: Open keeps waiting, logging each attempt and what it
// waits for, until the node is closed.
func TestNewNodeWaitsForMeta(t *testing.T) {
	cfg := data.NewConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "data")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RPCAddr = "127.0.0.1:0"
	cfg.Meta = []string{"127.0.0.1:1"}
	var logs syncBuffer
	s := data.NewServer(cfg, "test", slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
	opened := make(chan error, 1)
	go func() { opened <- s.Open() }()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), "waiting for meta") < 2 {
		select {
		case err := <-opened:
			t.Fatalf("Open returned %v without meta; want it to keep waiting", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two 'waiting for meta' log lines within 5 s; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close while waiting for meta: %v", err)
	}
	select {
	case err := <-opened:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Open after Close: got %v; want an error saying it was cancelled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Open did not return within 5 s of Close")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
