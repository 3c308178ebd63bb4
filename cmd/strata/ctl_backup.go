package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/meta"
)

func newCtlBackupCommand(o *ctlOptions) *cobra.Command {
	var filter data.BackupFilter
	var since string
	var shards []string
	cmd := &cobra.Command{
		Use:   "backup DIR",
		Short: "Back up the cluster (meta snapshot + every shard, checksummed manifest) into DIR while it keeps taking writes",
		Long: `Back up the cluster into DIR: the meta snapshot, one stream file per shard
and a manifest naming every file with its size and SHA-256 (docs/backup.md).
Each shard is read from one owner after it reconciled with the others, so
every point acknowledged before the backup started is in it; writes go on
meanwhile. When DIR holds an earlier backup, the new one is incremental:
a shard whose content digest did not change keeps its file, and only
changed shards are read. The manifest is written last, so an interrupted
backup leaves the earlier one in DIR intact. A progress line follows the
shards; the transfer is not bounded by --timeout.`,
		Example: `  strata ctl backup /backups/strata
  strata ctl backup /backups/telegraf --db telegraf --rp autogen
  strata ctl backup /backups/recent --since 2026-12-01T00:00:00Z
  strata ctl backup /backups/one --shard 12,13 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return fmt.Errorf("--since must be an RFC3339 time such as 2026-12-01T00:00:00Z, got %q", since)
				}
				filter.Since = t.UTC()
			}
			for _, a := range shards {
				id, err := shardArg(a)
				if err != nil {
					return fmt.Errorf("--shard: %w", err)
				}
				filter.Shards = append(filter.Shards, id)
			}
			started := time.Now()
			ctx, c, done := o.session(cmd)
			d, _, err := c.ReadData(ctx, meta.ReadConsistent)
			done()
			if err != nil {
				return failed("read cluster state", err)
			}
			if err := checkBackupFilter(d, filter); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			bar := newProgress(o, cmd, "backup")
			m, err := data.Backup(cmd.Context(), data.BackupOptions{Dir: args[0], Filter: filter, Started: started, State: d,
				Source: o.dataNodes.backupClient(), Progress: func(p data.BackupProgress) {
					bar.update(p.Total, p.Done, fmt.Sprintf("shard %d (%d/%d), %s written, %d unchanged", p.Shard, p.Done, p.Total, mib(p.Bytes), p.Reused))
				}})
			bar.finish()
			if err != nil {
				return failed(fmt.Sprintf("back up into %s", args[0]), err)
			}
			return o.output(out, m, func(tw *tabwriter.Writer) {
				values, written, reused := 0, int64(0), 0
				for _, s := range m.Shards {
					values += s.Values
					if s.Sequence == m.Sequence {
						written += s.File.Size
					} else {
						reused++
					}
					if len(s.Unreconciled) > 0 {
						fmt.Fprintf(cmd.ErrOrStderr(), "warning: shard %d was read from node %d without reconciling with node(s) %v first: values only they hold may be missing\n",
							s.ID, s.Source, s.Unreconciled)
					}
				}
				fmt.Fprintf(tw, "backup %d in %s: %d shards (%d unchanged since the previous backup), %d values, %s written, in %s\n",
					m.Sequence, args[0], len(m.Shards), reused, values, mib(written), m.Finished.Sub(m.Started).Round(time.Millisecond))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter.Database, "db", "", "back up only this database")
	f.StringVar(&filter.RetentionPolicy, "rp", "", "back up only this retention policy (with --db)")
	f.StringSliceVar(&shards, "shard", nil, "back up only these shard ids, comma-separated")
	f.StringVar(&since, "since", "", "back up only shard groups that end after this RFC3339 time")
	return cmd
}

// checkBackupFilter refuses a filter naming what the cluster lacks.
func checkBackupFilter(d *meta.Data, f data.BackupFilter) error {
	if f.RetentionPolicy != "" && f.Database == "" {
		return errors.New("--rp needs --db")
	}
	if f.Database != "" && d.Database(f.Database) == nil {
		return fmt.Errorf("database %q does not exist", f.Database)
	}
	if f.RetentionPolicy != "" && d.RetentionPolicy(f.Database, f.RetentionPolicy) == nil {
		return fmt.Errorf("retention policy %q.%q does not exist", f.Database, f.RetentionPolicy)
	}
	for _, id := range f.Shards {
		if d.ShardOwners(id) == nil {
			return fmt.Errorf("shard %d does not exist", id)
		}
	}
	return nil
}

func newCtlRestoreCommand(o *ctlOptions) *cobra.Command {
	var opts data.RestoreOptions
	cmd := &cobra.Command{
		Use:   "restore DIR",
		Short: "Restore a backup from DIR into this cluster, optionally under a new database name and replication factor",
		Long: `Restore the backup in DIR (written by "strata ctl backup") into the cluster
named by --meta: the same cluster or a new one, of any size. The manifest
and every file's checksum are checked first; a corrupt or incomplete
backup is refused before anything is written, naming the file. Then the
databases and retention policies are created (--db renames the database,
--replication sets every policy's replication factor) and each shard's
values are written through the cluster's write path at consistency all,
so they land on the new cluster's own shards and owners. A database that
already exists is refused unless --force, which writes into it (points
with the same series, field and time are overwritten). With --full the
backup's users come back too, with their password hashes and admin flags,
their privileges on the restored databases (under the --db name) and the
restored databases' continuous queries (rewritten for the --db name); a
user the cluster has already is refused unless --force, which resets its
password and admin flag to the backed-up ones. A progress line follows
the bytes; the transfer is not bounded by --timeout.`,
		Example: `  strata ctl restore /backups/strata
  strata ctl restore /backups/telegraf --db telegraf_restored --replication 3
  strata ctl restore /backups/all --source-db telegraf --db telegraf_copy
  strata ctl restore /backups/telegraf --force
  strata ctl restore /backups/strata --full
  strata ctl restore /backups/telegraf --full --db telegraf_copy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Replication < 0 {
				return fmt.Errorf("--replication must be at least 1, got %d", opts.Replication)
			}
			c := o.client()
			defer c.Close()
			out := cmd.OutOrStdout()
			bar := newProgress(o, cmd, "restore")
			opts.Dir, opts.Meta, opts.Sink, opts.MetaTimeout = args[0], c, o.dataNodes.backupClient(), o.timeout
			opts.Progress = func(p data.RestoreProgress) {
				if p.Warning != "" {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+p.Warning)
				}
				if p.Phase == "verifying" {
					bar.update(-1, 0, fmt.Sprintf("verifying checksums of %s", mib(p.TotalBytes)))
					return
				}
				bar.update(int(p.TotalBytes>>10), int(p.Bytes>>10), fmt.Sprintf("shard %d/%d, %s of %s", p.Done+min(1, p.Total-p.Done), p.Total, mib(p.Bytes), mib(p.TotalBytes)))
			}
			started := time.Now()
			sum, err := data.Restore(cmd.Context(), opts)
			bar.finish()
			if err != nil {
				return failed(fmt.Sprintf("restore from %s", args[0]), err)
			}
			return o.output(out, sum, func(tw *tabwriter.Writer) {
				for from, to := range sum.Databases {
					fmt.Fprintf(tw, "restored database %s as %s\n", from, to)
				}
				fmt.Fprintf(tw, "%d shards, %d values in %s\n", sum.Shards, sum.Values, time.Since(started).Round(time.Millisecond))
				if opts.Full {
					fmt.Fprintf(tw, "%d users, %d continuous queries restored\n", sum.Users, sum.ContinuousQueries)
				}
				if sum.Dropped > 0 {
					fmt.Fprintf(tw, "%d points refused by the target (see the warnings)\n", sum.Dropped)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Database, "db", "", "restore the database under this new name")
	f.StringVar(&opts.SourceDatabase, "source-db", "", "restore only this database of the backup (needed with --db when the backup holds several)")
	f.IntVar(&opts.Replication, "replication", 0, "replication factor of every restored retention policy (default: the backed-up one)")
	f.BoolVar(&opts.Force, "force", false, "write into a database that already exists (and, with --full, overwrite existing users)")
	f.BoolVar(&opts.Full, "full", false, "also restore users (with their password hashes), their privileges and the continuous queries")
	return cmd
}

// backupClient returns a client of the data nodes' backup and restore
// endpoints with c's transport (TLS, secret signing) and credentials.
func (c *dataNodeClient) backupClient() *data.NodeClient {
	return &data.NodeClient{HTTP: c.client, Scheme: c.scheme, User: c.user, Password: c.password}
}

// progressLine is the progress of a long ctl command: a live line on a
// terminal, else (and with --json) a plain line on stderr every
// plainProgressEvery.
type progressLine struct {
	bar *progressbar.ProgressBar
	max int
	// plain gets the plain lines; last is when one was written.
	plain io.Writer
	last  time.Time
}

// plainProgressEvery is how often a progress line is written when the
// output is not a terminal.
const plainProgressEvery = 10 * time.Second

func newProgress(o *ctlOptions, cmd *cobra.Command, what string) *progressLine {
	out := cmd.OutOrStdout()
	if o.json || !isTerminal(out) {
		return &progressLine{plain: cmd.ErrOrStderr(), last: time.Now()}
	}
	return &progressLine{max: -1, bar: progressbar.NewOptions(-1, progressbar.OptionSetWriter(out), progressbar.OptionSetDescription(what+": starting"),
		progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))}
}

// update sets the line's total (-1 unknown), position and description.
func (p *progressLine) update(total, done int, desc string) {
	if p.bar == nil {
		if time.Since(p.last) >= plainProgressEvery {
			p.last = time.Now()
			fmt.Fprintln(p.plain, desc)
		}
		return
	}
	if total != p.max {
		p.bar.ChangeMax(total)
		p.max = total
	}
	p.bar.Describe(desc)
	_ = p.bar.Set(done)
}

// finish clears the line.
func (p *progressLine) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
