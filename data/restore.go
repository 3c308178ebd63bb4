package data

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/strata-db/strata/meta"
)

// ErrRestoreExists is returned by Restore for a database the target
// cluster already has, unless RestoreOptions.Force is set.
var ErrRestoreExists = errors.New("database already exists")

// RestoreMeta is what a restore needs of the target cluster's meta;
// *meta.Client implements it.
type RestoreMeta interface {
	ReadData(ctx context.Context, rc meta.ReadConsistency) (*meta.Data, uint64, error)
	CreateDatabase(ctx context.Context, name string, spec *meta.RetentionPolicySpec) (*meta.DatabaseInfo, error)
	CreateRetentionPolicy(ctx context.Context, db string, spec meta.RetentionPolicySpec, makeDefault bool) (*meta.RetentionPolicyInfo, error)
	// The rest serve RestoreOptions.Full.
	CreateUserWithHash(ctx context.Context, name, hash string, admin bool) error
	SetPasswordHash(ctx context.Context, name, hash string) error
	SetAdmin(ctx context.Context, name string, admin bool) error
	GrantPrivilege(ctx context.Context, user, db string, p meta.Privilege) error
	CreateContinuousQuery(ctx context.Context, db, name, query string) error
	DropContinuousQuery(ctx context.Context, db, name string) error
}

// ShardSink writes shard streams into the target cluster through a data
// node; NodeClient implements it over RestorePath.
type ShardSink interface {
	// RestoreShard writes the stream in body into db.rp through node.
	RestoreShard(ctx context.Context, node meta.NodeInfo, db, rp string, body io.Reader) (RestoreResult, error)
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	Dir string
	// SourceDatabase restores only that database of the backup ("" all).
	SourceDatabase string
	// Database, when set, is the name the restored database gets; the
	// backup (or SourceDatabase) must then name a single database.
	Database string
	// Replication, when > 0, is every restored policy's replication
	// factor instead of the backed-up one.
	Replication int
	// Force writes into a database that already exists (its missing
	// policies are created; existing ones are kept as they are).
	Force bool
	// Full also restores the backup's users (their password hashes and
	// admin flags), their privileges on the restored databases (under
	// the new names) and those databases' continuous queries (rewritten
	// for the new names), as influxd-ctl restore -full brings back meta.
	// A user the target has already is refused unless Force, which sets
	// its hash and admin flag to the backed-up ones and grants the
	// restored privileges on top of its own.
	Full bool
	Meta RestoreMeta
	Sink ShardSink
	// MetaTimeout bounds each meta call (0: only ctx does).
	MetaTimeout time.Duration
	// Progress, when not nil, is called as the restore goes.
	Progress func(RestoreProgress)
}

// RestoreProgress is how far a restore got.
type RestoreProgress struct {
	// Phase is "verifying" (checksums) or "restoring".
	Phase string
	// Done and Total count shards, Bytes and TotalBytes stream bytes.
	Done, Total       int
	Bytes, TotalBytes int64
	// Warning, when set, is something the operator should read.
	Warning string
}

// RestoreSummary is what Restore did.
type RestoreSummary struct {
	// Databases maps each backed-up database restored to its new name.
	Databases map[string]string `json:"databases"`
	Shards    int               `json:"shards"`
	Values    int               `json:"values"`
	// Dropped counts the points the target refused (see RestoreResult).
	Dropped int `json:"dropped,omitempty"`
	// Users and ContinuousQueries count what a full restore brought back.
	Users             int `json:"users,omitempty"`
	ContinuousQueries int `json:"continuous_queries,omitempty"`
}

