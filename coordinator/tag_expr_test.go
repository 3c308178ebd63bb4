package coordinator_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/tsdb/index"
)

// describe renders a TagExpr for comparison.
func describe(e index.TagExpr) string {
	switch x := e.(type) {
	case nil:
		return "ALL"
	case index.TagMatch:
		ops := [...]string{"=", "!=", "=~", "!~"}
		if x.Regex != nil {
			return fmt.Sprintf("%s%s/%s/", x.Key, ops[x.Op], x.Regex)
		}
		if x.Key == "" && x.Op == index.RegexMatch {
			return "NONE"
		}
		return fmt.Sprintf("%s%s%q", x.Key, ops[x.Op], x.Value)
	case index.And:
		return "(" + describe(x.L) + " AND " + describe(x.R) + ")"
	case index.Or:
		return "(" + describe(x.L) + " OR " + describe(x.R) + ")"
	}
	return fmt.Sprintf("?%T", e)
}

func TestTagExprFromCondition(t *testing.T) {
	tests := []struct {
		cond string
		want string
	}{
		{"", "ALL"},
		{"host = 'a'", `host="a"`},
		{"'a' = host", `host="a"`},
		{"host != 'a'", `host!="a"`},
		{"host =~ /^a.*/", "host=~/^a.*/"},
		{"host !~ /b/", "host!~/b/"},
		{"host::tag = 'a'", `host="a"`},
		{"host = 'a' AND region = 'eu'", `(host="a" AND region="eu")`},
		{"(host = 'a' OR host = 'b') AND region != 'eu'", `((host="a" OR host="b") AND region!="eu")`},
		{"host = 'a' OR (region = 'eu' AND dc =~ /x/)", `(host="a" OR (region="eu" AND dc=~/x/))`},
		{"true", "ALL"},
		{"false", "NONE"},
		{"true AND host = 'a'", `host="a"`},
		{"host = 'a' AND true", `host="a"`},
		{"host = 'a' OR true", "ALL"},
		{"((host = ''))", `host=""`},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			var cond influxql.Expr
			if tc.cond != "" {
				var err error
				if cond, err = influxql.ParseExpr(tc.cond); err != nil {
					t.Fatalf("parse %q: %v", tc.cond, err)
				}
			}
			got, err := coordinator.TagExprFromCondition(cond)
			if err != nil {
				t.Fatalf("TagExprFromCondition(%q): got error %v, want %s", tc.cond, err, tc.want)
			}
			if d := describe(got); d != tc.want {
				t.Fatalf("TagExprFromCondition(%q) = %s, want %s", tc.cond, d, tc.want)
			}
		})
	}
}

func TestTagExprFromConditionRejects(t *testing.T) {
	for _, cond := range []string{
		"host = 1",
		"value > 1",
		"time > now() - 1h",
		"host = region",
		"value::field = 'a'",
		"'a' = 'b'",
		"host",
	} {
		t.Run(cond, func(t *testing.T) {
			e, err := influxql.ParseExpr(cond)
			if err != nil {
				t.Fatalf("parse %q: %v", cond, err)
			}
			got, err := coordinator.TagExprFromCondition(e)
			if !errors.Is(err, coordinator.ErrInvalidCondition) {
				t.Fatalf("TagExprFromCondition(%q) = %s, %v; want an error wrapping ErrInvalidCondition", cond, describe(got), err)
			}
		})
	}
}

func TestTagExprFromConditionRejectsMismatchedLiterals(t *testing.T) {
	host := &influxql.VarRef{Val: "host"}
	for _, e := range []influxql.Expr{
		&influxql.BinaryExpr{Op: influxql.EQREGEX, LHS: host, RHS: &influxql.StringLiteral{Val: "a"}},
		&influxql.BinaryExpr{Op: influxql.EQ, LHS: host, RHS: &influxql.RegexLiteral{Val: regexp.MustCompile("a")}},
		&influxql.BinaryExpr{Op: influxql.NEQREGEX, LHS: host, RHS: &influxql.RegexLiteral{}},
		&influxql.Call{Name: "now"},
	} {
		if _, err := coordinator.TagExprFromCondition(e); !errors.Is(err, coordinator.ErrInvalidCondition) {
			t.Errorf("TagExprFromCondition(%s): got %v, want an error wrapping ErrInvalidCondition", e, err)
		}
	}
}
