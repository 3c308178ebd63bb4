package query_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator/query"
)

func TestConfigValidate(t *testing.T) {
	if err := query.NewConfig().Validate(); err != nil {
		t.Errorf("NewConfig().Validate(): got %v, want nil", err)
	}
	for name, mut := range map[string]func(*query.Config){
		"timeout": func(c *query.Config) { c.QueryTimeout = -1 },
		"series":  func(c *query.Config) { c.MaxSelectSeriesN = -1 },
		"buckets": func(c *query.Config) { c.MaxSelectBucketsN = -1 },
		"queries": func(c *query.Config) { c.MaxConcurrentQueries = -1 },
		"points":  func(c *query.Config) { c.MaxSelectPointN = -1 },
	} {
		c := query.NewConfig()
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("negative %s: got nil, want an error", name)
		}
	}
}

// TestMetricsSharedRegistry checks that two executors can share one
// registry and that statements are counted.
func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	query.NewExecutor(query.NewConfig(), mustStore(t), nil, reg)
	e := query.NewExecutor(query.NewConfig(), mustStore(t), nil, reg)
	exec(t, e, `SHOW MEASUREMENTS; CREATE DATABASE x`)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: got %v, want nil", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "strata_query_statements_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["ok"] != 1 || got["not_handled"] != 1 {
		t.Errorf("statements_total: got %v, want ok=1 not_handled=1", got)
	}
}
