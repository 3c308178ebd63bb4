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
