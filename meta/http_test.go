package meta_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

func newHTTP(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func get(t *testing.T, hc *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func ptr[T any](v T) *T { return &v }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(metatest.WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", metatest.WaitTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHTTP_BadInputIs400(t *testing.T) {
	c := metatest.New(t, 3)
	c.WaitLeader()
	hc := newHTTP(t)
	// Send to a follower too: validation errors come back through the proxy.
	targets := []string{c.Leader().HTTPAddr(), c.Followers()[0].HTTPAddr()}
	if _, err := newClient(t, targets[0]).CreateDatabase(ctxT(t), "db", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, body, wantCode, wantMsg string
	}{
		{"not json", "/execute", "{nope", "invalid_command", "decode command"},
		{"unknown type", "/execute", `{"version":1,"type":"explode","payload":{}}`, "invalid_command", "unknown command type"},
		{"bad version", "/execute", `{"version":9,"type":"drop_database","payload":{"name":"x"}}`, "invalid_command", "version 9"},
		{"empty name", "/execute", `{"version":1,"type":"create_database","payload":{"name":""}}`, "invalid_name", "empty"},
		{"slash name", "/execute", `{"version":1,"type":"create_database","payload":{"name":"a/b"}}`, "invalid_name", "'/'"},
		{"rf 0", "/execute", `{"version":1,"type":"create_retention_policy","payload":{"database":"db","spec":{"name":"r","duration":0,"replica_n":0}}}`, "invalid_replication_factor", "below 1"},
		{"short duration", "/execute", `{"version":1,"type":"create_retention_policy","payload":{"database":"db","spec":{"name":"r","duration":60000000000}}}`, "invalid_duration", "shorter than"},
		{"unknown db", "/execute", `{"version":1,"type":"create_shard_group","payload":{"database":"zz","retention_policy":"","timestamp":"2026-01-01T00:00:00Z"}}`, "database_not_found", "zz"},
		{"unknown rp", "/execute", `{"version":1,"type":"drop_retention_policy","payload":{"database":"nope","name":"r"}}`, "database_not_found", "nope"},
		{"join bad body", "/join", `{"id":"x"}`, "invalid_address", "empty"},
		{"join unknown field", "/join", `{"id":"x","what":1}`, "invalid_command", "unknown field"},
		{"leave no id", "/leave", `{}`, "invalid_command", "empty id"},
	} {
		for _, addr := range targets {
			t.Run(tc.name, func(t *testing.T) {
				before := c.Leader().Data().Index
				resp, err := hc.Post("http://"+addr+tc.path, "application/json", strings.NewReader(tc.body))
				if err != nil {
					t.Fatalf("POST: %v", err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var body struct{ Error, Code string }
				if err := json.Unmarshal(b, &body); err != nil {
					t.Fatalf("error body %q is not JSON: %v", b, err)
				}
				if resp.StatusCode != http.StatusBadRequest || body.Code != tc.wantCode || !strings.Contains(body.Error, tc.wantMsg) {
					t.Fatalf("got %d %+v, want 400 code %q with message containing %q", resp.StatusCode, body, tc.wantCode, tc.wantMsg)
				}
				if after := c.Leader().Data().Index; after != before {
					t.Fatalf("state index moved from %d to %d on a rejected request", before, after)
				}
			})
		}
	}
	big := `{"version":1,"type":"create_database","payload":{"name":"` + strings.Repeat("x", 2<<20) + `"}}`
	resp, err := hc.Post("http://"+targets[0]+"/execute", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatalf("POST oversize: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte("request_too_large")) {
		t.Fatalf("oversize body: got %d %s, want 413 request_too_large", resp.StatusCode, b)
	}
	for _, q := range []string{"consistency=bogus", "index=-1", "timeout=soon"} {
		resp, b := get(t, hc, "http://"+targets[0]+"/data?"+q)
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(b, []byte(`"code":"invalid_command"`)) {
			t.Errorf("GET /data?%s: got %d %s, want 400 invalid_command", q, resp.StatusCode, b)
		}
	}
}

func TestHTTP_StatusHealthPingMetrics(t *testing.T) {
	c := metatest.New(t, 3)
	li := c.WaitLeader()
	hc := newHTTP(t)
	f := c.Followers()[0]

	resp, _ := get(t, hc, "http://"+f.HTTPAddr()+"/ping")
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("GET /ping: got %d, want 204", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodHead, "http://"+f.HTTPAddr()+"/ping", nil)
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Errorf("HEAD /ping: got %v %v, want 204", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, b := get(t, hc, "http://"+f.HTTPAddr()+"/health")
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(c.Server(li).HTTPAddr())) {
		t.Errorf("GET /health: got %d %s, want 200 naming leader %s", resp.StatusCode, b, c.Server(li).HTTPAddr())
	}

	st, err := newClient(t, f.HTTPAddr()).Status(ctxT(t), f.HTTPAddr())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.ID != f.ID() || st.State != "Follower" || st.Leader.ID != c.Server(li).ID() || st.Leader.HTTPAddr != c.Server(li).HTTPAddr() || len(st.Peers) != 3 || st.AppliedIndex == 0 {
		t.Fatalf("status: got %+v, want follower %s with leader %s and 3 peers", st, f.ID(), c.Server(li).ID())
	}
	for _, p := range st.Peers {
		if p.HTTPAddr == "" || !p.Voter {
			t.Fatalf("status peer %+v: want a voter with an http address", p)
		}
	}

	if _, err := newClient(t, f.HTTPAddr()).CreateDatabase(ctxT(t), "m", nil); err != nil {
		t.Fatal(err)
	}
	resp, b = get(t, hc, "http://"+c.Server(li).HTTPAddr()+"/metrics")
	for _, want := range []string{
		`strata_meta_command_duration_seconds_count{type="create_database"}`,
		`strata_meta_commands_total{result="ok",type="create_database"}`,
		"strata_meta_raft_state 2", "strata_meta_raft_term", "strata_meta_raft_applied_index",
		"strata_meta_raft_commit_index", "strata_meta_fsm_state_size_bytes", "strata_meta_leader_changes_total",
	} {
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(want)) {
			t.Errorf("GET /metrics on leader: missing %q (status %d)", want, resp.StatusCode)
		}
	}
}

func TestHTTP_HealthWithoutLeader(t *testing.T) {
	cfg := metatest.Config(t.TempDir())
	cfg.NoBootstrap = true
	s := meta.NewServer(cfg, nil, nil)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, _ := get(t, newHTTP(t), "http://"+s.HTTPAddr()+"/health")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /health without a leader: got %d, want 503", resp.StatusCode)
	}
	cmd, _ := meta.NewCommand(meta.CmdCreateDatabase, "", meta.CreateDatabasePayload{Name: "x"})
	body, _ := json.Marshal(cmd)
	r, err := newHTTP(t).Post("http://"+s.HTTPAddr()+"/execute", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST /execute without a leader: got %d, want 503", r.StatusCode)
	}
}
