package meta

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The mutators below change d in place and are pure: no I/O, no clock, no
// randomness. The FSM applies them to a clone of the current state, so a
// failed command leaves the published state untouched.

// Retention-policy defaults, as InfluxDB 1.x uses them.
const (
	// DefaultRetentionPolicyName is the policy CreateDatabase makes when
	// given no spec (or a spec without a name).
	DefaultRetentionPolicyName = "autogen"
	// DefaultReplicaN is the replication factor of a database created
	// without one while the cluster has no default set.
	DefaultReplicaN = 1
	// MaxNameLength bounds database, retention policy and user names.
	MaxNameLength = 255
)

// RetentionPolicySpec describes a retention policy to create.
type RetentionPolicySpec struct {
	// Name of the policy; "" means DefaultRetentionPolicyName.
	Name string `json:"name,omitempty"`
	// Duration is how long data is kept; 0 means forever.
	Duration time.Duration `json:"duration"`
	// ShardGroupDuration is the time span of each shard group; 0 means the
	// InfluxDB default for Duration (see DefaultShardGroupDuration).
	ShardGroupDuration time.Duration `json:"shard_group_duration,omitempty"`
	// ReplicaN is the replication factor; nil means the cluster's default
	// (Data.DefaultReplication) for a new database, and the database's
	// default policy's for a new policy.
	ReplicaN *int `json:"replica_n,omitempty"`
}

// RetentionPolicyUpdate lists the fields of a policy to change; nil fields
// stay as they are.
type RetentionPolicyUpdate struct {
	Name               *string        `json:"name,omitempty"`
	Duration           *time.Duration `json:"duration,omitempty"`
	ShardGroupDuration *time.Duration `json:"shard_group_duration,omitempty"`
	ReplicaN           *int           `json:"replica_n,omitempty"`
}

// DefaultShardGroupDuration returns InfluxDB's shard-group duration for a
// retention duration: below 2 days → 1h, up to 6 months (4380h) → 1 day,
// longer or infinite (0) → 7 days.
func DefaultShardGroupDuration(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return 7 * 24 * time.Hour
	case d < 2*24*time.Hour:
		return time.Hour
	case d <= 4380*time.Hour:
		return 24 * time.Hour
	default:
		return 7 * 24 * time.Hour
	}
}

// ValidateName checks a database, retention policy or user name: 1 to
// MaxNameLength bytes of UTF-8, no control characters, no '/', not "." or "..".
func ValidateName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty: %w", kind, ErrInvalidName)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%s name is longer than %d bytes: %w", kind, MaxNameLength, ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s name %q is not valid UTF-8: %w", kind, name, ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("%s name %q is reserved: %w", kind, name, ErrInvalidName)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("%s name %q contains '/': %w", kind, name, ErrInvalidName)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("%s name %q contains a control character: %w", kind, name, ErrInvalidName)
	}
	return nil
}

