package index_test

import (
	"testing"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/strata-db/strata/tsdb/models"
)

// TestIndexDataset indexes the shared TSBS devops file (9 measurements,
// integer and float fields) and checks the index against an independent
// count of distinct series keys and field types, before and after reopen.
func TestIndexDataset(t *testing.T) {
	batches := datasets.Batches(t, "tsbs-devops-s10-1h.lp.gz", 5000, 1<<30)
	dir := t.TempDir()
	ix := openIndex(t, dir)
	wantSeries := map[string]uint64{}
	wantFields := map[string]models.FieldType{}
	var p models.Parser
	var key []byte
	for _, body := range batches {
		pts, err := p.Parse(body, 1, 0)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		ids := make([]uint64, len(pts))
		if c, err := ix.CreateSeriesAndFields(pts, ids); err != nil || len(c) != 0 {
			t.Fatalf("CreateSeriesAndFields: conflicts %v, error %v", c, err)
		}
		for i := range pts {
			key = pts[i].AppendSeriesKey(key[:0])
			if id, ok := wantSeries[string(key)]; ok && id != ids[i] {
				t.Fatalf("series %s: id %d, earlier %d", key, ids[i], id)
			}
			wantSeries[string(key)] = ids[i]
			for _, f := range pts[i].Fields {
				wantFields[string(pts[i].Measurement)+"."+string(f.Key)] = f.Value.Type
			}
		}
	}
	check := func(ix interface {
		SeriesN() int
		SeriesID([]byte) (uint64, bool)
		FieldType(m, f []byte) (models.FieldType, bool)
		Measurements() [][]byte
	}) {
		t.Helper()
		if ix.SeriesN() != len(wantSeries) {
			t.Errorf("SeriesN: got %d; want %d", ix.SeriesN(), len(wantSeries))
		}
		for k, id := range wantSeries {
			if got, ok := ix.SeriesID([]byte(k)); !ok || got != id {
				t.Fatalf("SeriesID(%s): got %d, %v; want %d", k, got, ok, id)
			}
		}
		for mf, typ := range wantFields {
			var m, f string
			for i := 0; i < len(mf); i++ {
				if mf[i] == '.' {
					m, f = mf[:i], mf[i+1:]
					break
				}
			}
			if got, ok := ix.FieldType([]byte(m), []byte(f)); !ok || got != typ {
				t.Errorf("FieldType(%s, %s): got %v, %v; want %v", m, f, got, ok, typ)
			}
		}
		if got := len(ix.Measurements()); got != 9 {
			t.Errorf("Measurements: got %d; want 9", got)
		}
	}
	check(ix)
	want := dump(ix)
	ix.Close()
	ix2 := openIndex(t, dir)
	check(ix2)
	if got := dump(ix2); got != want {
		t.Errorf("dump after reopen differs:\ngot:\n%s\nwant:\n%s", got, want)
	}
}
