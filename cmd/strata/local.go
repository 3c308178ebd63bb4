package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/strata-db/strata/meta"
)

// Local cluster ports: node i (0-based) listens on the base port plus
// localPortStep*i, so the first meta node keeps InfluxDB's 8091/8089.
const (
	localMetaHTTPBase = 8091
	localMetaRaftBase = 8089
	localPortStep     = 100
)

func newLocalCommand() *cobra.Command {
	var (
		dir       string
		metaNodes int
		host      string
		logs      logOptions
	)
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a whole Strata cluster on this machine, in one process",
		Long: `Run a whole Strata cluster on loopback in one process, its data under one
folder (--dir). Meta node i (counting from 0) serves its HTTP API on
` + strconv.Itoa(localMetaHTTPBase) + `+` + strconv.Itoa(localPortStep) + `*i and raft on ` + strconv.Itoa(localMetaRaftBase) + `+` + strconv.Itoa(localPortStep) + `*i.
A second start with the same --dir reuses the cluster's data. Ctrl-C stops
every node cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), "STRATA_LOCAL_"); err != nil {
				return err
			}
			if metaNodes < 1 {
				return fmt.Errorf("--meta-nodes must be at least 1, got %d", metaNodes)
			}
			logger, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			var servers []*meta.Server
			closeAll := func() error {
				var errs []error
				for i := len(servers) - 1; i >= 0; i-- {
					errs = append(errs, servers[i].Close())
				}
				return errors.Join(errs...)
			}
			var join []string
			for i := range metaNodes {
				cfg := meta.NewConfig()
				cfg.Dir = filepath.Join(dir, "meta"+strconv.Itoa(i+1))
				cfg.HTTPAddr = host + ":" + strconv.Itoa(localMetaHTTPBase+localPortStep*i)
				cfg.RaftAddr = host + ":" + strconv.Itoa(localMetaRaftBase+localPortStep*i)
				cfg.Join = join
				if err := cfg.Validate(); err != nil {
					return errors.Join(fmt.Errorf("meta node %d: %w", i+1, err), closeAll())
				}
				srv := meta.NewServer(cfg, logger.With("node", "meta"+strconv.Itoa(i+1)), prometheus.NewRegistry())
				if err := srv.Open(); err != nil {
					return errors.Join(fmt.Errorf("start meta node %d: %w", i+1, err), closeAll())
				}
				servers = append(servers, srv)
				if i == 0 {
					join = []string{srv.HTTPAddr()}
				}
			}
			printLocalEndpoints(cmd.OutOrStdout(), dir, servers)
			<-ctx.Done()
			logger.Info("stopping local cluster")
			if err := closeAll(); err != nil {
				return fmt.Errorf("stop local cluster: %w", err)
			}
			logger.Info("local cluster stopped")
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dir, "dir", "./strata-data", "folder holding every node's data")
	fs.IntVar(&metaNodes, "meta-nodes", 3, "number of meta nodes")
	fs.StringVar(&host, "host", "127.0.0.1", "address every node listens on")
	logs.register(fs)
	return cmd
}

func printLocalEndpoints(w io.Writer, dir string, servers []*meta.Server) {
	addrs := ""
	for i, s := range servers {
		fmt.Fprintf(w, "meta%d  http://%s  raft %s\n", i+1, s.HTTPAddr(), s.RaftAddr())
		if i > 0 {
			addrs += ","
		}
		addrs += s.HTTPAddr()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	fmt.Fprintf(w, "data under %s\n", abs)
	fmt.Fprintf(w, "try: strata ctl --meta %s show\n", addrs)
	fmt.Fprintln(w, "Ctrl-C stops the cluster.")
}
