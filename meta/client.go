package meta

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/internal/tlsconfig"
)

// Client defaults.
const (
	DefaultClientTimeout       = 30 * time.Second
	DefaultClientRetryInterval = 100 * time.Millisecond
	// DefaultClientRetryMaxInterval caps the pause between two attempts of
	// the watch (and of Open's first fetch) while meta does not answer, so
	// each attempt's log line comes at a bounded rate.
	DefaultClientRetryMaxInterval = 5 * time.Second
	// DefaultStateSaveInterval is the least time between two writes of the
	// state file.
	DefaultStateSaveInterval = time.Second
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// Addrs are meta HTTP addresses (host:port); any one may be asked.
	Addrs []string
	// Timeout bounds a call whose ctx has no deadline, retries included.
	Timeout time.Duration
	// LongPollTimeout is the wait of each watch request (the server caps it).
	LongPollTimeout time.Duration
	// RetryInterval is the pause after every address failed once, and the
	// watch's first pause after a failed attempt.
	RetryInterval time.Duration
	// RetryMaxInterval caps the watch's pause, doubled after each failed
	// attempt; every attempt logs one line.
	RetryMaxInterval time.Duration
	// StatePath, if set, is the file where the client keeps the last state
	// it saw (written atomically, at most once per StateSaveInterval), and
	// from which Open starts without waiting for meta.
	StatePath string
	// StateSaveInterval is the least time between two writes of StatePath.
	StateSaveInterval time.Duration
	// Logger receives watch errors; nil discards.
	Logger *slog.Logger
	// BcryptCost is the cost used to hash passwords; 0 means bcrypt.DefaultCost.
	BcryptCost int
	// InternalSharedSecret signs every request (internal/nodeauth) for meta
	// nodes that require it; empty sends none.
	InternalSharedSecret string
	// TLS, if set, calls the meta nodes over TLS with this config.
	TLS *tls.Config
	// FailFast makes a call give up after one round in which no address
	// answered at all (refused, unresolvable, no connection within
	// DialTimeout), naming every address it tried. A round in which a node
	// answered but had no leader still waits and retries until the deadline.
	// For one-shot callers such as `strata ctl`; data nodes keep retrying.
	FailFast bool
	// DialTimeout bounds each connection attempt; 0 leaves it to the call's
	// deadline.
	DialTimeout time.Duration
}

// Client talks to the meta cluster over HTTP with failover: a connection
// error moves on to the next address, a not-leader answer follows the
// leader's address. After Open it keeps a cached *Data current by
// long-polling. All methods are safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	logger *slog.Logger
	hc     *http.Client

	data atomic.Pointer[Data]

	mu      sync.Mutex // protects next, hint, changed
	next    int        // index into cfg.Addrs to try first
	hint    string     // leader address learned from a not-leader answer
	changed chan struct{}

	stopCh chan struct{}
	wg     sync.WaitGroup
	opened atomic.Bool
	// answered is set once a meta node has answered since Open (see
	// Answered).
	answered  atomic.Bool
	closeOnce sync.Once
}

// NewClient returns a Client; it does no I/O until called.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultClientTimeout
	}
	if cfg.LongPollTimeout <= 0 {
		cfg.LongPollTimeout = DefaultLongPollTimeout
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultClientRetryInterval
	}
	if cfg.RetryMaxInterval < cfg.RetryInterval {
		cfg.RetryMaxInterval = max(DefaultClientRetryMaxInterval, cfg.RetryInterval)
	}
	if cfg.StateSaveInterval <= 0 {
		cfg.StateSaveInterval = DefaultStateSaveInterval
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:    cfg,
		logger: logger,
		hc: &http.Client{Transport: nodeauth.New(cfg.InternalSharedSecret).Transport(tlsconfig.Upgrade(&http.Transport{
			DialContext:         (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		}, cfg.TLS))},
		changed: make(chan struct{}),
		stopCh:  make(chan struct{}),
	}
}

