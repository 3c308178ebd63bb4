package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/internal/clock"
)

func newDataCommand() *cobra.Command {
	var (
		configPath string
		dir        string
		httpAddr   string
		rpcAddr    string
		httpAdv    string
		rpcAdv     string
		metaAddrs  []string
		secret     string
		logs       logOptions
	)
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Run a data node (shards, InfluxDB 1.x HTTP API, internode RPC)",
		Example: `  strata data --meta 127.0.0.1:8091 --dir ./data1
  strata data --config /etc/strata/data.toml
  STRATA_DATA_META=meta1:8091,meta2:8091 strata data --http-addr :8086`,
		Long: `Run a data node. It registers with the meta nodes named by --meta (its id
is kept in --dir, so a restart is the same node), serves InfluxDB 1.x
/write and /query on --http-addr and internode shard writes on --rpc-addr.

Precedence of settings: flags, then STRATA_DATA_* environment variables
(--http-addr is STRATA_DATA_HTTP_ADDR), then the --config file, then defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if err := applyEnv(fs, "STRATA_DATA_"); err != nil {
				return err
			}
			cfg := data.NewConfig()
			if err := readConfig(configPath, &cfg); err != nil {
				return err
			}
			override(fs, map[string]func(){
				"dir":                 func() { cfg.Dir = dir },
				"http-addr":           func() { cfg.HTTPAddr = httpAddr },
				"rpc-addr":            func() { cfg.RPCAddr = rpcAddr },
				"http-advertise-addr": func() { cfg.HTTPAdvertiseAddr = httpAdv },
				"rpc-advertise-addr":  func() { cfg.RPCAdvertiseAddr = rpcAdv },
				"meta":                func() { cfg.Meta = splitList(metaAddrs) },
				secretFlag:            func() { cfg.InternalSharedSecret = secret },
			})
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			logger, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			setGCPercent(logger, cfg.GCPercent, cfg.QueryGCPercent)
			if cfg.HTTP.PprofEnabled && cfg.HTTP.PprofContentionEnabled {
				runtime.SetMutexProfileFraction(data.ContentionMutexFraction)
				runtime.SetBlockProfileRate(int(data.ContentionBlockRate))
			}
			defer clock.WatchFaultFile(cfg.Dir, logger)()
			srv := data.NewServer(cfg, Version, logger, processRegistry())
			return serve(logger, "data node", srv, nil)
		},
	}
	def := data.NewConfig()
	fs := cmd.Flags()
	fs.StringVar(&configPath, "config", "", "TOML config file (see configs/data.toml)")
	fs.StringVar(&dir, "dir", def.Dir, "directory for the node id and the shards")
	fs.StringVar(&httpAddr, "http-addr", def.HTTPAddr, "client HTTP API (InfluxDB 1.x) listen address")
	fs.StringVar(&rpcAddr, "rpc-addr", def.RPCAddr, "internode RPC listen address")
	fs.StringVar(&httpAdv, "http-advertise-addr", "", "client API address registered with meta (default: the bound --http-addr)")
	fs.StringVar(&rpcAdv, "rpc-advertise-addr", "", "RPC address other data nodes dial (default: the bound --rpc-addr)")
	fs.StringSliceVar(&metaAddrs, "meta", def.Meta, "meta node HTTP addresses (comma-separated)")
	fs.StringVar(&secret, secretFlag, "", secretUsage)
	logs.register(fs)
	return cmd
}
