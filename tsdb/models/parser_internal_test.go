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
