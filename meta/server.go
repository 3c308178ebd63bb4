package meta

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/internal/tlsconfig"
)

// nodeIDFile holds the meta node's id inside Config.Dir.
const nodeIDFile = "node-id"

// Server is one meta node: raft plus the meta HTTP API.
//
// NewServer only builds it; Open binds the listeners, starts raft and the
// HTTP server, and bootstraps or joins; Close stops everything. All methods
// are safe for concurrent use.
type Server struct {
	cfg      Config
	logger   *slog.Logger
	gatherer prometheus.Gatherer
	metrics  *metrics
	fsm      *fsm

	id       string
	httpAddr string // advertised
	raftAddr string // advertised

	raft      atomic.Pointer[raft.Raft] // nil until Open succeeds
	stream    *streamLayer
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
	observer  *raft.Observer
	obsCh     chan raft.Observation
	httpLn    net.Listener
	httpSrv   *http.Server
	fwd       *http.Client // forwards requests to the leader

	// readyTerm is the term in which this node, as leader, has applied a
	// barrier: from then on its CommitIndex is authoritative for reads.
	readyTerm  atomic.Uint64
	leaderKick chan struct{} // cap 1: "leadership may have changed"
	// heartbeats is what this node heard from data nodes while leader.
	heartbeats *heartbeats

	stopCh    chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	opened    atomic.Bool
}

// NewServer returns a meta node configured by cfg. A nil logger discards;
// a nil reg uses a private registry. When reg is also a
// prometheus.Gatherer, GET /metrics serves it.
func NewServer(cfg Config, logger *slog.Logger, reg prometheus.Registerer) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:        cfg,
		logger:     logger,
		fsm:        newFSM(DefaultRecentRequests),
		leaderKick: make(chan struct{}, 1),
		heartbeats: newHeartbeats(cfg.DataNodeTimeout.D()),
		stopCh:     make(chan struct{}),
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		s.gatherer = g
	}
	s.metrics = newMetrics(reg, s)
	s.fsm.onApply = func(typ CommandType, outcome string) {
		s.metrics.commands.WithLabelValues(string(typ), outcome).Inc()
	}
	return s
}

// Open validates the config, starts raft and the HTTP API, and bootstraps a
// new cluster (no raft state in Dir, and Join empty or naming only this
// node's advertised HTTP address) or joins one (Join names other nodes).
// A node restarted from its Dir rejoins with its saved state.
func (s *Server) Open() (err error) {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if !s.opened.CompareAndSwap(false, true) {
		return errors.New("meta server already opened")
	}
	defer func() {
		if err != nil {
			s.shutdown(false)
		}
	}()
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("create meta dir: %w", err)
	}
	if s.id, err = loadOrCreateNodeID(s.cfg.Dir); err != nil {
		return err
	}

	tlsServer, tlsClient, err := s.cfg.TLS.configs()
	if err != nil {
		return err
	}
	var raftTLS *tls.Config
	if s.cfg.TLS.RaftEnabled {
		if raftTLS, err = s.cfg.TLS.raftServer(tlsServer); err != nil {
			return err
		}
	}
	raftLn, err := net.Listen("tcp", s.cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("listen raft %s: %w", s.cfg.RaftAddr, err)
	}
	advRaft, err := advertiseAddr("raft", s.cfg.RaftAdvertiseAddr, raftLn.Addr())
	if err != nil {
		raftLn.Close()
		return err
	}
	s.raftAddr = advRaft.String()
	if raftTLS != nil {
		raftLn = tls.NewListener(raftLn, raftTLS)
		s.stream = newStreamLayer(raftLn, advRaft)
		s.stream.tlsClient = tlsClient
	} else {
		s.stream = newStreamLayer(raftLn, advRaft)
	}

	if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		s.stream.Close()
		return fmt.Errorf("listen http %s: %w", s.cfg.HTTPAddr, err)
	}
	if s.cfg.TLS.HTTPEnabled {
		s.httpLn = tls.NewListener(s.httpLn, tlsServer)
	}
	advHTTP, err := advertiseAddr("http", s.cfg.HTTPAdvertiseAddr, s.httpLn.Addr())
	if err != nil {
		s.stream.Close()
		s.httpLn.Close()
		return err
	}
	s.httpAddr = advHTTP.String()

	hlog := newRaftLogger(s.logger, s.cfg.RaftLogLevel)
	s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: s.stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
	})
	if s.store, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(s.cfg.Dir, "raft.db")}); err != nil {
		s.transport.Close()
		s.httpLn.Close()
		return fmt.Errorf("open raft store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(s.cfg.Dir, s.cfg.SnapshotRetain, hlog)
	if err != nil {
		s.closeStores()
		return fmt.Errorf("open snapshot store: %w", err)
	}
	hasState, err := raft.HasExistingState(s.store, s.store, snaps)
	if err != nil {
		s.closeStores()
		return fmt.Errorf("check raft state: %w", err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.id)
	rc.Logger = hlog
	rc.HeartbeatTimeout = s.cfg.HeartbeatTimeout.D()
	rc.ElectionTimeout = s.cfg.ElectionTimeout.D()
	rc.LeaderLeaseTimeout = s.cfg.LeaderLeaseTimeout.D()
	rc.CommitTimeout = s.cfg.CommitTimeout.D()
	rc.SnapshotThreshold = s.cfg.SnapshotThreshold
	rc.SnapshotInterval = s.cfg.SnapshotInterval.D()
	rc.TrailingLogs = s.cfg.TrailingLogs
	r, err := raft.NewRaft(rc, s.fsm, s.store, s.store, snaps, s.transport)
	if err != nil {
		s.closeStores()
		return fmt.Errorf("start raft: %w", err)
	}
	s.raft.Store(r)

	s.obsCh = make(chan raft.Observation, 64)
	s.observer = raft.NewObserver(s.obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(s.observer)

	// Join naming only this node (every pod of a Kubernetes StatefulSet
	// gets the same --join: the first pod's address) makes it the seed.
	joinOthers := slices.DeleteFunc(slices.Clone(s.cfg.Join), func(addr string) bool { return addr == s.httpAddr })
	if !hasState && len(joinOthers) == 0 && !s.cfg.NoBootstrap {
		s.logger.Info("bootstrapping new meta cluster", "node_id", s.id, "raft_addr", s.raftAddr)
		cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(s.raftAddr)}}}
		if err := r.BootstrapCluster(cfg).Error(); err != nil {
			return fmt.Errorf("bootstrap raft: %w", err)
		}
	}

	// A short dial timeout: a leader that just died may not answer at all
	// (no RST from a vanished host); the 503 that follows makes the client
	// retry, by which time a new leader is known.
	key := nodeauth.New(s.cfg.InternalSharedSecret)
	var fwdTLS *tls.Config
	if s.cfg.TLS.HTTPEnabled {
		fwdTLS = tlsClient
	}
	s.fwd = &http.Client{Transport: key.Transport(tlsconfig.Upgrade(&http.Transport{
		DialContext:         (&net.Dialer{Timeout: forwardDialTimeout}).DialContext,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}, fwdTLS))}
	s.httpSrv = &http.Server{Handler: key.Handler(s.handler(), publicPath), ReadHeaderTimeout: 10 * time.Second}
	s.goFunc(func() {
		if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("meta http server stopped", "err", err)
		}
	})
	s.goFunc(s.observeLoop)
	s.goFunc(s.leaderLoop)
	if len(joinOthers) > 0 {
		s.goFunc(s.joinLoop)
	}
	s.kickLeader()
	s.logger.Info("meta node started", "node_id", s.id, "http_addr", s.httpAddr, "raft_addr", s.raftAddr, "existing_state", hasState)
	return nil
}

