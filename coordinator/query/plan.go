package query

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// plan is a SELECT statement resolved against one measurement: which
// fields to read, the select expressions rewritten to refer to them by
// index, and the statement's time range, grouping and windowing.
type plan struct {
	stmt     *influxql.SelectStatement
	src      source
	fields   []string // fields to read, by index
	selected int      // fields[:selected] are the select list's, the rest the condition's
	types    []models.FieldType
	exprs    []influxql.Expr // select expressions, references rewritten
	columns  []string        // output columns, "time" first
	dims     []string        // GROUP BY tags
	cond     influxql.Expr   // rewritten condition for per-point evaluation
	tagCond  influxql.Expr   // condition pushed to Storage
	needsPts bool            // cond must be evaluated per point
	filtered bool            // cond was applied during the scan
	agg      bool            // aggregate query (otherwise raw)
	aux      int             // index of a selector with auxiliary fields, or -1
	min, max int64
	// shown is the first window the answer shows: windows before it
	// were read only for a transformation's first value. lower is then
	// the statement's own lower bound, which the other aggregates keep.
	shown, lower int64
	// inputs are the aggregates that read the windows before shown: the
	// arguments of those transformations.
	inputs map[*influxql.Call]bool
	windowing
	// pointN counts the values the statement read (max-select-point).
	pointN *int64
}

// Encoded references: "\x00f<index>" for a field, "\x00t<name>" for a tag.
func fieldRef(i int) string     { return "\x00f" + strconv.Itoa(i) }
func tagRef(name string) string { return "\x00t" + name }

// parseRef decodes an encoded reference.
func parseRef(key string) (field int, tag string, isField bool) {
	if len(key) < 2 || key[0] != 0 {
		return -1, key, false
	}
	if key[1] == 'f' {
		i, err := strconv.Atoi(key[2:])
		if err != nil {
			return -1, "", false
		}
		return i, "", true
	}
	return -1, key[2:], false
}

// resolver decides whether a name is a field or a tag of one measurement.
type resolver struct {
	types map[string]models.FieldType
	tags  []string
}

// addField records a field key; a field with several types (in different
// shards) takes the one of highest precedence, as InfluxDB 1.8's
// influxql.DataType.LessThan orders them: float, integer, unsigned,
// string, boolean — the order of models.FieldType's values.
func (r *resolver) addField(k FieldKey) {
	if cur, dup := r.types[k.Name]; !dup || (k.Type != models.FieldTypeUnknown && k.Type < cur) {
		r.types[k.Name] = k.Type
	}
}

func (r *resolver) isField(ref *influxql.VarRef) bool {
	switch ref.Type {
	case influxql.Tag:
		return false
	case influxql.AnyField:
		return true
	}
	_, ok := r.types[ref.Val]
	return ok
}

// expandFields replaces wildcards and regexes in the select list, in the
// select expressions and in function arguments (mean(*) → mean_f per
// field), the way InfluxDB does.
func expandFields(fields influxql.Fields, r *resolver, dims []string) (influxql.Fields, error) {
	fieldNames := make([]string, 0, len(r.types))
	for n := range r.types {
		fieldNames = append(fieldNames, n)
	}
	slices.Sort(fieldNames)
	var tagNames []string
	for _, t := range r.tags {
		if !slices.Contains(dims, t) {
			tagNames = append(tagNames, t)
		}
	}
	var out influxql.Fields
	for _, f := range fields {
		switch x := f.Expr.(type) {
		case *influxql.Wildcard:
			var refs []*influxql.VarRef
			if x.Type != influxql.TAG {
				for _, n := range fieldNames {
					refs = append(refs, &influxql.VarRef{Val: n, Type: influxql.AnyField})
				}
			}
			if x.Type != influxql.FIELD {
				for _, n := range tagNames {
					refs = append(refs, &influxql.VarRef{Val: n, Type: influxql.Tag})
				}
			}
			slices.SortStableFunc(refs, func(a, b *influxql.VarRef) int { return strings.Compare(a.Val, b.Val) })
			for _, ref := range refs {
				out = append(out, &influxql.Field{Expr: ref})
			}
		case *influxql.RegexLiteral:
			for _, n := range fieldNames {
				if x.Val.MatchString(n) {
					out = append(out, &influxql.Field{Expr: &influxql.VarRef{Val: n, Type: influxql.AnyField}})
				}
			}
		case *influxql.Call:
			if len(x.Args) == 0 {
				out = append(out, f)
				continue
			}
			var match func(string) bool
			switch a := x.Args[0].(type) {
			case *influxql.Wildcard:
				match = func(string) bool { return true }
			case *influxql.RegexLiteral:
				match = a.Val.MatchString
			}
			if match == nil {
				out = append(out, f)
				continue
			}
			for _, n := range fieldNames {
				if !match(n) || !acceptsType(x.Name, r.types[n]) {
					continue
				}
				args := slices.Clone(x.Args)
				args[0] = &influxql.VarRef{Val: n, Type: influxql.AnyField}
				out = append(out, &influxql.Field{Expr: &influxql.Call{Name: x.Name, Args: args}, Alias: x.Name + "_" + n})
			}
		default:
			out = append(out, f)
		}
	}
	return out, nil
}

