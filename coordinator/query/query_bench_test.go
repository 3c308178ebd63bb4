package query_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/coordinator/query/querytest"
	"github.com/strata-db/strata/tsdb/models"
)

// TSBS cpu-only shape: benchHosts hosts, ten usage fields, one point per
// host every 10 s over 12 h, starting at benchStart.
const (
	benchHosts  = 20
	benchPeriod = 12 * time.Hour
	benchStep   = 10 * time.Second
)

var (
	benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	benchOnce  sync.Once
	benchStore *querytest.Store
	benchN     int64
)

var benchFields = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

func tsbsStore(b *testing.B) *querytest.Store {
	b.Helper()
	benchOnce.Do(func() {
		st := querytest.NewStore(24 * time.Hour)
		r := rand.New(rand.NewPCG(1, 2))
		var batch []models.Point
		for h := range benchHosts {
			tags := models.Tags{
				{Key: []byte("hostname"), Value: fmt.Appendf(nil, "host_%d", h)},
				{Key: []byte("region"), Value: fmt.Appendf(nil, "region_%d", h%3)},
			}
			for t := benchStart; t.Before(benchStart.Add(benchPeriod)); t = t.Add(benchStep) {
				p := models.Point{Measurement: []byte("cpu"), Tags: tags, Time: t.UnixNano()}
				for _, f := range benchFields {
					p.Fields = append(p.Fields, models.Field{Key: []byte(f), Value: models.FloatValue(r.Float64() * 100)})
				}
				batch = append(batch, p)
				benchN += int64(len(benchFields))
			}
			st.WritePoints("benchmark", "autogen", batch)
			batch = batch[:0]
		}
		benchStore = st
	})
	return benchStore
}

func hostsOr(n int) string {
	s := "("
	for i := range n {
		if i > 0 {
			s += " OR "
		}
		s += fmt.Sprintf("hostname = 'host_%d'", i)
	}
	return s + ")"
}

func timeRange(d time.Duration) string {
	return fmt.Sprintf("time >= '%s' AND time < '%s'", benchStart.Format(time.RFC3339), benchStart.Add(d).Format(time.RFC3339))
}

func maxOf(n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += ", "
		}
		s += "max(" + benchFields[i] + ")"
	}
	return s
}

// BenchmarkTSBS runs the TSBS query shapes the brief names against the
// in-memory storage (execution and JSON encoding).
func BenchmarkTSBS(b *testing.B) {
	st := tsbsStore(b)
	e := query.NewExecutor(query.NewConfig(), st, nil, nil)
	opts := query.ExecutionOptions{Database: "benchmark", DefaultRetentionPolicy: defaultRP, Now: benchStart.Add(benchPeriod)}
	cases := []struct{ name, q string }{
		{"single-groupby-1-1-1", "SELECT max(usage_user) FROM cpu WHERE hostname = 'host_0' AND " + timeRange(time.Hour) + " GROUP BY time(1m)"},
		{"single-groupby-5-1-12", "SELECT " + maxOf(5) + " FROM cpu WHERE hostname = 'host_0' AND " + timeRange(12*time.Hour) + " GROUP BY time(1m)"},
		{"cpu-max-all-8", "SELECT " + maxOf(10) + " FROM cpu WHERE " + hostsOr(8) + " AND " + timeRange(8*time.Hour) + " GROUP BY time(1h)"},
		{"double-groupby-1", "SELECT mean(usage_user) FROM cpu WHERE " + timeRange(12*time.Hour) + " GROUP BY time(1h), hostname"},
		{"high-cpu-1", "SELECT * FROM cpu WHERE usage_user > 90.0 AND hostname = 'host_0' AND " + timeRange(12*time.Hour)},
		{"lastpoint", `SELECT * FROM cpu GROUP BY "hostname" ORDER BY time DESC LIMIT 1`},
	}
	for _, tc := range cases {
		q, err := influxql.ParseQuery(tc.q)
		if err != nil {
			b.Fatalf("ParseQuery(%q): got %v", tc.q, err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			res, err := e.ExecuteQuery(context.Background(), q, opts)
			if err != nil || res[0].Err != nil || len(res[0].Series) == 0 {
				b.Fatalf("%s: got %v / %+v, want rows", tc.q, err, res)
			}
			b.SetBytes(resultBytes(res))
			for b.Loop() {
				res, _ := e.ExecuteQuery(context.Background(), q, opts)
				if err := query.WriteJSON(io.Discard, res, query.FormatOptions{Epoch: "ms"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// resultBytes is the size of the JSON answer, the unit of b.SetBytes.
func resultBytes(res []*query.Result) int64 {
	var cw countWriter
	_ = query.WriteJSON(&cw, res, query.FormatOptions{Epoch: "ms"})
	return int64(cw)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
