package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
)

// hostileFullEnv runs TestHostileLoadProcesses at full size: a write of
// 1,100,000 new series against the default max-series-per-database of
// 1,000,000 (make test runs 30,000 against 10,000).
const hostileFullEnv = "STRATA_HOSTILE_FULL"

// hostileWriters is how many clients write at once.
const hostileWriters = 10_000

// hostileWriteSlots is the node's max-concurrent-write-limit under the
// hostile load.
const hostileWriteSlots = 8

// TestHostileLoadProcesses runs a data node process under hostile load:
// 10,000 concurrent writers against max-concurrent-write-limit and
// max-enqueued-write-limit (each answered 204 or 503; a refused write
// stores nothing, an accepted one all its points), while other clients'
// queries and pings are served; then one write creating more series than
// max-series-per-database allows (a partial write naming the limit; the
// node's memory is logged). Nothing acknowledged is lost.
func TestHostileLoadProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	full := os.Getenv(hostileFullEnv) != ""
	seriesLimit, seriesWritten := 10_000, 30_000
	if full {
		seriesLimit, seriesWritten = 1_000_000, 1_100_000
	}
	bin := proctest.Build(t)
	metas := startMetaCluster(t, bin, 1)
	cfg := filepath.Join(t.TempDir(), "data.toml")
	toml := fmt.Sprintf(`
[http]
  max-concurrent-write-limit = %d
  max-enqueued-write-limit = 200
  enqueued-write-timeout = "20s"
[storage]
  max-series-per-database = %d
`, hostileWriteSlots, seriesLimit)
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	httpAddr := proctest.FreeAddr(t)
	node := &dataProc{httpAddr: httpAddr, Process: proctest.Start(t, "data0", bin, "data", "--config", cfg,
		"--dir", filepath.Join(t.TempDir(), "data0"), "--meta", metas[0].httpAddr,
		"--http-addr", httpAddr, "--rpc-addr", proctest.FreeAddr(t))}
	node.waitHealthy(t)
	for _, db := range []string{"load", "wide"} {
		if out := postQuery(t, node, "", "CREATE DATABASE "+db); strings.Contains(out, "error") {
			t.Fatalf("create database %s: %s", db, out)
		}
	}
	base := time.Now().Add(-time.Hour).UnixNano()

	// 10,000 writers at once, each 3 points of its own series.
	tr := &http.Transport{DisableKeepAlives: true, MaxIdleConns: -1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	const pointsPerWriter = 3
	answers := make([]int, hostileWriters) // status; 0: no answer
	var throttledBodies atomic.Int64
	stop := make(chan struct{})
	var others sync.WaitGroup
	var otherOK, otherFailed atomic.Int64
	others.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, u := range []string{"http://" + httpAddr + "/ping", "http://" + httpAddr + "/query?" + url.Values{"q": {"SHOW DATABASES"}}.Encode()} {
				resp, err := client.Get(u)
				if err != nil || resp.StatusCode/100 != 2 {
					otherFailed.Add(1)
				} else {
					otherOK.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		}
	})
	// Writes whose bodies stay open hold every write slot until the
	// burst's first refusal, so the burst finds the slots taken and the
	// queue filling however fast this machine serves writes (without
	// them a fast node served all 10,000 and refused none).
	holders := make([]*io.PipeWriter, hostileWriteSlots)
	holderCodes := make(chan int, hostileWriteSlots)
	for i := range holders {
		pr, pw := io.Pipe()
		holders[i] = pw
		go func() {
			code := 0
			if resp, err := client.Post("http://"+httpAddr+"/write?db=load", "text/plain", pr); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			holderCodes <- code
		}()
		fmt.Fprintf(pw, "hold,holder=%d v=1 %d\n", i, base)
	}
	waitGauge(t, node, "strata_http_writes_active", hostileWriteSlots)
	var releaseOnce sync.Once
	releaseHolders := func() {
		releaseOnce.Do(func() {
			for _, pw := range holders {
				pw.Close()
			}
		})
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range hostileWriters {
		wg.Go(func() {
			var body strings.Builder
			for p := range pointsPerWriter {
				fmt.Fprintf(&body, "w,writer=%d a=%d,b=%d %d\n", w, p, w, base+int64(p))
			}
			<-start
			for attempt := 0; ; attempt++ {
				resp, err := client.Post("http://"+httpAddr+"/write?db=load", "text/plain", strings.NewReader(body.String()))
				if err != nil {
					// A connection refused or reset before an answer: the
					// client may not know what happened, so it retries,
					// as a real one would.
					if attempt < 5 {
						time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
						continue
					}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				answers[w] = resp.StatusCode
				if resp.StatusCode == http.StatusServiceUnavailable {
					if strings.Contains(string(b), "request throttled") {
						throttledBodies.Add(1)
					}
					releaseHolders()
				}
				return
			}
		})
	}
	close(start)
	wg.Wait()
	releaseHolders()
	close(stop)
	others.Wait()
	for range holders {
		if code := <-holderCodes; code != http.StatusNoContent {
			t.Errorf("a write holding a slot was answered %d; want 204", code)
		}
	}

	counts := map[int]int{}
	for _, code := range answers {
		counts[code]++
	}
	t.Logf("%d writers: answers by status %v; other clients: %d answered, %d failed", hostileWriters, counts, otherOK.Load(), otherFailed.Load())
	if counts[http.StatusNoContent] == 0 || counts[http.StatusServiceUnavailable] == 0 {
		t.Errorf("answers %v; want some writes accepted (204) and some throttled (503)", counts)
	}
	if n := counts[http.StatusNoContent] + counts[http.StatusServiceUnavailable] + counts[0]; n != hostileWriters {
		t.Errorf("answers %v; want only 204 and 503", counts)
	}
	if int(throttledBodies.Load()) != counts[http.StatusServiceUnavailable] {
		t.Errorf("%d of %d 503 answers said \"request throttled\"", throttledBodies.Load(), counts[http.StatusServiceUnavailable])
	}
	if otherOK.Load() == 0 || otherFailed.Load() != 0 {
		t.Errorf("other clients during the load: %d answered, %d failed; want all answered", otherOK.Load(), otherFailed.Load())
	}
	// Every accepted write holds all its points, a refused one none.
	stored := writerCounts(t, node, "load", "SELECT count(a) FROM w GROUP BY writer")
	for w, code := range answers {
		switch n := stored[strconv.Itoa(w)]; {
		case code == http.StatusNoContent && n != pointsPerWriter:
			t.Errorf("writer %d was acknowledged but %d of its %d points are stored", w, n, pointsPerWriter)
		case code == http.StatusServiceUnavailable && n != 0:
			t.Errorf("writer %d was refused but %d of its points are stored", w, n)
		case code == 0 && n != 0 && n != pointsPerWriter:
			t.Errorf("writer %d got no answer and %d of its %d points are stored; want all or none", w, n, pointsPerWriter)
		}
	}

	// One write of more new series than the limit allows (without
	// timestamps, so 1,100,000 lines fit in max-body-size).
	var body strings.Builder
	for s := range seriesWritten {
		fmt.Fprintf(&body, "m,s=%d v=1\n", s)
	}
	resp, err := client.Post("http://"+httpAddr+"/write?db=wide", "text/plain", strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf("partial write: max-series-per-database limit exceeded: (%d) dropped=%d", seriesLimit, seriesWritten-seriesLimit)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), want) {
		t.Errorf("write of %d series: %d %s; want 400 %s", seriesWritten, resp.StatusCode, b, want)
	}
	if rss, peak := procMemory(node.Process); rss != "" {
		t.Logf("data node memory after %d series (limit %d): VmRSS %s, VmHWM %s", seriesWritten, seriesLimit, rss, peak)
	}
	if out := postQuery(t, node, "wide", "SELECT count(v) FROM m"); !strings.Contains(out, fmt.Sprintf(",%d]", seriesLimit)) {
		t.Errorf("points of the wide write: %s; want %d (one per admitted series)", out, seriesLimit)
	}
	// The node still takes writes of existing series, and the load's
	// acknowledged points are all there.
	if code := node.post(t, "/write?db=wide", "m,s=0 v=2"); code != http.StatusNoContent {
		t.Errorf("write of an existing series after the limit: %d; want 204", code)
	}
	if got, want := sum(writerCounts(t, node, "load", "SELECT count(a) FROM w GROUP BY writer")), pointsPerWriter*counts[http.StatusNoContent]; got < want {
		t.Errorf("after the series write: %d points of the writers stored; want at least the %d acknowledged", got, want)
	}
}