// Open makes the state available and starts the goroutines that keep it
// current (and, with StatePath, saved). With a saved state it starts from
// that at once, whether meta answers or not; without one it fetches the
// state (default consistency), retrying and logging each attempt until
// meta answers or ctx ends. Call Close to stop it.
func (c *Client) Open(ctx context.Context) error {
	if !c.opened.CompareAndSwap(false, true) {
		return errors.New("meta client already opened")
	}
	saved := c.loadState()
	if saved != nil {
		c.swap(saved)
		c.logger.Info("starting from the saved cluster state; meta is asked in the background", "path", c.cfg.StatePath, "index", saved.Index)
	} else {
		d, err := c.firstFetch(ctx)
		if err != nil {
			return fmt.Errorf("open meta client: %w", err)
		}
		c.swap(d)
		c.answered.Store(true)
	}
	c.goFunc(func() { c.watchLoop(saved == nil) })
	if c.cfg.StatePath != "" {
		var savedIndex uint64
		if saved != nil {
			savedIndex = saved.Index
		}
		c.goFunc(func() { c.saveLoop(savedIndex) })
	}
	return nil
}

// firstFetch reads the state, one pass over the addresses per attempt,
// logging every failed attempt, until an answer comes or ctx ends.
func (c *Client) firstFetch(ctx context.Context) (*Data, error) {
	bo := c.newBackoff()
	defer bo.stop()
	for attempt := 1; ; attempt++ {
		var resp DataResponse
		_, err := c.pass(ctx, http.MethodGet, "/data", url.Values{"consistency": {string(ReadDefault)}}, nil, &resp)
		if err == nil && resp.Data != nil {
			if attempt > 1 {
				c.logger.Info("meta answered; starting", "attempts", attempt)
			}
			return resp.Data, nil
		}
		if err == nil {
			err = errors.New("empty data answer")
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no meta node answered in %d attempts: %w (last error: %w)", attempt, ctx.Err(), err)
		}
		wait := bo.next()
		c.logger.Warn("waiting for meta: this node has no saved cluster state, so it serves nothing until a meta node with a leader answers",
			"attempt", attempt, "meta", c.cfg.Addrs, "retry_in", wait, "err", err)
		if !bo.wait(ctx, c.stopCh) {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("no meta node answered in %d attempts: %w (last error: %w)", attempt, ctx.Err(), err)
			}
			return nil, ErrClosed
		}
	}
}

// Close stops the watch goroutine and drops idle connections. Idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.stopCh)
		c.wg.Wait()
		c.hc.CloseIdleConnections()
	})
	return nil
}

func (c *Client) goFunc(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// Data returns the cached state: nil before the first successful fetch,
// never nil after. The value is immutable; Clone it to change it.
func (c *Client) Data() *Data { return c.data.Load() }

// Answered reports whether a meta node has answered since Open. Until one
// has, Data may be the state saved before the process last stopped, which
// lacks what changed after that save: a shard group created, and written
// to, in the seconds before a crash. A data node therefore deletes no
// shard on a state meta has not confirmed.
func (c *Client) Answered() bool { return c.answered.Load() }

// WaitForDataChanged returns a channel closed when the cached state next
// changes.
func (c *Client) WaitForDataChanged() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Refresh reads the leader's state now (default consistency), installs it
// in the cache if it is newer, and returns the cached state. Callers use it
// when the cache may lag a change another node just made (a database
// created through another data node), instead of waiting for the watch.
func (c *Client) Refresh(ctx context.Context) (*Data, error) {
	d, _, err := c.ReadData(ctx, ReadDefault)
	if err != nil {
		return nil, err
	}
	c.swap(d)
	c.answered.Store(true)
	return c.Data(), nil
}

// swap installs d if it is newer than the cache.
func (c *Client) swap(d *Data) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.data.Load(); old != nil && d.Index <= old.Index {
		return
	}
	c.data.Store(d)
	close(c.changed)
	c.changed = make(chan struct{})
}

