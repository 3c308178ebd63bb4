package index_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
)

const sampleLP = `cpu,host=a,region=us usage=1,idle=2i 1
cpu,host=b,region=us usage=1 1
cpu,host=c,region=eu usage=1 1
cpu,host=d usage=1 1
mem,host=a free=1u,ok=true,note="x" 1
`

func TestCreateAndLookup(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	ids := create(t, ix, sampleLP)
	if want := []uint64{1, 2, 3, 4, 5}; !slices.Equal(ids, want) {
		t.Fatalf("ids: got %v; want %v", ids, want)
	}
	// Same batch again: same ids, nothing new.
	if again := create(t, ix, sampleLP); !slices.Equal(again, ids) {
		t.Errorf("ids on second write: got %v; want %v", again, ids)
	}
	if n := ix.SeriesN(); n != 5 {
		t.Errorf("SeriesN: got %d; want 5", n)
	}
	if id, ok := ix.SeriesID([]byte("cpu,host=c,region=eu")); !ok || id != 3 {
		t.Errorf("SeriesID(cpu,host=c,region=eu): got %d, %v; want 3, true", id, ok)
	}
	if _, ok := ix.SeriesID([]byte("cpu,host=z")); ok {
		t.Errorf("SeriesID(cpu,host=z): got ok; want not found")
	}
	if k := string(ix.SeriesKey(5)); k != "mem,host=a" {
		t.Errorf("SeriesKey(5): got %q; want %q", k, "mem,host=a")
	}
	if k := ix.SeriesKey(99); k != nil {
		t.Errorf("SeriesKey(99): got %q; want nil", k)
	}
	if got := strs(ix.Measurements()); got != "cpu,mem" {
		t.Errorf("Measurements: got %s; want cpu,mem", got)
	}
	if got := ix.MeasurementSeriesIDs([]byte("cpu")); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Errorf("MeasurementSeriesIDs(cpu): got %v; want [1 2 3 4]", got)
	}
	if got := strs(ix.TagKeys([]byte("cpu"))); got != "host,region" {
		t.Errorf("TagKeys(cpu): got %s; want host,region", got)
	}
	if got := strs(ix.TagValues([]byte("cpu"), []byte("region"))); got != "eu,us" {
		t.Errorf("TagValues(cpu, region): got %s; want eu,us", got)
	}
	if typ, ok := ix.FieldType([]byte("cpu"), []byte("idle")); !ok || typ != models.FieldTypeInteger {
		t.Errorf("FieldType(cpu, idle): got %v, %v; want integer, true", typ, ok)
	}
	if _, ok := ix.FieldType([]byte("cpu"), []byte("free")); ok {
		t.Errorf("FieldType(cpu, free): got ok; want not found")
	}
	var fields []string
	for _, f := range ix.Fields([]byte("mem")) {
		fields = append(fields, string(f.Name)+":"+f.Type.String())
	}
	if want := []string{"free:unsigned", "note:string", "ok:boolean"}; !slices.Equal(fields, want) {
		t.Errorf("Fields(mem): got %v; want %v", fields, want)
	}
}

