package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// fakeMeta serves a fixed state and records CreateDatabase calls.
type fakeMeta struct {
	mu        sync.Mutex
	data      *meta.Data
	created   []string
	dropped   []string
	refreshes int
	fresh     *meta.Data
	specs     []*meta.RetentionPolicySpec
}

func (f *fakeMeta) Data() *meta.Data {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.data
}

// Refresh returns the state, counting calls; fresh, when set, becomes the
// state on the next call (another node's change arriving).
func (f *fakeMeta) Refresh(context.Context) (*meta.Data, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	if f.fresh != nil {
		f.data, f.fresh = f.fresh, nil
	}
	return f.data, nil
}

func (f *fakeMeta) CreateDatabase(_ context.Context, name string, spec *meta.RetentionPolicySpec) (*meta.DatabaseInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, name)
	f.specs = append(f.specs, spec)
	return &meta.DatabaseInfo{Name: name}, nil
}

func (f *fakeMeta) DropDatabase(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropped = append(f.dropped, name)
	return nil
}

func (f *fakeMeta) CreateRetentionPolicy(_ context.Context, db string, spec meta.RetentionPolicySpec, makeDefault bool) (*meta.RetentionPolicyInfo, error) {
	return nil, errors.New("not used by these tests")
}

func (f *fakeMeta) UpdateRetentionPolicy(_ context.Context, db, name string, upd meta.RetentionPolicyUpdate, makeDefault bool) error {
	return errors.New("not used by these tests")
}

func (f *fakeMeta) DropRetentionPolicy(_ context.Context, db, name string) error {
	return errors.New("not used by these tests")
}

func (f *fakeMeta) CreateContinuousQuery(_ context.Context, db, name, query string) error {
	return errors.New("not used by these tests")
}

func (f *fakeMeta) DropContinuousQuery(_ context.Context, db, name string) error {
	return errors.New("not used by these tests")
}

// writeCall is one recorded WritePoints call; the points are copied as
// line protocol because the parser reuses their memory.
type writeCall struct {
	db, rp string
	level  coordinator.ConsistencyLevel
	lines  []string
}

type fakeWriter struct {
	mu    sync.Mutex
	calls []writeCall
	err   error
	// onCall, if set, runs at every call.
	onCall func()
}

func (f *fakeWriter) WritePoints(_ context.Context, db, rp string, level coordinator.ConsistencyLevel, points []models.Point) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onCall != nil {
		f.onCall()
	}
	c := writeCall{db: db, rp: rp, level: level}
	for i := range points {
		c.lines = append(c.lines, points[i].String())
	}
	f.calls = append(f.calls, c)
	return f.err
}

