package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/internal/clock"
	"github.com/strata-db/strata/meta"
)

func newMetaCommand() *cobra.Command {
	var (
		configPath string
		dir        string
		httpAddr   string
		raftAddr   string
		httpAdv    string
		raftAdv    string
		join       []string
		noBoot     bool
		secret     string
		logs       logOptions
	)
	cmd := &cobra.Command{
		Use:   "meta",
		Short: "Run a meta node (raft-replicated cluster metadata)",
		Example: `  strata meta --dir ./meta1                                  # bootstrap a new cluster
  strata meta --dir ./meta2 --http-addr :8191 --raft-addr :8189 --join 127.0.0.1:8091
  strata meta --config /etc/strata/meta.toml`,
		Long: `Run a meta node. The first node of a cluster bootstraps it; every other node
starts with --join naming one or more running meta nodes and is added as a voter.
A node restarted from its --dir rejoins on its own.

Precedence of settings: flags, then STRATA_META_* environment variables
(--http-addr is STRATA_META_HTTP_ADDR), then the --config file, then defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			if err := applyEnv(fs, "STRATA_META_"); err != nil {
				return err
			}
			cfg := meta.NewConfig()
			if err := readConfig(configPath, &cfg); err != nil {
				return err
			}
			override(fs, map[string]func(){
				"dir":                 func() { cfg.Dir = dir },
				"http-addr":           func() { cfg.HTTPAddr = httpAddr },
				"raft-addr":           func() { cfg.RaftAddr = raftAddr },
				"http-advertise-addr": func() { cfg.HTTPAdvertiseAddr = httpAdv },
				"raft-advertise-addr": func() { cfg.RaftAdvertiseAddr = raftAdv },
				"join":                func() { cfg.Join = splitList(join) },
				"no-bootstrap":        func() { cfg.NoBootstrap = noBoot },
				secretFlag:            func() { cfg.InternalSharedSecret = secret },
			})
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			logger, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			defer clock.WatchFaultFile(cfg.Dir, logger)()
			srv := meta.NewServer(cfg, logger, processRegistry())
			return serve(logger, "meta node", srv, func() {
				logger.Info("meta node started", "id", srv.ID(), "http_addr", srv.HTTPAddr(), "raft_addr", srv.RaftAddr(), "dir", cfg.Dir)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&configPath, "config", "", "TOML config file (see configs/meta.toml)")
	fs.StringVar(&dir, "dir", meta.NewConfig().Dir, "directory for raft log, snapshots and node identity")
	fs.StringVar(&httpAddr, "http-addr", meta.NewConfig().HTTPAddr, "meta HTTP API listen address")
	fs.StringVar(&raftAddr, "raft-addr", meta.NewConfig().RaftAddr, "raft listen address (must be reachable by the other meta nodes)")
	fs.StringVar(&httpAdv, "http-advertise-addr", "", "HTTP address other nodes and clients use to reach this node (default: the bound --http-addr)")
	fs.StringVar(&raftAdv, "raft-advertise-addr", "", "raft address the other meta nodes dial (default: the bound --raft-addr); must not change across restarts")
	fs.StringSliceVar(&join, "join", nil, "HTTP addresses of running meta nodes to join (comma-separated)")
	fs.BoolVar(&noBoot, "no-bootstrap", false, "with no raft state and no --join, wait to be added by 'strata ctl add-meta' instead of bootstrapping a new cluster")
	fs.StringVar(&secret, secretFlag, "", secretUsage)
	logs.register(fs)
	return cmd
}

// secretFlag and secretUsage name the internode shared secret the same
// way on every command.
const (
	secretFlag  = "internal-shared-secret"
	secretUsage = "cluster secret every internode and ctl-to-meta request proves (the same on every node; empty: none)"
)

// splitList flattens comma-separated values and drops empty entries.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
