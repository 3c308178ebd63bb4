package data_test

import (
	"context"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// collectedStream is a StreamTarget that keeps what a shard stream holds,
// one line per value.
type collectedStream struct{ lines []string }

func (c *collectedStream) Tombstones() []tsdb.Tombstone           { return nil }
func (c *collectedStream) ApplyTombstones([]tsdb.Tombstone) error { return nil }
func (c *collectedStream) WritePoints(_ context.Context, pts []models.Point) error {
	for _, p := range pts {
		c.lines = append(c.lines, strings.TrimSuffix(string(p.AppendLine(nil)), "\n"))
	}
	return nil
}

// TestBackupShardReconcilesOwners: a shard's backup read from one owner
// holds a value only the other owner has (a write acknowledged by it
// alone), because the owner first exchanges with the others; asked again
// with the digest it gave, the owner answers that nothing changed; with
// the other owner down, it answers naming it unreconciled.
func TestBackupShardReconcilesOwners(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 2})
	c.CreateDatabase("db", 2)
	if code, body := c.Write(0, url.Values{"db": {"db"}, "consistency": {"all"}}, "cpu,host=a v=1 1000000000"); code != 204 {
		t.Fatalf("write: %d %s", code, body)
	}
	d := c.Server(0).MetaData()
	locs := d.ShardsOwnedBy(c.NodeID(0))
	if len(locs) != 1 {
		t.Fatalf("node 0 owns %d shards, want 1", len(locs))
	}
	shard := locs[0].Shard.ID
	// Only node 1 takes this one, as when node 0 missed an acknowledged
	// write.
	var p models.Parser
	pts, err := p.Parse([]byte("cpu,host=b v=2 1000000000"), models.PrecisionNanosecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Server(1).Store().WriteToShard(context.Background(), shard, pts); err != nil {
		t.Fatal(err)
	}

	client := &data.NodeClient{}
	node := *d.DataNode(c.NodeID(0))
	ans, err := client.OpenShard(context.Background(), node, shard, "")
	if err != nil {
		t.Fatal(err)
	}
	var got collectedStream
	_, err = antientropy.ReadShardStream(context.Background(), ans.Body, &got)
	if _, rest := io.Copy(io.Discard, ans.Body); err == nil {
		err = rest
	}
	ans.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	values, _, err := ans.Totals()
	if err != nil || values != 2 || len(ans.Unreconciled) > 0 {
		t.Fatalf("stream totals %d (%v), unreconciled %v; want 2 values, none unreconciled", values, err, ans.Unreconciled)
	}
	slices.Sort(got.lines)
	if want := []string{"cpu,host=a v=1 1000000000", "cpu,host=b v=2 1000000000"}; !slices.Equal(got.lines, want) {
		t.Fatalf("backup of shard %d from node 0 holds %q, want %q", shard, got.lines, want)
	}

	again, err := client.OpenShard(context.Background(), node, shard, ans.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if again.Body != nil || again.Digest != ans.Digest {
		t.Fatalf("asked with the current digest %s: answer with a body %t, digest %s; want no body", ans.Digest, again.Body != nil, again.Digest)
	}

	// With the other owner down, the shard is still sent, naming it.
	other := c.NodeID(1)
	c.Stop(1)
	down, err := client.OpenShard(context.Background(), node, shard, ans.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(down.Unreconciled, []uint64{other}) {
		t.Fatalf("with node %d down: unreconciled %v, want it named", other, down.Unreconciled)
	}
}