func newTestHandler(t *testing.T, mutate func(*Config)) (*handler, *fakeMeta, *fakeWriter) {
	t.Helper()
	cfg := NewConfig()
	cfg.HTTP.MaxBodySize = 1000
	if mutate != nil {
		mutate(&cfg)
	}
	fm := &fakeMeta{data: &meta.Data{Databases: []meta.DatabaseInfo{{Name: "db0", DefaultRetentionPolicy: "autogen",
		RetentionPolicies: []meta.RetentionPolicyInfo{{Name: "autogen", ReplicaN: 1}}}}}}
	fw := &fakeWriter{}
	reg := prometheus.NewRegistry()
	h := newHandler(cfg, "test", fm, fw, reg, nil, newHTTPMetrics(reg))
	h.ddl = fm
	return h, fm, fw
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestWriteEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		body       []byte
		gzip       bool
		writerErr  error
		wantStatus int
		wantErr    string // substring of the JSON error
		wantLines  []string
		wantRP     string
		wantLevel  coordinator.ConsistencyLevel
	}{
		{name: "ok", path: "/write?db=db0", body: []byte("cpu,host=a v=1 10\ncpu,host=b v=2i 20\n"),
			wantStatus: 204, wantLines: []string{"cpu,host=a v=1 10", "cpu,host=b v=2i 20"}, wantLevel: coordinator.ConsistencyLevelOne},
		{name: "precision seconds", path: "/write?db=db0&precision=s", body: []byte("cpu v=1 3"),
			wantStatus: 204, wantLines: []string{"cpu v=1 3000000000"}, wantLevel: coordinator.ConsistencyLevelOne},
		{name: "rp and consistency", path: "/write?db=db0&rp=short&consistency=all", body: []byte("cpu v=1 1"),
			wantStatus: 204, wantLines: []string{"cpu v=1 1"}, wantRP: "short", wantLevel: coordinator.ConsistencyLevelAll},
		{name: "gzip", path: "/write?db=db0", body: []byte("m f=\"s\" 5"), gzip: true,
			wantStatus: 204, wantLines: []string{`m f="s" 5`}, wantLevel: coordinator.ConsistencyLevelOne},
		{name: "bad line keeps good lines", path: "/write?db=db0", body: []byte("cpu v=1 1\ncpu v= 2\ncpu v=3 3\n"),
			wantStatus: 400, wantErr: "partial write", wantLines: []string{"cpu v=1 1", "cpu v=3 3"}, wantLevel: coordinator.ConsistencyLevelOne},
		{name: "every line bad", path: "/write?db=db0", body: []byte("garbage\n"), wantStatus: 400, wantErr: "dropped=1"},
		{name: "empty body", path: "/write?db=db0", body: nil, wantStatus: 204},
		{name: "missing db", path: "/write", body: []byte("cpu v=1"), wantStatus: 400, wantErr: "database is required"},
		{name: "unknown db", path: "/write?db=nope", body: []byte("cpu v=1"), wantStatus: 404, wantErr: "database not found"},
		{name: "bad precision", path: "/write?db=db0&precision=x", body: []byte("cpu v=1"), wantStatus: 400, wantErr: "precision"},
		{name: "bad consistency", path: "/write?db=db0&consistency=most", body: []byte("cpu v=1"), wantStatus: 400, wantErr: "consistency"},
		{name: "oversize", path: "/write?db=db0", body: bytes.Repeat([]byte("cpu v=1 1\n"), 101), wantStatus: 413, wantErr: "too large"},
		{name: "oversize gzip", path: "/write?db=db0", body: bytes.Repeat([]byte("cpu v=1 1\n"), 101), gzip: true, wantStatus: 413, wantErr: "too large"},
		{name: "consistency not met", path: "/write?db=db0", body: []byte("cpu v=1 1"),
			writerErr:  &coordinator.WriteError{Level: coordinator.ConsistencyLevelAll, ShardID: 3, Required: 2, Acked: 1, Owners: 2},
			wantStatus: 500, wantErr: "consistency level all not met", wantLines: []string{"cpu v=1 1"}, wantLevel: coordinator.ConsistencyLevelOne},
		{name: "type conflict", path: "/write?db=db0", body: []byte("cpu v=1 1"),
			writerErr:  &coordinator.PartialWriteError{Reason: "field type conflict", Dropped: 1},
			wantStatus: 400, wantErr: "partial write: field type conflict dropped=1", wantLines: []string{"cpu v=1 1"}, wantLevel: coordinator.ConsistencyLevelOne},
		{name: "v2 bucket", path: "/api/v2/write?bucket=db0/short&org=x&precision=ms", body: []byte("cpu v=1 2"),
			wantStatus: 204, wantLines: []string{"cpu v=1 2000000"}, wantRP: "short", wantLevel: coordinator.ConsistencyLevelOne},
		{name: "v2 without bucket", path: "/api/v2/write", body: []byte("cpu v=1 2"), wantStatus: 400, wantErr: "bucket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _, fw := newTestHandler(t, nil)
			fw.err = tc.writerErr
			body := tc.body
			if tc.gzip {
				body = gzipped(t, string(body))
			}
			req := httptest.NewRequest(http.MethodPost, tc.path, bytes.NewReader(body))
			if tc.gzip {
				req.Header.Set("Content-Encoding", "gzip")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", rec.Code, tc.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("X-Influxdb-Version"); got == "" {
				t.Errorf("X-Influxdb-Version header missing")
			}
			if tc.wantErr != "" {
				var e struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, tc.wantErr) {
					t.Errorf("error body: got %q, want it to contain %q", rec.Body.String(), tc.wantErr)
				}
				if rec.Header().Get("X-Influxdb-Error") == "" {
					t.Errorf("X-Influxdb-Error header missing on a %d", rec.Code)
				}
			}
			if tc.wantLines == nil {
				if len(fw.calls) != 0 {
					t.Fatalf("writer called %d times, want 0", len(fw.calls))
				}
				return
			}
			if len(fw.calls) != 1 {
				t.Fatalf("writer called %d times, want 1", len(fw.calls))
			}
			c := fw.calls[0]
			if c.db != "db0" || c.rp != tc.wantRP || c.level != tc.wantLevel {
				t.Errorf("write target: got db=%q rp=%q level=%v; want db0, %q, %v", c.db, c.rp, c.level, tc.wantRP, tc.wantLevel)
			}
			if strings.Join(c.lines, "\n") != strings.Join(tc.wantLines, "\n") {
				t.Errorf("points written:\n got %q\nwant %q", c.lines, tc.wantLines)
			}
		})
	}
}

