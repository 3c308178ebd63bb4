package data_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/proctest"
)

// TestSeriesLimitAnswersMatchInfluxDB sends the same writes to InfluxDB
// 1.8 (the binary INFLUXD names, default /work/bin/influxd) and to a
// Strata node with the same max-series-per-database and
// max-values-per-tag, and compares each answer's status and body.
func TestSeriesLimitAnswersMatchInfluxDB(t *testing.T) {
	bin := os.Getenv("INFLUXD")
	if bin == "" {
		bin = "/work/bin/influxd"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("SKIPPED: no InfluxDB 1.8 binary at %s (set INFLUXD): %v", bin, err)
	}
	const maxSeries, maxValues = 3, 2
	dir := t.TempDir()
	influxHTTP := proctest.FreeAddr(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = %q
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  max-series-per-database = %d
  max-values-per-tag = %d
[http]
  bind-address = %q
  log-enabled = false
`, proctest.FreeAddr(t), filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), maxSeries, maxValues, influxHTTP)
	confPath := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	influx := proctest.Start(t, "influxd", bin, "-config", confPath)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := proctest.WaitHTTP(ctx, "http://"+influxHTTP+"/ping"); err != nil {
		t.Fatalf("influxd did not start: %v\n%s", err, influx.Log())
	}
	resp, err := http.PostForm("http://"+influxHTTP+"/query", url.Values{"q": {"CREATE DATABASE db"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 1, Configure: func(_ int, cfg *data.Config) {
		cfg.Storage.MaxSeriesPerDatabase, cfg.Storage.MaxValuesPerTag = maxSeries, maxValues
	}})
	c.CreateDatabase("db", 1)

	write := func(base, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(base+"/write?db=db", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for _, body := range []string{
		"cpu,host=a v=1 1\ncpu,host=b v=1 1",
		"cpu,host=c v=1 1", // a third value of host
		"mem,x=1 v=1 1",    // the third series
		"disk,y=1 v=1 1",   // a fourth series
		"cpu,host=a v=2 2", // an existing series
	} {
		wantCode, wantBody := write("http://"+influxHTTP, body)
		gotCode, gotBody := write(c.URL(0), body)
		if gotCode != wantCode || gotBody != wantBody {
			t.Errorf("write %q: Strata answered %d %s; InfluxDB 1.8 %d %s", body, gotCode, gotBody, wantCode, wantBody)
		}
	}
}
