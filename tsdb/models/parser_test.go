package models_test

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/strata-db/strata/tsdb/models"
)

const testNow = int64(1_700_000_000_123_456_789)

// pt builds an expected point; tags are key,value pairs in sorted order.
func pt(m string, tags []string, fields []models.Field, ts int64) models.Point {
	p := models.Point{Measurement: []byte(m), Fields: fields, Time: ts}
	for i := 0; i+1 < len(tags); i += 2 {
		p.Tags = append(p.Tags, models.Tag{Key: []byte(tags[i]), Value: []byte(tags[i+1])})
	}
	return p
}

func fld(k string, v models.Value) models.Field { return models.Field{Key: []byte(k), Value: v} }

func f64(f float64) models.Value          { return models.FloatValue(f) }
func i64(i int64) models.Value            { return models.IntegerValue(i) }
func u64(u uint64) models.Value           { return models.UnsignedValue(u) }
func str(s string) models.Value           { return models.StringValue([]byte(s)) }
func boolean(b bool) models.Value         { return models.BooleanValue(b) }
func tg(kv ...string) []string            { return kv }
func fs(f ...models.Field) []models.Field { return f }

func pointsEqual(a, b models.Point) bool {
	if string(a.Measurement) != string(b.Measurement) || a.Time != b.Time ||
		len(a.Tags) != len(b.Tags) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Tags {
		if string(a.Tags[i].Key) != string(b.Tags[i].Key) || string(a.Tags[i].Value) != string(b.Tags[i].Value) {
			return false
		}
	}
	for i := range a.Fields {
		if string(a.Fields[i].Key) != string(b.Fields[i].Key) || !a.Fields[i].Value.Equal(b.Fields[i].Value) {
			return false
		}
	}
	return true
}

func formatPoints(ps []models.Point) string {
	var b strings.Builder
	for i := range ps {
		b.WriteString(ps[i].String())
		b.WriteString("\n")
	}
	return b.String()
}

func checkPoints(t *testing.T, got, want []models.Point) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = pointsEqual(got[i], want[i])
	}
	if !ok {
		t.Errorf("points:\ngot:\n%swant:\n%s", formatPoints(got), formatPoints(want))
	}
}

func TestParseGoodLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		prec models.Precision
		want []models.Point
	}{
		{"float", "m f=1.5 10", 1, []models.Point{pt("m", nil, fs(fld("f", f64(1.5))), 10)}},
		{"float integer form", "m f=1 10", 1, []models.Point{pt("m", nil, fs(fld("f", f64(1))), 10)}},
		{"float exponent", "m f=-1.5e-3 10", 1, []models.Point{pt("m", nil, fs(fld("f", f64(-1.5e-3))), 10)}},
		{"integer", "m f=-42i 10", 1, []models.Point{pt("m", nil, fs(fld("f", i64(-42))), 10)}},
		{"integer min", "m f=-9223372036854775808i 10", 1, []models.Point{pt("m", nil, fs(fld("f", i64(math.MinInt64))), 10)}},
		{"unsigned", "m f=18446744073709551615u 10", 1, []models.Point{pt("m", nil, fs(fld("f", u64(math.MaxUint64))), 10)}},
		{"string", `m f="hello world" 10`, 1, []models.Point{pt("m", nil, fs(fld("f", str("hello world"))), 10)}},
		{"empty string", `m f="" 10`, 1, []models.Point{pt("m", nil, fs(fld("f", str(""))), 10)}},
		{"booleans", "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE 10", 1, []models.Point{pt("m", nil, fs(
			fld("a", boolean(true)), fld("b", boolean(true)), fld("c", boolean(true)), fld("d", boolean(true)), fld("e", boolean(true)),
			fld("f", boolean(false)), fld("g", boolean(false)), fld("h", boolean(false)), fld("i", boolean(false)), fld("j", boolean(false))), 10)}},
		{"tags sorted", "m,z=1,a=2,m=3 f=1i 10", 1, []models.Point{pt("m", tg("a", "2", "m", "3", "z", "1"), fs(fld("f", i64(1))), 10)}},
		{"duplicate field last wins", "m a=1i,b=2i,a=3i 10", 1, []models.Point{pt("m", nil, fs(fld("a", i64(3)), fld("b", i64(2))), 10)}},
		{"duplicate field type change", `m a=1i,a="x" 10`, 1, []models.Point{pt("m", nil, fs(fld("a", str("x"))), 10)}},
		{"missing timestamp", "m f=1i", 1, []models.Point{pt("m", nil, fs(fld("f", i64(1))), testNow)}},
		{"missing timestamp trailing space", "m f=1i  \n", 1, []models.Point{pt("m", nil, fs(fld("f", i64(1))), testNow)}},
		{"missing timestamp truncated to s", "m f=1i", models.PrecisionSecond, []models.Point{pt("m", nil, fs(fld("f", i64(1))), testNow/1e9*1e9)}},
		{"negative timestamp", "m f=1i -5", 1, []models.Point{pt("m", nil, fs(fld("f", i64(1))), -5)}},
		{"max timestamp", "m f=1i 9223372036854775806", 1, []models.Point{pt("m", nil, fs(fld("f", i64(1))), models.MaxNanoTime)}},
		{"min timestamp", "m f=1i -9223372036854775806", 1, []models.Point{pt("m", nil, fs(fld("f", i64(1))), models.MinNanoTime)}},
		{"precision us", "m f=1i 7", models.PrecisionMicrosecond, []models.Point{pt("m", nil, fs(fld("f", i64(1))), 7e3)}},
		{"precision ms", "m f=1i 7", models.PrecisionMillisecond, []models.Point{pt("m", nil, fs(fld("f", i64(1))), 7e6)}},
		{"precision s", "m f=1i 7", models.PrecisionSecond, []models.Point{pt("m", nil, fs(fld("f", i64(1))), 7e9)}},
		{"precision m", "m f=1i 7", models.PrecisionMinute, []models.Point{pt("m", nil, fs(fld("f", i64(1))), 7*60e9)}},
		{"precision h", "m f=1i -7", models.PrecisionHour, []models.Point{pt("m", nil, fs(fld("f", i64(1))), -7*3600e9)}},
		{"precision zero means ns", "m f=1i 7", 0, []models.Point{pt("m", nil, fs(fld("f", i64(1))), 7)}},
		{"empty body", "", 1, nil},
		{"only blank lines comments spaces", "\n   \n# a comment, with = stuff\n\r\n", 1, nil},
		{"blank lines and comments between", "\n# c\nm f=1i 1\n\n# c2\n  \nm f=2i 2\n", 1, []models.Point{
			pt("m", nil, fs(fld("f", i64(1))), 1), pt("m", nil, fs(fld("f", i64(2))), 2)}},
		{"crlf", "m,t=a f=1i 1\r\nm,t=b f=2i 2\r\n", 1, []models.Point{
			pt("m", tg("t", "a"), fs(fld("f", i64(1))), 1), pt("m", tg("t", "b"), fs(fld("f", i64(2))), 2)}},
		{"crlf no timestamp", "m f=1i\r\nm f=2i\r\n", 1, []models.Point{
			pt("m", nil, fs(fld("f", i64(1))), testNow), pt("m", nil, fs(fld("f", i64(2))), testNow)}},
		{"no trailing newline", "m f=1i 1\nm f=2i 2", 1, []models.Point{
			pt("m", nil, fs(fld("f", i64(1))), 1), pt("m", nil, fs(fld("f", i64(2))), 2)}},
		// Escapes.
		{"measurement escaped comma space", `c\,p\ u f=1i 1`, 1, []models.Point{pt("c,p u", nil, fs(fld("f", i64(1))), 1)}},
		{"measurement literal equals quote", `a=b"c f=1i 1`, 1, []models.Point{pt(`a=b"c`, nil, fs(fld("f", i64(1))), 1)}},
		{"measurement backslash literal", `a\b f=1i 1`, 1, []models.Point{pt(`a\b`, nil, fs(fld("f", i64(1))), 1)}},
		{"measurement double backslash then space", `a\\ b f=1i 1`, 1, []models.Point{pt(`a\ b`, nil, fs(fld("f", i64(1))), 1)}},
		{"tag key escapes", `m,k\,e\=y\ z=v f=1i 1`, 1, []models.Point{pt("m", tg("k,e=y z", "v"), fs(fld("f", i64(1))), 1)}},
		{"tag value escapes", `m,k=v\,a\=l\ ue f=1i 1`, 1, []models.Point{pt("m", tg("k", "v,a=l ue"), fs(fld("f", i64(1))), 1)}},
		{"tag value quotes literal", `m,k="v" f=1i 1`, 1, []models.Point{pt("m", tg("k", `"v"`), fs(fld("f", i64(1))), 1)}},
		{"tag value backslash literal", `m,k=a\b f=1i 1`, 1, []models.Point{pt("m", tg("k", `a\b`), fs(fld("f", i64(1))), 1)}},
		{"field key escapes", `m f\,i\=e\ ld=1i 1`, 1, []models.Point{pt("m", nil, fs(fld("f,i=e ld", i64(1))), 1)}},
		{"field key quote literal", `m "f"=1i 1`, 1, []models.Point{pt("m", nil, fs(fld(`"f"`, i64(1))), 1)}},
		{"string escapes", `m f="a\"b\\c" 1`, 1, []models.Point{pt("m", nil, fs(fld("f", str(`a"b\c`))), 1)}},
		{"string newline escapes", `m f="a\nb\tc\rd" 1`, 1, []models.Point{pt("m", nil, fs(fld("f", str("a\nb\tc\rd"))), 1)}},
		{"string other backslash literal", `m f="a\b" 1`, 1, []models.Point{pt("m", nil, fs(fld("f", str(`a\b`))), 1)}},
		{"string with separators", `m f="a, b=c d" 1`, 1, []models.Point{pt("m", nil, fs(fld("f", str("a, b=c d"))), 1)}},
		{"string raw newline", "m f=\"a\nb\" 1\nm g=1i 2", 1, []models.Point{
			pt("m", nil, fs(fld("f", str("a\nb"))), 1), pt("m", nil, fs(fld("g", i64(1))), 2)}},
		{"utf8", "mé,tä=vö fü=\"ß\" 1", 1, []models.Point{pt("mé", tg("tä", "vö"), fs(fld("fü", str("ß"))), 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p models.Parser
			got, err := p.Parse([]byte(tc.in), tc.prec, testNow)
			if err != nil {
				t.Fatalf("Parse(%q): got error %v; want none", tc.in, err)
			}
			checkPoints(t, got, tc.want)
		})
	}
}