// postQuery POSTs q to the node's /query on db and returns the body.
func postQuery(t *testing.T, node *dataProc, db, q string) string {
	t.Helper()
	resp, err := http.PostForm("http://"+node.httpAddr+"/query", url.Values{"db": {db}, "q": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// writerCounts runs q (a count GROUP BY writer) on db and returns the count
// per writer tag.
func writerCounts(t *testing.T, node *dataProc, db, q string) map[string]int {
	t.Helper()
	resp, err := http.PostForm("http://"+node.httpAddr+"/query", url.Values{"db": {db}, "q": {q}, "epoch": {"ns"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Results []struct {
			Series []struct {
				Tags   map[string]string
				Values [][]json.Number
			}
			Error string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || len(ans.Results) != 1 || ans.Results[0].Error != "" {
		t.Fatalf("%s: %v %+v", q, err, ans)
	}
	out := map[string]int{}
	for _, s := range ans.Results[0].Series {
		n, _ := s.Values[0][1].Int64()
		out[s.Tags["writer"]] = int(n)
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// procMemory reads a process's VmRSS and VmHWM from /proc ("" elsewhere).
func procMemory(p *proctest.Process) (rss, peak string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return "", ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			peak = strings.TrimSpace(v)
		}
	}
	return rss, peak
}

// waitGauge waits until the node's /metrics shows gauge name at want.
func waitGauge(t *testing.T, node *dataProc, name string, want int) {
	t.Helper()
	line := fmt.Sprintf("%s %d\n", name, want)
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + node.httpAddr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); strings.Contains(body, "\n"+line) {
			return
		}
	}
	t.Fatalf("%s never reached %d; /metrics has %q", name, want, gaugeLine(body, name))
}

// gaugeLine returns the line of /metrics body that gives name's value.
func gaugeLine(body, name string) string {
	for l := range strings.Lines(body) {
		if strings.HasPrefix(l, name+" ") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
