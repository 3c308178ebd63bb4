package query

import (
	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// MatchTags reports whether a series with tags satisfies cond, a
// condition on tags only as Storage receives it (nil matches everything).
// A missing tag compares as the empty string, as in InfluxDB. Storage
// implementations may use it to filter series.
func MatchTags(cond influxql.Expr, tags models.Tags) bool {
	if cond == nil {
		return true
	}
	ev := influxql.ValuerEval{Valuer: tagValuer(tags)}
	return ev.EvalBool(cond)
}

// tagValuer evaluates tag references against a series' tags.
type tagValuer models.Tags

// Value returns a tag's value, "" when the series lacks it.
func (t tagValuer) Value(key string) (any, bool) {
	if v := models.Tags(t).Get([]byte(key)); v != nil {
		return string(v), true
	}
	return "", true
}

// varRefs returns the references in expr.
func varRefs(expr influxql.Expr) []*influxql.VarRef {
	var refs []*influxql.VarRef
	influxql.WalkFunc(expr, func(n influxql.Node) {
		if r, ok := n.(*influxql.VarRef); ok {
			refs = append(refs, r)
		}
	})
	return refs
}

// splitCondition separates the part of cond that Storage can apply (tags
// only) from whether a per-point evaluation is still needed. isField says
// how a reference resolves. The tag part is cond itself when it is tag
// only, else the tag-only conjuncts of its top-level ANDs.
func splitCondition(cond influxql.Expr, isField func(*influxql.VarRef) bool) (tagCond influxql.Expr, needsPoints bool) {
	if cond == nil {
		return nil, false
	}
	if tagOnly(cond, isField) {
		return cond, false
	}
	var conj []influxql.Expr
	var walk func(e influxql.Expr)
	walk = func(e influxql.Expr) {
		switch x := e.(type) {
		case *influxql.ParenExpr:
			walk(x.Expr)
			return
		case *influxql.BinaryExpr:
			if x.Op == influxql.AND {
				walk(x.LHS)
				walk(x.RHS)
				return
			}
		}
		if tagOnly(e, isField) {
			conj = append(conj, e)
		}
	}
	walk(cond)
	for _, c := range conj {
		if tagCond == nil {
			tagCond = c
		} else {
			tagCond = &influxql.BinaryExpr{Op: influxql.AND, LHS: tagCond, RHS: c}
		}
	}
	return tagCond, true
}

func tagOnly(e influxql.Expr, isField func(*influxql.VarRef) bool) bool {
	for _, r := range varRefs(e) {
		if isField(r) {
			return false
		}
	}
	return true
}
