package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/meta"
)

// shardArg parses a SHARD argument.
func shardArg(arg string) (uint64, error) {
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("SHARD must be a shard id, got %q", arg)
	}
	return id, nil
}

// shardNodes resolves node arguments (id or address) and a shard id
// against the cluster state.
func shardNodes(cmd *cobra.Command, o *ctlOptions, nodeArgs []string, shardArgStr string) (*meta.Data, []uint64, uint64, error) {
	shard, err := shardArg(shardArgStr)
	if err != nil {
		return nil, nil, 0, err
	}
	ctx, c, done := o.session(cmd)
	defer done()
	var ids []uint64
	for _, a := range nodeArgs {
		id, err := dataNodeID(ctx, c, a)
		if err != nil {
			return nil, nil, 0, err
		}
		ids = append(ids, id)
	}
	d, _, err := c.ReadData(ctx, meta.ReadConsistency(o.consistency))
	if err != nil {
		return nil, nil, 0, failed("read cluster state", err)
	}
	for _, id := range ids {
		if d.DataNode(id) == nil {
			return nil, nil, 0, fmt.Errorf("data node %d is not in the cluster state", id)
		}
	}
	return d, ids, shard, nil
}

func newCtlCopyShardCommand(o *ctlOptions) *cobra.Command {
	var wait time.Duration
	var detach bool
	cmd := &cobra.Command{
		Use:   "copy-shard SRC DEST SHARD",
		Short: "Copy SHARD from data node SRC to DEST, then make DEST an owner once the Merkle roots agree",
		Long: `Copy SHARD from data node SRC (an owner) to DEST (id or address), with a
live progress line (plain lines when the output is not a terminal). DEST
streams the whole shard from SRC as anti-entropy restores a missing
replica; SRC then forwards the writes the shard takes to DEST while they
exchange until their Merkle roots over every window are equal. Only then
is DEST added as an owner in meta, and a final exchange brings over what
SRC took meanwhile. A copy that fails or is killed leaves DEST without the
shard. If SRC stops answering, DEST retries for 30 s and resumes where it
stopped; if DEST restarts, it resumes the copy. Interrupting the command
leaves the copy running (see copy-shard-status, kill-copy-shard).`,
		Example: "  strata ctl copy-shard 1 3 7\n  strata ctl copy-shard 10.0.0.1:8088 10.0.0.3:8088 7 --detach",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, ids, shard, err := shardNodes(cmd, o, args[:2], args[2])
			if err != nil {
				return err
			}
			src, dest := ids[0], ids[1]
			if src == dest {
				return fmt.Errorf("SRC and DEST are both data node %d", src)
			}
			addr := d.DataNode(dest).HTTPAddr
			ctx, cancel := o.context(cmd)
			var started data.CopyShardStatus
			err = o.dataNodes.call(ctx, http.MethodPost, addr, fmt.Sprintf("%s?shard=%d&source=%d", data.CopyShardPath, shard, src), &started)
			cancel()
			if err != nil {
				return failed(fmt.Sprintf("start copy of shard %d from node %d to node %d", shard, src, dest), err)
			}
			if detach {
				return o.done(cmd.OutOrStdout(), fmt.Sprintf("copying shard %d from node %d to node %d", shard, src, dest))
			}
			return followCopy(cmd, o, addr, shard, started.Started, wait)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", time.Hour, "stop following the copy after this long")
	cmd.Flags().BoolVar(&detach, "detach", false, "start the copy and return at once")
	return cmd
}

// statusLine shows a running operation's state: a live progress line on
// a terminal, else one plain line each time the state changes; nothing
// with --json.
type statusLine struct {
	out  io.Writer
	bar  *progressbar.ProgressBar
	json bool
	last string
}

func newStatusLine(out io.Writer, json bool, start string) *statusLine {
	l := &statusLine{out: out, json: json}
	if !json && isTerminal(out) {
		l.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(out), progressbar.OptionSpinnerType(14),
			progressbar.OptionSetDescription(start), progressbar.OptionClearOnFinish())
	}
	return l
}

// update shows desc; off a terminal it prints it only when key (the
// state) changed.
func (l *statusLine) update(key, desc string) {
	switch {
	case l.json:
	case l.bar != nil:
		l.bar.Describe(desc)
		_ = l.bar.Add(1)
	case key != l.last:
		fmt.Fprintln(l.out, desc)
	}
	l.last = key
}

// finish clears the live line.
func (l *statusLine) finish() {
	if l.bar != nil {
		_ = l.bar.Finish()
	}
}

// copyFollowGrace is how long following a copy tolerates a destination
// that does not answer (a restart, after which it resumes the copy).
const copyFollowGrace = 40 * time.Second

