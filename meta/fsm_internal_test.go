package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testFSM wraps an fsm with a log index counter.
type testFSM struct {
	t     *testing.T
	f     *fsm
	index uint64
	now   time.Time
}

func newTestFSM(t *testing.T) *testFSM {
	return &testFSM{t: t, f: newFSM(DefaultRecentRequests), now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

// apply runs one command through fsm.Apply as raft would.
func (tf *testFSM) apply(typ CommandType, rid string, payload any) *Result {
	tf.t.Helper()
	c, err := NewCommand(typ, rid, payload)
	if err != nil {
		tf.t.Fatalf("NewCommand(%s): %v", typ, err)
	}
	c.Time = tf.now
	b, err := json.Marshal(c)
	if err != nil {
		tf.t.Fatalf("marshal: %v", err)
	}
	return tf.applyRaw(b)
}

func (tf *testFSM) applyRaw(b []byte) *Result {
	tf.t.Helper()
	tf.index++
	r, ok := tf.f.Apply(&raft.Log{Index: tf.index, Type: raft.LogCommand, Data: b}).(*Result)
	if !ok {
		tf.t.Fatalf("Apply returned %T, want *Result", r)
	}
	return r
}

// mustOK applies and fails the test on a rejected command.
func (tf *testFSM) mustOK(typ CommandType, payload any) *Result {
	tf.t.Helper()
	r := tf.apply(typ, "", payload)
	if r.Error != "" {
		tf.t.Fatalf("%s %+v: got error %q, want success", typ, payload, r.Error)
	}
	return r
}

func (tf *testFSM) data() *Data { return tf.f.Data() }

func ptr[T any](v T) *T { return &v }

func (tf *testFSM) addNodes(n int) {
	for i := range n {
		tf.mustOK(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: addr("h", i), RPCAddr: addr("r", i)})
	}
}

func addr(prefix string, i int) string {
	return prefix + string(rune('a'+i)) + ".example:8088"
}

func TestFSM_DatabaseLifecycle(t *testing.T) {
	tf := newTestFSM(t)
	r := tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	if r.Database == nil || r.Database.DefaultRetentionPolicy != "autogen" {
		t.Fatalf("create db result: got %+v, want default policy autogen", r.Database)
	}
	rp := tf.data().RetentionPolicy("db", "")
	want := RetentionPolicyInfo{Name: "autogen", Duration: 0, ShardGroupDuration: 7 * 24 * time.Hour, ReplicaN: 1}
	if !samePolicy(rp, &want) || len(rp.ShardGroups) != 0 {
		t.Fatalf("autogen policy: got %+v, want %+v", *rp, want)
	}
	if got := tf.data().Index; got != tf.index {
		t.Fatalf("state index: got %d, want %d", got, tf.index)
	}

	// Same again: no-op success; nil spec on an existing db too.
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{Name: "autogen"}})
	if n := len(tf.data().Databases); n != 1 {
		t.Fatalf("databases after repeated create: got %d, want 1", n)
	}
	// A conflicting spec is refused.
	r = tf.apply(CmdCreateDatabase, "", CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{Name: "autogen", Duration: 48 * time.Hour}})
	if !errors.Is(r.Err(), ErrRetentionPolicyConflict) {
		t.Fatalf("conflicting create: got %v, want ErrRetentionPolicyConflict", r.Err())
	}

	// Custom spec.
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "b", RetentionPolicy: &RetentionPolicySpec{Name: "week", Duration: 7 * 24 * time.Hour, ReplicaN: ptr(2)}})
	rp = tf.data().RetentionPolicy("b", "")
	if rp.Name != "week" || rp.ShardGroupDuration != 24*time.Hour || rp.ReplicaN != 2 {
		t.Fatalf("custom policy: got %+v, want week/24h/RF2", rp)
	}
	if names := []string{tf.data().Databases[0].Name, tf.data().Databases[1].Name}; !slices.Equal(names, []string{"b", "db"}) {
		t.Fatalf("databases order: got %v, want [b db]", names)
	}

	tf.mustOK(CmdDropDatabase, DropDatabasePayload{Name: "db"})
	if tf.data().Database("db") != nil {
		t.Fatalf("database db still present after drop")
	}
	tf.mustOK(CmdDropDatabase, DropDatabasePayload{Name: "db"}) // missing: no-op
}

