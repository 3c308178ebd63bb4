package query

import (
	"math"

	"github.com/strata-db/strata/tsdb/models"
)

// toAny converts a stored value to the Go value a Row carries: float64,
// int64, uint64, string or bool (nil for an absent value).
func toAny(v models.Value) any {
	switch v.Type {
	case models.FieldTypeFloat:
		return v.Float()
	case models.FieldTypeInteger:
		return v.Integer()
	case models.FieldTypeUnsigned:
		return v.Unsigned()
	case models.FieldTypeString:
		return string(v.S)
	case models.FieldTypeBoolean:
		return v.Boolean()
	default:
		return nil
	}
}

// fromAny converts a Row value back to a stored value (subqueries).
func fromAny(v any) (models.Value, bool) {
	switch x := v.(type) {
	case float64:
		return models.FloatValue(x), true
	case int64:
		return models.IntegerValue(x), true
	case uint64:
		return models.UnsignedValue(x), true
	case string:
		return models.StringValue([]byte(x)), true
	case bool:
		return models.BooleanValue(x), true
	default:
		return models.Value{}, false
	}
}

// asFloat returns a numeric value as float64.
func asFloat(v models.Value) (float64, bool) {
	switch v.Type {
	case models.FieldTypeFloat:
		return v.Float(), true
	case models.FieldTypeInteger:
		return float64(v.Integer()), true
	case models.FieldTypeUnsigned:
		return float64(v.Unsigned()), true
	default:
		return 0, false
	}
}

// anyFloat returns a numeric Row value as float64.
func anyFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	default:
		return 0, false
	}
}

// isNumeric reports whether t is a numeric field type.
func isNumeric(t models.FieldType) bool {
	return t == models.FieldTypeFloat || t == models.FieldTypeInteger || t == models.FieldTypeUnsigned
}

// finite turns NaN and infinities, which JSON cannot carry, into nil.
func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// less orders two values of one type (numbers across numeric types).
func less(a, b models.Value) bool {
	switch {
	case a.Type == b.Type && a.Type == models.FieldTypeInteger:
		return a.Integer() < b.Integer()
	case a.Type == b.Type && a.Type == models.FieldTypeUnsigned:
		return a.Unsigned() < b.Unsigned()
	case a.Type == models.FieldTypeString || b.Type == models.FieldTypeString:
		return string(a.S) < string(b.S)
	case a.Type == models.FieldTypeBoolean && b.Type == models.FieldTypeBoolean:
		return !a.Boolean() && b.Boolean()
	}
	fa, _ := asFloat(a)
	fb, _ := asFloat(b)
	return fa < fb
}
