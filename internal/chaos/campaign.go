package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/meta"
)

// Config is one campaign.
type Config struct {
	// Seed draws the fault schedule and the clients' choices.
	Seed int64
	// Duration bounds the campaign: no round starts after it has passed
	// (the last round's convergence and the final checks come on top).
	Duration time.Duration
	// DataNodes is the number of data processes (at least 3, for RF 3).
	DataNodes int
	// FaultsPerRound is how many faults one round injects, one after the
	// other while the writers run, before the cluster must converge.
	FaultsPerRound int
	// TmpfsBytes sizes the tmpfs under data0 for the disk-full fault; 0
	// leaves disk-full out (it is then skipped when drawn).
	TmpfsBytes int64
	// Race runs binaries built with the race detector.
	Race bool
	// LogDir, when set, receives a copy of every process log, under
	// seed-<seed>/.
	LogDir string
	// Logf receives progress lines (t.Logf).
	Logf func(format string, args ...any)
}

// Databases of the campaign and their replication factors.
var databases = []struct {
	name string
	rf   int
}{{"rf2", 2}, {"rf3", 3}}

// shardGroupDuration is the campaign databases' shard group duration.
const shardGroupDuration = time.Hour

// Growth limits of the resource checker: between the first and the last
// sample of one process (taken with the cluster quiet, after a round
// converged), more than this many extra goroutines or file descriptors,
// plus the allowance per shard the node came to own meanwhile (a shard
// keeps its WAL, TSM and index files open), is a leak.
const (
	maxGoroutineGrowth = 100
	maxFDGrowth        = 50
	fdsPerShard        = 10
	goroutinesPerShard = 10
)

// resourceSample is one process's goroutines, file descriptors and
// shards owned, first and last.
type resourceSample struct {
	pid, fds, goroutines, shards, n int
	firstFDs, firstGs, firstShards  int
}

// Run starts a cluster, drives it through the schedule of cfg.Seed and
// checks it. It fails t only for harness errors; the checkers' verdicts
// are in the report (Report.Failures).
func Run(t testing.TB, cfg Config) *Report {
	t.Helper()
	logf := cfg.Logf
	if logf == nil {
		logf = t.Logf
	}
	bin := proctest.Build(t)
	if cfg.Race {
		bin = proctest.BuildRace(t)
	}
	r := &Report{Seed: cfg.Seed, Duration: cfg.Duration, Race: cfg.Race, DataNodes: cfg.DataNodes,
		Faults: map[Kind]int{}, Writes: map[string]map[Outcome]int{}}
	logf("chaos: seed %d (replay with -chaos.seeds=%d)", cfg.Seed, cfg.Seed)
	started := time.Now()
	c, note := startCluster(t, bin, cfg.DataNodes, cfg.TmpfsBytes)
	r.Notes = append(r.Notes, note,
		"clock jumps: a data node's internal/clock offset, set through its fault-clock-offset file (the host clock is left alone)")
	var dbs []string
	for _, db := range databases {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := c.mc.CreateDatabase(ctx, db.name, &meta.RetentionPolicySpec{ReplicaN: &db.rf, ShardGroupDuration: shardGroupDuration})
		cancel()
		if err != nil {
			t.Fatalf("create database %s: %v", db.name, err)
		}
		dbs = append(dbs, db.name)
	}
	// A week ago, 30 s of points before a shard group boundary: the first
	// new group is created seconds into the first round.
	base := time.Now().Add(-7 * 24 * time.Hour).Truncate(shardGroupDuration).Add(shardGroupDuration - 30*time.Second).UnixNano()
	var writers []*writer
	for _, db := range dbs {
		for _, level := range Levels {
			id := len(writers) + 1
			writers = append(writers, &writer{id: id, name: db + "-" + level, db: db, level: level, base: base})
		}
	}

	// Readers and meta clients run through the whole campaign.
	bgStop := make(chan struct{})
	var bg sync.WaitGroup
	rd := &reader{}
	hist := &metaHistory{start: time.Now()}
	for i := range 2 {
		bg.Add(2)
		go rd.run(c, dbs, rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(100+i))), bgStop, &bg)
		go hist.runMetaClient(i, c.metaAddrs(), rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(200+i))), bgStop, &bg)
	}
	stopBackground := sync.OnceFunc(func() { close(bgStop); bg.Wait() })
	defer stopBackground()

	resources := map[string]*resourceSample{}
	sample := func(st *meta.Data) {
		for _, d := range c.data {
			pid, fds, gs, err := d.resources()
			if err != nil {
				r.fail("resources of %s: %v", d.Name, err)
				continue
			}
			shards := len(st.ShardsOwnedBy(d.id))
			s := resources[d.Name]
			if s == nil || s.pid != pid {
				s = &resourceSample{pid: pid, firstFDs: fds, firstGs: gs, firstShards: shards}
				resources[d.Name] = s
			}
			s.fds, s.goroutines, s.shards, s.n = fds, gs, shards, s.n+1
		}
	}
	// Resources are sampled after each round converged (the first sample,
	// after round 0, is the baseline: by then every shard is open).
	rounds := Schedule(cfg.Seed, cfg.Duration, len(c.data), cfg.FaultsPerRound)
