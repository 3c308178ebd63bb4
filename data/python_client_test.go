package data_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/strata-db/strata/data/clustertest"
)

// debianPython is Debian's interpreter, the one python3-influxdb installs
// into (a pyenv python3 on PATH would not see it).
const debianPython = "/usr/bin/python3"

// TestPythonInfluxDBContinuousQueries drives continuous queries and
// SELECT … INTO through Debian's python3-influxdb (testdata/cq_client.py):
// get_list_continuous_queries, and create and drop through query.
func TestPythonInfluxDBContinuousQueries(t *testing.T) {
	py := debianPython
	if _, err := os.Stat(py); err != nil {
		py = "python3"
	}
	if out, err := exec.Command(py, "-c", "import influxdb").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: python3-influxdb is not installed for %s (apt-get install python3-influxdb): %v %s", py, err, out)
	}
	c := clustertest.New(t, clustertest.Options{Data: 1})
	out, err := exec.Command(py, "testdata/cq_client.py", c.URL(0)).CombinedOutput()
	if err != nil {
		t.Fatalf("cq_client.py: %v\n%s", err, out)
	}
	want := []string{
		`[{"pydb": [{"name": "pycq", "query": "CREATE CONTINUOUS QUERY pycq ON pydb BEGIN SELECT mean(v) INTO pydb.autogen.v_1m FROM pydb.autogen.cpu GROUP BY time(1m), * END"}]}]`,
		`[{"time": "1970-01-01T00:00:00Z", "written": 4}]`,
		`[{"time": "2026-01-01T00:00:00Z", "mean": 15}, {"time": "2026-01-01T00:01:00Z", "mean": 90}]`,
		`[{"pydb": []}]`,
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(want) {
		t.Fatalf("cq_client.py printed %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}
}
