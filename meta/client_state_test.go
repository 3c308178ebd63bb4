package meta_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// lockedBuffer is a bytes.Buffer a logger and a test may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestClient_StartsFromSavedState saves the state a client saw, then opens
// a client on the same file with no meta node to ask: it starts at once
// from the saved state, unconfirmed (Answered false), and logs each
// attempt to reach meta; with meta reachable the state is confirmed.
func TestClient_StartsFromSavedState(t *testing.T) {
	c := metatest.New(t, 1)
	c.WaitLeader()
	path := filepath.Join(t.TempDir(), "meta-state.json")
	cl := meta.NewClient(meta.ClientConfig{Addrs: c.HTTPAddrs(), StatePath: path, StateSaveInterval: 50 * time.Millisecond})
	if err := cl.Open(ctxT(t)); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !cl.Answered() {
		t.Error("Answered is false after Open fetched the state from meta")
	}
	if _, err := cl.CreateDatabase(ctxT(t), "kept", nil); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	want := cl.Data().Index
	if err := cl.Close(); err != nil { // saves what changed since the last write
		t.Fatalf("Close: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("state file after Close: %v", err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode %v; want 0600 (it holds password hashes)", perm)
	}

	var logs lockedBuffer
	off := meta.NewClient(meta.ClientConfig{Addrs: []string{"127.0.0.1:1"}, StatePath: path,
		RetryInterval: 10 * time.Millisecond, RetryMaxInterval: 40 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer off.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := off.Open(ctx); err != nil {
		t.Fatalf("Open from the saved state with meta unreachable: %v", err)
	}
	if d := off.Data(); d.Index != want || d.Database("kept") == nil {
		t.Fatalf("state from file: index %d, database kept %v; want index %d with it", d.Index, d.Database("kept") != nil, want)
	}
	if off.Answered() {
		t.Error("Answered is true for a client started from its saved state that meta never answered")
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), "meta unreachable") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 'meta unreachable' lines in 5 s; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// From the saved state with meta reachable, the watch's first answer
	// confirms it.
	on := meta.NewClient(meta.ClientConfig{Addrs: c.HTTPAddrs(), StatePath: path, RetryInterval: 10 * time.Millisecond})
	defer on.Close()
	if err := on.Open(ctxT(t)); err != nil {
		t.Fatalf("Open from the saved state with meta reachable: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); !on.Answered(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Answered still false 5 s after opening with meta reachable")
		}
	}

	// A corrupt file is ignored: the client waits for meta as a new one.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := meta.NewClient(meta.ClientConfig{Addrs: []string{"127.0.0.1:1"}, StatePath: path, RetryInterval: 10 * time.Millisecond})
	defer fresh.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := fresh.Open(ctx2); err == nil {
		t.Fatal("Open from a corrupt state file with meta unreachable succeeded; want it to wait for meta until ctx ends")
	}
}
