package encoding

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestEveryIntegerScheme forces each transform x packing combination on
// data it can hold and checks that the block uses that scheme, round-trips,
// and is never smaller than what the free choice produces.
func TestEveryIntegerScheme(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	walk := make([]int64, 1000)
	v := int64(50)
	for i := range walk {
		v = min(150, max(0, v+int64(r.IntN(7))-3))
		walk[i] = v
	}
	short := []int64{5, 9, 2, 2, 7}
	for name, vs := range map[string][]int64{"walk": walk, "short": short} {
		free := AppendIntegers(nil, vs)
		for scheme := schemeTransformed; scheme <= schemeMaxInt; scheme++ {
			if p := (scheme - schemeTransformed) % 4; len(vs) < minEntropyValues+2 && (p == packHuff0 || p == packFSE) {
				continue // entropy coders refuse tiny inputs
			}
			b := appendIntsWith(nil, typeInteger, vs, false, scheme)
			if got := int(b[0] & 0x0f); got != scheme {
				t.Fatalf("%s: forced scheme %d: got header scheme %d", name, scheme, got)
			}
			got, err := DecodeIntegers(nil, b)
			if err != nil || !slices.Equal(got, vs) {
				t.Fatalf("%s: scheme %d round trip: got %v, %v; want %v", name, scheme, got[:min(len(got), 8)], err, vs[:8])
			}
			if len(b) < len(free) {
				t.Fatalf("%s: scheme %d takes %d bytes, free choice took %d: want the smallest", name, scheme, len(b), len(free))
			}
		}
	}
}

// TestSchemeChoice guards the choices that make typical data small.
func TestSchemeChoice(t *testing.T) {
	ts := make([]int64, 1000)
	for i := range ts {
		ts[i] = 1767225600000000000 + int64(i)*10_000_000_000
	}
	if got := AppendTimestamps(nil, ts)[0] & 0x0f; got != schemeConst {
		t.Errorf("regular timestamps: got scheme %d, want %d (constant delta)", got, schemeConst)
	}
	if got := len(AppendTimestamps(nil, ts)); got > 20 {
		t.Errorf("1000 regular timestamps: got %d bytes, want <= 20", got)
	}
	if got := AppendBooleans(nil, []bool{true, true})[0] & 0x0f; got != schemeAllSame {
		t.Errorf("equal booleans: got scheme %d, want %d", got, schemeAllSame)
	}
	cents := make([]float64, 1000)
	for i := range cents {
		cents[i] = float64(i%300) / 100
	}
	if got := AppendFloats(nil, cents)[0] & 0x0f; got != schemeDecimal {
		t.Errorf("two-decimal floats: got scheme %d, want %d (decimal)", got, schemeDecimal)
	}
	for name, vs := range map[string][]float64{
		"-0":          {1, math.Copysign(0, -1)},
		"NaN":         {1, math.NaN()},
		"Inf":         {1, math.Inf(1)},
		"16 decimals": {0.1234567890123456},
		"2^54":        {1 << 54},
	} {
		if got := AppendFloats(nil, vs)[0] & 0x0f; got != schemeGorilla {
			t.Errorf("%s: got scheme %d, want %d (Gorilla)", name, got, schemeGorilla)
		}
	}
}