// watchLoop long-polls /data?index= and swaps the cache on each change;
// fetched says the cache came from meta, not from the state file. While
// meta does not answer, it retries with a doubling pause capped at
// RetryMaxInterval and logs each failed attempt, saying what waits.
func (c *Client) watchLoop(fetched bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.goFunc(func() {
		select {
		case <-c.stopCh:
			cancel()
		case <-ctx.Done():
		}
	})
	bo := c.newBackoff()
	defer bo.stop()
	failures := 0
	var failingSince time.Time
	// Until meta has answered (after Open from a saved state, or after a
	// failure) the watch asks without an index, so the answer, or the
	// failure and its log line, comes at once instead of after a long poll.
	answered := fetched
	for {
		var index, since uint64
		if d := c.Data(); d != nil {
			index = d.Index
		}
		if answered {
			since = index
		}
		q := url.Values{"index": {strconv.FormatUint(since, 10)}, "timeout": {c.cfg.LongPollTimeout.String()}, "consistency": {string(ReadDefault)}}
		rctx, rcancel := context.WithTimeout(ctx, c.cfg.LongPollTimeout+c.cfg.Timeout)
		var resp DataResponse
		_, err := c.pass(rctx, http.MethodGet, "/data", q, nil, &resp)
		rcancel()
		if ctx.Err() != nil {
			return
		}
		answered = err == nil && resp.Data != nil
		if answered {
			if failures > 0 {
				c.logger.Info("meta answers again", "failed_attempts", failures, "unreachable_for", time.Since(failingSince).Round(time.Millisecond))
				failures = 0
				bo.reset()
			}
			c.swap(resp.Data)
			c.answered.Store(true)
			continue
		}
		if err == nil {
			err = errors.New("empty data answer")
		}
		if failures == 0 {
			failingSince = time.Now()
		}
		failures++
		wait := bo.next()
		c.logger.Warn("meta unreachable: serving from the cached cluster state; creating shard groups, DDL and node changes wait for a meta leader",
			"attempt", failures, "state_index", index, "meta", c.cfg.Addrs, "retry_in", wait, "err", err)
		if !bo.wait(ctx, nil) {
			return
		}
	}
}

// backoff is a doubling pause, from RetryInterval to RetryMaxInterval.
type backoff struct {
	cur, min, max time.Duration
	timer         *time.Timer
}

func (c *Client) newBackoff() *backoff {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &backoff{min: c.cfg.RetryInterval, max: c.cfg.RetryMaxInterval, timer: t}
}

// next returns the pause before the next attempt and arms the timer for it.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	b.timer.Reset(b.cur)
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// wait blocks until the armed pause ends (true) or ctx ends or stop closes
// (false).
func (b *backoff) wait(ctx context.Context, stop <-chan struct{}) bool {
	select {
	case <-b.timer.C:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	b.timer.Stop()
	return false
}

func (b *backoff) stop() { b.timer.Stop() }

// addrOrder returns the addresses to try, leader hint first.
func (c *Client) addrOrder() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.cfg.Addrs)+1)
	if c.hint != "" {
		out = append(out, c.hint)
	}
	for i := range c.cfg.Addrs {
		a := c.cfg.Addrs[(c.next+i)%len(c.cfg.Addrs)]
		if a != c.hint {
			out = append(out, a)
		}
	}
	return out
}

func (c *Client) remember(addr string, ok bool, leaderHint string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if leaderHint != "" {
		c.hint = leaderHint
	} else if !ok && addr == c.hint {
		c.hint = ""
	}
	for i, a := range c.cfg.Addrs {
		if a == addr {
			if ok {
				c.next = i
			} else if c.next == i {
				c.next = (i + 1) % len(c.cfg.Addrs)
			}
		}
	}
}

// call sends one request with failover and decodes a 200 answer into out.
// Connection errors and 503 answers move on to the next address (or the
// leader hint) until ctx (or Timeout, when ctx has no deadline) ends. Any
// other non-200 answer is returned as an *APIError.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body []byte, out any) (int, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	pause := time.NewTimer(0)
	<-pause.C
	defer pause.Stop()
	for {
		status, err := c.pass(ctx, method, path, q, body, out)
		var apiErr *APIError
		switch {
		case err == nil, errors.Is(err, ErrInvalidAddress):
			return status, err
		case c.cfg.FailFast && errors.As(err, new(*UnreachableError)):
			return 0, err
		case errors.As(err, &apiErr) && apiErr.StatusCode != http.StatusServiceUnavailable:
			return status, err
		case ctx.Err() != nil:
			return 0, fmt.Errorf("meta %s %s: %w (last error: %w)", method, path, ctx.Err(), err)
		}
		pause.Reset(c.cfg.RetryInterval)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("meta %s %s: %w (last error: %w)", method, path, ctx.Err(), err)
		case <-c.stopCh:
			return 0, ErrClosed
		case <-pause.C:
		}
	}
}

