package query_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator/query"
)

// The expected bodies follow the shapes InfluxDB 1.x documents: results[]
// with statement_id; series with name, tags (omitted when empty), columns
// and values; RFC3339 times by default, integers with epoch; per-statement
// errors; {"statement_id":N} alone for an empty answer.
func TestGolden(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), hostData)
	tests := []struct {
		name, q, epoch, want string
	}{
		{"raw field with tag filter", `SELECT usage FROM cpu WHERE host = 'a' AND time >= '2026-01-01T00:00:10Z'`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2026-01-01T00:00:10Z",20],["2026-01-01T00:00:20Z",30],["2026-01-01T00:01:20Z",40]]}]}]}`},
		{"wildcard mixes fields and tags sorted", `SELECT * FROM cpu WHERE host = 'b'`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","host","idle","region","usage"],"values":[[1767225600,"b",95,"west",5],[1767225630,"b",85,"west",15],[1767225690,"b",75,"west",25]]}]}]}`},
		{"wildcard excludes grouped tags", `SELECT * FROM cpu WHERE time > '2026-01-01T00:01:00Z' GROUP BY host`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","idle","region","usage"],"values":[[1767225680,60,"east",40]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","idle","region","usage"],"values":[[1767225690,75,"west",25]]}]}]}`},
		{"arithmetic and alias", `SELECT usage * 2 AS double, usage + idle FROM cpu WHERE host = 'a' LIMIT 2`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","double","usage_idle"],"values":[[1767225600,20,100],[1767225610,40,100]]}]}]}`},
		{"field condition and OR", `SELECT usage FROM cpu WHERE (usage > 30 OR usage < 10) AND region =~ /^(east|west)$/`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[[1767225600,5],[1767225680,40]]}]}]}`},
		{"tag != and !~", `SELECT usage FROM cpu WHERE host != 'a' AND region !~ /east/ LIMIT 1`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[[1767225600,5]]}]}]}`},
		{"aggregate without group by time is at epoch 0", `SELECT count(usage), sum(idle), mean(usage) FROM cpu`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count","sum","mean"],"values":[["1970-01-01T00:00:00Z",7,555,20.714285714285715]]}]}]}`},
		{"aggregate time is the range start", `SELECT count(usage) FROM cpu WHERE time >= '2026-01-01T00:00:30Z'`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[["2026-01-01T00:00:30Z",3]]}]}]}`},
		{"selector takes the point's time", `SELECT max(usage) FROM cpu`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[["2026-01-01T00:01:20Z",40]]}]}]}`},
		{"group by time and tag", `SELECT mean(usage) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:02:00Z' GROUP BY time(1m), host`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","mean"],"values":[[1767225600,20],[1767225660,40]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","mean"],"values":[[1767225600,10],[1767225660,25]]}]}]}`},
		{"lone last without group by time keeps its time", `SELECT last(usage) FROM cpu WHERE host = 'b'`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","last"],"values":[[1767225690,25]]}]}]}`},
		{"group by star", `SELECT last(usage) FROM cpu GROUP BY *`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a","region":"east"},"columns":["time","last"],"values":[[1767225680,40]]},{"name":"cpu","tags":{"host":"b","region":"west"},"columns":["time","last"],"values":[[1767225690,25]]}]}]}`},
		{"fill null with count gives 0", `SELECT count(usage) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:03:00Z' GROUP BY time(1m)`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[[1767225600,5],[1767225660,2],[1767225720,0]]}]}]}`},
		{"order by time desc, limit", `SELECT usage FROM cpu WHERE host = 'a' ORDER BY time DESC LIMIT 2`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[[1767225680,40],[1767225620,30]]}]}]}`},
		{"offset", `SELECT usage FROM cpu WHERE host = 'a' LIMIT 1 OFFSET 2`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[[1767225620,30]]}]}]}`},
		{"slimit soffset", `SELECT last(usage) FROM cpu GROUP BY host SLIMIT 1 SOFFSET 1`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"b"},"columns":["time","last"],"values":[[1767225690,25]]}]}]}`},
		{"last point of every host", `SELECT last(usage) FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"b"},"columns":["time","last"],"values":[[1767225690,25]]},{"name":"cpu","tags":{"host":"a"},"columns":["time","last"],"values":[[1767225680,40]]}]}]}`},
		{"regex measurement", `SELECT count(used) FROM /^me/`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["time","count"],"values":[[0,1]]}]}]}`},
		{"db.rp.measurement", `SELECT used FROM db0.autogen.mem`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["time","used"],"values":[[1767225600,100]]}]}]}`},
		{"other database reads nothing", `SELECT used FROM other.autogen.mem`, "s",
			`{"results":[{"statement_id":0}]}`},
		{"unknown measurement is empty", `SELECT usage FROM nope`, "",
			`{"results":[{"statement_id":0}]}`},
		{"now() and durations", `SELECT count(usage) FROM cpu WHERE time > now() - 12h`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[["2026-01-01T00:00:00.000000001Z",5]]}]}]}`},
		{"derivative over group by time uses the interval as unit", `SELECT derivative(mean(usage)) FROM cpu WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:02:00Z' GROUP BY time(1m)`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","derivative"],"values":[[1767225660,20]]}]}]}`},
		{"difference, cumulative_sum, elapsed over raw", `SELECT difference(idle), cumulative_sum(idle), elapsed(idle, 1s) FROM cpu WHERE host = 'a'`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","difference","cumulative_sum","elapsed"],"values":[[1767225600,null,90,null],[1767225610,-10,170,10],[1767225620,-10,240,10],[1767225680,-10,300,60]]}]}]}`},
		{"top keeps point times", `SELECT top(usage, 2) FROM cpu`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","top"],"values":[[1767225620,30],[1767225680,40]]}]}]}`},
		{"top with a tag keeps one value per tag", `SELECT top(usage, host, 2) FROM cpu`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","top","host"],"values":[[1767225680,40,"a"],[1767225690,25,"b"]]}]}]}`},
		{"bottom with a tag", `SELECT bottom(usage, region, 1) FROM cpu`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","bottom","region"],"values":[[1767225600,5,"west"]]}]}]}`},
		{"top with a tag cannot be combined", `SELECT top(usage, host, 2), mean(usage) FROM cpu`, "",
			`{"results":[{"statement_id":0,"error":"selector function top() cannot be combined with other functions"}]}`},
		{"distinct", `SELECT distinct(host) FROM cpu`, "s",
			`{"results":[{"statement_id":0}]}`},
		{"distinct of a field", `SELECT distinct(idle) FROM cpu WHERE idle > 80`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","distinct"],"values":[[0,90],[0,95],[0,85]]}]}]}`},
		{"subquery aggregate of aggregate", `SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY host)`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[[0,25]]}]}]}`},
		{"subquery gets the outer time range", `SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY time(1m), host) WHERE time >= '2026-01-01T00:01:00Z' AND time < '2026-01-01T00:02:00Z'`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[[1767225660,40]]}]}]}`},
		{"subquery windows of windows", `SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:02:00Z' GROUP BY time(30s), host) WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:02:00Z' GROUP BY time(1m)`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[[1767225600,20],[1767225660,40]]}]}]}`},
		{"subquery grouped by an inner tag", `SELECT sum(c) FROM (SELECT count(usage) AS c FROM cpu GROUP BY host, region) GROUP BY region`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"region":"east"},"columns":["time","sum"],"values":[[0,4]]},{"name":"cpu","tags":{"region":"west"},"columns":["time","sum"],"values":[[0,3]]}]}]}`},
		{"function of wildcard", `SELECT mean(*) FROM cpu`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean_idle","mean_usage"],"values":[[0,79.28571428571429,20.714285714285715]]}]}]}`},
		{"mixing aggregate and raw is an error", `SELECT usage, mean(usage) FROM cpu`, "",
			`{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}`},
		{"group by time needs an aggregate", `SELECT usage FROM cpu WHERE time > 0 GROUP BY time(1m)`, "",
			`{"results":[{"statement_id":0,"error":"GROUP BY requires at least one aggregate function"}]}`},
		{"statements after an error are not executed", `SELECT nosuch(usage) FROM cpu; SHOW MEASUREMENTS`, "",
			`{"results":[{"statement_id":0,"error":"undefined function nosuch()"},{"statement_id":1,"error":"not executed"}]}`},
		{"multiple statements", `SELECT count(used) FROM mem; SELECT count(idle) FROM cpu WHERE host = 'b'`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["time","count"],"values":[[0,1]]}]},{"statement_id":1,"series":[{"name":"cpu","columns":["time","count"],"values":[[0,3]]}]}]}`},
		{"tz aligns windows and renders offsets", `SELECT count(usage) FROM cpu WHERE time >= '2025-12-31T00:00:00Z' AND time < '2026-01-02T00:00:00Z' GROUP BY time(1d) tz('America/Chicago')`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[["2025-12-30T00:00:00-06:00",0],["2025-12-31T00:00:00-06:00",7],["2026-01-01T00:00:00-06:00",0]]}]}]}`},
		{"selector with auxiliary field and tag", `SELECT max(usage), host, idle FROM cpu`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max","host","idle"],"values":[[1767225680,40,"a",60]]}]}]}`},
		{"selector with auxiliary tag by time", `SELECT min(usage), host FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:03:00Z' GROUP BY time(1m) fill(none)`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","min","host"],"values":[[1767225600,5,"b"],[1767225660,25,"b"]]}]}]}`},
		{"math on raw fields", `SELECT abs(usage - 30), round(usage / 3) FROM cpu WHERE host = 'a'`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","abs","round"],"values":[[1767225600,20,3],[1767225610,10,7],[1767225620,0,10],[1767225680,10,13]]}]}]}`},
		{"math on aggregates", `SELECT round(mean(usage)), pow(max(usage), 2) FROM cpu WHERE host = 'b'`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","round","pow"],"values":[[0,15,625]]}]}]}`},
		{"math in the condition", `SELECT usage FROM cpu WHERE sqrt(usage) > 5`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[[1767225620,30],[1767225680,40]]}]}]}`},
		{"math around a transformation", `SELECT abs(difference(max(usage))) FROM cpu WHERE host = 'a' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:02:00Z' GROUP BY time(1m)`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","abs"],"values":[[1767225660,10]]}]}]}`},
		{"count of distinct", `SELECT count(distinct(idle)) FROM cpu WHERE idle > 80`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[[0,3]]}]}]}`},
		{"only time is an error", `SELECT time FROM cpu`, "",
			`{"results":[{"statement_id":0,"error":"at least 1 non-time field must be queried"}]}`},
		{"time in the select list with an alias", `SELECT time AS t, usage FROM cpu WHERE host = 'b' LIMIT 1`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["t","usage"],"values":[[1767225600,5]]}]}]}`},
		{"only tags return nothing", `SELECT host FROM cpu`, "",
			`{"results":[{"statement_id":0}]}`},
		// Grafana's queries.
		{"grafana show measurements", `SHOW MEASUREMENTS LIMIT 100`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"],["mem"]]}]}]}`},
		{"grafana show tag keys", `SHOW TAG KEYS FROM "cpu"`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["tagKey"],"values":[["host"],["region"]]}]}]}`},
		{"grafana show tag values", `SHOW TAG VALUES FROM "cpu" WITH KEY = "host"`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["host","a"],["host","b"]]}]}]}`},
		{"grafana show field keys", `SHOW FIELD KEYS FROM "cpu"`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["fieldKey","fieldType"],"values":[["idle","integer"],["usage","float"]]}]}]}`},
		{"grafana mean by time, epoch ms", `SELECT mean("usage") FROM "cpu" WHERE time >= 1767225600000ms and time <= 1767225779999ms GROUP BY time(1m) fill(null)`, "ms",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[[1767225600000,16],[1767225660000,32.5],[1767225720000,null]]}]}]}`},
		// Metadata statements.
		{"show measurements with regex", `SHOW MEASUREMENTS WITH MEASUREMENT =~ /^c/`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"]]}]}]}`},
		{"show measurements where tag", `SHOW MEASUREMENTS WHERE region = 'west'`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"]]}]}]}`},
		{"show measurements offset past the end", `SHOW MEASUREMENTS LIMIT 1 OFFSET 5`, "",
			`{"results":[{"statement_id":0}]}`},
		{"show tag values in and where", `SHOW TAG VALUES WITH KEY IN ("region", "host") WHERE host = 'b'`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["host","b"],["region","west"]]}]}]}`},
		{"show tag values regex key", `SHOW TAG VALUES FROM cpu WITH KEY =~ /reg/`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["region","east"],["region","west"]]}]}]}`},
		{"show series from where", `SHOW SERIES FROM cpu WHERE host = 'a'`, "",
			`{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["cpu,host=a,region=east"]]}]}]}`},
		{"ddl is not handled", `DROP MEASUREMENT cpu`, "",
			`{"results":[{"statement_id":0,"error":"DROP MEASUREMENT cpu: statement not handled by the query executor"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := execJSON(t, e, tc.q, tc.epoch); got != tc.want {
				t.Errorf("%s\n got %s\nwant %s", tc.q, got, tc.want)
			}
		})
	}
}

// dstLines builds line protocol for measurement m with one float field v
// per RFC3339 time, so the DST data below reads as wall-clock times.
func dstLines(m string, pts ...any) string {
	var b strings.Builder
	for i := 0; i < len(pts); i += 2 {
		t, err := time.Parse(time.RFC3339, pts[i].(string))
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, "%s v=%v %d\n", m, pts[i+1], t.UnixNano())
	}
	return b.String()
}

// dstData straddles zone changes in 2026:
//   - ny:  America/New_York spring forward, 2026-03-08 07:00Z (02:00 EST → 03:00 EDT);
//   - nyf: America/New_York fall back, 2026-11-01 06:00Z (02:00 EDT → 01:00 EST);
//   - lon: Europe/London, 2026-03-29 01:00Z (GMT → BST) and 2026-10-25 01:00Z (BST → GMT);
//   - lhi: Australia/Lord_Howe fall back by 30 min, 2026-04-04 15:00Z (02:00 +11 → 01:30 +10:30).
var dstData = dstLines("ny",
	"2026-03-07T06:00:00Z", 1, // 03-07 01:00 EST
	"2026-03-08T04:30:00Z", 2, // 03-07 23:30 EST
	"2026-03-08T05:30:00Z", 4, // 03-08 00:30 EST
	"2026-03-08T06:30:00Z", 8, // 03-08 01:30 EST
	"2026-03-08T07:30:00Z", 16, // 03-08 03:30 EDT
	"2026-03-09T03:30:00Z", 32, // 03-08 23:30 EDT
	"2026-03-09T04:30:00Z", 64, // 03-09 00:30 EDT
	"2026-03-09T12:00:00Z", 128, // 03-09 08:00 EDT
) + dstLines("nyf",
	"2026-10-31T12:00:00Z", 1, // 10-31 08:00 EDT
	"2026-11-01T04:30:00Z", 2, // 11-01 00:30 EDT
	"2026-11-01T05:30:00Z", 4, // 11-01 01:30 EDT
	"2026-11-01T06:30:00Z", 8, // 11-01 01:30 EST
	"2026-11-02T04:30:00Z", 16, // 11-01 23:30 EST
) + dstLines("lon",
	"2026-03-28T12:00:00Z", 1, // 03-28 12:00 GMT
	"2026-03-29T00:30:00Z", 2, // 03-29 00:30 GMT
	"2026-03-29T22:30:00Z", 4, // 03-29 23:30 BST
	"2026-03-29T23:30:00Z", 8, // 03-30 00:30 BST
	"2026-10-24T22:30:00Z", 16, // 10-24 23:30 BST
	"2026-10-24T23:30:00Z", 32, // 10-25 00:30 BST
	"2026-10-25T23:30:00Z", 64, // 10-25 23:30 GMT
	"2026-10-26T00:30:00Z", 128, // 10-26 00:30 GMT
) + dstLines("lhi",
	"2026-04-04T14:10:00Z", 1, // 04-05 01:10 +11
	"2026-04-04T14:40:00Z", 2, // 04-05 01:40 +11
	"2026-04-04T15:10:00Z", 4, // 04-05 01:40 +10:30
	"2026-04-04T15:40:00Z", 8, // 04-05 02:10 +10:30
	"2026-04-04T16:10:00Z", 16, // 04-05 02:40 +10:30
)

// dstQueries are GROUP BY time ... tz() queries across zone changes with
// InfluxDB 1.x's answers: windows follow IteratorOptions.Window (the zone
// offset at each window's start and end, so a DST day lasts 23 or 25 h;
// an offset change smaller than the interval moves the edge, one equal to
// or larger does not), and times render in the zone. count/sum/mean are
// pushed down, median/spread are not.
var dstQueries = []struct {
	name, q, want string
}{
	{"spring forward day is 23h, pushed down",
		`SELECT count(v), sum(v) FROM ny WHERE time >= '2026-03-07T05:00:00Z' AND time < '2026-03-10T04:00:00Z' GROUP BY time(1d) tz('America/New_York')`,
		`{"name":"ny","columns":["time","count","sum"],"values":[["2026-03-07T00:00:00-05:00",2,3],["2026-03-08T00:00:00-05:00",4,60],["2026-03-09T00:00:00-04:00",2,192]]}`},
	{"spring forward day is 23h, raw",
		`SELECT median(v), spread(v) FROM ny WHERE time >= '2026-03-07T05:00:00Z' AND time < '2026-03-10T04:00:00Z' GROUP BY time(1d) tz('America/New_York')`,
		`{"name":"ny","columns":["time","median","spread"],"values":[["2026-03-07T00:00:00-05:00",1.5,1],["2026-03-08T00:00:00-05:00",12,28],["2026-03-09T00:00:00-04:00",96,64]]}`},
	{"spring forward 12h windows start at local noon",
		`SELECT mean(v) FROM ny WHERE time >= '2026-03-08T05:00:00Z' AND time < '2026-03-09T04:00:00Z' GROUP BY time(12h) tz('America/New_York')`,
		`{"name":"ny","columns":["time","mean"],"values":[["2026-03-08T00:00:00-05:00",9.333333333333334],["2026-03-08T12:00:00-04:00",32]]}`},
	{"spring forward hours skip 02:00, fill(null)",
		`SELECT count(v) FROM ny WHERE time >= '2026-03-08T05:00:00Z' AND time < '2026-03-08T09:00:00Z' GROUP BY time(1h) tz('America/New_York')`,
		`{"name":"ny","columns":["time","count"],"values":[["2026-03-08T00:00:00-05:00",1],["2026-03-08T01:00:00-05:00",1],["2026-03-08T03:00:00-04:00",1],["2026-03-08T04:00:00-04:00",0]]}`},
	{"fall back day is 25h, fill(null)",
		`SELECT count(v), mean(v) FROM nyf WHERE time >= '2026-10-31T04:00:00Z' AND time < '2026-11-03T05:00:00Z' GROUP BY time(1d) tz('America/New_York')`,
		`{"name":"nyf","columns":["time","count","mean"],"values":[["2026-10-31T00:00:00-04:00",1,1],["2026-11-01T00:00:00-04:00",4,7.5],["2026-11-02T00:00:00-05:00",0,null]]}`},
	{"fall back day is 25h, fill(none)",
		`SELECT count(v), mean(v) FROM nyf WHERE time >= '2026-10-31T04:00:00Z' AND time < '2026-11-03T05:00:00Z' GROUP BY time(1d) fill(none) tz('America/New_York')`,
		`{"name":"nyf","columns":["time","count","mean"],"values":[["2026-10-31T00:00:00-04:00",1,1],["2026-11-01T00:00:00-04:00",4,7.5]]}`},
	{"fall back day is 25h, raw, fill(none)",
		`SELECT median(v) FROM nyf WHERE time >= '2026-10-31T04:00:00Z' AND time < '2026-11-03T05:00:00Z' GROUP BY time(1d) fill(none) tz('America/New_York')`,
		`{"name":"nyf","columns":["time","median"],"values":[["2026-10-31T00:00:00-04:00",1],["2026-11-01T00:00:00-04:00",6]]}`},
	{"fall back repeats 01:00",
		`SELECT count(v) FROM nyf WHERE time >= '2026-11-01T04:00:00Z' AND time < '2026-11-01T08:00:00Z' GROUP BY time(1h) tz('America/New_York')`,
		`{"name":"nyf","columns":["time","count"],"values":[["2026-11-01T00:00:00-04:00",1],["2026-11-01T01:00:00-04:00",1],["2026-11-01T01:00:00-05:00",1],["2026-11-01T02:00:00-05:00",0]]}`},
	{"london spring forward",
		`SELECT sum(v) FROM lon WHERE time >= '2026-03-28T00:00:00Z' AND time < '2026-03-30T23:00:00Z' GROUP BY time(1d) tz('Europe/London')`,
		`{"name":"lon","columns":["time","sum"],"values":[["2026-03-28T00:00:00Z",1],["2026-03-29T00:00:00Z",6],["2026-03-30T00:00:00+01:00",8]]}`},
	{"london fall back, raw",
		`SELECT count(v), spread(v) FROM lon WHERE time >= '2026-10-23T23:00:00Z' AND time < '2026-10-27T00:00:00Z' GROUP BY time(1d) tz('Europe/London')`,
		`{"name":"lon","columns":["time","count","spread"],"values":[["2026-10-24T00:00:00+01:00",1,0],["2026-10-25T00:00:00+01:00",2,32],["2026-10-26T00:00:00Z",1,0]]}`},
	{"half-hour change moves an hourly edge",
		`SELECT sum(v) FROM lhi WHERE time >= '2026-04-04T14:00:00Z' AND time < '2026-04-04T17:00:00Z' GROUP BY time(1h) fill(none) tz('Australia/Lord_Howe')`,
		`{"name":"lhi","columns":["time","sum"],"values":[["2026-04-05T01:00:00+11:00",7],["2026-04-05T02:00:00+10:30",24]]}`},
	{"no lower bound starts at the first point's local day",
		`SELECT count(v) FROM ny WHERE time < '2026-03-10T04:00:00Z' GROUP BY time(1d) tz('America/New_York')`,
		`{"name":"ny","columns":["time","count"],"values":[["2026-03-07T00:00:00-05:00",2],["2026-03-08T00:00:00-05:00",4],["2026-03-09T00:00:00-04:00",2]]}`},
}

func TestGoldenDST(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), dstData)
	for _, tc := range dstQueries {
		t.Run(tc.name, func(t *testing.T) {
			want := `{"results":[{"statement_id":0,"series":[` + tc.want + `]}]}`
			if got := execJSON(t, e, tc.q, ""); got != want {
				t.Errorf("%s\n got %s\nwant %s", tc.q, got, want)
			}
		})
	}
}

// cardData adds to hostData a measurement whose two tag keys share a
// value, for the distinct-value count of SHOW TAG VALUES CARDINALITY.
const cardData = hostData + `shared,x=1,y=1 v=1 1767225600000000000
shared,x=2,y=1 v=1 1767225600000000000
`

// TestGoldenCardinality pins InfluxDB 1.8's shapes for the cardinality
// statements. SHOW SERIES / MEASUREMENT CARDINALITY with none of FROM,
// WHERE, GROUP BY, LIMIT, OFFSET is answered from the index
// (coordinator/statement_executor.go: one unnamed row, column
// "cardinality estimation", also 0 for an empty database); everything
// else is rewritten into a SELECT (query/statement_rewriter.go) with
// OmitTime: count(distinct(_name)) with StripName for measurements (one
// unnamed row, "count"), and per measurement count(_seriesKey),
// count(distinct(_tagKey)), count(distinct(_fieldKey)),
// count(distinct(_tagValue)) for the others (a row named after each
// measurement with a non-zero count, "count"). Being SELECTs, they answer
// nothing when nothing matches, and LIMIT/OFFSET apply to the one row of
// each series.
func TestGoldenCardinality(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), cardData)
	const empty = `{"results":[{"statement_id":0}]}`
	tests := []struct{ name, q, want string }{
		{"measurement estimate", `SHOW MEASUREMENT CARDINALITY`,
			`{"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[3]]}]}]}`},
		{"measurement estimate on db", `SHOW MEASUREMENT CARDINALITY ON db0`,
			`{"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[3]]}]}]}`},
		{"measurement estimate of an empty database", `SHOW MEASUREMENT CARDINALITY ON empty`,
			`{"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[0]]}]}]}`},
		{"measurement exact is one total", `SHOW MEASUREMENT EXACT CARDINALITY`,
			`{"results":[{"statement_id":0,"series":[{"columns":["count"],"values":[[3]]}]}]}`},
		{"measurement with where counts exactly", `SHOW MEASUREMENT CARDINALITY WHERE region = 'west'`,
			`{"results":[{"statement_id":0,"series":[{"columns":["count"],"values":[[1]]}]}]}`},
		{"measurement exact from regex on db", `SHOW MEASUREMENT EXACT CARDINALITY ON db0 FROM /^(cpu|mem)$/`,
			`{"results":[{"statement_id":0,"series":[{"columns":["count"],"values":[[2]]}]}]}`},
		{"measurement exact from a missing measurement", `SHOW MEASUREMENT EXACT CARDINALITY FROM nope`, empty},
		{"measurement exact of an empty database", `SHOW MEASUREMENT EXACT CARDINALITY ON empty`, empty},
		{"measurement exact offset past its one row", `SHOW MEASUREMENT EXACT CARDINALITY OFFSET 1`, empty},
		{"series estimate", `SHOW SERIES CARDINALITY`,
			`{"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[5]]}]}]}`},
		{"series estimate of an empty database", `SHOW SERIES CARDINALITY ON empty`,
			`{"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[0]]}]}]}`},
		{"series with from counts per measurement", `SHOW SERIES CARDINALITY FROM cpu`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]}]}]}`},
		{"series exact per measurement", `SHOW SERIES EXACT CARDINALITY`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]},{"name":"mem","columns":["count"],"values":[[1]]},{"name":"shared","columns":["count"],"values":[[2]]}]}]}`},
		{"series exact where", `SHOW SERIES EXACT CARDINALITY ON db0 WHERE host = 'a'`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[1]]},{"name":"mem","columns":["count"],"values":[[1]]}]}]}`},
		{"series exact limit keeps each row", `SHOW SERIES EXACT CARDINALITY LIMIT 1`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]},{"name":"mem","columns":["count"],"values":[[1]]},{"name":"shared","columns":["count"],"values":[[2]]}]}]}`},
		{"series exact offset past each row", `SHOW SERIES EXACT CARDINALITY OFFSET 1`, empty},
		{"series exact of an empty database", `SHOW SERIES EXACT CARDINALITY ON empty`, empty},
		{"tag key", `SHOW TAG KEY CARDINALITY`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]},{"name":"mem","columns":["count"],"values":[[1]]},{"name":"shared","columns":["count"],"values":[[2]]}]}]}`},
		{"tag key exact from where", `SHOW TAG KEY EXACT CARDINALITY FROM cpu WHERE host = 'a'`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]}]}]}`},
		{"tag values count distinct values", `SHOW TAG VALUES CARDINALITY WITH KEY IN ("host", "region", "x", "y")`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[4]]},{"name":"mem","columns":["count"],"values":[[1]]},{"name":"shared","columns":["count"],"values":[[2]]}]}]}`},
		{"tag values exact from", `SHOW TAG VALUES EXACT CARDINALITY FROM cpu WITH KEY = "host"`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]}]}]}`},
		{"field key", `SHOW FIELD KEY CARDINALITY`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]},{"name":"mem","columns":["count"],"values":[[2]]},{"name":"shared","columns":["count"],"values":[[1]]}]}]}`},
		{"field key where no series matches", `SHOW FIELD KEY EXACT CARDINALITY FROM cpu WHERE host = 'nobody'`, empty},
		{"tag key of an empty database", `SHOW TAG KEY CARDINALITY ON empty`, empty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := execJSON(t, e, tc.q, ""); got != tc.want {
				t.Errorf("%s\n got %s\nwant %s", tc.q, got, tc.want)
			}
		})
	}
}

// groupStartData has two groups whose first points differ, and a field w
// only group a has, first seen after its v.
var groupStartData = dstLines("g,k=a",
	"2026-01-01T02:30:00Z", 1,
) + dstLines("g,k=b",
	"2026-01-01T04:20:00Z", 3,
) + strings.ReplaceAll(dstLines("g,k=a", "2026-01-01T06:10:00Z", 5), " v=", " w=")

// TestGoldenGroupByTimeStart pins where GROUP BY time windows start and
// end, as InfluxDB 1.8 does: the upper bound is now() when the query has
// none (compile.go); each call has its own fill iterator, which starts at
// the window of the lower bound or, without one, at the window of the
// first point that call has in the group, runs to the window of the upper
// bound, and never sees a group the call has no point in
// (iterator.gen.go.tmpl FillIterator); the cursor joins the calls by time,
// null where a call has no row (the number under fill(<number>)).
func TestGoldenGroupByTimeStart(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), groupStartData)
	// 2026-01-01T02:00Z … 12:00Z (now) every 2 h.
	const h2, h4, h6, h8, h10, h12 = "1767232800", "1767240000", "1767247200", "1767254400", "1767261600", "1767268800"
	row := func(vals ...string) string { return "[" + strings.Join(vals, ",") + "]" }
	rows := func(rs ...string) string { return "[" + strings.Join(rs, ",") + "]" }
	series := func(k, cols, values string) string {
		return `{"name":"g","tags":{"k":"` + k + `"},"columns":["time",` + cols + `],"values":` + values + `}`
	}
	tests := []struct{ name, q, want string }{
		{"each group from its first point to now, fill(null)",
			`SELECT mean(v) FROM g GROUP BY time(2h), k fill(null)`,
			series("a", `"mean"`, rows(row(h2, "1"), row(h4, "null"), row(h6, "null"), row(h8, "null"), row(h10, "null"), row(h12, "null"))) + "," +
				series("b", `"mean"`, rows(row(h4, "3"), row(h6, "null"), row(h8, "null"), row(h10, "null"), row(h12, "null")))},
		{"each call from its own first point; none where it has no point",
			`SELECT count(v), count(w) FROM g GROUP BY time(2h), k`,
			series("a", `"count","count_1"`, rows(row(h2, "1", "null"), row(h4, "0", "null"), row(h6, "0", "1"), row(h8, "0", "0"), row(h10, "0", "0"), row(h12, "0", "0"))) + "," +
				series("b", `"count","count_1"`, rows(row(h4, "1", "null"), row(h6, "0", "null"), row(h8, "0", "null"), row(h10, "0", "null"), row(h12, "0", "null")))},
		// … but a number fill is also the row scanner's default for a
		// call without a row (query/cursor.go): -1, not null (checked
		// against InfluxDB 1.8.10).
		{"number fill is every missing value",
			`SELECT mean(v), mean(w) FROM g WHERE time <= '2026-01-01T08:00:00Z' GROUP BY time(2h), k fill(-1)`,
			series("a", `"mean","mean_1"`, rows(row(h2, "1", "-1"), row(h4, "-1", "-1"), row(h6, "-1", "5"), row(h8, "-1", "-1"))) + "," +
				series("b", `"mean","mean_1"`, rows(row(h4, "3", "-1"), row(h6, "-1", "-1"), row(h8, "-1", "-1")))},
		{"a lower bound starts every call there, still none where it has no point",
			`SELECT count(v), count(w) FROM g WHERE time >= '2026-01-01T02:00:00Z' AND time < '2026-01-01T08:00:00Z' GROUP BY time(2h), k`,
			series("a", `"count","count_1"`, rows(row(h2, "1", "0"), row(h4, "0", "0"), row(h6, "0", "1"))) + "," +
				series("b", `"count","count_1"`, rows(row(h2, "0", "null"), row(h4, "1", "null"), row(h6, "0", "null")))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := `{"results":[{"statement_id":0,"series":[` + tc.want + `]}]}`
			if got := execJSON(t, e, tc.q, "s"); got != want {
				t.Errorf("%s\n got %s\nwant %s", tc.q, got, want)
			}
		})
	}
}
