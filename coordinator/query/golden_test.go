package query_test

import (
	"testing"

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
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","last"],"values":[[1767225680,40]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","last"],"values":[[1767225690,25]]}]}]}`},
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
		{"distinct", `SELECT distinct(host) FROM cpu`, "s",
			`{"results":[{"statement_id":0}]}`},
		{"distinct of a field", `SELECT distinct(idle) FROM cpu WHERE idle > 80`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","distinct"],"values":[[0,85],[0,90],[0,95]]}]}]}`},
		{"subquery aggregate of aggregate", `SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY host)`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[[0,25]]}]}]}`},
		{"subquery gets the outer time range", `SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY time(1m), host) WHERE time >= '2026-01-01T00:01:00Z' AND time < '2026-01-01T00:02:00Z'`, "s",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[[1767225660,40]]}]}]}`},
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
		{"show measurement cardinality", `SHOW MEASUREMENT CARDINALITY`, "",
			`{"results":[{"statement_id":0,"series":[{"columns":["count"],"values":[[2]]}]}]}`},
		{"show series exact cardinality", `SHOW SERIES EXACT CARDINALITY`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]},{"name":"mem","columns":["count"],"values":[[1]]}]}]}`},
		{"show tag key cardinality", `SHOW TAG KEY CARDINALITY`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]},{"name":"mem","columns":["count"],"values":[[1]]}]}]}`},
		{"show tag values cardinality", `SHOW TAG VALUES CARDINALITY FROM cpu WITH KEY = "host"`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]}]}]}`},
		{"show field key cardinality", `SHOW FIELD KEY CARDINALITY`, "",
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["count"],"values":[[2]]},{"name":"mem","columns":["count"],"values":[[2]]}]}]}`},
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