func validateAddr(kind, addr string) error {
	if addr == "" {
		return fmt.Errorf("%s address is empty: %w", kind, ErrInvalidAddress)
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || i == len(addr)-1 || strings.ContainsFunc(addr, unicode.IsSpace) {
		return fmt.Errorf("%s address %q is not host:port: %w", kind, addr, ErrInvalidAddress)
	}
	return nil
}

// policyFromSpec validates a spec and fills in its defaults; replicaN is
// the replication factor when the spec names none.
func policyFromSpec(spec RetentionPolicySpec, replicaN int) (RetentionPolicyInfo, error) {
	rpi := RetentionPolicyInfo{
		Name:               spec.Name,
		Duration:           spec.Duration,
		ShardGroupDuration: spec.ShardGroupDuration,
		ReplicaN:           replicaN,
	}
	if rpi.Name == "" {
		rpi.Name = DefaultRetentionPolicyName
	}
	if spec.ReplicaN != nil {
		rpi.ReplicaN = *spec.ReplicaN
	}
	if rpi.ShardGroupDuration == 0 {
		rpi.ShardGroupDuration = DefaultShardGroupDuration(rpi.Duration)
	}
	return rpi, validatePolicy(&rpi)
}

func validatePolicy(rpi *RetentionPolicyInfo) error {
	if err := ValidateName("retention policy", rpi.Name); err != nil {
		return err
	}
	if rpi.ReplicaN < 1 {
		return fmt.Errorf("retention policy %q: replication factor %d is below 1: %w", rpi.Name, rpi.ReplicaN, ErrInvalidReplicationFactor)
	}
	if rpi.Duration < 0 || rpi.ShardGroupDuration <= 0 {
		return fmt.Errorf("retention policy %q: duration %v / shard group duration %v must not be negative: %w",
			rpi.Name, rpi.Duration, rpi.ShardGroupDuration, ErrInvalidDuration)
	}
	if rpi.Duration != 0 && rpi.Duration < rpi.ShardGroupDuration {
		return fmt.Errorf("retention policy %q: duration %v is shorter than shard group duration %v: %w",
			rpi.Name, rpi.Duration, rpi.ShardGroupDuration, ErrInvalidDuration)
	}
	return nil
}

// samePolicy compares the settings (not the shard groups) of two policies.
func samePolicy(a, b *RetentionPolicyInfo) bool {
	return a.Name == b.Name && a.Duration == b.Duration &&
		a.ShardGroupDuration == b.ShardGroupDuration && a.ReplicaN == b.ReplicaN
}

func (d *Data) mustDatabase(name string) (*DatabaseInfo, error) {
	if err := ValidateName("database", name); err != nil {
		return nil, err
	}
	di := d.Database(name)
	if di == nil {
		return nil, fmt.Errorf("database %q: %w", name, ErrDatabaseNotFound)
	}
	return di, nil
}

func (d *Data) mustRetentionPolicy(db, rp string) (*RetentionPolicyInfo, error) {
	di, err := d.mustDatabase(db)
	if err != nil {
		return nil, err
	}
	if rp != "" {
		if err := ValidateName("retention policy", rp); err != nil {
			return nil, err
		}
	}
	rpi := di.RetentionPolicy(rp)
	if rpi == nil {
		if rp == "" {
			return nil, fmt.Errorf("database %q has no default retention policy: %w", db, ErrRetentionPolicyNotFound)
		}
		return nil, fmt.Errorf("retention policy %q on database %q: %w", rp, db, ErrRetentionPolicyNotFound)
	}
	return rpi, nil
}

// createDatabase creates a database with the policy from spec (autogen,
// infinite, when spec is nil). An existing database with a nil spec, or with
// a spec equal to its policy of that name, is a no-op.
func (d *Data) createDatabase(name string, spec *RetentionPolicySpec) (*DatabaseInfo, error) {
	if err := ValidateName("database", name); err != nil {
		return nil, err
	}
	var rpi RetentionPolicyInfo
	var err error
	if spec != nil {
		rpi, err = policyFromSpec(*spec, d.DefaultReplication())
	} else {
		rpi, err = policyFromSpec(RetentionPolicySpec{}, d.DefaultReplication())
	}
	if err != nil {
		return nil, err
	}
	if di := d.Database(name); di != nil {
		if spec == nil {
			return di, nil
		}
		if cur := di.RetentionPolicy(rpi.Name); cur == nil || !samePolicy(cur, &rpi) {
			return nil, fmt.Errorf("database %q exists and policy %q differs: %w", name, rpi.Name, ErrRetentionPolicyConflict)
		}
		return di, nil
	}
	di := DatabaseInfo{Name: name, DefaultRetentionPolicy: rpi.Name, RetentionPolicies: []RetentionPolicyInfo{rpi}}
	i, _ := slices.BinarySearchFunc(d.Databases, name, func(x DatabaseInfo, n string) int { return strings.Compare(x.Name, n) })
	d.Databases = slices.Insert(d.Databases, i, di)
	return &d.Databases[i], nil
}

// dropDatabase removes a database; dropping a missing one is a no-op, as in
// InfluxDB. Privileges on it are removed from every user.
func (d *Data) dropDatabase(name string) error {
	if err := ValidateName("database", name); err != nil {
		return err
	}
	d.Databases = slices.DeleteFunc(d.Databases, func(di DatabaseInfo) bool { return di.Name == name })
	for i := range d.Users {
		delete(d.Users[i].Privileges, name)
	}
	return nil
}

// createRetentionPolicy adds a policy to db. An existing policy with the
// same settings is a no-op (apart from makeDefault).
func (d *Data) createRetentionPolicy(db string, spec RetentionPolicySpec, makeDefault bool) (*RetentionPolicyInfo, error) {
	di, err := d.mustDatabase(db)
	if err != nil {
		return nil, err
	}
	replicaN := d.DefaultReplication()
	if def := di.RetentionPolicy(""); def != nil {
		replicaN = def.ReplicaN
	}
	rpi, err := policyFromSpec(spec, replicaN)
	if err != nil {
		return nil, err
	}
	if makeDefault || di.DefaultRetentionPolicy == "" {
		di.DefaultRetentionPolicy = rpi.Name
	}
	if cur := di.RetentionPolicy(rpi.Name); cur != nil {
		if !samePolicy(cur, &rpi) {
			return nil, fmt.Errorf("retention policy %q on database %q: %w", rpi.Name, db, ErrRetentionPolicyExists)
		}
		return cur, nil
	}
	i, _ := slices.BinarySearchFunc(di.RetentionPolicies, rpi.Name, func(x RetentionPolicyInfo, n string) int { return strings.Compare(x.Name, n) })
	di.RetentionPolicies = slices.Insert(di.RetentionPolicies, i, rpi)
	return &di.RetentionPolicies[i], nil
}

// updateRetentionPolicy changes the non-nil fields of upd on db's policy name.
func (d *Data) updateRetentionPolicy(db, name string, upd RetentionPolicyUpdate, makeDefault bool) (*RetentionPolicyInfo, error) {
	rpi, err := d.mustRetentionPolicy(db, name)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = rpi.Name
	}
	di := d.Database(db)
	next := *rpi
	if upd.Name != nil {
		next.Name = *upd.Name
		if next.Name != name && di.RetentionPolicy(next.Name) != nil {
			return nil, fmt.Errorf("rename retention policy %q to %q on database %q: %w", name, next.Name, db, ErrRetentionPolicyExists)
		}
	}
	if upd.Duration != nil {
		next.Duration = *upd.Duration
	}
	if upd.ShardGroupDuration != nil {
		next.ShardGroupDuration = *upd.ShardGroupDuration
	}
	if upd.ReplicaN != nil {
		next.ReplicaN = *upd.ReplicaN
	}
	if err := validatePolicy(&next); err != nil {
		return nil, err
	}
	*rpi = next
	if di.DefaultRetentionPolicy == name || makeDefault {
		di.DefaultRetentionPolicy = next.Name
	}
	slices.SortFunc(di.RetentionPolicies, func(a, b RetentionPolicyInfo) int { return strings.Compare(a.Name, b.Name) })
	return di.RetentionPolicy(next.Name), nil
}

