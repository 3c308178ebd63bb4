package meta_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// newClient returns a Client over all of c's nodes, closed at cleanup.
func newClient(t *testing.T, addrs ...string) *meta.Client {
	t.Helper()
	cl := meta.NewClient(meta.ClientConfig{Addrs: addrs, Timeout: 10 * time.Second, RetryInterval: 20 * time.Millisecond})
	t.Cleanup(func() { cl.Close() })
	return cl
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCluster_DDLOnFollowerIsApplied(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	f := c.Followers()[0]
	cl := newClient(t, f.HTTPAddr())
	ctx := ctxT(t)
	di, err := cl.CreateDatabase(ctx, "db0", nil)
	if err != nil {
		t.Fatalf("CreateDatabase via follower: got err %v, want nil", err)
	}
	if di.Name != "db0" || di.DefaultRetentionPolicy != meta.DefaultRetentionPolicyName {
		t.Fatalf("CreateDatabase: got %+v, want db0 with default policy autogen", di)
	}
	c.WaitIndex(c.Leader().Data().Index)
	for i := range c.N() {
		if c.Server(i).Data().Database("db0") == nil {
			t.Errorf("node %d: database db0 missing after apply", i)
		}
	}
	// A rejected command reports its sentinel across the wire.
	_, err = cl.CreateShardGroup(ctx, "nope", "", time.Now())
	if !errors.Is(err, meta.ErrDatabaseNotFound) {
		t.Fatalf("CreateShardGroup on missing db: got %v, want ErrDatabaseNotFound", err)
	}
}

func TestCluster_RedirectInsteadOfForward(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	leader := c.Leader().HTTPAddr()
	f := c.Followers()[0]
	hc := newHTTP(t)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cmd, _ := meta.NewCommand(meta.CmdCreateDatabase, "", meta.CreateDatabasePayload{Name: "x"})
	body, _ := json.Marshal(cmd)
	req, _ := http.NewRequest(http.MethodPost, "http://"+f.HTTPAddr()+"/execute", bytes.NewReader(body))
	req.Header.Set(meta.HeaderRedirect, "1")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST /execute: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "http://"+leader+"/execute" {
		t.Fatalf("redirect answer: got %d Location %q, want 307 to http://%s/execute", resp.StatusCode, resp.Header.Get("Location"), leader)
	}
	if f.Data().Database("x") != nil {
		t.Fatalf("redirected command was applied")
	}
}

func TestCluster_ConsistentReadNeverStale(t *testing.T) {
	c := metatest.New(t, 3)
	li := c.WaitLeader()
	old := c.Server(li)
	ctx := ctxT(t)
	cl := newClient(t, c.HTTPAddrs()...)
	if _, err := cl.CreateDatabase(ctx, "before", nil); err != nil {
		t.Fatalf("CreateDatabase(before): %v", err)
	}
	c.WaitIndex(old.Data().Index)

	// Cut the leader off; the other two elect a new leader and take a write.
	c.Partition(li)
	ni := c.WaitLeader()
	if ni == li {
		t.Fatalf("partitioned node %d still the only leader", li)
	}
	others := []string{}
	for i, a := range c.HTTPAddrs() {
		if i != li {
			others = append(others, a)
		}
	}
	cl2 := newClient(t, others...)
	if _, err := cl2.CreateDatabase(ctx, "after", nil); err != nil {
		t.Fatalf("CreateDatabase(after) on majority side: %v", err)
	}

	// The cut-off node's local state is old: a stale read shows it.
	stale, err := old.ReadData(ctx, meta.ReadStale, 0, 0)
	if err != nil {
		t.Fatalf("stale read on cut-off node: %v", err)
	}
	if stale.Database("after") != nil {
		t.Fatalf("stale read on cut-off node already has the new database; test proves nothing")
	}
	// A consistent read there must fail or include the new database.
	if d, err := old.ReadData(ctx, meta.ReadConsistent, 0, 0); err == nil && d.Database("after") == nil {
		t.Fatalf("consistent read on cut-off old leader returned stale state (index %d)", d.Index)
	}
	// Through HTTP, with forwarding, the same holds.
	resp, body := get(t, newHTTP(t), "http://"+old.HTTPAddr()+"/data?consistency=consistent")
	if resp.StatusCode == http.StatusOK {
		var dr meta.DataResponse
		if err := json.Unmarshal(body, &dr); err != nil {
			t.Fatalf("decode /data: %v", err)
		}
		if dr.Data.Database("after") == nil {
			t.Fatalf("consistent HTTP read via cut-off node returned stale state")
		}
	}
	// The majority side answers consistent reads with the new state.
	d, _, err := cl2.ReadData(ctx, meta.ReadConsistent)
	if err != nil || d.Database("after") == nil {
		t.Fatalf("consistent read on majority side: got err %v, has 'after' = %v; want the new state", err, d != nil && d.Database("after") != nil)
	}

	c.Heal(li)
	c.WaitIndex(d.Index)
	if c.Server(li).Data().Database("after") == nil {
		t.Fatalf("healed node did not catch up")
	}
}

func TestCluster_LeaderCrashKeepsAcknowledgedDDL(t *testing.T) {
	c := metatest.New(t, 3)
	li := c.WaitLeader()
	ctx := ctxT(t)
	cl := newClient(t, c.HTTPAddrs()...)
	var acked []string
	for i := range 10 {
		name := fmt.Sprintf("db%02d", i)
		if _, err := cl.CreateDatabase(ctx, name, nil); err != nil {
			t.Fatalf("CreateDatabase(%s): %v", name, err)
		}
		acked = append(acked, name)
	}
	c.Kill(li)
	c.WaitLeader()
	// 2 of 3 keep accepting DDL.
	for i := 10; i < 15; i++ {
		name := fmt.Sprintf("db%02d", i)
		if _, err := cl.CreateDatabase(ctx, name, nil); err != nil {
			t.Fatalf("CreateDatabase(%s) with 2 of 3 nodes: %v", name, err)
		}
		acked = append(acked, name)
	}
	d, _, err := cl.ReadData(ctx, meta.ReadConsistent)
	if err != nil {
		t.Fatalf("consistent read after leader crash: %v", err)
	}
	for _, name := range acked {
		if d.Database(name) == nil {
			t.Errorf("acknowledged database %s missing after leader crash", name)
		}
	}

	// The crashed node restarts from its dir (no re-bootstrap) and catches up.
	c.Restart(li)
	c.WaitIndex(d.Index)
	for _, name := range acked {
		if c.Server(li).Data().Database(name) == nil {
			t.Errorf("restarted node: database %s missing", name)
		}
	}
	c.WaitMembers(3)
}

func TestCluster_RestartedFollowerCatchesUp(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	fi := c.FollowerIndexes()[0]
	c.Stop(fi)
	ctx := ctxT(t)
	cl := newClient(t, c.HTTPAddrs()...)
	if _, err := cl.CreateDataNode(ctx, "d1:8086", "d1:8088"); err != nil {
		t.Fatalf("CreateDataNode: %v", err)
	}
	if _, err := cl.CreateDatabase(ctx, "while-down", nil); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	c.Restart(fi)
	c.WaitIndex(c.Server(c.WaitLeader()).Data().Index)
	if c.Server(fi).Data().Database("while-down") == nil || c.Server(fi).Data().DataNode(1) == nil {
		t.Fatalf("restarted follower missing changes made while it was down")
	}
}

func TestCluster_RemoveAndAddMetaNode(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	fi := c.FollowerIndexes()[0]
	victim := c.Server(fi)
	ctx := ctxT(t)
	var addrs []string
	for i, a := range c.HTTPAddrs() {
		if i != fi {
			addrs = append(addrs, a)
		}
	}
	cl := newClient(t, addrs...)
	if err := cl.RemoveMetaNode(ctx, victim.HTTPAddr()); err != nil {
		t.Fatalf("RemoveMetaNode(%s): %v", victim.HTTPAddr(), err)
	}
	c.Stop(fi)
	l := c.Leader()
	voters := 0
	for _, p := range l.Status().Peers {
		if p.ID == victim.ID() {
			t.Fatalf("removed node %s still in raft configuration", victim.ID())
		}
		voters++
	}
	if voters != 2 || l.Data().MetaNode(victim.ID()) != nil {
		t.Fatalf("after remove: %d voters, meta nodes %+v; want 2 voters without %s", voters, l.Data().MetaNodes, victim.ID())
	}
	if _, err := cl.CreateDatabase(ctx, "after-remove", nil); err != nil {
		t.Fatalf("DDL after remove-meta: %v", err)
	}
	if err := cl.RemoveMetaNode(ctx, "no-such-node"); !errors.Is(err, meta.ErrMetaNodeNotFound) {
		t.Fatalf("RemoveMetaNode(unknown): got %v, want ErrMetaNodeNotFound", err)
	}

	// A fresh node that waits to be added joins through AddMetaNode.
	cfg := metatest.Config(t.TempDir())
	cfg.NoBootstrap = true
	s := meta.NewServer(cfg, nil, nil)
	if err := s.Open(); err != nil {
		t.Fatalf("open new meta node: %v", err)
	}
	defer s.Close()
	if err := cl.AddMetaNode(ctx, s.HTTPAddr()); err != nil {
		t.Fatalf("AddMetaNode(%s): %v", s.HTTPAddr(), err)
	}
	waitFor(t, "new node has the state", func() bool { return s.Data().Database("after-remove") != nil && s.Data().MetaNode(s.ID()) != nil })
}

func TestCluster_LongPoll(t *testing.T) {
	c := metatest.New(t, 1)
	c.WaitLeader()
	s := c.Server(0)
	hc := newHTTP(t)
	idx := s.Data().Index

	// Timeout: returns the current state with the same index.
	resp, body := get(t, hc, fmt.Sprintf("http://%s/data?index=%d&timeout=200ms&consistency=stale", s.HTTPAddr(), idx))
	var dr meta.DataResponse
	if err := json.Unmarshal(body, &dr); err != nil || resp.StatusCode != http.StatusOK || dr.Index != idx {
		t.Fatalf("long-poll timeout: got status %d index %d err %v, want 200 with index %d", resp.StatusCode, dr.Index, err, idx)
	}

	// Change: a waiting poll returns with the new index well before its
	// 30s timeout.
	type answer struct {
		dr  meta.DataResponse
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		resp, err := hc.Get(fmt.Sprintf("http://%s/data?index=%d&timeout=30s", s.HTTPAddr(), idx))
		var a answer
		a.err = err
		if err == nil {
			a.err = json.NewDecoder(resp.Body).Decode(&a.dr)
			resp.Body.Close()
		}
		ch <- a
	}()
	time.Sleep(100 * time.Millisecond)
	cl := newClient(t, s.HTTPAddr())
	if _, err := cl.CreateDatabase(ctxT(t), "wake", nil); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	select {
	case a := <-ch:
		if a.err != nil || a.dr.Index <= idx || a.dr.Data.Database("wake") == nil {
			t.Fatalf("long-poll after change: got index %d err %v, want index > %d with db wake", a.dr.Index, a.err, idx)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("long-poll did not return within 10s of a change")
	}

	// The Client's watch sees changes made by someone else.
	watcher := newClient(t, s.HTTPAddr())
	if err := watcher.Open(ctxT(t)); err != nil {
		t.Fatalf("Open: %v", err)
	}
	changed := watcher.WaitForDataChanged()
	if _, err := cl.CreateDatabase(ctxT(t), "watched", nil); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatalf("WaitForDataChanged not closed within 10s of a change")
	}
	if watcher.Data().Database("watched") == nil {
		t.Fatalf("watcher cache lacks database 'watched' after change notification")
	}
}

func TestCluster_ClientFailover(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	// A dead address first: the client moves on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	cl := newClient(t, append([]string{dead}, c.HTTPAddrs()...)...)
	ctx := ctxT(t)
	if err := cl.Open(ctx); err != nil {
		t.Fatalf("Open with a dead first address: %v", err)
	}
	n, err := cl.CreateDataNode(ctx, "a:8086", "a:8088")
	if err != nil {
		t.Fatalf("CreateDataNode: %v", err)
	}
	again, err := cl.CreateDataNode(ctx, "a:8086", "a:8088")
	if err != nil || again.ID != n.ID {
		t.Fatalf("CreateDataNode again: got %+v, %v; want id %d", again, err, n.ID)
	}
	if _, err := cl.CreateDatabase(ctx, "db", &meta.RetentionPolicySpec{Name: "rp", Duration: 48 * time.Hour}); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	ts := time.Date(2026, 1, 1, 10, 30, 0, 0, time.UTC)
	sg, err := cl.CreateShardGroup(ctx, "db", "rp", ts)
	if err != nil {
		t.Fatalf("CreateShardGroup: %v", err)
	}
	// Open client: the cache has the new group on return.
	if got := cl.Data().ShardGroupByTimestamp("db", "rp", ts); got == nil || got.ID != sg.ID {
		t.Fatalf("cache after CreateShardGroup: got %+v, want group %d", got, sg.ID)
	}
	if err := cl.DeleteShardGroup(ctx, "db", "rp", sg.ID); err != nil {
		t.Fatalf("DeleteShardGroup: %v", err)
	}
	if err := cl.UpdateRetentionPolicy(ctx, "db", "rp", meta.RetentionPolicyUpdate{ReplicaN: ptr(2)}, false); err != nil {
		t.Fatalf("UpdateRetentionPolicy: %v", err)
	}
	if _, err := cl.CreateRetentionPolicy(ctx, "db", meta.RetentionPolicySpec{Name: "rp2"}, true); err != nil {
		t.Fatalf("CreateRetentionPolicy: %v", err)
	}
	if err := cl.DropRetentionPolicy(ctx, "db", "rp2"); err != nil {
		t.Fatalf("DropRetentionPolicy: %v", err)
	}
	if err := cl.TruncateShardGroups(ctx, time.Now()); err != nil {
		t.Fatalf("TruncateShardGroups: %v", err)
	}
	if err := cl.UpdateDataNode(ctx, n.ID, "b:8086", "b:8088"); err != nil {
		t.Fatalf("UpdateDataNode: %v", err)
	}
	if err := cl.DeleteDataNode(ctx, n.ID); err != nil {
		t.Fatalf("DeleteDataNode: %v", err)
	}
	if err := cl.DeleteDataNode(ctx, n.ID); !errors.Is(err, meta.ErrDataNodeNotFound) {
		t.Fatalf("DeleteDataNode twice: got %v, want ErrDataNodeNotFound", err)
	}
	if err := cl.DropDatabase(ctx, "db"); err != nil {
		t.Fatalf("DropDatabase: %v", err)
	}
	d, _, err := cl.ReadData(ctx, meta.ReadConsistent)
	if err != nil || d.Database("db") != nil || len(d.DataNodes) != 0 {
		t.Fatalf("final state: err %v, databases %+v, data nodes %+v; want empty", err, d.Databases, d.DataNodes)
	}
}

func TestCluster_Users(t *testing.T) {
	c := metatest.New(t, 1)
	c.WaitLeader()
	cl := meta.NewClient(meta.ClientConfig{Addrs: c.HTTPAddrs(), BcryptCost: 4})
	defer cl.Close()
	ctx := ctxT(t)
	if _, err := cl.CreateDatabase(ctx, "db", nil); err != nil {
		t.Fatal(err)
	}
	if err := cl.CreateUser(ctx, "alice", "s3cret", false); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := cl.GrantPrivilege(ctx, "alice", "db", meta.PrivilegeRead); err != nil {
		t.Fatalf("GrantPrivilege: %v", err)
	}
	d, _, _ := cl.ReadData(ctx, meta.ReadDefault)
	if u, err := d.Authenticate("alice", "s3cret"); err != nil || u.Privileges["db"] != meta.PrivilegeRead {
		t.Fatalf("Authenticate(right password): got %+v, %v", u, err)
	}
	if _, err := d.Authenticate("alice", "wrong"); !errors.Is(err, meta.ErrAuthenticationFailed) {
		t.Fatalf("Authenticate(wrong password): got %v, want ErrAuthenticationFailed", err)
	}
	if strings.Contains(fmt.Sprint(d.User("alice")), "s3cret") {
		t.Fatalf("plain password stored in state")
	}
	if err := cl.SetPassword(ctx, "alice", "new"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if err := cl.SetAdmin(ctx, "alice", true); err != nil {
		t.Fatalf("SetAdmin: %v", err)
	}
	if err := cl.RevokePrivilege(ctx, "alice", "db"); err != nil {
		t.Fatalf("RevokePrivilege: %v", err)
	}
	d, _, _ = cl.ReadData(ctx, meta.ReadDefault)
	if _, err := d.Authenticate("alice", "new"); err != nil || !d.User("alice").Admin {
		t.Fatalf("after SetPassword/SetAdmin: auth err %v, admin %v", err, d.User("alice").Admin)
	}
	if err := cl.DropUser(ctx, "alice"); err != nil {
		t.Fatalf("DropUser: %v", err)
	}
	if err := cl.DropUser(ctx, "alice"); !errors.Is(err, meta.ErrUserNotFound) {
		t.Fatalf("DropUser twice: got %v, want ErrUserNotFound", err)
	}
}

func TestCluster_CutOffFollowerReads(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	fi := c.FollowerIndexes()[0]
	f := c.Server(fi)
	ctx := ctxT(t)
	c.Partition(fi)
	var others []string
	for i, a := range c.HTTPAddrs() {
		if i != fi {
			others = append(others, a)
		}
	}
	if _, err := newClient(t, others...).CreateDatabase(ctx, "new", nil); err != nil {
		t.Fatalf("CreateDatabase while a follower is cut off: %v", err)
	}
	hc := newHTTP(t)
	var dr meta.DataResponse
	resp, b := get(t, hc, "http://"+f.HTTPAddr()+"/data?consistency=stale")
	if err := json.Unmarshal(b, &dr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stale read on cut-off follower: got %d %s", resp.StatusCode, b)
	}
	if dr.Data.Database("new") != nil {
		t.Fatalf("cut-off follower's stale state already has the new database; test proves nothing")
	}
	for _, mode := range []string{"default", "consistent"} {
		resp, b := get(t, hc, "http://"+f.HTTPAddr()+"/data?consistency="+mode)
		if resp.StatusCode != http.StatusOK {
			continue // failing is allowed
		}
		var dr meta.DataResponse
		if err := json.Unmarshal(b, &dr); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if dr.Data.Database("new") == nil {
			t.Fatalf("%s read via cut-off follower returned old state (index %d)", mode, dr.Index)
		}
	}
	c.Heal(fi)
	c.WaitLeader()
	waitFor(t, "healed follower catches up", func() bool { return c.Server(fi).Data().Database("new") != nil })
}

func TestCluster_RetriedCommandAppliesOnce(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	ctx := ctxT(t)
	cl := newClient(t, c.HTTPAddrs()...)
	if _, err := cl.CreateDataNode(ctx, "a:1", "a:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateDatabase(ctx, "db", nil); err != nil {
		t.Fatal(err)
	}
	cmd := func() *meta.Command {
		c, _ := meta.NewCommand(meta.CmdCreateShardGroup, "fixed-id", meta.CreateShardGroupPayload{Database: "db", Timestamp: time.Unix(0, 0)})
		return c
	}
	first, err := cl.Execute(ctx, cmd())
	if err != nil {
		t.Fatal(err)
	}
	// The group is deleted; a retry of the same request must not recreate it.
	if err := cl.DeleteShardGroup(ctx, "db", "", first.ShardGroup.ID); err != nil {
		t.Fatal(err)
	}
	for _, addr := range c.HTTPAddrs() { // retry through every node
		again, err := newClient(t, addr).Execute(ctx, cmd())
		if err != nil || again.ShardGroup.ID != first.ShardGroup.ID || again.Index != first.Index {
			t.Fatalf("retry via %s: got %+v, %v; want first result (group %d, index %d)", addr, again, err, first.ShardGroup.ID, first.Index)
		}
	}
	d, _, _ := cl.ReadData(ctx, meta.ReadConsistent)
	if d.MaxShardGroupID != 1 || d.ShardGroupByTimestamp("db", "", time.Unix(0, 0)) != nil {
		t.Fatalf("after retries: max group id %d, live group %+v; want 1 and none", d.MaxShardGroupID, d.ShardGroupByTimestamp("db", "", time.Unix(0, 0)))
	}
}

func TestCluster_CloseLeaderHandsOff(t *testing.T) {
	c := metatest.New(t, 3)
	li := c.WaitLeader()
	old := c.Server(li)
	c.Stop(li) // Close: leadership transfer first
	if err := old.Close(); err != nil {
		t.Fatalf("second Close: got %v, want nil", err)
	}
	if err := old.Abort(); err != nil {
		t.Fatalf("Abort after Close: got %v, want nil", err)
	}
	ni := c.WaitLeader()
	if ni == li {
		t.Fatalf("closed node still leader")
	}
	if _, err := newClient(t, c.Server(ni).HTTPAddr()).CreateDatabase(ctxT(t), "after-close", nil); err != nil {
		t.Fatalf("DDL after leader Close: %v", err)
	}
}

func TestCluster_LaggingNodeCatchesUpFromSnapshot(t *testing.T) {
	c := metatest.NewWithOptions(t, 3, metatest.Options{Configure: func(_ int, cfg *meta.Config) {
		cfg.SnapshotThreshold = 8
		cfg.TrailingLogs = 4
		cfg.SnapshotInterval = meta.Duration(20 * time.Millisecond)
	}})
	c.WaitLeader()
	fi := c.FollowerIndexes()[0]
	c.Kill(fi)
	ctx := ctxT(t)
	cl := newClient(t, c.HTTPAddrs()...)
	first, err := cl.Execute(ctx, mustCommand(t, meta.CmdCreateDatabase, "dedupe-me", meta.CreateDatabasePayload{Name: "db-first"}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := cl.CreateDatabase(ctx, fmt.Sprintf("db%02d", i), nil); err != nil {
			t.Fatalf("CreateDatabase: %v", err)
		}
	}
	// Give the leader time to snapshot and compact past the follower's log.
	leaderDir := c.Server(c.WaitLeader()).Config().Dir
	waitFor(t, "leader snapshot", func() bool {
		entries, _ := os.ReadDir(filepath.Join(leaderDir, "snapshots"))
		return len(entries) > 0
	})
	time.Sleep(100 * time.Millisecond)
	c.Restart(fi)
	c.WaitIndex(c.Server(c.WaitLeader()).Data().Index)
	d := c.Server(fi).Data()
	if len(d.Databases) != 41 {
		t.Fatalf("restarted follower has %d databases, want 41", len(d.Databases))
	}
	// The request-id ring travelled in the snapshot: if the restarted node
	// becomes leader, the retry still answers with the first result.
	c.Stop(c.LeaderIndex())
	c.WaitLeader()
	again, err := cl.Execute(ctx, mustCommand(t, meta.CmdCreateDatabase, "dedupe-me", meta.CreateDatabasePayload{Name: "db-first"}))
	if err != nil || again.Index != first.Index {
		t.Fatalf("retry after snapshot install and failover: got %+v, %v; want index %d", again, err, first.Index)
	}
}

func mustCommand(t *testing.T, typ meta.CommandType, rid string, payload any) *meta.Command {
	t.Helper()
	c, err := meta.NewCommand(typ, rid, payload)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCluster_ConcurrentDDLAcrossLeaderCrash(t *testing.T) {
	c := metatest.New(t, 3)
	li := c.WaitLeader()
	ctx := ctxT(t)
	watcher := newClient(t, c.HTTPAddrs()...)
	if err := watcher.Open(ctx); err != nil {
		t.Fatalf("Open watcher: %v", err)
	}

	const writers, perWriter = 4, 15
	type outcome struct {
		acked []string
		err   error
	}
	results := make(chan outcome, writers)
	killAt := make(chan struct{})
	for w := range writers {
		go func() {
			cl := meta.NewClient(meta.ClientConfig{Addrs: c.HTTPAddrs(), Timeout: 15 * time.Second, RetryInterval: 20 * time.Millisecond})
			defer cl.Close()
			var o outcome
			for i := range perWriter {
				if w == 0 && i == perWriter/3 {
					close(killAt)
				}
				name := fmt.Sprintf("w%d-db%02d", w, i)
				if _, err := cl.CreateDatabase(ctx, name, nil); err != nil {
					o.err = fmt.Errorf("CreateDatabase(%s): %w", name, err)
					break
				}
				o.acked = append(o.acked, name)
			}
			results <- o
		}()
	}
	<-killAt
	c.Kill(li)
	var acked []string
	for range writers {
		o := <-results
		if o.err != nil {
			t.Errorf("writer failed across the leader crash: %v", o.err)
		}
		acked = append(acked, o.acked...)
	}
	if len(acked) != writers*perWriter {
		t.Fatalf("acknowledged %d of %d commands", len(acked), writers*perWriter)
	}
	c.WaitLeader()
	d, _, err := watcher.ReadData(ctx, meta.ReadConsistent)
	if err != nil {
		t.Fatalf("consistent read: %v", err)
	}
	for _, name := range acked {
		if d.Database(name) == nil {
			t.Errorf("acknowledged database %s lost", name)
		}
	}
	// The watcher survived the crash and converges to the same state.
	waitFor(t, "watcher cache reaches the final index", func() bool { return watcher.Data().Index >= d.Index })
	if got := len(watcher.Data().Databases); got != len(acked) {
		t.Fatalf("watcher cache has %d databases, want %d", got, len(acked))
	}
}

// TestClient_Refresh checks that Refresh installs the leader's current
// state in a client's cache at once, without the watch.
func TestClient_Refresh(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	ctx := ctxT(t)
	writer := newClient(t, c.HTTPAddrs()...)
	reader := newClient(t, c.HTTPAddrs()...) // never opened: no watch
	if reader.Data() != nil {
		t.Fatal("an unopened client has cached state")
	}
	if _, err := writer.CreateDatabase(ctx, "fresh", nil); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	d, err := reader.Refresh(ctx)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if d.Database("fresh") == nil || reader.Data() != d {
		t.Fatalf("after Refresh: returned %v, cached %v; want the state holding database fresh, cached", d.Databases, reader.Data())
	}
}