func TestFieldConflicts(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	create(t, ix, "cpu,host=a usage=1,idle=2i 1")
	pts := parse(t, `cpu,host=b usage=1i 1
cpu,host=c usage=2,new=1 1
cpu,host=d new=1i,other=1 1
cpu,host=e other="s" 1
cpu,host=a idle=3i 1
`)
	ids := make([]uint64, len(pts))
	for i := range ids {
		ids[i] = 99 // must be overwritten
	}
	conflicts, err := ix.CreateSeriesAndFields(pts, ids)
	if err != nil {
		t.Fatalf("CreateSeriesAndFields: got error %v; want none", err)
	}
	var got []int
	for _, c := range conflicts {
		got = append(got, c.Index)
	}
	// Point 0: usage is float. Point 2: new became float in point 1 of the
	// same batch. Point 3: other is rejected with point 2, so it is new here
	// and "s" creates it as a string.
	if want := []int{0, 2}; !slices.Equal(got, want) {
		t.Fatalf("conflicting points: got %v; want %v", got, want)
	}
	var fe *index.FieldConflictError
	if !errors.As(conflicts[0], &fe) {
		t.Fatalf("conflict error: got %T; want *index.FieldConflictError", conflicts[0].Err)
	}
	wantMsg := `field type conflict: input field "usage" on measurement "cpu" is type integer, already exists as type float`
	if fe.Error() != wantMsg {
		t.Errorf("conflict message:\ngot  %s\nwant %s", fe.Error(), wantMsg)
	}
	if fe.Measurement != "cpu" || fe.Field != "usage" || fe.Existing != models.FieldTypeFloat || fe.Got != models.FieldTypeInteger {
		t.Errorf("conflict fields: got %+v", *fe)
	}
	if ids[0] != 0 || ids[2] != 0 {
		t.Errorf("ids of rejected points: got %d, %d; want 0, 0", ids[0], ids[2])
	}
	if ids[1] == 0 || ids[3] == 0 || ids[4] != 1 {
		t.Errorf("ids of accepted points: got %v; want non-zero, and 1 for cpu,host=a", ids)
	}
	if _, ok := ix.SeriesID([]byte("cpu,host=b")); ok {
		t.Errorf("series of a rejected point was created")
	}
	if _, ok := ix.SeriesID([]byte("cpu,host=d")); ok {
		t.Errorf("series of a rejected point was created")
	}
	if typ, _ := ix.FieldType([]byte("cpu"), []byte("other")); typ != models.FieldTypeString {
		t.Errorf("field other: got type %v; want string (from the accepted point)", typ)
	}
	// The fast path (everything exists) reports conflicts too.
	pts = parse(t, "cpu,host=a idle=1 1\ncpu,host=a idle=1i 2")
	ids = make([]uint64, 2)
	conflicts, err = ix.CreateSeriesAndFields(pts, ids)
	if err != nil || len(conflicts) != 1 || conflicts[0].Index != 0 || ids[1] != 1 {
		t.Errorf("fast path: got conflicts %v, ids %v, error %v; want one conflict at 0 and id 1 for point 1", conflicts, ids, err)
	}
}

