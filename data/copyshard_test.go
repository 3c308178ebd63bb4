package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/meta"
)

// copyFakes are the meta and anti-entropy a shardCopier talks to: Sync
// answers the scripted states in turn (the last one repeats) after
// failing its first fails calls, or blocks until its context ends when
// block is set; AddShardOwner edits data.
type copyFakes struct {
	mu   sync.Mutex
	data *meta.Data
	// stale, when set, is what Data answers (a restarted node's cached
	// state); Refresh answers data.
	stale  *meta.Data
	states []string
	block  bool
	fails  int
	calls  int
}

func (f *copyFakes) Data() *meta.Data {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stale != nil {
		return f.stale
	}
	return f.data
}

func (f *copyFakes) Refresh(context.Context) (*meta.Data, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.data, nil
}

func (f *copyFakes) AddShardOwner(_ context.Context, shard, node uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	sg := &f.data.Databases[0].RetentionPolicies[0].ShardGroups[0]
	for i := range sg.Shards {
		if sg.Shards[i].ID == shard && !slices.Contains(sg.Shards[i].Owners, node) {
			sg.Shards[i].Owners = append(sg.Shards[i].Owners, node)
		}
	}
	return nil
}

func (f *copyFakes) Sync(ctx context.Context, _, _ uint64) (string, int, error) {
	f.mu.Lock()
	block := f.block
	if f.fails > 0 {
		f.fails--
		f.mu.Unlock()
		return "", 0, errors.New("connection refused")
	}
	i := min(f.calls, len(f.states)-1)
	f.calls++
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return "", 0, ctx.Err()
	}
	return f.states[i], 10, nil
}

