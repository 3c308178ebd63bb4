package models

import (
	"fmt"
	"testing"
)

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

// TestSeriesMemoRecallsEverySeries checks a batch cycling through 200
// series (more than TSBS's 100 per batch) finds every repeat: series whose
// slots collide must not keep evicting each other.
func TestSeriesMemoRecallsEverySeries(t *testing.T) {
	const series, rounds = 200, 10
	var lp []byte
	for r := range rounds {
		for s := range series {
			lp = fmt.Appendf(lp, "cpu,host=host_%d,rack=%d usage=%d %d\n", s, s%7, r, r)
		}
	}
	var p Parser
	pts, err := p.Parse(lp, PrecisionNanosecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	var m SeriesMemo
	for i := range pts {
		v, ok := m.Recall(&pts[i], int32(i))
		if want := i >= series; ok != want || (ok && int(v) != i%series) {
			t.Fatalf("point %d: Recall = %d, %v; want %d, %v", i, v, ok, i%series, want)
		}
	}
}
