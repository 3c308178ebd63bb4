package models_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// simpleLines are lines at the edges of the form parseSimpleLine reads
// itself: each is either read by it or left to the decoder, and both must
// give the same points and errors. A line the decoder takes over hands it
// the rest of the body too, so each is tested in bodies of its own.
var simpleLines = []string{
	// Integers read by shortInteger, or not, and repeated timestamps.
	`m f=123456789012345678i 1`, `m f=1234567890123456789i 1`, `m f=9223372036854775807i 1`, `m f=9223372036854775808i 1`,
	`m f=12i3 1`, `m f=12ix 1`, `m f=007i 1`, `m f=1i,g=2 1`, `m f=5i`, `m f=5i,g=-5i 5`, `m f=0i 1`, `m f=1i 1`, `m f=1i 01`, `m f=1i 99999999999`,
	// Field keys against the previous line's (see simpleLineBodies).
	`m,a=1 f=1i,g=2i,h=3i 1`, `m,a=1 f=1i,g=2i,f=3i 1`, `m,a=1 f=1i,g=2i,h=3i,g=9i 1`, `m,a=1 f=1i,gg=2i,h=3i 1`,
	`m,a=1 f=1i,g=2i,h= 1`, `m,a=1 f=1i,g=2i,h`, `m,a=1 f=1i,g=2i,h=`, `m,a=1 f=1i,g=2i,hh=3i 1`, `m,a=1 g=1i,f=2i 1`,
	`m,a=1 f=1i,g=2i,h=3i,i=4i 1`, `m,a=1 f=1i,g="x",h=3i 1`, `m,a=1 f=1i,g=2i,h=3i,f=4i,g=5i,h=6i 1`, `m,a=1 f=1i,g=2i,h=3i,h=4i 1`,
	`cpu,host=a,region=us usage=1.5,idle=2i,count=3u,ok=true,note="hi" 1700000000000000000`,
	`cpu,host=a,region=us usage=2.5,idle=-3i,count=4u,ok=F,note="" -1700000000000000001`,
	`m,b=2,a=1 f=1i 1`, `m,a=1,b=2 f=3i 3`, `m,a=1,a=2 f=1i 1`, `m,b=1,a=2,b=3 f=1i 1`,
	`m f=1i`, `m f=2i `, `m f=3i 3 `, `m  f=4i  4  ` + "\r", `m f=5i` + "\r", `m f=6i 6` + "\r\r",
	`m,a=1 f=1i,f=2i 2`, `m,a=1 f=1i,g=2i,f=3 3`, `m,a=1 f=1i,g=2i,f="x",g=4u 3`,
	` m,a=1 f=1i 2`, `#c`, `#m f=1 1`, `# m f=1 1`, `#c` + "\x01",
	`m,a=1, f=1 1`, `m,=1 f=1 1`, `m,a= f=1 1`, `m,a=1=2 f=1 1`, `,a=1 f=1 1`, `m, f=1`, `m,a f=1`, `m,a=1,b f=1`, `m,a,b f=1 1`, `m,a=b=c=d f=1 1`,
	`m f=1, 1`, `m f= 1`, `m f=1 1 2`, `m f=1 -`, `m f=1 1x`, `m f=1 --1`, `m f=1i` + "\t1", `m f=1` + "\t" + `g=2 1`,
	`m f`, `m f=`, `m f 1 1`, `m a,1 1`, `m f=1 1 x`, `m f="a"1`, `m =1`, `m f=1,=2`, `m f==1`, `m f=1,,g=2`, `m ,f=1`,
	`m f="a"x 1`, `m f="a,b c" 1`, `m f="a`, `m f="a\"b" 1`, `m f="a\\" 1`, `m f="a` + "\r" + `" 1`, `m f="a\b" 1`, `m f="` + "\x01" + `"`,
	`m f=NaN 1`, `m f=1e999 1`, `m f=99999999999999999999i 1`, `m f=-1u 1`, `m f=tru 1`, `m f=.5 1`, `m f=-.5e3 1`,
	`m f=0x1p-2 1`, `m f=1_0 1`, `m f=inf 1`, `m f=+1 1`, `m f=1ii 1`, `m f=i 1`, `m f=-i 1`, `m f=TRUE,g=False,h=t 1`,
	`m f=1 99999999999999999999`, `m f=1 -9223372036854775807`, `m f=1 9223372036854775806`, `m f=1 9223372036854775`,
	`c=pu,t="v" "f"=1 1`, `m\ x f=1 1`, `m\,a=b f=1 1`, `m,a=b\,c=d f=1 1`, `m\a,b\c=d\e f\g=1 1`,
	`m,a=b\ c f=1 1`, `m,a=1 f\=g=1 1`, `m f=1,g\,h=2 1`, `m,a\=b=c f=1 1`,
	`mé,tä=vö fü="ß" 1`, "m\xff f=1 1", "m,a=\xc3 f=1 1", "m,\xc3=a f=1 1", "m f\xc3=1 1", "m f=\"\xff\" 1",
	"m\x01 f=1 1", "m,a=\x7f f=1 1", "m,a\x7f=1 f=1 1", "m f\x1f=1 1", "m f=\"\x01\" 1", "m\r f=1 1", "m f=1\rg=2 1", "m f=1 1\r2",
}

