package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/meta"
)

// rpFlags are the retention-policy settings shared by create-database,
// create-retention-policy and alter-retention-policy.
type rpFlags struct {
	duration      string
	shardDuration string
	replication   int
}

// register adds the flags; replicationDefault says what an absent
// --replication means.
func (f *rpFlags) register(cmd *cobra.Command, durationFlag, replicationDefault string) {
	cmd.Flags().StringVar(&f.duration, durationFlag, "INF", "how long data is kept (e.g. 30d, 1w, 72h; INF keeps it forever)")
	cmd.Flags().StringVar(&f.shardDuration, "shard-duration", "", "time span of each shard group (default: InfluxDB's rule from the duration)")
	cmd.Flags().IntVar(&f.replication, "replication", 0, "replication factor: how many data nodes hold each shard (default: "+replicationDefault+")")
}

// spec turns the flags into a policy spec named name; without
// --replication meta picks the replication factor.
func (f *rpFlags) spec(cmd *cobra.Command, name, durationFlag string) (meta.RetentionPolicySpec, error) {
	spec := meta.RetentionPolicySpec{Name: name}
	d, err := parseRetention(f.duration)
	if err != nil {
		return spec, fmt.Errorf("--%s: %w", durationFlag, err)
	}
	spec.Duration = d
	if f.shardDuration != "" {
		sd, err := parseRetention(f.shardDuration)
		if err != nil {
			return spec, fmt.Errorf("--shard-duration: %w", err)
		}
		spec.ShardGroupDuration = sd
	}
	if cmd.Flags().Changed("replication") {
		if f.replication < 1 {
			return spec, fmt.Errorf("--replication must be at least 1, got %d", f.replication)
		}
		n := f.replication
		spec.ReplicaN = &n
	}
	return spec, nil
}

func newCtlCreateDatabaseCommand(o *ctlOptions) *cobra.Command {
	var f rpFlags
	var rpName string
	cmd := &cobra.Command{
		Use:   "create-database NAME",
		Short: "Create a database with its default retention policy",
		Example: `  strata ctl create-database telegraf
  strata ctl create-database metrics --retention 30d --replication 3 --rp-name month`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := f.spec(cmd, rpName, "retention")
			if err != nil {
				return err
			}
			ctx, c, done := o.session(cmd)
			defer done()
			if _, err := c.CreateDatabase(ctx, args[0], &spec); err != nil {
				return failed(fmt.Sprintf("create database %q", args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), "created database "+args[0])
		},
	}
	f.register(cmd, "retention", "the cluster's, see set-default-replication")
	cmd.Flags().StringVar(&rpName, "rp-name", meta.DefaultRetentionPolicyName, "name of the default retention policy")
	return cmd
}

func newCtlSetDefaultReplicationCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "set-default-replication N",
		Short: "Set the cluster's replication factor for new databases that name none",
		Long: `Set the cluster's default replication factor, kept in meta: CREATE DATABASE
and create-database without a replication factor use it (strata local sets
it from --replication). Existing policies keep theirs.`,
		Example: "  strata ctl set-default-replication 3",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return usagef(cmd, "replication factor %q: want a whole number of at least 1", args[0])
			}
			ctx, c, done := o.session(cmd)
			defer done()
			if err := c.SetDefaultReplication(ctx, n); err != nil {
				return failed("set the default replication factor", err)
			}
			return o.done(cmd.OutOrStdout(), "default replication factor is now "+args[0])
		},
	}
}

func newCtlDropDatabaseCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "drop-database NAME",
		Short:   "Drop a database, its retention policies and shard groups",
		Example: `  strata ctl drop-database telegraf`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			if err := c.DropDatabase(ctx, args[0]); err != nil {
				return failed(fmt.Sprintf("drop database %q", args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), "dropped database "+args[0])
		},
	}
}

