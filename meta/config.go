package meta

import (
	"errors"
	"fmt"
	"time"
)

// Defaults for Config. The raft timings are hashicorp/raft's LAN defaults.
const (
	// DefaultHTTPAddr binds the meta HTTP API to loopback only, so a node
	// started without a config is not reachable from the network by accident;
	// set http-addr (e.g. ":8091") to serve other hosts.
	DefaultHTTPAddr = "127.0.0.1:8091"
	// DefaultRaftAddr is the raft TCP address (loopback, as above).
	DefaultRaftAddr = "127.0.0.1:8089"
	// DefaultDir is where raft state and the node id live.
	DefaultDir = "strata-data/meta"

	DefaultHeartbeatTimeout          = 1000 * time.Millisecond
	DefaultElectionTimeout           = 1000 * time.Millisecond
	DefaultLeaderLeaseTimeout        = 500 * time.Millisecond
	DefaultCommitTimeout             = 50 * time.Millisecond
	DefaultApplyTimeout              = 10 * time.Second
	DefaultLeadershipTransferTimeout = 5 * time.Second
	DefaultRetentionCheckInterval    = 30 * time.Minute
	DefaultSnapshotThreshold         = 8192
	DefaultSnapshotInterval          = 2 * time.Minute
	DefaultSnapshotRetain            = 2
	DefaultTrailingLogs              = 10240
	DefaultLongPollTimeout           = 30 * time.Second
	DefaultMaxLongPollTimeout        = 5 * time.Minute
	DefaultJoinRetryInterval         = 1 * time.Second
	DefaultRaftLogLevel              = "warn"
	// DefaultDataNodeTimeout is how long the leader waits without a
	// heartbeat before it reports a data node down: five of the data
	// nodes' default 2s heartbeat intervals.
	DefaultDataNodeTimeout = 10 * time.Second
)

// Duration is a time.Duration that reads and writes TOML/JSON text such as
// "1s" or "30m".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config configures a meta Server. Zero-valued fields are not defaults:
// start from NewConfig.
type Config struct {
	// Dir holds raft.db (log and stable store), snapshots/ and node-id.
	Dir string `toml:"dir"`
	// HTTPAddr is the meta HTTP API bind address; port 0 picks one.
	HTTPAddr string `toml:"http-addr"`
	// HTTPAdvertiseAddr is the HTTP address other nodes use to reach this
	// one; "" means the bound address (fine on one host, set it otherwise).
	HTTPAdvertiseAddr string `toml:"http-advertise-addr"`
	// RaftAddr is the raft TCP bind address; port 0 picks one.
	RaftAddr string `toml:"raft-addr"`
	// RaftAdvertiseAddr is the raft address peers dial; "" means the bound
	// address. It must not change across restarts.
	RaftAdvertiseAddr string `toml:"raft-advertise-addr"`
	// Join lists HTTP addresses of existing meta nodes. Empty on the first
	// node of a new cluster, which bootstraps; a node finds its own
	// advertised HTTP address in the list and skips it, so a list naming
	// only the node itself also bootstraps (one --join for every pod of a
	// Kubernetes StatefulSet: the first pod's address). Ignored when Dir already holds
	// raft state, except to re-announce this node's addresses.
	Join []string `toml:"join"`
	// NoBootstrap keeps a node with no raft state and no Join from
	// bootstrapping a new cluster: it waits until an existing cluster adds
	// it (strata ctl add-meta, i.e. Client.AddMetaNode).
	NoBootstrap bool `toml:"no-bootstrap"`
	// InternalSharedSecret, when set, must be proven (internal/nodeauth
	// tokens) by every caller of the HTTP API but /ping, /health and
	// /metrics: data nodes, strata ctl and the other meta nodes, which
	// need the same secret. Empty accepts every caller.
	InternalSharedSecret string `toml:"internal-shared-secret"`
	// TLS encrypts the HTTP API and raft.
	TLS TLSConfig `toml:"tls"`

	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and
	// CommitTimeout are passed to hashicorp/raft.
	HeartbeatTimeout   Duration `toml:"heartbeat-timeout"`
	ElectionTimeout    Duration `toml:"election-timeout"`
	LeaderLeaseTimeout Duration `toml:"leader-lease-timeout"`
	CommitTimeout      Duration `toml:"commit-timeout"`
	// ApplyTimeout bounds how long a command waits to be committed.
	ApplyTimeout Duration `toml:"apply-timeout"`
	// LeadershipTransferTimeout bounds the leadership hand-off in Close.
	LeadershipTransferTimeout Duration `toml:"leadership-transfer-timeout"`
	// SnapshotThreshold is how many log entries trigger a snapshot.
	SnapshotThreshold uint64 `toml:"snapshot-threshold"`
	// SnapshotInterval is how often raft checks SnapshotThreshold.
	SnapshotInterval Duration `toml:"snapshot-interval"`
	// SnapshotRetain is how many snapshots to keep on disk.
	SnapshotRetain int `toml:"snapshot-retain"`
	// TrailingLogs is how many log entries stay after a snapshot.
	TrailingLogs uint64 `toml:"trailing-logs"`

	// RetentionCheckInterval is how often the leader marks expired shard
	// groups deleted.
	RetentionCheckInterval Duration `toml:"retention-check-interval"`
	// LongPollTimeout is the /data?index= wait when the request names none;
	// MaxLongPollTimeout caps what a request may ask for.
	LongPollTimeout    Duration `toml:"long-poll-timeout"`
	MaxLongPollTimeout Duration `toml:"max-long-poll-timeout"`
	// JoinRetryInterval is the pause between join attempts.
	JoinRetryInterval Duration `toml:"join-retry-interval"`
	// RaftLogLevel is the level of hashicorp/raft's own log lines
	// (trace, debug, info, warn, error).
	RaftLogLevel string `toml:"raft-log-level"`
	// DataNodeTimeout is how long the leader goes without a data node's
	// heartbeat before `strata ctl show` reports the node down. Keep it
	// several times the data nodes' heartbeat-interval.
	DataNodeTimeout Duration `toml:"data-node-timeout"`
}

