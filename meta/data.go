package meta

import (
	"hash/fnv"
	"slices"
	"sort"
	"time"
)

// Data is the whole cluster metadata state at one raft index.
//
// A *Data handed out by the FSM, Server or Client is immutable: readers may
// use it without locks, and must Clone it before changing anything. All
// slices are kept sorted (nodes by id, databases/policies/users by name,
// shard groups by start time then id) so lookups and JSON are deterministic.
type Data struct {
	// Index is the raft log index of the last command that changed the state.
	Index uint64 `json:"index"`

	MetaNodes []MetaNodeInfo `json:"meta_nodes"`
	DataNodes []NodeInfo     `json:"data_nodes"`
	Databases []DatabaseInfo `json:"databases"`
	Users     []UserInfo     `json:"users"`

	// MaxNodeID, MaxShardGroupID and MaxShardID are the last ids handed out;
	// ids are never reused.
	MaxNodeID       uint64 `json:"max_node_id"`
	MaxShardGroupID uint64 `json:"max_shard_group_id"`
	MaxShardID      uint64 `json:"max_shard_id"`

	// CQLease is which data node runs the continuous queries, until when.
	CQLease CQLease `json:"cq_lease,omitzero"`
	// DefaultReplicaN is the cluster's replication factor for a database
	// created without one (CREATE DATABASE, strata ctl create-database);
	// 0 means DefaultReplicaN. Set by CmdSetDefaultReplication.
	DefaultReplicaN int `json:"default_replica_n,omitempty"`
}

// DefaultReplication returns the replication factor a new database gets
// when it names none.
func (d *Data) DefaultReplication() int {
	if d.DefaultReplicaN > 0 {
		return d.DefaultReplicaN
	}
	return DefaultReplicaN
}

// MetaNodeInfo describes one meta node. ID is the raft server id.
type MetaNodeInfo struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// NodeInfo describes one data node.
type NodeInfo struct {
	ID       uint64 `json:"id"`
	HTTPAddr string `json:"http_addr"`
	RPCAddr  string `json:"rpc_addr"`
	// Draining marks a node being emptied (remove-data --drain): new
	// shard groups are placed on the other nodes.
	Draining bool `json:"draining,omitempty"`
}

// DatabaseInfo describes one database and its retention policies.
type DatabaseInfo struct {
	Name                   string                `json:"name"`
	DefaultRetentionPolicy string                `json:"default_retention_policy"`
	RetentionPolicies      []RetentionPolicyInfo `json:"retention_policies"`
	ContinuousQueries      []ContinuousQueryInfo `json:"continuous_queries,omitempty"`
}

// RetentionPolicyInfo describes one retention policy and its shard groups.
// Durations are JSON nanoseconds; Duration 0 means keep forever.
type RetentionPolicyInfo struct {
	Name               string           `json:"name"`
	Duration           time.Duration    `json:"duration"`
	ShardGroupDuration time.Duration    `json:"shard_group_duration"`
	ReplicaN           int              `json:"replica_n"`
	ShardGroups        []ShardGroupInfo `json:"shard_groups"`
}

// ShardGroupInfo is the set of shards covering [StartTime, EndTime) of one
// retention policy. A zero DeletedAt/TruncatedAt means not deleted/truncated.
type ShardGroupInfo struct {
	ID          uint64      `json:"id"`
	StartTime   time.Time   `json:"start_time"`
	EndTime     time.Time   `json:"end_time"`
	DeletedAt   time.Time   `json:"deleted_at,omitzero"`
	TruncatedAt time.Time   `json:"truncated_at,omitzero"`
	Shards      []ShardInfo `json:"shards"`
}

// ShardInfo is one shard and the data node ids that own a replica of it.
type ShardInfo struct {
	ID     uint64   `json:"id"`
	Owners []uint64 `json:"owners"`
}

// UserInfo is a user with a bcrypt password hash, an admin flag and
// per-database privileges.
type UserInfo struct {
	Name       string               `json:"name"`
	Hash       string               `json:"hash"`
	Admin      bool                 `json:"admin"`
	Privileges map[string]Privilege `json:"privileges,omitempty"`
}

// Privilege is a per-database permission.
type Privilege string

// Privileges a user may hold on a database.
const (
	PrivilegeRead  Privilege = "read"
	PrivilegeWrite Privilege = "write"
	PrivilegeAll   Privilege = "all"
)

// Deleted reports whether the group has been marked deleted.
func (sg *ShardGroupInfo) Deleted() bool { return !sg.DeletedAt.IsZero() }

// Truncated reports whether the group's end was cut short.
func (sg *ShardGroupInfo) Truncated() bool { return !sg.TruncatedAt.IsZero() }

// Contains reports whether t is in [StartTime, EndTime).
func (sg *ShardGroupInfo) Contains(t time.Time) bool {
	return !t.Before(sg.StartTime) && t.Before(sg.EndTime)
}