// acceptsType reports whether InfluxDB 1.8 runs function name over a
// field of type t: count, first, last, distinct, elapsed, mode and sample
// take every type, min and max numbers and booleans, the rest numbers
// only. mean(*) expands to the fields of those types (influxql's
// SelectStatement.RewriteFields); a named field of another type fails the
// statement (InfluxDB 1.8's query/call_iterator.go, NewMeanIterator and
// friends: "unsupported mean iterator type").
func acceptsType(name string, t models.FieldType) bool {
	switch name {
	case "count", "distinct", "first", "last", "mode", "elapsed", "sample":
		return true
	case "min", "max":
		return isNumeric(t) || t == models.FieldTypeBoolean
	}
	return isNumeric(t)
}

// iteratorNames are the words InfluxDB 1.8's errors name a function's
// iterator by where they differ from the function's name.
var iteratorNames = map[string]string{
	"non_negative_derivative": "derivative",
	"non_negative_difference": "difference",
	"moving_average":          "moving average",
	"cumulative_sum":          "cumulative sum",
}

// checkArgTypes fails a statement that applies a function to a field of
// a type the function does not take (mean of a string field), with
// InfluxDB 1.8's message. A field cast to another type (s::float) reads
// no values of its own type and is not an error.
func checkArgTypes(fields influxql.Fields, r *resolver) error {
	var err error
	for _, f := range fields {
		influxql.WalkFunc(f.Expr, func(n influxql.Node) {
			c, ok := n.(*influxql.Call)
			if !ok || err != nil || len(c.Args) == 0 || isMath(c.Name) {
				return
			}
			ref, ok := c.Args[0].(*influxql.VarRef)
			if !ok || (ref.Type != influxql.Unknown && ref.Type != influxql.AnyField) {
				return
			}
			t, isField := r.types[ref.Val]
			var kind string
			switch t {
			case models.FieldTypeString:
				kind = "string"
			case models.FieldTypeBoolean:
				kind = "boolean"
			}
			if !isField || kind == "" || acceptsType(c.Name, t) {
				return
			}
			name := c.Name
			if n, ok := iteratorNames[name]; ok {
				name = n
			}
			err = invalidf("unsupported %s iterator type: *query.%sInterruptIterator", name, kind)
		})
	}
	return err
}

// rewrite replaces references in expr by encoded references, registering
// the fields it reads.
func (p *plan) rewrite(expr influxql.Expr, r *resolver, fieldIdx map[string]int) influxql.Expr {
	return influxql.RewriteExpr(influxql.CloneExpr(expr), func(e influxql.Expr) influxql.Expr {
		ref, ok := e.(*influxql.VarRef)
		if !ok || ref.Val == "" || ref.Val[0] == 0 {
			return e
		}
		if r.isField(ref) {
			i, ok := fieldIdx[ref.Val]
			if !ok {
				i = len(p.fields)
				fieldIdx[ref.Val] = i
				p.fields = append(p.fields, ref.Val)
				p.types = append(p.types, r.types[ref.Val])
			}
			return &influxql.VarRef{Val: fieldRef(i)}
		}
		return &influxql.VarRef{Val: tagRef(ref.Val)}
	})
}