// dropRetentionPolicy removes a policy; a missing policy is a no-op, a
// missing database an error.
func (d *Data) dropRetentionPolicy(db, name string) error {
	di, err := d.mustDatabase(db)
	if err != nil {
		return err
	}
	if err := ValidateName("retention policy", name); err != nil {
		return err
	}
	di.RetentionPolicies = slices.DeleteFunc(di.RetentionPolicies, func(r RetentionPolicyInfo) bool { return r.Name == name })
	if di.DefaultRetentionPolicy == name {
		di.DefaultRetentionPolicy = ""
	}
	return nil
}

// deleteShardGroup marks a group deleted at now; deleting a deleted group is
// a no-op.
func (d *Data) deleteShardGroup(db, rp string, id uint64, now time.Time) error {
	if _, err := d.mustRetentionPolicy(db, rp); err != nil {
		return err
	}
	sg := d.ShardGroup(db, rp, id)
	if sg == nil {
		return fmt.Errorf("shard group %d in %q.%q: %w", id, db, rp, ErrShardGroupNotFound)
	}
	if !sg.Deleted() {
		sg.DeletedAt = now.UTC()
	}
	return nil
}

// truncateShardGroups ends every live group that contains t at t, so the
// next write at or after t creates a new group with the current placement.
// Groups entirely after t are left alone.
func (d *Data) truncateShardGroups(t time.Time) {
	t = t.UTC()
	for i := range d.Databases {
		for j := range d.Databases[i].RetentionPolicies {
			rpi := &d.Databases[i].RetentionPolicies[j]
			for k := range rpi.ShardGroups {
				sg := &rpi.ShardGroups[k]
				if !sg.Deleted() && sg.Contains(t) {
					sg.EndTime = t
					sg.TruncatedAt = t
				}
			}
		}
	}
}

