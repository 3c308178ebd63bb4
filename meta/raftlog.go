package meta

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// newRaftLogger returns an hclog.Logger named "raft" whose lines go to
// logger at the matching slog level. hclog writes JSON lines into
// slogWriter, which turns each into one slog record.
func newRaftLogger(logger *slog.Logger, level string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.LevelFromString(level),
		Output:      &slogWriter{logger: logger},
		JSONFormat:  true,
		DisableTime: true,
	})
}

// slogWriter receives one hclog JSON line per Write.
type slogWriter struct {
	logger *slog.Logger
}

// routineRaftWarning reports raft warnings that describe a node joining
// rather than a problem, logged at info instead:
//   - "no known peers, aborting election": a node with an empty
//     configuration, waiting for its join to be accepted;
//   - "failed to get previous log" with last-index 0, and "appendEntries
//     rejected, sending older logs" with next 1: the leader's first
//     contact with a new, empty follower, which it then catches up;
//   - "heartbeat timeout reached, starting election" by a node that has
//     never known a leader: the first election of a new cluster (or of a
//     node started alone). Losing a known leader still warns.
func routineRaftWarning(msg string, rec map[string]any) bool {
	switch msg {
	case "no known peers, aborting election":
		return true
	case "heartbeat timeout reached, starting election":
		addr, ok := rec["last-leader-addr"].(string)
		return ok && addr == ""
	case "failed to get previous log":
		n, ok := rec["last-index"].(float64)
		return ok && n == 0
	case "appendEntries rejected, sending older logs":
		n, ok := rec["next"].(float64)
		return ok && n == 1
	}
	return false
}

// Write implements io.Writer.
func (w *slogWriter) Write(p []byte) (int, error) {
	var rec map[string]any
	if err := json.Unmarshal(p, &rec); err != nil {
		w.logger.Warn(strings.TrimSpace(string(p)), "component", "raft")
		return len(p), nil
	}
	lvl := slog.LevelInfo
	switch rec["@level"] {
	case "trace", "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	if e, _ := rec["error"].(string); lvl > slog.LevelDebug && strings.HasSuffix(e, net.ErrClosed.Error()) {
		// raft's transport reports connections closed by its own shutdown
		// as errors; hclog hands us only the error's text.
		lvl = slog.LevelDebug
	}
	msg, _ := rec["@message"].(string)
	if lvl > slog.LevelInfo && routineRaftWarning(msg, rec) {
		lvl = slog.LevelInfo
	}
	keys := make([]string, 0, len(rec))
	for k := range rec {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys)+1)
	attrs = append(attrs, slog.String("component", "raft"))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, rec[k]))
	}
	w.logger.LogAttrs(context.Background(), lvl, msg, attrs...)
	return len(p), nil
}