// namedCondition is p.cond with its encoded references named again, as
// ScanRequest.Filter wants them: fields as influxql.AnyField references,
// tags as influxql.Tag ones.
func (p *plan) namedCondition() influxql.Expr {
	return influxql.RewriteExpr(influxql.CloneExpr(p.cond), func(e influxql.Expr) influxql.Expr {
		ref, ok := e.(*influxql.VarRef)
		if !ok {
			return e
		}
		if i, tag, isField := parseRef(ref.Val); !isField {
			return &influxql.VarRef{Val: tag, Type: influxql.Tag}
		} else if i >= 0 && i < len(p.fields) {
			return &influxql.VarRef{Val: p.fields[i], Type: influxql.AnyField}
		}
		return e
	})
}

// validate applies InfluxDB's compile-time rules the executor relies on.
func validate(s *influxql.SelectStatement, fields influxql.Fields, interval int64) (agg bool, err error) {
	for _, f := range fields {
		if isConstant(f.Expr) {
			return false, invalidf("field must contain at least one variable")
		}
	}
	calls, raw := 0, 0
	for _, f := range fields {
		c, r := countRefs(f.Expr, false)
		calls += c
		raw += r
	}
	if calls > 0 && raw > 0 && auxSelector(fields) < 0 {
		return false, invalidf("mixing aggregate and non-aggregate queries is not supported")
	}
	for _, f := range fields {
		if c, ok := f.Expr.(*influxql.Call); ok && (c.Name == "top" || c.Name == "bottom") && len(c.Args) > 2 && len(fields) > 1 {
			return false, invalidf("selector function %s() cannot be combined with other functions", c.Name)
		}
	}
	if calls == 0 && interval > 0 {
		return false, invalidf("GROUP BY requires at least one aggregate function")
	}
	for _, f := range fields {
		var verr error
		influxql.WalkFunc(f.Expr, func(n influxql.Node) {
			c, ok := n.(*influxql.Call)
			if !ok || verr != nil {
				return
			}
			verr = validateCall(c, interval)
		})
		if verr != nil {
			return false, verr
		}
	}
	return calls > 0, nil
}

// isConstant reports whether expr reads no field or tag and calls nothing
// but math functions: InfluxDB folds such a field to a literal and refuses
// it (1, acos(2), 2 * 3).
func isConstant(expr influxql.Expr) bool {
	constant := true
	influxql.WalkFunc(expr, func(n influxql.Node) {
		switch n := n.(type) {
		case *influxql.VarRef, *influxql.Wildcard, *influxql.RegexLiteral:
			constant = false
		case *influxql.Call:
			if !isMath(n.Name) {
				constant = false
			}
		}
	})
	return constant
}

// auxSelector returns the index of the lone selector of a query that
// selects one point per window together with other fields or tags of
// that point (SELECT max(x), host …), or -1.
func auxSelector(fields influxql.Fields) int {
	sel := -1
	for i, f := range fields {
		switch x := f.Expr.(type) {
		case *influxql.Call:
			if sel >= 0 {
				return -1
			}
			switch x.Name {
			case "min", "max", "first", "last", "percentile":
				sel = i
			default:
				return -1
			}
		case *influxql.VarRef:
		default:
			return -1
		}
	}
	return sel
}

// countRefs counts the calls and the references outside calls in expr.
func countRefs(expr influxql.Expr, inCall bool) (calls, raw int) {
	switch x := expr.(type) {
	case *influxql.Call:
		if isMath(x.Name) {
			for _, a := range x.Args {
				c, r := countRefs(a, inCall)
				calls, raw = calls+c, raw+r
			}
			return calls, raw
		}
		return 1, 0
	case *influxql.VarRef:
		if !inCall {
			return 0, 1
		}
	case *influxql.BinaryExpr:
		c1, r1 := countRefs(x.LHS, inCall)
		c2, r2 := countRefs(x.RHS, inCall)
		return c1 + c2, r1 + r2
	case *influxql.ParenExpr:
		return countRefs(x.Expr, inCall)
	}
	return 0, 0
}

