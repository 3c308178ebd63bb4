package models_test

import (
	"testing"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/strata-db/strata/tsdb/models"
)

// TestParseDatasets parses the shared TSBS files and checks the line and
// value counts their README states, and that every point agrees with a bare
// lineprotocol.Decoder reading of the same body.
func TestParseDatasets(t *testing.T) {
	tests := []struct {
		file          string
		lines, values int
	}{
		{"tsbs-cpu-only-s10-1h.lp.gz", 3600, 36000},
		{"tsbs-devops-s10-1h.lp.gz", 32400, 363600},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			batches := datasets.Batches(t, tc.file, 5000, 1<<30)
			var p models.Parser
			lines, values := 0, 0
			for _, body := range batches {
				pts, err := p.Parse(body, 1, 0)
				if err != nil {
					t.Fatalf("Parse: got error %v; want none", err)
				}
				lines += len(pts)
				for i := range pts {
					values += len(pts[i].Fields)
				}
				compareWithDecoder(t, body, pts)
			}
			if lines != tc.lines || values != tc.values {
				t.Errorf("got %d lines, %d values; want %d, %d", lines, values, tc.lines, tc.values)
			}
		})
	}
}

// compareWithDecoder checks pts against an independent decoding of body.
func compareWithDecoder(t *testing.T, body []byte, pts []models.Point) {
	t.Helper()
	dec := lineprotocol.NewDecoderWithBytes(body)
	i := 0
	for dec.Next() {
		if i >= len(pts) {
			t.Fatalf("decoder has more lines than the %d points", len(pts))
		}
		p := &pts[i]
		m, err := dec.Measurement()
		if err != nil || string(m) != string(p.Measurement) {
			t.Fatalf("point %d: measurement %q, decoder %q (%v)", i, p.Measurement, m, err)
		}
		ntags := 0
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatalf("point %d: decoder tag error %v", i, err)
			}
			if k == nil {
				break
			}
			ntags++
			if got := p.Tags.Get(k); string(got) != string(v) {
				t.Fatalf("point %d: tag %q = %q; decoder says %q", i, k, got, v)
			}
		}
		if ntags != len(p.Tags) {
			t.Fatalf("point %d: %d tags; decoder says %d", i, len(p.Tags), ntags)
		}
		j := 0
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatalf("point %d: decoder field error %v", i, err)
			}
			if k == nil {
				break
			}
			f := p.Fields[j]
			if string(f.Key) != string(k) || f.Value.Type == models.FieldTypeUnknown {
				t.Fatalf("point %d field %d: key %q, decoder %q", i, j, f.Key, k)
			}
			var want models.Value
			switch v.Kind() {
			case lineprotocol.Float:
				want = models.FloatValue(v.FloatV())
			case lineprotocol.Int:
				want = models.IntegerValue(v.IntV())
			case lineprotocol.Uint:
				want = models.UnsignedValue(v.UintV())
			case lineprotocol.Bool:
				want = models.BooleanValue(v.BoolV())
			case lineprotocol.String:
				want = models.StringValue(v.BytesV())
			}
			if !f.Value.Equal(want) {
				t.Fatalf("point %d field %q: got %+v; decoder %+v", i, k, f.Value, want)
			}
			j++
		}
		ts, err := dec.TimeBytes()
		if err != nil || string(ts) == "" {
			t.Fatalf("point %d: decoder time %q, %v", i, ts, err)
		}
		i++
	}
	if i != len(pts) {
		t.Fatalf("decoder saw %d lines; parser returned %d points", i, len(pts))
	}
}