// Overlaps reports whether the group intersects the closed range [min, max].
func (sg *ShardGroupInfo) Overlaps(min, max time.Time) bool {
	return !sg.StartTime.After(max) && sg.EndTime.After(min)
}

// ShardFor returns the shard of group that seriesKey routes to:
// shards[fnv64a(seriesKey) % len(shards)]. It is a pure function of the
// group, so every node routes a series the same way. Nil if the group has
// no shards.
func (d *Data) ShardFor(group *ShardGroupInfo, seriesKey []byte) *ShardInfo {
	if group == nil || len(group.Shards) == 0 {
		return nil
	}
	h := fnv.New64a()
	h.Write(seriesKey)
	return &group.Shards[h.Sum64()%uint64(len(group.Shards))]
}

// Database returns the named database, or nil.
func (d *Data) Database(name string) *DatabaseInfo {
	for i := range d.Databases {
		if d.Databases[i].Name == name {
			return &d.Databases[i]
		}
	}
	return nil
}

// RetentionPolicy returns the policy rp of database db, or nil. An empty rp
// means the database's default policy.
func (d *Data) RetentionPolicy(db, rp string) *RetentionPolicyInfo {
	di := d.Database(db)
	if di == nil {
		return nil
	}
	return di.RetentionPolicy(rp)
}

// RetentionPolicy returns the named policy (the default one for ""), or nil.
func (di *DatabaseInfo) RetentionPolicy(name string) *RetentionPolicyInfo {
	if name == "" {
		name = di.DefaultRetentionPolicy
	}
	for i := range di.RetentionPolicies {
		if di.RetentionPolicies[i].Name == name {
			return &di.RetentionPolicies[i]
		}
	}
	return nil
}

// DefaultPolicy returns the name of di's default policy, or a
// *NoDefaultRetentionPolicyError when it has none.
func (di *DatabaseInfo) DefaultPolicy() (string, error) {
	if di.DefaultRetentionPolicy == "" {
		return "", &NoDefaultRetentionPolicyError{Database: di.Name}
	}
	return di.DefaultRetentionPolicy, nil
}

// ShardGroupByTimestamp returns the live (not deleted) group of db/rp that
// contains t, or nil.
func (d *Data) ShardGroupByTimestamp(db, rp string, t time.Time) *ShardGroupInfo {
	rpi := d.RetentionPolicy(db, rp)
	if rpi == nil {
		return nil
	}
	return rpi.shardGroupByTimestamp(t)
}

func (rpi *RetentionPolicyInfo) shardGroupByTimestamp(t time.Time) *ShardGroupInfo {
	for i := range rpi.ShardGroups {
		sg := &rpi.ShardGroups[i]
		if !sg.Deleted() && sg.Contains(t) {
			return sg
		}
	}
	return nil
}

// ShardGroupsByTimeRange returns the live groups of db/rp overlapping the
// closed range [min, max], ordered by start time.
func (d *Data) ShardGroupsByTimeRange(db, rp string, min, max time.Time) []ShardGroupInfo {
	rpi := d.RetentionPolicy(db, rp)
	if rpi == nil {
		return nil
	}
	var out []ShardGroupInfo
	for _, sg := range rpi.ShardGroups {
		if !sg.Deleted() && sg.Overlaps(min, max) {
			out = append(out, sg)
		}
	}
	return out
}

// ShardGroup returns the group with id in db/rp, or nil.
func (d *Data) ShardGroup(db, rp string, id uint64) *ShardGroupInfo {
	rpi := d.RetentionPolicy(db, rp)
	if rpi == nil {
		return nil
	}
	for i := range rpi.ShardGroups {
		if rpi.ShardGroups[i].ID == id {
			return &rpi.ShardGroups[i]
		}
	}
	return nil
}

// ShardLocation names a shard with where it lives in the hierarchy.
type ShardLocation struct {
	Database        string    `json:"database"`
	RetentionPolicy string    `json:"retention_policy"`
	ShardGroupID    uint64    `json:"shard_group_id"`
	StartTime       time.Time `json:"start_time"`
	EndTime         time.Time `json:"end_time"`
	Shard           ShardInfo `json:"shard"`
	// Want is the policy's replication factor.
	Want int `json:"want"`
}

// ShardOwners returns the owner node ids of the shard with id, or nil if no
// live group holds that shard.
func (d *Data) ShardOwners(shardID uint64) []uint64 {
	var owners []uint64
	d.walkShards(func(loc ShardLocation) bool {
		if loc.Shard.ID == shardID {
			owners = loc.Shard.Owners
			return false
		}
		return true
	})
	return owners
}

