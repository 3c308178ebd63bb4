package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-db/strata/internal/durable"

	"github.com/strata-db/strata/meta"
)

const (
	// nodeFile records this node's id in its data dir so a restart keeps it.
	nodeFile = "node.json"
	// metaStateFile keeps the last cluster state the node saw, so it can
	// start and serve its shards while meta has no quorum.
	metaStateFile = "meta-state.json"
	// addressRetryInterval paces the retries of a registration step that
	// waits for meta, one log line each.
	addressRetryInterval = 2 * time.Second
)

// nodeIdentity is the content of node.json.
type nodeIdentity struct {
	ID uint64 `json:"id"`
}

// metaRegistrar is what registration needs from the meta client.
type metaRegistrar interface {
	Data() *meta.Data
	Refresh(ctx context.Context) (*meta.Data, error)
	CreateDataNode(ctx context.Context, httpAddr, rpcAddr string) (*meta.NodeInfo, error)
}

// register returns this node's id without waiting for meta when it can. A
// node with a node.json keeps its id; moved reports that meta's state has
// other addresses for it, which the caller updates in the background so
// the node serves meanwhile. Only when the cached state predates this
// node's registration (it was saved before node.json was written) does it
// wait for meta to learn whether the node is still a member. A new node
// registers (idempotent by RPC address) and writes node.json durably
// before it serves anything.
func register(ctx context.Context, dir string, mc metaRegistrar, httpAddr, rpcAddr string, logger *slog.Logger) (id uint64, moved bool, err error) {
	path := filepath.Join(dir, nodeFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var ident nodeIdentity
		if err := json.Unmarshal(b, &ident); err != nil || ident.ID == 0 {
			return 0, false, fmt.Errorf("read %s: corrupt node identity (remove it only if this node was also removed from the cluster)", path)
		}
		d := mc.Data()
		if d == nil || d.MaxNodeID < ident.ID {
			err := retryEvery(ctx, addressRetryInterval, func(ctx context.Context) error {
				fresh, err := mc.Refresh(ctx)
				if err == nil && fresh.MaxNodeID < ident.ID {
					err = fmt.Errorf("meta's state (index %d) does not know node %d yet", fresh.Index, ident.ID)
				}
				d = fresh
				return err
			}, func(attempt int, err error) {
				logger.Warn("waiting for meta: the saved cluster state predates this node's registration, so it cannot tell whether this node is still a member",
					"attempt", attempt, "node_id", ident.ID, "retry_in", addressRetryInterval, "err", err)
			})
			if err != nil {
				return 0, false, fmt.Errorf("check membership of data node %d: %w", ident.ID, err)
			}
		}
		n := d.DataNode(ident.ID)
		if n == nil {
			return 0, false, fmt.Errorf("data node %d (from %s) is not a member of the cluster: it was removed; give this node an empty --dir to join as a new node", ident.ID, path)
		}
		return ident.ID, n.HTTPAddr != httpAddr || n.RPCAddr != rpcAddr, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	n, err := mc.CreateDataNode(ctx, httpAddr, rpcAddr)
	if err != nil {
		return 0, false, fmt.Errorf("register data node: %w", err)
	}
	b, err = json.Marshal(nodeIdentity{ID: n.ID})
	if err != nil {
		return 0, false, fmt.Errorf("encode node identity: %w", err)
	}
	if err := durable.ReplaceFile(path, b); err != nil {
		return 0, false, err
	}
	return n.ID, false, nil
}

// retryEvery calls fn, each attempt bounded by twice interval, until it
// succeeds or ctx ends, starting attempts interval apart and reporting
// each failure to failed.
func retryEvery(ctx context.Context, interval time.Duration, fn func(context.Context) error, failed func(attempt int, err error)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 2*interval)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		failed(attempt, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}
