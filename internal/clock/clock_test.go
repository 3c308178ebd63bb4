package clock

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNowFollowsOffset(t *testing.T) {
	t.Cleanup(func() { SetOffset(0) })
	if d := Now().Sub(time.Now()); d < -time.Second || d > time.Second {
		t.Fatalf("with no offset Now is %v away from time.Now", d)
	}
	SetOffset(-3 * time.Minute)
	if d := time.Now().Sub(Now()); d < 3*time.Minute-time.Second || d > 3*time.Minute+time.Second {
		t.Fatalf("offset -3m: Now is %v behind time.Now", d)
	}
	if Offset() != -3*time.Minute {
		t.Fatalf("Offset = %v", Offset())
	}
}

// waitOffset polls until the offset is want or fails after a few polls.
func waitOffset(t *testing.T, want time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(20 * PollInterval); time.Now().Before(deadline); time.Sleep(PollInterval / 4) {
		if Offset() == want {
			return
		}
	}
	t.Fatalf("offset is %v, want %v", Offset(), want)
}

func TestFaultFileNeedsEnv(t *testing.T) {
	t.Cleanup(func() { SetOffset(0) })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FaultFile), []byte("90s"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(FaultEnv, "")
	stop := WatchFaultFile(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer stop()
	time.Sleep(3 * PollInterval)
	if Offset() != 0 {
		t.Fatalf("without %s=1 the file moved the clock by %v", FaultEnv, Offset())
	}
}

func TestFaultFileMovesClock(t *testing.T) {
	t.Cleanup(func() { SetOffset(0) })
	dir := t.TempDir()
	path := filepath.Join(dir, FaultFile)
	t.Setenv(FaultEnv, "1")
	stop := WatchFaultFile(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer stop()
	for _, step := range []struct {
		content string
		want    time.Duration
	}{{"90s\n", 90 * time.Second}, {"-5m", -5 * time.Minute}, {"not a duration", -5 * time.Minute}, {"", 0}, {"2s", 2 * time.Second}} {
		if err := os.WriteFile(path, []byte(step.content), 0o644); err != nil {
			t.Fatal(err)
		}
		waitOffset(t, step.want)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitOffset(t, 0)
}