// NewConfig returns a Config with every default filled in.
func NewConfig() Config {
	return Config{
		Dir:                       DefaultDir,
		HTTPAddr:                  DefaultHTTPAddr,
		RaftAddr:                  DefaultRaftAddr,
		HeartbeatTimeout:          Duration(DefaultHeartbeatTimeout),
		ElectionTimeout:           Duration(DefaultElectionTimeout),
		LeaderLeaseTimeout:        Duration(DefaultLeaderLeaseTimeout),
		CommitTimeout:             Duration(DefaultCommitTimeout),
		ApplyTimeout:              Duration(DefaultApplyTimeout),
		LeadershipTransferTimeout: Duration(DefaultLeadershipTransferTimeout),
		SnapshotThreshold:         DefaultSnapshotThreshold,
		SnapshotInterval:          Duration(DefaultSnapshotInterval),
		SnapshotRetain:            DefaultSnapshotRetain,
		TrailingLogs:              DefaultTrailingLogs,
		RetentionCheckInterval:    Duration(DefaultRetentionCheckInterval),
		LongPollTimeout:           Duration(DefaultLongPollTimeout),
		MaxLongPollTimeout:        Duration(DefaultMaxLongPollTimeout),
		JoinRetryInterval:         Duration(DefaultJoinRetryInterval),
		RaftLogLevel:              DefaultRaftLogLevel,
		DataNodeTimeout:           Duration(DefaultDataNodeTimeout),
	}
}

// Validate checks the config, reporting every problem at once.
func (c *Config) Validate() error {
	var errs []error
	req := func(cond bool, format string, args ...any) {
		if !cond {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	req(c.Dir != "", "dir must be set")
	req(c.HTTPAddr != "", "http-addr must be set")
	req(c.RaftAddr != "", "raft-addr must be set")
	for name, d := range map[string]Duration{
		"heartbeat-timeout": c.HeartbeatTimeout, "election-timeout": c.ElectionTimeout,
		"leader-lease-timeout": c.LeaderLeaseTimeout, "commit-timeout": c.CommitTimeout,
		"apply-timeout": c.ApplyTimeout, "leadership-transfer-timeout": c.LeadershipTransferTimeout,
		"snapshot-interval": c.SnapshotInterval, "retention-check-interval": c.RetentionCheckInterval,
		"long-poll-timeout": c.LongPollTimeout, "max-long-poll-timeout": c.MaxLongPollTimeout,
		"join-retry-interval": c.JoinRetryInterval, "data-node-timeout": c.DataNodeTimeout,
	} {
		req(d > 0, "%s must be positive, got %s", name, d.D())
	}
	req(c.HeartbeatTimeout >= Duration(5*time.Millisecond), "heartbeat-timeout must be at least 5ms (hashicorp/raft's minimum)")
	req(c.ElectionTimeout >= Duration(5*time.Millisecond), "election-timeout must be at least 5ms")
	req(c.LeaderLeaseTimeout >= Duration(5*time.Millisecond), "leader-lease-timeout must be at least 5ms")
	req(c.LeaderLeaseTimeout <= c.HeartbeatTimeout, "leader-lease-timeout (%s) must not exceed heartbeat-timeout (%s)", c.LeaderLeaseTimeout.D(), c.HeartbeatTimeout.D())
	req(c.ElectionTimeout >= c.HeartbeatTimeout, "election-timeout (%s) must be at least heartbeat-timeout (%s)", c.ElectionTimeout.D(), c.HeartbeatTimeout.D())
	req(c.LongPollTimeout <= c.MaxLongPollTimeout, "long-poll-timeout must not exceed max-long-poll-timeout")
	req(c.SnapshotThreshold > 0, "snapshot-threshold must be positive")
	req(c.SnapshotRetain > 0, "snapshot-retain must be positive")
	switch c.RaftLogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("raft-log-level %q: want trace, debug, info, warn or error", c.RaftLogLevel))
	}
	if len(errs) > 0 {
		return fmt.Errorf("meta config: %w", errors.Join(errs...))
	}
	return nil
}