func TestPingAndHealth(t *testing.T) {
	h, fm, _ := newTestHandler(t, nil)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/ping", nil))
		if rec.Code != 204 || rec.Header().Get("X-Influxdb-Version") != InfluxDBVersion || rec.Header().Get("X-Influxdb-Build") == "" {
			t.Errorf("%s /ping: got %d %v; want 204 with version and build headers", method, rec.Code, rec.Header())
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"pass"`) {
		t.Errorf("/health with state: got %d %s; want 200 pass", rec.Code, rec.Body)
	}
	fm.data = nil
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != 503 {
		t.Errorf("/health without meta state: got %d, want 503", rec.Code)
	}
}

func TestQueryCreateAndShowDatabases(t *testing.T) {
	h, fm, _ := newTestHandler(t, nil)
	post := func(q string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader("q="+q))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := post("CREATE DATABASE newdb")
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "error") {
		t.Fatalf("CREATE DATABASE: got %d %s", rec.Code, rec.Body)
	}
	if len(fm.created) != 1 || fm.created[0] != "newdb" || fm.specs[0] != nil {
		t.Fatalf("meta CreateDatabase calls: got %v %+v; want newdb with no spec (meta's defaults)", fm.created, fm.specs)
	}
	post("CREATE DATABASE db0") // exists: no meta call, as InfluxDB
	if len(fm.created) != 1 {
		t.Errorf("CREATE DATABASE of an existing database called meta: %v", fm.created)
	}
	if rec := post("CREATE DATABASE r WITH DURATION 1d REPLICATION 3 NAME week"); strings.Contains(rec.Body.String(), "error") {
		t.Errorf("CREATE DATABASE WITH: %s", rec.Body)
	}
	if spec := fm.specs[len(fm.specs)-1]; spec.Name != "week" || *spec.ReplicaN != 3 || spec.Duration.Hours() != 24 {
		t.Errorf("CREATE DATABASE WITH: got spec %+v", spec)
	}

	// InfluxDB 1.8 runs a write over GET and warns (TSBS's loader creates
	// its database this way).
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/query?q=CREATE+DATABASE+x", nil))
	want := `{"results":[{"statement_id":0,"messages":[{"level":"warning","text":"deprecated use of 'CREATE DATABASE x' in a read only context, please use a POST request instead"}]}]}`
	if got := strings.TrimSpace(rec.Body.String()); got != want || len(fm.created) != 3 || fm.created[2] != "x" {
		t.Errorf("GET CREATE DATABASE:\n got %s (meta calls %v)\nwant %s and database x created", got, fm.created, want)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/query?q=SHOW+DATABASES", nil))
	want = `{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["db0"]]}]}]}`
	if got := strings.TrimSpace(rec.Body.String()); got != want {
		t.Errorf("SHOW DATABASES:\n got %s\nwant %s", got, want)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/query?q=SELEC", nil))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "error parsing query") {
		t.Errorf("bad query: got %d %s; want 400 error parsing query", rec.Code, rec.Body)
	}
}

func TestWriteAuth(t *testing.T) {
	h, fm, fw := newTestHandler(t, func(c *Config) { c.HTTP.AuthEnabled = true })
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	fm.data.Users = []meta.UserInfo{{Name: "writer", Hash: string(hash), Privileges: map[string]meta.Privilege{"db0": meta.PrivilegeWrite}}}
	do := func(path string, setAuth func(*http.Request)) int {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("cpu v=1 1"))
		if setAuth != nil {
			setAuth(req)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if got := do("/write?db=db0", nil); got != 401 {
		t.Errorf("no credentials: got %d, want 401", got)
	}
	if got := do("/write?db=db0&u=writer&p=wrong", nil); got != 401 {
		t.Errorf("wrong password: got %d, want 401", got)
	}
	if got := do("/write?db=db0&u=writer&p=secret", nil); got != 204 {
		t.Errorf("u/p: got %d, want 204", got)
	}
	if got := do("/write?db=db0", func(r *http.Request) { r.SetBasicAuth("writer", "secret") }); got != 204 {
		t.Errorf("basic auth: got %d, want 204", got)
	}
	if got := do("/write?db=db0", func(r *http.Request) { r.Header.Set("Authorization", "Token writer:secret") }); got != 204 {
		t.Errorf("token: got %d, want 204", got)
	}
	fm.data.Databases = append(fm.data.Databases, meta.DatabaseInfo{Name: "other"})
	if got := do("/write?db=other&u=writer&p=secret", nil); got != 403 {
		t.Errorf("write without privilege: got %d, want 403", got)
	}
	if len(fw.calls) != 3 {
		t.Errorf("writes that reached the writer: got %d, want 3", len(fw.calls))
	}
}

// TestWriteToDatabaseCreatedElsewhere checks that a write for a database
// this node's cache does not know yet re-reads meta before answering 404.
func TestWriteToDatabaseCreatedElsewhere(t *testing.T) {
	h, fm, fw := newTestHandler(t, nil)
	newer := *fm.data
	newer.Databases = append(slices.Clone(newer.Databases), meta.DatabaseInfo{Name: "db1", DefaultRetentionPolicy: "autogen"})
	fm.fresh = &newer
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/write?db=db1", strings.NewReader("cpu v=1 1")))
	if rec.Code != 204 || len(fw.calls) != 1 || fm.refreshes != 1 {
		t.Fatalf("write to a database only meta knows yet: got %d %s, %d writes, %d refreshes; want 204, 1, 1", rec.Code, rec.Body, len(fw.calls), fm.refreshes)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/write?db=none", strings.NewReader("cpu v=1 1")))
	if rec.Code != 404 || fm.refreshes != 2 {
		t.Fatalf("write to a database nobody has: got %d after %d refreshes; want 404 after a refresh", rec.Code, fm.refreshes)
	}
}

// TestQueryBodyTooLarge checks that a /query body over the limit is
// answered 413, not as if q were missing (issue 9: a 50 MB body got 400
// `missing required parameter "q"`), and that a body under it is read.
func TestQueryBodyTooLarge(t *testing.T) {
	h, _, _ := newTestHandler(t, nil)
	post := func(body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(rec, req)
		return rec
	}
	pad := "&pad=" + strings.Repeat("x", maxQueryBytes)
	if rec := post("q=SHOW+DATABASES" + pad); rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "1048576 bytes") {
		t.Errorf("body over %d bytes: got %d %s; want 413 naming the limit", maxQueryBytes, rec.Code, rec.Body)
	}
	if rec := post("q=SHOW+DATABASES" + pad[:maxQueryBytes-100]); rec.Code != http.StatusOK {
		t.Errorf("body under the limit: got %d %s; want 200", rec.Code, rec.Body)
	}
}

// TestWriteStopsWhenCancelled checks that a write of several chunks stops
// between chunks once its request is cancelled (as Close does to requests
// still running at half of shutdown-timeout) and says so with a 503.
func TestWriteStopsWhenCancelled(t *testing.T) {
	h, _, fw := newTestHandler(t, func(c *Config) { c.HTTP.MaxBodySize = 0 })
	ctx, cancel := context.WithCancelCause(context.Background())
	fw.onCall = func() { cancel(errors.New("shutting down")) }
	body := strings.Repeat("cpu v=1 1\n", 2*writeChunkLines+1)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/write?db=db0", strings.NewReader(body)).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "shutting down") {
		t.Errorf("cancelled write: got %d %s; want 503 giving the cause", rec.Code, rec.Body)
	}
	if len(fw.calls) != 1 {
		t.Errorf("cancelled write: %d chunks written; want 1 (it stops at the next chunk)", len(fw.calls))
	}
}
