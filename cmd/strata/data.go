package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/BurntSushi/toml"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/strata-db/strata/data"
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
		logs       logOptions
	)
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Run a data node (shards, InfluxDB 1.x HTTP API, internode RPC)",
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
			if configPath != "" {
				if _, err := toml.DecodeFile(configPath, &cfg); err != nil {
					return fmt.Errorf("read config %s: %w", configPath, err)
				}
			}
			if fs.Changed("dir") {
				cfg.Dir = dir
			}
			if fs.Changed("http-addr") {
				cfg.HTTPAddr = httpAddr
			}
			if fs.Changed("rpc-addr") {
				cfg.RPCAddr = rpcAddr
			}
			if fs.Changed("http-advertise-addr") {
				cfg.HTTPAdvertiseAddr = httpAdv
			}
			if fs.Changed("rpc-advertise-addr") {
				cfg.RPCAdvertiseAddr = rpcAdv
			}
			if fs.Changed("meta") {
				cfg.Meta = splitList(metaAddrs)
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			logger, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			srv := data.NewServer(cfg, Version, logger, reg)
			if err := srv.Open(); err != nil {
				return fmt.Errorf("start data node: %w", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			logger.Info("shutting down data node")
			if err := srv.Close(); err != nil {
				return fmt.Errorf("stop data node: %w", err)
			}
			logger.Info("data node stopped")
			return nil
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
	logs.register(fs)
	return cmd
}