// TestFieldConflictsSharedKeys checks the field types of points whose
// field keys are the very slices of the point before, as the parser gives
// them (see fieldMemo): recognised by address, their types must still be
// checked, on the hot path (every series exists) and when series are new.
func TestFieldConflictsSharedKeys(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	create(t, ix, "cpu,host=a usage=1,idle=2i 1")
	for _, tc := range []struct{ name, lp string }{
		{"hot path", "cpu,host=a usage=1,idle=2i 1\ncpu,host=a usage=1i,idle=2i 2\ncpu,host=a usage=1,idle=3 3\ncpu,host=a usage=1,idle=2i 4\n"},
		{"new series", "cpu,host=b usage=1,idle=2i 1\ncpu,host=c usage=1i,idle=2i 1\ncpu,host=d usage=1,idle=3 1\ncpu,host=e usage=1,idle=2i 1\n"},
	} {
		var p models.Parser // its points, not copies: their keys are shared
		pts, err := p.Parse([]byte(tc.lp), 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(pts); i++ {
			if unsafe.SliceData(pts[i].Fields[1].Key) != unsafe.SliceData(pts[0].Fields[1].Key) {
				t.Fatalf("%s: the parser no longer shares the field keys of point %d with point 0; the test needs them shared", tc.name, i)
			}
		}
		ids := make([]uint64, len(pts))
		conflicts, err := ix.CreateSeriesAndFields(pts, ids)
		if err != nil {
			t.Fatalf("%s: CreateSeriesAndFields: %v", tc.name, err)
		}
		var got []int
		for _, c := range conflicts {
			got = append(got, c.Index)
		}
		if want := []int{1, 2}; !slices.Equal(got, want) {
			t.Errorf("%s: conflicting points: got %v; want %v", tc.name, got, want)
		}
		if ids[0] == 0 || ids[1] != 0 || ids[2] != 0 || ids[3] == 0 {
			t.Errorf("%s: ids: got %v; want 0 only for points 1 and 2", tc.name, ids)
		}
	}
}

func TestMatchSeries(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	create(t, ix, sampleLP)
	cpu := []byte("cpu")
	re := regexp.MustCompile
	tests := []struct {
		name string
		expr index.TagExpr
		want string
	}{
		{"all", nil, "cpu,host=a,region=us | cpu,host=b,region=us | cpu,host=c,region=eu | cpu,host=d"},
		{"eq", index.TagMatch{Key: "host", Op: index.Equal, Value: "b"}, "cpu,host=b,region=us"},
		{"eq no such value", index.TagMatch{Key: "host", Op: index.Equal, Value: "zz"}, ""},
		{"eq empty matches missing tag", index.TagMatch{Key: "region", Op: index.Equal, Value: ""}, "cpu,host=d"},
		{"eq empty on unknown key matches all", index.TagMatch{Key: "nope", Op: index.Equal, Value: ""}, "cpu,host=a,region=us | cpu,host=b,region=us | cpu,host=c,region=eu | cpu,host=d"},
		{"neq includes missing tag", index.TagMatch{Key: "region", Op: index.NotEqual, Value: "us"}, "cpu,host=c,region=eu | cpu,host=d"},
		{"neq empty means has tag", index.TagMatch{Key: "region", Op: index.NotEqual, Value: ""}, "cpu,host=a,region=us | cpu,host=b,region=us | cpu,host=c,region=eu"},
		{"neq unknown key", index.TagMatch{Key: "nope", Op: index.NotEqual, Value: "x"}, "cpu,host=a,region=us | cpu,host=b,region=us | cpu,host=c,region=eu | cpu,host=d"},
		{"regex", index.TagMatch{Key: "host", Op: index.RegexMatch, Regex: re("^[ac]$")}, "cpu,host=a,region=us | cpu,host=c,region=eu"},
		{"regex matching empty includes missing", index.TagMatch{Key: "region", Op: index.RegexMatch, Regex: re("^(eu)?$")}, "cpu,host=c,region=eu | cpu,host=d"},
		{"regex not matching empty", index.TagMatch{Key: "region", Op: index.RegexMatch, Regex: re("u")}, "cpu,host=a,region=us | cpu,host=b,region=us | cpu,host=c,region=eu"},
		{"not regex includes missing", index.TagMatch{Key: "region", Op: index.RegexNotMatch, Regex: re("^us$")}, "cpu,host=c,region=eu | cpu,host=d"},
		{"not regex matching empty excludes missing", index.TagMatch{Key: "region", Op: index.RegexNotMatch, Regex: re("^(us)?$")}, "cpu,host=c,region=eu"},
		{"regex nil matches nothing", index.TagMatch{Key: "region", Op: index.RegexMatch}, ""},
		{"and", index.And{L: index.TagMatch{Key: "region", Op: index.Equal, Value: "us"}, R: index.TagMatch{Key: "host", Op: index.NotEqual, Value: "a"}}, "cpu,host=b,region=us"},
		{"or", index.Or{L: index.TagMatch{Key: "host", Op: index.Equal, Value: "a"}, R: index.TagMatch{Key: "region", Op: index.Equal, Value: "eu"}}, "cpu,host=a,region=us | cpu,host=c,region=eu"},
		{"pointer nodes", &index.Or{L: &index.TagMatch{Key: "host", Op: index.Equal, Value: "d"}, R: &index.And{L: index.TagMatch{Key: "host", Op: index.Equal, Value: "b"}, R: index.TagMatch{Key: "region", Op: index.Equal, Value: "us"}}}, "cpu,host=b,region=us | cpu,host=d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids := ix.MatchSeries(cpu, tc.expr)
			if !slices.IsSorted(ids) {
				t.Errorf("ids not sorted: %v", ids)
			}
			if got := keysOf(ix, ids); got != tc.want {
				t.Errorf("MatchSeries:\ngot  %s\nwant %s", got, tc.want)
			}
		})
	}
	if got := ix.MatchSeries([]byte("nope"), nil); got != nil {
		t.Errorf("MatchSeries on unknown measurement: got %v; want nil", got)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir)
	create(t, ix, sampleLP)
	want := dump(ix)
	if err := ix.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ix.Close(); err != nil {
		t.Fatalf("second Close: got %v; want nil", err)
	}
	if _, err := ix.CreateSeriesAndFields(parse(t, "x f=1 1"), make([]uint64, 1)); !errors.Is(err, index.ErrClosed) {
		t.Errorf("create after Close: got %v; want ErrClosed", err)
	}
	ix2 := openIndex(t, dir)
	if got := dump(ix2); got != want {
		t.Fatalf("state after reopen:\ngot:\n%s\nwant:\n%s", got, want)
	}
	// Ids continue after the highest one.
	if ids := create(t, ix2, "cpu,host=new usage=1 1"); ids[0] != 6 {
		t.Errorf("id after reopen: got %d; want 6", ids[0])
	}
}

