package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/meta"
)

// clusterView is what `strata ctl show` prints.
type clusterView struct {
	Leader    string         `json:"leader"`
	MetaNodes []metaNodeView `json:"meta_nodes"`
	DataNodes []dataNodeView `json:"data_nodes"`
	// DefaultReplication is the replication factor of new databases that
	// name none.
	DefaultReplication int `json:"default_replication"`
	// UnderReplicated lists shards with fewer owners than their policy wants.
	UnderReplicated []meta.ShardLocation `json:"under_replicated,omitempty"`
}

// dataNodeView is a data node with its state as the meta leader sees it
// from the node's heartbeats (meta.DataNodeUp, Down or Unknown) and the
// shard count of its last heartbeat (-1 without one).
type dataNodeView struct {
	meta.NodeInfo
	State         string        `json:"state"`
	Shards        int           `json:"shards"`
	LastHeartbeat time.Time     `json:"last_heartbeat,omitzero"`
	HeartbeatAge  meta.Duration `json:"heartbeat_age,omitempty"`
}

type metaNodeView struct {
	meta.MetaNodeInfo
	Voter  bool `json:"voter"`
	Leader bool `json:"leader"`
}

// clusterStatus asks the --meta addresses in turn for GET /status and
// returns the first answer.
func clusterStatus(ctx context.Context, c *meta.Client, addrs []string) (*meta.Status, error) {
	var errs []error
	for _, addr := range addrs {
		st, err := c.Status(ctx, addr)
		if err == nil {
			return st, nil
		}
		errs = append(errs, err)
	}
	return nil, &meta.UnreachableError{Addrs: addrs, Errs: errs}
}

func newCtlShowCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the meta nodes (leader marked) and data nodes",
		Example: `  strata ctl show
  strata ctl --meta 10.0.0.5 show --json`,
		Long: `Show the meta nodes (leader marked) and data nodes. A data node's state is
the meta leader's view of it, from the heartbeats the node sends: "up" when
one arrived within the meta nodes' data-node-timeout, "down" when none did,
"unknown" while a newly elected leader has not yet led that long. Nothing
is probed from this machine, so it answers the same wherever it runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			st, err := clusterStatus(ctx, c, o.addrs())
			if err != nil {
				return err
			}
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			// Only the leader hears heartbeats: without one (a stale
			// read) the rest is still shown, the states as unknown.
			states, err := c.DataNodeStates(ctx)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: data node states unknown: the meta leader did not answer: %v\n", err)
			}
			byID := make(map[uint64]meta.DataNodeState, len(states))
			for _, s := range states {
				byID[s.ID] = s
			}
			view := clusterView{Leader: st.Leader.ID, DefaultReplication: d.DefaultReplication(), UnderReplicated: d.UnderReplicatedShards()}
			for _, n := range d.DataNodes {
				v := dataNodeView{NodeInfo: n, State: meta.DataNodeUnknown, Shards: -1}
				if s, ok := byID[n.ID]; ok {
					v.State, v.Shards, v.LastHeartbeat, v.HeartbeatAge = s.State, s.Shards, s.LastHeartbeat, s.HeartbeatAge
				}
				view.DataNodes = append(view.DataNodes, v)
			}
			for _, p := range st.Peers {
				view.MetaNodes = append(view.MetaNodes, metaNodeView{MetaNodeInfo: p.MetaNodeInfo, Voter: p.Voter, Leader: p.ID == st.Leader.ID})
			}
			return o.output(cmd.OutOrStdout(), view, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "Meta nodes")
				fmt.Fprintln(tw, "ID\tHTTP ADDR\tRAFT ADDR\tROLE")
				for _, m := range view.MetaNodes {
					role := "follower"
					switch {
					case m.Leader:
						role = "leader"
					case !m.Voter:
						role = "non-voter"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.HTTPAddr, m.RaftAddr, role)
				}
				fmt.Fprintln(tw)
				fmt.Fprintln(tw, "Data nodes")
				fmt.Fprintln(tw, "ID\tHTTP ADDR\tRPC ADDR\tSTATE\tSHARDS\tLAST HEARTBEAT")
				for _, n := range view.DataNodes {
					shards, seen := "?", "never (by this leader)"
					if n.Shards >= 0 {
						shards = strconv.Itoa(n.Shards)
					}
					if !n.LastHeartbeat.IsZero() {
						seen = n.HeartbeatAge.D().Round(100*time.Millisecond).String() + " ago"
					}
					state := n.State
					if n.Draining {
						state += " (draining)"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.HTTPAddr, n.RPCAddr, state, shards, seen)
				}
				if len(view.DataNodes) == 0 {
					fmt.Fprintln(tw, "(none)")
				}
				fmt.Fprintf(tw, "\nDefault replication factor of new databases: %d\n", view.DefaultReplication)
				if n := len(view.UnderReplicated); n > 0 {
					fmt.Fprintf(tw, "\n%d shard(s) under-replicated; see `strata ctl show-shards`\n", n)
				}
			})
		},
	}
}

func newCtlAddMetaCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "add-meta HTTP_ADDR",
		Short:   "Add the running meta node at HTTP_ADDR to the cluster as a voter",
		Example: `  strata ctl add-meta 10.0.0.12:8091`,
		Long: `Add the running meta node at HTTP_ADDR to the cluster as a voter. The node
is asked for its id and raft address, then joined through the leader. A
node started with --join does this by itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			if err := c.AddMetaNode(ctx, args[0]); err != nil {
				return failed(fmt.Sprintf("add meta node %s", args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), "added meta node "+args[0])
		},
	}
}

func newCtlRemoveMetaCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-meta ID|HTTP_ADDR|RAFT_ADDR",
		Short: "Remove a meta node from the raft cluster",
		Example: `  strata ctl remove-meta meta3
  strata ctl remove-meta 10.0.0.13:8091`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			if err := c.RemoveMetaNode(ctx, args[0]); err != nil {
				return failed(fmt.Sprintf("remove meta node %s", args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), "removed meta node "+args[0])
		},
	}
}
