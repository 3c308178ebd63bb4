package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/meta"
)

// ctlOptions are the flags every `strata ctl` command shares.
type ctlOptions struct {
	metaAddrs   []string
	json        bool
	timeout     time.Duration
	consistency string
	secret      string
	tls         tlsFlags
	// metaTLS and dataTLS are --meta-tls and --data-tls: TLS towards one
	// tier only.
	metaTLS, dataTLS bool
	// user and password are --user and --pwd, sent to data nodes.
	user, password string
	// dataNodes calls the data nodes' operator endpoints; set by
	// PersistentPreRunE.
	dataNodes *dataNodeClient
}

// ctlDialTimeout bounds each connection attempt to a meta node, so a
// command against addresses where nothing answers fails within a second.
const ctlDialTimeout = time.Second

// addrs are the --meta addresses, each with meta's HTTP port when it names
// only a host.
func (o *ctlOptions) addrs() []string {
	addrs := splitList(o.metaAddrs)
	for i, a := range addrs {
		addrs[i] = withDefaultPort(a, defaultMetaHTTPPort())
	}
	return addrs
}

// defaultMetaHTTPPort is the port of DefaultHTTPAddr, for --meta hosts
// given without one.
func defaultMetaHTTPPort() string {
	_, port, err := net.SplitHostPort(meta.DefaultHTTPAddr)
	if err != nil {
		panic("BUG: meta.DefaultHTTPAddr has no port: " + err.Error())
	}
	return port
}

// withDefaultPort returns addr, or addr:port when addr has no port.
func withDefaultPort(addr, port string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), port)
}

// client returns a meta client over the --meta addresses. Commands use it
// for one request each, so it is never Opened (no watch goroutine). The
// TLS flags were checked by PersistentPreRunE. It fails at once when no
// meta node answers, and waits (up to --timeout) only while one answers
// without a leader.
func (o *ctlOptions) client() *meta.Client {
	tc, _ := o.tls.tierConfig(o.metaTLS, o.dataTLS)
	return meta.NewClient(meta.ClientConfig{Addrs: o.addrs(), Timeout: o.timeout, InternalSharedSecret: o.secret, TLS: tc, FailFast: true, DialTimeout: ctlDialTimeout})
}

// context bounds one ctl command by --timeout.
func (o *ctlOptions) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), o.timeout)
}

// session is what one ctl command talks to meta with: a context bounded by
// --timeout and a client; done releases both.
func (o *ctlOptions) session(cmd *cobra.Command) (context.Context, *meta.Client, func()) {
	ctx, cancel := o.context(cmd)
	c := o.client()
	return ctx, c, func() {
		c.Close()
		cancel()
	}
}

