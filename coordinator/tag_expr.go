package coordinator

import (
	"errors"
	"fmt"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/index"
)

// ErrInvalidCondition means a query condition is not a condition on tags
// that the read path can evaluate (a field or time comparison, a number
// compared with a tag, an unsupported operator).
var ErrInvalidCondition = errors.New("invalid tag condition")

// matchNothing is a predicate no series satisfies: the index matches
// nothing for a regex comparison without a regex (see index.MatchSeries).
var matchNothing index.TagExpr = index.TagMatch{Op: index.RegexMatch}

// TagExprFromCondition converts an InfluxQL condition on tags into the
// index's predicate. It understands =, !=, =~ and !~ between a tag (a
// VarRef, on either side) and a string or regex literal, AND, OR,
// parentheses and boolean literals. A nil cond gives a nil TagExpr, which
// matches every series. As in InfluxDB, a series without the tag has the
// empty value, so != and !~ match it. Anything else is an error wrapping
// ErrInvalidCondition.
func TagExprFromCondition(cond influxql.Expr) (index.TagExpr, error) {
	e, all, err := convertTagExpr(cond)
	if err != nil {
		return nil, err
	}
	if all {
		return nil, nil
	}
	return e, nil
}

// convertTagExpr returns the predicate of cond, or all=true when cond
// matches every series (nil, TRUE, or an OR with such a side).
func convertTagExpr(cond influxql.Expr) (e index.TagExpr, all bool, err error) {
	switch c := cond.(type) {
	case nil:
		return nil, true, nil
	case *influxql.ParenExpr:
		return convertTagExpr(c.Expr)
	case *influxql.BooleanLiteral:
		if c.Val {
			return nil, true, nil
		}
		return matchNothing, false, nil
	case *influxql.BinaryExpr:
		switch c.Op {
		case influxql.AND, influxql.OR:
			l, lall, err := convertTagExpr(c.LHS)
			if err != nil {
				return nil, false, err
			}
			r, rall, err := convertTagExpr(c.RHS)
			if err != nil {
				return nil, false, err
			}
			if c.Op == influxql.AND {
				switch {
				case lall:
					return r, rall, nil
				case rall:
					return l, false, nil
				}
				return index.And{L: l, R: r}, false, nil
			}
			if lall || rall {
				return nil, true, nil
			}
			return index.Or{L: l, R: r}, false, nil
		case influxql.EQ, influxql.NEQ, influxql.EQREGEX, influxql.NEQREGEX:
			m, err := convertComparison(c)
			if err != nil {
				return nil, false, err
			}
			return m, false, nil
		}
		return nil, false, fmt.Errorf("operator %s in %q: %w", c.Op, c.String(), ErrInvalidCondition)
	}
	return nil, false, fmt.Errorf("expression %q: %w", cond.String(), ErrInvalidCondition)
}

// convertComparison converts `tag op literal` (or `literal op tag`).
func convertComparison(c *influxql.BinaryExpr) (index.TagExpr, error) {
	ref, lit := c.LHS, c.RHS
	if _, ok := ref.(*influxql.VarRef); !ok {
		ref, lit = lit, ref
	}
	vr, ok := ref.(*influxql.VarRef)
	if !ok {
		return nil, fmt.Errorf("comparison %q has no tag key: %w", c.String(), ErrInvalidCondition)
	}
	if vr.Type != influxql.Unknown && vr.Type != influxql.Tag {
		return nil, fmt.Errorf("comparison %q is not on a tag: %w", c.String(), ErrInvalidCondition)
	}
	regex := c.Op == influxql.EQREGEX || c.Op == influxql.NEQREGEX
	switch l := lit.(type) {
	case *influxql.StringLiteral:
		if regex {
			return nil, fmt.Errorf("comparison %q: %s needs a regex: %w", c.String(), c.Op, ErrInvalidCondition)
		}
		op := index.Equal
		if c.Op == influxql.NEQ {
			op = index.NotEqual
		}
		return index.TagMatch{Key: vr.Val, Op: op, Value: l.Val}, nil
	case *influxql.RegexLiteral:
		if !regex || l.Val == nil {
			return nil, fmt.Errorf("comparison %q: %s needs a string: %w", c.String(), c.Op, ErrInvalidCondition)
		}
		op := index.RegexMatch
		if c.Op == influxql.NEQREGEX {
			op = index.RegexNotMatch
		}
		return index.TagMatch{Key: vr.Val, Op: op, Regex: l.Val}, nil
	}
	return nil, fmt.Errorf("comparison %q: a tag compares only with a string or a regex: %w", c.String(), ErrInvalidCondition)
}
