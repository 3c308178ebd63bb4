package main

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/meta"
)

func newCtlHHCommand(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "hh",
		Short:   "Hinted handoff: the queues each data node keeps for the others, purge",
		Example: "  strata ctl hh status\n  strata ctl hh purge 3 --yes",
	}
	cmd.AddCommand(newCtlHHStatusCommand(o), newCtlHHPurgeCommand(o))
	return cmd
}

// hhRow is one queue, as `hh status` prints it: the writes data node
// Holder keeps for node NodeID.
type hhRow struct {
	Holder uint64 `json:"holder"`
	hh.QueueStatus
}

// hhQueues asks every data node of d for its queues and returns them with
// each node's answer.
func hhQueues(cmd *cobra.Command, o *ctlOptions, d *meta.Data) ([]hhRow, []nodeAnswer[[]hh.QueueStatus]) {
	answers := askDataNodes[[]hh.QueueStatus](cmd, o, d.DataNodes, http.MethodGet, data.HHPath)
	var rows []hhRow
	for _, a := range answers {
		for _, q := range a.Value {
			rows = append(rows, hhRow{Holder: a.Node, QueueStatus: q})
		}
	}
	return rows, answers
}

func newCtlHHStatusCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Per destination node and holder: records and bytes queued, oldest record's age, state, last error",
		Example: "  strata ctl hh status\n  strata ctl hh status --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, c, done := o.session(cmd)
			d, _, err := c.ReadData(ctx, meta.ReadConsistency(o.consistency))
			done()
			if err != nil {
				return failed("read cluster state", err)
			}
			rows, answers := hhQueues(cmd, o, d)
			return o.output(cmd.OutOrStdout(), map[string]any{"queues": rows, "unreachable": unanswered(answers)}, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "NODE\tHELD BY\tRECORDS\tBYTES\tOLDEST\tSTATE\tREPLAYED\tDROPPED\tLAST ERROR")
				for _, r := range rows {
					dropped := uint64(0)
					for _, n := range r.PointsDropped {
						dropped += n
					}
					state := r.State
					if r.State == hh.StateBackoff {
						state += " " + time.Duration(r.BackoffSeconds*float64(time.Second)).String()
					}
					lastErr := "-"
					if r.LastError != "" {
						lastErr = ago(r.LastErrorTime) + ": " + r.LastError
					}
					fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n", r.NodeID, r.Holder, r.Records, formatBytes(r.Bytes),
						(time.Duration(r.OldestAgeSeconds) * time.Second).String(), state, r.PointsReplayed, dropped, lastErr)
				}
				if len(rows) == 0 {
					fmt.Fprintln(tw, "(no queues)")
				}
				printUnanswered(tw, answers)
			})
		},
	}
}

func newCtlHHPurgeCommand(o *ctlOptions) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "purge NODE [--yes]",
		Short:   "Drop every write queued for data node NODE on every other data node (asks first)",
		Example: "  strata ctl hh purge 3\n  strata ctl hh purge 3 --yes",
		Long: `Drop every write the data nodes hold in hinted handoff for data node NODE
(an id or address). The dropped points are counted
(strata_hh_points_dropped_total{reason="purged"}) and their shards' time
ranges handed to anti-entropy, which is then the only way they reach NODE.
Asks for confirmation unless --yes is given.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			id, err := dataNodeID(ctx, c, args[0])
			if err != nil {
				done()
				return err
			}
			d, _, err := c.ReadData(ctx, meta.ReadConsistency(o.consistency))
			done()
			if err != nil {
				return failed("read cluster state", err)
			}
			rows, _ := hhQueues(cmd, o, d)
			var records, bytes int64
			for _, r := range rows {
				if r.NodeID == id {
					records, bytes = records+r.Records, bytes+r.Bytes
				}
			}
			if !yes {
				fmt.Fprintf(cmd.OutOrStdout(), "Drop %d queued records (%s) for data node %d? They will reach it only through anti-entropy. [y/N] ",
					records, formatBytes(bytes), id)
				answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return &cliError{msg: "purge cancelled"}
				}
			}
			others := slices.DeleteFunc(slices.Clone(d.DataNodes), func(n meta.NodeInfo) bool { return n.ID == id })
			var total hh.PurgeResult
			var errs []string
			for _, a := range askDataNodes[hh.PurgeResult](cmd, o, others, http.MethodPost, data.HHPurgePath+"?node="+strconv.FormatUint(id, 10)) {
				if a.Err != nil {
					errs = append(errs, fmt.Sprintf("node %d: %v", a.Node, a.Err))
					continue
				}
				total.Records += a.Value.Records
				total.Points += a.Value.Points
			}
			msg := fmt.Sprintf("purged %d records (%d points) queued for data node %d", total.Records, total.Points, id)
			if len(errs) > 0 {
				return &cliError{msg: msg + "; not purged on " + strings.Join(errs, "; ")}
			}
			return o.done(cmd.OutOrStdout(), msg)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}
