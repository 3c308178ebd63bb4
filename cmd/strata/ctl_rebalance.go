package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/meta"
)

// DefaultRebalanceParallel is how many shard moves a rebalance, drain or
// replacement runs at once unless --parallel says otherwise: each copy
// reads a whole shard on its source and rewrites it on its destination.
const DefaultRebalanceParallel = 2

// moveFlags are the flags of every command that moves shards.
type moveFlags struct {
	parallel int
	wait     time.Duration
}

func (f *moveFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.parallel, "parallel", DefaultRebalanceParallel, "shard moves run at once")
	cmd.Flags().DurationVar(&f.wait, "wait", time.Hour, "give up on a move whose copy has not ended after this long (the copy keeps running)")
}

func (f *moveFlags) validate() error {
	if f.parallel < 1 {
		return fmt.Errorf("--parallel must be at least 1, got %d", f.parallel)
	}
	if f.wait <= 0 {
		return fmt.Errorf("--wait must be positive")
	}
	return nil
}

// moveRunner executes shard moves for one ctl command.
type moveRunner struct {
	cmd   *cobra.Command
	o     *ctlOptions
	flags moveFlags
	meta  *meta.Client
	out   io.Writer
	// tty draws a live progress bar; otherwise each move ends with a
	// plain line.
	tty bool

	mu     sync.Mutex // protects active and done
	active map[uint64]string
	done   int
}

// newMoveRunner returns a runner printing progress to the command's
// standard output (a bar when it is a terminal and --json is not given).
func newMoveRunner(cmd *cobra.Command, o *ctlOptions, flags moveFlags, c *meta.Client) *moveRunner {
	out := cmd.OutOrStdout()
	tty := !o.json && isTerminal(out)
	return &moveRunner{cmd: cmd, o: o, flags: flags, meta: c, out: out, tty: tty, active: map[uint64]string{}}
}

// moveResult is how one move ended.
type moveResult struct {
	shardMove
	Error string `json:"error,omitempty"`
}

// run executes moves, at most --parallel at once and the moves of one
// shard one after the other in plan order. An interrupt (SIGINT, SIGTERM)
// stops it from starting more moves; copies already started keep running
// on their destination, and a later rebalance picks up from there. It
// returns every move's result and an error when one failed or the run
// was interrupted.
func (r *moveRunner) run(moves []shardMove) ([]moveResult, error) {
	ctx, stop := signal.NotifyContext(r.cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var bar *progressbar.ProgressBar
	if r.tty {
		bar = progressbar.NewOptions(len(moves), progressbar.OptionSetWriter(r.out), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(20), progressbar.OptionSetDescription("starting"), progressbar.OptionFullWidth())
		stopTicker := make(chan struct{})
		defer close(stopTicker)
		go func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stopTicker:
					return
				case <-tick.C:
					bar.Describe(r.describe())
				}
			}
		}()
	}
	// Chains of moves per shard, in plan order.
	var order []uint64
	chains := map[uint64][]int{}
	for i, m := range moves {
		if _, ok := chains[m.Shard]; !ok {
			order = append(order, m.Shard)
		}
		chains[m.Shard] = append(chains[m.Shard], i)
	}
	results := make([]moveResult, len(moves))
	sem := make(chan struct{}, r.flags.parallel)
	var wg sync.WaitGroup
	for _, shard := range order {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, i := range chains[shard] {
				start := time.Now()
				results[i].shardMove = moves[i]
				err := r.move(ctx, moves[i])
				r.finish(moves[i], start, err, ctx.Err() != nil && errors.Is(err, context.Canceled), bar, len(moves))
				if err != nil {
					results[i].Error = err.Error()
					return // later moves of this shard depend on this one
				}
			}
		})
	}
	wg.Wait()
	if bar != nil {
		bar.Describe("")
		_ = bar.Finish()
		fmt.Fprintln(r.out)
	}
	var failedMoves int
	for _, res := range results {
		if res.Error != "" {
			failedMoves++
		}
	}
	switch {
	case ctx.Err() != nil:
		return results, &cliError{msg: fmt.Sprintf("interrupted after %d of %d moves; copies already started keep running on their destination (strata ctl copy-shard-status); run the command again to finish", r.done, len(moves))}
	case failedMoves > 0:
		return results, &cliError{msg: fmt.Sprintf("%d of %d moves failed (see above); the shards they concern keep their old owners; run the command again to retry", failedMoves, len(moves))}
	}
	return results, nil
}

// describe is the progress bar's text: the moves running and their state.
func (r *moveRunner) describe() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	shards := make([]uint64, 0, len(r.active))
	for s := range r.active {
		shards = append(shards, s)
	}
	slices.Sort(shards)
	parts := make([]string, len(shards))
	for i, s := range shards {
		parts[i] = r.active[s]
	}
	return strings.Join(parts, " | ")
}

