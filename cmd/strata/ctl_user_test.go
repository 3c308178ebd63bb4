package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// ctlTestTimeout is the --timeout runCtl passes unless args set their
// own: `user create` and `user set-password` bcrypt the password at the
// default cost inside --timeout, and under the race detector on a loaded
// machine that alone took 10–15 s (load average 28), past ctl's 10 s
// default.
const ctlTestTimeout = "2m"

// runCtl runs `strata ctl --meta addrs --timeout ctlTestTimeout args...`
// in process with stdin and returns its output and error.
func runCtl(t *testing.T, addrs []string, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(append([]string{"ctl", "--meta", strings.Join(addrs, ","), "--timeout", ctlTestTimeout}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// TestCtlUser drives `strata ctl user …` against a meta node and checks
// the state each command leaves.
func TestCtlUser(t *testing.T) {
	mc := metatest.New(t, 1)
	mc.WaitLeader()
	addrs := mc.HTTPAddrs()
	client := meta.NewClient(meta.ClientConfig{Addrs: addrs})
	defer client.Close()
	if _, err := client.CreateDatabase(context.Background(), "db0", nil); err != nil {
		t.Fatal(err)
	}
	state := func() *meta.Data {
		t.Helper()
		d, _, err := client.ReadData(context.Background(), meta.ReadDefault)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ok := func(stdin string, args ...string) string {
		t.Helper()
		out, err := runCtl(t, addrs, stdin, args...)
		if err != nil {
			t.Fatalf("ctl %v: %v (%s)", args, err, out)
		}
		return out
	}

	ok("", "user", "create", "alice", "--password", "pw1")
	ok("secret-from-stdin\n", "user", "create", "bob", "--admin")
	if _, err := state().Authenticate("bob", "secret-from-stdin"); err != nil || !state().User("bob").Admin {
		t.Errorf("bob: authenticate with the stdin password: %v, admin %v; want ok, admin", err, state().User("bob").Admin)
	}
	ok("", "user", "grant", "alice", "write", "db0")
	if got := state().User("alice").Privileges["db0"]; got != meta.PrivilegeWrite {
		t.Errorf("alice on db0 after grant: %q; want write", got)
	}
	if out := ok("", "--json", "user", "grants", "alice"); !strings.Contains(out, `"privilege": "write"`) {
		t.Errorf("user grants --json: %s; want the write privilege", out)
	}
	if out := ok("", "user", "list"); !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("user list: %s; want alice and bob", out)
	}
	ok("", "user", "revoke", "alice", "db0")
	if _, has := state().User("alice").Privileges["db0"]; has {
		t.Errorf("alice still holds a privilege on db0 after revoke")
	}
	ok("", "user", "grant", "alice", "admin")
	if !state().User("alice").Admin {
		t.Errorf("alice not admin after grant admin")
	}
	ok("", "user", "revoke", "alice", "admin")
	if state().User("alice").Admin {
		t.Errorf("alice still admin after revoke admin")
	}
	ok("new\n", "user", "set-password", "alice")
	if _, err := state().Authenticate("alice", "new"); err != nil {
		t.Errorf("alice after set-password: %v", err)
	}
	ok("", "user", "drop", "alice")
	if state().User("alice") != nil {
		t.Errorf("alice still exists after drop")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "drop", "ghost"}, "user not found"},
		{[]string{"user", "grant", "bob", "sudo", "db0"}, "invalid privilege"},
		{[]string{"user", "grant", "bob", "read"}, "name a database"},
		{[]string{"user", "grant", "bob", "read", "nope"}, "database not found"},
		{[]string{"user", "create", "carol"}, "no password"},
	} {
		if out, err := runCtl(t, addrs, "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ctl %v: got %v (%s); want an error containing %q", tc.args, err, out, tc.want)
		}
	}
}
