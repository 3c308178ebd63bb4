package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCtlRemoveShardLastOwner checks that remove-shard refuses the last
// owner with an answer that says what to do (copy first, or --force), and
// that --force removes it.
func TestCtlRemoveShardLastOwner(t *testing.T) {
	addrs, client := metaWithDataNodes(t, 1)
	ctx := context.Background()
	sg, err := client.CreateShardGroup(ctx, "db", "", time.Now())
	if err != nil {
		t.Fatalf("create shard group: %v", err)
	}
	shard := fmt.Sprint(sg.Shards[0].ID)
	out, err := runCtl(t, addrs, "", "remove-shard", "1", shard)
	if err == nil || !strings.Contains(err.Error(), "only owner") || !strings.Contains(err.Error(), "copy-shard") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("remove-shard of the last owner: got %v (%s), want a refusal naming copy-shard and --force", err, out)
	}
	if out, err := runCtl(t, addrs, "", "remove-shard", "1", shard, "--force"); err != nil {
		t.Fatalf("remove-shard --force: %v\n%s", err, out)
	}
}