// setActive records what the move of shard is doing ("" when it ended).
func (r *moveRunner) setActive(shard uint64, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if state == "" {
		delete(r.active, shard)
		return
	}
	r.active[shard] = state
}

// finish counts an ended move and reports it; interrupted says err is the
// run's interruption, which left the move's copy running on its
// destination rather than failing it.
func (r *moveRunner) finish(m shardMove, start time.Time, err error, interrupted bool, bar *progressbar.ProgressBar, total int) {
	r.setActive(m.Shard, "")
	r.mu.Lock()
	if err == nil {
		r.done++
	}
	done := r.done
	r.mu.Unlock()
	took := time.Since(start).Round(time.Millisecond)
	left := fmt.Sprintf("%s: interrupted; its copy keeps running on node %d", m, m.Dest)
	switch {
	case r.o.json:
	case bar != nil && err != nil && interrupted:
		_ = bar.Clear()
		fmt.Fprintln(r.out, left)
	case err != nil && interrupted:
		fmt.Fprintf(r.out, "[%d/%d] %s\n", done, total, left)
	case bar != nil && err != nil:
		_ = bar.Clear()
		fmt.Fprintf(r.out, "%s: FAILED: %v\n", m, err)
	case bar != nil:
		bar.Describe(r.describe())
		_ = bar.Add(1)
	case err != nil:
		fmt.Fprintf(r.out, "[%d/%d] %s: FAILED after %s: %v\n", done, total, m, took, err)
	default:
		fmt.Fprintf(r.out, "[%d/%d] %s: done in %s\n", done, total, m, took)
	}
}

// move runs one move: a verified copy to Dest (unless Dest owns the shard
// already, as after an interrupted run), then Remove's ownership dropped.
func (r *moveRunner) move(ctx context.Context, m shardMove) error {
	if m.Dest != 0 {
		r.setActive(m.Shard, fmt.Sprintf("shard %d: starting copy to node %d", m.Shard, m.Dest))
		if err := r.copy(ctx, m); err != nil {
			return err
		}
	}
	if m.Remove != 0 {
		r.setActive(m.Shard, fmt.Sprintf("shard %d: removing node %d", m.Shard, m.Remove))
		cctx, cancel := r.o.context(r.cmd)
		defer cancel()
		if err := r.meta.RemoveShardOwner(cctx, m.Shard, m.Remove, false); err != nil {
			return failed(fmt.Sprintf("remove node %d from shard %d", m.Remove, m.Shard), err)
		}
	}
	return nil
}

// copy has Dest copy the shard from Source and waits for the copy to end
// verified; a copy of the shard already running there is followed.
func (r *moveRunner) copy(ctx context.Context, m shardMove) error {
	cctx, cancel := r.o.context(r.cmd)
	d, _, err := r.meta.ReadData(cctx, meta.ReadDefault)
	cancel()
	if err != nil {
		return failed("read cluster state", err)
	}
	if slices.Contains(d.ShardOwners(m.Shard), m.Dest) {
		return nil
	}
	n := d.DataNode(m.Dest)
	if n == nil {
		return fmt.Errorf("data node %d is not in the cluster state", m.Dest)
	}
	// The copy started here, as the destination's clock tells; zero
	// follows a copy of the shard already running there.
	var ours data.CopyShardStatus
	cctx, cancel = r.o.context(r.cmd)
	err = r.o.dataNodes.call(cctx, http.MethodPost, n.HTTPAddr, fmt.Sprintf("%s?shard=%d&source=%d", data.CopyShardPath, m.Shard, m.Source), &ours)
	cancel()
	var dnErr *dataNodeError
	switch {
	case errors.As(err, &dnErr) && dnErr.StatusCode == http.StatusConflict && strings.Contains(dnErr.Message, "being copied"):
	case err != nil:
		return fmt.Errorf("start copy on node %d: %w", m.Dest, err)
	}
	st, err := watchCopy(ctx, r.cmd, r.o, n.HTTPAddr, m.Shard, ours.Started, r.flags.wait, func(st data.CopyShardStatus, silent time.Duration) {
		if silent > 0 {
			r.setActive(m.Shard, fmt.Sprintf("shard %d: node %d not answering", m.Shard, m.Dest))
			return
		}
		state := fmt.Sprintf("shard %d -> node %d: %s, %d values", m.Shard, m.Dest, st.State, st.Values)
		if st.Error != "" {
			state += ", retrying"
		}
		r.setActive(m.Shard, state)
	})
	switch {
	case err != nil:
		return fmt.Errorf("copy to node %d: %w", m.Dest, err)
	case st.State != "done":
		return fmt.Errorf("copy to node %d %s: %s", m.Dest, st.State, st.Error)
	}
	return nil
}

