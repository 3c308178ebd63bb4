package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/strata-db/strata/internal/durable"

	"github.com/strata-db/strata/meta"
)

// nodeFile records this node's id in its data dir so a restart keeps it.
const nodeFile = "node.json"

// nodeIdentity is the content of node.json.
type nodeIdentity struct {
	ID uint64 `json:"id"`
}

// metaRegistrar is what registration needs from the meta client.
type metaRegistrar interface {
	Data() *meta.Data
	CreateDataNode(ctx context.Context, httpAddr, rpcAddr string) (*meta.NodeInfo, error)
	UpdateDataNode(ctx context.Context, id uint64, httpAddr, rpcAddr string) error
}

// register makes sure meta knows this node at its current addresses and
// returns its id. A node with a node.json keeps its id (updating its
// addresses if they moved); a new node registers (idempotent by RPC
// address) and writes node.json durably before it serves anything.
func register(ctx context.Context, dir string, mc metaRegistrar, httpAddr, rpcAddr string) (uint64, error) {
	path := filepath.Join(dir, nodeFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var id nodeIdentity
		if err := json.Unmarshal(b, &id); err != nil || id.ID == 0 {
			return 0, fmt.Errorf("read %s: corrupt node identity (remove it only if this node was also removed from the cluster)", path)
		}
		if d := mc.Data(); d != nil {
			n := d.DataNode(id.ID)
			if n == nil {
				return 0, fmt.Errorf("data node %d (from %s) is not a member of the cluster: it was removed; give this node an empty --dir to join as a new node", id.ID, path)
			}
			if n.HTTPAddr == httpAddr && n.RPCAddr == rpcAddr {
				return id.ID, nil
			}
		}
		if err := mc.UpdateDataNode(ctx, id.ID, httpAddr, rpcAddr); err != nil {
			return 0, fmt.Errorf("update data node %d addresses: %w", id.ID, err)
		}
		return id.ID, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	n, err := mc.CreateDataNode(ctx, httpAddr, rpcAddr)
	if err != nil {
		return 0, fmt.Errorf("register data node: %w", err)
	}
	b, err = json.Marshal(nodeIdentity{ID: n.ID})
	if err != nil {
		return 0, fmt.Errorf("encode node identity: %w", err)
	}
	if err := durable.ReplaceFile(path, b); err != nil {
		return 0, err
	}
	return n.ID, nil
}