func TestParseBadLines(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		prec      models.Precision
		wantLines []int
		wantIs    error  // optional sentinel every line error wraps
		wantSub   string // optional substring of the first line error
		wantGood  int
	}{
		{"duplicate tag", "m,a=1,b=2,a=3 f=1i 1", 1, []int{1}, models.ErrDuplicateTagKey, `"a"`, 0},
		{"duplicate tag middle", "m f=1i 1\nm,a=1,a=1 f=1i 2\nm f=1i 3", 1, []int{2}, models.ErrDuplicateTagKey, "", 2},
		{"duplicate escaped tags no timestamp", "m f=1i 1\n\nm\\ x,a\\ b=1,a\\ b=2 f\\ g=1i\nm f=1i 3", 1, []int{3}, models.ErrDuplicateTagKey, "", 2},
		{"no fields", "m f=1i 1\nm 2\nm f=1i 3", 1, []int{2}, nil, "", 2},
		{"no fields no space", "m\nm,t=v\nm f=1i", 1, []int{1, 2}, nil, "", 1},
		{"empty measurement", "m f=1i 1\n,t=v f=1i 2", 1, []int{2}, nil, "", 1},
		{"space measurement", " f=1i 2", 1, []int{1}, nil, "", 0},
		{"empty tag value", "m,t= f=1i 2", 1, []int{1}, nil, "", 0},
		{"empty tag key", "m,=v f=1i 2", 1, []int{1}, nil, "", 0},
		{"bad float", "m f=1.2.3 1", 1, []int{1}, nil, "", 0},
		{"float overflow", "m f=1e999 1", 1, []int{1}, lineprotocol.ErrValueOutOfRange, "", 0},
		{"nan", "m f=NaN 1", 1, []int{1}, nil, "", 0},
		{"inf", "m f=-Inf 1", 1, []int{1}, nil, "", 0},
		{"integer overflow", "m f=9223372036854775808i 1", 1, []int{1}, lineprotocol.ErrValueOutOfRange, "", 0},
		{"negative unsigned", "m f=-1u 1", 1, []int{1}, nil, "", 0},
		{"bad bool", "m f=tru 1", 1, []int{1}, nil, "", 0},
		{"unterminated string", "m f=\"abc 1", 1, []int{1}, nil, "", 0},
		{"bad timestamp", "m f=1i 12a", 1, []int{1}, nil, "", 0},
		{"timestamp minus in middle", "m f=1i 1-2", 1, []int{1}, models.ErrInvalidTimestamp, "", 0},
		{"timestamp overflow int64", "m f=1i 9223372036854775808", 1, []int{1}, models.ErrTimestampOutOfRange, "", 0},
		{"timestamp overflow precision s", "m f=1i 1\nm f=1i 9223372036854776\nm f=1i 3", models.PrecisionSecond, []int{2}, models.ErrTimestampOutOfRange, "", 2},
		{"timestamp overflow precision h negative", "m f=1i -2562048", models.PrecisionHour, []int{1}, models.ErrTimestampOutOfRange, "", 0},
		{"timestamp max int64", "m f=1i 1\nm f=1i 9223372036854775807", 1, []int{2}, models.ErrTimestampOutOfRange, "line 2: time outside range -9223372036854775806 - 9223372036854775806", 1},
		{"timestamp min int64", "m f=1i -9223372036854775808", 1, []int{1}, models.ErrTimestampOutOfRange, "time outside range", 0},
		{"timestamp min int64 + 1", "m f=1i -9223372036854775807", 1, []int{1}, models.ErrTimestampOutOfRange, "time outside range", 0},
		{"series key one byte too long", "m f=1i 1\nm,t=" + strings.Repeat("v", models.MaxKeyLength-3) + " f=1i 1", 1, []int{2}, models.ErrKeyTooLong,
			"line 2: max key length exceeded: series key of 65536 bytes > 65535", 1},
		{"series key too long by escapes", "m,t=" + strings.Repeat(`\ `, models.MaxKeyLength/2) + " f=1i 1", 1, []int{1}, models.ErrKeyTooLong, "", 0},
		{"field key too long", "m " + strings.Repeat("f", models.MaxKeyLength+1) + "=1i 1", 1, []int{1}, models.ErrKeyTooLong, "field key of 65536 bytes", 0},
		{"text after timestamp", "m f=1i 1 x", 1, []int{1}, nil, "", 0},
		{"invalid utf8 measurement", "m\xff f=1i 1", 1, []int{1}, nil, "utf-8", 0},
		{"invalid utf8 tag", "m,t=\xff f=1i 1", 1, []int{1}, nil, "utf-8", 0},
		{"invalid utf8 string", "m f=\"\xff\" 1", 1, []int{1}, nil, "utf-8", 0},
		{"control char", "m\x01 f=1i 1", 1, []int{1}, nil, "", 0},
		{"many bad lines among good", "a f=1i 1\nbad\nb f=1i 2\nc f=\n\nd f=1i 3\n e", 1, []int{2, 4, 7}, nil, "", 3},
		{"bad after multi-line string", "m f=\"x\ny\" 1\nm,a=1,a=2 f=1i 2\n", 1, []int{3}, models.ErrDuplicateTagKey, "", 1},
		{"dup tag multi-line string before timestamp", "m f=1i 1\nm\\ x,a\\ b=1,a\\ b=2 s=\"x\ny\" 5\n", 1, []int{2}, models.ErrDuplicateTagKey, "", 1},
		{"crlf bad line", "m f=1i 1\r\nbad\r\nm f=1i 2\r\n", 1, []int{2}, nil, "", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p models.Parser
			got, err := p.Parse([]byte(tc.in), tc.prec, testNow)
			var pe *models.PartialParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): got error %v; want *PartialParseError", tc.in, err)
			}
			if len(got) != tc.wantGood {
				t.Errorf("Parse(%q): got %d good points; want %d", tc.in, len(got), tc.wantGood)
			}
			if pe.Dropped != len(tc.wantLines) {
				t.Errorf("Parse(%q): got Dropped=%d; want %d", tc.in, pe.Dropped, len(tc.wantLines))
			}
			var lines []int
			for _, le := range pe.Lines {
				lines = append(lines, le.Line)
				if tc.wantIs != nil && !errors.Is(le, tc.wantIs) {
					t.Errorf("line %d: got error %v; want one wrapping %v", le.Line, le.Err, tc.wantIs)
				}
			}
			if !slicesEqual(lines, tc.wantLines) {
				t.Errorf("Parse(%q): got bad lines %v; want %v (err: %v)", tc.in, lines, tc.wantLines, err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false; want true", err, tc.wantIs)
			}
			if tc.wantSub != "" && !strings.Contains(err.Error(), tc.wantSub) {
				t.Errorf("error %q: want it to contain %q", err.Error(), tc.wantSub)
			}
			if !strings.HasPrefix(err.Error(), "partial write: ") || !strings.HasSuffix(err.Error(), " dropped="+strconv.Itoa(len(tc.wantLines))) {
				t.Errorf("error %q: want prefix %q and suffix %q", err.Error(), "partial write: ", " dropped="+strconv.Itoa(len(tc.wantLines)))
			}
		})
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseDecodeErrorKeepsColumn(t *testing.T) {
	var p models.Parser
	_, err := p.Parse([]byte("m f=1i 1\nm f=x 2\n"), 1, testNow)
	var de *lineprotocol.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("got error %v; want one wrapping *lineprotocol.DecodeError", err)
	}
	if de.Line != 2 || de.Column != 5 {
		t.Errorf("got line %d column %d; want line 2 column 5", de.Line, de.Column)
	}
	if want := "line 2:5: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q: want it to contain %q", err.Error(), want)
	}
}

