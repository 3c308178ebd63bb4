package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
)

// fuzzMaxRecord is the record size limit of the fuzzed reader, small enough
// that the limit itself gets exercised.
const fuzzMaxRecord = 1 << 12

// encodeSegment returns a segment holding recs.
func encodeSegment(recs ...[]byte) []byte {
	b := appendSegmentHeader(nil)
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	return b
}

func FuzzSegmentReader(f *testing.F) {
	full := encodeSegment([]byte("cpu,host=a usage=1 1"), nil, bytes.Repeat([]byte{0xab}, 300))
	f.Add(full)
	f.Add(full[:len(full)-1])
	f.Add(full[:5])
	f.Add(encodeSegment())
	f.Add(encodeSegment(make([]byte, fuzzMaxRecord+1)))
	flipped := bytes.Clone(full)
	flipped[20] ^= 0x10
	f.Add(flipped)
	f.Add(append(encodeSegment([]byte("x")), make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			t.Skip("input over 1 MiB")
		}
		r := newSegmentReader(fuzzMaxRecord)
		r.reset(bytes.NewReader(data), int64(len(data)))
		var recs [][]byte
		err := r.readHeader()
		for err == nil {
			var rec []byte
			if rec, err = r.next(); err == nil {
				recs = append(recs, bytes.Clone(rec))
			}
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("reader error %v; want io.EOF or one wrapping ErrCorrupt", err)
		}
		if cap(r.buf) > len(data) {
			t.Fatalf("record buffer of %d bytes for a %d-byte input; want <= input size", cap(r.buf), len(data))
		}
		// Everything before the reader's offset is exactly the records it
		// returned, re-encoded.
		if r.off > 0 {
			if again := encodeSegment(recs...); !bytes.Equal(again, data[:r.off]) {
				t.Fatalf("re-encoded %d records = %d bytes; want the %d good input bytes", len(recs), len(again), r.off)
			}
		} else if len(recs) > 0 {
			t.Fatalf("%d records returned without a valid header", len(recs))
		}
		if errors.Is(err, io.EOF) && r.off != int64(len(data)) {
			t.Fatalf("clean end at offset %d of %d bytes", r.off, len(data))
		}
	})
}

func TestSegmentReaderErrors(t *testing.T) {
	good := encodeSegment([]byte("hello"), []byte("world"))
	tests := []struct {
		name     string
		data     []byte
		maxRec   int
		wantRecs int
		torn     bool // want io.ErrUnexpectedEOF as well as ErrCorrupt
		wantEOF  bool
	}{
		{name: "clean", data: good, maxRec: 100, wantRecs: 2, wantEOF: true},
		{name: "empty file", data: nil, maxRec: 100, torn: true},
		{name: "torn header", data: good[:7], maxRec: 100, torn: true},
		{name: "zeroed header", data: make([]byte, 64), maxRec: 100, torn: true},
		{name: "bad magic", data: append([]byte("XXXX"), good[4:]...), maxRec: 100},
		{name: "bad version", data: append(append([]byte("STWL"), 2, 0, 0, 0), good[8:]...), maxRec: 100},
		{name: "torn record header", data: good[:len(good)-13+3], maxRec: 100, wantRecs: 1, torn: true},
		{name: "torn payload", data: good[:len(good)-1], maxRec: 100, wantRecs: 1, torn: true},
		{name: "over limit", data: good, maxRec: 4},
		{name: "zeroed tail", data: append(bytes.Clone(good), make([]byte, 16)...), maxRec: 100, wantRecs: 2},
		{name: "flipped crc", data: flip(good, 8+4, 0x01), maxRec: 100},
		{name: "flipped payload", data: flip(good, len(good)-1, 0x01), maxRec: 100, wantRecs: 1},
		{name: "shrunk length", data: flip(good, 8+13, 0x01), maxRec: 100, wantRecs: 1},
		{name: "grown length", data: flip(good, 8+13, 0x80), maxRec: 100, wantRecs: 1, torn: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSegmentReader(tc.maxRec)
			r.reset(bytes.NewReader(tc.data), int64(len(tc.data)))
			n := 0
			err := r.readHeader()
			for err == nil {
				if _, err = r.next(); err == nil {
					n++
				}
			}
			if n != tc.wantRecs {
				t.Errorf("decoded %d records; want %d", n, tc.wantRecs)
			}
			if tc.wantEOF {
				if err != io.EOF {
					t.Errorf("got error %v; want io.EOF", err)
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("got error %v; want one wrapping ErrCorrupt", err)
			}
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != tc.torn {
				t.Errorf("error %v wraps io.ErrUnexpectedEOF = %v; want %v", err, got, tc.torn)
			}
		})
	}
}

