package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// descName reads the metric name out of a Desc; client_golang gives it
// no getter, only String ("Desc{fqName: \"x\", …}").
var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exportedMetricNames starts a meta and a data node in process on
// registries like the binary's (processRegistry), writes and queries once,
// and returns every series name the nodes can export: each registered
// collector's names (from Describe, so labelled families with no series
// yet count too), and the _bucket/_sum/_count series of every histogram
// and summary gathered.
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	metaReg, dataReg := processRegistry(), processRegistry()
	m := meta.NewServer(metatest.Config(t.TempDir()), nil, metaReg)
	if err := m.Open(); err != nil {
		t.Fatalf("open meta node: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	cfg := data.NewConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "data")
	cfg.HTTPAddr, cfg.RPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Meta = []string{m.HTTPAddr()}
	cfg.Storage.WAL.NoSync = true
	d := data.NewServer(cfg, "test", nil, dataReg)
	if err := d.Open(); err != nil {
		t.Fatalf("open data node: %v", err)
	}
	t.Cleanup(func() { d.Close() })

	base := "http://" + d.HTTPAddr()
	post := func(path string, form url.Values, body string) {
		t.Helper()
		u := base + path
		if form != nil {
			u += "?" + form.Encode()
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := http.Post(u, "text/plain", strings.NewReader(body))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					return
				}
				err = fmt.Errorf("%s: %s", resp.Status, b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("POST %s: %v", path, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	post("/query", url.Values{"q": {"CREATE DATABASE db"}}, "")
	post("/write", url.Values{"db": {"db"}}, "cpu,host=a v=1")
	post("/query", url.Values{"db": {"db"}, "q": {"SELECT mean(v) FROM cpu"}}, "")

	names := make(map[string]bool)
	for _, reg := range []*prometheus.Registry{metaReg, dataReg} {
		descs := make(chan *prometheus.Desc)
		go func() {
			reg.Describe(descs)
			close(descs)
		}()
		for desc := range descs {
			if m := descName.FindStringSubmatch(desc.String()); m != nil {
				names[m[1]] = true
			}
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		for _, f := range families {
			names[f.GetName()] = true
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM, dto.MetricType_SUMMARY:
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					names[f.GetName()+suffix] = true
				}
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("only %d metric names found; the registries were not filled", len(names))
	}
	return names
}