// pass tries each address once, leader hint first, and returns the first
// answer that is not a connection error or a 503 (or the last error: an
// *UnreachableError when no address answered at all).
func (c *Client) pass(ctx context.Context, method, path string, q url.Values, body []byte, out any) (int, error) {
	if len(c.cfg.Addrs) == 0 {
		return 0, fmt.Errorf("meta client: no addresses: %w", ErrInvalidAddress)
	}
	var lastErr error
	addrs := c.addrOrder()
	answered := false
	var connErrs []error
	for _, addr := range addrs {
		status, err := c.callOnce(ctx, method, addr, path, q, body, out)
		var apiErr *APIError
		switch {
		case err == nil:
			c.remember(addr, true, "")
			return status, nil
		case errors.As(err, &apiErr) && apiErr.StatusCode != http.StatusServiceUnavailable:
			c.remember(addr, true, "")
			return status, err
		case errors.As(err, &apiErr):
			c.remember(addr, false, apiErr.Leader)
			answered = true
		default:
			c.remember(addr, false, "")
			connErrs = append(connErrs, err)
		}
		lastErr = err
		if ctx.Err() != nil {
			return 0, lastErr
		}
	}
	if !answered {
		return 0, &UnreachableError{Addrs: addrs, Errs: connErrs}
	}
	return 0, lastErr
}

func (c *Client) callOnce(ctx context.Context, method, addr, path string, q url.Values, body []byte, out any) (int, error) {
	u := "http://" + addr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, decodeAPIError(resp)
	}
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s answer: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

// SetDefaultReplication sets the cluster's replication factor for new
// databases that name none.
func (c *Client) SetDefaultReplication(ctx context.Context, n int) error {
	_, err := c.exec(ctx, CmdSetDefaultReplication, SetDefaultReplicationPayload{ReplicaN: n})
	return err
}

// UnreachableError is a FailFast call's answer when no meta node answered:
// every address tried and why each failed, on one line.
type UnreachableError struct {
	Addrs []string
	Errs  []error
}

// Error implements error.
func (e *UnreachableError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // "dial tcp ADDR: …" without the request URL
		}
		msgs[i] = err.Error()
	}
	return "no meta node answered (tried " + strings.Join(e.Addrs, ", ") + "): " + strings.Join(msgs, "; ")
}

// Unwrap returns every attempt's error.
func (e *UnreachableError) Unwrap() []error { return e.Errs }

// Execute sends a command (through any meta node) and returns its result.
// A rejected command comes back as an error wrapping its sentinel. The
// request id is kept across retries, so a retried command applies once.
// When the Client is open, the cache has caught up with the command before
// Execute returns.
func (c *Client) Execute(ctx context.Context, cmd *Command) (*Result, error) {
	if cmd.RequestID == "" {
		cmd.RequestID = newRequestID()
	}
	body, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	var res Result
	if _, err := c.call(ctx, http.MethodPost, "/execute", nil, body, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.Type, err)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.Type, err)
	}
	if c.opened.Load() {
		if d := c.Data(); d == nil || d.Index < res.Index {
			if d, _, err := c.ReadData(ctx, ReadDefault); err == nil {
				c.swap(d)
			}
		}
	}
	return &res, nil
}

func (c *Client) exec(ctx context.Context, typ CommandType, payload any) (*Result, error) {
	cmd, err := NewCommand(typ, "", payload)
	if err != nil {
		return nil, err
	}
	return c.Execute(ctx, cmd)
}

// ReadData fetches the state at the given consistency and returns it with
// its index.
func (c *Client) ReadData(ctx context.Context, rc ReadConsistency) (*Data, uint64, error) {
	var resp DataResponse
	if _, err := c.call(ctx, http.MethodGet, "/data", url.Values{"consistency": {string(rc)}}, nil, &resp); err != nil {
		return nil, 0, err
	}
	if resp.Data == nil {
		return nil, 0, fmt.Errorf("read meta data: empty answer: %w", ErrInvalidCommand)
	}
	return resp.Data, resp.Index, nil
}

// Status fetches GET /status from the meta node at addr (no failover).
func (c *Client) Status(ctx context.Context, addr string) (*Status, error) {
	var st Status
	if _, err := c.callOnce(ctx, http.MethodGet, addr, "/status", nil, nil, &st); err != nil {
		return nil, fmt.Errorf("status of %s: %w", addr, err)
	}
	return &st, nil
}