// waitCopy waits for the copy of shard to end and returns its status.
func waitCopy(t *testing.T, c *shardCopier, shard uint64) CopyShardStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, st := range c.Status() {
			if st.Shard == shard && !st.Running {
				return st
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("copy of shard %d did not end", shard)
	return CopyShardStatus{}
}

func TestShardCopier(t *testing.T) {
	// Node 3 owns nothing of stateWithShards; shard 10 is owned by 1 and 2.
	node := func() uint64 { return 3 }
	intents := filepath.Join(t.TempDir(), copyIntentsFile)
	newCopier := func(f *copyFakes) *shardCopier {
		c := newShardCopier(context.Background(), node, f, f, intents, discardLogger())
		c.retryPause, c.retryFor = 10*time.Millisecond, 300*time.Millisecond
		t.Cleanup(c.Close)
		return c
	}

	t.Run("refusals", func(t *testing.T) {
		c := newCopier(&copyFakes{data: stateWithShards(false), states: []string{"equal"}})
		for _, tc := range []struct {
			shard, source uint64
			want          error
		}{
			{99, 1, meta.ErrShardNotFound},
			{10, 3, errCopyConflict}, // source does not own it
			{11, 2, errCopyConflict}, // node 3 owns it already
		} {
			if _, err := c.Start(tc.shard, tc.source); !errors.Is(err, tc.want) {
				t.Errorf("copy of shard %d from %d: %v, want %v", tc.shard, tc.source, err, tc.want)
			}
		}
	})

	t.Run("owner added once roots agree", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"streamed", "repaired", "equal"}}
		c := newCopier(f)
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Start(10, 1); !errors.Is(err, errCopyConflict) {
			t.Errorf("second copy of a shard being copied: %v, want a conflict", err)
		}
		st := waitCopy(t, c, 10)
		if st.State != "done" || !st.Verified || st.Error != "" || st.Rounds != 4 {
			t.Fatalf("status %+v, want done and verified after 3 exchanges before and 1 after the owner change", st)
		}
		if owners := f.Data().ShardOwners(10); !slices.Contains(owners, 3) {
			t.Fatalf("owners %v, want node 3 added", owners)
		}
		if c.Copying(10) {
			t.Error("Copying(10) after the copy ended")
		}
	})

	t.Run("deferred exchanges fail without owner change", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"deferred"}}
		c := newCopier(f)
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		if st := waitCopy(t, c, 10); st.State != "failed" || st.Error == "" {
			t.Fatalf("status %+v, want failed", st)
		}
		if got, err := loadCopyIntents(intents); err != nil || len(got) != 0 {
			t.Fatalf("recorded copies after the failure: %v %v, want none (the shard may be deleted)", got, err)
		}
		if owners := f.Data().ShardOwners(10); slices.Contains(owners, 3) {
			t.Fatalf("owners %v: node 3 added although nothing was copied", owners)
		}
	})

	t.Run("roots never agree: no owner change", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"streamed", "repaired"}}
		c := newCopier(f)
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		st := waitCopy(t, c, 10)
		if st.State != "failed" || !strings.Contains(st.Error, "still differs") || st.Rounds != copyPreRounds {
			t.Fatalf("status %+v, want failed after %d exchanges", st, copyPreRounds)
		}
		if owners := f.Data().ShardOwners(10); slices.Contains(owners, 3) {
			t.Fatalf("owners %v: node 3 added although its copy never matched", owners)
		}
	})

	t.Run("file copy: a cut transfer is retried, a corrupt one fails without owner change", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"equal"}}
		c := newCopier(f)
		var calls int
		c.files = func(_ context.Context, _, _ uint64, received func(int64)) (bool, error) {
			calls++
			if calls == 1 {
				received(60)
				received(40)
				return false, io.ErrUnexpectedEOF
			}
			received(50)
			return false, fmt.Errorf("receive x.tsm: %w: checksum mismatch", errCopyCorrupt)
		}
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		st := waitCopy(t, c, 10)
		if st.State != "failed" || !strings.Contains(st.Error, "checksum mismatch") || !strings.Contains(st.Error, "not made an owner") ||
			calls != 2 || st.Retries != 1 || st.Bytes != 150 || st.Rounds != 0 {
			t.Fatalf("status %+v after %d transfers, want failed on the checksum after one retry, no exchange", st, calls)
		}
		if owners := f.Data().ShardOwners(10); slices.Contains(owners, 3) {
			t.Fatalf("owners %v: node 3 added after a corrupt transfer", owners)
		}
	})

	t.Run("file copy installed: exchanges follow", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"equal"}}
		c := newCopier(f)
		c.files = func(_ context.Context, _, _ uint64, received func(int64)) (bool, error) {
			received(4096)
			return true, nil
		}
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		st := waitCopy(t, c, 10)
		if st.State != "done" || !st.Verified || st.Bytes != 4096 || st.Rounds != 2 {
			t.Fatalf("status %+v, want done and verified with 4096 file bytes and 2 exchanges", st)
		}
	})

	t.Run("kill", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), block: true}
		c := newCopier(f)
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		if !c.Copying(10) {
			t.Fatal("Copying(10) false while the copy runs")
		}
		if !c.Kill(10) {
			t.Fatal("Kill found no running copy")
		}
		if st := waitCopy(t, c, 10); st.State != "killed" || !strings.Contains(st.Error, "killed by kill-copy-shard") {
			t.Fatalf("status %+v, want killed, saying by what", st)
		}
		if c.Kill(10) {
			t.Error("Kill of an ended copy reported one running")
		}
		if owners := f.Data().ShardOwners(10); slices.Contains(owners, 3) {
			t.Fatalf("owners %v after a kill", owners)
		}
	})
	t.Run("file copy: status counts bytes while they arrive", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"equal"}}
		c := newCopier(f)
		c.files = func(ctx context.Context, _, _ uint64, received func(int64)) (bool, error) {
			received(1000)
			<-ctx.Done()
			return false, ctx.Err()
		}
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := c.Status()[0]
			if st.Running && st.Bytes == 1000 {
				break
			}
			if !st.Running || time.Now().After(deadline) {
				t.Fatalf("status %+v: the 1000 bytes received so far are not shown while the transfer runs", st)
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.Kill(10)
		waitCopy(t, c, 10)
	})
	t.Run("source unreachable for a while", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"streamed", "equal"}, fails: 3}
		c := newCopier(f)
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		st := waitCopy(t, c, 10)
		if st.State != "done" || !st.Verified || st.Retries != 3 || st.Error != "" {
			t.Fatalf("status %+v, want done after 3 retries", st)
		}
	})

	t.Run("source gone for good", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"equal"}, fails: 1 << 30}
		c := newCopier(f)
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		st := waitCopy(t, c, 10)
		if st.State != "failed" || !strings.Contains(st.Error, "gave up") || !strings.Contains(st.Error, "connection refused") {
			t.Fatalf("status %+v, want failed naming the last error", st)
		}
		if owners := f.Data().ShardOwners(10); slices.Contains(owners, 3) {
			t.Fatalf("owners %v after a failed copy", owners)
		}
	})

	t.Run("resumed after a restart", func(t *testing.T) {
		// The first node stops mid-copy: the copy stays recorded.
		f := &copyFakes{data: stateWithShards(false), block: true}
		c := newShardCopier(context.Background(), node, f, f, intents, discardLogger())
		if _, err := c.Start(10, 1); err != nil {
			t.Fatal(err)
		}
		c.Close()
		got, err := loadCopyIntents(intents)
		if err != nil || got[10] != 1 {
			t.Fatalf("recorded copies after a stop mid-copy: %v %v, want shard 10 from node 1", got, err)
		}
		// The restarted node resumes it.
		f = &copyFakes{data: stateWithShards(false), states: []string{"repaired", "equal"}}
		c = newCopier(f)
		c.Resume(got)
		st := waitCopy(t, c, 10)
		if st.State != "done" || !st.Resumed || !st.Verified {
			t.Fatalf("status %+v, want a resumed copy done", st)
		}
		if owners := f.Data().ShardOwners(10); !slices.Contains(owners, 3) {
			t.Fatalf("owners %v, want node 3 added", owners)
		}
		if got, err := loadCopyIntents(intents); err != nil || len(got) != 0 {
			t.Fatalf("recorded copies after the copy: %v %v", got, err)
		}
	})

	t.Run("resumed after the owner change", func(t *testing.T) {
		// Node 3 owns shard 11 already: the copy only converges.
		f := &copyFakes{data: stateWithShards(false), states: []string{"equal"}}
		c := newCopier(f)
		c.Resume(map[uint64]uint64{11: 2})
		if st := waitCopy(t, c, 11); st.State != "done" || st.Rounds != 1 {
			t.Fatalf("status %+v, want done after one exchange", st)
		}
	})

	t.Run("resumed with a stale cached owner", func(t *testing.T) {
		// The restarted node's cached state still lists it as an owner
		// of shard 10 (from before a remove-shard); meta does not.
		stale := stateWithShards(false)
		stale.Databases[0].RetentionPolicies[0].ShardGroups[0].Shards[0].Owners = []uint64{1, 2, 3}
		f := &copyFakes{data: stateWithShards(false), stale: stale, states: []string{"streamed", "equal"}}
		c := newCopier(f)
		c.Resume(map[uint64]uint64{10: 1})
		if st := waitCopy(t, c, 10); st.State != "done" || st.Rounds != 3 {
			t.Fatalf("status %+v, want done after the whole copy (3 exchanges)", st)
		}
		f.stale = nil
		if owners := f.Data().ShardOwners(10); !slices.Contains(owners, 3) {
			t.Fatalf("owners %v, want node 3 added", owners)
		}
	})

	t.Run("resume refused when the source lost the shard", func(t *testing.T) {
		f := &copyFakes{data: stateWithShards(false), states: []string{"equal"}}
		c := newCopier(f)
		c.Resume(map[uint64]uint64{10: 3})
		st := waitCopy(t, c, 10)
		if st.State != "failed" || !strings.Contains(st.Error, "does not own") {
			t.Fatalf("status %+v, want failed", st)
		}
		if _, err := os.Stat(intents); err != nil {
			t.Fatal(err)
		}
		if got, _ := loadCopyIntents(intents); len(got) != 0 {
			t.Fatalf("recorded copies %v, want none", got)
		}
	})
}