// goFunc runs fn in a goroutine owned by s (waited for in Close).
func (s *Server) goFunc(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// httpDrainTimeout bounds how long Close waits for the HTTP requests in
// flight before cutting them.
const httpDrainTimeout = 5 * time.Second

// Close stops the node. On the leader it first hands leadership to another
// voter (bounded by LeadershipTransferTimeout) so the cluster does not wait
// for an election timeout. Close is idempotent.
func (s *Server) Close() error { return s.shutdown(true) }

// Abort stops the node without handing off leadership, as a crash would
// (tests use it to simulate one). It is idempotent, and Close after Abort
// does nothing.
func (s *Server) Abort() error { return s.shutdown(false) }

func (s *Server) shutdown(transfer bool) error {
	s.closeOnce.Do(func() {
		var errs []error
		r := s.raft.Load()
		if r != nil && transfer && r.State() == raft.Leader && s.hasOtherVoters(r) {
			s.transferLeadership(r)
		}
		// Stop this node's own work while raft still runs: a command that
		// raft has committed but not yet applied when it shuts down is
		// never answered (hashicorp/raft), so a request or loop waiting on
		// it would block for good. Long polls and loops end on stopCh; the
		// HTTP server then waits for the requests in flight.
		close(s.stopCh)
		if s.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), httpDrainTimeout)
			if err := s.httpSrv.Shutdown(ctx); err != nil {
				// Requests still running: cut them.
				if err := s.httpSrv.Close(); err != nil {
					errs = append(errs, fmt.Errorf("close http server: %w", err))
				}
			}
			cancel()
		} else if s.httpLn != nil {
			s.httpLn.Close()
		}
		s.wg.Wait()
		if r != nil {
			if err := r.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("shutdown raft: %w", err))
			}
			r.DeregisterObserver(s.observer)
		}
		if s.fwd != nil {
			s.fwd.CloseIdleConnections()
		}
		if err := s.closeStores(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
		s.logger.Info("meta node stopped", "node_id", s.id)
	})
	return s.closeErr
}

func (s *Server) closeStores() error {
	var errs []error
	if s.transport != nil {
		if err := s.transport.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft transport: %w", err))
		}
		s.transport = nil
	} else if s.stream != nil {
		s.stream.Close()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft store: %w", err))
		}
		s.store = nil
	}
	return errors.Join(errs...)
}

func (s *Server) hasOtherVoters(r *raft.Raft) bool {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter && string(srv.ID) != s.id {
			return true
		}
	}
	return false
}

