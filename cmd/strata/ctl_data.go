package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/meta"
)

func newCtlAddDataCommand(o *ctlOptions) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:     "add-data RPC_ADDR --http-addr HOST:PORT",
		Short:   "Register a data node (a starting node registers itself; this is for preparing one)",
		Example: `  strata ctl add-data 10.0.0.21:8088 --http-addr 10.0.0.21:8086`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if httpAddr == "" {
				return fmt.Errorf("--http-addr is required: the node's client API address")
			}
			ctx, c, done := o.session(cmd)
			defer done()
			n, err := c.CreateDataNode(ctx, httpAddr, args[0])
			if err != nil {
				return failed(fmt.Sprintf("add data node %s", args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("added data node %d (rpc %s, http %s)", n.ID, n.RPCAddr, n.HTTPAddr))
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "the node's client HTTP API address")
	return cmd
}

// dataNodeID resolves a data node given by id or by HTTP or RPC address.
func dataNodeID(ctx context.Context, c *meta.Client, arg string) (uint64, error) {
	if id, err := strconv.ParseUint(arg, 10, 64); err == nil {
		return id, nil
	}
	d, _, err := c.ReadData(ctx, meta.ReadDefault)
	if err != nil {
		return 0, failed("read cluster state", err)
	}
	for _, n := range d.DataNodes {
		if n.HTTPAddr == arg || n.RPCAddr == arg {
			return n.ID, nil
		}
	}
	return 0, fmt.Errorf("no data node has id or address %q", arg)
}

func newCtlRemoveDataCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-data ID|ADDR",
		Short: "Remove a data node; its shards are then reported under-replicated (nothing is moved)",
		Example: `  strata ctl remove-data 4
  strata ctl remove-data 10.0.0.21:8088`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			id, err := dataNodeID(ctx, c, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteDataNode(ctx, id); err != nil {
				return failed(fmt.Sprintf("remove data node %d", id), err)
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("removed data node %d", id))
		},
	}
}

func newCtlUpdateDataCommand(o *ctlOptions) *cobra.Command {
	var httpAddr, rpcAddr string
	cmd := &cobra.Command{
		Use:     "update-data ID|ADDR [--http-addr HOST:PORT] [--rpc-addr HOST:PORT]",
		Short:   "Change a data node's registered addresses",
		Example: `  strata ctl update-data 4 --http-addr 10.0.0.31:8086 --rpc-addr 10.0.0.31:8088`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			id, err := dataNodeID(ctx, c, args[0])
			if err != nil {
				return err
			}
			d, _, err := c.ReadData(ctx, meta.ReadDefault)
			if err != nil {
				return failed("read cluster state", err)
			}
			n := d.DataNode(id)
			if n == nil {
				return fmt.Errorf("no data node has id %d", id)
			}
			h, r := n.HTTPAddr, n.RPCAddr
			if cmd.Flags().Changed("http-addr") {
				h = httpAddr
			}
			if cmd.Flags().Changed("rpc-addr") {
				r = rpcAddr
			}
			if h == n.HTTPAddr && r == n.RPCAddr {
				return fmt.Errorf("nothing to change: give --http-addr or --rpc-addr with a new value")
			}
			if err := c.UpdateDataNode(ctx, id, h, r); err != nil {
				return failed(fmt.Sprintf("update data node %d", id), err)
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("updated data node %d (rpc %s, http %s)", id, r, h))
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "new client HTTP API address")
	cmd.Flags().StringVar(&rpcAddr, "rpc-addr", "", "new internode RPC address")
	return cmd
}

func newCtlTruncateShardsCommand(o *ctlOptions) *cobra.Command {
	var delay time.Duration
	cmd := &cobra.Command{
		Use:   "truncate-shards [--delay D]",
		Short: "End the current shard groups now (or after --delay) so new writes use the current placement",
		Example: `  strata ctl truncate-shards
  strata ctl truncate-shards --delay 1m`,
		Long: `End every shard group that covers now (plus --delay). Writes after that
point create new groups, placed over the data nodes registered then: this is
how a cluster starts using nodes added since the groups were made.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if delay < 0 {
				return fmt.Errorf("--delay must not be negative")
			}
			ctx, c, done := o.session(cmd)
			defer done()
			at := time.Now().Add(delay).UTC()
			if err := c.TruncateShardGroups(ctx, at); err != nil {
				return failed("truncate shard groups", err)
			}
			return o.done(cmd.OutOrStdout(), "truncated shard groups at "+at.Format(time.RFC3339))
		},
	}
	cmd.Flags().DurationVar(&delay, "delay", 0, "end the groups this long from now")
	return cmd
}

// heldShards asks every data node of d for the shards it holds: node →
// shard → status, without the nodes that did not answer.
func heldShards(cmd *cobra.Command, o *ctlOptions, d *meta.Data) map[uint64]map[uint64]data.ShardStatus {
	held := make(map[uint64]map[uint64]data.ShardStatus)
	for _, a := range askDataNodes[[]data.ShardStatus](cmd, o, d.DataNodes, http.MethodGet, data.ShardsPath) {
		if a.Err != nil {
			continue
		}
		m := make(map[uint64]data.ShardStatus, len(a.Value))
		for _, s := range a.Value {
			m[s.ID] = s
		}
		held[a.Node] = m
	}
	return held
}
