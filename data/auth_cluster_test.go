package data_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/nodeauth"
)

// authClient sends requests to one node of an auth-enabled cluster.
type authClient struct {
	t    *testing.T
	base string
}

// do sends a request with optional Basic credentials and returns status
// and body.
func (a authClient) do(method, path string, body string, user, password string, header map[string]string) (int, string) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if method == http.MethodPost && strings.HasPrefix(path, "/query") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// query POSTs q as user and fails the test unless it answers 200 without a
// statement error.
func (a authClient) query(user, password, db, q string) string {
	a.t.Helper()
	code, body := a.do(http.MethodPost, "/query", url.Values{"q": {q}, "db": {db}}.Encode(), user, password, nil)
	if code != http.StatusOK || strings.Contains(body, `"error"`) {
		a.t.Fatalf("%s as %q: got %d %s; want 200 without error", q, user, code, body)
	}
	return body
}

func newAuthCluster(t *testing.T, secret string) (*clustertest.Cluster, authClient) {
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 1, Configure: func(_ int, cfg *data.Config) {
		cfg.HTTP.AuthEnabled = true
		cfg.HTTP.SharedSecret = secret
	}})
	return c, authClient{t: t, base: c.URL(0)}
}

// TestAuthPrivileges checks, per privilege and statement kind, that each
// user may do exactly what InfluxDB 1.8 lets it do through /write,
// /api/v2/write and /query (GET and POST), and that what is refused changes
// nothing.
func TestAuthPrivileges(t *testing.T) {
	_, a := newAuthCluster(t, "")

	// No user yet: only creating the first admin runs.
	if code, body := a.do(http.MethodPost, "/query", "q=SHOW+DATABASES", "", "", nil); code != 403 ||
		!strings.Contains(body, "create admin user first or disable authentication") {
		t.Fatalf("query before any user: got %d %s; want 403 create admin user first", code, body)
	}
	if code, body := a.do(http.MethodPost, "/write?db=db0", "cpu v=1 1", "", "", nil); code != 403 ||
		!strings.Contains(body, `user is required to write to database \"db0\"`) {
		t.Fatalf("write before any user: got %d %s; want 403 user is required", code, body)
	}
	if code, body := a.do(http.MethodPost, "/query", "q="+url.QueryEscape("CREATE USER bob WITH PASSWORD 'x'"), "", "", nil); code != 403 {
		t.Fatalf("non-admin first user: got %d %s; want 403", code, body)
	}
	a.query("", "", "", `CREATE USER root WITH PASSWORD 'rootpw' WITH ALL PRIVILEGES`)

	// From now on credentials are required.
	if code, body := a.do(http.MethodPost, "/query", "q=SHOW+DATABASES", "", "", nil); code != 401 ||
		!strings.Contains(body, "unable to parse authentication credentials") {
		t.Fatalf("no credentials: got %d %s; want 401", code, body)
	}
	if code, body := a.do(http.MethodPost, "/query", "q=SHOW+DATABASES", "root", "wrong", nil); code != 401 ||
		body != "{\"error\":\"authorization failed\"}\n" {
		t.Fatalf("wrong password: got %d %q; want 401 authorization failed", code, body)
	}

	for _, q := range []string{
		`CREATE DATABASE db0`, `CREATE DATABASE db1`,
		`CREATE USER reader WITH PASSWORD 'pw'`, `CREATE USER writer WITH PASSWORD 'pw'`,
		`CREATE USER both WITH PASSWORD 'pw'`, `CREATE USER nobody WITH PASSWORD 'pw'`,
		`GRANT READ ON db0 TO reader`, `GRANT WRITE ON db0 TO writer`, `GRANT ALL ON db0 TO both`,
	} {
		a.query("root", "rootpw", "", q)
	}

	users := []string{"root", "reader", "writer", "both", "nobody"}
	pw := map[string]string{"root": "rootpw"}
	type action struct {
		name    string
		allowed []string
		run     func(user string) int
	}
	qs := func(q string) string { return url.Values{"q": {q}, "db": {"db0"}}.Encode() }
	actions := []action{
		{"write", []string{"root", "writer", "both"}, func(u string) int {
			code, _ := a.do(http.MethodPost, "/write?db=db0", fmt.Sprintf("cpu,by=%s v=1 1", u), u, pwOf(pw, u), nil)
			return code
		}},
		{"v2 write", []string{"root", "writer", "both"}, func(u string) int {
			code, _ := a.do(http.MethodPost, "/api/v2/write?bucket=db0", fmt.Sprintf("cpu,by=v2%s v=1 1", u), "", "",
				map[string]string{"Authorization": "Token " + u + ":" + pwOf(pw, u)})
			return code
		}},
		{"GET select", []string{"root", "reader", "both"}, func(u string) int {
			code, _ := a.do(http.MethodGet, "/query?"+qs("SELECT * FROM cpu")+"&u="+u+"&p="+pwOf(pw, u), "", "", "", nil)
			return code
		}},
		{"POST select", []string{"root", "reader", "both"}, func(u string) int {
			code, _ := a.do(http.MethodPost, "/query", qs("SELECT count(v) FROM cpu"), u, pwOf(pw, u), nil)
			return code
		}},
		{"select other db", []string{"root"}, func(u string) int {
			code, _ := a.do(http.MethodPost, "/query", qs("SELECT * FROM db1.autogen.cpu"), u, pwOf(pw, u), nil)
			return code
		}},
		{"show measurements", []string{"root", "reader", "both"}, func(u string) int {
			code, _ := a.do(http.MethodGet, "/query?"+qs("SHOW MEASUREMENTS"), "", u, pwOf(pw, u), nil)
			return code
		}},
		{"create database", []string{"root"}, func(u string) int {
			code, _ := a.do(http.MethodPost, "/query", qs("CREATE DATABASE made_by_"+u), u, pwOf(pw, u), nil)
			return code
		}},
		{"create user", []string{"root"}, func(u string) int {
			code, _ := a.do(http.MethodPost, "/query", qs("CREATE USER made_by_"+u+" WITH PASSWORD 'p'"), u, pwOf(pw, u), nil)
			return code
		}},
		{"show users", []string{"root"}, func(u string) int {
			code, _ := a.do(http.MethodGet, "/query?"+qs("SHOW USERS"), "", u, pwOf(pw, u), nil)
			return code
		}},
	}
	for _, act := range actions {
		for _, u := range users {
			want := http.StatusForbidden
			if slices.Contains(act.allowed, u) {
				want = http.StatusOK
				if strings.Contains(act.name, "write") {
					want = http.StatusNoContent
				}
			}
			if got := act.run(u); got != want {
				t.Errorf("%s as %s: got %d; want %d", act.name, u, got, want)
			}
		}
	}

	// Refused requests changed nothing.
	body := a.query("root", "rootpw", "db0", `SHOW TAG VALUES FROM cpu WITH KEY = "by"`)
	for _, want := range []string{"root", "writer", "both", "v2root", "v2writer", "v2both"} {
		if !strings.Contains(body, `"`+want+`"`) {
			t.Errorf("tag values %s: missing %q written by an allowed user", body, want)
		}
	}
	for _, not := range []string{"reader", "nobody"} {
		if strings.Contains(body, `"`+not+`"`) || strings.Contains(body, `"v2`+not+`"`) {
			t.Errorf("tag values %s: a write refused to %q landed", body, not)
		}
	}
	if body := a.query("root", "rootpw", "", `SHOW DATABASES`); strings.Contains(body, "made_by_") && !strings.Contains(body, "made_by_root") ||
		strings.Count(body, "made_by_") != 1 {
		t.Errorf("SHOW DATABASES %s: want made_by_root only", body)
	}
	if body := a.query("root", "rootpw", "", `SHOW USERS`); strings.Count(body, "made_by_") != 1 {
		t.Errorf("SHOW USERS %s: want made_by_root only", body)
	}
	// A non-admin sees only the databases it holds a privilege on.
	if body := a.query("reader", "pw", "", `SHOW DATABASES`); !strings.Contains(body, `[["db0"]]`) {
		t.Errorf("SHOW DATABASES as reader: got %s; want db0 only", body)
	}

	// Refused requests are counted by reason.
	_, metrics := a.do(http.MethodGet, "/metrics", "", "", "", nil)
	for _, reason := range []string{"no_credentials", "bad_password", "forbidden"} {
		if !strings.Contains(metrics, `strata_http_auth_failures_total{reason="`+reason+`"}`) {
			t.Errorf("/metrics has no strata_http_auth_failures_total{reason=%q}", reason)
		}
	}
}

