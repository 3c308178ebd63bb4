package coordinator

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/tsdb/models"
)

// encodeStream encodes batches as a scan stream with an end frame.
func encodeStream(t testing.TB, batches []query.SeriesBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := scanEncoder{w: &buf}
	for i := range batches {
		if err := enc.writeSeries(&batches[i]); err != nil {
			t.Fatalf("encode: %v", err)
		}
	}
	if err := enc.writeEnd(); err != nil {
		t.Fatalf("encode end: %v", err)
	}
	return buf.Bytes()
}

func sampleBatches() []query.SeriesBatch {
	return []query.SeriesBatch{
		{Key: "cpu,host=a", Fields: []query.FieldColumn{
			{Name: "f", Type: models.FieldTypeFloat, Points: []query.Point{{Time: -5, Value: models.FloatValue(1.5)}, {Time: 1 << 62, Value: models.FloatValue(math.Copysign(0, -1))}}},
			{Name: "s", Type: models.FieldTypeString, Points: []query.Point{{Time: 3, Value: models.StringValue([]byte("x y"))}}},
			{Name: "b", Type: models.FieldTypeBoolean, Points: []query.Point{{Time: 3, Value: models.BooleanValue(true)}}},
		}},
		{Key: "cpu,host=b,region=eu", Fields: []query.FieldColumn{
			{Name: "i", Type: models.FieldTypeInteger, Windows: []query.Window{{Start: -100, Count: 2, Sum: models.IntegerValue(-7),
				Min: models.IntegerValue(-9), Max: models.IntegerValue(2), First: models.IntegerValue(-9), Last: models.IntegerValue(2), FirstTime: -99, LastTime: -1}}},
			{Name: "u", Type: models.FieldTypeUnsigned, Windows: []query.Window{{Start: 0, Count: 1, Sum: models.UnsignedValue(1 << 63),
				First: models.UnsignedValue(1 << 63), Last: models.UnsignedValue(1 << 63)}}},
		}},
	}
}

// decodeAll decodes a stream into deep-copied batches.
func decodeAll(data []byte) ([]query.SeriesBatch, error) {
	var out []query.SeriesBatch
	err := readScanStream(bytes.NewReader(data), nil, func(b *query.SeriesBatch) error {
		c := *b
		c.Tags = nil
		c.Fields = append([]query.FieldColumn(nil), b.Fields...)
		out = append(out, c)
		return nil
	})
	return out, err
}

func TestScanStreamRoundTrip(t *testing.T) {
	in := sampleBatches()
	// A long series split over several frames.
	long := query.SeriesBatch{Key: "log,host=z"}
	for f := range 3 {
		col := query.FieldColumn{Name: string(rune('a' + f)), Type: models.FieldTypeString}
		for i := range 20000 {
			col.Points = append(col.Points, query.Point{Time: int64(i * 10), Value: models.StringValue([]byte(strings.Repeat("v", 1+i%50)))})
		}
		long.Fields = append(long.Fields, col)
	}
	in = append(in, long)
	data := encodeStream(t, in)
	if frames := bytes.Count(data, []byte("log,host=z")); frames < 4 {
		t.Fatalf("long series in %d frames, want it split into several", frames)
	}
	got, err := decodeAll(data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	for i := range in {
		in[i].Tags = nil
	}
	if len(got) != len(in) {
		t.Fatalf("round trip: got %d series, want %d", len(got), len(in))
	}
	for i := range in {
		if !reflect.DeepEqual(got[i], in[i]) {
			t.Errorf("round trip of series %s differs: got %d columns, want %d", in[i].Key, len(got[i].Fields), len(in[i].Fields))
		}
	}
}

// TestScanStreamFilteredFlag checks that a Filtered batch stays Filtered
// through the stream, every part of a long one included, and that an
// encoder for a client that did not ask for the flag (an older one, which
// rejects unknown flag bits) leaves it out.
func TestScanStreamFilteredFlag(t *testing.T) {
	in := sampleBatches()
	in[0].Filtered = true
	long := query.SeriesBatch{Key: "log,host=z", Filtered: true}
	col := query.FieldColumn{Name: "s", Type: models.FieldTypeString}
	for i := range 20000 {
		col.Points = append(col.Points, query.Point{Time: int64(i), Value: models.StringValue([]byte(strings.Repeat("v", 40)))})
	}
	long.Fields = append(long.Fields, col)
	in = append(in, long)
	for _, mark := range []bool{true, false} {
		var buf bytes.Buffer
		enc := scanEncoder{w: &buf, markFiltered: mark}
		for i := range in {
			if err := enc.writeSeries(&in[i]); err != nil {
				t.Fatalf("encode: %v", err)
			}
		}
		if err := enc.writeEnd(); err != nil {
			t.Fatalf("encode end: %v", err)
		}
		if frames := bytes.Count(buf.Bytes(), []byte(long.Key)); frames < 2 {
			t.Fatalf("long series in %d frames, want several", frames)
		}
		got, err := decodeAll(buf.Bytes())
		if err != nil || len(got) != len(in) {
			t.Fatalf("mark %t: decode: %d series, %v; want %d", mark, len(got), err, len(in))
		}
		for i := range in {
			if want := mark && in[i].Filtered; got[i].Filtered != want {
				t.Errorf("mark %t: series %s decoded Filtered %t, want %t", mark, in[i].Key, got[i].Filtered, want)
			}
		}
	}
}

func TestScanStreamRejects(t *testing.T) {
	good := encodeStream(t, sampleBatches())
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x40; return b }
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"no end frame", good[:len(good)-9], io.ErrUnexpectedEOF},
		{"cut in a frame", good[:20], io.ErrUnexpectedEOF},
		{"bit flip", flip(12), ErrCorruptStream},
		{"huge frame", []byte{'S', 0xff, 0xff, 0xff, 0x7f}, ErrCorruptStream},
		{"unknown frame", func() []byte {
			e := scanEncoder{w: io.Discard}
			e.frame = append(e.frame[:0], 'Q', 0, 0, 0, 0)
			var buf bytes.Buffer
			e.w = &buf
			_ = e.flush()
			return buf.Bytes()
		}(), ErrCorruptStream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeAll(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("decode: got %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzReadScanStream: arbitrary bytes never panic, and every failure is a
// corrupt stream, a truncated one, or an error frame.
func FuzzReadScanStream(f *testing.F) {
	f.Add(encodeStream(f, sampleBatches()))
	f.Add(encodeStream(f, nil))
	var buf bytes.Buffer
	e := scanEncoder{w: &buf}
	_ = e.writeError("internal", "boom")
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		got, err := decodeAll(data)
		if err == nil {
			// What decodes re-encodes to a stream that decodes the same.
			again, err := decodeAll(encodeStream(t, got))
			if err != nil || len(again) != len(got) {
				t.Fatalf("re-decode: %d batches, %v; want %d", len(again), err, len(got))
			}
			return
		}
		var re *RPCError
		if !errors.Is(err, ErrCorruptStream) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &re) {
			t.Fatalf("error %v is neither ErrCorruptStream, io.ErrUnexpectedEOF nor an *RPCError", err)
		}
	})
}
