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

// raftNoPeersMessage is what raft logs when its election timer fires
// without a configuration (hashicorp/raft's runFollower).
const raftNoPeersMessage = "no known peers, aborting election"

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
	if msg == raftNoPeersMessage && lvl > slog.LevelInfo {
		// Only a node with an empty raft configuration says this: one
		// waiting for its join to be accepted, which is normal.
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
