package data

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/cq"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/internal/clock"
	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/internal/tlsconfig"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb"
)

// Server is one data node. Build it with NewServer, start it with Open and
// stop it with Close; both are safe to call twice.
type Server struct {
	cfg    Config
	build  string
	logger *slog.Logger
	reg    prometheus.Registerer
	gather prometheus.Gatherer

	store  *tsdb.Store
	meta   *meta.Client
	rpc    *coordinator.RPCClient
	writer *coordinator.PointsWriter
	hh     *hh.Service
	ae     *antientropy.Service
	copier *shardCopier
	// forwarder sends writes to the nodes copying this node's shards.
	forwarder *copyForwarder
	cq        *cq.Service
	aePeer    *antientropy.HTTPPeers
	nodeID    atomic.Uint64

	httpLn, rpcLn     net.Listener
	httpSrv, rpcSrv   *http.Server
	httpAddr, rpcAddr string

	// life ends when Close begins: a wait of Open for meta and the
	// background calls to meta derive from it, so none delays a stop.
	life    context.Context
	endLife context.CancelFunc
	// requests is the parent of every request's context; Close cancels
	// it (with errShuttingDown) once in-flight requests have had half of
	// shutdown-timeout to finish on their own.
	requests     context.Context
	stopRequests context.CancelCauseFunc
	mu           sync.Mutex // protects opened, closed
	opened       bool
	closed       bool
	stopCh       chan struct{}
	wg           sync.WaitGroup
}

// NewServer returns a data node for cfg. reg receives every metric of the
// node and gather serves them on /metrics (a *prometheus.Registry is
// both); build is reported in the X-Strata-Build header.
func NewServer(cfg Config, build string, logger *slog.Logger, reg *prometheus.Registry) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	life, endLife := context.WithCancel(context.Background())
	requests, stopRequests := context.WithCancelCause(context.Background())
	return &Server{cfg: cfg, build: build, logger: logger, reg: reg, gather: reg, life: life, endLife: endLife,
		requests: requests, stopRequests: stopRequests, stopCh: make(chan struct{})}
}

// NodeID is this node's id in the cluster (0 before Open registers it).
func (s *Server) NodeID() uint64 { return s.nodeID.Load() }

// HTTPAddr is the client API's advertised address.
func (s *Server) HTTPAddr() string { return s.httpAddr }

// RPCAddr is the internode RPC's advertised address.
func (s *Server) RPCAddr() string { return s.rpcAddr }

// BoundRPCAddr is the address the RPC listener is bound to (it differs from
// RPCAddr when an advertise address is configured).
func (s *Server) BoundRPCAddr() string { return s.rpcLn.Addr().String() }

// MetaData is the node's cached cluster state (nil before Open).
func (s *Server) MetaData() *meta.Data {
	if s.meta == nil {
		return nil
	}
	return s.meta.Data()
}

// Store is the node's shard store (for tests and tools).
func (s *Server) Store() *tsdb.Store { return s.store }

// Open starts the node: listeners bound (so their addresses can be
// registered), store opened, cluster state loaded, node registered, shards
// synced, then the client and RPC APIs served. A node that saved the
// cluster state in its dir starts from it without waiting for meta; a new
// node waits for meta (logging each attempt) until it answers or Close is
// called, which makes Open return an error.
func (s *Server) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil
	}
	if s.life.Err() != nil {
		return errors.New("data node closed or its start cancelled")
	}
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("invalid data node config: %w", err)
	}
	if err := s.open(); err != nil {
		s.shutdown()
		return err
	}
	s.opened = true
	return nil
}

