package wal_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/wal"
)

// Environment of the crash test's child process.
const (
	crashDirEnv   = "STRATA_WAL_CRASH_DIR"
	crashRoundEnv = "STRATA_WAL_CRASH_ROUND"
)

// Crash workload: crashWriters goroutines write records of crash-test data
// into segments of crashSegmentSize bytes, so that rotations happen too.
const (
	crashWriters     = 4
	crashSegmentSize = 256 << 10
	crashMaxRecord   = 48 << 10
	crashRounds      = 5
)

// crashRecord returns the record that writer w writes as its seq-th in round:
// a 16-byte key followed by a payload derived from it.
func crashRecord(round, writer uint32, seq uint64) []byte {
	rng := rand.New(rand.NewPCG(uint64(round)<<32|uint64(writer), seq))
	n := 16 + rng.IntN(crashMaxRecord)
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b[0:], round)
	binary.LittleEndian.PutUint32(b[4:], writer)
	binary.LittleEndian.PutUint64(b[8:], seq)
	for i := 16; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// crashKey identifies a crash-test record.
type crashKey struct {
	round, writer uint32
	seq           uint64
}

// crashChildMain is the child side of TestCrashKill9, run by TestMain in
// place of the tests: it writes records into dir until it is killed,
// printing "ack round writer seq" for each one Write acknowledged. It never
// returns.
func crashChildMain(dir string) {
	round, err := strconv.ParseUint(os.Getenv(crashRoundEnv), 10, 32)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: bad round:", err)
		os.Exit(2)
	}
	cfg := wal.NewConfig()
	cfg.SegmentSize = crashSegmentSize
	w, err := wal.Open(dir, cfg, nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: open:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second) // the parent kills long before
	for g := range uint32(crashWriters) {
		wg.Go(func() {
			for seq := uint64(0); time.Now().Before(deadline); seq++ {
				if _, err := w.Write(crashRecord(uint32(round), g, seq)); err != nil {
					fmt.Fprintln(os.Stderr, "crash child: write:", err)
					os.Exit(2)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %d %d\n", round, g, seq)
				out.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3) // not killed: the parent reports it
}

// runCrashChild starts a child writing round's records into dir, kills it
// with SIGKILL at a random moment after its first acknowledgements, and
// returns the records it acknowledged.
func runCrashChild(t *testing.T, dir string, round uint32, rng *rand.Rand) []crashKey {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(int(round)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash child: %v", err)
	}
	var acks []crashKey
	firstAcks := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			var k crashKey
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d %d", &k.round, &k.writer, &k.seq); err != nil {
				done <- fmt.Errorf("child line %q: %w", sc.Text(), err)
				return
			}
			acks = append(acks, k)
			if !signalled && len(acks) >= 8 {
				signalled = true
				close(firstAcks)
			}
		}
		if !signalled {
			close(firstAcks)
		}
		done <- sc.Err()
	}()
	<-firstAcks
	time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		werr := cmd.Wait()
		t.Fatalf("kill crash child: %v (it ended with %v, stderr %q)", err, werr, stderr.String())
	}
	if err := <-done; err != nil {
		t.Fatalf("read child acks: %v", err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.String(), "killed") {
		t.Fatalf("crash child: got exit %v (stderr %q); want killed by the test", err, stderr.String())
	}
	return acks
}

func TestCrashKill9(t *testing.T) {
	rounds := crashRounds
	if testing.Short() {
		rounds = 2
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	acked := make(map[crashKey]bool)
	for round := range uint32(rounds) {
		acks := runCrashChild(t, dir, round, rng)
		if len(acks) == 0 {
			t.Fatalf("round %d: child acknowledged nothing", round)
		}
		for _, k := range acks {
			acked[k] = true
		}

		w, err := wal.Open(dir, wal.NewConfig(), nil, nil)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		seen := make(map[crashKey]bool)
		last := make(map[[2]uint32]uint64)
		err = w.Replay(func(_ uint64, rec []byte) error {
			if len(rec) < 16 {
				return fmt.Errorf("record of %d bytes; want >= 16", len(rec))
			}
			k := crashKey{binary.LittleEndian.Uint32(rec[0:]), binary.LittleEndian.Uint32(rec[4:]), binary.LittleEndian.Uint64(rec[8:])}
			if want := crashRecord(k.round, k.writer, k.seq); !bytes.Equal(rec, want) {
				return fmt.Errorf("record %+v: %d bytes differ from the %d written", k, len(rec), len(want))
			}
			if seen[k] {
				return fmt.Errorf("record %+v replayed twice", k)
			}
			w := [2]uint32{k.round, k.writer}
			if prev, ok := last[w]; ok && k.seq != prev+1 {
				return fmt.Errorf("writer %v: record %d follows %d; want %d", w, k.seq, prev, prev+1)
			}
			last[w] = k.seq
			seen[k] = true
			return nil
		})
		if cerr := w.Close(); cerr != nil {
			t.Fatalf("close: %v", cerr)
		}
		if err != nil {
			t.Fatalf("round %d: replay: %v", round, err)
		}
		missing := 0
		for k := range acked {
			if !seen[k] {
				missing++
				if missing <= 5 {
					t.Errorf("round %d: acknowledged record %+v missing after kill -9", round, k)
				}
			}
		}
		if missing > 0 {
			t.Fatalf("round %d: %d of %d acknowledged records missing", round, missing, len(acked))
		}
		t.Logf("round %d: %d acknowledged this round, %d replayed in all", round, len(acks), len(seen))
	}
}