func newCtlCommand() *cobra.Command {
	opts := &ctlOptions{}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Operate a Strata cluster: nodes, databases, retention policies, shards",
		Example: `  strata ctl show
  strata ctl --meta meta1,meta2,meta3 show-databases --json
  STRATA_CTL_META=10.0.0.5 strata ctl show-shards`,
		Long: `Operate a Strata cluster through its meta nodes, like influxd-ctl.
Every command talks to the meta nodes named by --meta (any one will do;
the others are tried when one is down). Commands about hinted handoff,
anti-entropy, shard copies and sizes also call each data node's HTTP API:
over HTTPS with the TLS flags, signed with the internal-shared-secret, and
with --user/--pwd when given. Output is a table, or JSON with --json. A
failed command prints one line and exits non-zero.

TLS: --tls (or --ca-cert, --insecure-skip-verify alone) talks TLS to both
tiers. Where only one tier serves TLS, --meta-tls or --data-tls picks it
(--ca-cert and --insecure-skip-verify then apply to that tier); where the
tiers' certificates come from different CAs, give --ca-cert a file holding
both.`,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), "STRATA_CTL_"); err != nil {
				return err
			}
			if _, err := opts.tls.tierConfig(opts.metaTLS, opts.dataTLS); err != nil {
				return err
			}
			tc, err := opts.tls.tierConfig(opts.dataTLS, opts.metaTLS)
			if err != nil {
				return err
			}
			if opts.secret == "" {
				opts.secret = localClusterSecret()
			}
			opts.dataNodes = newDataNodeClient(tc, opts.secret, opts.user, opts.password)
			switch meta.ReadConsistency(opts.consistency) {
			case meta.ReadStale, meta.ReadDefault, meta.ReadConsistent:
				return nil
			}
			return fmt.Errorf("invalid --consistency %q: want stale, default or consistent", opts.consistency)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringSliceVar(&opts.metaAddrs, "meta", []string{"127.0.0.1:8091"}, "meta node HTTP addresses, comma-separated (a host without a port means port 8091)")
	pf.BoolVar(&opts.json, "json", false, "print JSON instead of tables")
	pf.DurationVar(&opts.timeout, "timeout", 10*time.Second, "give up on a call to a meta or data node after this long (shard moves wait up to their --wait; backup and restore transfers are not bounded)")
	pf.StringVar(&opts.secret, secretFlag, "", "the meta nodes' internal-shared-secret (or STRATA_CTL_INTERNAL_SHARED_SECRET; default: the one strata local keeps in ./strata-data, when present)")
	opts.tls.register(pf, "the meta and data nodes")
	pf.BoolVar(&opts.metaTLS, "meta-tls", false, "talk to the meta nodes only over TLS (meta [tls] http-enabled; the data nodes then over plain HTTP unless --data-tls)")
	pf.BoolVar(&opts.dataTLS, "data-tls", false, "talk to the data nodes only over TLS ([http] https-enabled; the meta nodes then over plain HTTP unless --meta-tls)")
	pf.StringVar(&opts.user, "user", "", "user (an admin for repairs, purges and copies) for data nodes with auth-enabled, when ctl lacks the internal-shared-secret (or STRATA_CTL_USER)")
	pf.StringVar(&opts.password, "pwd", "", "password of --user (or STRATA_CTL_PWD)")
	pf.StringVar(&opts.consistency, "consistency", string(meta.ReadDefault), "read consistency of show commands: stale (the asked node's own state), default (the leader's) or consistent (linearizable)")
	cmd.AddCommand(
		newCtlShowCommand(opts),
		newCtlAddMetaCommand(opts),
		newCtlRemoveMetaCommand(opts),
		newCtlCreateDatabaseCommand(opts),
		newCtlSetDefaultReplicationCommand(opts),
		newCtlDropDatabaseCommand(opts),
		newCtlCreateRPCommand(opts),
		newCtlAlterRPCommand(opts),
		newCtlDropRPCommand(opts),
		newCtlShowDatabasesCommand(opts),
		newCtlShowRPsCommand(opts),
		newCtlShowShardsCommand(opts),
		newCtlAddDataCommand(opts),
		newCtlRemoveDataCommand(opts),
		newCtlUpdateDataCommand(opts),
		newCtlTruncateShardsCommand(opts),
		newCtlCopyShardCommand(opts),
		newCtlCopyShardStatusCommand(opts),
		newCtlKillCopyShardCommand(opts),
		newCtlRemoveShardCommand(opts),
		newCtlRebalanceCommand(opts),
		newCtlReplaceDataCommand(opts),
		newCtlEntropyCommand(opts),
		newCtlUserCommand(opts),
		newCtlHHCommand(opts),
		newCtlShowCQsCommand(opts),
		newCtlBackupCommand(opts),
		newCtlRestoreCommand(opts),
	)
	return cmd
}

// output prints v as indented JSON with --json, else calls table with a
// tabwriter that is flushed afterwards.
func (o *ctlOptions) output(w io.Writer, v any, table func(tw *tabwriter.Writer)) error {
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// done prints a one-line confirmation (or {"ok":true,...} with --json).
func (o *ctlOptions) done(w io.Writer, msg string) error {
	if o.json {
		return json.NewEncoder(w).Encode(map[string]any{"ok": true, "message": msg})
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}

// cliError is a ctl failure: a one-line message for the operator that
// still unwraps to the underlying error.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// failed words a failed action for the operator: a meta node's refusal
// (a 4xx answer) is shown in the server's own words after the action;
// anything else keeps its whole chain.
func failed(action string, err error) error {
	var apiErr *meta.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode < 500 {
		return &cliError{msg: action + ": " + apiErr.Message, err: err}
	}
	return &cliError{msg: action + ": " + err.Error(), err: err}
}

// localClusterSecret returns the internode secret that strata local keeps in
// its default folder under the working directory, or "" when there is none,
// so that ctl run beside `strata local` (as the README shows) needs no flag.
func localClusterSecret() string {
	b, err := os.ReadFile(filepath.Join(localDefaultDir, localSecretFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
