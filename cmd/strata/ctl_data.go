package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

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
	var drain bool
	var flags moveFlags
	cmd := &cobra.Command{
		Use:   "remove-data ID|ADDR [--drain]",
		Short: "Remove a data node, with --drain after moving its shards to the other nodes",
		Long: `Remove a data node from the cluster. With --drain, the node is first marked
draining in meta, so no shard group created from then on is placed on it,
and its shards are moved to the other data nodes as rebalance moves them
(each copied and verified before the node gives it up, keeping every
shard's replication factor and an even share per node); the node is
removed only once it owns nothing. An interrupted or failed drain leaves
the mark: run the command again to finish, or clear it with
"strata ctl update-data ID --draining=false". Without --drain its shards
are left under-replicated: asked on a terminal whether to drain first,
warned otherwise.`,
		Example: `  strata ctl remove-data 4 --drain
  strata ctl remove-data 10.0.0.21:8088 --drain --parallel 4
  strata ctl remove-data 4`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			id, err := dataNodeID(ctx, c, args[0])
			if err != nil {
				return err
			}
			d, _, err := c.ReadData(ctx, meta.ReadConsistent)
			if err != nil {
				return failed("read cluster state", err)
			}
			if d.DataNode(id) == nil {
				return fmt.Errorf("data node %d is not in the cluster state", id)
			}
			if owned := len(d.ShardsOwnedBy(id)); owned > 0 && !drain {
				drain = offerDrain(cmd, o, id, owned)
			}
			if drain {
				if err := drainDataNode(cmd, o, c, d, flags, id); err != nil {
					return err
				}
			}
			ctx, cancel := o.context(cmd)
			defer cancel()
			if err := c.DeleteDataNode(ctx, id); err != nil {
				return failed(fmt.Sprintf("remove data node %d", id), err)
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("removed data node %d; stop its process (it no longer owns shards, and restarted with the same --dir it refuses to start; an empty --dir joins as a new node)", id))
		},
	}
	cmd.Flags().BoolVar(&drain, "drain", false, "move the node's shards to the other data nodes first")
	flags.register(cmd)
	return cmd
}

// drainDataNode checks in d that another data node can take data node
// id's shards, marks id draining in meta, so no shard group created from
// then on is placed on it, then moves every shard it owns to the other
// data nodes. On failure the node stays marked: running the command again
// finishes the drain.
func drainDataNode(cmd *cobra.Command, o *ctlOptions, c *meta.Client, d *meta.Data, flags moveFlags, id uint64) error {
	if !slices.ContainsFunc(d.DataNodes, func(n meta.NodeInfo) bool { return n.ID != id && !n.Draining }) {
		return fmt.Errorf("cannot drain data node %d: no other data node (not itself draining) would be left to hold its shards", id)
	}
	ctx, cancel := o.context(cmd)
	err := c.SetDataNodeDraining(ctx, id, true)
	cancel()
	if err != nil {
		return failed(fmt.Sprintf("mark data node %d draining", id), err)
	}
	if err := planAndMove(cmd, o, flags, map[uint64]bool{id: true}, false); err != nil {
		return fmt.Errorf("%w\ndata node %d stays marked draining, so new shard groups avoid it (`strata ctl update-data %d --draining=false` cancels the drain)", err, id, id)
	}
	ctx, cancel = o.context(cmd)
	d, _, err = c.ReadData(ctx, meta.ReadConsistent)
	cancel()
	if err != nil {
		return failed("read cluster state", err)
	}
	if left := d.ShardsOwnedBy(id); len(left) > 0 {
		return fmt.Errorf("data node %d still owns %d shard(s) after the drain; not removed (run the command again)", id, len(left))
	}
	return nil
}

// offerDrain asks, on a terminal, whether to drain node id (which owns
// owned shards) before removing it; elsewhere it warns that they become
// under-replicated and answers no.
func offerDrain(cmd *cobra.Command, o *ctlOptions, id uint64, owned int) bool {
	in, ok := cmd.InOrStdin().(*os.File)
	// isatty, not a character device: /dev/null is one too.
	if ok && !o.json && term.IsTerminal(int(in.Fd())) {
		fmt.Fprintf(cmd.OutOrStdout(), "data node %d owns %d shard(s); removing it leaves them under-replicated.\nMove them to the other data nodes first (as --drain does)? [Y/n] ", id, owned)
		answer, err := bufio.NewReader(in).ReadString('\n')
		if err != nil {
			return false // no answer (end of input): nothing is moved
		}
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "", "y", "yes":
			return true
		}
		return false
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "warning: data node %d owns %d shard(s), now under-replicated; `strata ctl remove-data %d --drain` would have moved them first (strata ctl rebalance restores their replication factor)\n", id, owned, id)
	return false
}

