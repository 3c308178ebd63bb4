package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/internal/proctest"
)

// backupPoint is one written point of the backup process test: its series
// (host), time and the values of its four fields.
type backupPoint struct {
	host string
	time int64
	f    float64
	i    int64
	s    string
	b    bool
}

func (p backupPoint) line() string {
	return fmt.Sprintf("cpu,host=%s f=%v,i=%di,s=%q,b=%t %d", p.host, p.f, p.i, p.s, p.b, p.time)
}

// TestBackupRestoreProcesses backs up a 2-node RF 2 cluster of real
// processes with `strata ctl backup` while a writer keeps writing, then
// again (incremental) after more writes, and restores the backup into a
// fresh 2-node cluster with RF 1 under a new database name: every point
// acknowledged before the second backup started is there with exactly its
// values, and nothing that was never written. Restoring again is refused
// without --force, and a damaged stream file is named.
func TestBackupRestoreProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	bin := proctest.Build(t)
	srcMeta := startMetaCluster(t, bin, 1)[0].httpAddr
	src := []*dataProc{startDataNode(t, bin, "src1", []string{srcMeta}), startDataNode(t, bin, "src2", []string{srcMeta})}
	if code := src[0].post(t, "/query?q="+url.QueryEscape("CREATE DATABASE metrics WITH DURATION INF REPLICATION 2 SHARD DURATION 1h"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE: status %d", code)
	}
	// A user with a privilege and a continuous query, for restore --full.
	setup := "CREATE USER alice WITH PASSWORD 'secret'; GRANT READ ON metrics TO alice; " +
		"CREATE CONTINUOUS QUERY hourly ON metrics BEGIN SELECT mean(f) INTO cpu_1h FROM cpu GROUP BY time(1h) END"
	if code := src[0].post(t, "/query?q="+url.QueryEscape(setup), ""); code != 200 {
		t.Fatalf("%s: status %d", setup, code)
	}
	// Six one-hour shard groups of 8 series.
	base := time.Now().Add(-7 * time.Hour).Truncate(time.Hour).UnixNano()
	var mu sync.Mutex // protects written, ackedAt
	written := map[string]backupPoint{}
	ackedAt := map[string]time.Time{}
	key := func(host string, ts int64) string { return fmt.Sprint(host, "/", ts) }
	// The seed spreads over the first five groups (one point a second,
	// in a scattered order); the writer later writes into the sixth only.
	seq := 0
	batch := func(n int, seed bool) []backupPoint {
		var pts []backupPoint
		for range n {
			seq++
			ts := base + 5*int64(time.Hour) + int64(seq)*int64(time.Millisecond)
			if seed {
				ts = base + int64(seq*7%(5*3600))*int64(time.Second)
			}
			pts = append(pts, backupPoint{host: fmt.Sprint("h", seq%8), time: ts, f: float64(seq) + 0.125, i: int64(-seq),
				s: fmt.Sprintf("v%d \"q\" ,=", seq), b: seq%3 == 0})
		}
		return pts
	}
	write := func(node *dataProc, pts []backupPoint) bool {
		lines := make([]string, len(pts))
		mu.Lock()
		for i, p := range pts {
			lines[i] = p.line()
			written[key(p.host, p.time)] = p // written, maybe not acknowledged
		}
		mu.Unlock()
		resp, err := http.Post("http://"+node.httpAddr+"/write?db=metrics&precision=ns", "text/plain", strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return false
		}
		now := time.Now()
		mu.Lock()
		for _, p := range pts {
			ackedAt[key(p.host, p.time)] = now
		}
		mu.Unlock()
		return true
	}
	for range 10 {
		if !write(src[0], batch(1000, true)) {
			t.Fatalf("seed write refused\n%s", src[0].Log())
		}
	}

	// A writer goes on through both backups, alternating nodes.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			mu.Lock()
			pts := batch(50, false)
			mu.Unlock()
			write(src[n%2], pts)
		}
	}()
	dir := filepath.Join(t.TempDir(), "backup")
	out := ctl(t, bin, []string{srcMeta}, "backup", dir)
	if !strings.Contains(out, "backup 1 in") {
		t.Fatalf("first backup printed %q", out)
	}
	time.Sleep(300 * time.Millisecond)
	started := time.Now()
	out = ctl(t, bin, []string{srcMeta}, "backup", dir)
	close(stop)
	wg.Wait()
	if !strings.Contains(out, "backup 2 in") {
		t.Fatalf("second backup printed %q", out)
	}
	m, err := data.ReadBackupManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Shards) != 6 {
		t.Fatalf("the backup holds %d shards, want the 6 of the 6 groups: %+v", len(m.Shards), m.Shards)
	}
	// Incremental: only the sixth group changed between the backups.
	for _, s := range m.Shards {
		if changed := s.Sequence == 2; changed != (s.Start.UnixNano() == base+5*int64(time.Hour)) {
			t.Errorf("shard %d of group %s written by backup %d", s.ID, s.Start, s.Sequence)
		}
	}

	// A fresh cluster of two nodes, restored with RF 1 under a new name:
	// each group gets two shards there, so every value is re-routed.
	dstMeta := startMetaCluster(t, bin, 1)[0].httpAddr
	dst := []*dataProc{startDataNode(t, bin, "dst1", []string{dstMeta}), startDataNode(t, bin, "dst2", []string{dstMeta})}
	out = ctl(t, bin, []string{dstMeta}, "restore", dir, "--db", "restored", "--replication", "1", "--full")
	if !strings.Contains(out, "restored database metrics as restored") || !strings.Contains(out, "1 users, 1 continuous queries restored") {
		t.Fatalf("restore printed %q", out)
	}
	d, err := staleState(dstMeta)
	if err != nil {
		t.Fatal(err)
	}
	srcState, err := staleState(srcMeta)
	if err != nil {
		t.Fatal(err)
	}
	// --full: the user with its hash, its privilege and the query, all
	// under the new name.
	if u, was := d.User("alice"), srcState.User("alice"); u == nil || was == nil || u.Hash != was.Hash || u.Privileges["restored"] != "read" {
		t.Errorf("restored user alice = %+v, want the hash of %+v and read on restored", u, was)
	}
	if db := d.Database("restored"); db == nil || len(db.ContinuousQueries) != 1 ||
		db.ContinuousQueries[0].Query != `CREATE CONTINUOUS QUERY hourly ON restored BEGIN SELECT mean(f) INTO restored.autogen.cpu_1h FROM restored.autogen.cpu GROUP BY time(1h) END` {
		t.Errorf("restored database %+v, want continuous query hourly rewritten for restored", db)
	}
	rp := d.RetentionPolicy("restored", "")
	if rp == nil || rp.ReplicaN != 1 || rp.ShardGroupDuration != time.Hour || rp.Duration != 0 {
		t.Fatalf("restored default policy %+v, want RF 1, 1h groups, infinite", rp)
	}

	got := queryBackupPoints(t, dst[1], "restored")
	mu.Lock()
	defer mu.Unlock()
	acked := 0
	for k, at := range ackedAt {
		if !at.Before(started) {
			continue
		}
		acked++
		want := written[k]
		if g, ok := got[k]; !ok || g != want {
			t.Errorf("point %s acknowledged before the backup: restored as %+v (present %t), want %+v", k, g, ok, want)
		}
	}
	for k, g := range got {
		if w, ok := written[k]; !ok || w != g {
			t.Errorf("restored point %s = %+v was never written so (%+v)", k, g, w)
		}
	}
	if acked < 10000 || t.Failed() {
		t.Fatalf("%d points acknowledged before the backup, %d restored", acked, len(got))
	}

	// A second restore of the same name is refused; a damaged file is named.
	full := []string{"ctl", "--meta", dstMeta, "restore", dir, "--db", "restored", "--replication", "1"}
	stdout, stderr, code := proctest.Run(t, bin, full...)
	if code == 0 || !strings.Contains(stdout+stderr, "--force") {
		t.Fatalf("restore over an existing database: exit %d, %s%s; want a refusal naming --force", code, stdout, stderr)
	}
	victim := m.Shards[2].File.Name
	b, err := os.ReadFile(filepath.Join(dir, victim))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, victim), b, 0o644); err != nil {
		t.Fatal(err)
	}
	full[len(full)-3] = "other"
	stdout, stderr, code = proctest.Run(t, bin, full...)
	if code == 0 || !strings.Contains(stdout+stderr, victim) || !strings.Contains(stdout+stderr, "checksum mismatch") {
		t.Fatalf("restore of a damaged backup: exit %d, %s%s; want a checksum error naming %s", code, stdout, stderr, victim)
	}
	if d, err := staleState(dstMeta); err != nil || d.Database("other") != nil {
		t.Fatalf("a refused restore created database other (err %v)", err)
	}
}

// queryBackupPoints reads every point of cpu in db from node, by key.
func queryBackupPoints(t *testing.T, node *dataProc, db string) map[string]backupPoint {
	t.Helper()
	resp, err := http.Get("http://" + node.httpAddr + "/query?" + url.Values{"db": {db}, "epoch": {"ns"},
		"q": {"SELECT f, i, s, b FROM cpu GROUP BY host"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		Results []struct {
			Error  string
			Series []struct {
				Tags   map[string]string
				Values [][]json.RawMessage
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || len(res.Results) != 1 || res.Results[0].Error != "" {
		t.Fatalf("query of %s: %v %+v", db, err, res)
	}
	out := map[string]backupPoint{}
	for _, s := range res.Results[0].Series {
		for _, v := range s.Values {
			var p backupPoint
			p.host = s.Tags["host"]
			for i, dst := range []any{&p.time, &p.f, &p.i, &p.s, &p.b} {
				if err := json.Unmarshal(v[i], dst); err != nil {
					t.Fatalf("row %s of %s: column %d: %v", v, db, i, err)
				}
			}
			out[fmt.Sprint(p.host, "/", p.time)] = p
		}
	}
	return out
}
