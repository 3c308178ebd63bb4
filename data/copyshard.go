package data

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/strata-db/strata/internal/durable"
	"github.com/strata-db/strata/meta"
)

// Client-API endpoints of shard copies, used by `strata ctl copy-shard`,
// `copy-shard-status` and `kill-copy-shard`. The copy runs on the
// destination node.
const (
	// CopyShardPath starts copying ?shard=ID from ?source=NODE to this
	// node (POST, 202 with the CopyShardStatus).
	CopyShardPath = "/strata/v1/shards/copy"
	// CopyShardStatusPath answers GET with this node's []CopyShardStatus.
	CopyShardStatusPath = "/strata/v1/shards/copy/status"
	// CopyShardKillPath cancels the running copy of ?shard=ID (POST).
	CopyShardKillPath = "/strata/v1/shards/copy/kill"
)

// Copy tuning. Before the owner change, exchanges with the source repeat
// until the Merkle roots over every window agree, at most copyPreRounds
// times; a copy whose roots never agree fails without the owner change.
// After the first exchange (the stream), the source forwards the writes
// the shard takes to this node (copyForwarder), so a shard under a steady
// load agrees too. After the owner change, writes reach this node as an
// owner, and exchanges repeat until the roots agree again, at most
// copyVerifyRounds times.
const (
	copyPreRounds    = 30
	copyVerifyRounds = 20
	copyRoundPause   = 50 * time.Millisecond
)

// A copy whose source (or meta) stops answering retries every
// copyRetryPause, resuming where it stopped (an exchange moves only what
// differs), and fails once nothing succeeded for copyRetryFor: long
// enough for a node restart, short enough that an operator is not left
// waiting on a dead source.
const (
	copyRetryPause = time.Second
	copyRetryFor   = 30 * time.Second
)

// copyIntentsFile, in the data dir, lists the copies this node runs, so a
// node restarted mid-copy keeps the partial shard and resumes them.
const copyIntentsFile = "shard-copies.json"

// copyIntent is one running copy as copyIntentsFile records it.
type copyIntent struct {
	Shard  uint64 `json:"shard"`
	Source uint64 `json:"source"`
}

// loadCopyIntents reads the copies a previous run of this node left
// unfinished, by shard; a missing file is none.
func loadCopyIntents(path string) (map[uint64]uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[uint64]uint64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shard copies: %w", err)
	}
	var list []copyIntent
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("read shard copies %s: %w", path, err)
	}
	out := make(map[uint64]uint64, len(list))
	for _, in := range list {
		out[in.Shard] = in.Source
	}
	return out, nil
}