// followCopy follows the copy of shard that the data node at addr
// started at since, with a status line, until it ends.
func followCopy(cmd *cobra.Command, o *ctlOptions, addr string, shard uint64, since time.Time, wait time.Duration) error {
	out := cmd.OutOrStdout()
	line := newStatusLine(out, o.json, fmt.Sprintf("shard %d: starting", shard))
	st, err := watchCopy(cmd.Context(), cmd, o, addr, shard, since, wait, func(st data.CopyShardStatus, silent time.Duration) {
		if silent > 0 {
			line.update("unreachable", fmt.Sprintf("shard %d: destination not answering (%s)", shard, silent.Round(time.Second)))
			return
		}
		desc := fmt.Sprintf("shard %d: %s, %d file bytes, %d values, %d exchanges", shard, st.State, st.Bytes, st.Values, st.Rounds)
		key := st.State
		if st.Error != "" {
			desc += fmt.Sprintf(", retrying (%d): %s", st.Retries, st.Error)
			key += " retrying"
		}
		line.update(key, desc)
	})
	line.finish()
	if err != nil {
		return err
	}
	if st.Error != "" {
		return &cliError{msg: fmt.Sprintf("copy of shard %d %s: %s", shard, st.State, st.Error)}
	}
	return o.output(out, st, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "copied shard %d from node %d to node %d: %d file bytes and %d values in %s; node %d is an owner, Merkle roots verified equal\n",
			shard, st.Source, st.Dest, st.Bytes, st.Values, st.Finished.Sub(st.Started).Round(time.Millisecond), st.Dest)
	})
}

// watchCopy polls the data node at addr every 200 ms for its copy of
// shard that started at since or later, until the copy ends (its final
// status is returned), ctx ends or wait passes. show gets each running
// state, or, while the node does not answer, for how long it has not: a
// node restarted mid-copy resumes it, so silence fails the watch only
// after copyFollowGrace.
func watchCopy(ctx context.Context, cmd *cobra.Command, o *ctlOptions, addr string, shard uint64, since time.Time, wait time.Duration,
	show func(st data.CopyShardStatus, silent time.Duration)) (data.CopyShardStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var silentSince time.Time
	for {
		rctx, rcancel := o.context(cmd)
		var sts []data.CopyShardStatus
		err := o.dataNodes.call(rctx, http.MethodGet, addr, data.CopyShardStatusPath, &sts)
		rcancel()
		if err != nil {
			if silentSince.IsZero() {
				silentSince = time.Now()
			}
			if time.Since(silentSince) > copyFollowGrace {
				return data.CopyShardStatus{}, failed("read copy progress", err)
			}
			show(data.CopyShardStatus{Shard: shard, Running: true}, time.Since(silentSince))
		} else {
			silentSince = time.Time{}
			i := slices.IndexFunc(sts, func(st data.CopyShardStatus) bool { return st.Shard == shard && !st.Started.Before(since) })
			if i >= 0 && !sts[i].Running {
				return sts[i], nil
			}
			if i >= 0 {
				show(sts[i], 0)
			}
		}
		select {
		case <-ctx.Done():
			return data.CopyShardStatus{}, fmt.Errorf("stopped following the copy of shard %d (it keeps running): %w", shard, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func newCtlCopyShardStatusCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "copy-shard-status",
		Short:   "Shard copies on every data node: state, values moved, errors",
		Example: "  strata ctl copy-shard-status\n  strata ctl copy-shard-status --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			answers := askDataNodes[[]data.CopyShardStatus](cmd, o, d.DataNodes, http.MethodGet, data.CopyShardStatusPath)
			var all []data.CopyShardStatus
			for _, a := range answers {
				all = append(all, a.Value...)
			}
			return o.output(cmd.OutOrStdout(), map[string]any{"copies": all, "unreachable": unanswered(answers)}, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "SHARD\tSOURCE\tDEST\tSTATE\tFILE BYTES\tVALUES\tEXCHANGES\tSTARTED\tERROR")
				for _, s := range all {
					fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\n", s.Shard, s.Source, s.Dest, s.State, s.Bytes, s.Values, s.Rounds, ago(s.Started), s.Error)
				}
				printUnanswered(tw, answers)
			})
		},
	}
}

func newCtlKillCopyShardCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "kill-copy-shard SHARD",
		Short:   "Cancel the running copy of SHARD (the destination then drops its partial copy)",
		Example: "  strata ctl kill-copy-shard 7",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			shard, err := shardArg(args[0])
			if err != nil {
				return err
			}
			killed, err := killOnEachDataNode(cmd, o, fmt.Sprintf("%s?shard=%d", data.CopyShardKillPath, shard))
			if err != nil {
				return err
			}
			if len(killed) == 0 {
				return o.done(cmd.OutOrStdout(), fmt.Sprintf("no copy of shard %d was running", shard))
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("cancelled the copy of shard %d on data node(s) %v", shard, killed))
		},
	}
}

func newCtlRemoveShardCommand(o *ctlOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove-shard NODE SHARD",
		Short: "Remove data node NODE as an owner of SHARD (refused for the last owner unless --force)",
		Long: `Remove data node NODE (id or address) from SHARD's owners in meta; the
node then deletes its replica. Removing the shard's last owner loses its
data and is refused unless --force.`,
		Example: "  strata ctl remove-shard 1 7\n  strata ctl remove-shard 1 7 --force",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, ids, shard, err := shardNodes(cmd, o, args[:1], args[1])
			if err != nil {
				return err
			}
			ctx, c, done := o.session(cmd)
			defer done()
			if err := c.RemoveShardOwner(ctx, shard, ids[0], force); err != nil {
				if errors.Is(err, meta.ErrLastShardOwner) {
					return &cliError{msg: fmt.Sprintf("remove node %d from shard %d: it is the shard's only owner, so its data would be lost; copy the shard to another node first (strata ctl copy-shard), or give --force", ids[0], shard), err: err}
				}
				return failed(fmt.Sprintf("remove node %d from shard %d", ids[0], shard), err)
			}
			return o.done(cmd.OutOrStdout(), fmt.Sprintf("node %d no longer owns shard %d", ids[0], shard))
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove the last owner too (its data is lost)")
	return cmd
}
