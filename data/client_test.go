package data_test

import (
	"context"
	"slices"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/strata-db/strata/data/clustertest"
)

// TestInfluxDBGoClientWrites writes through the official InfluxDB Go client
// (its /api/v2/write path, bucket "db/rp") and reads the points back from
// the owners' shards.
func TestInfluxDBGoClientWrites(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	c.CreateDatabase("telegraf", 2)
	client := influxdb2.NewClientWithOptions(c.URL(0), "", influxdb2.DefaultOptions().SetPrecision(time.Second))
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ok, err := client.Ping(ctx)
	if err != nil || !ok {
		t.Fatalf("client Ping: %v, %v; want true", ok, err)
	}
	w := client.WriteAPIBlocking("ignored-org", "telegraf/autogen")
	ts := time.Unix(1_700_000_000, 0)
	p := influxdb2.NewPoint("mem", map[string]string{"host": "a b", "dc": "x,y"},
		map[string]any{"used": 12.5, "free": int64(7), "ok": true, "note": `quoted "text"`}, ts)
	if err := w.WritePoint(ctx, p); err != nil {
		t.Fatalf("WritePoint: %v", err)
	}
	if err := w.WriteRecord(ctx, "mem,host=c used=1.5 1700000001"); err != nil {
		t.Fatalf("WriteRecord: %v", err)
	}
	want := []string{
		`mem,dc=x\,y,host=a\ b free=7i 1700000000000000000`,
		`mem,dc=x\,y,host=a\ b note="quoted \"text\"" 1700000000000000000`,
		`mem,dc=x\,y,host=a\ b ok=true 1700000000000000000`,
		`mem,dc=x\,y,host=a\ b used=12.5 1700000000000000000`,
		`mem,host=c used=1.5 1700000001000000000`,
	}
	// RF 2 on 2 nodes: both hold everything, the second replica maybe only
	// shortly after the answer (the writes were at consistency one).
	held := func(i int) []string {
		var got []string
		for _, lines := range c.ShardPoints(i) {
			got = append(got, lines...)
		}
		slices.Sort(got)
		return got
	}
	c.WaitFor("both data nodes to hold every point", func() bool {
		return slices.Equal(held(0), want) && slices.Equal(held(1), want)
	})

	// A write the server rejects surfaces as a client error.
	if err := client.WriteAPIBlocking("", "nope").WriteRecord(ctx, "m v=1"); err == nil {
		t.Error("write to a missing database: got no error from the client")
	}
}