func (s *Server) open() error {
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	var err error
	if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen on http-addr: %w", err)
	}
	if s.rpcLn, err = net.Listen("tcp", s.cfg.RPCAddr); err != nil {
		return fmt.Errorf("listen on rpc-addr: %w", err)
	}
	if err := s.secureListeners(); err != nil {
		return err
	}
	rpcTLS, metaTLS, err := s.clientTLS()
	if err != nil {
		return err
	}
	if s.httpAddr, err = advertise("http", s.cfg.HTTPAdvertiseAddr, s.httpLn.Addr()); err != nil {
		return err
	}
	if s.rpcAddr, err = advertise("rpc", s.cfg.RPCAdvertiseAddr, s.rpcLn.Addr()); err != nil {
		return err
	}

	s.store = tsdb.NewStore(s.cfg.storageConfig(), s.logger.With("component", "tsdb"), s.reg)
	if err := s.store.Open(); err != nil {
		return fmt.Errorf("open shard store: %w", err)
	}

	s.meta = meta.NewClient(meta.ClientConfig{Addrs: s.cfg.Meta, Logger: s.logger.With("component", "meta-client"),
		StatePath: filepath.Join(s.cfg.Dir, metaStateFile), InternalSharedSecret: s.cfg.InternalSharedSecret, TLS: metaTLS})
	if err := s.meta.Open(s.life); err != nil {
		return fmt.Errorf("reach meta nodes %v: %w", s.cfg.Meta, err)
	}
	id, moved, err := register(s.life, s.cfg.Dir, s.meta, s.httpAddr, s.rpcAddr, s.logger)
	if err != nil {
		return err
	}
	s.nodeID.Store(id)
	s.logger = s.logger.With("node_id", id)
	if moved {
		s.goFunc(func() { s.updateAddresses(id) })
	}
	// Shards being copied here when the node stopped are kept, to resume.
	copyIntents, err := loadCopyIntents(filepath.Join(s.cfg.Dir, copyIntentsFile))
	if err != nil {
		return err
	}
	resuming := func(shard uint64) bool { _, ok := copyIntents[shard]; return ok }
	if err := syncShards(s.meta.Data(), id, s.store, keepUntilAnswered(s.meta, resuming), s.logger); err != nil {
		s.logger.Warn("shard sync incomplete", "error", err)
	}

	s.rpc = coordinator.NewRPCClient(s.cfg.Coordinator, s.meta, s.logger.With("component", "rpc-client"), s.reg)
	nodeKey := nodeauth.New(s.cfg.InternalSharedSecret)
	// Calls to peers name this node, so their per-peer connection limit
	// counts them apart from other nodes at the same address.
	peerTransport := func(base http.RoundTripper) http.RoundTripper {
		return nodeKey.TransportAs(tlsconfig.Upgrade(base, rpcTLS), strconv.FormatUint(id, 10))
	}
	s.rpc.WrapTransport(peerTransport)
	s.forwarder = newCopyForwarder(s.rpc, s.logger.With("component", "copy-shard"))
	local := &localStore{store: s.store, meta: s.meta, node: s.NodeID, refresh: s.meta.Refresh, forward: s.forwarder}
	handoff, hints, err := s.openHH()
	if err != nil {
		return err
	}
	s.writer = coordinator.NewPointsWriter(s.cfg.Coordinator, s.NodeID, s.meta, local, s.rpc, handoff, s.logger.With("component", "coordinator"), s.reg)

	reader := coordinator.NewLocalShardReader(s.store)
	storage := coordinator.NewClusterStorage(s.cfg.Coordinator, s.meta, s.NodeID, reader, s.rpc, s.logger.With("component", "query"), s.reg)
	storage.SetReplicaWaiter(s.writer)
	executor := query.NewExecutor(s.cfg.Query, storage, s.logger.With("component", "query"), s.reg)
	level, err := s.cfg.ContinuousQueries.Consistency()
	if err != nil {
		return err
	}
	executor.SetIntoWriter(intoWriter{w: s.writer, level: level})
	s.cq = cq.New(s.cfg.ContinuousQueries, s.NodeID, s.meta, executor, s.logger.With("component", "cq"), s.reg)

	h := newHandler(s.cfg, s.build, s.meta, s.writer, s.gather, s.logger.With("component", "http"), newHTTPMetrics(s.reg))
	h.shards = func() []ShardStatus { return shardStatuses(s.store) }
	h.nodeKey = nodeKey
	h.ddl, h.queries, h.deletes, h.users = s.meta, executor, storage, s.meta
	rpcHandler := coordinator.NewRPCHandler(s.cfg.Coordinator, local, s.logger.With("component", "rpc"), s.reg)
	rpcHandler.SetShardReader(reader)

	s.aePeer = antientropy.NewHTTPPeers(s.meta, s.cfg.Coordinator.RPCDialTimeout.D(), s.cfg.AntiEntropy.RPCTimeout.D(),
		s.cfg.Coordinator.ClientConnsPerPeer())
	s.aePeer.WrapTransport(peerTransport)
	s.ae = antientropy.NewService(s.cfg.AntiEntropy, antientropy.Deps{
		Node: s.NodeID, Meta: s.meta, Store: aeStore{s.store}, Peers: s.aePeer, Hints: hints,
		Buckets: s.cfg.Storage.DigestSeriesBuckets, Window: time.Duration(s.cfg.Storage.DigestWindow),
		Logger: s.logger.With("component", "anti-entropy"), Registerer: s.reg,
	})
	if err := s.ae.Open(); err != nil {
		return fmt.Errorf("open anti-entropy: %w", err)
	}
	h.mountEntropy(s.ae)
	s.copier = newShardCopier(s.life, s.NodeID, s.meta, s.ae, filepath.Join(s.cfg.Dir, copyIntentsFile), s.logger.With("component", "copy-shard"))
	s.copier.forward = s.requestForward
	s.copier.files = func(ctx context.Context, shard, source uint64, received func(int64)) (bool, error) {
		return copyFilesFrom(ctx, s.store, s.aePeer, s.ae.PaceCopy, shard, source, received)
	}
	s.copier.Resume(copyIntents)
	h.mountCopyShard(s.copier)
	h.mountBackup(backupDeps{node: s.NodeID, store: aeStore{s.store}, ae: s.ae})
	if s.hh != nil {
		h.mountHH(s.hh)
	}
	rpcMux := http.NewServeMux()
	rpcMux.Handle(antientropy.PathPrefix, s.ae.Handler())
	rpcMux.Handle("POST "+CopyForwardPath, s.forwarder)
	rpcMux.Handle("POST "+CopyFilesPath, serveShardFiles(s.store, s.logger.With("component", "copy-shard")))
	rpcMux.Handle("POST "+coordinator.RPCShardScanPath, pacedQueries(rpcHandler))
	rpcMux.Handle("/", rpcHandler)

	requests := func(net.Listener) context.Context { return s.requests }
	s.httpSrv = &http.Server{Handler: h, ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout.D(), ReadTimeout: s.cfg.HTTP.ReadTimeout.D(),
		IdleTimeout: s.cfg.HTTP.IdleTimeout.D(), BaseContext: requests, ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
	s.rpcSrv = &http.Server{Handler: nodeKey.Handler(identifyPeers(rpcMux, nodeKey.Identity), nil), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: requests, ConnContext: withPeerConn, ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
	s.goFunc(func() { s.serve(s.httpSrv, s.httpLn, "http") })
	s.goFunc(func() { s.serve(s.rpcSrv, s.rpcLn, "rpc") })
	s.goFunc(s.lifecycleLoop)
	s.goFunc(s.heartbeatLoop)
	s.cq.Open()
	s.logger.Info("data node started", "http_addr", s.httpAddr, "rpc_addr", s.rpcAddr, "dir", s.cfg.Dir)
	return nil
}

func (s *Server) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Server) serve(srv *http.Server, ln net.Listener, name string) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.Error("listener stopped", "listener", name, "error", err)
	}
}

