package models

import "testing"

func TestSeriesMemo(t *testing.T) {
	var p Parser
	pts, err := p.Parse([]byte("m,t=a f=1\nm,t=b f=2\nm,t=a f=3\nm f=4\nm f=5\n"), PrecisionNanosecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	var m SeriesMemo
	for i, want := range []struct {
		v  int32
		ok bool
	}{{0, false}, {0, false}, {0, true}, {0, false}, {3, true}} {
		v, ok := m.Recall(&pts[i], int32(i))
		if v != want.v || ok != want.ok {
			t.Fatalf("point %d: Recall = %d, %v; want %d, %v", i, v, ok, want.v, want.ok)
		}
	}
	// Equal bytes in other slices are not recognised: identity, not content.
	c := pts[0].Clone()
	if _, ok := m.Recall(&c, 9); ok {
		t.Fatal("a copy of point 0 was recalled")
	}
	m.Reset()
	if _, ok := m.Recall(&pts[0], 0); ok {
		t.Fatal("point 0 was recalled after Reset")
	}
	// A shorter view of the same tags is another series.
	short := pts[0]
	short.Tags = short.Tags[:0]
	if _, ok := m.Recall(&short, 1); ok {
		t.Fatal("point 0 without its tags was recalled as point 0")
	}
}