func TestFSM_RetentionPolicyLifecycle(t *testing.T) {
	tf := newTestFSM(t)
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	r := tf.mustOK(CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "db", Spec: RetentionPolicySpec{Name: "short", Duration: 24 * time.Hour}, MakeDefault: true})
	if r.RetentionPolicy.ShardGroupDuration != time.Hour {
		t.Fatalf("1d policy shard group duration: got %v, want 1h", r.RetentionPolicy.ShardGroupDuration)
	}
	if got := tf.data().Database("db").DefaultRetentionPolicy; got != "short" {
		t.Fatalf("default policy: got %q, want short", got)
	}
	// Same spec again: no-op; different spec: exists.
	tf.mustOK(CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "db", Spec: RetentionPolicySpec{Name: "short", Duration: 24 * time.Hour}})
	r = tf.apply(CmdCreateRetentionPolicy, "", CreateRetentionPolicyPayload{Database: "db", Spec: RetentionPolicySpec{Name: "short", Duration: 48 * time.Hour}})
	if !errors.Is(r.Err(), ErrRetentionPolicyExists) {
		t.Fatalf("recreate with other spec: got %v, want ErrRetentionPolicyExists", r.Err())
	}

	tf.mustOK(CmdUpdateRetentionPolicy, UpdateRetentionPolicyPayload{Database: "db", Name: "short",
		Update: RetentionPolicyUpdate{Name: ptr("mid"), Duration: ptr(72 * time.Hour), ReplicaN: ptr(3)}})
	rp := tf.data().RetentionPolicy("db", "mid")
	if rp == nil || rp.Duration != 72*time.Hour || rp.ReplicaN != 3 || rp.ShardGroupDuration != time.Hour {
		t.Fatalf("updated policy: got %+v, want mid/72h/RF3/1h", rp)
	}
	if got := tf.data().Database("db").DefaultRetentionPolicy; got != "mid" {
		t.Fatalf("default after rename: got %q, want mid", got)
	}
	if tf.data().RetentionPolicy("db", "short") != nil {
		t.Fatalf("old name short still present after rename")
	}

	tf.mustOK(CmdDropRetentionPolicy, DropRetentionPolicyPayload{Database: "db", Name: "mid"})
	if tf.data().RetentionPolicy("db", "mid") != nil || tf.data().Database("db").DefaultRetentionPolicy != "" {
		t.Fatalf("after drop: got %+v, want no mid and no default", tf.data().Database("db"))
	}
	tf.mustOK(CmdDropRetentionPolicy, DropRetentionPolicyPayload{Database: "db", Name: "mid"}) // missing: no-op
}

func TestDefaultShardGroupDuration(t *testing.T) {
	for _, tc := range []struct {
		rp, want time.Duration
	}{
		{0, 7 * 24 * time.Hour},
		{time.Hour, time.Hour},
		{47 * time.Hour, time.Hour},
		{48 * time.Hour, 24 * time.Hour},
		{4380 * time.Hour, 24 * time.Hour},
		{4381 * time.Hour, 7 * 24 * time.Hour},
	} {
		if got := DefaultShardGroupDuration(tc.rp); got != tc.want {
			t.Errorf("DefaultShardGroupDuration(%v): got %v, want %v", tc.rp, got, tc.want)
		}
	}
}

