package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
	if err := writeFileSync(path, b); err != nil {
		return 0, err
	}
	return n.ID, nil
}

// writeFileSync writes path atomically and durably: temp file, fsync,
// rename, fsync of the directory.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("open %s: %w", filepath.Dir(path), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(path), err)
	}
	return nil
}
