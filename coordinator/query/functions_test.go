package query_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator/query"
)

type refPoint struct {
	t    int64
	v    float64
	n    int64
	host string
}

// randomData returns cpu points for three hosts over three hours at
// random seconds, and the same points as line protocol.
func randomData(seed uint64) ([]refPoint, string) {
	r := rand.New(rand.NewPCG(seed, 7))
	base := testNow.Add(-6 * time.Hour).UnixNano()
	var pts []refPoint
	var sb strings.Builder
	for h := range 3 {
		seen := map[int64]bool{}
		for range 400 {
			t := base + int64(r.IntN(3*3600))*int64(time.Second)
			if seen[t] {
				continue
			}
			seen[t] = true
			p := refPoint{t: t, v: math.Round(r.Float64()*10000) / 100, n: int64(r.IntN(50)), host: fmt.Sprintf("h%d", h)}
			pts = append(pts, p)
			fmt.Fprintf(&sb, "cpu,host=%s v=%v,n=%di %d\n", p.host, p.v, p.n, p.t)
		}
	}
	return pts, sb.String()
}

// reference computes fn over values by brute force (independently of the
// executor's code); ok is false for an empty or undefined answer.
func reference(fn string, vals []float64) (float64, bool) {
	if len(vals) == 0 {
		if fn == "count" {
			return 0, true
		}
		return 0, false
	}
	s := slices.Clone(vals)
	sorted := slices.Clone(vals)
	sort.Float64s(sorted)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	switch fn {
	case "count":
		return float64(len(s)), true
	case "sum":
		return sum, true
	case "mean":
		return sum / float64(len(s)), true
	case "min":
		return sorted[0], true
	case "max":
		return sorted[len(sorted)-1], true
	case "first":
		return s[0], true
	case "last":
		return s[len(s)-1], true
	case "spread":
		return sorted[len(sorted)-1] - sorted[0], true
	case "median":
		if len(sorted)%2 == 1 {
			return sorted[len(sorted)/2], true
		}
		return (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2, true
	case "stddev":
		if len(s) < 2 {
			return 0, false
		}
		m := sum / float64(len(s))
		ss := 0.0
		for _, v := range s {
			ss += (v - m) * (v - m)
		}
		return math.Sqrt(ss / float64(len(s)-1)), true
	case "percentile":
		// Nearest rank, 90th percentile.
		i := int(math.Floor(float64(len(sorted))*0.9+0.5)) - 1
		if i < 0 {
			return 0, false
		}
		return sorted[i], true
	}
	panic("BUG: no reference for " + fn)
}

func closeEnough(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// TestAggregatesAgainstBruteForce runs every aggregate with GROUP BY time
// (with and without offset, per host and across hosts) through the
// pushdown path and the raw-point path and compares each window with a
// brute-force answer.
func TestAggregatesAgainstBruteForce(t *testing.T) {
	pts, lines := randomData(1)
	e, st := newExec(t, query.NewConfig(), lines)
	base := testNow.Add(-6 * time.Hour).UnixNano()
	lo, hi := base+int64(17*time.Minute), base+int64(163*time.Minute)
	every := int64(10 * time.Minute)
	funcs := []string{"count", "sum", "mean", "min", "max", "first", "last", "median", "spread", "stddev", "percentile"}
	for _, field := range []string{"v", "n"} {
		for _, fn := range funcs {
			for _, offset := range []int64{0, int64(3 * time.Minute)} {
				for _, byHost := range []bool{false, true} {
					for _, forceRaw := range []bool{false, true} {
						name := fmt.Sprintf("%s(%s)/offset=%d/byHost=%v/raw=%v", fn, field, offset, byHost, forceRaw)
						t.Run(name, func(t *testing.T) {
							call := fmt.Sprintf("%s(%s)", fn, field)
							if fn == "percentile" {
								call = fmt.Sprintf("percentile(%s, 90)", field)
							}
							where := fmt.Sprintf("time >= %d AND time < %d", lo, hi)
							if forceRaw {
								where += " AND v > -1"
							}
							group := fmt.Sprintf("time(10m, %dns)", offset)
							if byHost {
								group += ", host"
							}
							q := fmt.Sprintf("SELECT %s FROM cpu WHERE %s GROUP BY %s", call, where, group)
							before := len(st.ScanRequests())
							res := exec(t, e, q)
							if res[0].Err != nil {
								t.Fatalf("%s: got error %v, want nil", q, res[0].Err)
							}
							reqs := st.ScanRequests()[before:]
							pushable := strings.Contains("count sum mean min max first last", fn) && !forceRaw
							if got := reqs[0].Window != nil; got != pushable {
								t.Errorf("%s: window pushdown = %v, want %v", q, got, pushable)
							}
							checkWindows(t, q, res[0].Series, pts, fn, field, byHost, lo, hi, every, offset)
						})
					}
				}
			}
		}
	}
}

func checkWindows(t *testing.T, q string, rows []*query.Row, pts []refPoint, fn, field string, byHost bool, lo, hi, every, offset int64) {
	t.Helper()
	groups := []string{""}
	if byHost {
		groups = []string{"h0", "h1", "h2"}
	}
	if len(rows) != len(groups) {
		t.Fatalf("%s: got %d series, want %d", q, len(rows), len(groups))
	}
	start := func(ts int64) int64 { m := ((ts-offset)%every + every) % every; return ts - m }
	for gi, g := range groups {
		row := rows[gi]
		if byHost && row.Tags["host"] != g {
			t.Fatalf("%s: series %d has host %q, want %q", q, gi, row.Tags["host"], g)
		}
		var windows []int64
		for w := start(lo); w <= start(hi-1); w += every {
			windows = append(windows, w)
		}
		if len(row.Values) != len(windows) {
			t.Fatalf("%s: series %q got %d windows, want %d", q, g, len(row.Values), len(windows))
		}
		for wi, w := range windows {
			var in []refPoint
			for _, p := range pts {
				if (g == "" || p.host == g) && p.t >= lo && p.t < hi && start(p.t) == w {
					in = append(in, p)
				}
			}
			sort.SliceStable(in, func(i, j int) bool { return in[i].t < in[j].t })
			vals := make([]float64, len(in))
			for i, p := range in {
				vals[i] = p.v
				if field == "n" {
					vals[i] = float64(p.n)
				}
			}
			want, ok := reference(fn, vals)
			gotT, gotV := row.Values[wi][0], row.Values[wi][1]
			if gotT != w {
				t.Errorf("%s: window %d time got %v, want %d", q, wi, gotT, w)
			}
			if (fn == "first" || fn == "last") && g == "" && len(in) > 1 {
				// Several hosts may share the first/last timestamp; accept
				// any of their values.
				if !tiedValue(in, fn, field, gotV) {
					t.Errorf("%s: window %d got %v, not the %s value", q, wi, gotV, fn)
				}
				continue
			}
			if !ok {
				if gotV != nil {
					t.Errorf("%s: window %d got %v, want null", q, wi, gotV)
				}
				continue
			}
			f, isNum := anyToFloat(gotV)
			if !isNum || !closeEnough(f, want) {
				t.Errorf("%s: window %d got %v, want %v", q, wi, gotV, want)
			}
		}
	}
}

func tiedValue(in []refPoint, fn, field string, got any) bool {
	ts := in[0].t
	if fn == "last" {
		ts = in[len(in)-1].t
	}
	f, _ := anyToFloat(got)
	for _, p := range in {
		v := p.v
		if field == "n" {
			v = float64(p.n)
		}
		if p.t == ts && closeEnough(v, f) {
			return true
		}
	}
	return false
}

func anyToFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	}
	return 0, false
}