func TestParseCapsLineErrors(t *testing.T) {
	body := strings.Repeat("bad\n", 1000) + "m f=1i 1\n"
	var p models.Parser
	got, err := p.Parse([]byte(body), 1, testNow)
	var pe *models.PartialParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v; want *PartialParseError", err)
	}
	if pe.Dropped != 1000 || len(pe.Lines) != 100 || len(got) != 1 {
		t.Errorf("got Dropped=%d len(Lines)=%d points=%d; want 1000, 100, 1", pe.Dropped, len(pe.Lines), len(got))
	}
	if last := pe.Lines[len(pe.Lines)-1].Line; last != 100 {
		t.Errorf("got last kept line %d; want 100", last)
	}
}

// TestParserReuse checks that a second Parse does not corrupt the first's
// results beyond the documented contract, and that results of one call are
// independent of the body (the body may be reused by the caller).
func TestParserReuse(t *testing.T) {
	var p models.Parser
	body := []byte("cpu,host=a,region=x usage=1.5,idle=2i 10\nmem,host=b free=3u 20\n")
	got, err := p.Parse(body, 1, testNow)
	if err != nil {
		t.Fatalf("Parse: got error %v; want none", err)
	}
	want := []models.Point{
		pt("cpu", tg("host", "a", "region", "x"), fs(fld("usage", f64(1.5)), fld("idle", i64(2))), 10),
		pt("mem", tg("host", "b"), fs(fld("free", u64(3))), 20),
	}
	// Overwrite the body: the points must not refer to it.
	for i := range body {
		body[i] = 'X'
	}
	checkPoints(t, got, want)
	got2, err := p.Parse([]byte("a,t=1 f=\"s\" 1\n"), 1, testNow)
	if err != nil {
		t.Fatalf("second Parse: got error %v; want none", err)
	}
	checkPoints(t, got2, []models.Point{pt("a", tg("t", "1"), fs(fld("f", str("s"))), 1)})
	// Appending to one point's tags or fields must not clobber a neighbour.
	got3, _ := p.Parse([]byte("a,t=1 f=1i 1\nb,u=2 g=2i 2\n"), 1, testNow)
	_ = append(got3[0].Tags, models.Tag{Key: []byte("zz"), Value: []byte("zz")})
	_ = append(got3[0].Fields, models.Field{Key: []byte("zz")})
	_ = append(got3[0].Measurement, "zzzz"...)
	checkPoints(t, got3[1:], []models.Point{pt("b", tg("u", "2"), fs(fld("g", i64(2))), 2)})
}

