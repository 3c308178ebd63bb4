package models_test

import (
	"errors"
	"math"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

func TestValueCodecRoundTrip(t *testing.T) {
	values := []models.Value{
		{}, models.FloatValue(math.Copysign(0, -1)), models.FloatValue(math.NaN()), models.FloatValue(1e300),
		models.IntegerValue(math.MinInt64), models.IntegerValue(-1), models.UnsignedValue(math.MaxUint64),
		models.BooleanValue(true), models.BooleanValue(false), models.StringValue(nil), models.StringValue([]byte("a\x00b")),
	}
	var buf []byte
	for _, v := range values {
		buf = models.AppendValue(buf, v)
	}
	rest := buf
	for i, want := range values {
		got, n, err := models.ReadValue(rest)
		if err != nil || got.Type != want.Type || got.N != want.N || string(got.S) != string(want.S) {
			t.Fatalf("value %d: got %+v, %v; want %+v", i, got, err, want)
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left over", len(rest))
	}
	for _, bad := range [][]byte{nil, {1, 0, 0}, {2}, {2, 0x80}, {5, 2}, {4, 5, 'a'}, {9}} {
		if _, _, err := models.ReadValue(bad); !errors.Is(err, models.ErrInvalidValueEncoding) {
			t.Errorf("ReadValue(%v): got %v, want ErrInvalidValueEncoding", bad, err)
		}
	}
}

func FuzzReadValue(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 3, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := models.ReadValue(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("ReadValue used %d of %d bytes", n, len(b))
		}
		// Varints may be non-canonical, so compare values, not bytes.
		again, m, err := models.ReadValue(models.AppendValue(nil, v))
		if err != nil || m > n || again.Type != v.Type || again.N != v.N || string(again.S) != string(v.S) {
			t.Fatalf("re-encoding %+v decodes to %+v (%d bytes), %v", v, again, m, err)
		}
	})
}