// CreateDatabase creates a database; spec nil means the autogen policy.
func (c *Client) CreateDatabase(ctx context.Context, name string, spec *RetentionPolicySpec) (*DatabaseInfo, error) {
	res, err := c.exec(ctx, CmdCreateDatabase, CreateDatabasePayload{Name: name, RetentionPolicy: spec})
	if err != nil {
		return nil, err
	}
	return res.Database, nil
}

// DropDatabase drops a database (a missing one is not an error).
func (c *Client) DropDatabase(ctx context.Context, name string) error {
	_, err := c.exec(ctx, CmdDropDatabase, DropDatabasePayload{Name: name})
	return err
}

// CreateRetentionPolicy creates a retention policy on db.
func (c *Client) CreateRetentionPolicy(ctx context.Context, db string, spec RetentionPolicySpec, makeDefault bool) (*RetentionPolicyInfo, error) {
	res, err := c.exec(ctx, CmdCreateRetentionPolicy, CreateRetentionPolicyPayload{Database: db, Spec: spec, MakeDefault: makeDefault})
	if err != nil {
		return nil, err
	}
	return res.RetentionPolicy, nil
}

// UpdateRetentionPolicy changes the set fields of upd on db's policy name.
func (c *Client) UpdateRetentionPolicy(ctx context.Context, db, name string, upd RetentionPolicyUpdate, makeDefault bool) error {
	_, err := c.exec(ctx, CmdUpdateRetentionPolicy, UpdateRetentionPolicyPayload{Database: db, Name: name, Update: upd, MakeDefault: makeDefault})
	return err
}

// DropRetentionPolicy drops a retention policy (a missing one is not an error).
func (c *Client) DropRetentionPolicy(ctx context.Context, db, name string) error {
	_, err := c.exec(ctx, CmdDropRetentionPolicy, DropRetentionPolicyPayload{Database: db, Name: name})
	return err
}

// CreateShardGroup returns the group of db/rp covering t, creating it if
// needed. When open, it first looks in the cache.
func (c *Client) CreateShardGroup(ctx context.Context, db, rp string, t time.Time) (*ShardGroupInfo, error) {
	if d := c.Data(); d != nil {
		if sg := d.ShardGroupByTimestamp(db, rp, t); sg != nil {
			return sg, nil
		}
	}
	res, err := c.exec(ctx, CmdCreateShardGroup, CreateShardGroupPayload{Database: db, RetentionPolicy: rp, Timestamp: t})
	if err != nil {
		return nil, err
	}
	return res.ShardGroup, nil
}

// DeleteShardGroup marks a shard group deleted.
func (c *Client) DeleteShardGroup(ctx context.Context, db, rp string, id uint64) error {
	_, err := c.exec(ctx, CmdDeleteShardGroup, DeleteShardGroupPayload{Database: db, RetentionPolicy: rp, ID: id})
	return err
}

// TruncateShardGroups ends every group containing t at t.
func (c *Client) TruncateShardGroups(ctx context.Context, t time.Time) error {
	_, err := c.exec(ctx, CmdTruncateShardGroups, TruncateShardGroupsPayload{Timestamp: t})
	return err
}

// CreateDataNode registers a data node (idempotent by rpcAddr) and returns it.
func (c *Client) CreateDataNode(ctx context.Context, httpAddr, rpcAddr string) (*NodeInfo, error) {
	res, err := c.exec(ctx, CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: httpAddr, RPCAddr: rpcAddr})
	if err != nil {
		return nil, err
	}
	return res.DataNode, nil
}

// UpdateDataNode changes a data node's addresses.
func (c *Client) UpdateDataNode(ctx context.Context, id uint64, httpAddr, rpcAddr string) error {
	_, err := c.exec(ctx, CmdUpdateDataNode, UpdateDataNodePayload{ID: id, HTTPAddr: httpAddr, RPCAddr: rpcAddr})
	return err
}

// DeleteDataNode removes a data node; its shards become under-replicated.
func (c *Client) DeleteDataNode(ctx context.Context, id uint64) error {
	_, err := c.exec(ctx, CmdDeleteDataNode, DeleteDataNodePayload{ID: id})
	return err
}

// SetDataNodeDraining marks data node id as draining (no shard of a group
// created afterwards is placed on it) or clears the mark.
func (c *Client) SetDataNodeDraining(ctx context.Context, id uint64, draining bool) error {
	_, err := c.exec(ctx, CmdSetDataNodeDraining, SetDataNodeDrainingPayload{ID: id, Draining: draining})
	return err
}