// Restore writes the backup in opts.Dir into the cluster behind opts.Meta
// and opts.Sink. It first checks the manifest and every file's checksum,
// then creates the databases and policies (with the new name and
// replication factor when given), then writes each shard's values through
// the target cluster's write path, which routes them to its own shards and
// owners. It refuses a database that exists unless opts.Force is set.
// With opts.Full it also restores users, privileges and continuous
// queries (see RestoreOptions.Full), refusing existing users, like
// existing databases, before anything is written.
func Restore(ctx context.Context, opts RestoreOptions) (RestoreSummary, error) {
	sum := RestoreSummary{Databases: map[string]string{}}
	// The target first: an unreachable cluster fails before a long check.
	target, err := withTimeout(ctx, opts.MetaTimeout, func(ctx context.Context) (*meta.Data, error) {
		d, _, err := opts.Meta.ReadData(ctx, meta.ReadConsistent)
		return d, err
	})
	if err != nil {
		return sum, fmt.Errorf("read the target cluster's state: %w", err)
	}
	if len(target.DataNodes) == 0 {
		return sum, errors.New("the target cluster has no data nodes")
	}
	m, err := ReadBackupManifest(opts.Dir)
	if err != nil {
		return sum, err
	}
	prog := RestoreProgress{Phase: "verifying"}
	for _, s := range m.Shards {
		prog.TotalBytes += s.File.Size
	}
	report := func() {
		if opts.Progress != nil {
			opts.Progress(prog)
		}
	}
	report()
	if err := m.Verify(opts.Dir); err != nil {
		return sum, err
	}
	snap, err := readMetaSnapshot(opts.Dir, m.Meta)
	if err != nil {
		return sum, err
	}
	sources, err := restoreSources(m, snap, opts)
	if err != nil {
		return sum, err
	}
	names := map[string]string{}
	for _, db := range sources {
		names[db.Name] = cmp.Or(opts.Database, db.Name)
	}
	var plan *metaRestore
	if opts.Full {
		if plan, err = planMetaRestore(snap, target, names, opts); err != nil {
			return sum, err
		}
	}
	for _, db := range sources {
		if err := createDatabase(ctx, opts, target, db, names[db.Name]); err != nil {
			return sum, err
		}
		sum.Databases[db.Name] = names[db.Name]
	}
	if plan != nil {
		for _, w := range plan.warnings {
			if opts.Progress != nil {
				opts.Progress(RestoreProgress{Phase: "restoring", Warning: w})
			}
		}
		if err := restoreUsers(ctx, opts, plan); err != nil {
			return sum, err
		}
		sum.Users = len(plan.users)
	}

	var shards []BackupShard
	for _, s := range m.Shards {
		if _, ok := sum.Databases[s.Database]; ok {
			shards = append(shards, s)
		}
	}
	prog = RestoreProgress{Phase: "restoring", Total: len(shards)}
	for _, s := range shards {
		prog.TotalBytes += s.File.Size
	}
	report()
	for _, s := range shards {
		if len(s.Unreconciled) > 0 && opts.Progress != nil {
			opts.Progress(RestoreProgress{Phase: prog.Phase, Total: prog.Total, TotalBytes: prog.TotalBytes,
				Warning: fmt.Sprintf("shard %d was backed up from node %d without reconciling with node(s) %v: values only they held may be missing", s.ID, s.Source, s.Unreconciled)})
		}
	}
	for i, s := range shards {
		res, err := restoreShard(ctx, opts, target, i, s, sum.Databases[s.Database], func(n int) {
			prog.Bytes += int64(n)
			report()
		})
		if err != nil {
			return sum, fmt.Errorf("restore shard %d (%s): %w", s.ID, s.File.Name, err)
		}
		if res.Values != s.Values {
			return sum, &BackupFileError{File: s.File.Name, Err: fmt.Errorf("carried %d values, the manifest says %d", res.Values, s.Values)}
		}
		sum.Shards++
		sum.Values += res.Values
		sum.Dropped += res.Dropped
		if res.Dropped > 0 && opts.Progress != nil {
			opts.Progress(RestoreProgress{Phase: "restoring", Done: prog.Done, Total: prog.Total, Bytes: prog.Bytes, TotalBytes: prog.TotalBytes,
				Warning: fmt.Sprintf("shard %d: the target refused %d of its points: %s", s.ID, res.Dropped, res.DropReason)})
		}
		prog.Done++
		report()
	}
	if plan != nil {
		// Last, so a query's first runs see the restored data.
		if err := restoreContinuousQueries(ctx, opts, plan); err != nil {
			return sum, err
		}
		sum.ContinuousQueries = len(plan.cqs)
	}
	return sum, nil
}

// restoreSources returns the backed-up databases to restore, after
// checking the naming options against the backup.
func restoreSources(m *BackupManifest, snap *meta.Data, opts RestoreOptions) ([]meta.DatabaseInfo, error) {
	var dbs []meta.DatabaseInfo
	var names []string
	for _, db := range snap.Databases {
		if m.Filter.Database != "" && db.Name != m.Filter.Database {
			continue
		}
		names = append(names, db.Name)
		if opts.SourceDatabase == "" || db.Name == opts.SourceDatabase {
			dbs = append(dbs, db)
		}
	}
	switch {
	case opts.SourceDatabase != "" && len(dbs) == 0:
		return nil, fmt.Errorf("the backup holds no database %q (it holds %v)", opts.SourceDatabase, names)
	case len(dbs) == 0:
		return nil, errors.New("the backup holds no database")
	case opts.Database != "" && len(dbs) > 1:
		return nil, fmt.Errorf("the backup holds databases %v: name the one to restore as %q with --source-db", names, opts.Database)
	}
	return dbs, nil
}

