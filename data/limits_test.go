package data_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/data/clustertest"
)

// TestOversizeSeriesKeysRejectedAndLaterSeriesSurviveRestart writes a
// series key of 10 MB and one of 100,000 tags, each refused with a 400
// partial write naming the line, then a key of exactly the limit and 200
// more series, all accepted; after a restart every accepted series is
// still there. (The oversize keys used to be acknowledged, then broke the
// index log on restart and took every later series of the shard with them.)
func TestOversizeSeriesKeysRejectedAndLaterSeriesSurviveRestart(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 1})
	c.CreateDatabase("db", 1)
	const ts = " v=1 1000000000\n"

	var many strings.Builder
	many.WriteString("manytags")
	for i := range 100_000 {
		fmt.Fprintf(&many, ",t%06d=v", i)
	}
	for name, line := range map[string]string{
		"10 MB tag value": "bigtag,host=" + strings.Repeat("y", 10<<20),
		"100,000 tags":    many.String(),
	} {
		code, resp := c.Write(0, params("db", "db"), "ok,host=a v=1 1000000000\n"+line+ts)
		if code != 400 || !strings.Contains(resp, "line 2: max key length exceeded") || !strings.Contains(resp, "dropped=1") {
			t.Errorf("%s: got %d %.300s; want 400 partial write naming line 2 (max key length exceeded, dropped=1)", name, code, resp)
		}
	}

	edge := "edge,host=" + strings.Repeat("e", 65535-len("edge,host="))
	var body strings.Builder
	body.WriteString(edge + ts)
	for i := range 200 {
		fmt.Fprintf(&body, "later,host=h%03d%s", i, ts)
	}
	if code, resp := c.Write(0, params("db", "db"), body.String()); code != 204 {
		t.Fatalf("write of a key of exactly %d bytes and 200 series: got %d %.300s, want 204", 65535, code, resp)
	}
	series := func() []string {
		var keys []string
		for _, lines := range c.ShardPoints(0) {
			for _, l := range lines {
				keys = append(keys, l[:strings.IndexByte(l, ' ')])
			}
		}
		slices.Sort(keys)
		return slices.Compact(keys)
	}
	before := series()
	if len(before) != 202 {
		t.Fatalf("before restart: %d series stored, want 202 (ok, edge and 200 later)", len(before))
	}
	c.Stop(0)
	c.Restart(0)
	if after := series(); !slices.Equal(after, before) {
		t.Fatalf("after restart: %d series, want the %d stored before", len(after), len(before))
	}
}

// TestTimestampsOutsideInfluxDBRange checks InfluxDB's valid time range,
// [-9223372036854775806, 9223372036854775806]: a timestamp outside it is a
// 400 partial write naming the line, and nothing of that line is stored;
// the extremes inside it are stored and read back, also after a restart.
func TestTimestampsOutsideInfluxDBRange(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 1})
	c.CreateDatabase("db", 1)
	for _, ts := range []string{"-9223372036854775808", "-9223372036854775807", "9223372036854775807"} {
		code, resp := c.Write(0, params("db", "db"), "edge v=2 0\nedge v=1 "+ts+"\n")
		if code != 400 || !strings.Contains(resp, "line 2: time outside range") || !strings.Contains(resp, "dropped=1") {
			t.Errorf("timestamp %s: got %d %s; want 400 partial write naming line 2 (time outside range, dropped=1)", ts, code, resp)
		}
	}
	body := "edge v=1 -9223372036854775806\nedge v=1 9223372036854775806\n"
	if code, resp := c.Write(0, params("db", "db"), body); code != 204 {
		t.Fatalf("timestamps at the range's ends: got %d %s, want 204", code, resp)
	}
	want := []string{"edge v=1 -9223372036854775806", "edge v=1 9223372036854775806", "edge v=2 0"}
	stored := func() []string {
		var got []string
		for _, lines := range c.ShardPoints(0) {
			got = append(got, lines...)
		}
		slices.Sort(got)
		return got
	}
	if got := stored(); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	c.Stop(0)
	c.Restart(0)
	if got := stored(); !slices.Equal(got, want) {
		t.Fatalf("after restart: stored %q, want %q", got, want)
	}
}