// printPlan prints a plan as a table (or JSON with --json).
func printPlan(o *ctlOptions, w io.Writer, p *rebalancePlan) error {
	return o.output(w, p, func(tw *tabwriter.Writer) {
		if len(p.Moves) == 0 {
			fmt.Fprintln(tw, "nothing to move: every shard has its replication factor and every data node an even share")
		} else {
			fmt.Fprintf(tw, "%d moves:\n", len(p.Moves))
			fmt.Fprintln(tw, "SHARD\tDATABASE\tRP\tCOPY FROM\tTO\tTHEN REMOVE FROM")
			for _, m := range p.Moves {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.Shard, m.Database, m.Policy, nodeOrDash(m.Source), nodeOrDash(m.Dest), nodeOrDash(m.Remove))
			}
		}
		fmt.Fprintln(tw, "\nDATA NODE\tSHARDS NOW\tAFTER")
		var ids []uint64
		for id := range p.Before {
			ids = append(ids, id)
		}
		for id := range p.After {
			if _, ok := p.Before[id]; !ok {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			fmt.Fprintf(tw, "%d\t%d\t%d\n", id, p.Before[id], p.After[id])
		}
		for _, s := range p.Lost {
			fmt.Fprintf(tw, "\nshard %d cannot be copied: none of its owners %v is in the cluster (its data is gone unless one comes back)\n", s.ID, s.Owners)
		}
	})
}

func nodeOrDash(id uint64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatUint(id, 10)
}

// downDataNodes returns the data nodes the meta leader sees as down (no
// heartbeat within its data-node-timeout), so moves copy from the others;
// none when the leader does not answer.
func downDataNodes(cmd *cobra.Command, o *ctlOptions, c *meta.Client) map[uint64]bool {
	ctx, cancel := o.context(cmd)
	defer cancel()
	states, err := c.DataNodeStates(ctx)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: data node states unknown (%v): copies may be planned from a node that is down\n", err)
		return nil
	}
	down := map[uint64]bool{}
	for _, s := range states {
		if s.State == meta.DataNodeDown {
			down[s.ID] = true
		}
	}
	return down
}

// planAndMove reads the cluster state, plans a rebalance that drains the
// nodes in drain, prints the plan and, unless dryRun, executes it.
func planAndMove(cmd *cobra.Command, o *ctlOptions, flags moveFlags, drain map[uint64]bool, dryRun bool) error {
	if err := flags.validate(); err != nil {
		return err
	}
	c := o.client()
	defer c.Close()
	ctx, cancel := o.context(cmd)
	d, _, err := c.ReadData(ctx, meta.ReadConsistent)
	cancel()
	if err != nil {
		return failed("read cluster state", err)
	}
	p, err := planRebalance(d, drain, downDataNodes(cmd, o, c))
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if dryRun || !o.json {
		if err := printPlan(o, out, p); err != nil {
			return err
		}
	}
	if dryRun || len(p.Moves) == 0 {
		return nil
	}
	if !o.json {
		fmt.Fprintf(out, "\nmoving, %d at a time (interrupting is safe: run the command again to finish)\n", flags.parallel)
	}
	results, err := newMoveRunner(cmd, o, flags, c).run(p.Moves)
	if o.json {
		if jerr := o.output(out, map[string]any{"moves": results, "after": p.After}, nil); jerr != nil {
			return jerr
		}
	}
	if err == nil && !o.json {
		fmt.Fprintf(out, "done: %d moves\n", len(p.Moves))
	}
	return err
}

