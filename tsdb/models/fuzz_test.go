package models_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// maxFuzzInput bounds fuzz inputs, as Prometheus' fuzz targets do, so a run
// is spent on variety rather than size.
const maxFuzzInput = 64 << 10

func addFuzzSeeds(f *testing.F) {
	seeds := []string{
		"",
		"cpu,host=a,region=us usage=1.5,idle=2i,count=3u,ok=true,note=\"hi\" 1700000000000000000\n",
		"m f=1i\nm f=2i 5\r\n# comment\n\n",
		`c\,p\ u,k\,e\=y\ z=v\,a\=l\ ue f\,i\=e\ ld="a\"b\\c\nd" -1`,
		"m,a=1,a=2 f=1i 1\nm f=NaN 2\nm f=1e999 3\nm f=1i 99999999999999999999\n",
		"m f=\"multi\nline\" 1\nm,t=v\\\\ f=T,g=FALSE 2\n",
		"mé,tä=vö fü=\"ß\" 1\nm\xff f=1 1\n",
		"m f=-0,g=0x1p-2,h=5e-324 0\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), int64(1))
	}
	f.Add([]byte("m f=1i 9223372036854"), int64(models.PrecisionSecond))
	f.Add([]byte("m f=1i -3"), int64(models.PrecisionHour))
	// Real lines from the shared dataset, when present.
	if dir := findDataDir(); dir != "" {
		if seed := readGzipPrefix(filepath.Join(dir, "tsbs-devops-s10-1h.lp.gz"), 1<<10); seed != nil {
			f.Add(seed, int64(1))
		}
	}
}

// readGzipPrefix returns up to n bytes of a gzipped file, or nil.
func readGzipPrefix(path string, n int64) []byte {
	fh, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(zr, n))
	if err != nil {
		return nil
	}
	return b
}

// findDataDir is a non-skipping variant of dataFile for seed corpora.
func findDataDir() string {
	if dir := os.Getenv("STRATA_DATA_DIR"); dir != "" {
		return dir
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "shared", "data")); err == nil && st.IsDir() {
			return filepath.Join(dir, "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// FuzzParsePoints checks that Parse never panics, that every accepted point
// is well formed, and that every accepted point round-trips: AppendLine then
// Parse gives an equal point (floats compared bitwise) with the same series
// key.
func FuzzParsePoints(f *testing.F) {
	addFuzzSeeds(f)
	precs := []models.Precision{1, models.PrecisionMicrosecond, models.PrecisionMillisecond,
		models.PrecisionSecond, models.PrecisionMinute, models.PrecisionHour}
	f.Fuzz(func(t *testing.T, body []byte, precSel int64) {
		if len(body) > maxFuzzInput {
			t.Skip("input larger than maxFuzzInput")
		}
		prec := precs[uint64(precSel)%uint64(len(precs))]
		var p, q models.Parser
		pts, err := p.Parse(body, prec, 1_700_000_000_000_000_000)
		var pe *models.PartialParseError
		if err != nil {
			if !errors.As(err, &pe) {
				t.Fatalf("Parse: got error of type %T (%v); want *PartialParseError", err, err)
			}
			if pe.Dropped == 0 || len(pe.Lines) == 0 {
				t.Fatalf("PartialParseError with Dropped=%d and %d lines; want both > 0", pe.Dropped, len(pe.Lines))
			}
			prev := 0
			for _, le := range pe.Lines {
				if le.Line < 1 || le.Line < prev {
					t.Fatalf("line errors out of order or not 1-based: %v", pe.Lines)
				}
				prev = le.Line
			}
		}
		for i := range pts {
			checkWellFormed(t, &pts[i])
			line := pts[i].AppendLine(nil)
			back, err := q.Parse(line, 1, 0)
			if err != nil || len(back) != 1 {
				t.Fatalf("re-Parse(%q) of point %d: got %d points, error %v; want 1 point", line, i, len(back), err)
			}
			if !pointsEqual(back[0], pts[i]) {
				t.Fatalf("round trip of point %d: got %q; want %q", i, back[0].String(), pts[i].String())
			}
			key := pts[i].AppendSeriesKey(nil)
			if !bytes.Equal(back[0].AppendSeriesKey(nil), key) {
				t.Fatalf("series key changed in round trip: got %q; want %q", back[0].AppendSeriesKey(nil), key)
			}
			m, tags, err := models.ParseSeriesKey(key)
			if err != nil || !pointsEqual(models.Point{Measurement: m, Tags: tags}, models.Point{Measurement: pts[i].Measurement, Tags: pts[i].Tags}) {
				t.Fatalf("ParseSeriesKey(%q) = %q, %v, %v; want the point's measurement and tags", key, m, tags, err)
			}
		}
	})
}

func checkWellFormed(t *testing.T, p *models.Point) {
	t.Helper()
	if len(p.Measurement) == 0 {
		t.Fatalf("accepted point with empty measurement: %q", p.String())
	}
	if len(p.Fields) == 0 {
		t.Fatalf("accepted point without fields: %q", p.String())
	}
	for i := 1; i < len(p.Tags); i++ {
		if bytes.Compare(p.Tags[i-1].Key, p.Tags[i].Key) >= 0 {
			t.Fatalf("tags not sorted and unique: %q", p.String())
		}
	}
	seen := map[string]bool{}
	for _, fl := range p.Fields {
		if seen[string(fl.Key)] {
			t.Fatalf("duplicate field key %q in %q", fl.Key, p.String())
		}
		seen[string(fl.Key)] = true
		if fl.Value.Type == models.FieldTypeFloat && (math.IsNaN(fl.Value.Float()) || math.IsInf(fl.Value.Float(), 0)) {
			t.Fatalf("accepted non-finite float in %q", p.String())
		}
	}
}
