package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/data"
)

func newCtlEntropyCommand(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "entropy",
		Short:   "Anti-entropy: per-shard check state, manual repair",
		Example: "  strata ctl entropy show\n  strata ctl entropy repair 12",
	}
	cmd.AddCommand(newCtlEntropyShowCommand(o), newCtlEntropyRepairCommand(o), newCtlEntropyKillCommand(o))
	return cmd
}

// entropyRow is one shard on one owner, as `entropy show` prints it.
type entropyRow struct {
	Node uint64 `json:"node"`
	antientropy.ShardStatus
}

func newCtlEntropyShowCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "show",
		Short:   "Per shard and owner: last check, state, differing buckets, last repair",
		Example: "  strata ctl entropy show\n  strata ctl entropy show --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			answers := askDataNodes[antientropy.Status](cmd, o, d.DataNodes, http.MethodGet, data.EntropyPath)
			var rows []entropyRow
			var repairs []antientropy.RepairStatus
			for _, a := range answers {
				for _, s := range a.Value.Shards {
					rows = append(rows, entropyRow{Node: a.Node, ShardStatus: s})
				}
				if a.Value.Repair != nil {
					repairs = append(repairs, *a.Value.Repair)
				}
			}
			slices.SortFunc(rows, func(a, b entropyRow) int {
				if a.Shard != b.Shard {
					return cmp.Compare(a.Shard, b.Shard)
				}
				return cmp.Compare(a.Node, b.Node)
			})
			err = o.output(cmd.OutOrStdout(), map[string]any{"shards": rows, "repairs": repairs, "unreachable": unanswered(answers)}, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "SHARD\tNODE\tSTATE\tLAST CHECK\tDIFFERING BUCKETS\tLAST REPAIR\tPOINTS REPAIRED")
				for _, r := range rows {
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%s\t%d\n", r.Shard, r.Node, r.State, ago(r.LastCheck), r.DifferingBuckets, ago(r.LastRepair), r.PointsRepaired)
				}
				for _, r := range repairs {
					state := "running"
					if !r.Running {
						state = "finished " + ago(r.Finished)
					}
					fmt.Fprintf(tw, "\nrepair of shard %d: %s, %s, %d points", r.Shard, state, r.Phase, r.Points)
					if r.Error != "" {
						fmt.Fprintf(tw, ", error: %s", r.Error)
					}
					fmt.Fprintln(tw)
				}
				printUnanswered(tw, answers)
			})
			return err
		},
	}
}

func newCtlEntropyRepairCommand(o *ctlOptions) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:     "repair SHARD",
		Short:   "Compare SHARD on one owner with every other owner now and repair it, with a live progress line",
		Example: "  strata ctl entropy repair 12\n  strata ctl entropy repair 12 --wait 10m",
		Long: `Run anti-entropy for SHARD at once on its first owner that answers, against
every other owner, comparing every window (the settle horizon is ignored).
A progress line follows the repair until it ends; interrupting the command
leaves the repair running (stop it with "strata ctl entropy kill-repair").`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("SHARD must be a shard id, got %q", args[0])
			}
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			owners := d.ShardOwners(id)
			if len(owners) == 0 {
				return fmt.Errorf("shard %d has no owners in the cluster state", id)
			}
			var addr string
			var errs []error
			for _, owner := range owners {
				n := d.DataNode(owner)
				if n == nil {
					continue
				}
				ctx, cancel := o.context(cmd)
				err := o.dataNodes.call(ctx, http.MethodPost, n.HTTPAddr, data.EntropyRepairPath+"?shard="+args[0], nil)
				cancel()
				if err == nil {
					addr = n.HTTPAddr
					break
				}
				errs = append(errs, fmt.Errorf("node %d: %w", owner, err))
			}
			if addr == "" {
				return failed(fmt.Sprintf("start repair of shard %d", id), errors.Join(errs...))
			}
			return followRepair(cmd, o, addr, id, wait)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", time.Hour, "stop following the repair after this long")
	return cmd
}

// followRepair polls the node's repair status and draws a progress line
// until the repair ends.
func followRepair(cmd *cobra.Command, o *ctlOptions, addr string, shard uint64, wait time.Duration) error {
	out := cmd.OutOrStdout()
	progress := newProgress(o, cmd, fmt.Sprintf("shard %d", shard))
	return follow(cmd, o, wait, fmt.Sprintf("the repair of shard %d", shard), func(ctx context.Context) (bool, error) {
		var st antientropy.Status
		if err := o.dataNodes.call(ctx, http.MethodGet, addr, data.EntropyPath, &st); err != nil {
			return false, failed("read repair progress", err)
		}
		r := st.Repair
		if r == nil || r.Shard != shard {
			return false, nil
		}
		progress.update(r.Total, r.Done, fmt.Sprintf("shard %d: %s (%d points)", shard, r.Phase, r.Points))
		if r.Running {
			return false, nil
		}
		progress.finish()
		if r.Error != "" {
			return true, &cliError{msg: fmt.Sprintf("repair of shard %d: %s", shard, r.Error)}
		}
		return true, o.output(out, r, func(tw *tabwriter.Writer) {
			fmt.Fprintf(tw, "repaired shard %d: %d points moved in %s\n", shard, r.Points, r.Finished.Sub(r.Started).Round(time.Millisecond))
		})
	})
}

// follow calls step (each call bounded by --timeout) every 200ms until it
// reports done or fails, for at most wait; what names the operation that
// keeps running when the wait ends.
func follow(cmd *cobra.Command, o *ctlOptions, wait time.Duration, what string, step func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), wait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		rctx, rcancel := o.context(cmd)
		done, err := step(rctx)
		rcancel()
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following %s (it keeps running): %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// killOnEachDataNode posts path to every data node and returns those that
// answered {"killed": true}.
func killOnEachDataNode(cmd *cobra.Command, o *ctlOptions, path string) ([]uint64, error) {
	d, err := readState(cmd, o)
	if err != nil {
		return nil, err
	}
	var killed []uint64
	for _, a := range askDataNodes[struct{ Killed bool }](cmd, o, d.DataNodes, http.MethodPost, path) {
		if a.Err == nil && a.Value.Killed {
			killed = append(killed, a.Node)
		}
	}
	return killed, nil
}

func newCtlEntropyKillCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "kill-repair",
		Short:   "Cancel the manual repair running on any data node",
		Example: "  strata ctl entropy kill-repair",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			killed, err := killOnEachDataNode(cmd, o, data.EntropyKillPath)
			if err != nil {
				return err
			}
			if len(killed) == 0 {
				return o.done(cmd.OutOrStdout(), "no repair was running")
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("cancelled the repair on data node(s) %v", killed))
		},
	}
}

// ago formats how long ago t was ("-" for never).
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}
