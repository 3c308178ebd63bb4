package bytereader_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/bytereader"
)

var errCorrupt = errors.New("corrupt test record")

func TestReadsInOrder(t *testing.T) {
	b := []byte{7}
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = binary.LittleEndian.AppendUint64(b, 1<<60)
	b = binary.AppendUvarint(b, 3)
	b = append(b, "abc"...)
	b = append(b, "xy"...)
	b = binary.AppendUvarint(b, 2) // a count of 2 elements of 1 byte
	b = append(b, 1, 2)
	r := bytereader.New(b, errCorrupt)
	if v := r.Byte(); v != 7 {
		t.Errorf("Byte = %d; want 7", v)
	}
	if v := r.Uvarint(); v != 300 {
		t.Errorf("Uvarint = %d; want 300", v)
	}
	if v := r.Varint(); v != -5 {
		t.Errorf("Varint = %d; want -5", v)
	}
	if v := r.Uint64LE(); v != 1<<60 {
		t.Errorf("Uint64LE = %d; want 1<<60", v)
	}
	if v := r.Bytes(); string(v) != "abc" || cap(v) != 3 {
		t.Errorf("Bytes = %q (cap %d); want \"abc\" with its capacity cut", v, cap(v))
	}
	if v := r.Fixed(2); string(v) != "xy" {
		t.Errorf("Fixed(2) = %q; want \"xy\"", v)
	}
	if n := r.Count(1); n != 2 {
		t.Errorf("Count(1) = %d; want 2", n)
	}
	if r.Offset() != len(b)-2 || len(r.Rest()) != 2 || r.Err() != nil {
		t.Errorf("Offset %d, Rest %v, Err %v; want %d, the last 2 bytes, nil", r.Offset(), r.Rest(), r.Err(), len(b)-2)
	}
}

// TestFailureSticks checks every read past the end fails with the format's
// error, naming the offset, and that the first failure is the one kept.
func TestFailureSticks(t *testing.T) {
	for name, read := range map[string]func(r *bytereader.Reader){
		"Byte":     func(r *bytereader.Reader) { r.Byte() },
		"Uvarint":  func(r *bytereader.Reader) { r.Uvarint() },
		"Varint":   func(r *bytereader.Reader) { r.Varint() },
		"Uint64LE": func(r *bytereader.Reader) { r.Uint64LE() },
		"Fixed":    func(r *bytereader.Reader) { r.Fixed(3) },
		"Bytes":    func(r *bytereader.Reader) { r.Bytes() },
		"Count":    func(r *bytereader.Reader) { r.Count(8) },
	} {
		t.Run(name, func(t *testing.T) {
			r := bytereader.New([]byte{9, 0x80}, errCorrupt) // 9, then a truncated varint
			r.Byte()
			r.Uvarint() // fails at offset 1
			first := r.Err()
			read(&r)
			if !errors.Is(first, errCorrupt) || !strings.Contains(first.Error(), "at offset 1") || r.Err() != first {
				t.Fatalf("first error %v, then %v; want one error at offset 1 wrapping errCorrupt, kept", first, r.Err())
			}
			if r.Byte() != 0 || r.Bytes() != nil || len(r.Rest()) != 0 {
				t.Fatal("reads after a failure returned data")
			}
			r = bytereader.New([]byte{5}, errCorrupt)
			r.Byte()
			read(&r)
			if !errors.Is(r.Err(), errCorrupt) {
				t.Fatalf("%s past the end: got %v; want errCorrupt", name, r.Err())
			}
		})
	}
	r := bytereader.New(binary.AppendUvarint(nil, 1000), errCorrupt)
	if r.Bytes() != nil || !strings.Contains(r.Err().Error(), "length 1000 past the end") {
		t.Fatalf("length past the end: got %v", r.Err())
	}
	r = bytereader.New(append(binary.AppendUvarint(nil, 3), 1, 2), errCorrupt)
	if r.Count(1) != 0 || !strings.Contains(r.Err().Error(), "count 3 exceeds the remaining 2 bytes") {
		t.Fatalf("count past the end: got %v", r.Err())
	}
	r = bytereader.New(nil, errCorrupt)
	r.Failf("bad %s", "thing")
	r.Failf("second %s", "thing")
	if got := r.Err().Error(); got != "at offset 0: bad thing: corrupt test record" {
		t.Fatalf("Failf: got %q", got)
	}
}
