package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/meta"
)

// Local cluster ports: node i (0-based) listens on the base port plus
// localPortStep*i, so the first meta and data nodes keep InfluxDB's ports
// (8091/8089 meta, 8086/8088 data).
const (
	localMetaHTTPBase = 8091
	localMetaRaftBase = 8089
	localDataHTTPBase = 8086
	localDataRPCBase  = 8088
	localPortStep     = 100
)

// localCluster is the set of nodes `strata local` runs in one process.
type localCluster struct {
	metas []*meta.Server
	datas []*data.Server
}

// close stops data nodes first, then meta nodes, newest first.
func (c *localCluster) close() error {
	var errs []error
	for i := len(c.datas) - 1; i >= 0; i-- {
		errs = append(errs, c.datas[i].Close())
	}
	// The whole meta cluster stops: handing leadership to a node about to
	// stop (or already stopped) would only wait and warn.
	for i := len(c.metas) - 1; i >= 0; i-- {
		errs = append(errs, c.metas[i].Abort())
	}
	return errors.Join(errs...)
}

// localOptions are the flags of `strata local`.
type localOptions struct {
	dir         string
	metaNodes   int
	dataNodes   int
	replication int
	// replicationSet is whether --replication was given.
	replicationSet bool
	host           string
}

func (o *localOptions) addr(base, i int) string {
	return o.host + ":" + strconv.Itoa(base+localPortStep*i)
}

// setDefaultReplication stores --replication as the cluster's default
// replication factor in meta: on a new cluster, or on a restart when the
// flag was given (a restart without it keeps what `strata ctl
// set-default-replication` may have set since).
func (o *localOptions) setDefaultReplication(metaAddrs []string, secret string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := meta.NewClient(meta.ClientConfig{Addrs: metaAddrs, InternalSharedSecret: secret})
	defer c.Close()
	d, _, err := c.ReadData(ctx, meta.ReadDefault)
	if err != nil {
		return fmt.Errorf("read cluster state: %w", err)
	}
	if d.DefaultReplicaN != 0 && !o.replicationSet {
		return nil
	}
	if err := c.SetDefaultReplication(ctx, o.replication); err != nil {
		return fmt.Errorf("set the default replication factor: %w", err)
	}
	return nil
}

// start brings up the meta nodes (the first bootstraps, the rest join it)
// and then the data nodes.
func (o *localOptions) start(c *localCluster, logger *slog.Logger) error {
	secret, err := localSecret(o.dir)
	if err != nil {
		return err
	}
	var join, metaAddrs []string
	for i := range o.metaNodes {
		cfg := meta.NewConfig()
		cfg.InternalSharedSecret = secret
		cfg.Dir = filepath.Join(o.dir, "meta"+strconv.Itoa(i+1))
		cfg.HTTPAddr = o.addr(localMetaHTTPBase, i)
		cfg.RaftAddr = o.addr(localMetaRaftBase, i)
		cfg.Join = join
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("meta node %d: %w", i+1, err)
		}
		srv := meta.NewServer(cfg, logger.With("node", "meta"+strconv.Itoa(i+1)), prometheus.NewRegistry())
		if err := srv.Open(); err != nil {
			return fmt.Errorf("start meta node %d: %w", i+1, err)
		}
		c.metas = append(c.metas, srv)
		if i == 0 {
			join = []string{srv.HTTPAddr()}
		}
		metaAddrs = append(metaAddrs, srv.HTTPAddr())
	}
	if err := o.setDefaultReplication(metaAddrs, secret); err != nil {
		return err
	}
	setGCPercent(logger, data.NewConfig().GCPercent, data.NewConfig().QueryGCPercent) // one process: the data nodes' setting
	for i := range o.dataNodes {
		cfg := data.NewConfig()
		cfg.Dir = filepath.Join(o.dir, "data"+strconv.Itoa(i+1))
		cfg.HTTPAddr = o.addr(localDataHTTPBase, i)
		cfg.RPCAddr = o.addr(localDataRPCBase, i)
		cfg.Meta = metaAddrs
		cfg.InternalSharedSecret = secret
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("data node %d: %w", i+1, err)
		}
		srv := data.NewServer(cfg, Version, logger.With("node", "data"+strconv.Itoa(i+1)), prometheus.NewRegistry())
		if err := srv.Open(); err != nil {
			return fmt.Errorf("start data node %d: %w", i+1, err)
		}
		c.datas = append(c.datas, srv)
	}
	return nil
}