func TestFSM_Validation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     CommandType
		payload any
		want    error
	}{
		{"empty db name", CmdCreateDatabase, CreateDatabasePayload{Name: ""}, ErrInvalidName},
		{"slash in name", CmdCreateDatabase, CreateDatabasePayload{Name: "a/b"}, ErrInvalidName},
		{"control char", CmdCreateDatabase, CreateDatabasePayload{Name: "a\nb"}, ErrInvalidName},
		{"dot dot", CmdCreateDatabase, CreateDatabasePayload{Name: ".."}, ErrInvalidName},
		{"rf zero", CmdCreateDatabase, CreateDatabasePayload{Name: "x", RetentionPolicy: &RetentionPolicySpec{ReplicaN: ptr(0)}}, ErrInvalidReplicationFactor},
		{"negative duration", CmdCreateDatabase, CreateDatabasePayload{Name: "x", RetentionPolicy: &RetentionPolicySpec{Duration: -time.Hour}}, ErrInvalidDuration},
		{"duration below sg duration", CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "db", Spec: RetentionPolicySpec{Name: "r", Duration: 30 * time.Minute}}, ErrInvalidDuration},
		{"explicit sg longer than duration", CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "db", Spec: RetentionPolicySpec{Name: "r", Duration: 2 * time.Hour, ShardGroupDuration: 3 * time.Hour}}, ErrInvalidDuration},
		{"rp on missing db", CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "nope", Spec: RetentionPolicySpec{Name: "r"}}, ErrDatabaseNotFound},
		{"update missing rp", CmdUpdateRetentionPolicy, UpdateRetentionPolicyPayload{Database: "db", Name: "nope", Update: RetentionPolicyUpdate{ReplicaN: ptr(2)}}, ErrRetentionPolicyNotFound},
		{"update rf zero", CmdUpdateRetentionPolicy, UpdateRetentionPolicyPayload{Database: "db", Name: "autogen", Update: RetentionPolicyUpdate{ReplicaN: ptr(0)}}, ErrInvalidReplicationFactor},
		{"rename onto existing", CmdUpdateRetentionPolicy, UpdateRetentionPolicyPayload{Database: "db", Name: "autogen", Update: RetentionPolicyUpdate{Name: ptr("other")}}, ErrRetentionPolicyExists},
		{"drop rp missing db", CmdDropRetentionPolicy, DropRetentionPolicyPayload{Database: "nope", Name: "x"}, ErrDatabaseNotFound},
		{"sg missing db", CmdCreateShardGroup, CreateShardGroupPayload{Database: "nope", Timestamp: time.Unix(0, 0)}, ErrDatabaseNotFound},
		{"sg missing rp", CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", RetentionPolicy: "nope", Timestamp: time.Unix(0, 0)}, ErrRetentionPolicyNotFound},
		{"delete missing sg", CmdDeleteShardGroup, DeleteShardGroupPayload{Database: "db", RetentionPolicy: "autogen", ID: 999}, ErrShardGroupNotFound},
		{"data node empty addr", CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "", RPCAddr: "a:1"}, ErrInvalidAddress},
		{"data node bad addr", CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "nocolon", RPCAddr: "a:1"}, ErrInvalidAddress},
		{"data node http taken", CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: addr("h", 0), RPCAddr: "new:1"}, ErrDataNodeExists},
		{"update missing node", CmdUpdateDataNode, UpdateDataNodePayload{ID: 99, HTTPAddr: "a:1", RPCAddr: "b:1"}, ErrDataNodeNotFound},
		{"delete missing node", CmdDeleteDataNode, DeleteDataNodePayload{ID: 99}, ErrDataNodeNotFound},
		{"meta node no id", CmdAddMetaNode, AddMetaNodePayload{RaftAddr: "a:1", HTTPAddr: "b:1"}, ErrInvalidName},
		{"remove missing meta", CmdRemoveMetaNode, RemoveMetaNodePayload{ID: "x"}, ErrMetaNodeNotFound},
		{"user bad hash", CmdCreateUser, CreateUserPayload{Name: "u", Hash: "plain"}, ErrInvalidCommand},
		{"drop missing user", CmdDropUser, DropUserPayload{Name: "nobody"}, ErrUserNotFound},
		{"bad privilege", CmdGrantPrivilege, GrantPrivilegePayload{User: "admin", Database: "db", Privilege: "root"}, ErrInvalidPrivilege},
		{"grant missing db", CmdGrantPrivilege, GrantPrivilegePayload{User: "admin", Database: "nope", Privilege: PrivilegeRead}, ErrDatabaseNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tf := newTestFSM(t)
			tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
			tf.mustOK(CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "db", Spec: RetentionPolicySpec{Name: "other"}})
			tf.mustOK(CmdCreateUser, CreateUserPayload{Name: "admin", Hash: "$2a$10$abcdefghijklmnopqrstuv", Admin: true})
			tf.addNodes(1)
			before := tf.data()
			beforeJSON, _ := json.Marshal(before)

			// Pre-raft validation sees the same error.
			c, _ := NewCommand(tc.typ, "", tc.payload)
			if err := tf.f.simulate(c); !errors.Is(err, tc.want) {
				t.Fatalf("simulate: got %v, want %v", err, tc.want)
			}
			r := tf.apply(tc.typ, "rid", tc.payload)
			if !errors.Is(r.Err(), tc.want) {
				t.Fatalf("apply: got %v, want %v", r.Err(), tc.want)
			}
			if r.Code != ErrorCode(tc.want) {
				t.Fatalf("result code: got %q, want %q", r.Code, ErrorCode(tc.want))
			}
			afterJSON, _ := json.Marshal(tf.data())
			if tf.data() != before || !bytes.Equal(beforeJSON, afterJSON) {
				t.Fatalf("state changed by a rejected command")
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "a\x00", "a\tb", "a\xffb", string(make([]byte, MaxNameLength+1))} {
		if err := ValidateName("database", name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q): got %v, want ErrInvalidName", name, err)
		}
	}
	for _, name := range []string{"db", "my db", "ünïcode", "a.b-c_d", "1"} {
		if err := ValidateName("database", name); err != nil {
			t.Errorf("ValidateName(%q): got %v, want nil", name, err)
		}
	}
}

