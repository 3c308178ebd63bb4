package index

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestTagsInKey checks that the tags batchTags.find takes from a stored
// key without parsing it (tagAt) are those the parser finds, and that keys
// whose tokens were escaped are left to the parser (unescapedKey).
func TestTagsInKey(t *testing.T) {
	for _, tc := range []struct {
		line    string
		inPlace bool
	}{
		{"cpu,host=a,region=us-east-1 v=1", true},
		{"cpu v=1", true},
		{`c\,pu,host=a v=1`, false},
		{`cpu,ho\ st=a v=1`, false},
		{`cpu,host=a\=b v=1`, false},
		{`cpu,host=a\,b,z=1 v=1`, false},
		{`cp=u,host=a\b v=1`, true},
	} {
		var p models.Parser
		pts, err := p.Parse([]byte(tc.line), 1, 1)
		if err != nil || len(pts) != 1 {
			t.Fatalf("parse %q: %d points, %v", tc.line, len(pts), err)
		}
		key := pts[0].AppendSeriesKey(nil)
		ok := unescapedKey(key, &pts[0])
		if ok != tc.inPlace {
			t.Errorf("%q: in place %v; want %v", tc.line, ok, tc.inPlace)
		}
		if !ok {
			continue
		}
		off := len(pts[0].Measurement)
		var tags models.Tags
		for j := range pts[0].Tags {
			var k, v []byte
			k, v, off = tagAt(key, &pts[0].Tags[j], off)
			tags = append(tags, models.Tag{Key: k, Value: v})
		}
		wantName, wantTags, err := models.ParseSeriesKey(key)
		if err != nil {
			t.Fatalf("parse key %q: %v", key, err)
		}
		if got, want := fmt.Sprintf("%s %s", key[:len(pts[0].Measurement)], tags), fmt.Sprintf("%s %s", wantName, wantTags); got != want {
			t.Errorf("%q: got %s; want %s", tc.line, got, want)
		}
		if off != len(key) {
			t.Errorf("%q: the last tag ends at %d; want %d", tc.line, off, len(key))
		}
	}
}

// TestBatchGroupsGrow creates batches with more distinct tag values than
// the group table starts with room for (six per series, each new, the same
// under each tag key, and values shared by a few series): the table must
// grow (a full one is searched forever), and the postings must be those of
// the series indexed one at a time.
func TestBatchGroupsGrow(t *testing.T) {
	ix := mustOpenIndex(t, t.TempDir())
	defer ix.Close()
	for batch := range 3 {
		var b strings.Builder
		for i := range 500 {
			n := batch*500 + i
			fmt.Fprintf(&b, "cpu,a=%d,b=%d,c=%d,d=%d,e=%d,f=%d,g=%d v=1 1\n", n, n, n, n, n, n, n%7)
		}
		mustCreate(t, ix, b.String())
	}
	if got, want := state(ix), builtState(t, ix); got != want {
		t.Errorf("postings of batches with many values differ from those indexed one series at a time:\n%s\nwant\n%s", got, want)
	}
}
