package meta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// CommandVersion is the only command envelope version this code applies.
// A command with another version is rejected (in validation and in Apply),
// so a newer leader cannot make older followers guess. Bump it when the
// meaning of an existing command type changes; adding a type needs no bump.
const CommandVersion = 1

// CommandType names a command.
type CommandType string

// Command types. docs/api.md lists each payload.
const (
	CmdCreateDatabase           CommandType = "create_database"
	CmdDropDatabase             CommandType = "drop_database"
	CmdCreateRetentionPolicy    CommandType = "create_retention_policy"
	CmdUpdateRetentionPolicy    CommandType = "update_retention_policy"
	CmdDropRetentionPolicy      CommandType = "drop_retention_policy"
	CmdCreateShardGroup         CommandType = "create_shard_group"
	CmdDeleteShardGroup         CommandType = "delete_shard_group"
	CmdTruncateShardGroups      CommandType = "truncate_shard_groups"
	CmdDeleteExpiredShardGroups CommandType = "delete_expired_shard_groups"
	CmdCreateDataNode           CommandType = "create_data_node"
	CmdUpdateDataNode           CommandType = "update_data_node"
	CmdDeleteDataNode           CommandType = "delete_data_node"
	CmdSetDataNodeDraining      CommandType = "set_data_node_draining"
	CmdAddMetaNode              CommandType = "add_meta_node"
	CmdRemoveMetaNode           CommandType = "remove_meta_node"
	CmdCreateUser               CommandType = "create_user"
	CmdDropUser                 CommandType = "drop_user"
	CmdSetPassword              CommandType = "set_password"
	CmdSetAdmin                 CommandType = "set_admin"
	CmdGrantPrivilege           CommandType = "grant_privilege"
	CmdRevokePrivilege          CommandType = "revoke_privilege"
	CmdCreateContinuousQuery    CommandType = "create_continuous_query"
	CmdDropContinuousQuery      CommandType = "drop_continuous_query"
	CmdRecordContinuousQueryRun CommandType = "record_continuous_query_run"
	CmdAcquireCQLease           CommandType = "acquire_cq_lease"
	CmdAddShardOwner            CommandType = "add_shard_owner"
	CmdRemoveShardOwner         CommandType = "remove_shard_owner"
	CmdSetDefaultReplication    CommandType = "set_default_replication"
)

// MaxRequestIDLength bounds Command.RequestID.
const MaxRequestIDLength = 128

// Command is the envelope of every state change: it is what POST /execute
// takes and what the raft log holds, as JSON.
type Command struct {
	// Version must be CommandVersion.
	Version int `json:"version"`
	// Type selects the payload.
	Type CommandType `json:"type"`
	// RequestID is chosen by the client and reused on every retry of the
	// same logical command; the FSM answers a repeated id with the first
	// result instead of applying again. The server fills in a random id
	// when it is empty (such a command is then not retry-safe).
	RequestID string `json:"request_id,omitempty"`
	// Time is the proposing leader's clock, filled in by the server when
	// zero. Commands that need "now" (deleting groups) use it, never the
	// applying node's clock.
	Time time.Time `json:"time,omitzero"`
	// Payload is the type-specific argument object.
	Payload json.RawMessage `json:"payload"`
}