// lifecycleLoop keeps the store's shards in line with meta (created when
// assigned, deleted when dropped or expired) and pre-creates shard groups.
func (s *Server) lifecycleLoop() {
	tick := time.NewTicker(s.cfg.ShardPrecreateInterval.D())
	defer tick.Stop()
	for {
		changed := s.meta.WaitForDataChanged()
		select {
		case <-s.stopCh:
			return
		case <-changed:
			if err := syncShards(s.meta.Data(), s.NodeID(), s.store, keepUntilAnswered(s.meta, s.copier.Copying), s.logger); err != nil {
				s.logger.Warn("shard sync incomplete", "error", err)
			}
			s.pruneHH()
		case <-tick.C:
			if err := syncShards(s.meta.Data(), s.NodeID(), s.store, keepUntilAnswered(s.meta, s.copier.Copying), s.logger); err != nil {
				s.logger.Warn("shard sync incomplete", "error", err)
			}
			ctx, cancel := context.WithTimeout(s.life, 30*time.Second)
			if err := precreateShardGroups(ctx, s.meta, clock.Now(), s.cfg.ShardPrecreateAdvance.D()); err != nil {
				s.logger.Warn("shard group pre-creation failed", "error", err)
			}
			cancel()
		}
	}
}

// heartbeatLoop tells the meta leader every HeartbeatInterval that this
// node is alive and how many shards it holds; that is what `strata ctl
// show` reports (meta/DESIGN.md, "Data node liveness"). A failed
// heartbeat is logged once per run of failures and retried next tick.
func (s *Server) heartbeatLoop() {
	every := s.cfg.HeartbeatInterval.D()
	tick := time.NewTicker(every)
	defer tick.Stop()
	failing := false
	for {
		ctx, cancel := context.WithTimeout(s.life, every)
		err := s.meta.Heartbeat(ctx, meta.DataNodeHeartbeat{NodeID: s.NodeID(), Shards: len(s.store.ShardIDs())})
		cancel()
		switch {
		case err != nil && !failing && errors.Is(err, meta.ErrDataNodeNotFound):
			s.logger.Error("this data node was removed from the cluster (strata ctl remove-data or replace-data): it owns no shards; stop it (restarted with an empty --dir it joins as a new node)", "err", err)
		case err != nil && !failing && s.life.Err() == nil:
			s.logger.Warn("heartbeat to meta failed; meta reports this node down if it lasts", "err", err)
		case err == nil && failing:
			s.logger.Info("heartbeat to meta delivered again")
		}
		failing = err != nil
		select {
		case <-s.stopCh:
			return
		case <-tick.C:
		}
	}
}

