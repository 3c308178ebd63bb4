package data

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/strata-db/strata/meta"
)

// ShardSource reads shard backups from data nodes; NodeClient implements
// it over BackupShardPath.
type ShardSource interface {
	// OpenShard asks node for shard's backup. When digest equals the
	// shard's content digest the answer has no Body.
	OpenShard(ctx context.Context, node meta.NodeInfo, shard uint64, digest string) (*ShardBackup, error)
}

// ShardBackup is one data node's answer to a shard backup request.
type ShardBackup struct {
	// Digest is the shard's content digest before the stream was read.
	Digest string
	// Unreconciled are the other owners the node could not reconcile with.
	Unreconciled []uint64
	// Body is the shard stream; nil when the digest asked with was equal.
	// The caller closes it.
	Body io.ReadCloser
	// Totals returns the values and tombstones the stream carried, once
	// Body was read to its end; an error when the stream was cut.
	Totals func() (values, tombstones int, err error)
}

// BackupOptions configure Backup.
type BackupOptions struct {
	// Dir is the backup folder; an earlier backup in it makes this one
	// incremental.
	Dir    string
	Filter BackupFilter
	// Started is when the backup began; State is the cluster state read
	// linearizably after it (the meta snapshot).
	Started time.Time
	State   *meta.Data
	Source  ShardSource
	// Progress, when not nil, is called before and after each shard and as
	// its stream arrives.
	Progress func(BackupProgress)
}

// BackupProgress is how far a backup got.
type BackupProgress struct {
	// Shard is the shard being read; Done and Total count shards.
	Shard       uint64
	Done, Total int
	// Reused counts shards whose earlier file was kept unchanged; Bytes
	// the shard stream bytes written by this backup so far.
	Reused int
	Bytes  int64
}

// Backup writes a backup of opts.State's shards selected by opts.Filter
// into opts.Dir (docs/backup.md): the meta snapshot, a stream per shard
// read from one owner after it reconciled with the others, and last the
// manifest. On top of an earlier backup in Dir, a shard whose content
// digest did not change keeps its file; files no longer named are removed
// once the new manifest is in place, so a backup that fails leaves the
// earlier one intact.
func Backup(ctx context.Context, opts BackupOptions) (*BackupManifest, error) {
	dir := opts.Dir
	opts.Filter.Shards = slices.Sorted(slices.Values(opts.Filter.Shards))
	// The backup holds every value and, in the meta snapshot, the users'
	// password hashes: only its owner may read it.
	if err := os.MkdirAll(filepath.Join(dir, backupShardDir), 0o700); err != nil {
		return nil, fmt.Errorf("create backup folder: %w", err)
	}
	prev, err := ReadBackupManifest(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		prev = nil
	case err != nil:
		return nil, fmt.Errorf("%s holds a backup that cannot be built on (use another folder): %w", dir, err)
	case !sameFilter(prev.Filter, opts.Filter):
		return nil, fmt.Errorf("%s holds a backup of %s; an incremental backup must cover the same (use another folder for %s)",
			dir, prev.Filter, opts.Filter)
	}
	m := &BackupManifest{Format: BackupFormat, Version: BackupVersion, Sequence: 1, Started: opts.Started.UTC(),
		Filter: opts.Filter, MetaIndex: opts.State.Index}
	earlier := map[uint64]BackupShard{}
	if prev != nil {
		m.Sequence = prev.Sequence + 1
		for _, s := range prev.Shards {
			earlier[s.ID] = s
		}
	}
	state, err := json.Marshal(opts.State)
	if err != nil {
		return nil, fmt.Errorf("encode meta snapshot: %w", err)
	}
	metaName := fmt.Sprintf("meta-%d.json", m.Sequence)
	if err := writeFileAtomic(dir, metaName, state, 0o600); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(state)
	m.Meta = BackupFile{Name: metaName, Size: int64(len(state)), SHA256: hex.EncodeToString(sum[:])}

	shards := selectShards(opts.State, opts.Filter)
	prog := BackupProgress{Total: len(shards)}
	report := func() {
		if opts.Progress != nil {
			opts.Progress(prog)
		}
	}
	for _, s := range shards {
		prog.Shard = s.ID
		report()
		prevShard, ok := earlier[s.ID]
		if ok && verifyFile(dir, prevShard.File) != nil {
			ok = false // damaged or gone: read the shard again
		}
		digest := ""
		if ok {
			digest = prevShard.Digest
		}
		written := prog.Bytes
		got, err := backupShard(ctx, dir, m.Sequence, opts, s, digest, func(n int64) {
			prog.Bytes = written + n
			report()
		})
		if errors.Is(err, errShardNotCreated) {
			prog.Done++
			continue
		}
		if err != nil {
			return nil, err
		}
		if got.File.Name == "" {
			prevShard.Database, prevShard.RetentionPolicy, prevShard.ShardGroup = s.Database, s.RetentionPolicy, s.ShardGroup
			prevShard.Start, prevShard.End = s.Start, s.End
			got = prevShard
			prog.Reused++
		}
		prog.Bytes = written
		if got.Sequence == m.Sequence {
			prog.Bytes += got.File.Size
		}
		m.Shards = append(m.Shards, got)
		prog.Done++
		report()
	}
	m.Finished = time.Now().UTC()
	if err := writeManifest(dir, m); err != nil {
		return nil, err
	}
	if err := removeUnreferenced(dir, m); err != nil {
		return m, fmt.Errorf("backup written; removing earlier files failed: %w", err)
	}
	return m, nil
}