// Payloads of each command type.
type (
	// CreateDatabasePayload is the payload of CmdCreateDatabase.
	CreateDatabasePayload struct {
		Name            string               `json:"name"`
		RetentionPolicy *RetentionPolicySpec `json:"retention_policy,omitempty"`
	}
	// DropDatabasePayload is the payload of CmdDropDatabase.
	DropDatabasePayload struct {
		Name string `json:"name"`
	}
	// CreateRetentionPolicyPayload is the payload of CmdCreateRetentionPolicy.
	CreateRetentionPolicyPayload struct {
		Database    string              `json:"database"`
		Spec        RetentionPolicySpec `json:"spec"`
		MakeDefault bool                `json:"make_default,omitempty"`
	}
	// UpdateRetentionPolicyPayload is the payload of CmdUpdateRetentionPolicy.
	UpdateRetentionPolicyPayload struct {
		Database    string                `json:"database"`
		Name        string                `json:"name"`
		Update      RetentionPolicyUpdate `json:"update"`
		MakeDefault bool                  `json:"make_default,omitempty"`
	}
	// DropRetentionPolicyPayload is the payload of CmdDropRetentionPolicy.
	DropRetentionPolicyPayload struct {
		Database string `json:"database"`
		Name     string `json:"name"`
	}
	// CreateShardGroupPayload is the payload of CmdCreateShardGroup.
	CreateShardGroupPayload struct {
		Database        string    `json:"database"`
		RetentionPolicy string    `json:"retention_policy"`
		Timestamp       time.Time `json:"timestamp"`
	}
	// DeleteShardGroupPayload is the payload of CmdDeleteShardGroup.
	DeleteShardGroupPayload struct {
		Database        string `json:"database"`
		RetentionPolicy string `json:"retention_policy"`
		ID              uint64 `json:"id"`
	}
	// TruncateShardGroupsPayload is the payload of CmdTruncateShardGroups.
	TruncateShardGroupsPayload struct {
		Timestamp time.Time `json:"timestamp"`
	}
	// DeleteExpiredShardGroupsPayload is the (empty) payload of
	// CmdDeleteExpiredShardGroups; it uses Command.Time as now.
	DeleteExpiredShardGroupsPayload struct{}
	// CreateDataNodePayload is the payload of CmdCreateDataNode.
	CreateDataNodePayload struct {
		HTTPAddr string `json:"http_addr"`
		RPCAddr  string `json:"rpc_addr"`
	}
	// UpdateDataNodePayload is the payload of CmdUpdateDataNode.
	UpdateDataNodePayload struct {
		ID       uint64 `json:"id"`
		HTTPAddr string `json:"http_addr"`
		RPCAddr  string `json:"rpc_addr"`
	}
	// DeleteDataNodePayload is the payload of CmdDeleteDataNode.
	DeleteDataNodePayload struct {
		ID uint64 `json:"id"`
	}
	// SetDataNodeDrainingPayload is the payload of CmdSetDataNodeDraining:
	// a draining node is given no shard of a group created afterwards.
	SetDataNodeDrainingPayload struct {
		ID       uint64 `json:"id"`
		Draining bool   `json:"draining"`
	}
	// AddMetaNodePayload is the payload of CmdAddMetaNode.
	AddMetaNodePayload = MetaNodeInfo
	// RemoveMetaNodePayload is the payload of CmdRemoveMetaNode.
	RemoveMetaNodePayload struct {
		ID string `json:"id"`
	}
	// CreateUserPayload is the payload of CmdCreateUser (Hash is bcrypt).
	CreateUserPayload struct {
		Name  string `json:"name"`
		Hash  string `json:"hash"`
		Admin bool   `json:"admin,omitempty"`
	}
	// DropUserPayload is the payload of CmdDropUser.
	DropUserPayload struct {
		Name string `json:"name"`
	}
	// SetPasswordPayload is the payload of CmdSetPassword (Hash is bcrypt).
	SetPasswordPayload struct {
		Name string `json:"name"`
		Hash string `json:"hash"`
	}
	// SetAdminPayload is the payload of CmdSetAdmin.
	SetAdminPayload struct {
		Name  string `json:"name"`
		Admin bool   `json:"admin"`
	}
	// GrantPrivilegePayload is the payload of CmdGrantPrivilege.
	GrantPrivilegePayload struct {
		User      string    `json:"user"`
		Database  string    `json:"database"`
		Privilege Privilege `json:"privilege"`
	}
	// RevokePrivilegePayload is the payload of CmdRevokePrivilege.
	RevokePrivilegePayload struct {
		User     string `json:"user"`
		Database string `json:"database"`
	}
	// AddShardOwnerPayload is the payload of CmdAddShardOwner; adding an
	// owner the shard has is a no-op.
	AddShardOwnerPayload struct {
		Shard uint64 `json:"shard"`
		Node  uint64 `json:"node"`
	}
	// RemoveShardOwnerPayload is the payload of CmdRemoveShardOwner;
	// removing a node that does not own the shard is a no-op. Removing the
	// last owner fails with ErrLastShardOwner unless Force is set.
	RemoveShardOwnerPayload struct {
		Shard uint64 `json:"shard"`
		Node  uint64 `json:"node"`
		Force bool   `json:"force,omitempty"`
	}
	// SetDefaultReplicationPayload is the payload of CmdSetDefaultReplication.
	SetDefaultReplicationPayload struct {
		ReplicaN int `json:"replica_n"`
	}
)

