package meta_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

func TestServer_RetentionLoopDeletesExpiredGroups(t *testing.T) {
	cfg := metatest.Config(t.TempDir())
	cfg.RetentionCheckInterval = meta.Duration(50 * time.Millisecond)
	s := meta.NewServer(cfg, nil, nil)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := ctxT(t)
	if err := s.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, s.HTTPAddr())
	if _, err := cl.CreateDataNode(ctx, "a:1", "a:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateDatabase(ctx, "db", &meta.RetentionPolicySpec{Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old, err := cl.CreateShardGroup(ctx, "db", "", now.Add(-3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	current, err := cl.CreateShardGroup(ctx, "db", "", now)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retention marks the 3h-old group deleted", func() bool {
		return s.Data().ShardGroup("db", "", old.ID).Deleted()
	})
	if s.Data().ShardGroup("db", "", current.ID).Deleted() {
		t.Fatalf("current group %d deleted by retention", current.ID)
	}
}

func TestServer_ExecuteOnFollowerIsNotLeader(t *testing.T) {
	c := metatest.New(t, 2)
	c.WaitLeader()
	f := c.Followers()[0]
	cmd, _ := meta.NewCommand(meta.CmdCreateDatabase, "", meta.CreateDatabasePayload{Name: "x"})
	_, err := f.Execute(context.Background(), cmd)
	var nl *meta.NotLeaderError
	if !errors.As(err, &nl) || nl.Leader != c.Leader().HTTPAddr() || !errors.Is(err, meta.ErrNotLeader) {
		t.Fatalf("Execute on follower: got %v, want *NotLeaderError with leader %s", err, c.Leader().HTTPAddr())
	}
	if _, err := f.ReadData(context.Background(), meta.ReadConsistent, 0, 0); !errors.Is(err, meta.ErrNotLeader) {
		t.Fatalf("consistent ReadData on follower: got %v, want ErrNotLeader", err)
	}
}

func TestConfig(t *testing.T) {
	cfg := meta.NewConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("NewConfig().Validate(): got %v, want nil", err)
	}
	if cfg.HTTPAddr != "127.0.0.1:8091" || cfg.RaftAddr != "127.0.0.1:8089" || cfg.RetentionCheckInterval.D() != 30*time.Minute {
		t.Fatalf("defaults: got %+v", cfg)
	}
	const doc = `
dir = "/var/lib/strata/meta"
http-addr = ":8091"
join = ["m1:8091", "m2:8091"]
heartbeat-timeout = "2s"
election-timeout = "3s"
retention-check-interval = "10m"
`
	if _, err := toml.Decode(doc, &cfg); err != nil {
		t.Fatalf("decode TOML: %v", err)
	}
	if cfg.HeartbeatTimeout.D() != 2*time.Second || cfg.RetentionCheckInterval.D() != 10*time.Minute || len(cfg.Join) != 2 {
		t.Fatalf("decoded config: got %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate decoded: %v", err)
	}
	if _, err := toml.Decode(`heartbeat-timeout = "soon"`, &cfg); err == nil {
		t.Fatalf("decode bad duration: got nil error")
	}
	bad := meta.NewConfig()
	bad.Dir = ""
	bad.LeaderLeaseTimeout = meta.Duration(5 * time.Second)
	bad.RaftLogLevel = "loud"
	err := bad.Validate()
	for _, want := range []string{"dir must be set", "leader-lease-timeout", "raft-log-level"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate bad config: got %v, want it to mention %q", err, want)
		}
	}
	// Open refuses an invalid config.
	if err := meta.NewServer(bad, nil, nil).Open(); err == nil {
		t.Fatalf("Open with invalid config: got nil error")
	}
}

// TestServer_JoinNamingOnlySelfBootstraps starts two nodes with the same
// join list, naming the first: the first finds itself there and
// bootstraps, the second joins it (a Kubernetes StatefulSet's pods all get
// one --join).
func TestServer_JoinNamingOnlySelfBootstraps(t *testing.T) {
	seedAddr := proctest.FreeAddr(t)
	var servers []*meta.Server
	for i := range 2 {
		cfg := metatest.Config(t.TempDir())
		if i == 0 {
			cfg.HTTPAddr = seedAddr
		}
		cfg.Join = []string{seedAddr}
		s := meta.NewServer(cfg, nil, nil)
		if err := s.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		servers = append(servers, s)
	}
	ctx := ctxT(t)
	if err := servers[0].WaitForLeader(ctx); err != nil {
		t.Fatalf("the seed did not bootstrap: %v", err)
	}
	for !servers[0].IsLeader() || len(servers[1].Data().MetaNodes) != 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("seed leader %v, second node knows %d meta nodes; want the seed leading both", servers[0].IsLeader(), len(servers[1].Data().MetaNodes))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