// TestParserReuseRewrittenBody checks that a body rewritten in place
// between two Parse calls is read afresh: the parser remembers the last
// timestamp text of a body (a slice of it) only while parsing that body.
func TestParserReuseRewrittenBody(t *testing.T) {
	var p models.Parser
	body := []byte("m f=1i 5\n")
	if _, err := p.Parse(body, 1, testNow); err != nil {
		t.Fatal(err)
	}
	body[7] = '7'
	got, err := p.Parse(body, 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	checkPoints(t, got, []models.Point{pt("m", nil, fs(fld("f", i64(1))), 7)})
}

func TestParsePrecision(t *testing.T) {
	tests := []struct {
		in   string
		want models.Precision
	}{
		{"", 1}, {"n", 1}, {"ns", 1}, {"u", 1e3}, {"us", 1e3}, {"µ", 1e3}, {"µs", 1e3},
		{"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
	}
	for _, tc := range tests {
		got, err := models.ParsePrecision(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePrecision(%q) = %d, %v; want %d, nil", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"x", "NS", "d", "sec"} {
		if _, err := models.ParsePrecision(bad); !errors.Is(err, models.ErrInvalidPrecision) {
			t.Errorf("ParsePrecision(%q): got error %v; want ErrInvalidPrecision", bad, err)
		}
	}
}

func TestMissingTimestampNegativeNowTruncatesDown(t *testing.T) {
	var p models.Parser
	got, err := p.Parse([]byte("m f=1i"), models.PrecisionSecond, -1_500_000_000)
	if err != nil {
		t.Fatalf("Parse: got error %v; want none", err)
	}
	if want := int64(-2_000_000_000); len(got) != 1 || got[0].Time != want {
		t.Errorf("got %v; want one point at %d", got, want)
	}
}

func TestParseSteadyStateAllocs(t *testing.T) {
	var body []byte
	for i := range 500 {
		body = append(body, "cpu,region=eu,host=h"...)
		body = strconv.AppendInt(body, int64(i), 10)
		body = append(body, ` usage=1.5,idle=2i,n=3u,ok=t,s="x\"y" 1700000000000000000`+"\n"...)
	}
	var p models.Parser
	if _, err := p.Parse(body, 1, 0); err != nil {
		t.Fatalf("Parse: got error %v; want none", err)
	}
	// line-protocol/v2 has no Decoder.Reset: building one per body costs a
	// single 512-byte allocation, independent of the number of points.
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := p.Parse(body, 1, 0); err != nil {
			t.Fatalf("Parse: got error %v; want none", err)
		}
	})
	if allocs > 1 {
		t.Errorf("Parse of 500 lines in steady state: got %v allocs; want <= 1", allocs)
	}
}

// TestParseTagOrderCache exercises the reuse of the previous line's tag
// permutation: same order, another order, a repeated key in the cached
// order, and a rolled-back line in between.
func TestParseTagOrderCache(t *testing.T) {
	in := "m,z=1,a=2,m=3 f=1i 1\n" +
		"m,z=4,a=5,m=6 f=1i 2\n" + // same order: cached permutation
		"m,a=7,m=8,z=9 f=1i 3\n" + // already sorted: new permutation
		"m,z=1,a=2,z=3 f=1i 4\n" + // repeated key
		"m,z=1,a=2,m=3 f=bad 5\n" + // sorts, then fails: cache dropped
		"m,z=1,a=2,m=3 f=1i 6\n" +
		"m,z=x,a=y f=1i 7\n" + // fewer tags
		"m,q=1,p=2,o=3,n=4,m=5,l=6,k=7,j=8,i=9,h=10,g=11,f=12,e=13,d=14,c=15,b=16,a=17,zz=18 f=1i 8\n"
	var p models.Parser
	got, err := p.Parse([]byte(in), 1, 0)
	var pe *models.PartialParseError
	if !errors.As(err, &pe) || pe.Dropped != 2 || pe.Lines[0].Line != 4 || pe.Lines[1].Line != 5 {
		t.Fatalf("got error %v; want lines 4 and 5 rejected", err)
	}
	one := fs(fld("f", i64(1)))
	want := []models.Point{
		pt("m", tg("a", "2", "m", "3", "z", "1"), one, 1),
		pt("m", tg("a", "5", "m", "6", "z", "4"), one, 2),
		pt("m", tg("a", "7", "m", "8", "z", "9"), one, 3),
		pt("m", tg("a", "2", "m", "3", "z", "1"), one, 6),
		pt("m", tg("a", "y", "z", "x"), one, 7),
		pt("m", tg("a", "17", "b", "16", "c", "15", "d", "14", "e", "13", "f", "12", "g", "11", "h", "10", "i", "9",
			"j", "8", "k", "7", "l", "6", "m", "5", "n", "4", "o", "3", "p", "2", "q", "1", "zz", "18"), one, 8),
	}
	checkPoints(t, got, want)
}

// TestParseSharesRepeatedSeries checks the series cache: a line whose
// measurement and tags are byte for byte an earlier good line's shares that
// point's tags (no copy), while lines that differ only in tag order, carry
// escapes, or are bad parse as on their own.
func TestParseSharesRepeatedSeries(t *testing.T) {
	in := "cpu,host=a,dc=x v=1 1\n" +
		"cpu,dc=x,host=a v=2 2\n" + // same series, other text: sorted, not shared
		"cpu,host=a,dc=x v=3,w=1 3\n" + // shares line 1
		"cpu,host=a,host=b v=1 4\n" + // bad: repeated key
		"cpu,host=a,host=b v=1 5\n" + // the same bad text is still bad
		"cpu,host=a\\ b v=1 6\n" + // escaped: parsed on its own
		"cpu,host=a\\ b v=2 7\n" +
		"cpu,host=a,dc=x w=2,v=4 8\n" // shares line 1; other field order
	var p models.Parser
	got, err := p.Parse([]byte(in), 1, 0)
	var pe *models.PartialParseError
	if !errors.As(err, &pe) || pe.Dropped != 2 || pe.Lines[0].Line != 4 || pe.Lines[1].Line != 5 {
		t.Fatalf("got error %v; want lines 4 and 5 rejected", err)
	}
	ax := tg("dc", "x", "host", "a")
	want := []models.Point{
		pt("cpu", ax, fs(fld("v", models.FloatValue(1))), 1),
		pt("cpu", ax, fs(fld("v", models.FloatValue(2))), 2),
		pt("cpu", ax, fs(fld("v", models.FloatValue(3)), fld("w", models.FloatValue(1))), 3),
		pt("cpu", tg("host", "a b"), fs(fld("v", models.FloatValue(1))), 6),
		pt("cpu", tg("host", "a b"), fs(fld("v", models.FloatValue(2))), 7),
		pt("cpu", ax, fs(fld("w", models.FloatValue(2)), fld("v", models.FloatValue(4))), 8),
	}
	checkPoints(t, got, want)
	if &got[2].Tags[0] != &got[0].Tags[0] || &got[5].Tags[0] != &got[0].Tags[0] {
		t.Errorf("lines 3 and 8 repeat line 1's series text but do not share its tags")
	}
	if &got[1].Tags[0] == &got[0].Tags[0] {
		t.Errorf("line 2 shares line 1's tags though its text differs")
	}
}

// TestParseInChunks checks that Start/Next/Err give, chunk by chunk, exactly
// the points and errors Parse gives for the whole body, whatever the chunk
// size, including bad lines, escapes, strings with newlines and repeated
// series across chunk boundaries.
func TestParseInChunks(t *testing.T) {
	var body []byte
	for i := range 300 {
		switch i % 7 {
		case 3:
			body = fmt.Appendf(body, "cpu,host=h%d v=oops %d\n", i%5, i) // bad value
		case 5:
			body = fmt.Appendf(body, "cpu,host=h\\ %d s=\"two\nlines\",v=%di\n", i%3, i) // escape, newline, no time
		default:
			body = fmt.Appendf(body, "cpu,host=h%d,dc=x v=%d,w=%di %d\n", i%5, i, i, i)
		}
	}
	var whole models.Parser
	wantPts, wantErr := whole.Parse(body, 1, 42)
	var want []models.Point
	for i := range wantPts {
		want = append(want, wantPts[i].Clone())
	}
	for _, chunk := range []int{1, 2, 7, 64, 299, 1000} {
		var p models.Parser
		p.Start(body, 1, 42)
		var got []models.Point
		for {
			pts := p.Next(chunk)
			if len(pts) == 0 {
				break
			}
			if len(pts) > chunk {
				t.Fatalf("chunk %d: Next returned %d points", chunk, len(pts))
			}
			for i := range pts {
				got = append(got, pts[i].Clone())
			}
		}
		checkPoints(t, got, want)
		if err := p.Err(); fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("chunk %d: Err() = %v; want %v", chunk, err, wantErr)
		}
	}
}

