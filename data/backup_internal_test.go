package data

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/coordinator"
)

// shardStream returns the shard stream of a shard holding lines.
func shardStream(t *testing.T, lines string) []byte {
	t.Helper()
	st, _ := openTestStore(t)
	if err := st.CreateShard(1); err != nil {
		t.Fatal(err)
	}
	writeTestLines(t, st, 1, lines)
	var b bytes.Buffer
	if _, err := antientropy.WriteShardStream(context.Background(), &b, aeShard{st.Shard(1)}, 1<<20, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRestoreEndpoint: the restore endpoint writes a stream's values into
// the named policy at consistency all, one point per series and
// timestamp, counts points the write path
// refuses instead of failing, and refuses a corrupt stream or a missing
// policy.
func TestRestoreEndpoint(t *testing.T) {
	stream := shardStream(t, "cpu,host=a v=1,x=5i 10\ncpu,host=a v=2 20\ncpu,host=b w=3i 10\n")
	h, _, fw := newTestHandler(t, nil)
	h.mountBackup(backupDeps{}) // the restore endpoint needs none of them
	post := func(query string, body []byte) (*httptest.ResponseRecorder, RestoreResult) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, RestorePath+"?"+query, bytes.NewReader(body)))
		var res RestoreResult
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
				t.Fatalf("answer %q: %v", rec.Body, err)
			}
		}
		return rec, res
	}

	rec, res := post("db=db0&rp=autogen", stream)
	if rec.Code != http.StatusOK || res.Values != 4 || res.Dropped != 0 {
		t.Fatalf("restore: %d %s, want 200 with 4 values", rec.Code, rec.Body)
	}
	var lines []string
	for _, c := range fw.calls {
		if c.db != "db0" || c.rp != "autogen" || c.level != coordinator.ConsistencyLevelAll {
			t.Fatalf("write to %s.%s at level %v, want db0.autogen at all", c.db, c.rp, c.level)
		}
		lines = append(lines, c.lines...)
	}
	// One point per series and timestamp, its fields merged.
	if got := strings.Join(lines, "\n"); got != "cpu,host=a v=1,x=5i 10\ncpu,host=a v=2 20\ncpu,host=b w=3i 10" || len(fw.calls) != 1 {
		t.Fatalf("restore wrote in %d calls\n%s", len(fw.calls), got)
	}

	fw.err = &coordinator.PartialWriteError{Reason: "points beyond retention policy", Dropped: 2}
	rec, res = post("db=db0&rp=autogen", stream)
	if rec.Code != http.StatusOK || res.Dropped != 2 || res.DropReason != "points beyond retention policy" {
		t.Fatalf("restore with refused values: %d %s, want 200 counting 2 dropped", rec.Code, rec.Body)
	}
	fw.err = nil

	cut := stream[:len(stream)-3]
	if rec, _ = post("db=db0&rp=autogen", cut); rec.Code != http.StatusBadRequest {
		t.Fatalf("restore of a cut stream: %d %s, want 400", rec.Code, rec.Body)
	}
	if rec, _ = post("db=db0&rp=nope", stream); rec.Code != http.StatusNotFound {
		t.Fatalf("restore into a missing policy: %d %s, want 404", rec.Code, rec.Body)
	}
}
