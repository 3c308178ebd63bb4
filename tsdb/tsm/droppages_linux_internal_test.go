package tsm

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/strata-db/strata/tsdb/models"
)

// mappingRSS returns the resident kilobytes of the mapping that starts at
// b's first byte, from /proc/self/smaps.
func mappingRSS(t *testing.T, b []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
	sc := bufio.NewScanner(f)
	found := false
	for sc.Scan() {
		line := sc.Text()
		found = found || strings.HasPrefix(line, start)
		// The mapping's header line is followed by its Size, page sizes
		// and Rss lines.
		if found && strings.HasPrefix(line, "Rss:") {
			kb, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return kb
		}
	}
	t.Fatalf("mapping at %s not in smaps", start)
	return 0
}

// TestDropPages: reading a file brings its pages into the process's
// resident memory; DropPages releases them, and the file still reads the
// same afterwards.
func TestDropPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drop.tsm")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	for s := range 2000 {
		var a Array
		for i := range 200 {
			if err := a.Append(int64(i), models.IntegerValue(int64(s*i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteValues([]byte(fmt.Sprintf("m,host=h%05d", s)), []byte("v"), &a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readAll := func() int64 {
		var sum int64
		var a Array
		for it := r.Iterator(); it.Next(); {
			for _, m := range it.Entries() {
				if err := r.ReadArray(m, &a); err != nil {
					t.Fatal(err)
				}
				for _, v := range a.Integers {
					sum += v
				}
			}
		}
		return sum
	}
	want := readAll()
	sizeKB := int(r.Size() / 1024)
	if rss := mappingRSS(t, r.data); rss < sizeKB/2 {
		t.Fatalf("resident after reading the file: %d kB of %d; want most of it", rss, sizeKB)
	}
	if err := r.DropPages(); err != nil {
		t.Fatalf("DropPages: %v", err)
	}
	if rss := mappingRSS(t, r.data); rss != 0 {
		t.Fatalf("resident after DropPages: %d kB; want 0", rss)
	}
	if got := readAll(); got != want {
		t.Fatalf("values after DropPages: sum %d; want %d", got, want)
	}
}
