package query

import (
	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// fieldPredicate is a compiled condition over one row's field values and
// its series' tags.
type fieldPredicate func(vals []models.Value, tags models.Tags) bool

// compileFieldPredicate compiles the conditions raw queries usually carry —
// comparisons of a field with a number (`usage_user > 90`) and of a tag
// with a string or regex (`host = 'a'`, `host =~ /a/`), joined by AND and
// OR — into direct comparisons, so a scan does not resolve and box every
// value through influxql's evaluator. ok is false for any other condition,
// which then goes through the evaluator. The compiled form answers exactly
// as the evaluator does: a row lacking the field, or holding a string or
// boolean there, does not match a numeric comparison; a missing tag reads
// as "".
func compileFieldPredicate(cond influxql.Expr) (fieldPredicate, bool) {
	return compilePredicate(cond, func(r *influxql.VarRef) (int, string, bool) { return parseRef(r.Val) })
}

// refResolver says what a reference of a condition reads: the index of a
// field in the row's values (isField), or the name of a tag.
type refResolver func(*influxql.VarRef) (field int, tag string, isField bool)

// RowFilter is a compiled ScanRequest.Filter.
type RowFilter struct {
	// Pass says whether the row with the values vals (one per field of
	// the request, Type 0 where the row has none) of the series with tags
	// passes.
	Pass func(vals []models.Value, tags models.Tags) bool
	// Reads marks the fields (by index in the request's) Pass looks at;
	// the others do not change its answer.
	Reads []bool
}

// CompileRowFilter compiles a ScanRequest.Filter over the request's
// fields. ok is false when the filter has a form the compiled predicates
// do not cover; a storage then ignores it (the executor applies the
// condition to every row it gets anyway).
func CompileRowFilter(filter influxql.Expr, fields []string) (RowFilter, bool) {
	idx := make(map[string]int, len(fields))
	for i, f := range fields {
		idx[f] = i
	}
	reads := make([]bool, len(fields))
	pred, ok := compilePredicate(filter, func(r *influxql.VarRef) (int, string, bool) {
		if r.Type != influxql.Tag {
			if i, ok := idx[r.Val]; ok {
				reads[i] = true
				return i, "", true
			}
		}
		return -1, r.Val, false
	})
	return RowFilter{Pass: pred, Reads: reads}, ok
}

// compilePredicate is compileFieldPredicate with references resolved by
// ref.
func compilePredicate(cond influxql.Expr, ref refResolver) (fieldPredicate, bool) {
	switch e := cond.(type) {
	case *influxql.ParenExpr:
		return compilePredicate(e.Expr, ref)
	case *influxql.BinaryExpr:
		switch e.Op {
		case influxql.AND, influxql.OR:
			l, ok := compilePredicate(e.LHS, ref)
			if !ok {
				return nil, false
			}
			r, ok := compilePredicate(e.RHS, ref)
			if !ok {
				return nil, false
			}
			if e.Op == influxql.AND {
				return func(v []models.Value, t models.Tags) bool { return l(v, t) && r(v, t) }, true
			}
			return func(v []models.Value, t models.Tags) bool { return l(v, t) || r(v, t) }, true
		case influxql.GT, influxql.GTE, influxql.LT, influxql.LTE:
			return compileComparison(e, ref)
		case influxql.EQ, influxql.NEQ, influxql.EQREGEX, influxql.NEQREGEX:
			return compileTagMatch(e, ref)
		}
	}
	return nil, false
}

// compileComparison compiles `field op number` or `number op field`.
func compileComparison(e *influxql.BinaryExpr, resolve refResolver) (fieldPredicate, bool) {
	op := e.Op
	ref, lit := e.LHS, e.RHS
	if _, isRef := ref.(*influxql.VarRef); !isRef {
		ref, lit = lit, ref
		op = mirror(op)
	}
	r, ok := ref.(*influxql.VarRef)
	if !ok {
		return nil, false
	}
	i, _, isField := resolve(r)
	if !isField || i < 0 {
		return nil, false
	}
	var n float64
	switch l := lit.(type) {
	case *influxql.NumberLiteral:
		n = l.Val
	case *influxql.IntegerLiteral:
		n = float64(l.Val)
	default:
		return nil, false
	}
	return func(vals []models.Value, _ models.Tags) bool {
		if i >= len(vals) {
			return false
		}
		var x float64
		switch v := vals[i]; v.Type {
		case models.FieldTypeFloat:
			x = v.Float()
		case models.FieldTypeInteger:
			x = float64(v.Integer())
		case models.FieldTypeUnsigned:
			x = float64(v.Unsigned())
		default:
			return false
		}
		switch op {
		case influxql.GT:
			return x > n
		case influxql.GTE:
			return x >= n
		case influxql.LT:
			return x < n
		default:
			return x <= n
		}
	}, true
}

// mirror swaps an ordered comparison's sides: a < b is b > a.
func mirror(op influxql.Token) influxql.Token {
	switch op {
	case influxql.GT:
		return influxql.LT
	case influxql.GTE:
		return influxql.LTE
	case influxql.LT:
		return influxql.GT
	case influxql.LTE:
		return influxql.GTE
	}
	return op
}

// compileTagMatch compiles `tag = 'v'`, `tag != 'v'`, `tag =~ /re/` and
// `tag !~ /re/` (the tag on either side).
func compileTagMatch(e *influxql.BinaryExpr, resolve refResolver) (fieldPredicate, bool) {
	ref, lit := e.LHS, e.RHS
	if _, isRef := ref.(*influxql.VarRef); !isRef {
		ref, lit = lit, ref
	}
	r, ok := ref.(*influxql.VarRef)
	if !ok {
		return nil, false
	}
	_, tag, isField := resolve(r)
	if isField {
		return nil, false
	}
	key := []byte(tag)
	switch l := lit.(type) {
	case *influxql.StringLiteral:
		want, neq := l.Val, e.Op == influxql.NEQ
		if e.Op != influxql.EQ && !neq {
			return nil, false
		}
		return func(_ []models.Value, tags models.Tags) bool { return (string(tags.Get(key)) == want) != neq }, true
	case *influxql.RegexLiteral:
		re, neq := l.Val, e.Op == influxql.NEQREGEX
		if e.Op != influxql.EQREGEX && !neq {
			return nil, false
		}
		return func(_ []models.Value, tags models.Tags) bool { return re.Match(tags.Get(key)) != neq }, true
	}
	return nil, false
}
