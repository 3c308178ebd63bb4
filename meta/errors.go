package meta

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the FSM or the HTTP API returns wraps one of
// these, so callers decide with errors.Is. Over HTTP they travel as a stable
// code (see ErrorCode) and the Client maps them back.
var (
	// ErrInvalidCommand means a command could not be decoded, has an unknown
	// version or type, or is missing a required field.
	ErrInvalidCommand = errors.New("invalid command")
	// ErrInvalidName means a database, retention policy or user name is
	// empty, too long, not UTF-8, or contains a control character or '/'.
	ErrInvalidName = errors.New("invalid name")
	// ErrInvalidReplicationFactor means a replication factor below 1.
	ErrInvalidReplicationFactor = errors.New("invalid replication factor")
	// ErrInvalidDuration means a negative duration, or a finite retention
	// duration shorter than the shard-group duration.
	ErrInvalidDuration = errors.New("invalid duration")
	// ErrDatabaseNotFound means the named database does not exist.
	ErrDatabaseNotFound = errors.New("database not found")
	// ErrRetentionPolicyNotFound means the named retention policy does not exist.
	ErrRetentionPolicyNotFound = errors.New("retention policy not found")
	// ErrRetentionPolicyExists means a retention policy of that name exists
	// with a different spec.
	ErrRetentionPolicyExists = errors.New("retention policy already exists")
	// ErrRetentionPolicyConflict means CreateDatabase was given a spec that
	// differs from the existing database's policy of the same name.
	ErrRetentionPolicyConflict = errors.New("retention policy conflicts with an existing policy")
	// ErrShardGroupNotFound means no shard group has that id.
	ErrShardGroupNotFound = errors.New("shard group not found")
	// ErrNoDataNodes means a shard group was requested while no data node is
	// registered, so it could not be placed.
	ErrNoDataNodes = errors.New("no data nodes")
	// ErrDataNodeNotFound means no data node has that id.
	ErrDataNodeNotFound = errors.New("data node not found")
	// ErrDataNodeExists means another data node already uses that address.
	ErrDataNodeExists = errors.New("data node address already in use")
	// ErrMetaNodeNotFound means no meta node has that id or address.
	ErrMetaNodeNotFound = errors.New("meta node not found")
	// ErrInvalidAddress means an empty or malformed host:port address.
	ErrInvalidAddress = errors.New("invalid address")
	// ErrUserNotFound means the named user does not exist.
	ErrUserNotFound = errors.New("user not found")
	// ErrUserExists means a user of that name exists with different settings.
	ErrUserExists = errors.New("user already exists")
	// ErrAuthenticationFailed means an unknown user or a wrong password.
	ErrAuthenticationFailed = errors.New("authentication failed")
	// ErrInvalidPrivilege means a privilege other than read, write or all.
	ErrInvalidPrivilege = errors.New("invalid privilege")
	// ErrRequestTooLarge means an HTTP request body exceeded the 1 MiB limit.
	ErrRequestTooLarge = errors.New("request body too large")
	// ErrNotLeader means the node is not the raft leader and the request
	// asked not to be forwarded (or could not be). A *NotLeaderError
	// carrying the leader's HTTP address wraps it.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNoLeader means the cluster has no known leader right now.
	ErrNoLeader = errors.New("no raft leader")
	// ErrClosed means the Server or Client has been closed.
	ErrClosed = errors.New("closed")
	// ErrTimeout means a raft operation did not finish in time.
	ErrTimeout = errors.New("timeout")
	// ErrShardNotFound means no live shard group holds a shard with that id.
	ErrShardNotFound = errors.New("shard not found")
	// ErrLastShardOwner means removing an owner would leave a shard with
	// none (refused unless forced).
	ErrLastShardOwner = errors.New("last owner of the shard")
)

// errorCodes pairs each sentinel with the stable code it travels under in
// HTTP error bodies ({"error": "...", "code": "..."}). Codes never change
// meaning; new ones may be added.
var errorCodes = []struct {
	code string
	err  error
}{
	{"invalid_command", ErrInvalidCommand},
	{"invalid_name", ErrInvalidName},
	{"invalid_replication_factor", ErrInvalidReplicationFactor},
	{"invalid_duration", ErrInvalidDuration},
	{"database_not_found", ErrDatabaseNotFound},
	{"retention_policy_not_found", ErrRetentionPolicyNotFound},
	{"retention_policy_exists", ErrRetentionPolicyExists},
	{"retention_policy_conflict", ErrRetentionPolicyConflict},
	{"shard_group_not_found", ErrShardGroupNotFound},
	{"no_data_nodes", ErrNoDataNodes},
	{"data_node_not_found", ErrDataNodeNotFound},
	{"data_node_exists", ErrDataNodeExists},
	{"meta_node_not_found", ErrMetaNodeNotFound},
	{"invalid_address", ErrInvalidAddress},
	{"user_not_found", ErrUserNotFound},
	{"user_exists", ErrUserExists},
	{"invalid_privilege", ErrInvalidPrivilege},
	{"authentication_failed", ErrAuthenticationFailed},
	{"request_too_large", ErrRequestTooLarge},
	{"not_leader", ErrNotLeader},
	{"no_leader", ErrNoLeader},
	{"closed", ErrClosed},
	{"timeout", ErrTimeout},
	{"shard_not_found", ErrShardNotFound},
	{"last_shard_owner", ErrLastShardOwner},
	{"continuous_query_exists", ErrContinuousQueryExists},
	{"continuous_query_not_found", ErrContinuousQueryNotFound},
}

// ErrorCode returns the stable code of the first sentinel err wraps, or
// "internal" when it wraps none.
func ErrorCode(err error) string {
	for _, ec := range errorCodes {
		if errors.Is(err, ec.err) {
			return ec.code
		}
	}
	return "internal"
}

// sentinelForCode is the inverse of ErrorCode; nil for an unknown code.
func sentinelForCode(code string) error {
	for _, ec := range errorCodes {
		if ec.code == code {
			return ec.err
		}
	}
	return nil
}

// NotLeaderError is returned when a request needs the leader and this node is
// not it. Leader is the leader's meta HTTP address ("" when unknown).
type NotLeaderError struct {
	Leader string
}

// Error implements error.
func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return "not the raft leader (leader unknown)"
	}
	return "not the raft leader (leader at " + e.Leader + ")"
}

// Unwrap makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// APIError is an error answer from a meta node's HTTP API, as the Client
// sees it. It unwraps to the sentinel named by Code, so
// errors.Is(err, ErrDatabaseNotFound) works across the wire.
type APIError struct {
	StatusCode int    // HTTP status
	Code       string // stable error code, see ErrorCode
	Message    string // human-readable message from the server
	Leader     string // leader HTTP address, for not_leader answers
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("meta: %s (HTTP %d)", e.Message, e.StatusCode)
}

// Unwrap returns the sentinel for Code, or nil for an unknown code.
func (e *APIError) Unwrap() error { return sentinelForCode(e.Code) }

// NoDefaultRetentionPolicyError is returned when a statement or write names
// no retention policy and its database has no default one (it was dropped).
type NoDefaultRetentionPolicyError struct {
	Database string
}

// Error implements error, telling the operator both ways out.
func (e *NoDefaultRetentionPolicyError) Error() string {
	return fmt.Sprintf("database %q has no default retention policy: name one with rp= or set one with ALTER RETENTION POLICY … DEFAULT", e.Database)
}

// Unwrap makes errors.Is(err, ErrRetentionPolicyNotFound) true.
func (e *NoDefaultRetentionPolicyError) Unwrap() error { return ErrRetentionPolicyNotFound }
