package antientropy

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/meta"
)

// Deps is what a Service is wired to.
type Deps struct {
	// Node returns this node's id (0 until it is registered).
	Node func() uint64
	// Meta is the cluster state.
	Meta MetaView
	// Store is the local shard store.
	Store Store
	// Peers reaches the other nodes' services.
	Peers Peers
	// Hints reports hinted-handoff state; nil means NoHints.
	Hints Hints
	// Buckets and Window are tsdb's digest layout (digest-series-buckets,
	// digest-window); every node of a cluster must share it.
	Buckets int
	Window  time.Duration
	// Logger receives state changes and failures; nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Service runs the periodic checks and manual repairs of this node's
// shards and answers its peers' RPCs (Handler). Build it with NewService,
// start it with Open, stop it with Close; all methods are safe for
// concurrent use.
type Service struct {
	cfg     Config
	node    func() uint64
	meta    MetaView
	store   Store
	peers   Peers
	hints   Hints
	buckets int
	window  int64
	logger  *slog.Logger
	metrics *metrics
	limiter *rateLimiter
	// copyLimiter paces the exchanges of shard copies (Sync) instead.
	copyLimiter *rateLimiter
	budget      cpuBudget
	sem         chan struct{}

	treesMu sync.Mutex // protects trees
	trees   map[uint64]*lockedTree

	mu             sync.Mutex // protects status, repair, cancelRepair, opened, closed
	status         map[uint64]*ShardStatus
	repair         *RepairStatus
	cancelRepair   context.CancelFunc
	opened, closed bool

	// stopCtx ends at Close; the loop and manual repairs derive from it.
	stopCtx context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// lockedTree is one shard's tree and the lock that serialises its use.
type lockedTree struct {
	mu   sync.Mutex
	tree *Tree
}

// ShardStatus is the last check of one shard this node owns.
type ShardStatus struct {
	Shard     uint64    `json:"shard"`
	LastCheck time.Time `json:"last_check,omitzero"`
	// State is unchecked, equal, repaired, streamed, deferred or error.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// DifferingBuckets is how many buckets differed at the last check.
	DifferingBuckets int       `json:"differing_buckets"`
	LastRepair       time.Time `json:"last_repair,omitzero"`
	// PointsRepaired counts the values the last repair moved.
	PointsRepaired int `json:"points_repaired"`
	// Root is the hex root of this replica's tree over every window, as of
	// the status call ("" when the shard is not held).
	Root string `json:"root"`
}

// RepairStatus is the progress of a manual repair.
type RepairStatus struct {
	Shard    uint64    `json:"shard"`
	Running  bool      `json:"running"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Phase says what runs now ("comparing trees with node 2", ...);
	// Done of Total counts its steps.
	Phase  string `json:"phase"`
	Done   int    `json:"done"`
	Total  int    `json:"total"`
	Points int    `json:"points"`
	Error  string `json:"error,omitempty"`
}

// Status is what Service.Status reports.
type Status struct {
	Enabled bool          `json:"enabled"`
	Node    uint64        `json:"node"`
	Shards  []ShardStatus `json:"shards"`
	Repair  *RepairStatus `json:"repair,omitempty"`
}

// NewService returns a closed service; call Open to start its loop.
func NewService(cfg Config, deps Deps) *Service {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Hints == nil {
		deps.Hints = NoHints{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		cfg: cfg, node: deps.Node, meta: deps.Meta, store: deps.Store, peers: deps.Peers, hints: deps.Hints,
		buckets: deps.Buckets, window: int64(deps.Window), logger: deps.Logger,
		metrics:     newMetrics(deps.Registerer),
		limiter:     &rateLimiter{rate: cfg.RateLimit},
		copyLimiter: &rateLimiter{rate: cfg.CopyRateLimit},
		budget:      cpuBudget{fraction: cfg.CPUBudget},
		sem:         make(chan struct{}, max(1, cfg.MaxConcurrentExchanges)),
		trees:       map[uint64]*lockedTree{},
		status:      map[uint64]*ShardStatus{},
		stopCtx:     ctx, stop: cancel,
	}
}

// Open validates the config and, when enabled, starts the check loop.
func (s *Service) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil
	}
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if s.buckets < 1 || s.window <= 0 {
		return fmt.Errorf("anti-entropy: digest layout %d buckets × %v is invalid", s.buckets, time.Duration(s.window))
	}
	s.opened = true
	if s.cfg.Enabled {
		s.goFunc(s.loop)
	}
	return nil
}

// Close stops the loop and any repair and waits for them.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	return nil
}

func (s *Service) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Service) loop() {
	tick := time.NewTicker(s.cfg.CheckInterval.D())
	defer tick.Stop()
	for {
		select {
		case <-s.stopCtx.Done():
			return
		case <-tick.C:
			s.CheckAll(s.stopCtx)
		}
	}
}

// CheckAll compares every shard this node owns with each other owner of a
// higher node id (so each pair of owners is compared once per round; a
// round started by either side repairs both) and with each owner this
// node's hinted handoff dropped writes for, at most
// max-concurrent-exchanges at a time, those shards first. It returns when
// every exchange ended.
func (s *Service) CheckAll(ctx context.Context) {
	d := s.meta.Data()
	me := s.node()
	if d == nil || me == 0 {
		return
	}
	locs := d.ShardsOwnedBy(me)
	purged := s.hints.PurgedRanges()
	hasPurged := func(shard, peer uint64) bool {
		return slices.ContainsFunc(purged, func(r PurgedRange) bool {
			return r.Shard == shard && (peer == 0 || r.Node == peer)
		})
	}
	slices.SortStableFunc(locs, func(a, b meta.ShardLocation) int {
		pa, pb := hasPurged(a.Shard.ID, 0), hasPurged(b.Shard.ID, 0)
		switch {
		case pa && !pb:
			return -1
		case pb && !pa:
			return 1
		}
		return 0
	})
	var wg sync.WaitGroup
	for _, loc := range locs {
		for _, peer := range loc.Shard.Owners {
			if peer == me || (peer < me && !hasPurged(loc.Shard.ID, peer)) {
				continue
			}
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-s.sem }()
				res := s.check(ctx, loc.Shard.ID, peer, false, nil)
				s.clearPurged(purged, loc.Shard.ID, peer, res)
			}()
		}
	}
	wg.Wait()
}

// clearPurged forgets the purged ranges of (shard, peer) an exchange that
// ended without error or deferral covered.
func (s *Service) clearPurged(purged []PurgedRange, shard, peer uint64, res exchangeResult) {
	if res.state == "error" || res.state == "deferred" {
		return
	}
	for _, r := range purged {
		if r.Shard == shard && r.Node == peer && r.Max < res.before {
			if err := s.hints.ClearPurged(r); err != nil {
				s.logger.Warn("purged range not cleared", "shard_id", shard, "owner_id", peer, "error", err)
			}
		}
	}
}

// check runs one exchange and records its outcome.
func (s *Service) check(ctx context.Context, shard, peer uint64, manual bool, prog *progress) exchangeResult {
	start := time.Now()
	res, err := s.exchange(ctx, shard, peer, manual, prog)
	s.metrics.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		res.state = "error"
		if ctx.Err() == nil {
			s.logger.Warn("anti-entropy exchange failed", "shard_id", shard, "owner_id", peer, "error", err)
		}
	}
	s.metrics.checks.WithLabelValues(res.state).Inc()
	s.mu.Lock()
	st := s.status[shard]
	if st == nil {
		st = &ShardStatus{Shard: shard}
		s.status[shard] = st
	}
	st.LastCheck, st.State, st.Error, st.DifferingBuckets = time.Now(), res.state, "", res.differing
	if err != nil {
		st.Error = err.Error()
	}
	if res.points > 0 {
		st.LastRepair, st.PointsRepaired = time.Now(), res.points
		s.logger.Info("anti-entropy repaired shard", "shard_id", shard, "owner_id", peer,
			"state", res.state, "differing_buckets", res.differing, "series", res.series, "points", res.points)
	}
	s.mu.Unlock()
	return res
}

// Status reports the last check of every shard this node owns and the
// manual repair, if any.
func (s *Service) Status() Status {
	out := Status{Enabled: s.cfg.Enabled, Node: s.node()}
	owned := map[uint64]bool{}
	if d := s.meta.Data(); d != nil {
		for _, loc := range d.ShardsOwnedBy(out.Node) {
			owned[loc.Shard.ID] = true
		}
	}
	roots := map[uint64]string{}
	for id := range owned {
		if sh := s.store.Shard(id); sh != nil {
			_ = s.withTree(s.stopCtx, id, sh, true, func(t *Tree) error {
				r := t.Root(math.MaxInt64)
				roots[id] = hex.EncodeToString(r[:])
				return nil
			})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range owned {
		st := ShardStatus{Shard: id, State: "unchecked"}
		if p := s.status[id]; p != nil {
			st = *p
		}
		st.Root = roots[id]
		out.Shards = append(out.Shards, st)
	}
	slices.SortFunc(out.Shards, func(a, b ShardStatus) int { return cmp.Compare(a.Shard, b.Shard) })
	if s.repair != nil {
		r := *s.repair
		out.Repair = &r
	}
	return out
}

// Repair starts a manual repair of shard: an exchange with every other
// owner, settle horizon ignored. It returns at once; Status reports its
// progress. It fails with ErrRepairRunning while another repair runs.
func (s *Service) Repair(shard uint64) error {
	if !s.cfg.Enabled {
		return ErrDisabled
	}
	d := s.meta.Data()
	me := s.node()
	var owners []uint64
	if d != nil {
		owners = d.ShardOwners(shard)
	}
	if !slices.Contains(owners, me) {
		return fmt.Errorf("shard %d is not owned by node %d: %w", shard, me, ErrShardNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("anti-entropy service closed")
	}
	if s.repair != nil && s.repair.Running {
		return ErrRepairRunning
	}
	ctx, cancel := context.WithCancel(s.stopCtx)
	s.repair = &RepairStatus{Shard: shard, Running: true, Started: time.Now(), Phase: "starting"}
	s.cancelRepair = cancel
	prog := &progress{s: s}
	s.goFunc(func() {
		defer cancel()
		var errs []error
		points := 0
		for _, peer := range owners {
			if peer == me {
				continue
			}
			s.sem <- struct{}{}
			res := s.check(ctx, shard, peer, true, prog)
			<-s.sem
			points += res.points
			if res.state == "error" {
				errs = append(errs, fmt.Errorf("with node %d: failed (see the data node's log)", peer))
			}
			if ctx.Err() != nil {
				errs = append(errs, ctx.Err())
				break
			}
		}
		s.mu.Lock()
		s.repair.Running, s.repair.Finished, s.repair.Points, s.repair.Phase = false, time.Now(), points, "done"
		if err := errors.Join(errs...); err != nil {
			s.repair.Error = err.Error()
		}
		s.mu.Unlock()
	})
	return nil
}

// KillRepair cancels the running manual repair; it reports whether one ran.
func (s *Service) KillRepair() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repair == nil || !s.repair.Running {
		return false
	}
	s.cancelRepair()
	return true
}

// progress updates the manual repair's status; a nil *progress ignores.
type progress struct{ s *Service }

func (p *progress) phase(name string, total int) {
	if p == nil {
		return
	}
	p.s.mu.Lock()
	p.s.repair.Phase, p.s.repair.Done, p.s.repair.Total = name, 0, total
	p.s.mu.Unlock()
}

func (p *progress) step(n, points int) {
	if p == nil {
		return
	}
	p.s.mu.Lock()
	p.s.repair.Done += n
	p.s.repair.Points += points
	p.s.mu.Unlock()
}

// withTree runs fn on shard id's tree, refreshed from the shard's digests
// first when refresh is set or the tree was never built (digests are built
// lazily: the first use after a restart hashes the whole shard).
func (s *Service) withTree(ctx context.Context, id uint64, sh Shard, refresh bool, fn func(*Tree) error) error {
	s.treesMu.Lock()
	lt := s.trees[id]
	if lt == nil {
		lt = &lockedTree{}
		s.trees[id] = lt
	}
	s.treesMu.Unlock()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if lt.tree == nil || refresh {
		ds, err := sh.Digests(ctx)
		if err != nil {
			return fmt.Errorf("digests of shard %d: %w", id, err)
		}
		if lt.tree == nil {
			lt.tree = NewTree(s.buckets, s.window)
		}
		lt.tree.Update(ds)
	}
	return fn(lt.tree)
}

// Sync runs one exchange of shard with peer comparing every window (the
// settle horizon ignored), whether or not this node owns the shard: a
// missing or empty local replica is streamed whole from peer, as for an
// owner that lost it. It returns the exchange's state (equal, streamed,
// repaired or deferred) and the values moved either way. Shard copies use
// it; it counts against max-concurrent-exchanges, and is paced by
// copy-rate-limit instead of rate-limit and cpu-budget.
func (s *Service) Sync(ctx context.Context, shard, peer uint64) (string, int, error) {
	if !s.cfg.Enabled {
		return "", 0, ErrDisabled
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", 0, ctx.Err()
	}
	defer func() { <-s.sem }()
	res, err := s.exchange(context.WithValue(ctx, copyExchange{}, true), shard, peer, true, nil)
	return res.state, res.points, err
}

// copyExchange marks the context of a shard copy's exchange: it is paced
// by copy-rate-limit and not held to the CPU budget.
type copyExchange struct{}

// limiterFor is the rate limiter of the exchange running under ctx.
func (s *Service) limiterFor(ctx context.Context) *rateLimiter {
	if ctx.Value(copyExchange{}) != nil {
		return s.copyLimiter
	}
	return s.limiter
}

// pause sleeps off the work done since start as the CPU budget asks,
// except in a shard copy's exchange.
func (s *Service) pause(ctx context.Context, start time.Time) error {
	return s.pauseUnlessCopy(ctx, ctx.Value(copyExchange{}) != nil, start)
}

// pauseUnlessCopy sleeps off the work done since start as the CPU budget
// asks, unless the work serves a shard copy.
func (s *Service) pauseUnlessCopy(ctx context.Context, copying bool, start time.Time) error {
	d := s.budget.pause(start)
	if copying || d <= 0 {
		return ctx.Err()
	}
	s.metrics.budgetSleep.Add(d.Seconds())
	return sleep(ctx, d)
}

// copyParam is the query parameter (=1) by which an exchange's requests
// say they serve a shard copy, so the answering node does not hold them
// to its cpu-budget either.
const copyParam = "copy"

// copyPath is path marked as serving a shard copy when ctx is a copy's.
func copyPath(ctx context.Context, path string) string {
	if ctx.Value(copyExchange{}) != nil {
		return path + "?" + copyParam + "=1"
	}
	return path
}
