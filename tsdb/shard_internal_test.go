package tsdb

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// openTestShard opens a store with cfg, creates shard 1 in it and returns
// the shard; the store closes when the test ends.
func openTestShard(t testing.TB, cfg Config) *Shard {
	t.Helper()
	st := NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.CreateShard(1); err != nil {
		t.Fatalf("create shard: %v", err)
	}
	return st.Shard(1)
}