// simpleLineBodies returns bodies testing line: alone, after a good line,
// and twice (the second time its series may be known).
func simpleLineBodies(line string) []string {
	return []string{line, "m,a=1 f=1i 1\n" + line + "\n", line + "\n" + line, line + "\r\n\n" + line + "\n",
		"m,a=1 f=1i,g=2i,h=3i 1\n" + line + "\n"}
}

// FuzzParseSimpleLines checks that Parse gives the same points and errors
// (lines, messages, dropped count) as a Parser that reads every line with
// the line-protocol/v2 decoder, whole and in chunks: parseSimpleLine must
// never accept what the decoder refuses, read a line differently, or
// shift the line numbers of the errors after it.
func FuzzParseSimpleLines(f *testing.F) {
	for _, line := range simpleLines {
		for _, body := range simpleLineBodies(line) {
			f.Add([]byte(body), int64(0))
		}
	}
	f.Add([]byte(tagKeyChangesBody), int64(0))
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte, chunk int64) {
		if len(body) > maxFuzzInput {
			t.Skip("input larger than maxFuzzInput")
		}
		compareWithDecoderParser(t, body, int(uint64(chunk)%3))
	})
}

// TestParseSimpleLinesMatchDecoder runs FuzzParseSimpleLines' check on its
// seeds with every chunk size, in every test run.
func TestParseSimpleLinesMatchDecoder(t *testing.T) {
	for _, line := range simpleLines {
		for _, body := range simpleLineBodies(line) {
			for chunk := range 3 {
				compareWithDecoderParser(t, []byte(body), chunk)
			}
		}
	}
}

