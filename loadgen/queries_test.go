package loadgen_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/loadgen"
)

var testSpace = loadgen.QuerySpace{Hosts: 100, Start: loadgen.DefaultStart, End: loadgen.DefaultStart.Add(24 * time.Hour)}

// TestQueryShapes checks the 15 TSBS cpu-only types: their names, that
// each query stays inside the data (hosts, time range of the right width)
// and that the same seed draws the same queries.
func TestQueryShapes(t *testing.T) {
	want := []string{"single-groupby-1-1-1", "single-groupby-1-1-12", "single-groupby-1-8-1", "single-groupby-5-1-1",
		"single-groupby-5-1-12", "single-groupby-5-8-1", "cpu-max-all-1", "cpu-max-all-8", "double-groupby-1",
		"double-groupby-5", "double-groupby-all", "high-cpu-1", "high-cpu-all", "lastpoint", "groupby-orderby-limit"}
	shapes, err := loadgen.SelectQueryShapes("all")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range shapes {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("shapes = %q, want %q", names, want)
	}
	hostRe := regexp.MustCompile(`hostname = 'host_(\d+)'`)
	timeRe := regexp.MustCompile(`time >= '([^']+)' and time < '([^']+)'`)
	widths := map[string]time.Duration{"single-groupby-1-1-12": 12 * time.Hour, "cpu-max-all-8": 8 * time.Hour,
		"double-groupby-5": 12 * time.Hour, "high-cpu-1": 12 * time.Hour, "single-groupby-5-8-1": time.Hour}
	hostsPer := map[string]int{"single-groupby-5-8-1": 8, "cpu-max-all-8": 8, "high-cpu-1": 1, "high-cpu-all": 0, "double-groupby-5": 0}
	for _, s := range shapes {
		a, err := s.Generate(testSpace, 50, 7)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		b, _ := s.Generate(testSpace, 50, 7)
		c, _ := s.Generate(testSpace, 50, 8)
		if !slices.Equal(a, b) {
			t.Errorf("%s: the same seed drew different queries", s.Name)
		}
		if s.Name != "lastpoint" && slices.Equal(a, c) {
			t.Errorf("%s: seeds 7 and 8 drew the same queries", s.Name)
		}
		for _, q := range a {
			hosts := hostRe.FindAllStringSubmatch(q, -1)
			if n, ok := hostsPer[s.Name]; ok && len(hosts) != n {
				t.Errorf("%s: %d hosts in %q, want %d", s.Name, len(hosts), q, n)
			}
			seen := map[string]bool{}
			for _, h := range hosts {
				if seen[h[1]] || len(h[1]) > 2 {
					t.Errorf("%s: host %s repeated or out of 0..99 in %q", s.Name, h[1], q)
				}
				seen[h[1]] = true
			}
			if m := timeRe.FindStringSubmatch(q); m != nil {
				from, _ := time.Parse(time.RFC3339, m[1])
				to, _ := time.Parse(time.RFC3339, m[2])
				if from.Before(testSpace.Start) || to.After(testSpace.End) {
					t.Errorf("%s: range %s..%s leaves the data's day", s.Name, m[1], m[2])
				}
				if w, ok := widths[s.Name]; ok && to.Sub(from) != w {
					t.Errorf("%s: range %s..%s is %s wide, want %s", s.Name, m[1], m[2], to.Sub(from), w)
				}
			}
		}
	}
	if _, err := loadgen.SelectQueryShapes("high-cpu-1,nope"); !errors.Is(err, loadgen.ErrInvalidConfig) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown type: err = %v, want ErrInvalidConfig naming it", err)
	}
	hc, _ := loadgen.SelectQueryShapes("high-cpu-1")
	if _, err := hc[0].Generate(loadgen.QuerySpace{Hosts: 10, Start: testSpace.Start, End: testSpace.Start.Add(time.Hour)}, 1, 1); !errors.Is(err, loadgen.ErrInvalidConfig) {
		t.Errorf("12 h query over 1 h of data: err = %v, want ErrInvalidConfig", err)
	}
}

// queryServer answers /query with answer(q) and counts what it got.
type queryServer struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
}