rounds:
	for i, round := range rounds {
		if i > 0 && time.Since(started) > cfg.Duration {
			break
		}
		fromSeq := 0
		for _, w := range writers {
			fromSeq = max(fromSeq, w.next)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, w := range writers {
			w.next = fromSeq
			wg.Add(1)
			go w.run(c, rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)<<32|uint64(w.id))), stop, &wg)
		}
		injectErr := c.runRound(i, round, r, logf)
		close(stop)
		wg.Wait()
		r.Rounds++
		if injectErr != nil {
			r.fail("round %d: %v", i, injectErr)
			break rounds
		}
		took, st, err := c.awaitConvergence(dbs, writers, fromSeq)
		if err != nil {
			r.fail("round %d: %v", i, err)
			continue
		}
		r.Convergence = append(r.Convergence, took)
		logf("chaos: round %d converged %v after the last fault healed", i, took.Round(time.Millisecond))
		sample(st)
	}
	stopBackground()
	r.Elapsed = time.Since(started)

	// Final checks over the whole campaign.
	for _, w := range writers {
		b, _ := w.snapshot()
		m := r.Writes[w.level]
		if m == nil {
			m = map[Outcome]int{}
			r.Writes[w.level] = m
		}
		for _, x := range b {
			m[x.outcome] += pointsPerBatch
		}
	}
	if st, err := c.state(); err != nil {
		r.fail("final cluster state: %v", err)
	} else {
		ok, why := c.converged(st, dbs)
		r.RootsEqual = ok
		if !ok {
			r.fail("final: %s", why)
		}
		if r.Final, err = checkData(st, writers, 0); err != nil {
			r.fail("final data check: %v", err)
		} else if r.Final.Lost > 0 || r.Final.Unsent > 0 {
			r.fail("final: %d acknowledged (point, owner) pairs missing or wrong, %d points no writer sent: %v", r.Final.Lost, r.Final.Unsent, r.Final.Examples)
		}
	}
	res, n := hist.check(metaModel, 2*time.Minute)
	r.MetaOps, r.MetaResult = n, res
	if res == porcupine.Illegal {
		r.fail("meta history of %d operations is not linearizable", n)
	}
	names := make([]string, 0, len(resources))
	for name := range resources {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := resources[name]
		line := fmt.Sprintf("%s (pid %d, %d samples): goroutines %d → %d, fds %d → %d, shards %d → %d", name, s.pid, s.n,
			s.firstGs, s.goroutines, s.firstFDs, s.fds, s.firstShards, s.shards)
		r.Resources = append(r.Resources, line)
		newShards := max(0, s.shards-s.firstShards)
		if s.n >= 2 && (s.goroutines-s.firstGs > maxGoroutineGrowth+goroutinesPerShard*newShards ||
			s.fds-s.firstFDs > maxFDGrowth+fdsPerShard*newShards) {
			r.fail("resource growth: %s", line)
		}
	}
	rd.mu.Lock()
	r.ReadsOK, r.ReadsFailed = rd.ok, rd.failed
	for _, x := range rd.internal {
		r.fail("query answered with a panic: %s", x)
	}
	rd.mu.Unlock()
	r.LogFindings = c.logFindings()
	for _, x := range r.LogFindings {
		r.fail("log: %s", x)
	}
	if cfg.LogDir != "" {
		dir := filepath.Join(cfg.LogDir, fmt.Sprint("seed-", cfg.Seed))
		if err := c.copyLogs(dir); err != nil {
			r.fail("keep the logs: %v", err)
		} else {
			r.Notes = append(r.Notes, "process logs kept in "+dir)
		}
	}
	return r
}

// awaitConvergence waits, from now (the last fault healed, the writers
// stopped), until every queue is drained, every shard's owners report one
// Merkle root and every acknowledged point from fromSeq on is on every
// owner, and returns how long that took with the state it checked. It
// fails after ConvergenceBound with the last reason.
func (c *cluster) awaitConvergence(dbs []string, writers []*writer, fromSeq int) (time.Duration, *meta.Data, error) {
	healed := time.Now()
	for {
		st, err := c.state()
		ok, why := false, ""
		if err == nil {
			ok, why = c.converged(st, dbs)
		} else {
			why = err.Error()
		}
		if ok {
			v, err := checkData(st, writers, fromSeq)
			switch {
			case err != nil:
				ok, why = false, err.Error()
			case v.Lost > 0 || v.Unsent > 0:
				ok, why = false, fmt.Sprintf("%d acknowledged points missing, %d unsent points: %v", v.Lost, v.Unsent, v.Examples)
			}
		}
		if ok {
			return time.Since(healed), st, nil
		}
		if time.Since(healed) > ConvergenceBound {
			return 0, nil, fmt.Errorf("not converged within %v of the last fault healing: %s", ConvergenceBound, why)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// runRound injects a round's faults in order, an overlapping one in the
// background while the next starts, records them in r and returns the
// first error (a node that did not come back).
func (c *cluster) runRound(i int, round Round, r *Report, logf func(string, ...any)) error {
	var mu sync.Mutex // protects r's fault fields and firstErr
	var firstErr error
	var bg sync.WaitGroup
	do := func(f Fault) {
		what, err := c.inject(f)
		mu.Lock()
		defer mu.Unlock()
		r.Faults[f.Kind]++
		r.FaultLog = append(r.FaultLog, fmt.Sprintf("round %d: %v: %s", i, f, what))
		logf("chaos: round %d: %v: %s", i, f, what)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, f := range round {
		time.Sleep(f.Gap)
		if f.Overlap {
			bg.Go(func() { do(f) })
			continue
		}
		do(f)
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
	}
	bg.Wait()
	return firstErr
}
