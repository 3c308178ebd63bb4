package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/cq"
)

// cqView is one continuous query as `strata ctl show-cqs` prints it.
type cqView struct {
	Database string `json:"database"`
	Name     string `json:"name"`
	// LastRun is the end of the last completed run ("" before the first).
	LastRun     string `json:"last_run"`
	LastRunNode uint64 `json:"last_run_node,omitempty"`
	// LagSeconds is how far the last run is behind the newest one due
	// (-1 when the stored query cannot be parsed).
	LagSeconds float64 `json:"lag_seconds"`
	Query      string  `json:"query"`
}

func newCtlShowCQsCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "show-cqs",
		Short:   "List continuous queries with their last completed run, its node and their lag",
		Example: "  strata ctl show-cqs\n  strata ctl show-cqs --json",
		Long: `List every continuous query with the end of its last completed run, the data
node that ran it, and its lag: how far that run is behind the newest interval
that has ended. Each interval runs [continuous-queries] settle-delay after it
ends, so an up-to-date query shows up to that much lag here. The header names
the data node holding the runner lease and until when.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			now := time.Now()
			views := []cqView{}
			for _, db := range d.Databases {
				for _, q := range db.ContinuousQueries {
					v := cqView{Database: db.Name, Name: q.Name, LastRunNode: q.LastRunNode, LagSeconds: -1, Query: q.Query}
					if !q.LastRun.IsZero() {
						v.LastRun = q.LastRun.UTC().Format(time.RFC3339)
					}
					if lag, err := cq.Lag(q, now); err == nil {
						v.LagSeconds = lag.Seconds()
					}
					views = append(views, v)
				}
			}
			out := struct {
				RunnerNode  uint64   `json:"runner_node"`
				RunnerUntil string   `json:"runner_until,omitempty"`
				Queries     []cqView `json:"continuous_queries"`
			}{RunnerNode: d.CQLease.Node, Queries: views}
			if !d.CQLease.Until.IsZero() {
				out.RunnerUntil = d.CQLease.Until.UTC().Format(time.RFC3339)
			}
			return o.output(cmd.OutOrStdout(), out, func(tw *tabwriter.Writer) {
				if d.CQLease.Node != 0 {
					state := "held"
					if now.After(d.CQLease.Until) {
						state = "expired"
					}
					fmt.Fprintf(tw, "runner: data node %d (lease %s until %s)\n", d.CQLease.Node, state, out.RunnerUntil)
				} else {
					fmt.Fprintln(tw, "runner: none yet")
				}
				fmt.Fprintln(tw, "DATABASE\tNAME\tLAST RUN\tON NODE\tLAG\tQUERY")
				for _, v := range views {
					last, lag := v.LastRun, "?"
					if last == "" {
						last = "never"
					}
					if v.LagSeconds >= 0 {
						lag = (time.Duration(v.LagSeconds) * time.Second).String()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", v.Database, v.Name, last, v.LastRunNode, lag, v.Query)
				}
			})
		},
	}
}