func newCtlUpdateDataCommand(o *ctlOptions) *cobra.Command {
	var httpAddr, rpcAddr string
	var draining bool
	cmd := &cobra.Command{
		Use:   "update-data OLD_ADDR NEW_ADDR | ID|ADDR [--http-addr HOST:PORT] [--rpc-addr HOST:PORT] [--draining=BOOL]",
		Short: "Change a data node's registered addresses (a node that came back at a new address) or draining mark",
		Long: `Change the addresses meta holds for a data node, for a node that came back
at a new address: other nodes and ctl then reach it there, and it keeps its
id and shards.

With OLD_ADDR NEW_ADDR, the node whose RPC or HTTP address is OLD_ADDR gets
NEW_ADDR in its place; when the host changed, its other address moves to
the new host too (keeping its port). With one argument, --http-addr and
--rpc-addr give the new addresses.

--draining sets or clears the mark "remove-data --drain" puts on a node:
a draining node gets no shard of a shard group created afterwards, and
rebalance moves its shards away. --draining=false cancels an interrupted
drain (what was already moved stays moved; rebalance evens it out again).`,
		Example: `  strata ctl update-data 10.0.0.21:8088 10.0.0.31:8088
  strata ctl update-data 4 --http-addr 10.0.0.31:8086 --rpc-addr 10.0.0.31:8088
  strata ctl update-data 4 --draining=false`,
		Args: cobra.RangeArgs(1, 2),
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
			if len(args) == 2 {
				if h, r, err = movedAddrs(*n, args[0], args[1]); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("http-addr") {
				h = httpAddr
			}
			if cmd.Flags().Changed("rpc-addr") {
				r = rpcAddr
			}
			setDraining := cmd.Flags().Changed("draining")
			if h == n.HTTPAddr && r == n.RPCAddr && !setDraining {
				return fmt.Errorf("nothing to change: give NEW_ADDR, --http-addr, --rpc-addr or --draining with a new value")
			}
			var changed []string
			if h != n.HTTPAddr || r != n.RPCAddr {
				if err := c.UpdateDataNode(ctx, id, h, r); err != nil {
					return failed(fmt.Sprintf("update data node %d", id), err)
				}
				changed = append(changed, fmt.Sprintf("rpc %s, http %s", r, h))
			}
			if setDraining {
				if err := c.SetDataNodeDraining(ctx, id, draining); err != nil {
					return failed(fmt.Sprintf("update data node %d", id), err)
				}
				changed = append(changed, fmt.Sprintf("draining %t", draining))
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("updated data node %d (%s)", id, strings.Join(changed, "; ")))
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "new client HTTP API address")
	cmd.Flags().StringVar(&rpcAddr, "rpc-addr", "", "new internode RPC address")
	cmd.Flags().BoolVar(&draining, "draining", false, "mark the node draining (true) or clear the mark (false)")
	return cmd
}

// movedAddrs returns node n's HTTP and RPC addresses once oldAddr (one of
// them) is replaced by newAddr; the other one follows a change of host.
func movedAddrs(n meta.NodeInfo, oldAddr, newAddr string) (httpAddr, rpcAddr string, err error) {
	newHost, _, err := net.SplitHostPort(newAddr)
	if err != nil {
		return "", "", fmt.Errorf("NEW_ADDR must be HOST:PORT, got %q", newAddr)
	}
	oldHost, _, err := net.SplitHostPort(oldAddr)
	if err != nil {
		return "", "", fmt.Errorf("OLD_ADDR must be a data node's HOST:PORT, got %q", oldAddr)
	}
	follow := func(addr string) string {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != oldHost {
			return addr
		}
		return net.JoinHostPort(newHost, port)
	}
	switch oldAddr {
	case n.RPCAddr:
		return follow(n.HTTPAddr), newAddr, nil
	case n.HTTPAddr:
		return newAddr, follow(n.RPCAddr), nil
	}
	return "", "", fmt.Errorf("OLD_ADDR %q is neither data node %d's RPC address %s nor its HTTP address %s", oldAddr, n.ID, n.RPCAddr, n.HTTPAddr)
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
