package data_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/clock"
)

// TestServerTimestampFollowsClock writes a point without a timestamp
// while the process clock (internal/clock, the chaos campaign's
// clock-jump seam) is three hours behind: the point is stamped with that
// clock's time, not the host's.
func TestServerTimestampFollowsClock(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 1})
	c.CreateDatabase("db", 1)
	const jump = -3 * time.Hour
	clock.SetOffset(jump)
	defer clock.SetOffset(0)
	lo := time.Now().Add(jump)
	if code, body := c.Write(0, url.Values{"db": {"db"}}, "m v=1"); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}
	hi := time.Now().Add(jump)
	var lines []string
	for _, l := range c.ShardPoints(0) {
		lines = append(lines, l...)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "m v=1 ") {
		t.Fatalf("shard holds %q, want the one point", lines)
	}
	ns, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "m v=1 "), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(0, ns); got.Before(lo) || got.After(hi) {
		t.Fatalf("point stamped %v, want between %v and %v (the clock %v off)", got, lo, hi, jump)
	}
}
