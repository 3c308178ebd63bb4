package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
)

// startLocal runs `strata local` on a random loopback address (its ports
// are fixed, so the address keeps it apart from other clusters) and
// returns that host once the first data node is ready.
func startLocal(t *testing.T) string {
	t.Helper()
	bin := proctest.Build(t)
	host := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(250), 1+rand.IntN(250), 1+rand.IntN(250))
	p := proctest.Start(t, "local", bin, "local", "--dir", t.TempDir(), "--host", host, "--meta-nodes", "1", "--data-nodes", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := proctest.WaitHTTP(ctx, "http://"+host+":8086/health"); err != nil {
		t.Fatalf("strata local on %s not ready: %v\n%s", host, err, p.Log())
	}
	return host
}

// TestInfluxShell drives strata local with Debian's influxdb-client (the
// influx shell): -execute, -import and -format csv|json.
func TestInfluxShell(t *testing.T) {
	influx, err := exec.LookPath("influx")
	if err != nil {
		t.Skip("SKIPPED: the influx shell is not installed (apt-get install influxdb-client; .ci/run installs it)")
	}
	host := startLocal(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(influx, append([]string{"-host", host, "-port", "8086"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("influx %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("-execute", "CREATE DATABASE shell")
	dump := filepath.Join(t.TempDir(), "import.txt")
	if err := os.WriteFile(dump, []byte("# DML\n# CONTEXT-DATABASE: shell\ncpu,host=a v=1 1000000000\ncpu,host=b v=2.5 2000000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run("-import", "-path", dump, "-precision", "ns"); !strings.Contains(out, "Processed 2 inserts") || !strings.Contains(out, "Failed 0 inserts") {
		t.Errorf("influx -import: got %q; want 2 inserts processed, 0 failed", out)
	}
	if got, want := run("-database", "shell", "-format", "csv", "-execute", "SELECT v FROM cpu"), "name,time,v\ncpu,1000000000,1\ncpu,2000000000,2.5\n"; got != want {
		t.Errorf("influx -format csv:\n got %q\nwant %q", got, want)
	}
	if got, want := run("-database", "shell", "-format", "json", "-execute", "SELECT v FROM cpu WHERE host = 'b'"), `{"results":[{"series":[{"name":"cpu","columns":["time","v"],"values":[[2000000000,2.5]]}]}]}`; strings.TrimSpace(got) != want {
		t.Errorf("influx -format json:\n got %q\nwant %q", got, want)
	}
	if got := run("-execute", "SHOW DATABASES"); !strings.Contains(got, "shell") {
		t.Errorf("influx -execute SHOW DATABASES: got %q; want shell listed", got)
	}
}

// TestPythonInfluxDBClient drives strata local with Debian's
// python3-influxdb: databases, retention policies, writes, bind params,
// epoch and chunked queries (testdata/influxdb_client.py).
func TestPythonInfluxDBClient(t *testing.T) {
	python := "/usr/bin/python3" // Debian's package installs for the system python
	if err := exec.Command(python, "-c", "import influxdb").Run(); err != nil {
		t.Skip("SKIPPED: python3-influxdb is not installed (apt-get install python3-influxdb; .ci/run installs it)")
	}
	host := startLocal(t)
	out, err := exec.Command(python, "testdata/influxdb_client.py", host, "8086").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("python3-influxdb against strata local: %v\n%s", err, out)
	}
}