// transferLeadership asks raft to hand leadership to another voter and
// waits at most LeadershipTransferTimeout for it.
func (s *Server) transferLeadership(r *raft.Raft) {
	done := make(chan error, 1)
	fut := r.LeadershipTransfer()
	go func() { done <- fut.Error() }() // ends when raft finishes or shuts down
	t := time.NewTimer(s.cfg.LeadershipTransferTimeout.D())
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			s.logger.Warn("leadership transfer failed", "node_id", s.id, "err", err)
		} else {
			s.logger.Info("leadership transferred", "node_id", s.id)
		}
	case <-t.C:
		s.logger.Warn("leadership transfer timed out", "node_id", s.id)
	}
}

// Config returns the config the server was built with.
func (s *Server) Config() Config { return s.cfg }

// ID returns the node's stable id: random hex generated on first start and
// kept in Dir/node-id, so it survives address changes.
func (s *Server) ID() string { return s.id }

// HTTPAddr returns the advertised HTTP address (the bound one by default).
func (s *Server) HTTPAddr() string { return s.httpAddr }

// RaftAddr returns the advertised raft address (the bound one by default).
func (s *Server) RaftAddr() string { return s.raftAddr }

// IsLeader reports whether this node is the raft leader now.
func (s *Server) IsLeader() bool { return s.raftState() == raft.Leader }

// Data returns this node's current state (a stale read).
func (s *Server) Data() *Data { return s.fsm.Data() }

// WaitForLeader blocks until the cluster has a leader whose HTTP address
// this node knows, or ctx ends.
func (s *Server) WaitForLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := s.leaderHTTPAddr(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for meta leader: %w", ctx.Err())
		case <-s.stopCh:
			return ErrClosed
		case <-t.C:
		}
	}
}

// SetNetworkFilter is a fault hook for tests: allow(peer) is asked before
// each raft connection this node dials (peer = the target raft address)
// and accepts (peer = "", unknown). Open connections it rejects are closed
// at once. nil allows everything. The HTTP API is not affected.
func (s *Server) SetNetworkFilter(allow func(peer string) bool) {
	if s.stream != nil {
		s.stream.setFilter(allow)
	}
}

func (s *Server) raftState() raft.RaftState {
	r := s.raft.Load()
	if r == nil {
		return raft.Shutdown
	}
	return r.State()
}

func (s *Server) raftUint(fn func(*raft.Raft) uint64) uint64 {
	r := s.raft.Load()
	if r == nil {
		return 0
	}
	return fn(r)
}

// leaderHTTPAddr returns the leader's HTTP address from the replicated
// meta-node list, or ErrNoLeader.
func (s *Server) leaderHTTPAddr() (string, error) {
	r := s.raft.Load()
	if r == nil {
		return "", ErrNoLeader
	}
	if r.State() == raft.Leader {
		return s.httpAddr, nil
	}
	_, id := r.LeaderWithID()
	if id == "" {
		return "", ErrNoLeader
	}
	m := s.fsm.Data().MetaNode(string(id))
	if m == nil {
		return "", fmt.Errorf("leader %s has no known http address: %w", id, ErrNoLeader)
	}
	return m.HTTPAddr, nil
}

func loadOrCreateNodeID(dir string) (string, error) {
	p := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(p)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if id == "" {
			return "", fmt.Errorf("read node id %s: file is empty", p)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	var raw [8]byte
	if _, err := io.ReadFull(rand.Reader, raw[:]); err != nil {
		return "", fmt.Errorf("generate node id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}

// advertiseAddr returns the configured advertise address, or the bound one
// when none is set; an unspecified bound IP (0.0.0.0, ::) cannot be dialled
// by peers, so that needs an explicit advertise address. A configured
// address is kept as written (see hostAddr), not resolved.
func advertiseAddr(kind, configured string, bound net.Addr) (net.Addr, error) {
	if configured != "" {
		host, port, err := net.SplitHostPort(configured)
		if err != nil || host == "" {
			return nil, fmt.Errorf("%s advertise address %q: want host:port", kind, configured)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%s advertise address %q: invalid port", kind, configured)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return nil, fmt.Errorf("%s advertise address %q: peers cannot dial an unspecified address", kind, configured)
		}
		return hostAddr(configured), nil
	}
	a, ok := bound.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("%s listener address %s is not TCP", kind, bound)
	}
	if a.IP.IsUnspecified() {
		return nil, fmt.Errorf("%s address %s binds all interfaces: set %s-advertise-addr", kind, a, kind)
	}
	return a, nil
}

// hostAddr is an advertise address kept as configured. A hostname (a
// container's service name, a DNS name) is then what raft stores and
// dials, resolved afresh on every dial, so a peer whose IP changes across
// restarts stays reachable.
type hostAddr string

// Network implements net.Addr.
func (a hostAddr) Network() string { return "tcp" }

// String implements net.Addr.
func (a hostAddr) String() string { return string(a) }

func newRequestID() string {
	var b [16]byte
	_, _ = io.ReadFull(rand.Reader, b[:])
	return hex.EncodeToString(b[:])
}