// Result is the outcome of one command: what POST /execute answers and what
// the FSM remembers per request id. Exactly one of the object fields is set
// for commands that return one; Error and Code are set when it failed.
type Result struct {
	// Index is the raft index at which the command was applied (0 when it
	// was rejected before raft).
	Index uint64 `json:"index"`
	// Error is the failure message; Code its stable code (see ErrorCode).
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`

	Database        *DatabaseInfo        `json:"database,omitempty"`
	RetentionPolicy *RetentionPolicyInfo `json:"retention_policy,omitempty"`
	ShardGroup      *ShardGroupInfo      `json:"shard_group,omitempty"`
	DataNode        *NodeInfo            `json:"data_node,omitempty"`
	// Count is the number of groups a retention sweep marked deleted;
	// Pruned how many long-deleted groups it removed from the state.
	Count  int `json:"count,omitempty"`
	Pruned int `json:"pruned,omitempty"`
	// Lease is the continuous query lease after CmdAcquireCQLease.
	Lease *CQLease `json:"lease,omitempty"`
}

// Err returns the result's error as a value that unwraps to its sentinel, or nil.
func (r *Result) Err() error {
	if r.Error == "" {
		return nil
	}
	return &APIError{StatusCode: 400, Code: r.Code, Message: r.Error}
}

// NewCommand builds a version-1 command with the given payload.
func NewCommand(typ CommandType, requestID string, payload any) (*Command, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	return &Command{Version: CommandVersion, Type: typ, RequestID: requestID, Payload: b}, nil
}

// DecodeCommand parses a command envelope strictly (unknown fields, a wrong
// version or an unknown type are ErrInvalidCommand) and checks its payload
// decodes. Bytes come from the network, so it never panics.
func DecodeCommand(b []byte) (*Command, error) {
	var c Command
	if err := strictUnmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode command: %w: %w", ErrInvalidCommand, err)
	}
	if _, err := c.decodePayload(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodePayload checks the envelope and decodes the payload into its type.
func (c *Command) decodePayload() (any, error) {
	if c.Version != CommandVersion {
		return nil, fmt.Errorf("command version %d (this node applies version %d): %w", c.Version, CommandVersion, ErrInvalidCommand)
	}
	if len(c.RequestID) > MaxRequestIDLength {
		return nil, fmt.Errorf("request id longer than %d bytes: %w", MaxRequestIDLength, ErrInvalidCommand)
	}
	newPayload, ok := payloadTypes[c.Type]
	if !ok {
		return nil, fmt.Errorf("unknown command type %q: %w", c.Type, ErrInvalidCommand)
	}
	p := newPayload()
	if len(c.Payload) == 0 {
		return nil, fmt.Errorf("%s: missing payload: %w", c.Type, ErrInvalidCommand)
	}
	if err := strictUnmarshal(c.Payload, p); err != nil {
		return nil, fmt.Errorf("decode %s payload: %w: %w", c.Type, ErrInvalidCommand, err)
	}
	return p, nil
}

var payloadTypes = map[CommandType]func() any{
	CmdCreateDatabase:           func() any { return new(CreateDatabasePayload) },
	CmdDropDatabase:             func() any { return new(DropDatabasePayload) },
	CmdCreateRetentionPolicy:    func() any { return new(CreateRetentionPolicyPayload) },
	CmdUpdateRetentionPolicy:    func() any { return new(UpdateRetentionPolicyPayload) },
	CmdDropRetentionPolicy:      func() any { return new(DropRetentionPolicyPayload) },
	CmdCreateShardGroup:         func() any { return new(CreateShardGroupPayload) },
	CmdDeleteShardGroup:         func() any { return new(DeleteShardGroupPayload) },
	CmdTruncateShardGroups:      func() any { return new(TruncateShardGroupsPayload) },
	CmdDeleteExpiredShardGroups: func() any { return new(DeleteExpiredShardGroupsPayload) },
	CmdCreateDataNode:           func() any { return new(CreateDataNodePayload) },
	CmdUpdateDataNode:           func() any { return new(UpdateDataNodePayload) },
	CmdDeleteDataNode:           func() any { return new(DeleteDataNodePayload) },
	CmdSetDataNodeDraining:      func() any { return new(SetDataNodeDrainingPayload) },
	CmdAddMetaNode:              func() any { return new(AddMetaNodePayload) },
	CmdRemoveMetaNode:           func() any { return new(RemoveMetaNodePayload) },
	CmdCreateUser:               func() any { return new(CreateUserPayload) },
	CmdDropUser:                 func() any { return new(DropUserPayload) },
	CmdSetPassword:              func() any { return new(SetPasswordPayload) },
	CmdSetAdmin:                 func() any { return new(SetAdminPayload) },
	CmdGrantPrivilege:           func() any { return new(GrantPrivilegePayload) },
	CmdRevokePrivilege:          func() any { return new(RevokePrivilegePayload) },
	CmdCreateContinuousQuery:    func() any { return new(CreateContinuousQueryPayload) },
	CmdDropContinuousQuery:      func() any { return new(DropContinuousQueryPayload) },
	CmdRecordContinuousQueryRun: func() any { return new(RecordContinuousQueryRunPayload) },
	CmdAcquireCQLease:           func() any { return new(AcquireCQLeasePayload) },
	CmdAddShardOwner:            func() any { return new(AddShardOwnerPayload) },
	CmdRemoveShardOwner:         func() any { return new(RemoveShardOwnerPayload) },
	CmdSetDefaultReplication:    func() any { return new(SetDefaultReplicationPayload) },
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

// applyTo applies the command to d (a private clone) and returns its result
// without Index. A non-nil error means d must be discarded. It is pure:
// the only clock it reads is c.Time.
func (c *Command) applyTo(d *Data) (*Result, error) {
	p, err := c.decodePayload()
	if err != nil {
		return nil, err
	}
	r := &Result{}
	switch p := p.(type) {
	case *CreateDatabasePayload:
		di, err := d.createDatabase(p.Name, p.RetentionPolicy)
		if err != nil {
			return nil, err
		}
		r.Database = ptrClone(di.clone())
	case *DropDatabasePayload:
		err = d.dropDatabase(p.Name)
	case *CreateRetentionPolicyPayload:
		var rpi *RetentionPolicyInfo
		if rpi, err = d.createRetentionPolicy(p.Database, p.Spec, p.MakeDefault); err == nil {
			r.RetentionPolicy = ptrClone(rpi.clone())
		}
	case *UpdateRetentionPolicyPayload:
		var rpi *RetentionPolicyInfo
		if rpi, err = d.updateRetentionPolicy(p.Database, p.Name, p.Update, p.MakeDefault); err == nil {
			r.RetentionPolicy = ptrClone(rpi.clone())
		}
	case *DropRetentionPolicyPayload:
		err = d.dropRetentionPolicy(p.Database, p.Name)
	case *CreateShardGroupPayload:
		var sg *ShardGroupInfo
		if sg, err = d.createShardGroup(p.Database, p.RetentionPolicy, p.Timestamp); err == nil {
			c := RetentionPolicyInfo{ShardGroups: []ShardGroupInfo{*sg}}
			r.ShardGroup = &c.clone().ShardGroups[0]
		}
	case *DeleteShardGroupPayload:
		err = d.deleteShardGroup(p.Database, p.RetentionPolicy, p.ID, c.Time)
	case *TruncateShardGroupsPayload:
		d.truncateShardGroups(p.Timestamp)
	case *DeleteExpiredShardGroupsPayload:
		r.Count, r.Pruned = d.deleteExpiredShardGroups(c.Time)
	case *CreateDataNodePayload:
		var n *NodeInfo
		if n, err = d.createDataNode(p.HTTPAddr, p.RPCAddr); err == nil {
			r.DataNode = ptrClone(*n)
		}
	case *UpdateDataNodePayload:
		var n *NodeInfo
		if n, err = d.updateDataNode(p.ID, p.HTTPAddr, p.RPCAddr); err == nil {
			r.DataNode = ptrClone(*n)
		}
	case *DeleteDataNodePayload:
		err = d.deleteDataNode(p.ID)
	case *SetDataNodeDrainingPayload:
		err = d.setDataNodeDraining(p.ID, p.Draining)
	case *AddMetaNodePayload:
		err = d.addMetaNode(*p)
	case *RemoveMetaNodePayload:
		err = d.removeMetaNode(p.ID)
	case *CreateUserPayload:
		err = d.createUser(p.Name, p.Hash, p.Admin)
	case *DropUserPayload:
		err = d.dropUser(p.Name)
	case *SetPasswordPayload:
		err = d.setPassword(p.Name, p.Hash)
	case *SetAdminPayload:
		err = d.setAdmin(p.Name, p.Admin)
	case *GrantPrivilegePayload:
		err = d.grantPrivilege(p.User, p.Database, p.Privilege)
	case *RevokePrivilegePayload:
		err = d.revokePrivilege(p.User, p.Database)
	case *CreateContinuousQueryPayload:
		err = d.createContinuousQuery(p.Database, p.Name, p.Query, c.Time)
	case *DropContinuousQueryPayload:
		err = d.dropContinuousQuery(p.Database, p.Name)
	case *RecordContinuousQueryRunPayload:
		err = d.recordContinuousQueryRun(p.Database, p.Name, p.RunTime, p.Node)
	case *AcquireCQLeasePayload:
		if err = d.acquireCQLease(p.Node, p.Duration, c.Time); err == nil {
			r.Lease = ptrClone(d.CQLease)
		}
	case *AddShardOwnerPayload:
		err = d.addShardOwner(p.Shard, p.Node)
	case *RemoveShardOwnerPayload:
		err = d.removeShardOwner(p.Shard, p.Node, p.Force)
	case *SetDefaultReplicationPayload:
		err = d.setDefaultReplication(p.ReplicaN)
	default:
		panic(fmt.Sprintf("BUG: command type %q has a payload type but no apply case", c.Type))
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func ptrClone[T any](v T) *T { return &v }

// errorResult turns an error into a Result.
func errorResult(err error) *Result {
	return &Result{Error: err.Error(), Code: ErrorCode(err)}
}
