package models

import (
	"fmt"
	"testing"
)

// TestChunkedParseIsBounded checks what Start/Next are for: parsing a
// large body in chunks holds arrays sized for a chunk, not for the body.
func TestChunkedParseIsBounded(t *testing.T) {
	var body []byte
	for i := range 20_000 {
		body = fmt.Appendf(body, "cpu,host=h%d,dc=x a=%d,b=%di,c=%du %d\n", i, i, i, i, i)
	}
	var p Parser
	p.Start(body, 1, 0)
	lines := 0
	for {
		pts := p.Next(500)
		if len(pts) == 0 {
			break
		}
		lines += len(pts)
		if cap(p.points) > 625 || cap(p.fields) > 3*625 || cap(p.tags) > 2*2*500 || cap(p.arena) > len(body)/10 {
			t.Fatalf("after %d lines: capacity of points %d, fields %d, tags %d, arena %d (body %d bytes); want arrays sized for 500 lines",
				lines, cap(p.points), cap(p.fields), cap(p.tags), cap(p.arena), len(body))
		}
	}
	if lines != 20_000 || p.Err() != nil {
		t.Fatalf("parsed %d lines, err %v; want 20000, nil", lines, p.Err())
	}
}

// TestParseSimpleLinesSkipDecoder checks that lines in the usual form are
// read by parseSimpleLine, not handed to the decoder (which gives the same
// points, only slower), and that a line in another form hands it the rest.
func TestParseSimpleLinesSkipDecoder(t *testing.T) {
	body := []byte("cpu,host=a,dc=x usage=1.5,idle=2i,n=3u,ok=true,s=\"a b\" 1\r\n" +
		"cpu,host=a,dc=x usage=2.5,idle=3i,n=4u,ok=F,s=\"\" 2\n\n" +
		"cpu,dc=y,host=b usage=3 3\n")
	var p Parser
	pts, err := p.Parse(body, 1, 0)
	if err != nil || len(pts) != 3 || p.decoding {
		t.Fatalf("Parse: %d points, error %v, decoder used %v; want 3 points, no error, no decoder", len(pts), err, p.decoding)
	}
	pts, err = p.Parse(append(body, "cpu,host=a\\ b usage=4 4\ncpu,host=a,dc=x usage=5 5\n"...), 1, 0)
	if err != nil || len(pts) != 5 || !p.decoding || p.decLine != 4 {
		t.Fatalf("Parse with an escape on line 5: %d points, error %v, decoder used %v from line %d; want 5 points, no error, decoder from line 5",
			len(pts), err, p.decoding, p.decLine+1)
	}
}

// TestParseSeriesCacheAfterFirstTimestamp checks that lines with the
// timestamp of the chunk's first line are not put in the series cache
// (a batch of new series never hashes them) until a line has another
// timestamp: then the lines repeating their series share their tags, and
// the points are those of the decoder, duplicate points included. Lines
// without a timestamp are put in the cache at once.
func TestParseSeriesCacheAfterFirstTimestamp(t *testing.T) {
	var body []byte
	for i := range 100 {
		body = fmt.Appendf(body, "cpu,host=h%d,dc=x v=%di 10 \n", i, i)
	}
	body = append(body, "cpu,host=h7,dc=x v=1i 10\n"...) // a duplicate point
	var p Parser
	pts, err := p.Parse(body, 1, 0)
	if err != nil || len(pts) != 101 || len(p.series) != 0 || !p.sameTime {
		t.Fatalf("one timestamp: %d points, error %v, %d series in the cache; want 101, nil, none", len(pts), err, len(p.series))
	}
	for i := range 100 {
		body = fmt.Appendf(body, "cpu,host=h%d,dc=x v=%di 20\n", i, i)
	}
	pts, err = p.Parse(body, 1, 0)
	if err != nil || len(pts) != 201 || p.sameTime {
		t.Fatalf("two timestamps: %d points, error %v; want 201, nil", len(pts), err)
	}
	for i := range 100 {
		if &pts[101+i].Tags[0] != &pts[i].Tags[0] {
			t.Fatalf("line %d repeats line %d's series but does not share its tags", 102+i, i+1)
		}
	}
	noTime := []byte("cpu,host=a v=1i\ncpu,host=a v=1i\n")
	if pts, err := p.Parse(noTime, 1, 0); err != nil || len(pts) != 2 || &pts[1].Tags[0] != &pts[0].Tags[0] {
		t.Fatalf("lines without a timestamp: %d points, error %v; want 2 sharing their tags", len(pts), err)
	}
	for chunk := range 4 {
		dec := NewDecoderParser()
		want, _ := dec.Parse(body, 1, 0)
		p.Start(body, 1, 0)
		var got []Point
		for {
			c := p.Next(chunk * 40)
			if len(c) == 0 {
				break
			}
			for i := range c {
				got = append(got, c[i].Clone())
			}
		}
		if len(got) != len(want) {
			t.Fatalf("chunks of %d: %d points, want %d", chunk*40, len(got), len(want))
		}
		for i := range want {
			if got[i].String() != want[i].String() || string(got[i].Key) != string(want[i].Key) {
				t.Fatalf("chunks of %d: point %d is %s (key %s), want %s", chunk*40, i, got[i].String(), got[i].Key, want[i].String())
			}
		}
	}
}

// TestSameShort checks sameShort against == for every length up to 19,
// equal bytes and a difference in each byte, and for lengths that differ.
func TestSameShort(t *testing.T) {
	for n := range 20 {
		a := make([]byte, n)
		for i := range a {
			a[i] = byte('a' + i)
		}
		b := append([]byte(nil), a...)
		if !sameShort(a, b) {
			t.Fatalf("len %d: equal bytes reported different", n)
		}
		for i := range n {
			b[i]++
			if sameShort(a, b) {
				t.Fatalf("len %d: a difference at byte %d not seen", n, i)
			}
			b[i]--
		}
		if n > 0 && sameShort(a, b[:n-1]) {
			t.Fatalf("len %d: a shorter b reported equal", n)
		}
	}
}