// Shards returns every shard of a live group, in the order of databases,
// policies and groups.
func (d *Data) Shards() []ShardLocation {
	var out []ShardLocation
	d.walkShards(func(loc ShardLocation) bool {
		out = append(out, loc)
		return true
	})
	return out
}

// ShardsOwnedBy returns every shard of a live group that node nodeID owns.
func (d *Data) ShardsOwnedBy(nodeID uint64) []ShardLocation {
	var out []ShardLocation
	d.walkShards(func(loc ShardLocation) bool {
		if slices.Contains(loc.Shard.Owners, nodeID) {
			out = append(out, loc)
		}
		return true
	})
	return out
}

// UnderReplicatedShards returns every shard of a live group with fewer owners
// than its policy's replication factor: shards that lost an owner when a data
// node was removed, and shards created while there were fewer data nodes than
// the replication factor. Nothing is reassigned automatically.
func (d *Data) UnderReplicatedShards() []ShardLocation {
	var out []ShardLocation
	d.walkShards(func(loc ShardLocation) bool {
		if len(loc.Shard.Owners) < loc.Want {
			out = append(out, loc)
		}
		return true
	})
	return out
}

// walkShards calls fn for each shard of each live group until fn returns false.
func (d *Data) walkShards(fn func(ShardLocation) bool) {
	for _, di := range d.Databases {
		for _, rpi := range di.RetentionPolicies {
			for _, sg := range rpi.ShardGroups {
				if sg.Deleted() {
					continue
				}
				for _, sh := range sg.Shards {
					if !fn(ShardLocation{
						Database: di.Name, RetentionPolicy: rpi.Name, ShardGroupID: sg.ID,
						StartTime: sg.StartTime, EndTime: sg.EndTime, Shard: sh, Want: rpi.ReplicaN,
					}) {
						return
					}
				}
			}
		}
	}
}

// DataNode returns the data node with id, or nil.
func (d *Data) DataNode(id uint64) *NodeInfo {
	i := sort.Search(len(d.DataNodes), func(i int) bool { return d.DataNodes[i].ID >= id })
	if i < len(d.DataNodes) && d.DataNodes[i].ID == id {
		return &d.DataNodes[i]
	}
	return nil
}

// DataNodeByRPCAddr returns the data node with that RPC address, or nil.
func (d *Data) DataNodeByRPCAddr(addr string) *NodeInfo {
	for i := range d.DataNodes {
		if d.DataNodes[i].RPCAddr == addr {
			return &d.DataNodes[i]
		}
	}
	return nil
}

// MetaNode returns the meta node whose id, HTTP address or raft address is
// idOrAddr, or nil.
func (d *Data) MetaNode(idOrAddr string) *MetaNodeInfo {
	for i := range d.MetaNodes {
		m := &d.MetaNodes[i]
		if m.ID == idOrAddr || m.HTTPAddr == idOrAddr || m.RaftAddr == idOrAddr {
			return m
		}
	}
	return nil
}

// User returns the named user, or nil.
func (d *Data) User(name string) *UserInfo {
	for i := range d.Users {
		if d.Users[i].Name == name {
			return &d.Users[i]
		}
	}
	return nil
}

// Clone returns a deep copy of d that shares no memory with it.
func (d *Data) Clone() *Data {
	if d == nil {
		return nil
	}
	c := *d
	c.MetaNodes = slices.Clone(d.MetaNodes)
	c.DataNodes = slices.Clone(d.DataNodes)
	c.Databases = make([]DatabaseInfo, len(d.Databases))
	for i, di := range d.Databases {
		c.Databases[i] = di.clone()
	}
	c.Users = make([]UserInfo, len(d.Users))
	for i, u := range d.Users {
		c.Users[i] = u
		if u.Privileges != nil {
			c.Users[i].Privileges = make(map[string]Privilege, len(u.Privileges))
			for k, v := range u.Privileges {
				c.Users[i].Privileges[k] = v
			}
		}
	}
	return &c
}

func (di DatabaseInfo) clone() DatabaseInfo {
	c := di
	c.RetentionPolicies = make([]RetentionPolicyInfo, len(di.RetentionPolicies))
	for i, rpi := range di.RetentionPolicies {
		c.RetentionPolicies[i] = rpi.clone()
	}
	c.ContinuousQueries = slices.Clone(di.ContinuousQueries)
	return c
}

func (rpi RetentionPolicyInfo) clone() RetentionPolicyInfo {
	c := rpi
	c.ShardGroups = make([]ShardGroupInfo, len(rpi.ShardGroups))
	for i, sg := range rpi.ShardGroups {
		c.ShardGroups[i] = sg
		c.ShardGroups[i].Shards = make([]ShardInfo, len(sg.Shards))
		for j, sh := range sg.Shards {
			c.ShardGroups[i].Shards[j] = ShardInfo{ID: sh.ID, Owners: slices.Clone(sh.Owners)}
		}
	}
	return c
}
