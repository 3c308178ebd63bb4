package query

import (
	"sort"
	"strings"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// auxRow is one aligned row of a series, kept whole so a selector can
// report the other fields and tags of the point it picks.
type auxRow struct {
	t    int64
	vals []models.Value
	tags models.Tags
}

// auxRows answers a lone selector with auxiliary fields and tags
// (SELECT max(x), host, y …): per window, the selected point's row.
func (p *plan) auxRows(g *group, limit int64) ([][]any, error) {
	c := p.exprs[p.aux].(*influxql.Call)
	f := fieldOf(c)
	if f < 0 {
		return nil, nil
	}
	var rows []auxRow
	v := &pointValuer{}
	ev := influxql.ValuerEval{Valuer: v, IntegerFloatDivision: true}
	for _, s := range g.series {
		v.tags = s.tags
		align(s.cols, func(t int64, vals []models.Value) {
			if vals[f].Type == models.FieldTypeUnknown {
				return
			}
			v.vals = vals
			if p.needsPts && !p.filtered && !ev.EvalBool(p.cond) {
				return
			}
			rows = append(rows, auxRow{t: t, vals: append([]models.Value(nil), vals...), tags: s.tags})
		})
	}
	if len(rows) == 0 {
		return nil, nil
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].t < rows[j].t })
	starts, err := p.windowStarts(rows[0].t, limit, func() []int64 {
		times := make([]int64, len(rows))
		for i, r := range rows {
			times[i] = r.t
		}
		return p.startsOf(times)
	})
	if err != nil {
		return nil, err
	}
	cols := make([][]tv, len(p.exprs))
	fillable := make([]bool, len(p.exprs))
	fillable[p.aux] = true
	pts := make([]Point, 0, len(rows))
	j := 0
	for w, start := range starts {
		end := len(rows)
		if p.interval > 0 && w+1 < len(starts) {
			end = sort.Search(len(rows), func(i int) bool { return rows[i].t >= starts[w+1] })
		}
		in := rows[j:end]
		j = end
		pts = pts[:0]
		for _, r := range in {
			pts = append(pts, Point{Time: r.t, Value: r.vals[f]})
		}
		k := selectIndex(c, pts)
		t := start
		if k >= 0 && p.interval == 0 {
			t = in[k].t
		}
		for i, e := range p.exprs {
			var x any
			switch {
			case k < 0:
			case i == p.aux:
				x = toAny(in[k].vals[f])
			default:
				var isTag bool
				if x, isTag = tagColumn(e, in[k].tags); !isTag {
					v.vals, v.tags = in[k].vals, in[k].tags
					x = ev.Eval(e)
				}
			}
			cols[i] = append(cols[i], tv{t, x})
		}
	}
	return p.fill(join(cols), fillable), nil
}

// selectIndex returns the index of the point a selector picks, or -1.
func selectIndex(c *influxql.Call, pts []Point) int {
	if len(pts) == 0 {
		return -1
	}
	switch c.Name {
	case "first":
		best := 0
		for i := 1; i < len(pts) && pts[i].Time == pts[0].Time; i++ {
			if tieWins(c.Name, pts[i].Value, pts[best].Value) {
				best = i
			}
		}
		return best
	case "last":
		best := len(pts) - 1
		for i := best - 1; i >= 0 && pts[i].Time == pts[len(pts)-1].Time; i-- {
			if tieWins(c.Name, pts[i].Value, pts[best].Value) {
				best = i
			}
		}
		return best
	case "min", "max":
		best := 0
		for i := 1; i < len(pts); i++ {
			if (c.Name == "min" && less(pts[i].Value, pts[best].Value)) ||
				(c.Name == "max" && less(pts[best].Value, pts[i].Value)) {
				best = i
			}
		}
		return best
	case "percentile":
		idx := make([]int, len(pts))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return less(pts[idx[a]].Value, pts[idx[b]].Value) })
		pct, _ := numberArg(c, 1)
		i := int(float64(len(idx))*pct/100+0.5) - 1
		if i < 0 || i >= len(idx) {
			return -1
		}
		return idx[i]
	}
	return -1
}

