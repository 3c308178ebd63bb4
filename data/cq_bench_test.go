package data_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/data/clustertest"
)

// cqBenchHosts and cqBenchFields are the shape the issue names: a
// continuous query rolling up 100 hosts × 10 fields every 10 s.
const (
	cqBenchHosts  = 100
	cqBenchFields = 10
)

// cqWindow is 10 s of cpu data at one line per host per second.
func cqWindow(start time.Time) string {
	var sb strings.Builder
	for s := range 10 {
		ts := start.Add(time.Duration(s) * time.Second).UnixNano()
		for h := range cqBenchHosts {
			fmt.Fprintf(&sb, "cpu,hostname=host_%d,region=r%d ", h, h%4)
			for f := range cqBenchFields {
				if f > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "f%d=%di", f, (h*7+s*13+f)%100)
			}
			fmt.Fprintf(&sb, " %d\n", ts)
		}
	}
	return sb.String()
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCQRollupVsIngest measures, on one in-process data node, the
// process CPU time (cpu-ns/op, background work included) of ingesting one
// 10 s interval of 100 hosts × 10 fields (ingest), and of ingesting it and
// then running the continuous query run that rolls it up, as the runner
// does right after the interval ends (ingest+cq: SELECT mean(*) … INTO …
// GROUP BY time(10s), * of that interval). (ingest+cq − ingest) / ingest
// is the CQ's cost as a share of ingest.
func BenchmarkCQRollupVsIngest(b *testing.B) {
	c := clustertest.New(b, clustertest.Options{Data: 1})
	c.CreateDatabase("bench", 1)
	t0 := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	post := func(path string, form url.Values, body string) {
		resp, err := http.Post(c.URL(0)+path+"?"+form.Encode(), "text/plain", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b.Fatalf("POST %s: status %d", path, resp.StatusCode)
		}
	}
	windows := 0
	run := func(withCQ bool) func(b *testing.B) {
		return func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				w := t0.Add(time.Duration(windows) * 10 * time.Second)
				windows++
				body := cqWindow(w)
				q := fmt.Sprintf(`SELECT mean(*) INTO bench.autogen.cpu_10s FROM bench.autogen.cpu WHERE time >= '%s' AND time < '%s' GROUP BY time(10s), *`,
					w.UTC().Format(time.RFC3339Nano), w.Add(10*time.Second).UTC().Format(time.RFC3339Nano))
				start := cpuTime(b)
				post("/write", url.Values{"db": {"bench"}}, body)
				if withCQ {
					post("/query", url.Values{"db": {"bench"}, "q": {q}}, "")
				}
				cpu += cpuTime(b) - start
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
	b.Run("ingest", run(false))
	b.Run("ingest+cq", run(true))
}
