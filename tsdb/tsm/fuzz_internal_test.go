package tsm

import (
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// FuzzOpen validates arbitrary bytes as a file (the in-memory core of
// Open, skipping the file system so the fuzzer runs fast) and reads every
// block: it must never panic, and every error must wrap ErrCorrupt.
func FuzzOpen(f *testing.F) {
	for v := byte(1); v <= Version; v++ {
		f.Add(fuzzSeedFile(f, v))
	}
	f.Add([]byte("STSM\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		r, err := newReader("fuzz", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("newReader: got error %v; want ErrCorrupt", err)
			}
			return
		}
		var arr Array
		it := r.Iterator()
		for it.Next() {
			_ = r.Type(it.Series(), it.Field())
			for _, m := range r.Entries(it.Series(), it.Field()) {
				if err := r.ReadArray(m, &arr); err != nil && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("ReadArray: got error %v; want nil or ErrCorrupt", err)
				}
			}
		}
	})
}

// fuzzSeedFile returns a small valid file of format version with keys of
// one, two and three values of every type (in version 3 the first two are
// inline entries).
func fuzzSeedFile(f *testing.F, version byte) []byte {
	path := filepath.Join(f.TempDir(), "seed.tsm")
	w, err := newWriter(path, version)
	if err != nil {
		f.Fatalf("NewWriter: got error %v; want nil", err)
	}
	types := []models.FieldType{models.FieldTypeFloat, models.FieldTypeInteger, models.FieldTypeUnsigned, models.FieldTypeString, models.FieldTypeBoolean}
	for k := range 3 * len(types) {
		series, typ, n := k/5, types[k/3], 1+k%3
		a := Array{Type: typ}
		for j := range n {
			v := models.Value{Type: typ, N: uint64(j * k)}
			if typ == models.FieldTypeBoolean {
				v.N &= 1
			}
			if typ == models.FieldTypeString {
				v.S = []byte("x")
			}
			_ = a.Append(int64(j*10+k), v)
		}
		if err := w.WriteValues([]byte{'s', '0' + byte(series)}, []byte{'a' + byte(k)}, &a); err != nil {
			f.Fatalf("WriteValues: got error %v; want nil", err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatalf("Close: got error %v; want nil", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatalf("ReadFile: got error %v; want nil", err)
	}
	return b
}

// FuzzIndex wraps arbitrary block and index bytes in a valid header and
// footer (with correct checksums) so the fuzzer explores the index
// decoder behind the CRC. It must never panic; errors wrap ErrCorrupt; an
// accepted index only yields blocks inside the data area.
func FuzzIndex(f *testing.F) {
	seed := fuzzSeedFile(f, Version)
	ft, _ := parseFooter(seed[len(seed)-footerSize:])
	f.Add(seed[headerSize:ft.indexOffset], seed[ft.indexOffset:ft.indexOffset+ft.indexSize],
		ft.seriesCount, ft.keyCount, ft.minTime, ft.maxTime)
	f.Fuzz(func(t *testing.T, blocks, index []byte, nSeries, nKeys uint32, minT, maxT int64) {
		if len(blocks)+len(index) > 1<<16 {
			return
		}
		b := appendHeader(nil, Version)
		b = append(b, blocks...)
		b = append(b, index...)
		b = appendFooter(b, footer{
			indexOffset: int64(headerSize + len(blocks)), indexSize: int64(len(index)),
			seriesCount: nSeries, keyCount: nKeys, minTime: minT, maxTime: maxT,
			indexCRC: crc32Checksum(index), version: Version,
		})
		r, err := newReader("fuzz", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("newReader: got error %v; want ErrCorrupt", err)
			}
			return
		}
		it := r.Iterator()
		keys := 0
		for it.Next() {
			keys++
			for _, m := range it.Entries() {
				if m.Count < 1 || m.MinTime > m.MaxTime {
					t.Fatalf("accepted inconsistent entry %+v", m)
				}
				if m.Inline() {
					var a Array
					if err := r.ReadArray(m, &a); err != nil || a.Len() != m.Count || a.Timestamps[0] != m.MinTime ||
						a.Timestamps[a.Len()-1] != m.MaxTime || !sort.SliceIsSorted(a.Timestamps, func(i, j int) bool { return a.Timestamps[i] <= a.Timestamps[j] }) {
						t.Fatalf("accepted inline entry %+v reads as %v, %v", m, a, err)
					}
					if m.Count > smallStatsMax || m.Offset != 0 || m.Size != 0 {
						t.Fatalf("accepted inline entry %+v of more than %d values or with a block", m, smallStatsMax)
					}
				} else if m.Offset < headerSize || m.Offset+m.Size > r.dataEnd {
					t.Fatalf("accepted entry %+v outside data area [%d, %d)", m, headerSize, r.dataEnd)
				}
			}
		}
		if keys != r.KeyCount() {
			t.Fatalf("iterator saw %d keys; KeyCount() = %d", keys, r.KeyCount())
		}
	})
}

// crc32Checksum is the index checksum.
func crc32Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