// tieWins reports whether candidate beats current for first() or last()
// when both points (of different series) have the winning time. InfluxDB
// 1.8 keeps the greater value, except that first() prefers false to true
// (query/call_iterator.go: FloatFirstReduce … BooleanLastReduce).
func tieWins(name string, candidate, current models.Value) bool {
	if name == "first" && candidate.Type == models.FieldTypeBoolean && current.Type == models.FieldTypeBoolean {
		return less(candidate, current)
	}
	return less(current, candidate)
}

// topTags returns the tag arguments of a top() or bottom() with tags
// (top(x, host, 3): the best value of each host, then the best 3), or nil.
func (p *plan) topTags() []string {
	if len(p.exprs) != 1 {
		return nil
	}
	c, ok := p.exprs[0].(*influxql.Call)
	if !ok || (c.Name != "top" && c.Name != "bottom") || len(c.Args) <= 2 {
		return nil
	}
	tags := make([]string, 0, len(c.Args)-2)
	for _, a := range c.Args[1 : len(c.Args)-1] {
		if r, ok := a.(*influxql.VarRef); ok {
			if _, tag, isField := parseRef(r.Val); !isField {
				tags = append(tags, tag)
			}
		}
	}
	return tags
}

// topTagRows answers top/bottom with tag arguments: per window, the best
// point of each distinct tag combination, then the best n of those,
// ordered by time, with the tag values as extra columns.
func (p *plan) topTagRows(g *group, limit int64) ([][]any, error) {
	c := p.exprs[0].(*influxql.Call)
	tags := p.topTags()
	f := fieldOf(c)
	nArg := c.Args[len(c.Args)-1].(*influxql.IntegerLiteral).Val
	if f < 0 {
		return nil, nil
	}
	type cand struct {
		t    int64
		v    models.Value
		tags []string
	}
	var rows []cand
	for _, s := range g.series {
		vals := make([]string, len(tags))
		for i, k := range tags {
			vals[i] = string(s.tags.Get([]byte(k)))
		}
		for _, pt := range s.cols[f] {
			rows = append(rows, cand{pt.Time, pt.Value, vals})
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].t < rows[j].t })
	starts, err := p.windowStarts(rows[0].t, limit, func() []int64 {
		times := make([]int64, len(rows))
		for i, r := range rows {
			times[i] = r.t
		}
		return p.startsOf(times)
	})
	if err != nil {
		return nil, err
	}
	better := func(a, b cand) bool { // a beats b
		if c.Name == "top" {
			return less(b.v, a.v)
		}
		return less(a.v, b.v)
	}
	var out [][]any
	j := 0
	for w := range starts {
		end := len(rows)
		if p.interval > 0 && w+1 < len(starts) {
			end = sort.Search(len(rows), func(i int) bool { return rows[i].t >= starts[w+1] })
		}
		best := map[string]int{}
		var order []string
		for i := j; i < end; i++ {
			k := strings.Join(rows[i].tags, "\x00")
			b, seen := best[k]
			if !seen {
				order = append(order, k)
				best[k] = i
			} else if better(rows[i], rows[b]) {
				best[k] = i
			}
		}
		j = end
		picked := make([]cand, 0, len(order))
		for _, k := range order {
			picked = append(picked, rows[best[k]])
		}
		sort.SliceStable(picked, func(a, b int) bool { return better(picked[a], picked[b]) })
		picked = picked[:min(int(nArg), len(picked))]
		sort.SliceStable(picked, func(a, b int) bool { return picked[a].t < picked[b].t })
		for _, x := range picked {
			row := make([]any, 0, 2+len(tags))
			row = append(row, x.t, toAny(x.v))
			for _, v := range x.tags {
				row = append(row, v)
			}
			out = append(out, row)
		}
	}
	return out, nil
}