func TestDropSeriesAndMeasurement(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir)
	create(t, ix, sampleLP)
	// Drop host=c (the only eu series) and host=a of cpu.
	if err := ix.DropSeries([]uint64{3, 1, 77}); err != nil {
		t.Fatalf("DropSeries: %v", err)
	}
	check := func(ix *index.Index) {
		t.Helper()
		if got := keysOf(ix, ix.MeasurementSeriesIDs([]byte("cpu"))); got != "cpu,host=b,region=us | cpu,host=d" {
			t.Errorf("cpu series after drop: got %s", got)
		}
		if got := strs(ix.TagValues([]byte("cpu"), []byte("region"))); got != "us" {
			t.Errorf("region values after drop: got %s; want us", got)
		}
		if got := strs(ix.TagValues([]byte("cpu"), []byte("host"))); got != "b,d" {
			t.Errorf("host values after drop: got %s; want b,d", got)
		}
		if _, ok := ix.SeriesID([]byte("cpu,host=a,region=us")); ok {
			t.Errorf("dropped series still found")
		}
		if got := keysOf(ix, ix.MatchSeries([]byte("cpu"), index.TagMatch{Key: "region", Op: index.Equal, Value: ""})); got != "cpu,host=d" {
			t.Errorf("region='' after drop: got %s", got)
		}
		if got := strs(ix.Measurements()); got != "cpu" {
			t.Errorf("Measurements after drop: got %s; want cpu", got)
		}
		if ix.FieldType([]byte("mem"), []byte("free")); ix.Fields([]byte("mem")) != nil {
			t.Errorf("fields of dropped measurement still present: %v", ix.Fields([]byte("mem")))
		}
		if n := ix.SeriesN(); n != 2 {
			t.Errorf("SeriesN: got %d; want 2", n)
		}
	}
	if err := ix.DropMeasurement([]byte("mem")); err != nil {
		t.Fatalf("DropMeasurement: %v", err)
	}
	if err := ix.DropMeasurement([]byte("nope")); err != nil {
		t.Fatalf("DropMeasurement(unknown): got %v; want nil", err)
	}
	check(ix)
	ix.Close()
	ix2 := openIndex(t, dir)
	check(ix2)
	// A dropped series comes back with a new id; a dropped measurement's
	// field may come back with another type.
	ids := create(t, ix2, "cpu,host=a,region=us usage=1 1\nmem,host=a free=1 1")
	if ids[0] <= 5 || ids[1] <= 5 || ids[0] == ids[1] {
		t.Errorf("ids of recreated series: got %v; want new ids above 5", ids)
	}
	if typ, _ := ix2.FieldType([]byte("mem"), []byte("free")); typ != models.FieldTypeFloat {
		t.Errorf("recreated field type: got %v; want float", typ)
	}
}

