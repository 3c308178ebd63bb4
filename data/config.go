package data

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/cq"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb"
)

// Defaults for Config.
const (
	// DefaultDir holds the node id file and the shards (under shards/).
	DefaultDir = "strata-data/data"
	// DefaultHTTPAddr is the client API address, InfluxDB's port.
	DefaultHTTPAddr = "127.0.0.1:8086"
	// DefaultRPCAddr is the internode RPC address.
	DefaultRPCAddr = "127.0.0.1:8088"
	// DefaultMetaAddr is the meta node asked when none is configured.
	DefaultMetaAddr = "127.0.0.1:8091"
	// DefaultShardPrecreateAdvance is how far ahead of a group's end the
	// next group is created.
	DefaultShardPrecreateAdvance = 30 * time.Minute
	// DefaultShardPrecreateInterval is how often the pre-creator runs.
	DefaultShardPrecreateInterval = 1 * time.Minute
	// DefaultHeartbeatInterval is how often a data node tells the meta
	// leader it is alive; meta's default data-node-timeout is five of these.
	DefaultHeartbeatInterval = 2 * time.Second
	// DefaultShutdownTimeout bounds the drain of in-flight requests.
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultGCPercent is the Go garbage collector's target (GOGC) for a
	// data node: the heap may grow 30% over live memory, not Go's 100%.
	// Loading TSBS data this holds a node to about 2/3 of the memory for a
	// few percent more CPU (docs/benchmarks.md); VictoriaMetrics ships the
	// same default.
	DefaultGCPercent = 30
	// DefaultQueryGCPercent is the collector's target while queries run:
	// Go's own default. Their garbage is short-lived; at 30 the collector
	// took a quarter of a node's CPU under 32 concurrent TSBS queries
	// (issue 17 item 4, docs/benchmarks.md).
	DefaultQueryGCPercent = 100
)

// Config configures a data node. Start from NewConfig.
type Config struct {
	// Dir holds node.json (this node's id), meta-state.json (the last
	// cluster state seen) and shards/.
	Dir string `toml:"dir"`
	// HTTPAddr is where the client API (InfluxDB 1.x) listens.
	HTTPAddr string `toml:"http-addr"`
	// HTTPAdvertiseAddr is the client API address registered with meta; ""
	// means the bound address.
	HTTPAdvertiseAddr string `toml:"http-advertise-addr"`
	// RPCAddr is where internode shard writes arrive.
	RPCAddr string `toml:"rpc-addr"`
	// RPCAdvertiseAddr is the RPC address other data nodes dial; "" means
	// the bound address. It identifies the node to meta: keep it stable.
	RPCAdvertiseAddr string `toml:"rpc-advertise-addr"`
	// Meta lists meta node HTTP addresses.
	Meta []string `toml:"meta"`
	// InternalSharedSecret is the cluster secret: every internode request
	// (data↔data RPC, data→meta) carries proof of it (internal/nodeauth)
	// and the RPC listener refuses requests without. It must equal the
	// meta nodes' internal-shared-secret. Empty disables internode
	// authentication.
	InternalSharedSecret string `toml:"internal-shared-secret"`
	// ShardPrecreateAdvance and ShardPrecreateInterval drive the creation
	// of the next shard group before writes need it.
	ShardPrecreateAdvance  meta.Duration `toml:"shard-precreate-advance"`
	ShardPrecreateInterval meta.Duration `toml:"shard-precreate-interval"`
	// HeartbeatInterval is how often the node tells the meta leader it is
	// alive (meta's data-node-timeout should be several of these).
	HeartbeatInterval meta.Duration `toml:"heartbeat-interval"`
	// ShutdownTimeout bounds how long Close waits for in-flight requests;
	// they are cancelled at half of it (see Server.Close).
	ShutdownTimeout meta.Duration `toml:"shutdown-timeout"`
	// GCPercent is the Go garbage collector's target (GOGC) for the
	// process: how far, in percent of live memory, the heap may grow before
	// a collection. Lower holds less memory and spends more CPU. The GOGC
	// environment variable, when set, wins.
	GCPercent int `toml:"gc-percent"`
	// QueryGCPercent is the collector's target while a query (or a shard
	// scan for another node's query) runs: the first raises it, and
	// gc-percent is set back once none has run for gcpace.Hold (1 s). 0
	// keeps gc-percent throughout. The GOGC environment variable, when set,
	// wins here too.
	QueryGCPercent int `toml:"query-gc-percent"`

	// HTTP is InfluxDB's [http] section: client authentication and limits.
	HTTP HTTPConfig `toml:"http"`
	// TLS encrypts the internode RPC and the calls to meta.
	TLS TLSConfig `toml:"tls"`
	// Coordinator configures the write path and internode RPC.
	Coordinator coordinator.Config `toml:"coordinator"`
	// Query limits what queries may cost.
	Query query.Config `toml:"query"`
	// Storage configures the shard engine. An empty storage dir means
	// <dir>/shards.
	Storage tsdb.Config `toml:"storage"`
	// AntiEntropy configures the replica repair service.
	AntiEntropy antientropy.Config `toml:"anti-entropy"`
	// HintedHandoff configures the queues of writes other nodes missed.
	// An empty dir means <dir>/hh.
	HintedHandoff hh.Config `toml:"hinted-handoff"`
	// ContinuousQueries configures the continuous query runner and the
	// consistency of SELECT … INTO writes.
	ContinuousQueries cq.Config `toml:"continuous-queries"`
}