// backupShard reads shard s from its first owner that answers, calling
// copied with the bytes of its stream so far. An unchanged shard (its
// digest equals digest) comes back without a file.
func backupShard(ctx context.Context, dir string, seq int, opts BackupOptions, s BackupShard, digest string, copied func(n int64)) (BackupShard, error) {
	var errs []error
	notHeld := 0
	for _, owner := range opts.State.ShardOwners(s.ID) {
		node := opts.State.DataNode(owner)
		if node == nil {
			continue
		}
		got, err := backupShardFrom(ctx, dir, seq, opts.Source, *node, s, digest, copied)
		if err == nil {
			return got, nil
		}
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		var ne *NodeError
		if errors.As(err, &ne) && ne.StatusCode == http.StatusNotFound {
			notHeld++
		}
		errs = append(errs, fmt.Errorf("node %d: %w", owner, err))
	}
	switch {
	case len(errs) == 0:
		return s, fmt.Errorf("back up shard %d: it has no owner in the cluster state", s.ID)
	case notHeld == len(errs):
		// No owner has created it yet (a group made an instant ago, or
		// pre-created for the future): it holds no acknowledged point.
		return s, errShardNotCreated
	}
	return s, fmt.Errorf("back up shard %d: no owner could send it: %w", s.ID, errors.Join(errs...))
}

// errShardNotCreated is a shard every owner answered it does not hold.
var errShardNotCreated = errors.New("shard not created on any owner")

// backupShardFrom reads shard s from node into shards/<id>-<seq>.stream.
func backupShardFrom(ctx context.Context, dir string, seq int, src ShardSource, node meta.NodeInfo, s BackupShard, digest string, copied func(n int64)) (BackupShard, error) {
	ans, err := src.OpenShard(ctx, node, s.ID, digest)
	if err != nil {
		return s, err
	}
	s.Source, s.Unreconciled, s.Digest = node.ID, ans.Unreconciled, ans.Digest
	if ans.Body == nil {
		return s, nil
	}
	defer ans.Body.Close()
	name := fmt.Sprintf("%s/%d-%d.stream", backupShardDir, s.ID, seq)
	path := filepath.Join(dir, filepath.FromSlash(name))
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return s, fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(path + ".tmp") // after a failure; the rename moved it otherwise
	h := sha256.New()
	var n int64
	body := &countingReader{r: ans.Body, read: func(k int) {
		n += int64(k)
		copied(n)
	}}
	_, err = io.Copy(io.MultiWriter(f, h), body)
	if err == nil {
		s.Values, s.Tombstones, err = ans.Totals()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s, fmt.Errorf("read shard %d: %w", s.ID, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return s, fmt.Errorf("rename %s: %w", path, err)
	}
	s.Sequence = seq
	s.File = BackupFile{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	return s, nil
}

// selectShards returns the shards of live groups that f selects, by id.
func selectShards(d *meta.Data, f BackupFilter) []BackupShard {
	var out []BackupShard
	for _, db := range d.Databases {
		if f.Database != "" && db.Name != f.Database {
			continue
		}
		for _, rp := range db.RetentionPolicies {
			if f.RetentionPolicy != "" && rp.Name != f.RetentionPolicy {
				continue
			}
			for _, g := range rp.ShardGroups {
				if g.Deleted() || (!f.Since.IsZero() && !g.EndTime.After(f.Since)) {
					continue
				}
				for _, sh := range g.Shards {
					if len(f.Shards) > 0 && !slices.Contains(f.Shards, sh.ID) {
						continue
					}
					out = append(out, BackupShard{ID: sh.ID, Database: db.Name, RetentionPolicy: rp.Name,
						ShardGroup: g.ID, Start: g.StartTime.UTC(), End: g.EndTime.UTC()})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b BackupShard) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// sameFilter reports whether two filters select the same.
func sameFilter(a, b BackupFilter) bool {
	return a.Database == b.Database && a.RetentionPolicy == b.RetentionPolicy &&
		slices.Equal(a.Shards, b.Shards) && a.Since.Equal(b.Since)
}

// String describes the filter for messages.
func (f BackupFilter) String() string {
	s := "every database"
	if f.Database != "" {
		s = "database " + f.Database
	}
	if f.RetentionPolicy != "" {
		s += ", retention policy " + f.RetentionPolicy
	}
	if len(f.Shards) > 0 {
		s += fmt.Sprintf(", shards %v", f.Shards)
	}
	if !f.Since.IsZero() {
		s += ", since " + f.Since.UTC().Format(time.RFC3339)
	}
	return s
}