func TestTornLogTail(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir)
	create(t, ix, "cpu,host=a usage=1 1")
	path := filepath.Join(dir, "index.log")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	create(t, ix, "cpu,host=b usage=1 1\ncpu,host=c usage=1 1")
	ix.Close()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the second batch at every length: the first batch always survives,
	// the index always opens, and new writes work afterwards.
	for cut := len(before); cut < len(full); cut++ {
		if err := os.WriteFile(path, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		ix, err := index.Open(dir, nil)
		if err != nil {
			t.Fatalf("Open with log cut at %d: got error %v; want none", cut, err)
		}
		if _, ok := ix.SeriesID([]byte("cpu,host=a")); !ok {
			t.Fatalf("cut at %d: series of the first batch lost", cut)
		}
		create(t, ix, "cpu,host=z usage=1 1")
		ix.Close()
		ix, err = index.Open(dir, nil)
		if err != nil {
			t.Fatalf("reopen after cut at %d: %v", cut, err)
		}
		if _, ok := ix.SeriesID([]byte("cpu,host=z")); !ok {
			t.Fatalf("cut at %d: series written after the truncation lost on reopen", cut)
		}
		ix.Close()
	}
	// A flipped bit in the last record is treated like a torn tail.
	bad := slices.Clone(full)
	bad[len(bad)-2] ^= 0x40
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	ix = openIndex(t, dir)
	if _, ok := ix.SeriesID([]byte("cpu,host=b")); !ok {
		t.Errorf("record before the corrupt one lost")
	}
	if _, ok := ix.SeriesID([]byte("cpu,host=c")); ok {
		t.Errorf("corrupt record applied")
	}
}

func TestBadHeaderIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.log"), []byte("NOTANINDEXLOG"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Open(dir, nil); !errors.Is(err, index.ErrCorrupt) {
		t.Errorf("Open with bad header: got %v; want ErrCorrupt", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.snap"), []byte("STRXISN1garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Open(dir, nil); !errors.Is(err, index.ErrCorrupt) {
		t.Errorf("Open with bad snapshot: got %v; want ErrCorrupt", err)
	}
}

func TestConcurrentCreateAndRead(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	const workers, perWorker = 4, 200
	var wg sync.WaitGroup
	results := make([][]uint64, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every worker writes the same series in a different order.
			for i := range perWorker {
				n := (i*7 + w*13) % perWorker
				pts := parse(t, "cpu,host=h"+itoa(n)+",dc=d"+itoa(n%5)+" usage=1,n=1i 1")
				ids := make([]uint64, 1)
				if c, err := ix.CreateSeriesAndFields(pts, ids); err != nil || len(c) != 0 {
					t.Errorf("create: conflicts %v, error %v", c, err)
					return
				}
				if got := string(ix.SeriesKey(ids[0])); got != "cpu,dc=d"+itoa(n%5)+",host=h"+itoa(n) {
					t.Errorf("SeriesKey(%d): got %q", ids[0], got)
				}
				ix.MatchSeries([]byte("cpu"), index.TagMatch{Key: "dc", Op: index.NotEqual, Value: "d1"})
				ix.TagValues([]byte("cpu"), []byte("host"))
				results[w] = append(results[w], ids[0])
			}
		}()
	}
	wg.Wait()
	if n := ix.SeriesN(); n != perWorker {
		t.Errorf("SeriesN: got %d; want %d", n, perWorker)
	}
	if got := len(ix.MeasurementSeriesIDs([]byte("cpu"))); got != perWorker {
		t.Errorf("cpu series: got %d; want %d", got, perWorker)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestHotPathNoAllocNoWrite(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir)
	pts := parse(t, `cpu,hostname=host_0,region=eu-central-1,datacenter=eu-central-1a,rack=6,os=Ubuntu15.10,arch=x86,team=SF,service=19,service_version=1,service_environment=test usage_user=58i,usage_system=2i 1
cpu,hostname=host_1,region=eu-central-1,datacenter=eu-central-1a,rack=6,os=Ubuntu15.10,arch=x86,team=SF,service=19,service_version=1,service_environment=test usage_user=58i,usage_system=2i 1
`)
	ids := make([]uint64, len(pts))
	if _, err := ix.CreateSeriesAndFields(pts, ids); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "index.log"))
	allocs := testing.AllocsPerRun(100, func() {
		if c, err := ix.CreateSeriesAndFields(pts, ids); err != nil || c != nil {
			t.Fatalf("create: %v %v", c, err)
		}
	})
	if allocs != 0 {
		t.Errorf("hot path: got %v allocs per batch; want 0", allocs)
	}
	st2, _ := os.Stat(filepath.Join(dir, "index.log"))
	if st.Size() != st2.Size() {
		t.Errorf("hot path wrote to the log: size %d -> %d", st.Size(), st2.Size())
	}
}

