package hh

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
)

// fuzzSegment returns a valid segment holding payloads.
func fuzzSegment(payloads ...[]byte) []byte {
	b := appendSegmentHeader(nil)
	for i, p := range payloads {
		b = appendRecord(b, recordHeader{size: uint32(len(p)), shardID: uint64(i + 1), enqueued: int64(i), points: 1,
			crc: crcOf(p)}, p)
	}
	return b
}

// FuzzSegment decodes arbitrary bytes as a segment, as replay does: no
// panic, errors only of the documented kinds, allocation bounded by the
// input, every returned record's checksum right, and a valid segment read
// back exactly.
func FuzzSegment(f *testing.F) {
	valid := fuzzSegment([]byte("one"), bytes.Repeat([]byte("x"), 300), nil, []byte("last"))
	f.Add(valid)
	f.Add(valid[:len(valid)-2])
	f.Add(valid[:segmentHeaderSize+recordHeaderSize-1])
	flipped := slices.Clone(valid)
	flipped[segmentHeaderSize+2] ^= 0x40
	f.Add(flipped)
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0}, 100))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		if len(data) < segmentHeaderSize || checkSegmentHeader(data[:segmentHeaderSize]) != nil {
			return
		}
		var r segmentReader
		r.reset(bytes.NewReader(data), int64(len(data)), segmentHeaderSize)
		var got [][]byte
		clean := true
		for steps := 0; ; steps++ {
			if steps > len(data) {
				t.Fatal("reader made no progress")
			}
			rec, err := r.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v does not wrap ErrCorrupt", err)
				}
				clean = false
				before := r.off
				if _, err := r.resync(); err != nil {
					t.Fatalf("resync: %v", err)
				}
				if r.off <= before {
					t.Fatalf("resync from %d moved to %d", before, r.off)
				}
				continue
			}
			if crcOf(rec.payload) != rec.crc || rec.end() > int64(len(data)) {
				t.Fatalf("record at %d returned with a bad checksum or past the end", rec.off)
			}
			got = append(got, slices.Clone(rec.payload))
		}
		if cap(r.buf) > len(data) {
			t.Fatalf("reader allocated %d bytes for a %d-byte segment", cap(r.buf), len(data))
		}
		if bytes.Equal(data, valid) {
			want := [][]byte{[]byte("one"), bytes.Repeat([]byte("x"), 300), {}, []byte("last")}
			if !clean || !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("valid segment read back as %q; want %q", got, want)
			}
		}
	})
}