// ShardGroupDeletedExpiration is how long a group stays in the state after
// it was marked deleted, so every data node sees the mark (and drops its
// shards) before the group disappears; as InfluxDB's meta service does.
const ShardGroupDeletedExpiration = 24 * time.Hour

// deleteExpiredShardGroups marks deleted, at now, every live group whose end
// is older than now minus its policy's duration, and removes groups marked
// deleted before now - ShardGroupDeletedExpiration. It returns how many
// groups it marked and how many it removed.
func (d *Data) deleteExpiredShardGroups(now time.Time) (marked, pruned int) {
	now = now.UTC()
	pruneBefore := now.Add(-ShardGroupDeletedExpiration)
	for i := range d.Databases {
		for j := range d.Databases[i].RetentionPolicies {
			rpi := &d.Databases[i].RetentionPolicies[j]
			n := len(rpi.ShardGroups)
			rpi.ShardGroups = slices.DeleteFunc(rpi.ShardGroups, func(sg ShardGroupInfo) bool {
				return sg.Deleted() && sg.DeletedAt.Before(pruneBefore)
			})
			pruned += n - len(rpi.ShardGroups)
			if rpi.Duration == 0 {
				continue
			}
			cutoff := now.Add(-rpi.Duration)
			for k := range rpi.ShardGroups {
				sg := &rpi.ShardGroups[k]
				if !sg.Deleted() && sg.EndTime.Before(cutoff) {
					sg.DeletedAt = now
					marked++
				}
			}
		}
	}
	return marked, pruned
}

// createDataNode registers a data node keyed by its RPC address: an existing
// node with that address keeps its id (its HTTP address is updated).
func (d *Data) createDataNode(httpAddr, rpcAddr string) (*NodeInfo, error) {
	if err := validateAddr("data node http", httpAddr); err != nil {
		return nil, err
	}
	if err := validateAddr("data node rpc", rpcAddr); err != nil {
		return nil, err
	}
	if n := d.DataNodeByRPCAddr(rpcAddr); n != nil {
		if err := d.checkDataNodeAddrs(n.ID, httpAddr, rpcAddr); err != nil {
			return nil, err
		}
		n.HTTPAddr = httpAddr
		return n, nil
	}
	if err := d.checkDataNodeAddrs(0, httpAddr, rpcAddr); err != nil {
		return nil, err
	}
	d.MaxNodeID++
	d.DataNodes = append(d.DataNodes, NodeInfo{ID: d.MaxNodeID, HTTPAddr: httpAddr, RPCAddr: rpcAddr})
	return &d.DataNodes[len(d.DataNodes)-1], nil
}

// checkDataNodeAddrs fails if a node other than id uses either address.
func (d *Data) checkDataNodeAddrs(id uint64, httpAddr, rpcAddr string) error {
	for _, n := range d.DataNodes {
		if n.ID != id && (n.HTTPAddr == httpAddr || n.RPCAddr == rpcAddr) {
			return fmt.Errorf("data node %d already uses %q or %q: %w", n.ID, httpAddr, rpcAddr, ErrDataNodeExists)
		}
	}
	return nil
}

func (d *Data) updateDataNode(id uint64, httpAddr, rpcAddr string) (*NodeInfo, error) {
	if err := validateAddr("data node http", httpAddr); err != nil {
		return nil, err
	}
	if err := validateAddr("data node rpc", rpcAddr); err != nil {
		return nil, err
	}
	n := d.DataNode(id)
	if n == nil {
		return nil, fmt.Errorf("data node %d: %w", id, ErrDataNodeNotFound)
	}
	if err := d.checkDataNodeAddrs(id, httpAddr, rpcAddr); err != nil {
		return nil, err
	}
	n.HTTPAddr, n.RPCAddr = httpAddr, rpcAddr
	return n, nil
}

// setDataNodeDraining marks data node id as draining or not.
func (d *Data) setDataNodeDraining(id uint64, draining bool) error {
	n := d.DataNode(id)
	if n == nil {
		return fmt.Errorf("data node %d: %w", id, ErrDataNodeNotFound)
	}
	n.Draining = draining
	return nil
}