// tagKeyChangesBody is a body of lines that each start a series, as a batch
// of new series does, whose tag keys are those of the line before or
// differ from them a little: parseSimpleLine recognises the previous
// line's keys by their bytes and reuses their order.
const tagKeyChangesBody = "m,b=1,a=2 f=1 1\n" +
	"m,b=3,a=4 f=1 1\n" + // the same keys
	"m,bb=3,a=4 f=1 1\n" + // a longer first key with the same start
	"m,bb=5,a=6 f=1 1\n" +
	"m,b=5,a=6 f=1 1\n" + // a shorter one
	"m,b=5,aa=6 f=1 1\n" +
	"m,b=7 f=1 1\n" + // fewer tags
	"m,b=7,a=8,c=9 f=1 1\n" + // more
	"m,b=8,a=8,c=9 f=1 1\n" +
	"m,c=9,b=8,a=7 f=1 1\n" + // the same keys in another order
	"m,b=1,a=2,a=3 f=1 1\n" + // a repeated key
	"m,b=1,a=2 f=1 1\n" +
	"m,b=1,b=2 f=1 1\n" +
	"m,b=2,a=2 f=1 1\n" +
	"m,b=2,a= f=1 1\n" + // no value
	"m,b=2,a==1 f=1 1\n" +
	"m,b=2,a f=1 1\n" +
	"m,b=2,a=1 f=1 1\n" +
	"n,b=3,a=1 f=1 1\n" + // another measurement
	"nn,b=3,a=1 f=1 1\n" +
	"m,b=3,\u00e9=1 f=1 1\n" + // a UTF-8 key, then its line's keys again
	"m,b=4,\u00e9=\u00e8 f=1 1\n" +
	"m,b=4,\u00e9=\xff f=1 1\n" + // not UTF-8
	"m,b=5,\u00e9=2 f=1 1\n" +
	"m,b=abcdefghijklmnop,a=qrstuvwxyz012345 f=1 1\n" + // long tokens, then bytes the simple form refuses in them
	"m,b=abcdefghijklm\x7fop,a=qrstuvwxyz012345 f=1 1\n" +
	"m,b=abcdefghijklmnop,a=qrstuvwxyz01234\\5 f=1 1\n" +
	"m,b=abcdefgh=jklmnop,a=qrstuvwxyz012345 f=1 1\n" +
	"m,b=abcdefghijklmnop,a=qrstuvwxyz0123\t5 f=1 1\n" +
	"m,b=abcdefghijklmnop,a=qrstuvwxyz012\u00e9 f=1 1\n" +
	"m,b=abcdefghijklmnop,a=qrstuvwxyz012\xe9 f=1 1\n" +
	"m f=1 1\n" + // no tags
	"m f=2 2\n" +
	"m,a=1 f=1 1\n"

// TestParseSimpleLinesTagKeyChanges checks that lines whose tag keys
// change from one line to the next give the decoder's points, whole and
// in chunks.
func TestParseSimpleLinesTagKeyChanges(t *testing.T) {
	for chunk := range 4 {
		compareWithDecoderParser(t, []byte(tagKeyChangesBody), chunk)
	}
}

// checkPointKey fails unless p's Key is the series key of its measurement
// and tags.
func checkPointKey(t *testing.T, p *models.Point) {
	t.Helper()
	if want := models.AppendSeriesKey(nil, p.Measurement, p.Tags); p.Key == nil || string(p.Key) != string(want) {
		t.Fatalf("point %s: Key %q, want %q", p.String(), p.Key, want)
	}
}

// compareWithDecoderParser parses body with a Parser and with
// NewDecoderParser, chunk lines at a time (all at once when 0), and fails
// on any difference.
func compareWithDecoderParser(t *testing.T, body []byte, chunk int) {
	t.Helper()
	parse := func(p *models.Parser) (string, string) {
		p.Start(body, models.PrecisionSecond, 1_700_000_000_000_000_000)
		var out strings.Builder
		for {
			pts := p.Next(chunk)
			if len(pts) == 0 {
				break
			}
			for i := range pts {
				fmt.Fprintf(&out, "%s|%d tags|%d fields\n", pts[i].String(), len(pts[i].Tags), len(pts[i].Fields))
				checkPointKey(t, &pts[i])
			}
		}
		var msg string
		if err := p.Err(); err != nil {
			var pe *models.PartialParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse: got error of type %T (%v); want *PartialParseError", err, err)
			}
			msg = fmt.Sprintf("%v (%d lines listed)", err, len(pe.Lines))
		}
		return out.String(), msg
	}
	var simple models.Parser
	gotPts, gotErr := parse(&simple)
	wantPts, wantErr := parse(models.NewDecoderParser())
	if gotPts != wantPts || gotErr != wantErr {
		t.Fatalf("body %q in chunks of %d:\ngot points\n%s error %q\nwant (decoder)\n%s error %q", body, chunk, gotPts, gotErr, wantPts, wantErr)
	}
}
