package data_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	client "github.com/influxdata/influxdb1-client/v2"
)

// TestAuthThroughClientLibrary drives the user statements and the
// privilege checks through the InfluxDB 1.x Go client library, as an
// application would: the first admin, a user with WRITE only, its write
// accepted and its SELECT refused, wrong credentials refused.
func TestAuthThroughClientLibrary(t *testing.T) {
	c, _ := newAuthCluster(t, "")
	// CREATE USER and the first request with each credential run a bcrypt
	// at the default cost, 10–15 s under the race detector on a loaded
	// machine (load average 28): the client must wait for it.
	const timeout = 2 * time.Minute
	connect := func(user, password string) client.Client {
		t.Helper()
		cl, err := client.NewHTTPClient(client.HTTPConfig{Addr: c.URL(0), Username: user, Password: password, Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	run := func(cl client.Client, q string) (*client.Response, error) {
		resp, err := cl.Query(client.NewQueryWithParameters(q, "db0", "", nil))
		if err == nil && resp.Error() != nil {
			err = resp.Error()
		}
		return resp, err
	}
	anon := connect("", "")
	if _, err := run(anon, `CREATE USER admin WITH PASSWORD 'adm' WITH ALL PRIVILEGES`); err != nil {
		t.Fatalf("first admin through the client: %v", err)
	}
	admin := connect("admin", "adm")
	for _, q := range []string{`CREATE DATABASE db0`, `CREATE USER app WITH PASSWORD 'apppw'`, `GRANT WRITE ON db0 TO app`} {
		if _, err := run(admin, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	resp, err := run(admin, `SHOW GRANTS FOR app`)
	if err != nil || len(resp.Results) != 1 || len(resp.Results[0].Series) != 1 ||
		len(resp.Results[0].Series[0].Values) != 1 || resp.Results[0].Series[0].Values[0][1] != "WRITE" {
		t.Fatalf("SHOW GRANTS FOR app: %+v, %v; want one WRITE row", resp, err)
	}

	app := connect("app", "apppw")
	bp, _ := client.NewBatchPoints(client.BatchPointsConfig{Database: "db0"})
	p, _ := client.NewPoint("cpu", map[string]string{"host": "a"}, map[string]any{"v": 1.0}, time.Unix(1, 0))
	bp.AddPoint(p)
	if err := app.Write(bp); err != nil {
		t.Errorf("write with WRITE through the client: %v", err)
	}
	if _, err := run(app, `SELECT v FROM cpu`); err == nil || !strings.Contains(err.Error(), "app not authorized to execute statement 'SELECT v FROM cpu', requires READ on db0") {
		t.Errorf("SELECT with WRITE only: %v; want not authorized", err)
	}
	if _, err := run(app, `DROP DATABASE db0`); err == nil {
		t.Errorf("DROP DATABASE by a non-admin through the client: no error")
	}
	if err := connect("app", "wrong").Write(bp); err == nil || !strings.Contains(err.Error(), "authorization failed") {
		t.Errorf("write with a wrong password: %v; want authorization failed", err)
	}
	resp, err = run(admin, `SELECT count(v) FROM cpu`)
	if err != nil || len(resp.Results[0].Series) != 1 {
		t.Fatalf("count as admin: %+v, %v", resp, err)
	}
	if n := resp.Results[0].Series[0].Values[0][1]; fmt.Sprint(n) != "1" {
		t.Errorf("points after the refused calls: %v; want 1", n)
	}
}
