package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/faultproxy"
)

// TestCtlHH checks `strata ctl hh status` and `purge` against a cluster
// whose node 1 is cut off while writes for it are queued on node 0.
func TestCtlHH(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	c.CreateDatabase("db", 2)
	c.SetLink(1, faultproxy.Refuse)
	ts := time.Now().Add(-time.Hour).UnixNano()
	for i := range 3 {
		body := fmt.Sprintf("cpu,host=a v=%d %d\ncpu,host=b v=%d %d", i, ts+int64(i), i, ts+int64(i))
		if code, resp := c.Write(0, map[string][]string{"db": {"db"}, "consistency": {"any"}}, body); code != 204 {
			t.Fatalf("write: %d %s", code, resp)
		}
	}
	addrs := c.Meta.HTTPAddrs()
	cut := c.NodeID(1)

	type status struct {
		Queues []struct {
			Holder  uint64
			NodeID  uint64 `json:"node_id"`
			Records int64
		}
	}
	// status runs `hh status --json`.
	statusJSON := func() (status, string) {
		t.Helper()
		out, err := runCtl(t, addrs, "", "--json", "hh", "status")
		if err != nil {
			t.Fatalf("hh status: %v\n%s", err, out)
		}
		var st status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("hh status --json: %v\n%s", err, out)
		}
		return st, out
	}
	// A level-any write answers once the local owner has it; the cut
	// owner's copy is queued in the background.
	c.WaitFor("3 records queued for the cut node", func() bool {
		st, _ := statusJSON()
		return len(st.Queues) == 1 && st.Queues[0].NodeID == cut && st.Queues[0].Records == 3
	})
	out, err := runCtl(t, addrs, "", "hh", "status")
	if err != nil || !strings.Contains(out, "NODE") || !strings.Contains(out, fmt.Sprintf("\n%d ", cut)) {
		t.Errorf("hh status table = %q, %v; want a row for node %d", out, err, cut)
	}

	out, err = runCtl(t, addrs, "n\n", "hh", "purge", fmt.Sprint(cut))
	if err == nil || !strings.Contains(err.Error(), "cancelled") || !strings.Contains(out, "Drop 3 queued records") {
		t.Fatalf("hh purge answered no: %q, %v; want the question and a cancelled error", out, err)
	}
	out, err = runCtl(t, addrs, "", "hh", "purge", fmt.Sprint(cut), "--yes")
	if err != nil || !strings.Contains(out, "purged 3 records (6 points)") {
		t.Fatalf("hh purge --yes: %q, %v; want 3 records (6 points) purged", out, err)
	}
	if st, out := statusJSON(); len(st.Queues) != 1 || st.Queues[0].Records != 0 {
		t.Errorf("hh status after purge = %s; want node %d's queue empty", out, cut)
	}
}
