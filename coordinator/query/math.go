package query

import (
	"math"

	"github.com/influxdata/influxql"
)

// mathFuncs are InfluxQL's math functions and their argument counts; they
// apply to one value (of a field or of an aggregate) at a time.
var mathFuncs = map[string]int{
	"abs": 1, "sin": 1, "cos": 1, "tan": 1, "asin": 1, "acos": 1, "atan": 1,
	"exp": 1, "ln": 1, "log2": 1, "log10": 1, "sqrt": 1, "ceil": 1, "floor": 1,
	"round": 1, "pow": 2, "log": 2, "atan2": 2,
}

func isMath(name string) bool { _, ok := mathFuncs[name]; return ok }

// evalMath applies a math function; nil when an argument is null or not
// a number.
func evalMath(name string, args []any) any {
	if len(args) != mathFuncs[name] {
		return nil
	}
	x, ok := anyFloat(args[0])
	if !ok {
		return nil
	}
	switch name {
	case "abs":
		switch v := args[0].(type) {
		case int64:
			if v < 0 {
				return -v
			}
			return v
		case uint64:
			return v
		}
		return math.Abs(x)
	case "ceil", "floor", "round":
		if _, isFloat := args[0].(float64); !isFloat {
			return args[0]
		}
		switch name {
		case "ceil":
			return math.Ceil(x)
		case "floor":
			return math.Floor(x)
		}
		return math.Round(x)
	case "pow", "log", "atan2":
		y, ok := anyFloat(args[1])
		if !ok {
			return nil
		}
		switch name {
		case "pow":
			return finite(math.Pow(x, y))
		case "log":
			return finite(math.Log(x) / math.Log(y))
		}
		return finite(math.Atan2(x, y))
	}
	f := map[string]func(float64) float64{
		"sin": math.Sin, "cos": math.Cos, "tan": math.Tan, "asin": math.Asin, "acos": math.Acos,
		"atan": math.Atan, "exp": math.Exp, "ln": math.Log, "log2": math.Log2, "log10": math.Log10,
		"sqrt": math.Sqrt,
	}[name]
	return finite(f(x))
}

// mathValuer evaluates math calls on top of a Valuer.
type mathValuer struct{ influxql.Valuer }

// Call implements influxql.CallValuer for the math functions.
func (m mathValuer) Call(name string, args []any) (any, bool) {
	if !isMath(name) {
		return nil, false
	}
	return evalMath(name, args), true
}