// TestParseWideLineRepeatedFields checks that a line of many fields (past
// the point where the parser indexes them by key) keeps InfluxDB's rule
// for a repeated field key: the last value, at the first key's position.
func TestParseWideLineRepeatedFields(t *testing.T) {
	const n = 300
	var line strings.Builder
	line.WriteString("wide ")
	for i := range n {
		fmt.Fprintf(&line, "f%d=%di,", i, i)
	}
	// Repeat keys from before and after the first 64, twice for f5.
	line.WriteString("f5=-1i,f70=-70i,f299=-299i,f5=-5i 1")
	var p models.Parser
	pts, err := p.Parse([]byte(line.String()), models.PrecisionNanosecond, 0)
	if err != nil || len(pts) != 1 {
		t.Fatalf("Parse: %d points, %v; want 1, nil", len(pts), err)
	}
	fields := pts[0].Fields
	if len(fields) != n {
		t.Fatalf("got %d fields, want %d", len(fields), n)
	}
	for i, f := range fields {
		want := int64(i)
		switch i {
		case 5, 70, 299:
			want = -int64(i)
		}
		if string(f.Key) != fmt.Sprintf("f%d", i) || f.Value.Integer() != want {
			t.Fatalf("field %d: got %s=%d, want f%d=%d", i, f.Key, f.Value.Integer(), i, want)
		}
	}
}
