package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is one build of ./cmd/strata, made at most once per test binary.
type binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

var (
	plainBuild binary
	raceBuild  binary
)

// Build compiles ./cmd/strata once per test binary and returns the path of
// the executable. Call Cleanup from TestMain to remove it.
func Build(t testing.TB) string {
	t.Helper()
	return plainBuild.build(t, "CGO_ENABLED=0")
}

// BuildRace is Build with the race detector compiled in (cgo on): a data
// race in the process prints "WARNING: DATA RACE" to its log.
func BuildRace(t testing.TB) string {
	t.Helper()
	return raceBuild.build(t, "CGO_ENABLED=1", "-race")
}

func (b *binary) build(t testing.TB, env string, flags ...string) string {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "strata-proctest-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "strata")
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		args := append(append([]string{"build"}, flags...), "-o", b.path, "./cmd/strata")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %v: %w\n%s", args, err, out)
		}
	})
	if b.err != nil {
		t.Fatal("build strata: " + b.err.Error())
	}
	return b.path
}

// Cleanup removes the binaries built by Build and BuildRace.
func Cleanup() {
	for _, b := range []*binary{&plainBuild, &raceBuild} {
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
}

// moduleRoot finds the directory holding go.mod, walking up from this
// source file's directory.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("locate proctest source file")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above " + filepath.Dir(file))
		}
		dir = parent
	}
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago. Processes bind it themselves, so a rare collision is possible; tests
// that use it retry start-up or accept the small risk.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("reserve a port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Process is one running (or stopped) strata process.
type Process struct {
	t    testing.TB
	Name string
	Bin  string
	Args []string
	Env  []string
	// LogPath receives the process's stdout and stderr, appended across restarts.
	LogPath string

	mu   sync.Mutex // protects cmd and done
	cmd  *exec.Cmd
	done chan struct{}
}

// Start launches bin with args; the process is killed when the test ends.
func Start(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, Name: name, Bin: bin, Args: args, LogPath: filepath.Join(t.TempDir(), name+".log")}
	p.Restart()
	t.Cleanup(func() { p.Kill() })
	return p
}

// Restart starts the process again with the same arguments; it must be stopped.
func (p *Process) Restart() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isDone(p.done) {
		p.t.Fatalf("%s: restart of a running process", p.Name)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatalf("%s: open log: %v", p.Name, err)
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("%s: start %s: %v", p.Name, p.Bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to exit. It is a no-op on a
// stopped process.
func (p *Process) Kill() {
	p.signalAndWait(syscall.SIGKILL, 10*time.Second)
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills.
// It reports whether the process exited by itself.
func (p *Process) Stop(timeout time.Duration) bool {
	return p.signalAndWait(syscall.SIGTERM, timeout)
}

func (p *Process) signalAndWait(sig syscall.Signal, timeout time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || isDone(done) {
		return true
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return false
	}
}

// Signal sends sig (SIGSTOP and SIGCONT freeze and thaw the process) to
// a running process; it is a no-op on a stopped one.
func (p *Process) Signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd != nil && !isDone(done) {
		if err := cmd.Process.Signal(sig); err != nil {
			p.t.Errorf("%s: send %v: %v", p.Name, sig, err)
		}
	}
}

// PID is the operating-system id of the running process, or 0 when it is
// stopped.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isDone(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

// ExitCode is the exit status of a stopped process, or -1 while it runs.
func (p *Process) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !isDone(p.done) {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Log returns what the process has written so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// WaitHTTP polls url until it answers a status below 500 or timeout passes.
func WaitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
			lastErr = errors.New("status " + strconv.Itoa(resp.StatusCode))
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last: %w)", url, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// Run executes bin with args to completion and returns its stdout, stderr
// and exit code; a failure to start fails the test.
func Run(t testing.TB, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return out.String(), errb.String(), code
}
