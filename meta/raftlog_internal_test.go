package meta

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRaftLogLevels(t *testing.T) {
	var out bytes.Buffer
	w := &slogWriter{logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	w.Write([]byte(`{"@level":"error","@message":"failed to decode incoming command","error":"read tcp 127.0.0.1:1->127.0.0.1:2: use of closed network connection"}`))
	if out.Len() != 0 {
		t.Errorf("a connection closed by shutdown was logged above debug: %s", out.String())
	}
	w.Write([]byte(`{"@level":"error","@message":"failed to heartbeat","error":"dial tcp: connection refused"}`))
	if !strings.Contains(out.String(), "level=ERROR") || !strings.Contains(out.String(), "connection refused") {
		t.Errorf("a real raft error was not logged as an error: %q", out.String())
	}
	out.Reset()
	w.Write([]byte(`{"@level":"warn","@message":"no known peers, aborting election"}`))
	if strings.Contains(out.String(), "level=WARN") || !strings.Contains(out.String(), "level=INFO") {
		t.Errorf("a node waiting to join was logged as a warning, want info: %q", out.String())
	}
	for _, line := range []string{
		`{"@level":"warn","@message":"failed to get previous log","error":"log not found","last-index":0,"previous-index":8}`,
		`{"@level":"warn","@message":"appendEntries rejected, sending older logs","next":1,"peer":"x"}`,
		`{"@level":"warn","@message":"heartbeat timeout reached, starting election","last-leader-addr":"","last-leader-id":""}`,
	} {
		out.Reset()
		w.Write([]byte(line))
		if !strings.Contains(out.String(), "level=INFO") {
			t.Errorf("a new follower's catch-up was not logged at info: %q", out.String())
		}
	}
	for _, line := range []string{
		`{"@level":"warn","@message":"failed to get previous log","error":"log not found","last-index":57,"previous-index":80}`,
		`{"@level":"warn","@message":"appendEntries rejected, sending older logs","next":40,"peer":"x"}`,
		`{"@level":"warn","@message":"heartbeat timeout reached, starting election","last-leader-addr":"127.0.0.1:8089","last-leader-id":"a"}`,
	} {
		out.Reset()
		w.Write([]byte(line))
		if !strings.Contains(out.String(), "level=WARN") {
			t.Errorf("a follower behind with a log was not warned about: %q", out.String())
		}
	}
}
