package query

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// TestCompiledPredicateMatchesEvaluator compares the compiled field
// predicate with influxql's evaluator on random rows for a table of
// conditions (fields are referenced as the planner encodes them).
func TestCompiledPredicateMatchesEvaluator(t *testing.T) {
	// Conditions name the fields a and b; parse rewrites them into the
	// planner's encoded references.
	f0, f1 := "a", "b"
	parse := func(c string) influxql.Expr {
		t.Helper()
		expr, err := influxql.ParseExpr(c)
		if err != nil {
			t.Fatalf("parse %q: %v", c, err)
		}
		influxql.WalkFunc(expr, func(n influxql.Node) {
			if r, ok := n.(*influxql.VarRef); ok {
				switch r.Val {
				case "a", "b":
					r.Val = fieldRef(int(r.Val[0] - 'a'))
				default:
					r.Val = tagRef(r.Val)
				}
			}
		})
		return expr
	}
	conds := []string{
		f0 + ` > 90`, f0 + ` >= 90.5`, f0 + ` < -3`, f0 + ` <= 0`, `90 < ` + f0, `2.5 >= ` + f1,
		`(` + f0 + ` > 10 AND ` + f1 + ` < 5)`, f0 + ` > 95 OR ` + f1 + ` <= -95`,
		`(` + f0 + ` > 1 OR ` + f1 + ` > 1) AND ` + f0 + ` < 50`,
		f0 + ` > 0 AND host = 'h1'`, `'h1' = host OR ` + f1 + ` < 0`, `host != 'h1'`, `dc = ''`,
		`host =~ /h[12]/ AND ` + f0 + ` < 0`, `host !~ /^h1$/`, `dc !~ /x/`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := []string{"h1", "h2", "h3"}
	randValue := func() models.Value {
		switch rng.IntN(6) {
		case 0:
			return models.Value{}
		case 1:
			return models.IntegerValue(rng.Int64N(201) - 100)
		case 2:
			return models.UnsignedValue(rng.Uint64N(200))
		case 3:
			return models.StringValue([]byte("s"))
		case 4:
			return models.BooleanValue(rng.IntN(2) == 0)
		}
		return models.FloatValue(rng.Float64()*200 - 100)
	}
	for _, c := range conds {
		expr := parse(c)
		pred, ok := compileFieldPredicate(expr)
		if !ok {
			t.Fatalf("%q did not compile", c)
		}
		var v pointValuer
		ev := influxql.ValuerEval{Valuer: mathValuer{&v}, IntegerFloatDivision: true}
		for range 2000 {
			v.vals = []models.Value{randValue(), randValue()}
			v.tags = models.Tags{{Key: []byte("host"), Value: []byte(hosts[rng.IntN(3)])}}
			if got, want := pred(v.vals, v.tags), ev.EvalBool(expr); got != want {
				t.Fatalf("%s on %v %s: compiled %v, evaluator %v", c, fmt.Sprint(v.vals), v.tags, got, want)
			}
		}
	}
	for _, c := range []string{f0 + ` = 1`, f0 + ` != 1`, f0 + ` = 'x'`, f0 + ` + 1 > 2`, f0 + ` > ` + f1, `host > 'a'`} {
		if _, ok := compileFieldPredicate(parse(c)); ok {
			t.Errorf("%q compiled; it must go through the evaluator", c)
		}
	}
}
