package data_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/meta"
)

// fakeShards is a ShardSource over in-memory shard contents; a shard's
// digest is the hash of its content. It records which shards it streamed.
type fakeShards struct {
	mu       sync.Mutex
	content  map[uint64][]byte
	cut      map[uint64]bool // streams sent without totals
	streamed []uint64
	// unreconciled, by shard, are owners the sender could not reconcile with.
	unreconciled map[uint64][]uint64
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (f *fakeShards) OpenShard(_ context.Context, node meta.NodeInfo, shard uint64, digest string) (*data.ShardBackup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.content[shard]
	if !ok {
		return nil, &data.NodeError{Node: node.ID, StatusCode: 404, Message: "no such shard"}
	}
	ans := &data.ShardBackup{Digest: digestOf(b), Unreconciled: f.unreconciled[shard]}
	if ans.Digest == digest {
		return ans, nil
	}
	f.streamed = append(f.streamed, shard)
	cut := f.cut[shard]
	ans.Body = io.NopCloser(bytes.NewReader(b))
	ans.Totals = func() (int, int, error) {
		if cut {
			return 0, 0, errors.New("stream cut")
		}
		return len(b), 0, nil
	}
	return ans, nil
}

// takeStreamed returns and clears the shards streamed so far.
func (f *fakeShards) takeStreamed() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streamed
	f.streamed = nil
	slices.Sort(s)
	return s
}

// backupState is a cluster state with two data nodes and, in database db
// (policy rp, RF 2), one single-shard group per shard id; database other
// holds shard 100.
func backupState(ids ...uint64) *meta.Data {
	d := &meta.Data{Index: 7, DataNodes: []meta.NodeInfo{{ID: 1, HTTPAddr: "n1"}, {ID: 2, HTTPAddr: "n2"}}}
	rp := meta.RetentionPolicyInfo{Name: "rp", ShardGroupDuration: time.Hour, ReplicaN: 2}
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range ids {
		s := start.Add(time.Duration(i) * time.Hour)
		rp.ShardGroups = append(rp.ShardGroups, meta.ShardGroupInfo{ID: id, StartTime: s, EndTime: s.Add(time.Hour),
			Shards: []meta.ShardInfo{{ID: id, Owners: []uint64{1, 2}}}})
	}
	other := meta.RetentionPolicyInfo{Name: "autogen", ReplicaN: 1, ShardGroups: []meta.ShardGroupInfo{{ID: 100,
		StartTime: start, EndTime: start.Add(time.Hour), Shards: []meta.ShardInfo{{ID: 100, Owners: []uint64{2}}}}}}
	d.Databases = []meta.DatabaseInfo{
		{Name: "db", DefaultRetentionPolicy: "rp", RetentionPolicies: []meta.RetentionPolicyInfo{rp}},
		{Name: "other", DefaultRetentionPolicy: "autogen", RetentionPolicies: []meta.RetentionPolicyInfo{other}},
	}
	return d
}

func runBackup(t *testing.T, dir string, src data.ShardSource, d *meta.Data, f data.BackupFilter) (*data.BackupManifest, error) {
	t.Helper()
	return data.Backup(context.Background(), data.BackupOptions{Dir: dir, Filter: f, Started: time.Now(), State: d, Source: src})
}

func shardSequences(m *data.BackupManifest) map[uint64]int {
	out := map[uint64]int{}
	for _, s := range m.Shards {
		out[s.ID] = s.Sequence
	}
	return out
}

