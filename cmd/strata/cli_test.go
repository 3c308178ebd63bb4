package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// runCLI runs strata in-process with args and returns stdout, stderr and
// the error Execute returned.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// TestCLIUsageErrorsExit2: unknown commands and flags, wrong argument
// counts and missing required flags exit 2 and name the closest command
// or flag; a typo never prints help and exits 0.
func TestCLIUsageErrorsExit2(t *testing.T) {
	bin := proctest.Build(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ctl", "shwo"}, `unknown command "shwo" for "strata ctl"; did you mean "show"?`},
		{[]string{"shwo"}, `unknown command "shwo" for "strata"`},
		{[]string{"lcoal"}, `did you mean "local"?`},
		{[]string{"ctl", "show-databse"}, `did you mean "show-databases"?`},
		{[]string{"ctl", "show", "--jsn"}, `unknown flag: --jsn; did you mean --json?`},
		{[]string{"local", "--data-node", "3"}, `did you mean --data-nodes?`},
		{[]string{"meta", "--bogus"}, `unknown flag: --bogus`},
		{[]string{"ctl", "create-database"}, `accepts 1 arg(s), received 0`},
		{[]string{"ctl", "create-retention-policy", "db", "rp"}, `required flag(s) "duration" not set`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := proctest.Run(t, bin, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help' for usage") {
				t.Errorf("strata %v: got exit %d, stderr %q, stdout %q; want exit 2 and %q with a pointer to --help", tc.args, code, errOut, out, tc.want)
			}
		})
	}
	if _, errOut, code := proctest.Run(t, bin, "ctl", "--meta", "127.0.0.1:1", "show"); code != 1 || strings.Contains(errOut, "for usage") {
		t.Errorf("a failed command that was called right: got exit %d, stderr %q; want exit 1 without usage advice", code, errOut)
	}
}

// TestCLIVersion: `strata version` and `strata --version` print the same
// line with the version, the commit and the Go version.
func TestCLIVersion(t *testing.T) {
	out1, _, err := runCLI(t, "version")
	if err != nil {
		t.Fatalf("strata version: %v", err)
	}
	out2, _, err := runCLI(t, "--version")
	if err != nil {
		t.Fatalf("strata --version: %v", err)
	}
	for _, want := range []string{"strata " + Version, "commit ", runtime.Version()} {
		if !strings.Contains(out1, want) {
			t.Errorf("strata version: got %q; want it to contain %q", out1, want)
		}
	}
	if out1 != out2 {
		t.Errorf("strata --version printed %q; strata version printed %q; want the same", out2, out1)
	}
}

// walk calls fn on cmd and every command under it, except cobra's own
// help and completion commands.
func walk(cmd *cobra.Command, fn func(*cobra.Command)) {
	if cmd.Name() == "help" || cmd.Name() == "completion" {
		return
	}
	fn(cmd)
	for _, c := range cmd.Commands() {
		walk(c, fn)
	}
}

// TestCLIHelpHasExamplesAndCleanFlags: every command's help has an
// Examples section, and every flag line shows the flag's type, not a
// word pflag took from backquotes in its description.
func TestCLIHelpHasExamplesAndCleanFlags(t *testing.T) {
	types := map[string]bool{"": true, "string": true, "strings": true, "int": true, "uint": true, "duration": true, "float": true, "uint64": true, "int64": true}
	walk(newRootCommand(), func(cmd *cobra.Command) {
		var out bytes.Buffer
		cmd.SetOut(&out)
		if err := cmd.Help(); err != nil {
			t.Fatalf("%s --help: %v", cmd.CommandPath(), err)
		}
		if _, ex, ok := strings.Cut(out.String(), "\nExamples:\n"); !ok || !strings.Contains(ex, cmd.CommandPath()) {
			t.Errorf("%s --help has no Examples section:\n%s", cmd.CommandPath(), out.String())
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			name, usage := pflag.UnquoteUsage(f)
			if !types[name] || strings.Contains(usage, "\n") {
				t.Errorf("%s --%s: flag line shows %q as its value and usage %q; want its type and one line", cmd.CommandPath(), f.Name, name, usage)
			}
		})
	})
}

// ctlArgs are valid arguments for every ctl command, for the tests that
// run each against a meta that does not answer (DEAD is its address). A
// new ctl command must be added here.
var ctlArgs = map[string][]string{
	"show":                    nil,
	"add-meta":                {"DEAD"}, // the node to add is asked first
	"remove-meta":             {"meta2"},
	"create-database":         {"db"},
	"set-default-replication": {"2"},
	"drop-database":           {"db"},
	"create-retention-policy": {"db", "rp", "--duration", "1d"},
	"alter-retention-policy":  {"db", "rp", "--duration", "2d"},
	"drop-retention-policy":   {"db", "rp"},
	"show-databases":          nil,
	"show-retention-policies": {"db"},
	"show-shards":             nil,
	"add-data":                {"127.0.0.1:1", "--http-addr", "127.0.0.1:2"},
	"remove-data":             {"1"},
	"update-data":             {"1", "--http-addr", "127.0.0.1:2"},
	"truncate-shards":         nil,
	"copy-shard":              {"1", "2", "3"},
	"copy-shard-status":       nil,
	"kill-copy-shard":         {"3"},
	"remove-shard":            {"1", "3"},
	"rebalance":               {"--dry-run"},
	"replace-data":            {"1", "2"},
	"show-cqs":                nil,
	"backup":                  {"strata-backup-never-written"},
	"restore":                 {"strata-backup-never-read"},
	"entropy show":            nil,
	"entropy repair":          {"1"},
	"entropy kill-repair":     nil,
	"hh status":               nil,
	"hh purge":                {"1", "--yes"},
	"user create":             {"alice", "--password", "x"},
	"user drop":               {"alice"},
	"user set-password":       {"alice", "--password", "x"},
	"user grant":              {"alice", "read", "db"},
	"user revoke":             {"alice", "db"},
	"user list":               nil,
	"user grants":             {"alice"},
}