// updateAddresses tells meta this node's new addresses, once per
// addressRetryInterval until meta takes them or the node stops; the node
// serves meanwhile, and other nodes reach it once meta has them.
func (s *Server) updateAddresses(id uint64) {
	err := retryEvery(s.life, addressRetryInterval, func(ctx context.Context) error {
		return s.meta.UpdateDataNode(ctx, id, s.httpAddr, s.rpcAddr)
	}, func(attempt int, err error) {
		s.logger.Warn("waiting for meta to take this node's new addresses; other data nodes still dial the old ones",
			"attempt", attempt, "http_addr", s.httpAddr, "rpc_addr", s.rpcAddr, "retry_in", addressRetryInterval, "err", err)
	})
	if err == nil {
		s.logger.Info("meta has this node's new addresses", "http_addr", s.httpAddr, "rpc_addr", s.rpcAddr)
	}
}

// CancelOpen makes an Open that waits for meta give up and return an
// error; after it, the node cannot open. Close calls it.
func (s *Server) CancelOpen() { s.endLife() }

// Close stops the node: listeners stop accepting and in-flight requests
// drain, cancelled at half of ShutdownTimeout and cut off at its end (see
// drainRequests), background loops stop, then the
// meta client and the store close. Called while Open waits for meta, it
// makes Open give up.
func (s *Server) Close() error {
	s.CancelOpen()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if !s.opened {
		return nil // a failed Open has shut down what it started
	}
	return s.shutdown()
}

func (s *Server) shutdown() error {
	var errs []error
	s.drainRequests()
	for _, ln := range []net.Listener{s.httpLn, s.rpcLn} {
		if ln != nil {
			ln.Close() // no-op error when Shutdown closed it
		}
	}
	select {
	case <-s.stopCh:
	default:
		close(s.stopCh)
	}
	s.wg.Wait()
	if s.cq != nil {
		s.cq.Close() // its runs write through the writer
	}
	if s.writer != nil {
		// Remote writes still in flight are cancelled and go to hinted
		// handoff, which must still be open.
		errs = append(errs, s.writer.Close())
	}
	if s.copier != nil {
		s.copier.Close()
	}
	if s.forwarder != nil {
		s.forwarder.Close()
	}
	if s.ae != nil {
		errs = append(errs, s.ae.Close())
		s.aePeer.Close()
	}
	if s.hh != nil {
		errs = append(errs, s.hh.Close())
	}
	if s.rpc != nil {
		errs = append(errs, s.rpc.Close())
	}
	if s.meta != nil {
		errs = append(errs, s.meta.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}

// errShuttingDown is the cause of the cancellation of the requests still
// running when Close has waited half of shutdown-timeout.
var errShuttingDown = errors.New("data node shutting down")

// drainRequests stops both listeners and waits for in-flight requests:
// half of shutdown-timeout for them to finish on their own, then their
// contexts are cancelled (a write stops between chunks and stops waiting
// for replicas, a query stops) and they have the other half to answer.
// Connections of requests still running at the timeout, such as one whose
// body never arrives, are closed. Either way the node stops within the
// timeout: a request cut short is logged, not an error of Close (issue 9:
// one long write made Ctrl-C of strata local wait 30 s and exit 1).
func (s *Server) drainRequests() {
	timeout := s.cfg.ShutdownTimeout.D()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cancelRequests := time.AfterFunc(timeout/2, func() { s.stopRequests(errShuttingDown) })
	defer cancelRequests.Stop()
	for i, srv := range []*http.Server{s.httpSrv, s.rpcSrv} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			s.logger.Warn("requests still running at shutdown-timeout; closing their connections",
				"listener", []string{"http", "rpc"}[i], "shutdown_timeout", timeout, "error", err)
			srv.Close()
		}
	}
	s.stopRequests(errShuttingDown)
}

// advertise returns the address to register: the configured one, else the
// bound one (which must not be a wildcard).
func advertise(kind, configured string, bound net.Addr) (string, error) {
	if configured != "" {
		return configured, nil
	}
	tcp, ok := bound.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return "", fmt.Errorf("%s address %s binds every interface: set %s-advertise-addr", kind, bound, kind)
	}
	return tcp.String(), nil
}

// requestForward asks source to forward the writes shard takes to this
// node (a copy's lease, renewed while the copy runs).
func (s *Server) requestForward(ctx context.Context, shard, source uint64) error {
	rc, err := s.aePeer.Post(ctx, source, fmt.Sprintf("%s?shard=%d&dest=%d", CopyForwardPath, shard, s.NodeID()), nil)
	if err != nil {
		return err
	}
	return rc.Close()
}
