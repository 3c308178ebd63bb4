package index

import (
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestValueMapMatchesMap runs random sets, deletes and gets against a Go
// map, over few enough values that deletes hit, tombstones pile up and the
// table grows and rebuilds.
func TestValueMapMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var vm valueMap
	want := map[string]valueRef{}
	for i := range 200_000 {
		v := strconv.Itoa(rng.IntN(3000))
		switch op := rng.IntN(10); {
		case op < 5:
			r := valueRef(rng.Uint32() | 1) // never 0: want[v] != 0 means present
			if added, had := vm.set(v, r), want[v] != 0; added == had {
				t.Fatalf("op %d: set %q: added %v; had %v", i, v, added, had)
			}
			want[v] = r
		case op < 8:
			vm.delete(v)
			delete(want, v)
		default:
			got, ok := vm.get(v)
			if w, had := want[v]; ok != had || got != w {
				t.Fatalf("op %d: get %q: %d, %v; want %d, %v", i, v, got, ok, w, had)
			}
		}
		if vm.len() != len(want) {
			t.Fatalf("op %d: len %d; want %d", i, vm.len(), len(want))
		}
	}
	if got := maps.Collect(vm.all()); !maps.Equal(got, want) {
		t.Fatalf("all: %d values differ from the %d wanted", len(got), len(want))
	}
	for v, r := range want {
		if got, ok := vm.get(v); !ok || got != r {
			t.Fatalf("get %q: %d, %v; want %d", v, got, ok, r)
		}
	}
}

// TestValueMapReserve checks that a reserved map takes its values without
// growing.
func TestValueMapReserve(t *testing.T) {
	var vm valueMap
	vm.reserve(1000)
	slots := len(vm.slots)
	for i := range 1000 {
		vm.set(strconv.Itoa(i), valueRef(i))
	}
	if len(vm.slots) != slots {
		t.Errorf("grew from %d to %d slots", slots, len(vm.slots))
	}
}