func pwOf(pw map[string]string, u string) string {
	if p, ok := pw[u]; ok {
		return p
	}
	return "pw"
}

// TestUserStatements checks the user statements' effects and InfluxDB
// 1.8's answer shapes.
func TestUserStatements(t *testing.T) {
	_, a := newAuthCluster(t, "")
	a.query("", "", "", `CREATE USER root WITH PASSWORD 'rootpw' WITH ALL PRIVILEGES`)
	// alice's first password passes once, so the node caches it; SET
	// PASSWORD must still lock it out.
	aliceLogsIn := func() { a.query("alice", "a1", "", `SHOW DATABASES`) }
	steps := []struct {
		q, want string
		after   func()
	}{
		{`CREATE DATABASE db0`, `{"results":[{"statement_id":0}]}`, nil},
		{`CREATE USER alice WITH PASSWORD 'a1'`, `{"results":[{"statement_id":0}]}`, aliceLogsIn},
		// Same password and flag: a no-op; other settings: an error.
		{`CREATE USER alice WITH PASSWORD 'a1'`, `{"results":[{"statement_id":0}]}`, nil},
		{`CREATE USER alice WITH PASSWORD 'other'`, `{"results":[{"statement_id":0,"error":"user already exists"}]}`, nil},
		{`SHOW USERS`, `{"results":[{"statement_id":0,"series":[{"columns":["user","admin"],"values":[["alice",false],["root",true]]}]}]}`, nil},
		{`GRANT ALL ON db0 TO alice`, `{"results":[{"statement_id":0}]}`, nil},
		{`SHOW GRANTS FOR alice`, `{"results":[{"statement_id":0,"series":[{"columns":["database","privilege"],"values":[["db0","ALL PRIVILEGES"]]}]}]}`, nil},
		{`REVOKE READ ON db0 FROM alice`, `{"results":[{"statement_id":0}]}`, nil},
		{`SHOW GRANTS FOR alice`, `{"results":[{"statement_id":0,"series":[{"columns":["database","privilege"],"values":[["db0","WRITE"]]}]}]}`, nil},
		{`REVOKE WRITE ON db0 FROM alice`, `{"results":[{"statement_id":0}]}`, nil},
		{`SHOW GRANTS FOR alice`, `{"results":[{"statement_id":0,"series":[{"columns":["database","privilege"]}]}]}`, nil},
		{`GRANT ALL PRIVILEGES TO alice`, `{"results":[{"statement_id":0}]}`, nil},
		{`SHOW USERS`, `{"results":[{"statement_id":0,"series":[{"columns":["user","admin"],"values":[["alice",true],["root",true]]}]}]}`, nil},
		{`REVOKE ALL PRIVILEGES FROM alice`, `{"results":[{"statement_id":0}]}`, nil},
		{`SET PASSWORD FOR alice = 'a2'`, `{"results":[{"statement_id":0}]}`, nil},
		{`GRANT READ ON nope TO alice`, `"error":`, nil},
		{`SHOW GRANTS FOR ghost`, `{"results":[{"statement_id":0,"error":"user not found"}]}`, nil},
		{`DROP USER ghost`, `{"results":[{"statement_id":0,"error":"user not found"}]}`, nil},
	}
	for _, s := range steps {
		code, body := a.do(http.MethodPost, "/query", url.Values{"q": {s.q}}.Encode(), "root", "rootpw", nil)
		if code != 200 || !strings.Contains(body, s.want) {
			t.Errorf("%s: got %d %s; want 200 containing %s", s.q, code, body, s.want)
		}
		if s.after != nil {
			s.after()
		}
	}
	// The new password works, the old one does not; DROP USER locks alice out.
	if code, _ := a.do(http.MethodGet, "/query?q=SHOW+DATABASES", "", "alice", "a1", nil); code != 401 {
		t.Errorf("old password after SET PASSWORD: got %d; want 401", code)
	}
	a.query("alice", "a2", "", `SHOW DATABASES`)
	a.query("root", "rootpw", "", `DROP USER alice`)
	if code, _ := a.do(http.MethodGet, "/query?q=SHOW+DATABASES", "", "alice", "a2", nil); code != 401 {
		t.Errorf("dropped user: got %d; want 401", code)
	}
	// User statements change the cluster: GET is refused.
	if _, body := a.do(http.MethodGet, "/query?q="+url.QueryEscape(`DROP USER root`), "", "root", "rootpw", nil); !strings.Contains(body, "POST") {
		t.Errorf("DROP USER over GET: got %s; want an error asking for POST", body)
	}
}

