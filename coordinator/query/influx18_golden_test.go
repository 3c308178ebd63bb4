package query_test

import (
	"testing"

	"github.com/strata-db/strata/coordinator/query"
)

// influx18Case is a statement and InfluxDB 1.8.10's body for it.
type influx18Case struct{ name, q, want string }

// checkInfluxDB18 runs each case against e and compares the body with
// InfluxDB's.
func checkInfluxDB18(t *testing.T, e *query.Executor, tests []influx18Case) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := execJSON(t, e, tc.q, ""); got != tc.want {
				t.Errorf("%s\n got %s\nwant %s (InfluxDB 1.8.10)", tc.q, got, tc.want)
			}
		})
	}
}

// influx18Data is the data the answers below were taken from: written to
// a real InfluxDB 1.8.10 (go install
// github.com/influxdata/influxdb/cmd/influxd@v1.8.10) and queried there.
const influx18Data = `m,host=b v=3,s="x" 1000000000
m,host=a v=1,s="y" 1000000000
m,host=a v=2,s="x" 2000000000
m,host=b v=1,s="z" 2000000000
m,host=a v=3,s="w" 3000000000
m,host=c v=5 3000000000
n,host=a w=1i,v=9 1000000000
n,host=b w=2i 2000000000
`

// TestInfluxDB18Answers pins answers where Strata used to differ from
// InfluxDB 1.8; each want is InfluxDB 1.8.10's body for the query.
func TestInfluxDB18Answers(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18Data)
	tests := []influx18Case{
		// distinct keeps the order values first appeared in (equal times:
		// by value), not sorted order.
		{"distinct order floats", `SELECT distinct(v) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","distinct"],"values":[["1970-01-01T00:00:00Z",1],["1970-01-01T00:00:00Z",3],["1970-01-01T00:00:00Z",2],["1970-01-01T00:00:00Z",5]]}]}]}`},
		{"distinct order strings", `SELECT distinct(s) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","distinct"],"values":[["1970-01-01T00:00:00Z","x"],["1970-01-01T00:00:00Z","y"],["1970-01-01T00:00:00Z","z"],["1970-01-01T00:00:00Z","w"]]}]}]}`},
		// Several series share the earliest time: first() keeps the
		// greater value.
		{"first tie", `SELECT first(v) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","first"],"values":[["1970-01-01T00:00:01Z",3]]}]}]}`},
		{"first and last tie", `SELECT first(v),last(v) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","first","last"],"values":[["1970-01-01T00:00:00Z",3,5]]}]}]}`},
		// ORDER BY time DESC reverses the series order too.
		{"desc series order", `SELECT * FROM m GROUP BY host ORDER BY time DESC`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"c"},"columns":["time","s","v"],"values":[["1970-01-01T00:00:03Z",null,5]]},{"name":"m","tags":{"host":"b"},"columns":["time","s","v"],"values":[["1970-01-01T00:00:02Z","z",1],["1970-01-01T00:00:01Z","x",3]]},{"name":"m","tags":{"host":"a"},"columns":["time","s","v"],"values":[["1970-01-01T00:00:03Z","w",3],["1970-01-01T00:00:02Z","x",2],["1970-01-01T00:00:01Z","y",1]]}]}]}`},
		{"desc measurement order", `SELECT last(v) FROM m,n GROUP BY host ORDER BY time DESC`,
			`{"results":[{"statement_id":0,"series":[{"name":"n","tags":{"host":"a"},"columns":["time","last"],"values":[["1970-01-01T00:00:01Z",9]]},{"name":"m","tags":{"host":"c"},"columns":["time","last"],"values":[["1970-01-01T00:00:03Z",5]]},{"name":"m","tags":{"host":"b"},"columns":["time","last"],"values":[["1970-01-01T00:00:02Z",1]]},{"name":"m","tags":{"host":"a"},"columns":["time","last"],"values":[["1970-01-01T00:00:03Z",3]]}]}]}`},
		// SELECT * over several measurements: every one gets the union of
		// their columns, null where it lacks one.
		{"wildcard over a regex is the union", `SELECT * FROM /m|n/`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","host","s","v","w"],"values":[["1970-01-01T00:00:01Z","a","y",1,null],["1970-01-01T00:00:01Z","b","x",3,null],["1970-01-01T00:00:02Z","a","x",2,null],["1970-01-01T00:00:02Z","b","z",1,null],["1970-01-01T00:00:03Z","a","w",3,null],["1970-01-01T00:00:03Z","c",null,5,null]]},{"name":"n","columns":["time","host","s","v","w"],"values":[["1970-01-01T00:00:01Z","a",null,9,1],["1970-01-01T00:00:02Z","b",null,null,2]]}]}]}`},
		{"wildcard over a list is the union", `SELECT * FROM m,n GROUP BY host`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","s","v","w"],"values":[["1970-01-01T00:00:01Z","y",1,null],["1970-01-01T00:00:02Z","x",2,null],["1970-01-01T00:00:03Z","w",3,null]]},{"name":"m","tags":{"host":"b"},"columns":["time","s","v","w"],"values":[["1970-01-01T00:00:01Z","x",3,null],["1970-01-01T00:00:02Z","z",1,null]]},{"name":"m","tags":{"host":"c"},"columns":["time","s","v","w"],"values":[["1970-01-01T00:00:03Z",null,5,null]]},{"name":"n","tags":{"host":"a"},"columns":["time","s","v","w"],"values":[["1970-01-01T00:00:01Z",null,9,1]]},{"name":"n","tags":{"host":"b"},"columns":["time","s","v","w"],"values":[["1970-01-01T00:00:02Z",null,null,2]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// influx18MixedTypes has field v as a float, an integer and a string in
// three one-hour shards (InfluxDB 1.8 keeps a field's type per shard).
const influx18MixedTypes = `m,host=a v=1.5 0
m,host=a v=2.5 600000000000
m,host=b v=2i 3600000000000
m,host=c v="s" 7200000000000
m,host=c v="t" 7800000000000
`

// TestInfluxDB18MixedFieldTypes pins how a field with different types in
// different shards is read: as its type of highest precedence (float),
// integers cast, strings not read — mean() of a bucket holding only the
// strings is null like sum() and max(), not 0. Each want is InfluxDB
// 1.8.10's body (one-hour shards, data written a line per request).
func TestInfluxDB18MixedFieldTypes(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18MixedTypes)
	const window = `time >= 0 AND time < '1970-01-01T03:00:00Z'`
	tests := []influx18Case{
		{"string bucket is null", `SELECT mean(v), sum(v), max(v), count(v) FROM m WHERE ` + window + ` GROUP BY time(1h)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean","sum","max","count"],"values":[["1970-01-01T00:00:00Z",2,4,2.5,2],["1970-01-01T01:00:00Z",2,2,2,1],["1970-01-01T02:00:00Z",null,null,null,0]]}]}]}`},
		{"string bucket is empty", `SELECT mean(v), sum(v), max(v) FROM m WHERE ` + window + ` GROUP BY time(30m) fill(none)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean","sum","max"],"values":[["1970-01-01T00:00:00Z",2,4,2.5],["1970-01-01T01:00:00Z",2,2,2]]}]}]}`},
		{"raw values of the type", `SELECT v FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[["1970-01-01T00:00:00Z",1.5],["1970-01-01T00:10:00Z",2.5],["1970-01-01T01:00:00Z",2]]}]}]}`},
		{"series of strings only is absent", `SELECT mean(v), sum(v) FROM m GROUP BY host`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","mean","sum"],"values":[["1970-01-01T00:00:00Z",2,4]]},{"name":"m","tags":{"host":"b"},"columns":["time","mean","sum"],"values":[["1970-01-01T00:00:00Z",2,2]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// influx18FieldTypes has a float, a string and a boolean field.
const influx18FieldTypes = `m,host=a f=1.5,s="x",b=true 1000000000
m,host=a f=2.5,s="y",b=false 2000000000
m,host=b f=3,b=false 2000000000
m,host=b s="z" 3000000000
`

// TestInfluxDB18FunctionFieldTypes pins which functions take string and
// boolean fields: a function applied to a field of a type it does not
// take fails the statement, with InfluxDB's message, instead of answering
// (sum 0, max the greatest string); max(*) and min(*) include booleans.
// Each want is InfluxDB 1.8.10's body (data written a line per request).
func TestInfluxDB18FunctionFieldTypes(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18FieldTypes)
	tests := []influx18Case{
		{"mean of a string", `SELECT mean(s) FROM m`,
			`{"results":[{"statement_id":0,"error":"unsupported mean iterator type: *query.stringInterruptIterator"}]}`},
		{"sum of a boolean", `SELECT sum(b) FROM m`,
			`{"results":[{"statement_id":0,"error":"unsupported sum iterator type: *query.booleanInterruptIterator"}]}`},
		{"max of a string", `SELECT max(s) FROM m`,
			`{"results":[{"statement_id":0,"error":"unsupported max iterator type: *query.stringInterruptIterator"}]}`},
		{"derivative of a string", `SELECT non_negative_derivative(s) FROM m`,
			`{"results":[{"statement_id":0,"error":"unsupported derivative iterator type: *query.stringInterruptIterator"}]}`},
		{"moving average of a boolean", `SELECT moving_average(b, 2) FROM m`,
			`{"results":[{"statement_id":0,"error":"unsupported moving average iterator type: *query.booleanInterruptIterator"}]}`},
		{"nested mean of a string", `SELECT derivative(mean(s), 1s) FROM m WHERE time >= 0 AND time < 10s GROUP BY time(1s)`,
			`{"results":[{"statement_id":0,"error":"unsupported mean iterator type: *query.stringInterruptIterator"}]}`},
		{"max and min of booleans", `SELECT max(b), min(b) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","max","min"],"values":[["1970-01-01T00:00:00Z",true,false]]}]}]}`},
		{"max(*) includes booleans", `SELECT max(*), min(*), mean(*) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","max_b","max_f","min_b","min_f","mean_f"],"values":[["1970-01-01T00:00:00Z",true,3,false,1.5,2.3333333333333335]]}]}]}`},
		{"functions of every type", `SELECT count(s), first(b), mode(s) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count","first","mode"],"values":[["1970-01-01T00:00:00Z",3,true,"x"]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// influx18ConditionField has rows where the field a condition tests is
// present but the selected field is not.
const influx18ConditionField = `m,host=a f=1.5 1000000000
m,host=b s="x" 1000000000
m,host=a f=2.5,s="y" 61000000000
m,host=b f=3,s="x" 62000000000
`

// TestInfluxDB18ConditionOnlyField pins that a field read only by the
// WHERE clause makes no series: a group whose matching rows lack every
// selected field answers nothing (not a row of nulls per window), as in
// InfluxDB, whose iterators see only the selected fields' points. Each
// want is InfluxDB 1.8.10's body.
func TestInfluxDB18ConditionOnlyField(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18ConditionField)
	const window = `time >= 0 AND time < 3m AND s = 'x'`
	tests := []influx18Case{
		{"a match with the field", `SELECT mean(f), max(f) FROM m WHERE ` + window + ` GROUP BY time(1m)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean","max"],"values":[["1970-01-01T00:00:00Z",null,null],["1970-01-01T00:01:00Z",3,3],["1970-01-01T00:02:00Z",null,null]]}]}]}`},
		{"a match with the field per host", `SELECT mean(f), max(f) FROM m WHERE ` + window + ` GROUP BY time(1m), host`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"b"},"columns":["time","mean","max"],"values":[["1970-01-01T00:00:00Z",null,null],["1970-01-01T00:01:00Z",3,3],["1970-01-01T00:02:00Z",null,null]]}]}]}`},
		{"fill(none)", `SELECT mean(f), max(f) FROM m WHERE ` + window + ` GROUP BY time(1m) fill(none)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean","max"],"values":[["1970-01-01T00:01:00Z",3,3]]}]}]}`},
		{"matches without the field", `SELECT mean(f), max(f) FROM m WHERE ` + window + ` AND time < 1m GROUP BY time(1m)`,
			`{"results":[{"statement_id":0}]}`},
		{"matches without the field fill(0)", `SELECT mean(f), max(f) FROM m WHERE ` + window + ` AND time < 1m GROUP BY time(1m) fill(0)`,
			`{"results":[{"statement_id":0}]}`},
		{"count of matches without the field", `SELECT count(f) FROM m WHERE ` + window + ` AND time < 1m GROUP BY time(1m)`,
			`{"results":[{"statement_id":0}]}`},
		{"no window", `SELECT mean(f) FROM m WHERE ` + window + ` AND time < 1m`,
			`{"results":[{"statement_id":0}]}`},
		{"raw", `SELECT f FROM m WHERE ` + window + ` AND time < 1m`,
			`{"results":[{"statement_id":0}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// influx18Fill has gaps per field and per host, and a measurement n
// with a field m lacks.
const influx18Fill = `m,host=a f=1,g=10 0
m,host=b f=2 0
m,host=a f=3 120000000000
m,host=b f=4,g=20 180000000000
n,host=a h=5 60000000000
`

// TestInfluxDB18NumberFill pins fill(<number>): each aggregate is filled
// before arithmetic (sum(f) + 1 is 1 in an empty window), and a column a
// series or measurement lacks altogether takes the number too, in every
// row the other columns make. Each want is InfluxDB 1.8.10's body.
func TestInfluxDB18NumberFill(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18Fill)
	const window = `time >= 0 AND time < 4m`
	tests := []influx18Case{
		{"before arithmetic", `SELECT mean(f) * 2, sum(f) + 1, max(f) FROM m WHERE ` + window + ` GROUP BY time(1m) fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean","sum","max"],"values":[["1970-01-01T00:00:00Z",3,4,2],["1970-01-01T00:01:00Z",0,1,0],["1970-01-01T00:02:00Z",6,4,3],["1970-01-01T00:03:00Z",8,5,4]]}]}]}`},
		{"each call of a sum", `SELECT sum(f) + sum(g) FROM m WHERE ` + window + ` GROUP BY time(1m) fill(7)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","sum_sum"],"values":[["1970-01-01T00:00:00Z",13],["1970-01-01T00:01:00Z",14],["1970-01-01T00:02:00Z",10],["1970-01-01T00:03:00Z",24]]}]}]}`},
		{"a field a host lacks", `SELECT mean(f), mean(g) FROM m WHERE ` + window + ` GROUP BY time(1m), host fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","mean","mean_1"],"values":[["1970-01-01T00:00:00Z",1,10],["1970-01-01T00:01:00Z",0,0],["1970-01-01T00:02:00Z",3,0],["1970-01-01T00:03:00Z",0,0]]},{"name":"m","tags":{"host":"b"},"columns":["time","mean","mean_1"],"values":[["1970-01-01T00:00:00Z",2,0],["1970-01-01T00:01:00Z",0,0],["1970-01-01T00:02:00Z",0,0],["1970-01-01T00:03:00Z",4,20]]}]}]}`},
		{"a field a measurement lacks", `SELECT mean(f), mean(h) FROM m, n WHERE ` + window + ` GROUP BY time(1m) fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean","mean_1"],"values":[["1970-01-01T00:00:00Z",1.5,0],["1970-01-01T00:01:00Z",0,0],["1970-01-01T00:02:00Z",3,0],["1970-01-01T00:03:00Z",4,0]]},{"name":"n","columns":["time","mean","mean_1"],"values":[["1970-01-01T00:00:00Z",0,0],["1970-01-01T00:01:00Z",0,5],["1970-01-01T00:02:00Z",0,0],["1970-01-01T00:03:00Z",0,0]]}]}]}`},
		{"no lower bound", `SELECT mean(f), mean(g) FROM m WHERE time < 4m GROUP BY time(1m), host fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","mean","mean_1"],"values":[["1970-01-01T00:00:00Z",1,10],["1970-01-01T00:01:00Z",0,0],["1970-01-01T00:02:00Z",3,0],["1970-01-01T00:03:00Z",0,0]]},{"name":"m","tags":{"host":"b"},"columns":["time","mean","mean_1"],"values":[["1970-01-01T00:00:00Z",2,0],["1970-01-01T00:01:00Z",0,0],["1970-01-01T00:02:00Z",0,0],["1970-01-01T00:03:00Z",4,20]]}]}]}`},
		{"count", `SELECT count(g), sum(f) FROM m WHERE ` + window + ` GROUP BY time(1m), host fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","count","sum"],"values":[["1970-01-01T00:00:00Z",1,1],["1970-01-01T00:01:00Z",0,0],["1970-01-01T00:02:00Z",0,3],["1970-01-01T00:03:00Z",0,0]]},{"name":"m","tags":{"host":"b"},"columns":["time","count","sum"],"values":[["1970-01-01T00:00:00Z",0,2],["1970-01-01T00:01:00Z",0,0],["1970-01-01T00:02:00Z",0,0],["1970-01-01T00:03:00Z",1,4]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// TestInfluxDB18StddevOfOnePoint pins stddev() of a window holding one
// point: null, and a value to every fill (not replaced by fill(0), carried
// forward by fill(previous), null between it and the next value under
// fill(linear)), as InfluxDB's NaN point is. Each want is InfluxDB
// 1.8.10's body.
func TestInfluxDB18StddevOfOnePoint(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18Fill)
	const window = `time >= 0 AND time < 4m`
	tests := []influx18Case{
		{"no window", `SELECT stddev(f) FROM m WHERE host='a' AND time < 1m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","stddev"],"values":[["1970-01-01T00:00:00Z",null]]}]}]}`},
		{"fill(none)", `SELECT stddev(f) FROM m WHERE ` + window + ` AND host = 'a' GROUP BY time(1m) fill(none)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","stddev"],"values":[["1970-01-01T00:00:00Z",null],["1970-01-01T00:02:00Z",null]]}]}]}`},
		{"fill(previous)", `SELECT stddev(f), count(f) FROM m WHERE ` + window + ` AND host = 'a' GROUP BY time(1m) fill(previous)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","stddev","count"],"values":[["1970-01-01T00:00:00Z",null,1],["1970-01-01T00:01:00Z",null,1],["1970-01-01T00:02:00Z",null,1],["1970-01-01T00:03:00Z",null,1]]}]}]}`},
		{"fill(linear)", `SELECT stddev(f) FROM m WHERE ` + window + ` GROUP BY time(1m) fill(linear)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","stddev"],"values":[["1970-01-01T00:00:00Z",0.7071067811865476],["1970-01-01T00:01:00Z",null],["1970-01-01T00:02:00Z",null],["1970-01-01T00:03:00Z",null]]}]}]}`},
		{"fill(0)", `SELECT stddev(f) FROM m WHERE ` + window + ` GROUP BY time(1m) fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","stddev"],"values":[["1970-01-01T00:00:00Z",0.7071067811865476],["1970-01-01T00:01:00Z",0],["1970-01-01T00:02:00Z",null],["1970-01-01T00:03:00Z",null]]}]}]}`},
		{"fill(0) under arithmetic", `SELECT stddev(f) * 2 FROM m WHERE ` + window + ` GROUP BY time(1m) fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","stddev"],"values":[["1970-01-01T00:00:00Z",1.4142135623730951],["1970-01-01T00:01:00Z",0],["1970-01-01T00:02:00Z",null],["1970-01-01T00:03:00Z",null]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// influx18Gaps has one series with empty windows between its points.
const influx18Gaps = `d,host=a f=1 0
d,host=a f=4 120000000000
d,host=a f=2 300000000000
`

// TestInfluxDB18TransformFill pins fill(previous) under a transformation:
// the aggregate is filled before it is derived (a gap derives as 0), and
// a row's missing value is the one of the row before (a dropped negative
// non_negative_derivative). Each want is InfluxDB 1.8.10's body.
func TestInfluxDB18TransformFill(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18Gaps)
	const window = `time >= 0 AND time < 7m`
	tests := []influx18Case{
		{"derivative", `SELECT derivative(mean(f), 1m), sum(f) FROM d WHERE ` + window + ` GROUP BY time(1m) fill(previous)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","derivative","sum"],"values":[["1970-01-01T00:00:00Z",null,1],["1970-01-01T00:01:00Z",0,1],["1970-01-01T00:02:00Z",3,4],["1970-01-01T00:03:00Z",0,4],["1970-01-01T00:04:00Z",0,4],["1970-01-01T00:05:00Z",-2,2],["1970-01-01T00:06:00Z",0,2]]}]}]}`},
		{"non_negative_derivative", `SELECT non_negative_derivative(mean(f), 1m), sum(f) FROM d WHERE ` + window + ` GROUP BY time(1m) fill(previous)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","non_negative_derivative","sum"],"values":[["1970-01-01T00:00:00Z",null,1],["1970-01-01T00:01:00Z",0,1],["1970-01-01T00:02:00Z",3,4],["1970-01-01T00:03:00Z",0,4],["1970-01-01T00:04:00Z",0,4],["1970-01-01T00:05:00Z",0,2],["1970-01-01T00:06:00Z",0,2]]}]}]}`},
		{"cumulative_sum", `SELECT cumulative_sum(mean(f)) FROM d WHERE ` + window + ` GROUP BY time(1m) fill(previous)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","cumulative_sum"],"values":[["1970-01-01T00:00:00Z",1],["1970-01-01T00:01:00Z",2],["1970-01-01T00:02:00Z",6],["1970-01-01T00:03:00Z",10],["1970-01-01T00:04:00Z",14],["1970-01-01T00:05:00Z",16],["1970-01-01T00:06:00Z",18]]}]}]}`},
		{"fill(null) skips the gaps", `SELECT derivative(mean(f), 1m) FROM d WHERE ` + window + ` GROUP BY time(1m) fill(null)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","derivative"],"values":[["1970-01-01T00:02:00Z",1.5],["1970-01-01T00:05:00Z",-0.6666666666666666]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// TestInfluxDB18TransformWindowBefore pins that derivative, difference,
// moving_average and friends over an aggregate start from the window
// before the range (not shown): the first window derives against the
// data just before it. cumulative_sum does not. Each want is InfluxDB
// 1.8.10's body.
func TestInfluxDB18TransformWindowBefore(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18Gaps)
	tests := []influx18Case{
		{"derivative across the range start", `SELECT derivative(mean(f), 1m) FROM d WHERE time >= 3m AND time < 7m GROUP BY time(1m)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","derivative"],"values":[["1970-01-01T00:05:00Z",-0.6666666666666666]]}]}]}`},
		{"fill(previous)", `SELECT derivative(mean(f), 1m), sum(f) FROM d WHERE time >= 1m AND time < 7m GROUP BY time(1m) fill(previous)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","derivative","sum"],"values":[["1970-01-01T00:01:00Z",0,null],["1970-01-01T00:02:00Z",3,4],["1970-01-01T00:03:00Z",0,4],["1970-01-01T00:04:00Z",0,4],["1970-01-01T00:05:00Z",-2,2],["1970-01-01T00:06:00Z",0,2]]}]}]}`},
		{"non_negative_derivative fill(0)", `SELECT non_negative_derivative(max(f), 1m) FROM d WHERE time >= 1m AND time < 7m GROUP BY time(1m) fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","non_negative_derivative"],"values":[["1970-01-01T00:02:00Z",4],["1970-01-01T00:04:00Z",0],["1970-01-01T00:05:00Z",2]]}]}]}`},
		{"difference fill(0)", `SELECT difference(mean(f)) FROM d WHERE time >= 1m AND time < 7m GROUP BY time(1m) fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","difference"],"values":[["1970-01-01T00:01:00Z",-1],["1970-01-01T00:02:00Z",4],["1970-01-01T00:03:00Z",-4],["1970-01-01T00:04:00Z",0],["1970-01-01T00:05:00Z",2],["1970-01-01T00:06:00Z",-2]]}]}]}`},
		{"moving_average fill(0)", `SELECT moving_average(mean(f), 2) FROM d WHERE time >= 2m AND time < 7m GROUP BY time(1m) fill(0)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","moving_average"],"values":[["1970-01-01T00:02:00Z",2],["1970-01-01T00:03:00Z",2],["1970-01-01T00:04:00Z",0],["1970-01-01T00:05:00Z",1],["1970-01-01T00:06:00Z",1]]}]}]}`},
		{"other aggregates keep an unaligned lower bound", `SELECT derivative(mean(f), 1m), sum(f) FROM d WHERE time >= 30s AND time < 4m GROUP BY time(1m)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","derivative","sum"],"values":[["1970-01-01T00:00:00Z",null,null],["1970-01-01T00:01:00Z",null,null],["1970-01-01T00:02:00Z",1.5,4],["1970-01-01T00:03:00Z",null,null]]}]}]}`},
		{"one interval before an unaligned bound", `SELECT derivative(mean(f), 1m) FROM d WHERE time >= 90s AND time < 4m GROUP BY time(1m)`,
			`{"results":[{"statement_id":0}]}`},
		{"cumulative_sum beside derivative", `SELECT derivative(mean(f), 1m), cumulative_sum(mean(f)) FROM d WHERE time >= 1m AND time < 7m GROUP BY time(1m)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","derivative","cumulative_sum"],"values":[["1970-01-01T00:02:00Z",1.5,4],["1970-01-01T00:05:00Z",-0.6666666666666666,6]]}]}]}`},
		{"cumulative_sum does not", `SELECT cumulative_sum(mean(f)) FROM d WHERE time >= 1m AND time < 7m GROUP BY time(1m)`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","cumulative_sum"],"values":[["1970-01-01T00:02:00Z",4],["1970-01-01T00:05:00Z",6]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// influx18MissingTags has series that lack a tag key others have, and one
// with no tags at all.
const influx18MissingTags = `m,host=a f=1 0
m,host=b,dc=x f=2 0
m f=3 60000000000
`

// TestInfluxDB18MissingTag pins a selected tag, or an unknown name, that
// a series lacks: null, not "" (a condition still matches it as "").
// Each want is InfluxDB 1.8.10's body.
func TestInfluxDB18MissingTag(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18MissingTags)
	tests := []influx18Case{
		{"tag and unknown name", `SELECT f, dc, nosuch FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","f","dc","nosuch"],"values":[["1970-01-01T00:00:00Z",2,"x",null],["1970-01-01T00:00:00Z",1,null,null],["1970-01-01T00:01:00Z",3,null,null]]}]}]}`},
		{"cast to tag", `SELECT f, dc::tag, nosuch::tag FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","f","dc","nosuch"],"values":[["1970-01-01T00:00:00Z",2,"x",null],["1970-01-01T00:00:00Z",1,null,null],["1970-01-01T00:01:00Z",3,null,null]]}]}]}`},
		{"series without tags", `SELECT f, host FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","f","host"],"values":[["1970-01-01T00:00:00Z",2,"b"],["1970-01-01T00:00:00Z",1,"a"],["1970-01-01T00:01:00Z",3,null]]}]}]}`},
		{"selector with tags", `SELECT min(f), dc, host FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","min","dc","host"],"values":[["1970-01-01T00:00:00Z",1,null,"a"]]}]}]}`},
		{"condition on the missing tag", `SELECT f, dc FROM m WHERE dc = ''`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","f","dc"],"values":[["1970-01-01T00:00:00Z",1,null],["1970-01-01T00:01:00Z",3,null]]}]}]}`},
		{"wildcard", `SELECT * FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","dc","f","host"],"values":[["1970-01-01T00:00:00Z","x",2,"b"],["1970-01-01T00:00:00Z",null,1,"a"],["1970-01-01T00:01:00Z",null,3,null]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// TestInfluxDB18TransformDescending pins transformations under ORDER BY
// time DESC: run over the values in descending order, each against the
// later one, shown at the earlier one's time. Each want is InfluxDB
// 1.8.10's body.
func TestInfluxDB18TransformDescending(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18Gaps)
	checkInfluxDB18(t, e, []influx18Case{
		{"over aggregates", `SELECT derivative(mean(f), 1m), difference(mean(f)), moving_average(mean(f), 2), cumulative_sum(mean(f)), elapsed(mean(f), 1m) FROM d WHERE time >= 0 AND time < 7m GROUP BY time(1m) ORDER BY time DESC`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","derivative","difference","moving_average","cumulative_sum","elapsed"],"values":[["1970-01-01T00:05:00Z",null,null,null,2,null],["1970-01-01T00:02:00Z",0.6666666666666666,2,3,6,-3],["1970-01-01T00:00:00Z",-1.5,-3,2.5,7,-2]]}]}]}`},
		{"non_negative_derivative", `SELECT non_negative_derivative(mean(f), 1m) FROM d WHERE time >= 0 AND time < 7m GROUP BY time(1m) ORDER BY time DESC`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","non_negative_derivative"],"values":[["1970-01-01T00:02:00Z",0.6666666666666666]]}]}]}`},
		{"raw derivative", `SELECT derivative(f, 1m) FROM d ORDER BY time DESC`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","derivative"],"values":[["1970-01-01T00:02:00Z",0.6666666666666666],["1970-01-01T00:00:00Z",-1.5]]}]}]}`},
		{"raw difference", `SELECT difference(f), non_negative_difference(f) FROM d ORDER BY time DESC`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","difference","non_negative_difference"],"values":[["1970-01-01T00:02:00Z",2,2],["1970-01-01T00:00:00Z",-3,null]]}]}]}`},
		{"raw elapsed", `SELECT elapsed(f, 1s) FROM d ORDER BY time DESC`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","elapsed"],"values":[["1970-01-01T00:02:00Z",-180],["1970-01-01T00:00:00Z",-120]]}]}]}`},
		{"raw cumulative_sum and moving_average", `SELECT cumulative_sum(f), moving_average(f, 2) FROM d ORDER BY time DESC`,
			`{"results":[{"statement_id":0,"series":[{"name":"d","columns":["time","cumulative_sum","moving_average"],"values":[["1970-01-01T00:05:00Z",2,null],["1970-01-01T00:02:00Z",6,3],["1970-01-01T00:00:00Z",7,2.5]]}]}]}`},
	})
}

// influx18NullResults has a point whose math has no real answer (sqrt of
// a negative) and points that carry only some of the fields.
const influx18NullResults = `m v=-1 1000000000
m2 a=1,c=2 1000000000
m2 b=5 2000000000
m2 c=3 3000000000
`

// TestInfluxDB18RawNullResults pins which rows a raw query answers: every
// time at which some field a selected expression reads has a value, even
// when the expression comes out null (sqrt(-1), a + b with b absent);
// a time at which only other fields have values makes no row; and that a
// field reading no field or tag is refused. Each want is InfluxDB
// 1.8.10's body.
func TestInfluxDB18RawNullResults(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), influx18NullResults)
	tests := []influx18Case{
		{"sqrt of a negative", `SELECT sqrt(v) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","sqrt"],"values":[["1970-01-01T00:00:01Z",null]]}]}]}`},
		{"sqrt of a negative beside the field", `SELECT v, sqrt(v) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v","sqrt"],"values":[["1970-01-01T00:00:01Z",-1,null]]}]}]}`},
		{"a sum with one side absent", `SELECT a + b FROM m2`,
			`{"results":[{"statement_id":0,"series":[{"name":"m2","columns":["time","a_b"],"values":[["1970-01-01T00:00:01Z",null],["1970-01-01T00:00:02Z",null]]}]}]}`},
		{"a null sum beside a field", `SELECT a + b, c FROM m2`,
			`{"results":[{"statement_id":0,"series":[{"name":"m2","columns":["time","a_b","c"],"values":[["1970-01-01T00:00:01Z",null,2],["1970-01-01T00:00:02Z",null,null],["1970-01-01T00:00:03Z",null,3]]}]}]}`},
		{"null math beside a field", `SELECT sqrt(a - 5), b FROM m2`,
			`{"results":[{"statement_id":0,"series":[{"name":"m2","columns":["time","sqrt","b"],"values":[["1970-01-01T00:00:01Z",null,null],["1970-01-01T00:00:02Z",null,5]]}]}]}`},
		{"a condition on another field", `SELECT a + b FROM m2 WHERE c > 1`,
			`{"results":[{"statement_id":0,"series":[{"name":"m2","columns":["time","a_b"],"values":[["1970-01-01T00:00:01Z",null]]}]}]}`},
		{"a constant", `SELECT 1 FROM m`,
			`{"results":[{"statement_id":0,"error":"field must contain at least one variable"}]}`},
		{"a constant beside a field", `SELECT v, 2 FROM m`,
			`{"results":[{"statement_id":0,"error":"field must contain at least one variable"}]}`},
		{"a constant beside an aggregate", `SELECT count(v), 1 FROM m`,
			`{"results":[{"statement_id":0,"error":"field must contain at least one variable"}]}`},
		{"math of constants beside a field", `SELECT acos(2), v FROM m`,
			`{"results":[{"statement_id":0,"error":"field must contain at least one variable"}]}`},
		{"a field absent where the condition holds", `SELECT a FROM m2 WHERE c > 1`,
			`{"results":[{"statement_id":0,"series":[{"name":"m2","columns":["time","a"],"values":[["1970-01-01T00:00:01Z",1]]}]}]}`},
	}
	checkInfluxDB18(t, e, tests)
}

// TestInfluxDB18InfiniteValue pins the answer holding +Inf (a product
// past the largest float), which JSON cannot carry: InfluxDB 1.8.10's
// body is encoding/json's error alone (HTTP 200), not an empty one.
func TestInfluxDB18InfiniteValue(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), "big f=1e200 1000000000\nbig f=2 2000000000\n")
	checkInfluxDB18(t, e, []influx18Case{
		{"overflowing product", `SELECT f*f FROM big`, `{"error":"json: unsupported value: +Inf"}`},
		{"overflowing product beside a finite statement", `SELECT f FROM big; SELECT f*f FROM big`, `{"error":"json: unsupported value: +Inf"}`},
	})
}
