package coordinator

import (
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/meta"
)

// Defaults for Config.
const (
	// DefaultWriteTimeout bounds one WritePoints call across all owners
	// (InfluxDB's coordinator write-timeout).
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxInFlightBytesPerNode bounds the writes in flight to one
	// remote owner (about 35 TSBS batches of 5,000 lines), so a hung node
	// cannot make this node buffer without bound in the ten seconds before
	// its first write times out.
	DefaultMaxInFlightBytesPerNode = 64 << 20
	// DefaultRPCDialTimeout bounds establishing a connection to a peer.
	DefaultRPCDialTimeout = 2 * time.Second
	// DefaultRPCTimeout bounds one shard write RPC (request and response),
	// on top of the caller's context deadline.
	DefaultRPCTimeout = 10 * time.Second
	// DefaultRPCMaxIdleConnsPerPeer is how many idle keep-alive
	// connections the client keeps per peer.
	DefaultRPCMaxIdleConnsPerPeer = 16
	// DefaultRPCMaxConnsPerPeer bounds the connections the RPC listener
	// serves from one peer address at once (issue 12: a peer that opens
	// connections without end must not take every file descriptor).
	DefaultRPCMaxConnsPerPeer = 256
	// DefaultRPCIdleConnTimeout closes idle connections after this long.
	DefaultRPCIdleConnTimeout = 90 * time.Second
	// DefaultRPCMaxBodySize bounds a shard-write request body (the encoded
	// batch, and its size after s2 decompression). A 5,000-point TSBS batch
	// encodes to well under 1 MiB.
	DefaultRPCMaxBodySize = 64 << 20
	// DefaultRPCReadTimeout bounds how long the handler waits for a request
	// body.
	DefaultRPCReadTimeout = 10 * time.Second
	// DefaultRPCMaxConcurrentWrites bounds the shard-write RPCs the handler
	// decodes and applies at once, across all peers. A sender answering at
	// consistency one runs up to max-in-flight-bytes-per-node ahead of its
	// replica; past this bound those requests wait unread (encoded, on the
	// sender and in the socket) instead of each being decoded in memory at
	// once. Four keeps two cores busy with a request being read while
	// another is applied (docs/benchmarks.md, "Replica memory at
	// consistency one").
	DefaultRPCMaxConcurrentWrites = 4
	// DefaultRPCCompression compresses request bodies with s2 (see
	// docs/benchmarks/coordinator.md for the measurement).
	DefaultRPCCompression = true
)

// Config configures the PointsWriter, the RPCClient and the RPCHandler.
// Zero-valued fields are not defaults: start from NewConfig.
type Config struct {
	// WriteTimeout bounds one WritePoints call.
	WriteTimeout meta.Duration `toml:"write-timeout"`
	// MaxInFlightBytesPerNode bounds the encoded bytes of remote writes
	// still in flight to one owner; past it, that owner's writes go to its
	// hinted-handoff queue (or fail without one).
	MaxInFlightBytesPerNode int64 `toml:"max-in-flight-bytes-per-node"`
	// RPCDialTimeout bounds dialing a peer's RPC port.
	RPCDialTimeout meta.Duration `toml:"rpc-dial-timeout"`
	// RPCTimeout bounds one shard write RPC on the client.
	RPCTimeout meta.Duration `toml:"rpc-timeout"`
	// RPCMaxIdleConnsPerPeer is the keep-alive pool size per peer.
	RPCMaxIdleConnsPerPeer int `toml:"rpc-max-idle-conns-per-peer"`
	// RPCMaxConnsPerPeer bounds the connections the RPC listener serves
	// from one peer at once: a data node naming itself with the internal
	// shared secret's proof, else a remote IP. One more is answered 503
	// (code too_many_connections) and closed. Each of this node's RPC clients
	// (shard writes and reads; anti-entropy) opens at most
	// ClientConnsPerPeer of them to one peer, further requests waiting for
	// a free connection. 0 means no limit.
	RPCMaxConnsPerPeer int `toml:"rpc-max-conns-per-peer"`
	// RPCIdleConnTimeout closes pooled connections idle this long.
	RPCIdleConnTimeout meta.Duration `toml:"rpc-idle-conn-timeout"`
	// RPCMaxBodySize bounds a request body on the handler, before and after
	// decompression; a larger one gets 413 and its connection is closed.
	RPCMaxBodySize int64 `toml:"rpc-max-body-size"`
	// RPCReadTimeout bounds reading one request body on the handler.
	RPCReadTimeout meta.Duration `toml:"rpc-read-timeout"`
	// RPCMaxConcurrentWrites bounds the shard-write RPCs the handler reads,
	// decodes and applies at once (from all peers together); further ones
	// wait unread, each at most RPCReadTimeout, and are then answered 503
	// (code "busy"), which the sender hands to hinted handoff. 0 means no
	// limit.
	RPCMaxConcurrentWrites int `toml:"rpc-max-concurrent-writes"`
	// RPCCompression makes the client send s2-compressed bodies. The
	// handler accepts both forms whatever this says.
	RPCCompression bool `toml:"rpc-compression"`
}