// AddShardOwner makes data node node an owner of shard (idempotent).
func (c *Client) AddShardOwner(ctx context.Context, shard, node uint64) error {
	_, err := c.exec(ctx, CmdAddShardOwner, AddShardOwnerPayload{Shard: shard, Node: node})
	return err
}

// RemoveShardOwner drops node from shard's owners (idempotent); it fails
// with ErrLastShardOwner for the last owner unless force.
func (c *Client) RemoveShardOwner(ctx context.Context, shard, node uint64, force bool) error {
	_, err := c.exec(ctx, CmdRemoveShardOwner, RemoveShardOwnerPayload{Shard: shard, Node: node, Force: force})
	return err
}

// AddMetaNode asks the meta node at httpAddr for its id and raft address
// (GET /status) and adds it to the cluster as a voter via the leader.
func (c *Client) AddMetaNode(ctx context.Context, httpAddr string) error {
	st, err := c.Status(ctx, httpAddr)
	if err != nil {
		return err
	}
	body, err := json.Marshal(JoinRequest{ID: st.ID, RaftAddr: st.RaftAddr, HTTPAddr: st.HTTPAddr})
	if err != nil {
		return fmt.Errorf("encode join: %w", err)
	}
	if _, err := c.call(ctx, http.MethodPost, "/join", nil, body, nil); err != nil {
		return fmt.Errorf("add meta node %s: %w", httpAddr, err)
	}
	return nil
}

// RemoveMetaNode removes the meta node with that id, HTTP or raft address.
func (c *Client) RemoveMetaNode(ctx context.Context, idOrAddr string) error {
	id := idOrAddr
	d, _, err := c.ReadData(ctx, ReadDefault)
	if err != nil {
		return err
	}
	if m := d.MetaNode(idOrAddr); m != nil {
		id = m.ID
	}
	body, err := json.Marshal(LeaveRequest{ID: id})
	if err != nil {
		return fmt.Errorf("encode leave: %w", err)
	}
	if _, err := c.call(ctx, http.MethodPost, "/leave", nil, body, nil); err != nil {
		return fmt.Errorf("remove meta node %s: %w", idOrAddr, err)
	}
	return nil
}

// CreateUser creates a user; the password is bcrypt-hashed here, so only
// the hash crosses the network and enters the raft log.
func (c *Client) CreateUser(ctx context.Context, name, password string, admin bool) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), c.cfg.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return c.CreateUserWithHash(ctx, name, string(hash), admin)
}

// CreateUserWithHash creates a user from a bcrypt hash computed elsewhere
// (a restore brings users back with the hash their backup kept).
func (c *Client) CreateUserWithHash(ctx context.Context, name, hash string, admin bool) error {
	_, err := c.exec(ctx, CmdCreateUser, CreateUserPayload{Name: name, Hash: hash, Admin: admin})
	return err
}

// SetPasswordHash sets a user's bcrypt password hash, computed elsewhere.
func (c *Client) SetPasswordHash(ctx context.Context, name, hash string) error {
	_, err := c.exec(ctx, CmdSetPassword, SetPasswordPayload{Name: name, Hash: hash})
	return err
}

// DropUser drops a user.
func (c *Client) DropUser(ctx context.Context, name string) error {
	_, err := c.exec(ctx, CmdDropUser, DropUserPayload{Name: name})
	return err
}

// SetPassword changes a user's password.
func (c *Client) SetPassword(ctx context.Context, name, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), c.cfg.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return c.SetPasswordHash(ctx, name, string(hash))
}

// SetAdmin grants or revokes a user's admin flag.
func (c *Client) SetAdmin(ctx context.Context, name string, admin bool) error {
	_, err := c.exec(ctx, CmdSetAdmin, SetAdminPayload{Name: name, Admin: admin})
	return err
}

// GrantPrivilege sets a user's privilege on db.
func (c *Client) GrantPrivilege(ctx context.Context, user, db string, p Privilege) error {
	_, err := c.exec(ctx, CmdGrantPrivilege, GrantPrivilegePayload{User: user, Database: db, Privilege: p})
	return err
}

// RevokePrivilege removes a user's privilege on db.
func (c *Client) RevokePrivilege(ctx context.Context, user, db string) error {
	_, err := c.exec(ctx, CmdRevokePrivilege, RevokePrivilegePayload{User: user, Database: db})
	return err
}
