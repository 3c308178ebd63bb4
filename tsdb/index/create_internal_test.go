package index

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestTagsInKey checks that the tags addSeries takes from a stored key
// without parsing it are those the parser finds, and that keys whose
// tokens were escaped are left to the parser.
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
		name, tags, ok := tagsInKey(nil, key, &pts[0])
		if ok != tc.inPlace {
			t.Errorf("%q: in place %v; want %v", tc.line, ok, tc.inPlace)
		}
		if !ok {
			continue
		}
		wantName, wantTags, err := models.ParseSeriesKey(key)
		if err != nil {
			t.Fatalf("parse key %q: %v", key, err)
		}
		if got, want := fmt.Sprintf("%s %s", name, tags), fmt.Sprintf("%s %s", wantName, wantTags); got != want {
			t.Errorf("%q: got %s; want %s", tc.line, got, want)
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