// NewConfig returns a Config with every default filled in.
func NewConfig() Config {
	return Config{
		Dir:                    DefaultDir,
		HTTPAddr:               DefaultHTTPAddr,
		RPCAddr:                DefaultRPCAddr,
		Meta:                   []string{DefaultMetaAddr},
		ShardPrecreateAdvance:  meta.Duration(DefaultShardPrecreateAdvance),
		ShardPrecreateInterval: meta.Duration(DefaultShardPrecreateInterval),
		HeartbeatInterval:      meta.Duration(DefaultHeartbeatInterval),
		ShutdownTimeout:        meta.Duration(DefaultShutdownTimeout),
		GCPercent:              DefaultGCPercent,
		QueryGCPercent:         DefaultQueryGCPercent,
		HTTP:                   NewHTTPConfig(),
		Coordinator:            coordinator.NewConfig(),
		Query:                  query.NewConfig(),
		Storage:                storageDefaults(),
		AntiEntropy:            antientropy.NewConfig(),
		HintedHandoff:          hh.NewConfig(),
		ContinuousQueries:      cq.NewConfig(),
	}
}

// Validate reports every problem with the config at once.
func (c *Config) Validate() error {
	var errs []error
	req := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	req(c.Dir != "", "dir must be set")
	req(c.HTTPAddr != "", "http-addr must be set")
	req(c.RPCAddr != "", "rpc-addr must be set")
	req(len(c.Meta) > 0, "meta must name at least one meta node")
	req(c.ShardPrecreateAdvance > 0, "shard-precreate-advance must be positive")
	req(c.ShardPrecreateInterval > 0, "shard-precreate-interval must be positive")
	req(c.HeartbeatInterval > 0, "heartbeat-interval must be positive")
	req(c.ShutdownTimeout > 0, "shutdown-timeout must be positive")
	req(c.GCPercent >= 10, "gc-percent must be at least 10 (lower makes the collector run almost constantly)")
	req(c.QueryGCPercent == 0 || c.QueryGCPercent >= 10, "query-gc-percent must be 0 (off) or at least 10")
	if err := c.HTTP.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.TLS.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Coordinator.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Query.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.ContinuousQueries.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.storageConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.HintedHandoff.Enabled {
		if err := c.HintedHandoff.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.AntiEntropy.Validate(); err != nil {
		errs = append(errs, err)
	}
	// A tombstone must outlive a full anti-entropy cycle, or a replica that
	// missed the delete could repair the data back.
	req(time.Duration(c.Storage.TombstoneRetention) > c.AntiEntropy.CheckInterval.D()+c.AntiEntropy.SettleHorizon.D(),
		"storage tombstone-retention must exceed anti-entropy check-interval plus settle-horizon")
	// Writes hinted handoff gave up on are repaired by anti-entropy, which
	// must not find a tombstone gone by then.
	req(!c.HintedHandoff.Enabled || time.Duration(c.Storage.TombstoneRetention) >
		c.HintedHandoff.MaxAge.D()+c.AntiEntropy.CheckInterval.D()+c.AntiEntropy.SettleHorizon.D(),
		"storage tombstone-retention must exceed hinted-handoff max-age plus anti-entropy check-interval and settle-horizon")
	return errors.Join(errs...)
}

// storageDefaults is tsdb's default config with the dir left to follow Dir.
func storageDefaults() tsdb.Config {
	c := tsdb.NewConfig()
	c.Dir = ""
	return c
}

// storageConfig returns the engine config with its dir resolved.
func (c *Config) storageConfig() tsdb.Config {
	sc := c.Storage
	if sc.Dir == "" {
		sc.Dir = filepath.Join(c.Dir, "shards")
	}
	return sc
}