// TestBackupIncrementalReadsOnlyChanges: a second backup into the same
// folder reads only the shards whose digest changed, plus new ones; the
// others keep their files, a dropped shard leaves the manifest, and files
// no longer named are removed.
func TestBackupIncrementalReadsOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	src := &fakeShards{content: map[uint64][]byte{1: []byte("one"), 2: []byte("two"), 3: []byte("three"), 100: []byte("x")}}
	m1, err := runBackup(t, dir, src, backupState(1, 2, 3), data.BackupFilter{Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if got := src.takeStreamed(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("first backup streamed shards %v, want [1 2 3]", got)
	}
	if m1.Sequence != 1 || m1.MetaIndex != 7 {
		t.Fatalf("first manifest: sequence %d, meta index %d; want 1 and 7", m1.Sequence, m1.MetaIndex)
	}
	// The meta snapshot holds password hashes.
	st, err := os.Stat(filepath.Join(dir, m1.Meta.Name))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("meta snapshot %s has mode %v, want 0600", m1.Meta.Name, st.Mode().Perm())
	}

	src.content[2] = []byte("two, changed")
	src.content[4] = []byte("four")
	m2, err := runBackup(t, dir, src, backupState(2, 3, 4), data.BackupFilter{Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if got := src.takeStreamed(); !slices.Equal(got, []uint64{2, 4}) {
		t.Fatalf("incremental backup streamed shards %v, want only the changed 2 and the new 4", got)
	}
	if got, want := shardSequences(m2), map[uint64]int{2: 2, 3: 1, 4: 2}; !maps.Equal(got, want) {
		t.Fatalf("incremental manifest: shard → backup that wrote its file %v, want %v", got, want)
	}
	if err := m2.Verify(dir); err != nil {
		t.Fatalf("incremental backup does not verify: %v", err)
	}
	for _, gone := range []string{"shards/1-1.stream", "shards/2-1.stream", "meta-1.json"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is no longer named by the manifest but still there (stat: %v)", gone, err)
		}
	}
	for _, s := range m2.Shards {
		b, err := os.ReadFile(filepath.Join(dir, s.File.Name))
		if err != nil || !bytes.Equal(b, src.content[s.ID]) {
			t.Errorf("shard %d's file %s holds %q (%v), want %q", s.ID, s.File.Name, b, err, src.content[s.ID])
		}
	}

	// A shard file damaged since is read again rather than kept.
	if err := os.WriteFile(filepath.Join(dir, "shards/3-1.stream"), []byte("thrEe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runBackup(t, dir, src, backupState(2, 3, 4), data.BackupFilter{Database: "db"}); err != nil {
		t.Fatal(err)
	}
	if got := src.takeStreamed(); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("backup over a damaged file streamed shards %v, want only 3", got)
	}
}

// TestBackupFilters: --db, --rp, --shard and --since select shards, and
// an incremental backup must keep the folder's filter.
func TestBackupFilters(t *testing.T) {
	src := &fakeShards{content: map[uint64][]byte{1: []byte("a"), 2: []byte("b"), 3: []byte("c"), 100: []byte("x")}}
	since := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC) // the end of shard 1's group
	tests := []struct {
		name   string
		filter data.BackupFilter
		want   []uint64
	}{
		{"all", data.BackupFilter{}, []uint64{1, 2, 3, 100}},
		{"database", data.BackupFilter{Database: "other"}, []uint64{100}},
		{"policy", data.BackupFilter{Database: "db", RetentionPolicy: "rp"}, []uint64{1, 2, 3}},
		{"shards", data.BackupFilter{Shards: []uint64{3, 1}}, []uint64{1, 3}},
		{"since", data.BackupFilter{Database: "db", Since: since}, []uint64{2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := runBackup(t, t.TempDir(), src, backupState(1, 2, 3), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, s := range m.Shards {
				got = append(got, s.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("filter %s backed up shards %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
	dir := t.TempDir()
	if _, err := runBackup(t, dir, src, backupState(1, 2, 3), data.BackupFilter{Database: "db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := runBackup(t, dir, src, backupState(1, 2, 3), data.BackupFilter{}); err == nil {
		t.Fatal("an incremental backup with another filter was accepted")
	}
}

// TestBackupSkipsShardNoOwnerCreated: a shard every owner answers 404 for
// (a group created an instant ago) holds nothing and is left out; a shard
// whose owners fail otherwise fails the backup.
func TestBackupSkipsShardNoOwnerCreated(t *testing.T) {
	src := &fakeShards{content: map[uint64][]byte{1: []byte("one")}}
	m, err := runBackup(t, t.TempDir(), src, backupState(1, 2), data.BackupFilter{Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Shards) != 1 || m.Shards[0].ID != 1 {
		t.Fatalf("backed up %+v, want shard 1 alone", m.Shards)
	}
	failing := &failingSource{fakeShards: src, down: 2}
	if _, err := runBackup(t, t.TempDir(), failing, backupState(1, 2), data.BackupFilter{Database: "db"}); err == nil {
		t.Fatal("a shard one owner lacks and the other could not be asked for was left out")
	}
}

// failingSource is fakeShards with node down unreachable.
type failingSource struct {
	*fakeShards
	down uint64
}

func (f *failingSource) OpenShard(ctx context.Context, node meta.NodeInfo, shard uint64, digest string) (*data.ShardBackup, error) {
	if node.ID == f.down {
		return nil, errors.New("connection refused")
	}
	return f.fakeShards.OpenShard(ctx, node, shard, digest)
}

// TestBackupCutStreamKeepsEarlierBackup: a stream that ends without its
// totals fails the backup, and the folder still holds the earlier one.
func TestBackupCutStreamKeepsEarlierBackup(t *testing.T) {
	dir := t.TempDir()
	src := &fakeShards{content: map[uint64][]byte{1: []byte("one"), 2: []byte("two")}, cut: map[uint64]bool{}}
	if _, err := runBackup(t, dir, src, backupState(1, 2), data.BackupFilter{Database: "db"}); err != nil {
		t.Fatal(err)
	}
	src.content[2], src.cut[2] = []byte("two, changed"), true
	if _, err := runBackup(t, dir, src, backupState(1, 2), data.BackupFilter{Database: "db"}); err == nil {
		t.Fatal("a backup whose stream was cut succeeded")
	}
	m, err := data.ReadBackupManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(dir); err != nil || m.Sequence != 1 {
		t.Fatalf("after a failed backup the folder holds backup %d (verify: %v), want the intact backup 1", m.Sequence, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "shards", "*.tmp")); len(left) > 0 {
		t.Fatalf("the failed backup left %v", left)
	}
}

// TestBackupManifestDetectsCorruption: every damage to a backup is found,
// and the error names the file.
func TestBackupManifestDetectsCorruption(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, m *data.BackupManifest) string // returns the file to be named
		want   string
	}{
		{"flipped byte in a shard", func(t *testing.T, dir string, m *data.BackupManifest) string {
			f := m.Shards[1].File.Name
			b := mustRead(t, dir, f)
			b[0] ^= 1
			mustWrite(t, dir, f, b)
			return f
		}, "checksum mismatch"},
		{"truncated shard", func(t *testing.T, dir string, m *data.BackupManifest) string {
			f := m.Shards[0].File.Name
			mustWrite(t, dir, f, mustRead(t, dir, f)[:2])
			return f
		}, "bytes, the manifest says"},
		{"missing shard", func(t *testing.T, dir string, m *data.BackupManifest) string {
			f := m.Shards[0].File.Name
			if err := os.Remove(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
			return f
		}, "no such file"},
		{"edited meta snapshot", func(t *testing.T, dir string, m *data.BackupManifest) string {
			b := bytes.Replace(mustRead(t, dir, m.Meta.Name), []byte(`"rp"`), []byte(`"RP"`), 1)
			mustWrite(t, dir, m.Meta.Name, b)
			return m.Meta.Name
		}, "checksum mismatch"},
		{"edited manifest", func(t *testing.T, dir string, m *data.BackupManifest) string {
			b := bytes.Replace(mustRead(t, dir, data.BackupManifestFile), []byte(`"values": 3`), []byte(`"values": 4`), 1)
			mustWrite(t, dir, data.BackupManifestFile, b)
			return data.BackupManifestFile
		}, "checksum mismatch"},
		{"manifest naming a file outside", func(t *testing.T, dir string, m *data.BackupManifest) string {
			// Re-sealed as docs/backup.md says: the checksum is of the JSON
			// encoding with the checksum field empty.
			m.Meta.Name, m.Checksum = "../../etc/passwd", ""
			b, _ := json.Marshal(m)
			sum := sha256.Sum256(b)
			m.Checksum = hex.EncodeToString(sum[:])
			b, _ = json.Marshal(m)
			mustWrite(t, dir, data.BackupManifestFile, b)
			return data.BackupManifestFile
		}, "leaves the backup folder"},
		{"manifest cut short", func(t *testing.T, dir string, m *data.BackupManifest) string {
			mustWrite(t, dir, data.BackupManifestFile, mustRead(t, dir, data.BackupManifestFile)[:40])
			return data.BackupManifestFile
		}, "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := &fakeShards{content: map[uint64][]byte{1: []byte("one"), 2: []byte("two")}}
			m, err := runBackup(t, dir, src, backupState(1, 2), data.BackupFilter{Database: "db"})
			if err != nil {
				t.Fatal(err)
			}
			file := tc.damage(t, dir, m)
			m, err = data.ReadBackupManifest(dir)
			if err == nil {
				err = m.Verify(dir)
			}
			var fe *data.BackupFileError
			if !errors.As(err, &fe) || fe.File != file || !errors.Is(err, data.ErrBackupCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("after damage: got %v; want a BackupFileError naming %s and saying %q", err, file, tc.want)
			}
		})
	}
	if _, err := data.ReadBackupManifest(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a folder without a manifest: got %v, want fs.ErrNotExist", err)
	}
}

func mustRead(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWrite(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeTarget is a target cluster: RestoreMeta over a *meta.Data and a
// ShardSink recording what each restore wrote.
type fakeTarget struct {
	d       *meta.Data
	created []string // "db" or "db.rp rf=N"
	wrote   map[string]int
}

func (f *fakeTarget) ReadData(context.Context, meta.ReadConsistency) (*meta.Data, uint64, error) {
	return f.d, f.d.Index, nil
}

func (f *fakeTarget) CreateDatabase(_ context.Context, name string, spec *meta.RetentionPolicySpec) (*meta.DatabaseInfo, error) {
	f.created = append(f.created, fmt.Sprintf("%s.%s rf=%d", name, spec.Name, *spec.ReplicaN))
	return &meta.DatabaseInfo{Name: name}, nil
}

func (f *fakeTarget) CreateRetentionPolicy(_ context.Context, db string, spec meta.RetentionPolicySpec, _ bool) (*meta.RetentionPolicyInfo, error) {
	f.created = append(f.created, fmt.Sprintf("%s.%s rf=%d", db, spec.Name, *spec.ReplicaN))
	return &meta.RetentionPolicyInfo{Name: spec.Name}, nil
}

func (f *fakeTarget) CreateUserWithHash(_ context.Context, name, hash string, admin bool) error {
	f.created = append(f.created, fmt.Sprintf("user %s hash=%s admin=%t", name, hash, admin))
	return nil
}

func (f *fakeTarget) SetPasswordHash(_ context.Context, name, hash string) error {
	f.created = append(f.created, fmt.Sprintf("password %s hash=%s", name, hash))
	return nil
}

func (f *fakeTarget) SetAdmin(_ context.Context, name string, admin bool) error {
	f.created = append(f.created, fmt.Sprintf("admin %s %t", name, admin))
	return nil
}

func (f *fakeTarget) GrantPrivilege(_ context.Context, user, db string, p meta.Privilege) error {
	f.created = append(f.created, fmt.Sprintf("grant %s on %s to %s", p, db, user))
	return nil
}

func (f *fakeTarget) CreateContinuousQuery(_ context.Context, db, name, query string) error {
	for _, d := range f.d.Databases {
		for _, cq := range d.ContinuousQueries {
			if d.Name == db && cq.Name == name && cq.Query != query {
				return meta.ErrContinuousQueryExists
			}
		}
	}
	f.created = append(f.created, fmt.Sprintf("cq %s on %s: %s", name, db, query))
	return nil
}

func (f *fakeTarget) DropContinuousQuery(_ context.Context, db, name string) error {
	for i := range f.d.Databases {
		if d := &f.d.Databases[i]; d.Name == db {
			d.ContinuousQueries = slices.DeleteFunc(d.ContinuousQueries, func(cq meta.ContinuousQueryInfo) bool { return cq.Name == name })
		}
	}
	f.created = append(f.created, fmt.Sprintf("drop cq %s on %s", name, db))
	return nil
}

func (f *fakeTarget) RestoreShard(_ context.Context, _ meta.NodeInfo, db, rp string, body io.Reader) (data.RestoreResult, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return data.RestoreResult{}, err
	}
	if f.wrote == nil {
		f.wrote = map[string]int{}
	}
	f.wrote[db+"."+rp] += len(b)
	return data.RestoreResult{Values: len(b)}, nil
}

// TestRestoreRules: naming, replication and overwrite rules, each checked
// before anything is created.
func TestRestoreRules(t *testing.T) {
	dir := t.TempDir()
	src := &fakeShards{content: map[uint64][]byte{1: []byte("one"), 2: []byte("two"), 100: []byte("x")}}
	if _, err := runBackup(t, dir, src, backupState(1, 2), data.BackupFilter{}); err != nil {
		t.Fatal(err)
	}
	three := []meta.NodeInfo{{ID: 1}, {ID: 2}, {ID: 3}}
	tests := []struct {
		name    string
		opts    data.RestoreOptions
		nodes   []meta.NodeInfo
		exists  string
		err     string
		created []string
		wrote   map[string]int
	}{
		{name: "new name and replication", opts: data.RestoreOptions{SourceDatabase: "db", Database: "copy", Replication: 3}, nodes: three,
			created: []string{"copy.rp rf=3"}, wrote: map[string]int{"copy.rp": 6}},
		{name: "as backed up", nodes: three,
			created: []string{"db.rp rf=2", "other.autogen rf=1"}, wrote: map[string]int{"db.rp": 6, "other.autogen": 1}},
		{name: "rename needs one database", opts: data.RestoreOptions{Database: "copy"}, nodes: three, err: "--source-db"},
		{name: "unknown source", opts: data.RestoreOptions{SourceDatabase: "nope"}, nodes: three, err: `no database "nope"`},
		{name: "replication over the nodes", opts: data.RestoreOptions{SourceDatabase: "db", Replication: 4}, nodes: three, err: "has 3 data nodes"},
		{name: "backed-up replication over the nodes", opts: data.RestoreOptions{SourceDatabase: "db"}, nodes: three[:1], err: "use --replication"},
		{name: "existing database refused", opts: data.RestoreOptions{SourceDatabase: "db"}, nodes: three, exists: "db", err: "--force"},
		{name: "existing database forced", opts: data.RestoreOptions{SourceDatabase: "db", Force: true}, nodes: three, exists: "db",
			wrote: map[string]int{"db.rp": 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := &fakeTarget{d: &meta.Data{DataNodes: tc.nodes}}
			if tc.exists != "" {
				target.d.Databases = []meta.DatabaseInfo{{Name: tc.exists, DefaultRetentionPolicy: "rp",
					RetentionPolicies: []meta.RetentionPolicyInfo{{Name: "rp", ReplicaN: 1}}}}
			}
			opts := tc.opts
			opts.Dir, opts.Meta, opts.Sink = dir, target, target
			_, err := data.Restore(context.Background(), opts)
			if tc.err != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.err)) || len(target.created) > 0 || len(target.wrote) > 0 {
					t.Fatalf("got %v after creating %v and writing %v; want an error saying %q before anything", err, target.created, target.wrote, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(target.created, tc.created) || !maps.Equal(target.wrote, tc.wrote) {
				t.Fatalf("created %v and wrote %v, want %v and %v", target.created, target.wrote, tc.created, tc.wrote)
			}
		})
	}

	// A corrupt backup is refused before the target is touched.
	mustWrite(t, dir, "shards/2-1.stream", []byte("tw0"))
	target := &fakeTarget{d: &meta.Data{DataNodes: three}}
	_, err := data.Restore(context.Background(), data.RestoreOptions{Dir: dir, Meta: target, Sink: target, SourceDatabase: "db", Database: "x"})
	var fe *data.BackupFileError
	if !errors.As(err, &fe) || fe.File != "shards/2-1.stream" || len(target.created) > 0 {
		t.Fatalf("restore of a corrupt backup: got %v after creating %v; want an error naming shards/2-1.stream first", err, target.created)
	}
}

// TestRestoreWarnsOfUnreconciledShards: a shard backed up without
// reconciling with every owner is restored with a warning naming them.
func TestRestoreWarnsOfUnreconciledShards(t *testing.T) {
	dir := t.TempDir()
	src := &fakeShards{content: map[uint64][]byte{1: []byte("one"), 2: []byte("two")}, unreconciled: map[uint64][]uint64{2: {1}}}
	m, err := runBackup(t, dir, src, backupState(1, 2), data.BackupFilter{Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Shards[1].Unreconciled, []uint64{1}) || m.Shards[0].Unreconciled != nil {
		t.Fatalf("manifest shards %+v, want shard 2 alone unreconciled with node 1", m.Shards)
	}
	target := &fakeTarget{d: &meta.Data{DataNodes: []meta.NodeInfo{{ID: 1}, {ID: 2}}}}
	var warnings []string
	_, err = data.Restore(context.Background(), data.RestoreOptions{Dir: dir, Meta: target, Sink: target, Progress: func(p data.RestoreProgress) {
		if p.Warning != "" {
			warnings = append(warnings, p.Warning)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "shard 2 ") || !strings.Contains(warnings[0], "[1]") {
		t.Fatalf("warnings %q, want one about shard 2 and node 1", warnings)
	}
}

// TestRestoreFull: --full brings back the backup's users with their
// hashes, their privileges and the continuous queries under the new
// database name; an existing user is refused before anything is written
// unless --force, which overwrites it.
func TestRestoreFull(t *testing.T) {
	dir := t.TempDir()
	state := backupState(1, 2)
	const hashA, hashB = "$2a$04$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "$2a$04$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	state.Users = []meta.UserInfo{
		{Name: "admin", Hash: hashA, Admin: true},
		{Name: "reader", Hash: hashB, Privileges: map[string]meta.Privilege{"db": meta.PrivilegeRead, "other": meta.PrivilegeAll}},
	}
	state.Databases[0].ContinuousQueries = []meta.ContinuousQueryInfo{{Name: "hourly",
		Query: `CREATE CONTINUOUS QUERY hourly ON db BEGIN SELECT mean(v) INTO db.rp.cpu_1h FROM db.rp.cpu GROUP BY time(1h) END`}}
	src := &fakeShards{content: map[uint64][]byte{1: []byte("one"), 2: []byte("two"), 100: []byte("x")}}
	if _, err := runBackup(t, dir, src, state, data.BackupFilter{}); err != nil {
		t.Fatal(err)
	}
	nodes := []meta.NodeInfo{{ID: 1}, {ID: 2}}
	opts := data.RestoreOptions{Dir: dir, SourceDatabase: "db", Database: "copy", Full: true}

	target := &fakeTarget{d: &meta.Data{DataNodes: nodes}}
	opts.Meta, opts.Sink = target, target
	var warnings []string
	opts.Progress = func(p data.RestoreProgress) {
		if p.Warning != "" {
			warnings = append(warnings, p.Warning)
		}
	}
	sum, err := data.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"copy.rp rf=2",
		"user admin hash=" + hashA + " admin=true",
		"user reader hash=" + hashB + " admin=false",
		"grant read on copy to reader",
		"cq hourly on copy: CREATE CONTINUOUS QUERY hourly ON copy BEGIN SELECT mean(v) INTO copy.rp.cpu_1h FROM copy.rp.cpu GROUP BY time(1h) END",
	}
	if !slices.Equal(target.created, want) || sum.Users != 2 || sum.ContinuousQueries != 1 {
		t.Fatalf("full restore did %q (summary %+v), want %q", target.created, sum, want)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `privilege all on database "other" not restored`) {
		t.Errorf("warnings %q, want one about reader's privilege on other", warnings)
	}

	// Without --full, the meta is left alone.
	target = &fakeTarget{d: &meta.Data{DataNodes: nodes}}
	plain := opts
	plain.Full, plain.Meta, plain.Sink = false, target, target
	if _, err := data.Restore(context.Background(), plain); err != nil || !slices.Equal(target.created, want[:1]) {
		t.Fatalf("restore without --full: %v, did %q; want only %q", err, target.created, want[:1])
	}

	// An existing user is refused before anything is written...
	target = &fakeTarget{d: &meta.Data{DataNodes: nodes, Users: []meta.UserInfo{{Name: "reader", Hash: hashA}}}}
	opts.Meta, opts.Sink = target, target
	if _, err := data.Restore(context.Background(), opts); !errors.Is(err, data.ErrRestoreUserExists) || !strings.Contains(err.Error(), "--force") ||
		len(target.created) > 0 || len(target.wrote) > 0 {
		t.Fatalf("full restore over user reader: got %v after %q and writing %v; want ErrRestoreUserExists naming --force before anything", err, target.created, target.wrote)
	}
	// ...and overwritten with --force.
	opts.Force = true
	if _, err := data.Restore(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(target.created, "password reader hash="+hashB) || !slices.Contains(target.created, "admin reader false") ||
		!slices.Contains(target.created, "grant read on copy to reader") || !slices.Contains(target.created, "user admin hash="+hashA+" admin=true") {
		t.Fatalf("forced full restore did %q; want reader's hash, admin flag and privilege set, admin created", target.created)
	}

	// --force into a database whose query of the same name differs
	// replaces it.
	target = &fakeTarget{d: &meta.Data{DataNodes: nodes, Databases: []meta.DatabaseInfo{{Name: "copy", DefaultRetentionPolicy: "rp",
		RetentionPolicies: []meta.RetentionPolicyInfo{{Name: "rp", ReplicaN: 1}},
		ContinuousQueries: []meta.ContinuousQueryInfo{{Name: "hourly", Query: "CREATE CONTINUOUS QUERY hourly ON copy BEGIN SELECT max(v) INTO copy.rp.x FROM copy.rp.cpu GROUP BY time(1h) END"}}}}}}
	opts.Meta, opts.Sink = target, target
	if _, err := data.Restore(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if n := len(target.created); n < 2 || target.created[n-2] != "drop cq hourly on copy" || !strings.HasPrefix(target.created[n-1], "cq hourly on copy: ") {
		t.Fatalf("forced restore over a different query did %q; want it dropped and created again", target.created)
	}
}