func newCtlRebalanceCommand(o *ctlOptions) *cobra.Command {
	var dryRun bool
	var flags moveFlags
	cmd := &cobra.Command{
		Use:   "rebalance [--dry-run]",
		Short: "Move shards so every data node holds an even share and every shard its replication factor",
		Long: `Plan shard moves so that every shard of a live group has its retention
policy's replication factor in owners (at most the number of data nodes)
and every data node owns an even share of the shard replicas (counts differ
by at most one), print the plan, then execute it --parallel moves at a time
with a live progress line (plain lines when the output is not a terminal).

A move copies the shard to its new owner as copy-shard does (streamed,
verified by Merkle root, then added as an owner) and only then removes the
old owner. Interrupting is safe: a copy already started finishes on its
destination, and running rebalance again plans from the cluster as it is
then (dropping the surplus replica an interrupted move left). Run it after
adding a data node; before removing one, use remove-data --drain. A node
marked draining (by an unfinished remove-data --drain) gets no replicas:
rebalance moves its shards away too.`,
		Example: `  strata ctl rebalance --dry-run
  strata ctl rebalance
  strata ctl rebalance --parallel 4 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return planAndMove(cmd, o, flags, nil, dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan only")
	flags.register(cmd)
	return cmd
}

func newCtlReplaceDataCommand(o *ctlOptions) *cobra.Command {
	var force bool
	var flags moveFlags
	cmd := &cobra.Command{
		Use:   "replace-data DEAD_ID NEW_ID",
		Short: "Give a dead data node's shards to a new one, which fills them from the other owners",
		Long: `Give every shard data node DEAD owns to data node NEW (id or address; a
node registers itself when it starts), then remove DEAD from the cluster.
NEW copies each shard from one of its other owners and becomes an owner
once its copy is verified by Merkle root; only then does DEAD stop owning
it. A shard DEAD was the only owner of cannot be refilled: the command
refuses unless --force, which gives NEW those shards empty.`,
		Example: `  strata ctl replace-data 2 4
  strata ctl replace-data 10.0.0.2:8088 10.0.0.9:8088 --parallel 4`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := flags.validate(); err != nil {
				return err
			}
			c := o.client()
			defer c.Close()
			ctx, cancel := o.context(cmd)
			var ids [2]uint64
			for i, a := range args {
				id, err := dataNodeID(ctx, c, a)
				if err != nil {
					return err
				}
				ids[i] = id
			}
			dead, repl := ids[0], ids[1]
			if dead == repl {
				return fmt.Errorf("DEAD_ID and NEW_ID are both data node %d", dead)
			}
			d, _, err := c.ReadData(ctx, meta.ReadConsistent)
			cancel()
			if err != nil {
				return failed("read cluster state", err)
			}
			for _, id := range ids {
				if d.DataNode(id) == nil {
					return fmt.Errorf("data node %d is not in the cluster state", id)
				}
			}
			if d.DataNode(repl).Draining {
				return fmt.Errorf("data node %d is marked draining, so it would give the shards away again; clear the mark first (strata ctl update-data %d --draining=false)", repl, repl)
			}
			moves, orphans := replacementMoves(d, dead, repl, downDataNodes(cmd, o, c))
			if len(orphans) > 0 && !force {
				return fmt.Errorf("node %d is the only owner of shard(s) %v: their data cannot be copied; give them to node %d empty with --force, or bring node %d back", dead, orphans, repl, dead)
			}
			out := cmd.OutOrStdout()
			if !o.json {
				fmt.Fprintf(out, "node %d takes %d shard(s) of node %d\n", repl, len(moves)+len(orphans), dead)
			}
			results, err := newMoveRunner(cmd, o, flags, c).run(moves)
			if err != nil {
				return err
			}
			ctx, cancel = o.context(cmd)
			defer cancel()
			for _, shard := range orphans {
				if err := c.AddShardOwner(ctx, shard, repl); err != nil {
					return failed(fmt.Sprintf("give shard %d to node %d", shard, repl), err)
				}
				if err := c.RemoveShardOwner(ctx, shard, dead, true); err != nil {
					return failed(fmt.Sprintf("remove node %d from shard %d", dead, shard), err)
				}
			}
			if err := c.DeleteDataNode(ctx, dead); err != nil {
				return failed(fmt.Sprintf("remove data node %d", dead), err)
			}
			msg := fmt.Sprintf("node %d replaced node %d: %d shard(s) copied from their other owners", repl, dead, len(moves))
			if len(orphans) > 0 {
				msg += fmt.Sprintf(", %d given empty", len(orphans))
			}
			if o.json {
				return o.output(out, map[string]any{"ok": true, "message": msg, "moves": results, "emptied": orphans}, nil)
			}
			return o.done(out, msg)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "give the new node the shards the dead one alone owned, empty")
	flags.register(cmd)
	return cmd
}

// replacementMoves returns the moves that give node dead's shards to repl
// (copied from another owner, one not in down when there is one), and the
// shards dead alone owns.
func replacementMoves(d *meta.Data, dead, repl uint64, down map[uint64]bool) ([]shardMove, []uint64) {
	var moves []shardMove
	var orphans []uint64
	for _, loc := range d.ShardsOwnedBy(dead) {
		m := shardMove{Shard: loc.Shard.ID, Database: loc.Database, Policy: loc.RetentionPolicy, Remove: dead}
		if !slices.Contains(loc.Shard.Owners, repl) {
			others := slices.DeleteFunc(slices.Clone(loc.Shard.Owners), func(o uint64) bool { return o == dead || d.DataNode(o) == nil })
			if len(others) == 0 {
				orphans = append(orphans, loc.Shard.ID)
				continue
			}
			m.Source, m.Dest = liveSource(others, 0, down), repl
		}
		moves = append(moves, m)
	}
	return moves, orphans
}
