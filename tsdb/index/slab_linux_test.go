//go:build linux

package index

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestSlabsAdvisedHugePages checks that a big key slab and a big hash
// table are advised to be backed by huge pages (the "hg" flag of their
// mapping), and a small slab is not.
func TestSlabsAdvisedHugePages(t *testing.T) {
	thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !strings.Contains(string(thp), "[madvise]") && !strings.Contains(string(thp), "[always]") {
		t.Skipf("no transparent huge pages (%q, %v)", thp, err)
	}
	slab, slots, small := newSlab(bigSlabSize), newSlots(bigSlabSize/8), newSlab(slabSize)
	for _, tc := range []struct {
		name string
		p    unsafe.Pointer
		n    int
		want bool
	}{
		{"big slab", unsafe.Pointer(&slab[0]), len(slab), true},
		{"big table", unsafe.Pointer(&slots[0]), 8 * len(slots), true},
		{"small slab", unsafe.Pointer(&small[0]), len(small), false},
	} {
		// The middle of the allocation is in the aligned part.
		addr := uintptr(tc.p) + uintptr(tc.n/2)
		if got := advisedHuge(t, addr); got != tc.want {
			t.Errorf("%s: mapping at %#x advised huge pages %v; want %v", tc.name, addr, got, tc.want)
		}
	}
}

// advisedHuge reports whether the mapping holding addr has the "hg" flag
// (MADV_HUGEPAGE) in /proc/self/smaps.
func advisedHuge(t *testing.T, addr uintptr) bool {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var from, to uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &from, &to); n == 2 {
			in = from <= addr && addr < to
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Contains(line+" ", " hg ")
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return false
}

// TestSlabsGrowBig checks that a table's slabs are small until it has
// smallSlabs of them and big after.
func TestSlabsGrowBig(t *testing.T) {
	st := newSeriesTable()
	key := []byte("cpu,host=" + strings.Repeat("x", 1000))
	for id := uint32(1); len(st.slabs) <= smallSlabs; id++ {
		st.insert(id, key)
		if st.prepareSlab(); len(st.slabs) <= smallSlabs && cap(st.slabs[len(st.slabs)-1]) != slabSize {
			t.Fatalf("slab %d of %d bytes; want %d", len(st.slabs), cap(st.slabs[len(st.slabs)-1]), slabSize)
		}
	}
	if got := cap(st.slabs[smallSlabs]); got != bigSlabSize {
		t.Fatalf("slab %d of %d bytes; want %d", smallSlabs+1, got, bigSlabSize)
	}
}