// hashesFirst are the ctl commands that bcrypt a password before asking
// meta: that takes seconds under the race detector, so only their error
// is checked, not how soon it came.
var hashesFirst = map[string]bool{"user create": true, "user set-password": true}

// TestCtlFailsFastWhenNoMetaAnswers: with nothing listening at --meta,
// every ctl command fails at once (not after --timeout) and names the
// address it tried.
func TestCtlFailsFastWhenNoMetaAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	walk(newCtlCommand(), func(cmd *cobra.Command) {
		if cmd.HasSubCommands() {
			return // ctl itself, entropy, hh, user: they only group
		}
		name := strings.TrimPrefix(cmd.CommandPath(), "ctl ")
		args, ok := ctlArgs[name]
		if !ok {
			t.Errorf("ctl %s has no entry in ctlArgs", name)
			return
		}
		args = slices.Clone(args)
		for i, a := range args {
			if a == "DEAD" {
				args[i] = dead
			}
		}
		start := time.Now()
		_, _, err := runCLI(t, append(append([]string{"ctl", "--meta", dead, "--timeout", "30s"}, strings.Fields(name)...), args...)...)
		elapsed := time.Since(start)
		// Far below --timeout: the command did not wait for it.
		if err == nil || !strings.Contains(err.Error(), dead) || (elapsed > 10*time.Second && !hashesFirst[name]) {
			t.Errorf("ctl %s against %s: got %v after %s; want an error naming %s at once", name, dead, err, elapsed, dead)
		}
	})
}

// TestCtlWaitsWhileMetaHasNoLeader: a meta node that answers but has no
// leader (503) is retried until --timeout.
func TestCtlWaitsWhileMetaHasNoLeader(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"no leader"}`))
	}))
	defer srv.Close()
	start := time.Now()
	_, _, err := runCLI(t, "ctl", "--meta", srv.Listener.Addr().String(), "--timeout", "1s", "show-databases")
	if elapsed := time.Since(start); err == nil || elapsed < time.Second || calls.Load() < 2 {
		t.Errorf("ctl show-databases against a leaderless meta: got %v after %s and %d requests; want it to retry until --timeout (1s)", err, elapsed, calls.Load())
	}
	var usage *usageError
	if errors.As(err, &usage) {
		t.Errorf("a leaderless meta is not a usage error: %v", err)
	}
}

// TestCtlHostWithoutPort: --meta HOST means HOST:8091.
func TestCtlHostWithoutPort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.5", "10.0.0.5:8091"},
		{"meta1", "meta1:8091"},
		{"meta1:9000", "meta1:9000"},
		{"::1", "[::1]:8091"},
		{"[::1]", "[::1]:8091"},
		{"[::1]:9000", "[::1]:9000"},
	}
	for _, tc := range tests {
		o := &ctlOptions{metaAddrs: []string{tc.in}}
		if got := o.addrs(); len(got) != 1 || got[0] != tc.want {
			t.Errorf("--meta %s: got %v; want [%s]", tc.in, got, tc.want)
		}
	}
}

// TestCtlReplicationDefaults: create-database without --replication takes
// the cluster's default kept in meta (set-default-replication), and
// create-retention-policy without it takes the database's default
// policy's.
func TestCtlReplicationDefaults(t *testing.T) {
	mc := metatest.New(t, 1)
	mc.WaitLeader()
	addr := mc.HTTPAddrs()[0]
	run := func(args ...string) {
		t.Helper()
		if _, _, err := runCLI(t, append([]string{"ctl", "--meta", addr}, args...)...); err != nil {
			t.Fatalf("ctl %v: %v", args, err)
		}
	}
	run("set-default-replication", "2")
	run("create-database", "two")
	run("create-database", "one", "--replication", "1")
	run("create-retention-policy", "two", "week", "--duration", "7d")
	run("create-retention-policy", "one", "week", "--duration", "7d")
	run("create-retention-policy", "one", "three", "--duration", "7d", "--replication", "3")
	out, _, err := runCLI(t, "ctl", "--meta", addr, "show-databases", "--json")
	if err != nil {
		t.Fatal(err)
	}
	c := meta.NewClient(meta.ClientConfig{Addrs: []string{addr}})
	defer c.Close()
	d, _, err := c.ReadData(context.Background(), meta.ReadDefault)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		db, rp string
		want   int
	}{{"two", "autogen", 2}, {"two", "week", 2}, {"one", "autogen", 1}, {"one", "week", 1}, {"one", "three", 3}} {
		if rp := d.RetentionPolicy(tc.db, tc.rp); rp == nil || rp.ReplicaN != tc.want {
			t.Errorf("%s.%s: got %+v; want replication %d (databases: %s)", tc.db, tc.rp, rp, tc.want, out)
		}
	}
}