// createDatabase creates db as name, and its policies, in the target
// cluster, or checks it may write into an existing one.
func createDatabase(ctx context.Context, opts RestoreOptions, target *meta.Data, db meta.DatabaseInfo, name string) error {
	existing := target.Database(name)
	if existing != nil && !opts.Force {
		return fmt.Errorf("database %q: %w in the target cluster; restore refuses to write into existing data without --force (or give the restored database another name with --db)", name, ErrRestoreExists)
	}
	nodes := len(target.DataNodes)
	specs := make([]meta.RetentionPolicySpec, 0, len(db.RetentionPolicies))
	for _, rp := range db.RetentionPolicies {
		rf := rp.ReplicaN
		if opts.Replication > 0 {
			rf = opts.Replication
		}
		if rf > nodes {
			return fmt.Errorf("retention policy %q.%q needs replication factor %d, but the target cluster has %d data nodes (use --replication)", db.Name, rp.Name, rf, nodes)
		}
		specs = append(specs, meta.RetentionPolicySpec{Name: rp.Name, Duration: rp.Duration, ShardGroupDuration: rp.ShardGroupDuration, ReplicaN: &rf})
	}
	// The default policy first: creating the database creates it.
	slices.SortStableFunc(specs, func(a, b meta.RetentionPolicySpec) int {
		return boolRank(b.Name == db.DefaultRetentionPolicy) - boolRank(a.Name == db.DefaultRetentionPolicy)
	})
	for i, spec := range specs {
		if existing != nil && existing.RetentionPolicy(spec.Name) != nil {
			continue
		}
		_, err := withTimeout(ctx, opts.MetaTimeout, func(ctx context.Context) (any, error) {
			if i == 0 && existing == nil {
				return opts.Meta.CreateDatabase(ctx, name, &spec)
			}
			return opts.Meta.CreateRetentionPolicy(ctx, name, spec, false)
		})
		if err != nil {
			return fmt.Errorf("create retention policy %q.%q: %w", name, spec.Name, err)
		}
	}
	if existing == nil && len(specs) == 0 {
		if _, err := withTimeout(ctx, opts.MetaTimeout, func(ctx context.Context) (any, error) {
			return opts.Meta.CreateDatabase(ctx, name, nil)
		}); err != nil {
			return fmt.Errorf("create database %q: %w", name, err)
		}
	}
	return nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// restoreShard writes one shard's file through a data node of the target,
// the i-th in turn, trying the next ones when a node cannot be reached.
func restoreShard(ctx context.Context, opts RestoreOptions, target *meta.Data, i int, s BackupShard, db string, read func(n int)) (RestoreResult, error) {
	var errs []error
	nodes := target.DataNodes
	for k := range nodes {
		node := nodes[(i+k)%len(nodes)]
		f, err := os.Open(filepath.Join(opts.Dir, filepath.FromSlash(s.File.Name)))
		if err != nil {
			return RestoreResult{}, &BackupFileError{File: s.File.Name, Err: err}
		}
		res, err := opts.Sink.RestoreShard(ctx, node, db, s.RetentionPolicy, &countingReader{r: f, read: read})
		f.Close()
		if err == nil {
			return res, nil
		}
		errs = append(errs, fmt.Errorf("node %d: %w", node.ID, err))
		var ne *NodeError
		if errors.As(err, &ne) || ctx.Err() != nil {
			break // the node answered: another would answer the same
		}
	}
	return RestoreResult{}, errors.Join(errs...)
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r    io.Reader
	read func(n int)
}

// Read implements io.Reader.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.read(n)
	}
	return n, err
}

// readMetaSnapshot reads the backup's meta snapshot (already verified).
func readMetaSnapshot(dir string, f BackupFile) (*meta.Data, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
	if err != nil {
		return nil, &BackupFileError{File: f.Name, Err: err}
	}
	var d meta.Data
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, &BackupFileError{File: f.Name, Err: fmt.Errorf("not a meta snapshot: %w", err)}
	}
	return &d, nil
}

// withTimeout runs fn under ctx bounded by timeout (when > 0).
func withTimeout[T any](ctx context.Context, timeout time.Duration, fn func(ctx context.Context) (T, error)) (T, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return fn(ctx)
}