// TestAuthJWT checks InfluxDB's bearer tokens: HMAC-signed with [http]
// shared-secret, "username" and "exp" claims required.
func TestAuthJWT(t *testing.T) {
	const secret = "s3cret"
	_, a := newAuthCluster(t, secret)
	a.query("", "", "", `CREATE USER root WITH PASSWORD 'rootpw' WITH ALL PRIVILEGES`)
	a.query("root", "rootpw", "", `CREATE DATABASE db0`)
	a.query("root", "rootpw", "", `CREATE USER w WITH PASSWORD 'pw'`)
	a.query("root", "rootpw", "", `GRANT WRITE ON db0 TO w`)

	sign := func(key string, method jwt.SigningMethod, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	future := time.Now().Add(time.Hour).Unix()
	cases := []struct {
		name     string
		token    string
		code     int
		contains string
	}{
		{"valid", sign(secret, jwt.SigningMethodHS256, jwt.MapClaims{"username": "w", "exp": future}), 204, ""},
		{"HS512", sign(secret, jwt.SigningMethodHS512, jwt.MapClaims{"username": "w", "exp": future}), 204, ""},
		{"wrong secret", sign("other", jwt.SigningMethodHS256, jwt.MapClaims{"username": "w", "exp": future}), 401, "signature is invalid"},
		{"expired", sign(secret, jwt.SigningMethodHS256, jwt.MapClaims{"username": "w", "exp": time.Now().Add(-time.Minute).Unix()}), 401, "token expired"},
		{"no exp", sign(secret, jwt.SigningMethodHS256, jwt.MapClaims{"username": "w"}), 401, "token expiration required"},
		{"no username", sign(secret, jwt.SigningMethodHS256, jwt.MapClaims{"exp": future}), 401, "username in token must be a string"},
		{"unknown user", sign(secret, jwt.SigningMethodHS256, jwt.MapClaims{"username": "ghost", "exp": future}), 401, "user not found"},
		{"alg none", noneToken(t, future), 401, "signing method none is invalid"},
		{"garbage", "not.a.token", 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := a.do(http.MethodPost, "/write?db=db0", "cpu v=1 1", "", "", map[string]string{"Authorization": "Bearer " + tc.token})
			if code != tc.code || !strings.Contains(body, tc.contains) {
				t.Errorf("got %d %s; want %d containing %q", code, body, tc.code, tc.contains)
			}
		})
	}
	// A valid token for a user without the privilege is 403.
	a.query("root", "rootpw", "", `CREATE USER r WITH PASSWORD 'pw'`)
	tok := sign(secret, jwt.SigningMethodHS256, jwt.MapClaims{"username": "r", "exp": future})
	if code, body := a.do(http.MethodPost, "/write?db=db0", "cpu v=1 1", "", "", map[string]string{"Authorization": "Bearer " + tok}); code != 403 {
		t.Errorf("token of a user without WRITE: got %d %s; want 403", code, body)
	}
}