func newCtlCreateRPCommand(o *ctlOptions) *cobra.Command {
	var f rpFlags
	var makeDefault bool
	cmd := &cobra.Command{
		Use:   "create-retention-policy DB NAME --duration D",
		Short: "Create a retention policy on a database",
		Example: `  strata ctl create-retention-policy telegraf week --duration 7d
  strata ctl create-retention-policy telegraf year --duration 52w --replication 3 --default`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := f.spec(cmd, args[1], "duration")
			if err != nil {
				return err
			}
			ctx, c, done := o.session(cmd)
			defer done()
			if _, err := c.CreateRetentionPolicy(ctx, args[0], spec, makeDefault); err != nil {
				return failed(fmt.Sprintf("create retention policy %q on %q", args[1], args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), "created retention policy "+args[1]+" on "+args[0])
		},
	}
	f.register(cmd, "duration", "the database's default policy's")
	cmd.Flags().BoolVar(&makeDefault, "default", false, "make it the database's default policy")
	if err := cmd.MarkFlagRequired("duration"); err != nil {
		panic("BUG: " + err.Error())
	}
	return cmd
}

func newCtlAlterRPCommand(o *ctlOptions) *cobra.Command {
	var f rpFlags
	var makeDefault bool
	cmd := &cobra.Command{
		Use:   "alter-retention-policy DB NAME [--duration D] [--shard-duration D] [--replication N] [--default]",
		Short: "Change a retention policy's settings",
		Example: `  strata ctl alter-retention-policy telegraf week --duration 14d
  strata ctl alter-retention-policy telegraf week --default`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			var upd meta.RetentionPolicyUpdate
			if fs.Changed("duration") {
				d, err := parseRetention(f.duration)
				if err != nil {
					return failed("--duration", err)
				}
				upd.Duration = &d
			}
			if fs.Changed("shard-duration") {
				d, err := parseRetention(f.shardDuration)
				if err != nil {
					return failed("--shard-duration", err)
				}
				upd.ShardGroupDuration = &d
			}
			if fs.Changed("replication") {
				if f.replication < 1 {
					return fmt.Errorf("--replication must be at least 1, got %d", f.replication)
				}
				upd.ReplicaN = &f.replication
			}
			if upd == (meta.RetentionPolicyUpdate{}) && !makeDefault {
				return fmt.Errorf("nothing to change: give --duration, --shard-duration, --replication or --default")
			}
			ctx, c, done := o.session(cmd)
			defer done()
			if err := c.UpdateRetentionPolicy(ctx, args[0], args[1], upd, makeDefault); err != nil {
				return failed(fmt.Sprintf("alter retention policy %q on %q", args[1], args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), "altered retention policy "+args[1]+" on "+args[0])
		},
	}
	f.register(cmd, "duration", "unchanged")
	cmd.Flags().BoolVar(&makeDefault, "default", false, "make it the database's default policy")
	return cmd
}

func newCtlDropRPCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "drop-retention-policy DB NAME",
		Short:   "Drop a retention policy and its shard groups",
		Example: `  strata ctl drop-retention-policy telegraf week`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done := o.session(cmd)
			defer done()
			if err := c.DropRetentionPolicy(ctx, args[0], args[1]); err != nil {
				return failed(fmt.Sprintf("drop retention policy %q on %q", args[1], args[0]), err)
			}
			return o.done(cmd.OutOrStdout(), "dropped retention policy "+args[1]+" on "+args[0])
		},
	}
}

// readState fetches the cluster state at the --consistency level for a
// show command.
func readState(cmd *cobra.Command, o *ctlOptions) (*meta.Data, error) {
	ctx, c, done := o.session(cmd)
	defer done()
	d, _, err := c.ReadData(ctx, meta.ReadConsistency(o.consistency))
	if err != nil {
		return nil, failed("read cluster state", err)
	}
	return d, nil
}

func newCtlShowDatabasesCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show-databases",
		Short: "List databases",
		Example: `  strata ctl show-databases
  strata ctl show-databases --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			type dbView struct {
				Name                   string `json:"name"`
				DefaultRetentionPolicy string `json:"default_retention_policy"`
				RetentionPolicies      int    `json:"retention_policies"`
			}
			views := make([]dbView, 0, len(d.Databases))
			for _, db := range d.Databases {
				views = append(views, dbView{db.Name, db.DefaultRetentionPolicy, len(db.RetentionPolicies)})
			}
			return o.output(cmd.OutOrStdout(), views, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "NAME\tDEFAULT RP\tRPS")
				for _, v := range views {
					fmt.Fprintf(tw, "%s\t%s\t%d\n", v.Name, v.DefaultRetentionPolicy, v.RetentionPolicies)
				}
			})
		},
	}
}

func newCtlShowRPsCommand(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "show-retention-policies DB",
		Short:   "List a database's retention policies",
		Example: `  strata ctl show-retention-policies telegraf`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			db := d.Database(args[0])
			if db == nil {
				return fmt.Errorf("database not found: %s", args[0])
			}
			type rpView struct {
				Name               string `json:"name"`
				Duration           string `json:"duration"`
				ShardGroupDuration string `json:"shard_group_duration"`
				ReplicaN           int    `json:"replica_n"`
				Default            bool   `json:"default"`
			}
			views := make([]rpView, 0, len(db.RetentionPolicies))
			for _, rp := range db.RetentionPolicies {
				views = append(views, rpView{rp.Name, formatRetention(rp.Duration, true), rp.ShardGroupDuration.String(), rp.ReplicaN, rp.Name == db.DefaultRetentionPolicy})
			}
			return o.output(cmd.OutOrStdout(), views, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "NAME\tDURATION\tSHARD DURATION\tREPLICATION\tDEFAULT")
				for _, v := range views {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%t\n", v.Name, v.Duration, v.ShardGroupDuration, v.ReplicaN, v.Default)
				}
			})
		},
	}
}

// shardView is one row of `strata ctl show-shards`.
type shardView struct {
	ID              uint64    `json:"id"`
	Database        string    `json:"database"`
	RetentionPolicy string    `json:"retention_policy"`
	ShardGroup      uint64    `json:"shard_group"`
	StartTime       time.Time `json:"start_time"`
	EndTime         time.Time `json:"end_time"`
	Owners          []uint64  `json:"owners"`
	Replication     int       `json:"replication"`
	State           string    `json:"state"`
	// DiskBytes is the largest size any reachable owner reports (-1 when
	// no owner answered).
	DiskBytes int64 `json:"disk_bytes"`
}

func newCtlShowShardsCommand(o *ctlOptions) *cobra.Command {
	var database string
	cmd := &cobra.Command{
		Use:   "show-shards",
		Short: "List shards: database, policy, group, time range, owners",
		Example: `  strata ctl show-shards
  strata ctl show-shards --database telegraf --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := readState(cmd, o)
			if err != nil {
				return err
			}
			if database != "" && d.Database(database) == nil {
				return fmt.Errorf("database not found: %s", database)
			}
			held := heldShards(cmd, o, d)
			var views []shardView
			for _, db := range d.Databases {
				if database != "" && db.Name != database {
					continue
				}
				for _, rp := range db.RetentionPolicies {
					for _, sg := range rp.ShardGroups {
						state := "ok"
						switch {
						case sg.Deleted():
							state = "deleted"
						case sg.Truncated():
							state = "truncated"
						}
						for _, sh := range sg.Shards {
							s := state
							if s == "ok" && len(sh.Owners) < rp.ReplicaN {
								s = "under-replicated"
							}
							size := int64(-1)
							for _, o := range sh.Owners {
								if st, ok := held[o][sh.ID]; ok {
									size = max(size, st.DiskBytes)
								}
							}
							views = append(views, shardView{sh.ID, db.Name, rp.Name, sg.ID, sg.StartTime, sg.EndTime, sh.Owners, rp.ReplicaN, s, size})
						}
					}
				}
			}
			return o.output(cmd.OutOrStdout(), views, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tDATABASE\tRP\tGROUP\tSTART\tEND\tOWNERS\tSIZE\tSTATE")
				for _, v := range views {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Database, v.RetentionPolicy, v.ShardGroup,
						v.StartTime.UTC().Format(time.RFC3339), v.EndTime.UTC().Format(time.RFC3339), formatOwners(v.Owners), formatBytes(v.DiskBytes), v.State)
				}
			})
		},
	}
	cmd.Flags().StringVar(&database, "database", "", "only this database's shards")
	return cmd
}

// formatBytes prints a size in binary units, or "?" when unknown (< 0).
func formatBytes(n int64) string {
	if n < 0 {
		return "?"
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func formatOwners(ids []uint64) string {
	if len(ids) == 0 {
		return "-"
	}
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += strconv.FormatUint(id, 10)
	}
	return s
}