func newQueryServer(t *testing.T, answer func(q string) string) *queryServer {
	s := &queryServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/query" || r.URL.Query().Get("db") != "tsbs" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		q := r.URL.Query().Get("q")
		s.mu.Lock()
		s.queries = append(s.queries, q)
		s.mu.Unlock()
		fmt.Fprint(w, answer(q))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestQueryBench(t *testing.T) {
	ok := func(string) string {
		return `{"results":[{"statement_id":0,"series":[{"name":"cpu","values":[[1,2]]}]}]}`
	}
	a := newQueryServer(t, ok)
	b := newQueryServer(t, func(q string) string {
		if strings.Contains(q, "usage_user > 90.0") {
			return `{"results":[{"statement_id":0,"error":"no"}]}`
		}
		if strings.Contains(q, "desc limit 1") {
			return `{"results":[{"statement_id":0,"series":[{"name":"cpu","values":[[1,3]]}]}]}`
		}
		return ok(q)
	})
	cfg := loadgen.QueryConfig{
		Targets:  []loadgen.QueryTarget{{Name: "a", URL: a.URL}, {Name: "b", URL: b.URL}},
		Database: "tsbs", Workers: 3, Queries: 10, Timeout: 5 * time.Second, Seed: 1, Space: testSpace,
	}
	qb, err := loadgen.NewQueryBench(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer qb.Close()
	shapes, _ := loadgen.SelectQueryShapes("single-groupby-1-1-1,high-cpu-1,lastpoint")
	res, err := qb.RunShapes(context.Background(), shapes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	// Each target got the first query once more (the answer check).
	if len(a.queries) != 33 || len(b.queries) != 33 {
		t.Errorf("servers got %d and %d queries, want 33 each", len(a.queries), len(b.queries))
	}
	if !slices.Equal(a.queries, b.queries) {
		// Workers race, so compare as sets.
		x, y := slices.Clone(a.queries), slices.Clone(b.queries)
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			t.Errorf("the servers were sent different queries")
		}
	}
	for _, r := range res {
		for i, st := range r.Stats {
			wantErrs := 0
			if r.Shape == "high-cpu-1" && i == 1 {
				wantErrs = 10
			}
			if st.Queries != 10 || st.Errors != wantErrs || st.Target != cfg.Targets[i].Name || st.Workers != 3 {
				t.Errorf("%s on %s: %+v, want 10 queries, %d errors, 3 workers", r.Shape, cfg.Targets[i].Name, st, wantErrs)
			}
			if wantErrs == 0 && (st.Mean <= 0 || st.P50 > st.P99 || st.P99 > st.Max) {
				t.Errorf("%s on %s: latencies %+v out of order", r.Shape, st.Target, st)
			}
		}
		wantMismatch := r.Shape != "single-groupby-1-1-1"
		if (r.Mismatch != "") != wantMismatch {
			t.Errorf("%s: mismatch %q, want one: %v", r.Shape, r.Mismatch, wantMismatch)
		}
	}

	mix, err := qb.RunMix(context.Background(), []loadgen.QueryShape{shapes[0], shapes[2]})
	if err != nil {
		t.Fatal(err)
	}
	if len(mix) != 2 || mix[0].Single.Workers != 1 || mix[0].Concurrent.Workers != 3 || mix[0].Single.Queries != 20 || mix[0].P99Ratio() <= 0 {
		t.Errorf("mix = %+v, want 1 then 3 clients, 20 queries each, a ratio", mix)
	}
	if s := mix[0].Shapes; len(s) != 2 || s[0].Shape != "single-groupby-1-1-1" || s[1].Shape != "lastpoint" ||
		s[0].Single.Queries != 10 || s[1].Concurrent.Queries != 10 || s[0].P99Ratio() <= 0 {
		t.Errorf("mix by type = %+v, want single-groupby-1-1-1 and lastpoint, 10 queries each", s)
	}
}

func TestQueryConfigValidate(t *testing.T) {
	good := loadgen.QueryConfig{Targets: []loadgen.QueryTarget{{Name: "a", URL: "http://127.0.0.1:1"}}, Database: "d",
		Workers: 1, Queries: 1, Timeout: time.Second, Space: testSpace}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mut := range map[string]func(*loadgen.QueryConfig){
		"no target":  func(c *loadgen.QueryConfig) { c.Targets = nil },
		"relative":   func(c *loadgen.QueryConfig) { c.Targets = []loadgen.QueryTarget{{Name: "a", URL: "localhost"}} },
		"no db":      func(c *loadgen.QueryConfig) { c.Database = "" },
		"0 workers":  func(c *loadgen.QueryConfig) { c.Workers = 0 },
		"0 queries":  func(c *loadgen.QueryConfig) { c.Queries = 0 },
		"no timeout": func(c *loadgen.QueryConfig) { c.Timeout = 0 },
		"empty span": func(c *loadgen.QueryConfig) { c.Space.End = c.Space.Start },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); !errors.Is(err, loadgen.ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}