// flip returns a copy of b with the bits of mask inverted in byte i.
func flip(b []byte, i int, mask byte) []byte {
	c := bytes.Clone(b)
	c[i] ^= mask
	return c
}

func TestParseSegmentName(t *testing.T) {
	tests := []struct {
		name   string
		wantID uint64
		wantOK bool
	}{
		{segmentName(1), 1, true},
		{segmentName(18446744073709551615), 18446744073709551615, true},
		{"00000000000000000000.wal", 0, false},
		{"0000000000000000001.wal", 0, false},
		{"0000000000000000000a.wal", 0, false},
		{"00000000000000000001.tmp", 0, false},
		{"99999999999999999999.wal", 0, false},
	}
	for _, tc := range tests {
		id, ok := parseSegmentName(tc.name)
		if id != tc.wantID || ok != tc.wantOK {
			t.Errorf("parseSegmentName(%q) = %d, %v; want %d, %v", tc.name, id, ok, tc.wantID, tc.wantOK)
		}
	}
}

// FuzzOpenRepair puts arbitrary bytes in the newest segment and checks what
// Open makes of them: either it refuses a foreign header with a
// *CorruptionError, or it keeps exactly the records a reader decodes before
// the first bad byte and cuts the file there.
func FuzzOpenRepair(f *testing.F) {
	full := encodeSegment([]byte("first"), bytes.Repeat([]byte{1}, 100), nil)
	f.Add(full)
	f.Add(full[:len(full)-3])
	f.Add(full[:3])
	f.Add([]byte{})
	f.Add(flip(full, 30, 0x20))
	f.Add(flip(full, 0, 0x01))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			t.Skip("input over 64 KiB")
		}
		// What a reader decodes from the bytes.
		r := newSegmentReader(fuzzMaxRecord)
		r.reset(bytes.NewReader(data), int64(len(data)))
		var want [][]byte
		hdrErr := r.readHeader()
		err := hdrErr
		for err == nil {
			var rec []byte
			if rec, err = r.next(); err == nil {
				want = append(want, bytes.Clone(rec))
			}
		}

		dir := t.TempDir()
		path := segmentPath(dir, 1)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := NewConfig()
		cfg.MaxRecordSize = fuzzMaxRecord
		cfg.NoSync = true
		w, oerr := Open(dir, cfg, nil, nil)
		if hdrErr != nil && !errors.Is(hdrErr, io.ErrUnexpectedEOF) {
			var cerr *CorruptionError
			if !errors.As(oerr, &cerr) || cerr.Segment != 1 {
				t.Fatalf("Open on a foreign header: got %v; want *CorruptionError for segment 1", oerr)
			}
			return
		}
		if oerr != nil {
			t.Fatalf("Open: got %v; want the torn or corrupt tail repaired", oerr)
		}
		defer w.Close()
		var got [][]byte
		if err := w.Replay(func(_ uint64, rec []byte) error {
			got = append(got, bytes.Clone(rec))
			return nil
		}); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("replayed %d records; want the %d before the first bad byte", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("record %d differs from the decoded one", i)
			}
		}
		fi, serr := os.Stat(path)
		switch {
		case len(want) == 0:
			// Nothing kept: the file was removed and segment 1 is active
			// again, its file to be created by the first write.
			if !errors.Is(serr, os.ErrNotExist) || fmt.Sprint(w.Segments()) != "[1]" {
				t.Fatalf("segment 1 after repairing a recordless file: %v, %v, segments %v; want it removed and active again", sizeOrErr(fi), serr, w.Segments())
			}
		case serr != nil || fi.Size() != r.off:
			t.Fatalf("segment 1 after repair: size %v, error %v; want %d bytes", sizeOrErr(fi), serr, r.off)
		}
	})
}

func sizeOrErr(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}