// localDefaultDir is where strata local keeps its nodes when --dir is not
// given.
const localDefaultDir = "./strata-data"

// localSecretFile holds strata local's internode shared secret, generated
// on the first start and reused by the next ones.
const localSecretFile = "internal-shared-secret"

// localSecret returns the cluster secret kept under dir, creating it.
func localSecret(dir string) (string, error) {
	path := filepath.Join(dir, localSecretFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(strings.TrimSpace(string(b))) > 0:
		return strings.TrimSpace(string(b)), nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read internode secret: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	secret := nodeauth.GenerateSecret()
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write internode secret: %w", err)
	}
	return secret, nil
}

func newLocalCommand() *cobra.Command {
	var (
		o    localOptions
		logs logOptions
	)
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a whole Strata cluster on this machine, in one process",
		Example: `  strata local
  strata local --dir /tmp/strata --data-nodes 3 --replication 3`,
		Long: `Run a whole Strata cluster on loopback in one process, its data under one
folder (--dir). Meta node i (counting from 0) serves its HTTP API on
8091+100*i and raft on 8089+100*i; data node i serves the InfluxDB API on
8086+100*i and internode RPC on 8088+100*i, so every InfluxDB client works
against localhost:8086. --replication (capped at the number of data nodes)
becomes the cluster's default replication factor, kept in meta: databases
created without one get it.
A second start with the same --dir reuses the cluster's data. Ctrl-C stops
every node cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), "STRATA_LOCAL_"); err != nil {
				return err
			}
			switch {
			case o.metaNodes < 1:
				return fmt.Errorf("--meta-nodes must be at least 1, got %d", o.metaNodes)
			case o.dataNodes < 0:
				return fmt.Errorf("--data-nodes must not be negative, got %d", o.dataNodes)
			case o.replication < 1:
				return fmt.Errorf("--replication must be at least 1, got %d", o.replication)
			}
			o.replication = min(o.replication, max(o.dataNodes, 1))
			o.replicationSet = cmd.Flags().Changed("replication")
			logger, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			var c localCluster
			if err := o.start(&c, logger); err != nil {
				return errors.Join(err, c.close())
			}
			printLocalEndpoints(cmd.OutOrStdout(), o.dir, &c)
			<-ctx.Done()
			logger.Info("stopping local cluster")
			if err := c.close(); err != nil {
				return fmt.Errorf("stop local cluster: %w", err)
			}
			logger.Info("local cluster stopped")
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.dir, "dir", localDefaultDir, "folder holding every node's data")
	fs.IntVar(&o.metaNodes, "meta-nodes", 3, "number of meta nodes")
	fs.IntVar(&o.dataNodes, "data-nodes", 2, "number of data nodes")
	fs.IntVar(&o.replication, "replication", 2, "the cluster's default replication factor for new databases (kept in meta)")
	fs.StringVar(&o.host, "host", "127.0.0.1", "address every node listens on")
	logs.register(fs)
	return cmd
}

func printLocalEndpoints(w io.Writer, dir string, c *localCluster) {
	var metaAddrs []string
	for i, s := range c.metas {
		fmt.Fprintf(w, "meta%d  http://%s  raft %s\n", i+1, s.HTTPAddr(), s.RaftAddr())
		metaAddrs = append(metaAddrs, s.HTTPAddr())
	}
	for i, s := range c.datas {
		fmt.Fprintf(w, "data%d  http://%s  rpc %s  (node %d)\n", i+1, s.HTTPAddr(), s.RPCAddr(), s.NodeID())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	fmt.Fprintf(w, "data under %s\n", abs)
	fmt.Fprintf(w, "internode secret in %s\n", filepath.Join(abs, localSecretFile))
	fmt.Fprintf(w, "try: STRATA_CTL_INTERNAL_SHARED_SECRET=$(cat %s) strata ctl --meta %s show\n",
		filepath.Join(abs, localSecretFile), strings.Join(metaAddrs, ","))
	if len(c.datas) > 0 {
		fmt.Fprintf(w, "     curl -XPOST 'http://%s/query' --data-urlencode 'q=CREATE DATABASE mydb'\n", c.datas[0].HTTPAddr())
		fmt.Fprintf(w, "     curl -XPOST 'http://%s/write?db=mydb' --data-binary 'cpu,host=a usage=0.5'\n", c.datas[0].HTTPAddr())
	}
	fmt.Fprintln(w, "Ctrl-C stops the cluster.")
}