func TestFSM_MalformedCommands(t *testing.T) {
	tf := newTestFSM(t)
	for _, tc := range []struct {
		name string
		raw  string
	}{
		{"garbage", "\x00\x01not json"},
		{"unknown version", `{"version":2,"type":"create_database","payload":{"name":"x"}}`},
		{"unknown type", `{"version":1,"type":"format_disk","payload":{}}`},
		{"missing payload", `{"version":1,"type":"create_database"}`},
		{"unknown payload field", `{"version":1,"type":"create_database","payload":{"name":"x","bogus":1}}`},
		{"unknown envelope field", `{"version":1,"type":"create_database","payload":{"name":"x"},"x":1}`},
		{"wrong payload type", `{"version":1,"type":"create_database","payload":{"name":5}}`},
		{"trailing data", `{"version":1,"type":"drop_database","payload":{"name":"x"}} {}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tf.data()
			r := tf.applyRaw([]byte(tc.raw))
			if !errors.Is(r.Err(), ErrInvalidCommand) {
				t.Fatalf("got %v, want ErrInvalidCommand", r.Err())
			}
			if tf.data() != before {
				t.Fatalf("state changed by a malformed command")
			}
			if _, err := DecodeCommand([]byte(tc.raw)); !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("DecodeCommand: got %v, want ErrInvalidCommand", err)
			}
		})
	}
}

func TestFSM_IdempotentRequestID(t *testing.T) {
	tf := newTestFSM(t)
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	upd := UpdateRetentionPolicyPayload{Database: "db", Name: "autogen", Update: RetentionPolicyUpdate{Name: ptr("renamed")}}
	first := tf.apply(CmdUpdateRetentionPolicy, "req-1", upd)
	if first.Error != "" {
		t.Fatalf("first apply: got error %q, want success", first.Error)
	}
	idx := tf.data().Index
	// Applying the same request again would fail (autogen no longer
	// exists); the remembered result comes back instead.
	second := tf.apply(CmdUpdateRetentionPolicy, "req-1", upd)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("retry result: got %+v, want first result %+v", second, first)
	}
	if tf.data().Index != idx {
		t.Fatalf("state index after retry: got %d, want %d (unchanged)", tf.data().Index, idx)
	}
	// Without a request id the command is applied again (and fails).
	if r := tf.apply(CmdUpdateRetentionPolicy, "", upd); !errors.Is(r.Err(), ErrRetentionPolicyNotFound) {
		t.Fatalf("apply without id: got %v, want ErrRetentionPolicyNotFound", r.Err())
	}

	// Shard group ids are handed out once per request id.
	tf.addNodes(2)
	sg1 := tf.apply(CmdCreateShardGroup, "sg", CreateShardGroupPayload{Database: "db", Timestamp: tf.now})
	tf.mustOK(CmdDeleteShardGroup, DeleteShardGroupPayload{Database: "db", RetentionPolicy: "renamed", ID: sg1.ShardGroup.ID})
	sg2 := tf.apply(CmdCreateShardGroup, "sg", CreateShardGroupPayload{Database: "db", Timestamp: tf.now})
	if sg2.ShardGroup.ID != sg1.ShardGroup.ID || tf.data().MaxShardGroupID != 1 {
		t.Fatalf("retried create_shard_group: got group %d (max id %d), want group %d applied once",
			sg2.ShardGroup.ID, tf.data().MaxShardGroupID, sg1.ShardGroup.ID)
	}
}

func TestFSM_RecentRequestsBounded(t *testing.T) {
	tf := newTestFSM(t)
	tf.f = newFSM(3)
	for i := range 4 {
		tf.apply(CmdCreateDatabase, string(rune('a'+i)), CreateDatabasePayload{Name: string(rune('a' + i))})
	}
	if _, ok := tf.f.lookup("a"); ok {
		t.Fatalf("oldest request id still remembered past the bound")
	}
	for _, id := range []string{"b", "c", "d"} {
		if _, ok := tf.f.lookup(id); !ok {
			t.Fatalf("request id %q forgotten, want remembered", id)
		}
	}
}

func TestFSM_Placement(t *testing.T) {
	for _, tc := range []struct {
		nodes, rf, wantShards, wantOwners int
	}{
		{1, 1, 1, 1},
		{1, 3, 1, 1}, // RF capped at node count
		{2, 1, 2, 1},
		{3, 2, 1, 2},
		{4, 2, 2, 2},
		{5, 2, 2, 2},
		{6, 3, 2, 3},
		{5, 5, 1, 5},
	} {
		tf := newTestFSM(t)
		tf.addNodes(tc.nodes)
		tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{ShardGroupDuration: time.Hour, ReplicaN: ptr(tc.rf)}})
		firsts := map[uint64]bool{}
		for g := range tc.nodes + 1 {
			r := tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: tf.now.Add(time.Duration(g) * time.Hour)})
			sg := r.ShardGroup
			if len(sg.Shards) != tc.wantShards {
				t.Fatalf("nodes=%d rf=%d: got %d shards, want %d", tc.nodes, tc.rf, len(sg.Shards), tc.wantShards)
			}
			seen := map[uint64]bool{}
			for _, sh := range sg.Shards {
				if len(sh.Owners) != tc.wantOwners {
					t.Fatalf("nodes=%d rf=%d: shard %d has %d owners, want %d", tc.nodes, tc.rf, sh.ID, len(sh.Owners), tc.wantOwners)
				}
				for _, o := range sh.Owners {
					if seen[o] {
						t.Fatalf("nodes=%d rf=%d: node %d owns two replicas in group %d: %+v", tc.nodes, tc.rf, o, sg.ID, sg.Shards)
					}
					seen[o] = true
				}
			}
			firsts[sg.Shards[0].Owners[0]] = true
		}
		// The starting offset rotates: over nodes+1 groups every node leads once.
		if len(firsts) != tc.nodes {
			t.Fatalf("nodes=%d rf=%d: first owners over groups %v, want all %d nodes", tc.nodes, tc.rf, firsts, tc.nodes)
		}
	}
}

func TestFSM_ShardGroupBoundaries(t *testing.T) {
	tf := newTestFSM(t)
	tf.addNodes(1)
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	ts := time.Date(2026, 11, 27, 15, 4, 5, 0, time.FixedZone("X", 3600)) // a Friday
	sg := tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: ts}).ShardGroup
	wantStart := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // Monday
	if !sg.StartTime.Equal(wantStart) || sg.StartTime.Weekday() != time.Monday || sg.EndTime.Sub(sg.StartTime) != 7*24*time.Hour {
		t.Fatalf("7d group: got [%s, %s), want start %s (Monday), 7 days long", sg.StartTime, sg.EndTime, wantStart)
	}
	// Same week again: same group, no new id.
	again := tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: wantStart.Add(6 * 24 * time.Hour)}).ShardGroup
	if again.ID != sg.ID {
		t.Fatalf("second timestamp in same week: got group %d, want %d", again.ID, sg.ID)
	}

	// Truncate in the middle; the next write after it gets a new group
	// starting where the truncated one ends.
	cut := wantStart.Add(3 * 24 * time.Hour)
	tf.mustOK(CmdTruncateShardGroups, TruncateShardGroupsPayload{Timestamp: cut})
	tsg := tf.data().ShardGroup("db", "autogen", sg.ID)
	if !tsg.EndTime.Equal(cut) || !tsg.Truncated() {
		t.Fatalf("truncated group: got end %s truncated=%v, want end %s", tsg.EndTime, tsg.Truncated(), cut)
	}
	after := tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: cut.Add(time.Hour)}).ShardGroup
	if after.ID == sg.ID || !after.StartTime.Equal(cut) || !after.EndTime.Equal(wantStart.Add(7*24*time.Hour)) {
		t.Fatalf("group after truncation: got id %d [%s, %s), want new group [%s, %s)", after.ID, after.StartTime, after.EndTime, cut, wantStart.Add(7*24*time.Hour))
	}
	// Before the cut still maps to the old group.
	if g := tf.data().ShardGroupByTimestamp("db", "", cut.Add(-time.Nanosecond)); g == nil || g.ID != sg.ID {
		t.Fatalf("timestamp before cut: got %+v, want group %d", g, sg.ID)
	}
	if n := len(tf.data().ShardGroupsByTimeRange("db", "", wantStart, wantStart.Add(7*24*time.Hour))); n != 2 {
		t.Fatalf("groups overlapping the week: got %d, want 2", n)
	}
}

func TestFSM_Retention(t *testing.T) {
	tf := newTestFSM(t)
	tf.addNodes(1)
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{Duration: 2 * time.Hour, ShardGroupDuration: time.Hour}})
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "forever"})
	base := tf.now.Truncate(time.Hour)
	var ids []uint64
	for h := range 5 {
		ids = append(ids, tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: base.Add(time.Duration(h) * time.Hour)}).ShardGroup.ID)
	}
	tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "forever", Timestamp: base})
	// At base+5h the cutoff is base+3h: groups ending at base+1h, +2h are
	// older (end < cutoff); the group ending exactly at +3h is not.
	tf.now = base.Add(5 * time.Hour)
	r := tf.mustOK(CmdDeleteExpiredShardGroups, DeleteExpiredShardGroupsPayload{})
	if r.Count != 2 {
		t.Fatalf("expired groups: got %d, want 2", r.Count)
	}
	for i, id := range ids {
		sg := tf.data().ShardGroup("db", "", id)
		if want := i < 2; sg.Deleted() != want {
			t.Errorf("group %d (hour %d): deleted=%v, want %v", id, i, sg.Deleted(), want)
		}
		if i < 2 && !sg.DeletedAt.Equal(tf.now) {
			t.Errorf("group %d DeletedAt: got %s, want command time %s", id, sg.DeletedAt, tf.now)
		}
	}
	if sg := tf.data().ShardGroupByTimestamp("forever", "", base); sg == nil {
		t.Fatalf("infinite policy group deleted by retention")
	}
	if tf.data().ShardGroupByTimestamp("db", "", base) != nil {
		t.Fatalf("deleted group still returned by ShardGroupByTimestamp")
	}

	// A deleted group stays visible (marked) for ShardGroupDeletedExpiration,
	// then the sweep removes it from the state.
	deletedAt := tf.now
	tf.now = deletedAt.Add(ShardGroupDeletedExpiration)
	r = tf.mustOK(CmdDeleteExpiredShardGroups, DeleteExpiredShardGroupsPayload{})
	if r.Pruned != 0 || tf.data().ShardGroup("db", "", ids[0]) == nil {
		t.Fatalf("sweep exactly at expiration: pruned %d, group %d present=%v; want 0 pruned, still present",
			r.Pruned, ids[0], tf.data().ShardGroup("db", "", ids[0]) != nil)
	}
	tf.now = deletedAt.Add(ShardGroupDeletedExpiration + time.Second)
	r = tf.mustOK(CmdDeleteExpiredShardGroups, DeleteExpiredShardGroupsPayload{})
	if r.Pruned != 2 || tf.data().ShardGroup("db", "", ids[0]) != nil || tf.data().ShardGroup("db", "", ids[1]) != nil {
		t.Fatalf("sweep after expiration: pruned %d; want groups %d and %d removed", r.Pruned, ids[0], ids[1])
	}
}

func TestFSM_DataNodes(t *testing.T) {
	tf := newTestFSM(t)
	n1 := tf.mustOK(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "a:8086", RPCAddr: "a:8088"}).DataNode
	n1b := tf.mustOK(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "a2:8086", RPCAddr: "a:8088"}).DataNode
	if n1b.ID != n1.ID || n1b.HTTPAddr != "a2:8086" {
		t.Fatalf("re-add by rpc addr: got %+v, want id %d with updated http addr", n1b, n1.ID)
	}
	n2 := tf.mustOK(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "b:8086", RPCAddr: "b:8088"}).DataNode
	if n2.ID != n1.ID+1 {
		t.Fatalf("second node id: got %d, want %d", n2.ID, n1.ID+1)
	}
	tf.mustOK(CmdUpdateDataNode, UpdateDataNodePayload{ID: n2.ID, HTTPAddr: "c:8086", RPCAddr: "c:8088"})
	if got := tf.data().DataNode(n2.ID); got.RPCAddr != "c:8088" {
		t.Fatalf("updated node: got %+v, want rpc c:8088", got)
	}

	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{ReplicaN: ptr(2)}})
	sg := tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: tf.now}).ShardGroup
	if u := tf.data().UnderReplicatedShards(); len(u) != 0 {
		t.Fatalf("under-replicated before removal: got %+v, want none", u)
	}
	if got := tf.data().ShardOwners(sg.Shards[0].ID); len(got) != 2 {
		t.Fatalf("ShardOwners: got %v, want 2 owners", got)
	}
	tf.mustOK(CmdDeleteDataNode, DeleteDataNodePayload{ID: n2.ID})
	u := tf.data().UnderReplicatedShards()
	if len(u) != 1 || u[0].Shard.ID != sg.Shards[0].ID || !slices.Equal(u[0].Shard.Owners, []uint64{n1.ID}) || u[0].Want != 2 {
		t.Fatalf("under-replicated after removing node %d: got %+v, want shard %d owned by [%d] want 2", n2.ID, u, sg.Shards[0].ID, n1.ID)
	}
	if got := tf.data().ShardsOwnedBy(n2.ID); len(got) != 0 {
		t.Fatalf("ShardsOwnedBy removed node: got %+v, want none", got)
	}
	if got := tf.data().ShardsOwnedBy(n1.ID); len(got) != 1 {
		t.Fatalf("ShardsOwnedBy(%d): got %d shards, want 1", n1.ID, len(got))
	}
	// Ids are never reused.
	n3 := tf.mustOK(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "d:8086", RPCAddr: "d:8088"}).DataNode
	if n3.ID != n2.ID+1 {
		t.Fatalf("node id after removal: got %d, want %d", n3.ID, n2.ID+1)
	}
}

func TestFSM_MetaNodesAndUsers(t *testing.T) {
	tf := newTestFSM(t)
	tf.mustOK(CmdAddMetaNode, AddMetaNodePayload{ID: "b", RaftAddr: "b:8089", HTTPAddr: "b:8091"})
	tf.mustOK(CmdAddMetaNode, AddMetaNodePayload{ID: "a", RaftAddr: "a:8089", HTTPAddr: "a:8091"})
	tf.mustOK(CmdAddMetaNode, AddMetaNodePayload{ID: "a", RaftAddr: "a:8089", HTTPAddr: "a:9091"})
	d := tf.data()
	if len(d.MetaNodes) != 2 || d.MetaNodes[0].ID != "a" || d.MetaNode("a:9091") == nil {
		t.Fatalf("meta nodes: got %+v, want a (http a:9091), b", d.MetaNodes)
	}
	tf.mustOK(CmdRemoveMetaNode, RemoveMetaNodePayload{ID: "b"})
	if tf.data().MetaNode("b") != nil {
		t.Fatalf("meta node b present after removal")
	}

	const hash = "$2a$04$0123456789012345678901uMUdO0gTU7q2.Q0Do1kB0D9c0vnwVyG" // not checked by the FSM
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	tf.mustOK(CmdCreateUser, CreateUserPayload{Name: "u", Hash: hash})
	tf.mustOK(CmdCreateUser, CreateUserPayload{Name: "u", Hash: hash}) // same: no-op
	if r := tf.apply(CmdCreateUser, "", CreateUserPayload{Name: "u", Hash: hash, Admin: true}); !errors.Is(r.Err(), ErrUserExists) {
		t.Fatalf("recreate user with other settings: got %v, want ErrUserExists", r.Err())
	}
	tf.mustOK(CmdGrantPrivilege, GrantPrivilegePayload{User: "u", Database: "db", Privilege: PrivilegeWrite})
	tf.mustOK(CmdSetAdmin, SetAdminPayload{Name: "u", Admin: true})
	tf.mustOK(CmdSetPassword, SetPasswordPayload{Name: "u", Hash: hash + "x"})
	u := tf.data().User("u")
	if u.Privileges["db"] != PrivilegeWrite || !u.Admin || u.Hash != hash+"x" {
		t.Fatalf("user after grant/admin/password: got %+v", u)
	}
	tf.mustOK(CmdDropDatabase, DropDatabasePayload{Name: "db"})
	if _, ok := tf.data().User("u").Privileges["db"]; ok {
		t.Fatalf("privilege on dropped database kept")
	}
	tf.mustOK(CmdRevokePrivilege, RevokePrivilegePayload{User: "u", Database: "db"})
	tf.mustOK(CmdDropUser, DropUserPayload{Name: "u"})
	if tf.data().User("u") != nil {
		t.Fatalf("user present after drop")
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ bytes.Buffer }

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }

// snapshotRestore snapshots tf's FSM and restores the snapshot into a new
// one, which it returns with the snapshot's bytes.
func (tf *testFSM) snapshotRestore() (*testFSM, []byte) {
	tf.t.Helper()
	snap, err := tf.f.Snapshot()
	if err != nil {
		tf.t.Fatalf("Snapshot: %v", err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		tf.t.Fatalf("Persist: %v", err)
	}
	snap.Release()
	restored := newTestFSM(tf.t)
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		tf.t.Fatalf("Restore: %v", err)
	}
	return restored, sink.Bytes()
}

func TestFSM_SnapshotRestore(t *testing.T) {
	tf := newTestFSM(t)
	tf.addNodes(3)
	tf.apply(CmdCreateDatabase, "db-req", CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{ReplicaN: ptr(2)}})
	tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: tf.now})
	tf.mustOK(CmdAddMetaNode, AddMetaNodePayload{ID: "m1", RaftAddr: "m:1", HTTPAddr: "m:2"})
	tf.mustOK(CmdCreateUser, CreateUserPayload{Name: "u", Hash: "$2a$x"})
	tf.mustOK(CmdGrantPrivilege, GrantPrivilegePayload{User: "u", Database: "db", Privilege: PrivilegeRead})

	restored, snapshot := tf.snapshotRestore()
	if !reflect.DeepEqual(normalize(t, tf.data()), normalize(t, restored.data())) {
		t.Fatalf("restored state differs:\n got %+v\nwant %+v", restored.data(), tf.data())
	}
	// The remembered request ids survive too.
	want, _ := tf.f.lookup("db-req")
	got, ok := restored.f.lookup("db-req")
	if !ok || !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
		t.Fatalf("restored request id db-req: got %+v (found %v), want %+v", got, ok, want)
	}
	// Corrupt snapshots are errors, not panics.
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(snapshot[:10]))); err == nil {
		t.Fatalf("Restore of a truncated snapshot: got nil error, want one")
	}
}

// normalize round-trips v through JSON so times compare by instant.
func normalize[T any](t *testing.T, v T) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

func TestData_ShardForAndClone(t *testing.T) {
	sg := &ShardGroupInfo{Shards: []ShardInfo{{ID: 10}, {ID: 11}, {ID: 12}}}
	d := &Data{}
	for _, key := range []string{"cpu,host=a", "cpu,host=b", "mem,host=a", ""} {
		h := fnv.New64a()
		h.Write([]byte(key))
		want := sg.Shards[h.Sum64()%3].ID
		if got := d.ShardFor(sg, []byte(key)); got.ID != want {
			t.Errorf("ShardFor(%q): got shard %d, want %d", key, got.ID, want)
		}
	}
	if d.ShardFor(&ShardGroupInfo{}, []byte("x")) != nil {
		t.Errorf("ShardFor on a group without shards: got a shard, want nil")
	}

	tf := newTestFSM(t)
	tf.addNodes(2)
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: tf.now})
	tf.mustOK(CmdCreateUser, CreateUserPayload{Name: "u", Hash: "$2a$x"})
	tf.mustOK(CmdGrantPrivilege, GrantPrivilegePayload{User: "u", Database: "db", Privilege: PrivilegeRead})
	orig := tf.data()
	before := normalize(t, orig)
	c := orig.Clone()
	c.Databases[0].RetentionPolicies[0].ShardGroups[0].Shards[0].Owners[0] = 99
	c.Users[0].Privileges["db"] = PrivilegeAll
	c.DataNodes[0].HTTPAddr = "changed:1"
	if !reflect.DeepEqual(before, normalize(t, orig)) {
		t.Fatalf("mutating a Clone changed the original")
	}
}

// TestFSM_DefaultReplication: the cluster's default replication factor
// lives in meta; a database created without one gets it, and a policy
// created without one gets its database's default policy's.
func TestFSM_DefaultReplication(t *testing.T) {
	tf := newTestFSM(t)
	rfOf := func(db, rp string) int {
		t.Helper()
		p := tf.data().RetentionPolicy(db, rp)
		if p == nil {
			t.Fatalf("policy %s.%s missing", db, rp)
		}
		return p.ReplicaN
	}
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "before"})
	if got := rfOf("before", ""); got != DefaultReplicaN {
		t.Errorf("database created before any default was set: got RF %d, want %d", got, DefaultReplicaN)
	}
	tf.mustOK(CmdSetDefaultReplication, SetDefaultReplicationPayload{ReplicaN: 3})
	if got := tf.data().DefaultReplication(); got != 3 {
		t.Fatalf("DefaultReplication after setting 3: got %d", got)
	}
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "plain"})
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "week", RetentionPolicy: &RetentionPolicySpec{Name: "w", Duration: 7 * 24 * time.Hour}})
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "two", RetentionPolicy: &RetentionPolicySpec{ReplicaN: ptr(2)}})
	for db, want := range map[string]int{"plain": 3, "week": 3, "two": 2, "before": 1} {
		if got := rfOf(db, ""); got != want {
			t.Errorf("database %s: got RF %d, want %d", db, got, want)
		}
	}
	// A new policy without RF takes its database's default policy's, not
	// the cluster's.
	tf.mustOK(CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "two", Spec: RetentionPolicySpec{Name: "day", Duration: 24 * time.Hour}})
	tf.mustOK(CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "two", Spec: RetentionPolicySpec{Name: "five", Duration: 24 * time.Hour, ReplicaN: ptr(5)}})
	if got := rfOf("two", "day"); got != 2 {
		t.Errorf("policy without RF on an RF 2 database: got RF %d, want 2", got)
	}
	if got := rfOf("two", "five"); got != 5 {
		t.Errorf("policy with RF 5: got %d, want 5", got)
	}
	// No default policy left: the cluster's default.
	tf.mustOK(CmdDropRetentionPolicy, DropRetentionPolicyPayload{Database: "two", Name: "autogen"})
	tf.mustOK(CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: "two", Spec: RetentionPolicySpec{Name: "x", Duration: 24 * time.Hour}})
	if got := rfOf("two", "x"); got != 3 {
		t.Errorf("policy without RF on a database without a default policy: got RF %d, want the cluster's 3", got)
	}
	if r := tf.apply(CmdSetDefaultReplication, "", SetDefaultReplicationPayload{ReplicaN: 0}); !errors.Is(r.Err(), ErrInvalidReplicationFactor) {
		t.Errorf("default RF 0: got %v, want ErrInvalidReplicationFactor", r.Err())
	}
}

// TestFSM_DrainingNodeGetsNoNewShardGroups: a data node marked draining
// (remove-data --drain) owns no shard of a group created afterwards, the
// mark survives a snapshot and restore, and clearing it makes the node a
// placement target again.
func TestFSM_DrainingNodeGetsNoNewShardGroups(t *testing.T) {
	tf := newTestFSM(t)
	tf.addNodes(3)
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{ShardGroupDuration: time.Hour, ReplicaN: ptr(2)}})
	const drained = 2
	tf.mustOK(CmdSetDataNodeDraining, SetDataNodeDrainingPayload{ID: drained, Draining: true})
	if r := tf.apply(CmdSetDataNodeDraining, "", SetDataNodeDrainingPayload{ID: 99, Draining: true}); !errors.Is(r.Err(), ErrDataNodeNotFound) {
		t.Fatalf("draining an unknown node: got %v, want ErrDataNodeNotFound", r.Err())
	}
	ownersOfNewGroups := func(fsm *testFSM, from time.Time) map[uint64]int {
		owners := map[uint64]int{}
		for g := range 6 {
			sg := fsm.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: from.Add(time.Duration(g) * time.Hour)}).ShardGroup
			for _, sh := range sg.Shards {
				if len(sh.Owners) != 2 {
					t.Fatalf("group %d shard %d: got owners %v, want 2 (rf 2 on the 2 nodes not draining)", sg.ID, sh.ID, sh.Owners)
				}
				for _, o := range sh.Owners {
					owners[o]++
				}
			}
		}
		return owners
	}
	if got := ownersOfNewGroups(tf, tf.now); got[drained] != 0 || got[1] == 0 || got[3] == 0 {
		t.Fatalf("replicas per node of groups created while node %d drains: got %v, want none on it", drained, got)
	}

	restored, _ := tf.snapshotRestore()
	if n := restored.data().DataNode(drained); n == nil || !n.Draining {
		t.Fatalf("node %d after snapshot and restore: got %+v, want draining", drained, n)
	}
	if got := ownersOfNewGroups(restored, tf.now.Add(24*time.Hour)); got[drained] != 0 {
		t.Fatalf("replicas per node of groups created after restore: got %v, want none on node %d", got, drained)
	}

	// A node re-registering at start (same RPC address) stays draining.
	n := tf.data().DataNode(drained)
	tf.mustOK(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: n.HTTPAddr, RPCAddr: n.RPCAddr})
	if !tf.data().DataNode(drained).Draining {
		t.Fatalf("node %d lost its draining mark when it registered again", drained)
	}
	tf.mustOK(CmdSetDataNodeDraining, SetDataNodeDrainingPayload{ID: drained, Draining: false})
	if got := ownersOfNewGroups(tf, tf.now.Add(48*time.Hour)); got[drained] == 0 {
		t.Fatalf("replicas per node after the drain was cancelled: got %v, want some on node %d", got, drained)
	}

	// With every node draining, groups still get placed (on all of them):
	// writes must not fail.
	for id := uint64(1); id <= 3; id++ {
		tf.mustOK(CmdSetDataNodeDraining, SetDataNodeDrainingPayload{ID: id, Draining: true})
	}
	if got := ownersOfNewGroups(tf, tf.now.Add(72*time.Hour)); len(got) != 3 {
		t.Fatalf("replicas per node with every node draining: got %v, want all 3 nodes used", got)
	}
}