func validateCall(c *influxql.Call, interval int64) error {
	switch {
	case isMath(c.Name):
		if n := mathFuncs[c.Name]; len(c.Args) != n {
			return invalidf("invalid number of arguments for %s, expected %d, got %d", c.Name, n, len(c.Args))
		}
		return nil
	case transforms[c.Name]:
		if len(c.Args) == 0 {
			return invalidf("invalid number of arguments for %s, expected at least 1, got 0", c.Name)
		}
		switch a := c.Args[0].(type) {
		case *influxql.Call:
			if !isAggregate(a.Name) || isMulti(a.Name) {
				return fmt.Errorf("%s: %s is not a supported aggregate argument: %w", c.Name, a.Name, ErrUnsupported)
			}
			if interval == 0 {
				return invalidf("%s aggregate requires a GROUP BY interval", c.Name)
			}
		case *influxql.VarRef:
			if interval > 0 {
				return invalidf("aggregate function required inside the call to %s", c.Name)
			}
		default:
			return invalidf("expected field argument in %s()", c.Name)
		}
		if c.Name == "moving_average" {
			n, ok := c.Args[len(c.Args)-1].(*influxql.IntegerLiteral)
			if len(c.Args) != 2 || !ok {
				return invalidf("moving_average requires an integer window size")
			}
			if n.Val <= 1 {
				return invalidf("moving_average window must be greater than 1, got %d", n.Val)
			}
		}
		return nil
	case isAggregate(c.Name):
		if len(c.Args) == 0 {
			return invalidf("invalid number of arguments for %s, expected 1, got 0", c.Name)
		}
		if _, ok := c.Args[0].(*influxql.VarRef); !ok {
			if inner, ok := c.Args[0].(*influxql.Call); ok && c.Name == "count" && inner.Name == "distinct" {
				return nil
			}
			return invalidf("expected field argument in %s()", c.Name)
		}
		switch c.Name {
		case "percentile":
			if _, ok := numberArg(c, 1); !ok || len(c.Args) != 2 {
				return invalidf("invalid number of arguments for percentile, expected 2, got %d", len(c.Args))
			}
		case "top", "bottom":
			if len(c.Args) < 2 {
				return invalidf("invalid number of arguments for %s, expected at least 2, got %d", c.Name, len(c.Args))
			}
			for _, a := range c.Args[1 : len(c.Args)-1] {
				if _, ok := a.(*influxql.VarRef); !ok {
					return invalidf("only fields or tags are allowed in %s(), found %s", c.Name, a.String())
				}
			}
			last := c.Args[len(c.Args)-1]
			n, ok := last.(*influxql.IntegerLiteral)
			if !ok {
				return invalidf("expected integer as last argument in %s(), found %s", c.Name, last.String())
			}
			if n.Val <= 0 {
				return invalidf("limit (%d) in %s function must be at least 1", n.Val, c.Name)
			}
		}
		return nil
	}
	return invalidf("undefined function %s()", c.Name)
}

// regexDims expands GROUP BY /regex/ and * into tag keys.
func resolveDims(s *influxql.SelectStatement, tags []string) []string {
	var dims []string
	for _, d := range s.Dimensions {
		switch x := d.Expr.(type) {
		case *influxql.VarRef:
			dims = append(dims, x.Val)
		case *influxql.Wildcard:
			dims = append(dims, tags...)
		case *influxql.RegexLiteral:
			dims = append(dims, matching(x.Val, tags)...)
		}
	}
	slices.Sort(dims)
	return slices.Compact(dims)
}

func matching(re *regexp.Regexp, names []string) []string {
	var out []string
	for _, n := range names {
		if re.MatchString(n) {
			out = append(out, n)
		}
	}
	return out
}

// hasWildcardDim reports whether GROUP BY needs the measurement's tag keys.
func hasWildcardDim(s *influxql.SelectStatement) bool {
	for _, d := range s.Dimensions {
		switch d.Expr.(type) {
		case *influxql.Wildcard, *influxql.RegexLiteral:
			return true
		}
	}
	return false
}

// hasTimeDim reports whether s has a GROUP BY time(…) dimension.
func hasTimeDim(s *influxql.SelectStatement) bool {
	for _, d := range s.Dimensions {
		if c, ok := d.Expr.(*influxql.Call); ok && c.Name == "time" {
			return true
		}
	}
	return false
}
