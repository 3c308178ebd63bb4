package models_test

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/strata-db/strata/tsdb/models"
)

// within reports whether b is a slice of the memory of outer.
func within(b, outer []byte) bool {
	if len(b) == 0 || len(outer) == 0 {
		return len(b) == 0
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(outer)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(outer))
}

// TestNextKeysInBody checks that Next gives a new series whose tags are in
// sorted order the body's text as its key, gives one whose tags are not a
// sorted copy (also when the tag keys repeat the previous line's order),
// and makes the same points as Parse, whose results never refer to the
// body.
func TestNextKeysInBody(t *testing.T) {
	body := []byte("cpu,a=1,b=2 v=1 1\n" + // sorted: in the body
		"cpu,b=3,a=4 v=1 1\n" + // unsorted: copied
		"cpu,b=5,a=6 v=1 1\n" + // the previous line's key order: copied
		"cpu,a=7,b=8 v=1 1\n" + // sorted again
		"cpu,a=1,b=2 v=2 2\n" + // a known series
		"mem v=1 1\n")
	inBody := []bool{true, false, false, true, true, true}
	var q models.Parser
	want, err := q.Parse(body, 1, 0)
	if err != nil || len(want) != len(inBody) {
		t.Fatalf("Parse: got %d points, error %v; want %d, none", len(want), err, len(inBody))
	}
	for _, chunk := range []int{0, 2} {
		var p models.Parser
		p.Start(body, 1, 0)
		n := 0
		for {
			got := p.Next(chunk)
			if len(got) == 0 {
				break
			}
			// The points of one Next are valid until the next.
			for j := range got {
				g, w, i := &got[j], &want[n], n
				n++
				if string(g.Key) != string(w.Key) || string(g.Measurement) != string(w.Measurement) ||
					fmt.Sprintf("%s", g.Tags) != fmt.Sprintf("%s", w.Tags) {
					t.Errorf("chunk %d, point %d: got key %q, measurement %q, tags %s; want %q, %q, %s",
						chunk, i, g.Key, g.Measurement, g.Tags, w.Key, w.Measurement, w.Tags)
				}
				if within(g.Key, body) != inBody[i] {
					t.Errorf("chunk %d, point %d (%q): key in the body %v; want %v", chunk, i, g.Key, !inBody[i], inBody[i])
				}
				// The index finds the tags by their offsets in the key.
				if !within(g.Measurement, g.Key) {
					t.Errorf("chunk %d, point %d: measurement not in the key", chunk, i)
				}
				for _, tag := range g.Tags {
					if !within(tag.Key, g.Key) || !within(tag.Value, g.Key) {
						t.Errorf("chunk %d, point %d: tag %s=%s not in the key", chunk, i, tag.Key, tag.Value)
					}
				}
			}
		}
		if err := p.Err(); err != nil || n != len(want) {
			t.Fatalf("chunk %d: got %d points, error %v; want %d, none", chunk, n, err, len(want))
		}
		// Parse, by the same parser, copies every key, also that of a
		// first line with the tag keys of the last line Next read.
		again, err := p.Parse(body[bytes.LastIndex(body[:len(body)-1], []byte("\n"))+1:], 1, 0)
		if err != nil || len(again) != 1 || within(again[0].Key, body) {
			t.Errorf("chunk %d: Parse of the last line after Next: got %d points, error %v; want its key copied", chunk, len(again), err)
		}
		again, err = p.Parse(body, 1, 0)
		if err != nil || len(again) != len(want) {
			t.Fatalf("chunk %d: Parse after Next: got %d points, error %v; want %d, none", chunk, len(again), err, len(want))
		}
		for i := range again {
			if within(again[i].Key, body) {
				t.Errorf("chunk %d: Parse after Next: point %d: key refers to the body", chunk, i)
			}
		}
	}
	for i := range want {
		if within(want[i].Key, body) {
			t.Errorf("Parse point %d: key refers to the body", i)
		}
	}
}