func TestShortIDs(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	if _, err := ix.CreateSeriesAndFields(parse(t, "m f=1 1\nm f=2 2"), make([]uint64, 1)); !errors.Is(err, index.ErrIDsTooShort) {
		t.Errorf("got %v; want ErrIDsTooShort", err)
	}
}

func TestInvalidPointsRejected(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	// Points 0 and 1 share their field keys, as the parser's points do:
	// that point 0's passed must not pass point 1's too long series key.
	fields := []models.Field{{Key: []byte("f"), Value: models.FloatValue(1)}}
	pts := []models.Point{
		{Measurement: []byte("m"), Fields: fields, Key: []byte("m")},
		{Measurement: []byte("m"), Fields: fields, Key: []byte("m" + strings.Repeat("x", models.MaxKeyLength))}, // series key too long
		{Measurement: []byte("m")}, // no fields
		{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("b"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}},
			Fields: []models.Field{{Key: []byte("f"), Value: models.FloatValue(1)}}}, // unsorted tags
		{Measurement: []byte(`m\`), Fields: []models.Field{{Key: []byte("f"), Value: models.FloatValue(1)}}}, // trailing backslash
		{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("a"), Value: []byte{}}},
			Fields: []models.Field{{Key: []byte("f"), Value: models.FloatValue(1)}}}, // empty tag value
		{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("ab"), Value: []byte("1")}, {Key: []byte("aa"), Value: []byte("2")}},
			Fields: []models.Field{{Key: []byte("f"), Value: models.FloatValue(1)}}}, // unsorted tags, same first byte
		{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}},
			Fields: []models.Field{{Key: []byte("f"), Value: models.FloatValue(1)}}}, // repeated tag key
		{Measurement: []byte("m"), Fields: []models.Field{{Key: bytes.Repeat([]byte("f"), models.MaxKeyLength+1), Value: models.FloatValue(1)}},
			Key: []byte("m")}, // field key too long
	}
	ids := make([]uint64, len(pts))
	conflicts, err := ix.CreateSeriesAndFields(pts, ids)
	if err != nil {
		t.Fatalf("CreateSeriesAndFields: got error %v; want none", err)
	}
	var got []int
	for _, c := range conflicts {
		got = append(got, c.Index)
		if !errors.Is(c, index.ErrInvalidPoint) {
			t.Errorf("point %d: got error %v; want ErrInvalidPoint", c.Index, c.Err)
		}
	}
	if want := []int{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("rejected points: got %v; want %v", got, want)
	}
	if ids[0] == 0 || ix.SeriesN() != 1 {
		t.Errorf("valid point: got id %d and %d series; want an id and 1 series", ids[0], ix.SeriesN())
	}
}

// TestDropSharedTagValues drops series sharing tag values in various
// combinations and checks every query against a recomputed expectation.
func TestDropSharedTagValues(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir)
	create(t, ix, `m,h=a,z=1 f=1 1
m,h=b,z=1 f=1 1
m,h=c,z=1 f=1 1
m,h=d,z=2 f=1 1
m,h=e,z=2 f=1 1
m,h=f,z=3 f=1 1
`)
	// z=1 goes from 3 series to 1 (list to inline), z=2 from 2 to 0, z=3
	// (inline) to 0, in one call with a repeated id.
	if err := ix.DropSeries([]uint64{1, 2, 4, 5, 6, 2}); err != nil {
		t.Fatal(err)
	}
	check := func(ix *index.Index) {
		t.Helper()
		if got := strs(ix.TagValues([]byte("m"), []byte("z"))); got != "1" {
			t.Errorf("z values: got %s; want 1", got)
		}
		if got := keysOf(ix, ix.MatchSeries([]byte("m"), index.TagMatch{Key: "z", Op: index.Equal, Value: "1"})); got != "m,h=c,z=1" {
			t.Errorf("z=1: got %s; want m,h=c,z=1", got)
		}
		if got := ix.MatchSeries([]byte("m"), index.TagMatch{Key: "z", Op: index.Equal, Value: "2"}); len(got) != 0 {
			t.Errorf("z=2: got %v; want none", got)
		}
		if got := strs(ix.TagValues([]byte("m"), []byte("h"))); got != "c" {
			t.Errorf("h values: got %s; want c", got)
		}
	}
	check(ix)
	// Adding a series to the now-inline value turns it back into a list.
	create(t, ix, "m,h=g,z=1 f=1 1")
	if got := keysOf(ix, ix.MatchSeries([]byte("m"), index.TagMatch{Key: "z", Op: index.Equal, Value: "1"})); got != "m,h=c,z=1 | m,h=g,z=1" {
		t.Errorf("z=1 after re-add: got %s", got)
	}
	if err := ix.DropSeries([]uint64{7}); err != nil {
		t.Fatal(err)
	}
	check(ix)
	ix.Close()
	check(openIndex(t, dir))
}

// TestHotPathQueuedLookups checks the ids the hot path gives when it
// queues lookups: more distinct existing series than one queue holds,
// points repeating a queued series (the parser's shared slices), keys too
// long for the queue's buffer, and a missing series after queued ones
// (the batch then goes to the slow path, which creates it).
func TestHotPathQueuedLookups(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	long := strings.Repeat("x", 700)
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "cpu,host=h%d v=1 1\n", i)
		if i%7 == 0 {
			fmt.Fprintf(&b, "cpu,host=%s%d v=1 1\n", long, i)
		}
	}
	create(t, ix, b.String())
	// Each series three times, in rounds, as a batch of a few hosts is.
	var lines strings.Builder
	for range 3 {
		lines.WriteString(b.String())
	}
	var p models.Parser
	pts, err := p.Parse([]byte(lines.String()+"cpu,host=new v=1 1\n"), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(pts) - 1, len(pts)} { // existing only, then with the new series
		ids := make([]uint64, n)
		if c, err := ix.CreateSeriesAndFields(pts[:n], ids); err != nil || len(c) != 0 {
			t.Fatalf("create: conflicts %v, error %v", c, err)
		}
		for i := range n {
			key := pts[i].AppendSeriesKey(nil)
			if want, ok := ix.SeriesID(key); !ok || ids[i] != want {
				t.Fatalf("%d points: point %d (%.20s): id %d; want %d (%v)", n, i, key, ids[i], want, ok)
			}
		}
	}
	if got := ix.SeriesN(); got != 50+8+1 {
		t.Errorf("SeriesN: got %d; want %d", got, 50+8+1)
	}
}

// TestHotPathNextIDGuess checks the hot path's guess that a point's series
// has the id after the previous point's (see lookups.flush) against
// batches that make it right, wrong and unanswerable: series in creation
// order, in reverse, shuffled, with a dropped series between two, a key
// that is a prefix of the next series' key, and the last series (the
// guess past every id).
func TestHotPathNextIDGuess(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	var lines []string
	for i := range 60 {
		lines = append(lines, fmt.Sprintf("cpu,host=h%d v=1 1", i))
		if i%10 == 0 {
			lines = append(lines, fmt.Sprintf("cpu,host=h%d0 v=1 1", i)) // h0 then h00: h0 a prefix of h00
		}
	}
	create(t, ix, strings.Join(lines, "\n"))
	drop, ok := ix.SeriesID([]byte("cpu,host=h30"))
	if !ok {
		t.Fatal("series h30 missing")
	}
	if err := ix.DropSeries([]uint64{drop}); err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "cpu,host=h30 ") {
			live = append(live, l)
		}
	}
	reversed := slices.Clone(live)
	slices.Reverse(reversed)
	shuffled := slices.Clone(live)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for name, batch := range map[string][]string{"created": live, "reversed": reversed, "shuffled": shuffled} {
		pts := parse(t, strings.Join(batch, "\n"))
		ids := make([]uint64, len(pts))
		if c, err := ix.CreateSeriesAndFields(pts, ids); err != nil || len(c) != 0 {
			t.Fatalf("%s: conflicts %v, error %v", name, c, err)
		}
		for i := range pts {
			key := pts[i].AppendSeriesKey(nil)
			if want, ok := ix.SeriesID(key); !ok || ids[i] != want {
				t.Fatalf("%s: point %d (%s): id %d; want %d (%v)", name, i, key, ids[i], want, ok)
			}
		}
	}
	if got := ix.SeriesN(); got != len(live) {
		t.Errorf("SeriesN: got %d; want %d (a lookup created a series)", got, len(live))
	}
}