// deleteDataNode removes a data node and drops it from every shard's owners.
// Nothing is reassigned: those shards become under-replicated.
func (d *Data) deleteDataNode(id uint64) error {
	if d.DataNode(id) == nil {
		return fmt.Errorf("data node %d: %w", id, ErrDataNodeNotFound)
	}
	d.DataNodes = slices.DeleteFunc(d.DataNodes, func(n NodeInfo) bool { return n.ID == id })
	for i := range d.Databases {
		for j := range d.Databases[i].RetentionPolicies {
			rpi := &d.Databases[i].RetentionPolicies[j]
			for k := range rpi.ShardGroups {
				for s := range rpi.ShardGroups[k].Shards {
					sh := &rpi.ShardGroups[k].Shards[s]
					sh.Owners = slices.DeleteFunc(sh.Owners, func(o uint64) bool { return o == id })
				}
			}
		}
	}
	return nil
}

// liveShard returns the shard with id of a live group, or an error
// wrapping ErrShardNotFound.
func (d *Data) liveShard(id uint64) (*ShardInfo, error) {
	for i := range d.Databases {
		for j := range d.Databases[i].RetentionPolicies {
			rpi := &d.Databases[i].RetentionPolicies[j]
			for k := range rpi.ShardGroups {
				sg := &rpi.ShardGroups[k]
				if sg.Deleted() {
					continue
				}
				for s := range sg.Shards {
					if sg.Shards[s].ID == id {
						return &sg.Shards[s], nil
					}
				}
			}
		}
	}
	return nil, fmt.Errorf("shard %d: %w", id, ErrShardNotFound)
}

// addShardOwner makes data node node an owner of shard (a no-op when it is).
func (d *Data) addShardOwner(shard, node uint64) error {
	sh, err := d.liveShard(shard)
	if err != nil {
		return err
	}
	if d.DataNode(node) == nil {
		return fmt.Errorf("data node %d: %w", node, ErrDataNodeNotFound)
	}
	if !slices.Contains(sh.Owners, node) {
		sh.Owners = append(sh.Owners, node)
	}
	return nil
}

// removeShardOwner drops node from shard's owners (a no-op when it is not
// one); dropping the last owner needs force.
func (d *Data) removeShardOwner(shard, node uint64, force bool) error {
	sh, err := d.liveShard(shard)
	if err != nil {
		return err
	}
	if !slices.Contains(sh.Owners, node) {
		return nil
	}
	if len(sh.Owners) == 1 && !force {
		return fmt.Errorf("node %d is the only owner of shard %d: %w", node, shard, ErrLastShardOwner)
	}
	sh.Owners = slices.DeleteFunc(sh.Owners, func(o uint64) bool { return o == node })
	return nil
}

// addMetaNode inserts or updates (by id) a meta node.
func (d *Data) addMetaNode(m MetaNodeInfo) error {
	if m.ID == "" || strings.ContainsFunc(m.ID, unicode.IsControl) {
		return fmt.Errorf("meta node id %q: %w", m.ID, ErrInvalidName)
	}
	if err := validateAddr("meta node raft", m.RaftAddr); err != nil {
		return err
	}
	if err := validateAddr("meta node http", m.HTTPAddr); err != nil {
		return err
	}
	i, found := slices.BinarySearchFunc(d.MetaNodes, m.ID, func(x MetaNodeInfo, id string) int { return strings.Compare(x.ID, id) })
	if found {
		d.MetaNodes[i] = m
	} else {
		d.MetaNodes = slices.Insert(d.MetaNodes, i, m)
	}
	return nil
}

func (d *Data) removeMetaNode(id string) error {
	n := len(d.MetaNodes)
	d.MetaNodes = slices.DeleteFunc(d.MetaNodes, func(m MetaNodeInfo) bool { return m.ID == id })
	if len(d.MetaNodes) == n {
		return fmt.Errorf("meta node %q: %w", id, ErrMetaNodeNotFound)
	}
	return nil
}

// setDefaultReplication sets the cluster's replication factor for new
// databases that name none.
func (d *Data) setDefaultReplication(n int) error {
	if n < 1 {
		return fmt.Errorf("default replication factor %d is below 1: %w", n, ErrInvalidReplicationFactor)
	}
	d.DefaultReplicaN = n
	return nil
}
