package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/meta"
)

// composeProject runs docker-compose commands for one test's project.
type composeProject struct {
	t    *testing.T
	dir  string // holds docker-compose.yml
	name string
	env  []string
}

func (c *composeProject) run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"-p", c.name, "-f", filepath.Join(c.dir, "docker-compose.yml")}, args...)
	cmd := exec.CommandContext(ctx, "docker-compose", full...)
	cmd.Env = append(os.Environ(), c.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("docker-compose %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// must runs docker-compose and fails the test on error.
func (c *composeProject) must(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := c.run(ctx, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// dockerAvailable says why Docker cannot be used, or "" when it can.
func dockerAvailable() string {
	for _, tool := range []string{"docker", "docker-compose"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info").CombinedOutput(); err != nil {
		return "the Docker engine does not answer `docker info`: " + strings.TrimSpace(string(out))
	}
	return ""
}

// TestComposeCluster builds the strata image FROM scratch and starts
// docker-compose.yml (3 meta + 2 data nodes). On the meta tier it creates
// databases, kills a meta node, keeps changing state through a survivor,
// restarts it and checks that every node reports the same databases; on
// the data tier it writes through the published InfluxDB port with RF 2
// and checks consistency=all against a killed and restarted data node.
func TestComposeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("Docker Compose test skipped in -short mode")
	}
	if why := dockerAvailable(); why != "" {
		t.Skip("SKIPPED Docker Compose e2e test: " + why)
	}
	bin := proctest.Build(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "strata"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	image := fmt.Sprintf("strata:e2e-%d", os.Getpid())
	if out, err := exec.Command("docker", "build", "-q", "-t", image, "-f", filepath.Join(root, "Dockerfile"), ctxDir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })

	port := strings.TrimPrefix(proctest.FreeAddr(t), "127.0.0.1:")
	dataPort := strings.TrimPrefix(proctest.FreeAddr(t), "127.0.0.1:")
	c := &composeProject{t: t, dir: root, name: fmt.Sprintf("stratae2e%d", os.Getpid()),
		env: []string{"STRATA_IMAGE=" + image, "STRATA_META_PORT=" + port, "STRATA_DATA_PORT=" + dataPort}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := c.run(ctx, "logs", "--no-color", "--tail", "50")
			t.Log(out)
		}
		c.run(ctx, "down", "-v", "--remove-orphans", "-t", "5")
	})
	c.must("up", "-d")

	// ctl inside a container reaches every node by its compose hostname.
	ctlIn := func(service string, args ...string) string {
		t.Helper()
		full := append([]string{"exec", "-T", service, "/strata", "ctl", "--meta", service + ":8091", "--timeout", "30s"}, args...)
		return c.must(full...)
	}
	waitHealthy := func(service string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		port := "8091"
		if strings.HasPrefix(service, "data") {
			port = "8086"
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			_, err := c.run(ctx, "exec", "-T", service, "/strata", "healthcheck", "http://127.0.0.1:"+port+"/health")
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not healthy after 90s: %v", service, err)
			}
			time.Sleep(time.Second)
		}
	}
	for _, s := range []string{"meta1", "meta2", "meta3", "data1", "data2"} {
		waitHealthy(s)
	}

	// From the host, ctl show reports both data nodes up: meta's view of
	// their heartbeats, though data1 and data2 resolve only in containers.
	showDeadline := time.Now().Add(30 * time.Second)
	for {
		var view clusterView
		out := ctl(t, bin, []string{"127.0.0.1:" + port}, "--json", "show")
		if err := json.Unmarshal([]byte(out), &view); err != nil {
			t.Fatalf("ctl show --json: %v\n%s", err, out)
		}
		up := 0
		for _, n := range view.DataNodes {
			if n.State == meta.DataNodeUp {
				up++
			}
		}
		if up == 2 && len(view.DataNodes) == 2 {
			break
		}
		if time.Now().After(showDeadline) {
			t.Fatalf("ctl show from the host: want data1 and data2 up within 30s, got %s", out)
		}
		time.Sleep(time.Second)
	}

	// From the host, through the published port.
	ctl(t, bin, []string{"127.0.0.1:" + port}, "create-database", "one")
	ctlIn("meta2", "create-database", "two")

	c.must("kill", "meta1")
	ctlIn("meta2", "create-database", "three")
	ctlIn("meta3", "create-database", "four")
	c.must("start", "meta1")
	waitHealthy("meta1")

	// The data tier, through data1's published InfluxDB port.
	influx := "http://127.0.0.1:" + dataPort
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(influx+path, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/query?q="+url.QueryEscape("CREATE DATABASE metrics WITH REPLICATION 2"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE through data1: status %d", code)
	}
	if code := post("/write?db=metrics&consistency=all", "cpu,host=a v=1"); code != 204 {
		t.Fatalf("write with consistency=all, both owners up: status %d, want 204", code)
	}
	c.must("kill", "data2")
	if code := post("/write?db=metrics&consistency=all", "cpu,host=a v=2"); code != 500 {
		t.Errorf("write with consistency=all, data2 killed: status %d, want 500", code)
	}
	if code := post("/write?db=metrics&consistency=one", "cpu,host=a v=3"); code != 204 {
		t.Errorf("write with consistency=one, data2 killed: status %d, want 204", code)
	}
	c.must("start", "data2")
	waitHealthy("data2")
	deadline := time.Now().Add(60 * time.Second)
	for post("/write?db=metrics&consistency=all", "cpu,host=a v=4") != 204 {
		if time.Now().After(deadline) {
			t.Fatal("consistency=all writes still fail 60s after data2 restarted")
		}
		time.Sleep(time.Second)
	}

	want := []string{"four", "metrics", "one", "three", "two"}
	deadline = time.Now().Add(60 * time.Second)
	for {
		var got [][]string
		for _, s := range []string{"meta1", "meta2", "meta3"} {
			got = append(got, composeDatabases(c, s))
		}
		if slices.EqualFunc(got, [][]string{want, want, want}, slices.Equal) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("databases per node after restart: %v; want %v on every node", got, want)
		}
		time.Sleep(time.Second)
	}
}

// composeDatabases lists the databases in one node's own (stale) state by
// asking that node alone through `strata ctl --consistency stale`; nil when
// the node does not answer.
func composeDatabases(c *composeProject, service string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, "exec", "-T", service, "/strata", "ctl", "--meta", service+":8091", "--json", "--consistency", "stale", "show-databases")
	if err != nil {
		return nil
	}
	var dbs []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(out), &dbs); err != nil {
		return nil
	}
	var names []string
	for _, d := range dbs {
		names = append(names, d.Name)
	}
	return names
}
