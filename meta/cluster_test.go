package meta_test

import (
	"context"
	"errors"
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