// noneToken is an unsigned ("alg":"none") token, which must be refused.
func noneToken(t *testing.T, exp int64) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"username": "w", "exp": exp}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOperatorEndpointAuth checks who may use the operator endpoints
// (/strata/v1/…) of an auth-enabled node with an internal shared secret:
// any user may read, only an admin may act, and a request signed with the
// secret (as strata ctl signs them) may do both; a request signed with
// another secret is refused, naming why.
func TestOperatorEndpointAuth(t *testing.T) {
	const secret = "operator-secret"
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 1, InternalSharedSecret: secret, Configure: func(_ int, cfg *data.Config) {
		cfg.HTTP.AuthEnabled = true
	}})
	a := authClient{t: t, base: c.URL(0)}
	a.query("", "", "", `CREATE USER root WITH PASSWORD 'rootpw' WITH ALL PRIVILEGES`)
	a.query("root", "rootpw", "", `CREATE USER reader WITH PASSWORD 'pw'`)
	signed := func(key, method, path string) map[string]string {
		return map[string]string{nodeauth.Header: nodeauth.New(key).Token(method, path)}
	}
	for _, tc := range []struct {
		name, method, path string
		user, password     string
		header             func(method, path string) map[string]string
		want               int
		body               string
	}{
		{"read, no credentials", "GET", data.HHPath, "", "", nil, 401, "unable to parse authentication credentials"},
		{"read as a user", "GET", data.EntropyPath, "reader", "pw", nil, 200, ""},
		{"shards as a user", "GET", data.ShardsPath, "reader", "pw", nil, 200, ""},
		{"read signed", "GET", data.CopyShardStatusPath, "", "", func(m, p string) map[string]string { return signed(secret, m, p) }, 200, ""},
		{"read signed with another secret", "GET", data.HHPath, "", "", func(m, p string) map[string]string { return signed("wrong", m, p) }, 401, "internode authentication failed"},
		{"act as a user", "POST", data.EntropyKillPath, "reader", "pw", nil, 403, "need an admin user"},
		{"act as a user with a bad signature", "POST", data.EntropyKillPath, "reader", "pw", func(m, p string) map[string]string { return signed("wrong", m, p) }, 403, "need an admin user"},
		{"act as admin", "POST", data.EntropyKillPath, "root", "rootpw", nil, 200, `"killed":false`},
		{"act signed", "POST", data.HHPurgePath + "?node=7", "", "", func(m, p string) map[string]string { return signed(secret, m, p) }, 200, ""},
		{"act signed for another path", "POST", data.HHPurgePath + "?node=7", "", "", func(m, _ string) map[string]string { return signed(secret, m, data.HHPurgePath+"?node=8") }, 401, "internode authentication failed"},
	} {
		var h map[string]string
		if tc.header != nil {
			h = tc.header(tc.method, tc.path)
		}
		code, body := a.do(tc.method, tc.path, "", tc.user, tc.password, h)
		if code != tc.want || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %s %s answered %d %s; want %d %q", tc.name, tc.method, tc.path, code, body, tc.want, tc.body)
		}
	}
}