// CopyShardStatus is one shard copy on its destination node.
type CopyShardStatus struct {
	Shard  uint64 `json:"shard"`
	Source uint64 `json:"source"`
	Dest   uint64 `json:"dest"`
	// State is copying, verifying, adding-owner, converging, done, failed
	// or killed.
	State    string    `json:"state"`
	Running  bool      `json:"running"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Values counts the values moved by the stream and the exchanges;
	// Rounds the exchanges with the source so far.
	Values int `json:"values"`
	// Bytes counts the bytes of the shard file stream received so far by
	// the file-level copy that comes before them (retried transfers
	// included); it grows while a file arrives.
	Bytes  int64 `json:"bytes,omitempty"`
	Rounds int   `json:"rounds"`
	// Verified is set once the roots over every window were equal after
	// the owner change (they were before it, or the copy failed).
	Verified bool `json:"verified"`
	// Resumed is set for a copy this node took up again after a restart.
	Resumed bool `json:"resumed,omitempty"`
	// Retries counts failed steps retried (the source or meta did not
	// answer); Error holds the last one while the copy runs, and why it
	// ended once it has.
	Retries int    `json:"retries,omitempty"`
	Error   string `json:"error,omitempty"`
}

// shardSyncer is what a copy needs of anti-entropy.
type shardSyncer interface {
	Sync(ctx context.Context, shard, peer uint64) (string, int, error)
}

// copyMeta is what a copy needs of meta.
type copyMeta interface {
	Data() *meta.Data
	Refresh(ctx context.Context) (*meta.Data, error)
	AddShardOwner(ctx context.Context, shard, node uint64) error
}

// shardCopier runs the shard copies whose destination is this node. A
// shard being copied is kept by the shard sync (Copying) although this
// node does not own it yet; a copy that fails or is killed lets the sync
// delete it, so a shard is never half-owned. Running copies are recorded
// in intentsPath, so a restarted node resumes them (Resume). Safe for
// concurrent use.
type shardCopier struct {
	node        func() uint64
	meta        copyMeta
	ae          shardSyncer
	logger      *slog.Logger
	life        context.Context
	intentsPath string
	// retryPause and retryFor are copyRetryPause and copyRetryFor (tests
	// shorten them).
	retryPause, retryFor time.Duration
	// forward, when not nil, asks a copy's source to forward the writes
	// the shard takes to this node (renewing the lease).
	forward func(ctx context.Context, shard, source uint64) error
	// files, when not nil, installs the shard from its source's files
	// (copyFilesFrom): it reports whether it did and the bytes received.
	files func(ctx context.Context, shard, source uint64, received func(n int64)) (bool, error)

	mu      sync.Mutex // protects copies, cancel, closing and the intents file
	copies  map[uint64]*CopyShardStatus
	cancel  map[uint64]context.CancelFunc
	closing bool
	wg      sync.WaitGroup
}

func newShardCopier(life context.Context, node func() uint64, m copyMeta, ae shardSyncer, intentsPath string, logger *slog.Logger) *shardCopier {
	return &shardCopier{node: node, meta: m, ae: ae, logger: logger, life: life, intentsPath: intentsPath,
		retryPause: copyRetryPause, retryFor: copyRetryFor, copies: map[uint64]*CopyShardStatus{}, cancel: map[uint64]context.CancelFunc{}}
}

// Copying reports whether a copy of shard to this node runs.
func (c *shardCopier) Copying(shard uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.copies[shard]
	return st != nil && st.Running
}

// saveIntentsLocked records the running copies in the intents file; c.mu
// must be held.
func (c *shardCopier) saveIntentsLocked() error {
	list := []copyIntent{}
	for _, st := range c.copies {
		if st.Running {
			list = append(list, copyIntent{Shard: st.Shard, Source: st.Source})
		}
	}
	slices.SortFunc(list, func(a, b copyIntent) int { return cmp.Compare(a.Shard, b.Shard) })
	b, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("encode shard copies: %w", err)
	}
	if err := durable.ReplaceFile(c.intentsPath, b); err != nil {
		return fmt.Errorf("record shard copies: %w", err)
	}
	return nil
}

// Resume takes up again the copies a previous run of this node left
// unfinished (loadCopyIntents). A copy whose source no longer owns the
// shard, or whose shard is gone, ends failed at once with the reason.
func (c *shardCopier) Resume(intents map[uint64]uint64) {
	for shard, source := range intents {
		c.logger.Info("resuming shard copy after a restart", "shard_id", shard, "source", source)
		if _, err := c.start(shard, source, true); err != nil {
			c.mu.Lock()
			now := time.Now()
			c.copies[shard] = &CopyShardStatus{Shard: shard, Source: source, Dest: c.node(), State: "failed", Started: now, Finished: now,
				Resumed: true, Error: "resume after restart: " + err.Error()}
			if err := c.saveIntentsLocked(); err != nil {
				c.logger.Warn("could not record shard copies", "error", err)
			}
			c.mu.Unlock()
			c.logger.Warn("shard copy not resumed", "shard_id", shard, "source", source, "error", err)
		}
	}
}

// errCopyConflict is a copy refused for the cluster state or another copy.
var errCopyConflict = errors.New("copy refused")

// Start begins copying shard from source to this node.
func (c *shardCopier) Start(shard, source uint64) (CopyShardStatus, error) {
	return c.start(shard, source, false)
}

// start begins a copy; a resumed one may find this node an owner already
// (it stopped after the owner change) and then only converges.
func (c *shardCopier) start(shard, source uint64, resumed bool) (CopyShardStatus, error) {
	me := c.node()
	d := c.meta.Data()
	if d == nil || me == 0 {
		return CopyShardStatus{}, fmt.Errorf("%w: this node is not registered yet", errCopyConflict)
	}
	owners := d.ShardOwners(shard)
	switch {
	case owners == nil:
		return CopyShardStatus{}, fmt.Errorf("shard %d: %w", shard, meta.ErrShardNotFound)
	case !slices.Contains(owners, source):
		return CopyShardStatus{}, fmt.Errorf("%w: node %d does not own shard %d (owners %v)", errCopyConflict, source, shard, owners)
	case slices.Contains(owners, me) && !resumed:
		return CopyShardStatus{}, fmt.Errorf("%w: node %d already owns shard %d", errCopyConflict, me, shard)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.copies[shard]; st != nil && st.Running {
		return CopyShardStatus{}, fmt.Errorf("%w: shard %d is being copied from node %d", errCopyConflict, shard, st.Source)
	}
	ctx, cancel := context.WithCancel(c.life)
	st := &CopyShardStatus{Shard: shard, Source: source, Dest: me, State: "copying", Running: true, Started: time.Now(), Resumed: resumed}
	c.copies[shard], c.cancel[shard] = st, cancel
	if err := c.saveIntentsLocked(); err != nil {
		delete(c.copies, shard)
		delete(c.cancel, shard)
		cancel()
		return CopyShardStatus{}, err
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		err := c.run(ctx, st)
		c.mu.Lock()
		stopping := c.closing || c.life.Err() != nil
		st.Running, st.Finished = false, time.Now()
		switch {
		case err == nil:
			st.State, st.Error = "done", ""
		case ctx.Err() != nil && !stopping:
			st.State, st.Error = "killed", "killed by kill-copy-shard ("+err.Error()+")"
		default:
			st.State, st.Error = "failed", err.Error()
		}
		// A node shutting down keeps the copy recorded, to resume it.
		if !stopping {
			if err := c.saveIntentsLocked(); err != nil {
				c.logger.Warn("could not record shard copies", "error", err)
			}
		}
		c.mu.Unlock()
		c.logger.Info("shard copy ended", "shard_id", shard, "source", source, "state", st.State, "values", st.Values, "error", st.Error)
	}()
	return *st, nil
}

// run copies, verifies, adds this node as an owner and converges. A copy
// resumed after the owner change only converges: meta, not the state a
// restarted node cached, says which.
func (c *shardCopier) run(ctx context.Context, st *CopyShardStatus) error {
	var d *meta.Data
	err := c.retry(ctx, st, func() (err error) {
		d, err = c.meta.Refresh(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("read the cluster state: %w", err)
	}
	owners := d.ShardOwners(st.Shard)
	owner := slices.Contains(owners, st.Dest)
	if !owner && !slices.Contains(owners, st.Source) {
		return fmt.Errorf("node %d no longer owns shard %d (owners %v)", st.Source, st.Shard, owners)
	}
	if !owner {
		if err := c.copyFiles(ctx, st); err != nil {
			return err
		}
		// Stream, then exchange until the Merkle roots over every window
		// agree: only a verified copy becomes an owner.
		// The stream first; then the source forwards the writes the shard
		// takes, so the roots can agree while it keeps taking them.
		equal, err := c.syncUntilEqual(ctx, st, 1)
		if err == nil && !equal {
			stop := c.keepForwarding(ctx, st)
			equal, err = c.syncUntilEqual(ctx, st, copyPreRounds-1)
			stop()
		}
		if err != nil {
			return err
		}
		if !equal {
			return fmt.Errorf("node %d's copy of shard %d still differs from node %d's after %d exchanges (the shard takes writes faster than an exchange runs; "+
				"run strata ctl truncate-shards so it stops taking new ones, then copy it again); node %d was not made an owner",
				st.Dest, st.Shard, st.Source, copyPreRounds, st.Dest)
		}
		c.setState(st, "adding-owner")
		err = c.retry(ctx, st, func() error { return c.meta.AddShardOwner(ctx, st.Shard, st.Dest) })
		if err != nil {
			return fmt.Errorf("add node %d as owner of shard %d: %w", st.Dest, st.Shard, err)
		}
	}
	// The shard sync must see the new ownership before the copy stops
	// protecting the shard.
	for deadline := time.Now().Add(c.retryFor); ; {
		d, err := c.meta.Refresh(ctx)
		if err == nil && slices.Contains(d.ShardOwners(st.Shard), st.Dest) {
			break
		}
		if time.Now().After(deadline) && err != nil {
			return fmt.Errorf("read whether node %d owns shard %d: %w", st.Dest, st.Shard, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("meta still does not show node %d as an owner of shard %d after %s", st.Dest, st.Shard, c.retryFor)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(copyRoundPause):
		}
	}
	// Writes the source took before the owner change reach this node by
	// the exchanges; later ones arrive as to any owner, so the roots agree.
	c.setState(st, "converging")
	equal, err := c.syncUntilEqual(ctx, st, copyVerifyRounds)
	if err != nil {
		return err
	}
	if !equal {
		return fmt.Errorf("node %d owns shard %d, but its Merkle root still differs from node %d's after %d exchanges (anti-entropy keeps converging them)",
			st.Dest, st.Shard, st.Source, copyVerifyRounds)
	}
	c.mu.Lock()
	st.Verified = true
	c.mu.Unlock()
	return nil
}

// copyFiles installs the shard from the source's files when this node
// does not hold it yet, so the exchanges that follow only move what was
// written since (without it, the first exchange streams every value). A
// transfer that fails is retried from the start; one whose bytes are
// corrupt fails the copy, leaving no shard behind.
func (c *shardCopier) copyFiles(ctx context.Context, st *CopyShardStatus) error {
	if c.files == nil {
		return nil
	}
	var corrupt error
	installed := false
	err := c.retry(ctx, st, func() error {
		ok, err := c.files(ctx, st.Shard, st.Source, func(n int64) {
			c.mu.Lock()
			st.Bytes += n
			c.mu.Unlock()
		})
		if errors.Is(err, errCopyCorrupt) {
			corrupt = err
			return nil
		}
		installed = ok
		return err
	})
	if corrupt != nil {
		err = corrupt
	}
	if err != nil {
		return fmt.Errorf("copy shard %d's files from node %d: %w; node %d was not made an owner", st.Shard, st.Source, err, st.Dest)
	}
	if installed {
		c.logger.Info("shard installed from its source's files", "shard_id", st.Shard, "source", st.Source, "bytes", st.Bytes)
	}
	return nil
}

// keepForwarding renews the copy's forwarding lease on its source now and
// every copyForwardRenew until the returned stop is called; the lease
// outlives it by up to copyForwardLease, past the owner change. A source
// that cannot forward only makes the roots slower to agree.
func (c *shardCopier) keepForwarding(ctx context.Context, st *CopyShardStatus) (stop func()) {
	if c.forward == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(copyForwardRenew)
		defer tick.Stop()
		for {
			if err := c.forward(ctx, st.Shard, st.Source); err != nil && ctx.Err() == nil {
				c.logger.Warn("source does not forward writes to the shard copy", "shard_id", st.Shard, "source", st.Source, "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// syncUntilEqual exchanges with the source until an exchange finds the
// roots equal, at most rounds times; it reports whether they were.
// An exchange deferred for hinted handoff moved nothing, so rounds that
// all end deferred are an error.
func (c *shardCopier) syncUntilEqual(ctx context.Context, st *CopyShardStatus, rounds int) (bool, error) {
	state := ""
	for i := range rounds {
		err := c.retry(ctx, st, func() error {
			var n int
			var err error
			state, n, err = c.ae.Sync(ctx, st.Shard, st.Source)
			c.mu.Lock()
			st.Values += n
			st.Rounds++
			if st.State == "copying" && err == nil {
				st.State = "verifying"
			}
			c.mu.Unlock()
			return err
		})
		if err != nil {
			return false, fmt.Errorf("exchange shard %d with node %d: %w", st.Shard, st.Source, err)
		}
		if state == "equal" {
			return true, nil
		}
		if i == rounds-1 {
			break
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(copyRoundPause):
		}
	}
	if state == "deferred" {
		return false, fmt.Errorf("exchanges of shard %d with node %d deferred: hinted handoff to node %d is not drained", st.Shard, st.Source, st.Source)
	}
	return false, nil
}

// retry calls step until it succeeds, every retryPause, for at most
// retryFor; each failure is counted and shown in st meanwhile. It
// stops at ctx's end.
func (c *shardCopier) retry(ctx context.Context, st *CopyShardStatus, step func() error) error {
	deadline := time.Now().Add(c.retryFor)
	for {
		err := step()
		if err == nil {
			c.mu.Lock()
			st.Error = ""
			c.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s of failed attempts: %w", c.retryFor, err)
		}
		c.mu.Lock()
		st.Retries++
		st.Error = err.Error()
		c.mu.Unlock()
		c.logger.Warn("shard copy step failed; retrying", "shard_id", st.Shard, "source", st.Source, "retry_in", c.retryPause, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.retryPause):
		}
	}
}

func (c *shardCopier) setState(st *CopyShardStatus, state string) {
	c.mu.Lock()
	st.State = state
	c.mu.Unlock()
}

// Status returns every copy this node ran since it started, by shard.
func (c *shardCopier) Status() []CopyShardStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CopyShardStatus, 0, len(c.copies))
	for _, st := range c.copies {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b CopyShardStatus) int { return cmp.Compare(a.Shard, b.Shard) })
	return out
}

// Kill cancels the running copy of shard; it reports whether one ran.
func (c *shardCopier) Kill(shard uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.copies[shard]
	if st == nil || !st.Running {
		return false
	}
	c.cancel[shard]()
	return true
}

// Close cancels every copy and waits for them; they stay recorded, so
// the node resumes them when it starts again.
func (c *shardCopier) Close() {
	c.mu.Lock()
	c.closing = true
	for _, cancel := range c.cancel {
		cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// mountCopyShard serves the shard copy endpoints; starting and killing need
// an admin when auth is enabled.
func (h *handler) mountCopyShard(c *shardCopier) {
	h.mux.HandleFunc("GET "+CopyShardStatusPath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, false) {
			return
		}
		writeJSON(w, http.StatusOK, c.Status())
	})
	h.mux.HandleFunc("POST "+CopyShardPath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, true) {
			return
		}
		shard, err1 := strconv.ParseUint(r.URL.Query().Get("shard"), 10, 64)
		source, err2 := strconv.ParseUint(r.URL.Query().Get("source"), 10, 64)
		if err1 != nil || err2 != nil {
			httpError(w, http.StatusBadRequest, "shard and source must be a shard id and a data node id")
			return
		}
		st, err := c.Start(shard, source)
		switch {
		case errors.Is(err, meta.ErrShardNotFound):
			httpError(w, http.StatusNotFound, err.Error())
		case errors.Is(err, errCopyConflict):
			httpError(w, http.StatusConflict, err.Error())
		case err != nil:
			httpError(w, http.StatusInternalServerError, err.Error())
		default:
			writeJSON(w, http.StatusAccepted, st)
		}
	})
	h.mux.HandleFunc("POST "+CopyShardKillPath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, true) {
			return
		}
		shard, err := strconv.ParseUint(r.URL.Query().Get("shard"), 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "shard must be a shard id")
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"killed": c.Kill(shard)})
	})
}