// NewConfig returns a Config with every default filled in.
func NewConfig() Config {
	return Config{
		WriteTimeout:            meta.Duration(DefaultWriteTimeout),
		MaxInFlightBytesPerNode: DefaultMaxInFlightBytesPerNode,
		RPCDialTimeout:          meta.Duration(DefaultRPCDialTimeout),
		RPCTimeout:              meta.Duration(DefaultRPCTimeout),
		RPCMaxIdleConnsPerPeer:  DefaultRPCMaxIdleConnsPerPeer,
		RPCMaxConnsPerPeer:      DefaultRPCMaxConnsPerPeer,
		RPCIdleConnTimeout:      meta.Duration(DefaultRPCIdleConnTimeout),
		RPCMaxBodySize:          DefaultRPCMaxBodySize,
		RPCReadTimeout:          meta.Duration(DefaultRPCReadTimeout),
		RPCMaxConcurrentWrites:  DefaultRPCMaxConcurrentWrites,
		RPCCompression:          DefaultRPCCompression,
	}
}

// Validate checks the config, reporting every problem at once. Each
// problem wraps ErrInvalidConfig.
func (c *Config) Validate() error {
	var errs []error
	positive := func(name string, d meta.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s: %w", name, d.D(), ErrInvalidConfig))
		}
	}
	positive("write-timeout", c.WriteTimeout)
	positive("rpc-dial-timeout", c.RPCDialTimeout)
	positive("rpc-timeout", c.RPCTimeout)
	positive("rpc-idle-conn-timeout", c.RPCIdleConnTimeout)
	positive("rpc-read-timeout", c.RPCReadTimeout)
	if c.MaxInFlightBytesPerNode < 1 {
		errs = append(errs, fmt.Errorf("max-in-flight-bytes-per-node must be positive, got %d: %w", c.MaxInFlightBytesPerNode, ErrInvalidConfig))
	}
	if c.RPCMaxIdleConnsPerPeer < 1 {
		errs = append(errs, fmt.Errorf("rpc-max-idle-conns-per-peer must be at least 1, got %d: %w", c.RPCMaxIdleConnsPerPeer, ErrInvalidConfig))
	}
	if c.RPCMaxConnsPerPeer < 0 {
		errs = append(errs, fmt.Errorf("rpc-max-conns-per-peer must not be negative, got %d: %w", c.RPCMaxConnsPerPeer, ErrInvalidConfig))
	}
	if c.RPCMaxConcurrentWrites < 0 {
		errs = append(errs, fmt.Errorf("rpc-max-concurrent-writes must not be negative, got %d: %w", c.RPCMaxConcurrentWrites, ErrInvalidConfig))
	}
	if c.RPCMaxBodySize < minBatchSize {
		errs = append(errs, fmt.Errorf("rpc-max-body-size must be at least %d, got %d: %w", minBatchSize, c.RPCMaxBodySize, ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// ClientConnsPerPeer is how many connections one of this node's RPC clients
// may have open to one peer (0: no bound): a quarter of
// RPCMaxConnsPerPeer, so the shard RPC and anti-entropy clients of two
// nodes behind one address stay within what the peer serves.
func (c *Config) ClientConnsPerPeer() int {
	if c.RPCMaxConnsPerPeer <= 0 {
		return 0
	}
	return max(1, c.RPCMaxConnsPerPeer/4)
}
