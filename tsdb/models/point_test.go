package models_test

import (
	"errors"
	"math"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

func TestSeriesKeyRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    string
		tags []string
		want string
	}{
		{"plain", "cpu", tg("host", "a", "region", "us"), "cpu,host=a,region=us"},
		{"no tags", "cpu", nil, "cpu"},
		{"measurement escapes", "c,p u=x", nil, `c\,p\ u=x`},
		{"tag escapes", "m", tg("k,= y", "v,= w"), `m,k\,\=\ y=v\,\=\ w`},
		{"backslashes", `m\` + "x", tg(`a\b`, `c\\d`), `m\x,a\b=c\\d`},
		{"backslash before escaped", "m", tg("k", `a\,b`), `m,k=a\\,b`},
		{"utf8", "mé", tg("tä", "vö"), "mé,tä=vö"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pt(tc.m, tc.tags, nil, 0)
			got := p.AppendSeriesKey(nil)
			if string(got) != tc.want {
				t.Fatalf("AppendSeriesKey: got %q; want %q", got, tc.want)
			}
			m, tags, err := models.ParseSeriesKey(got)
			if err != nil {
				t.Fatalf("ParseSeriesKey(%q): got error %v; want none", got, err)
			}
			back := models.Point{Measurement: m, Tags: tags}
			if !pointsEqual(back, p) {
				t.Errorf("ParseSeriesKey(%q): got %q %v; want %q %v", got, m, tags, tc.m, p.Tags)
			}
		})
	}
}

// TestSeriesKeyMatchesParser checks that the series key of a parsed line is
// its measurement-and-tags prefix in canonical form.
func TestSeriesKeyMatchesParser(t *testing.T) {
	var p models.Parser
	got, err := p.Parse([]byte(`c\,p\ u,z=1,a\ b=x\=y f=1i 1`), 1, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("Parse: got %d points, error %v; want 1, nil", len(got), err)
	}
	if key, want := string(got[0].AppendSeriesKey(nil)), `c\,p\ u,a\ b=x\=y,z=1`; key != want {
		t.Errorf("series key: got %q; want %q", key, want)
	}
}

func TestParseSeriesKeyErrors(t *testing.T) {
	for _, key := range []string{"", ",a=b", "m,", "m,a", "m,=b", "m,a=", "m,a=b,", "m,a=b,c"} {
		if m, tags, err := models.ParseSeriesKey([]byte(key)); !errors.Is(err, models.ErrInvalidSeriesKey) {
			t.Errorf("ParseSeriesKey(%q) = %q, %v, %v; want ErrInvalidSeriesKey", key, m, tags, err)
		}
	}
}

func TestAppendSeriesKeyZeroAlloc(t *testing.T) {
	p := pt(`c,pu`, tg("host", "a b", "region", "x"), nil, 0)
	dst := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(100, func() { dst = p.AppendSeriesKey(dst[:0]) })
	if allocs != 0 {
		t.Errorf("AppendSeriesKey: got %v allocs; want 0", allocs)
	}
}

func TestAppendLineRoundTrip(t *testing.T) {
	points := []models.Point{
		pt("cpu", tg("host", "a", "region", "us west"), fs(
			fld("f", f64(1.5)), fld("neg0", f64(math.Copysign(0, -1))), fld("big", f64(1e300)), fld("small", f64(5e-324)),
			fld("i", i64(math.MinInt64)), fld("u", u64(math.MaxUint64)), fld("t", boolean(true)), fld("b", boolean(false)),
			fld("s", str("a\"b\\c\nd\re\tf, =")), fld("empty", str(""))), -12345),
		pt(`we,ird =m`, tg(`k,= `, `v,= `, `z\`+"x", `\\y`), fs(fld(`f,= k`, i64(0))), models.MaxNanoTime),
	}
	var p models.Parser
	for _, want := range points {
		line := want.AppendLine(nil)
		got, err := p.Parse(line, 1, 0)
		if err != nil || len(got) != 1 {
			t.Fatalf("Parse(%q): got %d points, error %v; want 1, nil", line, len(got), err)
		}
		if !pointsEqual(got[0], want) {
			t.Errorf("round trip of %q: got %s; want %s", line, got[0].String(), want.String())
		}
	}
}

func TestPointString(t *testing.T) {
	p := pt("cpu", tg("host", "a"), fs(fld("v", f64(0.5)), fld("n", i64(3)), fld("s", str("x"))), 7)
	if got, want := p.String(), `cpu,host=a v=0.5,n=3i,s="x" 7`; got != want {
		t.Errorf("String: got %q; want %q", got, want)
	}
}

func TestPointClone(t *testing.T) {
	var p models.Parser
	got, err := p.Parse([]byte(`m,t=v a="s",b=1i 5`), 1, 0)
	if err != nil {
		t.Fatalf("Parse: got error %v; want none", err)
	}
	c := got[0].Clone()
	want := got[0].String()
	if _, err := p.Parse([]byte(`x,y=z q="r",w=2i 9`), 1, 0); err != nil {
		t.Fatalf("Parse: got error %v; want none", err)
	}
	if c.String() != want {
		t.Errorf("clone after reparse: got %q; want %q", c.String(), want)
	}
	if string(c.Key) != "m,t=v" {
		t.Errorf("clone after reparse: Key %q; want %q", c.Key, "m,t=v")
	}
}

// TestPointAppendSeriesKeyUsesKey checks that a point's Key, when set, is
// its series key, and that a point without one gets it built.
func TestPointAppendSeriesKeyUsesKey(t *testing.T) {
	p := pt("cpu x", tg("host", "a,b"), fs(fld("v", i64(1))), 1)
	if got, want := string(p.AppendSeriesKey([]byte("<"))), `<cpu\ x,host=a\,b`; got != want {
		t.Errorf("AppendSeriesKey without Key: %q; want %q", got, want)
	}
	p.Key = []byte("given")
	if got := string(p.AppendSeriesKey([]byte("<"))); got != "<given" {
		t.Errorf("AppendSeriesKey with Key %q: %q; want %q", p.Key, got, "<given")
	}
}

func TestTagsGet(t *testing.T) {
	tags := pt("m", tg("a", "1", "c", "3", "e", "5"), nil, 0).Tags
	for _, tc := range []struct{ k, want string }{{"a", "1"}, {"c", "3"}, {"e", "5"}, {"b", ""}, {"f", ""}, {"", ""}} {
		if got := tags.Get([]byte(tc.k)); string(got) != tc.want {
			t.Errorf("Get(%q) = %q; want %q", tc.k, got, tc.want)
		}
	}
}

func TestValues(t *testing.T) {
	if v := models.FloatValue(-2.5); v.Type != models.FieldTypeFloat || v.Float() != -2.5 {
		t.Errorf("FloatValue(-2.5) = %+v", v)
	}
	if v := models.IntegerValue(-7); v.Type != models.FieldTypeInteger || v.Integer() != -7 {
		t.Errorf("IntegerValue(-7) = %+v", v)
	}
	if v := models.UnsignedValue(7); v.Type != models.FieldTypeUnsigned || v.Unsigned() != 7 {
		t.Errorf("UnsignedValue(7) = %+v", v)
	}
	if v := models.BooleanValue(true); v.Type != models.FieldTypeBoolean || !v.Boolean() {
		t.Errorf("BooleanValue(true) = %+v", v)
	}
	if v := models.StringValue([]byte("x")); v.Type != models.FieldTypeString || string(v.S) != "x" {
		t.Errorf("StringValue(x) = %+v", v)
	}
	eq := []struct {
		a, b models.Value
		want bool
	}{
		{models.FloatValue(1), models.FloatValue(1), true},
		{models.FloatValue(0), models.FloatValue(math.Copysign(0, -1)), false},
		{models.FloatValue(1), models.IntegerValue(1), false},
		{models.IntegerValue(1), models.UnsignedValue(1), false},
		{models.StringValue([]byte("a")), models.StringValue([]byte("a")), true},
		{models.StringValue([]byte("a")), models.StringValue([]byte("b")), false},
		{models.BooleanValue(false), models.BooleanValue(false), true},
	}
	for _, tc := range eq {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%+v.Equal(%+v) = %v; want %v", tc.a, tc.b, got, tc.want)
		}
	}
	names := map[models.FieldType]string{
		models.FieldTypeFloat: "float", models.FieldTypeInteger: "integer", models.FieldTypeUnsigned: "unsigned",
		models.FieldTypeString: "string", models.FieldTypeBoolean: "boolean", models.FieldTypeUnknown: "unknown",
	}
	for ft, want := range names {
		if got := ft.String(); got != want {
			t.Errorf("FieldType(%d).String() = %q; want %q", ft, got, want)
		}
	}
}

func TestParseSeriesKeyAppendReusesBuffer(t *testing.T) {
	buf := make(models.Tags, 0, 4)
	m, tags, err := models.ParseSeriesKeyAppend(buf, []byte("cpu,a=1,b=2"))
	if err != nil || string(m) != "cpu" || len(tags) != 2 || string(tags[1].Value) != "2" {
		t.Fatalf("ParseSeriesKeyAppend: got %q %v %v; want cpu [a=1 b=2] nil", m, tags, err)
	}
	if &tags[0] != &buf[:1][0] {
		t.Errorf("ParseSeriesKeyAppend did not append to the given buffer")
	}
	key := []byte("cpu,a=1,b=2")
	allocs := testing.AllocsPerRun(50, func() {
		_, tags, _ = models.ParseSeriesKeyAppend(tags[:0], key)
	})
	if allocs != 0 {
		t.Errorf("ParseSeriesKeyAppend of an unescaped key: got %v allocs; want 0", allocs)
	}
}
