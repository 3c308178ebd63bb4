package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strata-db/strata/internal/clock"
)

// ReadConsistency selects how fresh a state read must be.
type ReadConsistency string

// Read consistency modes (as in Consul).
const (
	// ReadStale answers from the local FSM of whichever node is asked:
	// fastest, may be behind.
	ReadStale ReadConsistency = "stale"
	// ReadDefault answers from the leader's FSM while it holds leadership.
	// hashicorp/raft steps a leader down when it has not heard from a
	// quorum within LeaderLeaseTimeout, so the answer can be stale only by
	// that bounded window after a partition.
	ReadDefault ReadConsistency = "default"
	// ReadConsistent is linearizable: the leader notes its commit index,
	// confirms leadership with a quorum round (VerifyLeader), and waits until
	// its FSM has applied that index before answering.
	ReadConsistent ReadConsistency = "consistent"
)

func parseConsistency(s string) (ReadConsistency, error) {
	switch ReadConsistency(s) {
	case "", ReadDefault:
		return ReadDefault, nil
	case ReadStale, ReadConsistent:
		return ReadConsistency(s), nil
	}
	return "", fmt.Errorf("consistency %q (want stale, default or consistent): %w", s, ErrInvalidCommand)
}

// Execute proposes c through raft on this node, which must be the leader
// (else a *NotLeaderError). It fills in RequestID (random) and Time (now)
// when they are empty, answers a remembered RequestID with its first result,
// and validates c against the current state before raft so a bad command
// is not logged (it is refused only after a barrier, so never from a
// lagging state).
//
// A returned Result with Error set is a rejected command: nothing changed.
// A returned error means the outcome is unknown or the node could not try
// (not leader, timeout, closed); retrying with the same RequestID is safe.
func (s *Server) Execute(ctx context.Context, c *Command) (*Result, error) {
	start := time.Now()
	if _, err := c.decodePayload(); err != nil {
		return errorResult(err), nil
	}
	// Only known types become label values, so junk input cannot grow the series set.
	defer func() { s.metrics.commandDur.WithLabelValues(string(c.Type)).Observe(time.Since(start).Seconds()) }()
	r := s.raft.Load()
	if r == nil {
		return nil, ErrClosed
	}
	if r.State() != raft.Leader {
		addr, _ := s.leaderHTTPAddr()
		return nil, &NotLeaderError{Leader: addr}
	}
	if c.RequestID == "" {
		c.RequestID = newRequestID()
	}
	if prev, ok := s.fsm.lookup(c.RequestID); ok {
		return &prev, nil
	}
	if c.Time.IsZero() {
		c.Time = time.Now().UTC()
	}
	if err := s.fsm.simulate(c); err != nil {
		// A refusal is a definite answer: it must hold for a state with
		// every acknowledged command, and this FSM may lag. A new leader
		// (above all one just restarted from an old snapshot) applies the
		// entries committed before its term only once one of its own term
		// commits; a deposed leader misses its successor's commands.
		// Refusing from such a state broke linearizability (a register
		// refused for an HTTP address an acknowledged remove had freed,
		// internal/chaos TestMetaNodeChanges). A barrier commits only while
		// this node leads and returns once the FSM has applied everything
		// before it, so look and check again after one.
		if err := r.Barrier(s.applyTimeout(ctx)).Error(); err != nil {
			return nil, s.raftError("confirm refusal", err)
		}
		if prev, ok := s.fsm.lookup(c.RequestID); ok {
			return &prev, nil
		}
		if err := s.fsm.simulate(c); err != nil {
			return errorResult(err), nil
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	f := r.Apply(b, s.applyTimeout(ctx))
	if err := f.Error(); err != nil {
		return nil, s.raftError("apply command", err)
	}
	res, ok := f.Response().(*Result)
	if !ok {
		panic(fmt.Sprintf("BUG: fsm returned %T, want *Result", f.Response()))
	}
	return res, nil
}

// applyTimeout is how long raft may take to enqueue a log entry: the
// configured ApplyTimeout, or less if ctx ends sooner.
func (s *Server) applyTimeout(ctx context.Context) time.Duration {
	timeout := s.cfg.ApplyTimeout.D()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	return timeout
}

// raftError maps raft's errors onto this package's sentinels.
func (s *Server) raftError(op string, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		addr, _ := s.leaderHTTPAddr()
		return fmt.Errorf("%s: %w: %w", op, &NotLeaderError{Leader: addr}, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%s: %w: %w", op, ErrTimeout, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s: %w: %w", op, ErrClosed, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// checkRead verifies this node may answer a read at the given consistency.
// For ReadConsistent it also waits until the FSM has applied the commit
// index seen before the quorum check.
func (s *Server) checkRead(ctx context.Context, rc ReadConsistency) error {
	if rc == ReadStale {
		return nil
	}
	r := s.raft.Load()
	if r == nil {
		return ErrClosed
	}
	if r.State() != raft.Leader {
		addr, _ := s.leaderHTTPAddr()
		return &NotLeaderError{Leader: addr}
	}
	if rc == ReadDefault {
		return nil
	}
	if err := s.termApplied(r); err != nil {
		return err
	}
	commit := r.CommitIndex()
	if err := r.VerifyLeader().Error(); err != nil {
		return s.raftError("verify leader", err)
	}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for r.AppliedIndex() < commit {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for applied index %d: %w", commit, ctx.Err())
		case <-s.stopCh:
			return ErrClosed
		case <-t.C:
		}
	}
	return nil
}

// termApplied makes this leader's FSM hold every entry committed before
// its term. A new leader's commit index is only authoritative once an
// entry of its own term is applied: raft appends one on election; a
// barrier waits for it (once per term).
func (s *Server) termApplied(r *raft.Raft) error {
	term := r.CurrentTerm()
	if s.readyTerm.Load() != term {
		if err := r.Barrier(s.cfg.ApplyTimeout.D()).Error(); err != nil {
			return s.raftError("barrier", err)
		}
		s.readyTerm.Store(term)
	}
	return nil
}

// ReadData returns the state under consistency rc, waiting first (up to
// wait) for the state index to pass afterIndex when afterIndex > 0. It
// answers only from this node: for default and consistent reads it must be
// the leader (else *NotLeaderError); the HTTP API forwards for you.
func (s *Server) ReadData(ctx context.Context, rc ReadConsistency, afterIndex uint64, wait time.Duration) (*Data, error) {
	if afterIndex > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
	wait:
		for {
			ch := s.fsm.waitCh()
			if s.fsm.Data().Index > afterIndex {
				break
			}
			select {
			case <-ch:
			case <-t.C:
				break wait
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-s.stopCh:
				return nil, ErrClosed
			}
		}
	}
	if err := s.checkRead(ctx, rc); err != nil {
		return nil, err
	}
	return s.fsm.Data(), nil
}

// kickLeader wakes leaderLoop to re-check leadership duties.
func (s *Server) kickLeader() {
	select {
	case s.leaderKick <- struct{}{}:
	default:
	}
}

// observeLoop counts leader changes and wakes leaderLoop on each.
func (s *Server) observeLoop() {
	var last raft.ServerID
	for {
		select {
		case <-s.stopCh:
			return
		case o := <-s.obsCh:
			lo, ok := o.Data.(raft.LeaderObservation)
			if !ok || lo.LeaderID == last {
				continue
			}
			last = lo.LeaderID
			if lo.LeaderID != "" {
				s.metrics.leaderChanges.Inc()
				s.logger.Info("meta leader changed", "node_id", s.id, "leader_id", string(lo.LeaderID))
			}
			s.kickLeader()
		}
	}
}

// leaderLoop does the leader's duties: on gaining leadership, record this
// node in the meta-node list; every RetentionCheckInterval, mark expired
// shard groups deleted and prune long-deleted ones.
func (s *Server) leaderLoop() {
	ret := time.NewTicker(s.cfg.RetentionCheckInterval.D())
	defer ret.Stop()
	// A slow safety tick retries registering this node if a kick's attempt failed.
	safety := time.NewTicker(max(s.cfg.ElectionTimeout.D()*4, 100*time.Millisecond))
	defer safety.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case <-s.leaderKick:
			s.registerSelf()
		case <-safety.C:
			s.registerSelf()
		case <-ret.C:
			if s.IsLeader() {
				s.enforceRetention(clock.Now())
			}
		}
	}
}

// registerSelf makes sure the replicated meta-node list has this leader's
// current addresses.
func (s *Server) registerSelf() {
	if !s.IsLeader() {
		return
	}
	me := MetaNodeInfo{ID: s.id, RaftAddr: s.raftAddr, HTTPAddr: s.httpAddr}
	if m := s.fsm.Data().MetaNode(s.id); m != nil && *m == me {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout.D())
	defer cancel()
	if err := s.executeOK(ctx, CmdAddMetaNode, me); err != nil {
		s.logger.Warn("register meta node failed", "node_id", s.id, "err", err)
	}
}

// enforceRetention applies CmdDeleteExpiredShardGroups when some group
// expired or a deleted one is due for pruning.
func (s *Server) enforceRetention(now time.Time) {
	if marked, pruned := s.fsm.Data().Clone().deleteExpiredShardGroups(now); marked+pruned == 0 {
		return
	}
	c, err := NewCommand(CmdDeleteExpiredShardGroups, "", DeleteExpiredShardGroupsPayload{})
	if err != nil {
		panic("BUG: " + err.Error())
	}
	c.Time = now.UTC()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout.D())
	defer cancel()
	res, err := s.Execute(ctx, c)
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		s.logger.Warn("retention sweep failed", "node_id", s.id, "err", err)
		return
	}
	s.logger.Info("retention swept shard groups", "node_id", s.id, "marked_deleted", res.Count, "pruned", res.Pruned)
}

// executeOK runs a locally built command and folds a rejection into err.
func (s *Server) executeOK(ctx context.Context, typ CommandType, payload any) error {
	c, err := NewCommand(typ, "", payload)
	if err != nil {
		return err
	}
	res, err := s.Execute(ctx, c)
	if err != nil {
		return err
	}
	return res.Err()
}

// JoinRequest is the body of POST /join.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// LeaveRequest is the body of POST /leave.
type LeaveRequest struct {
	ID string `json:"id"`
}

// join adds a meta node as a raft voter and records its addresses; this
// node must be the leader. Joining again with the same id is harmless and
// updates the addresses.
func (s *Server) join(ctx context.Context, req JoinRequest) error {
	m := MetaNodeInfo(req)
	if err := (&Data{}).addMetaNode(m); err != nil {
		return err
	}
	r := s.raft.Load()
	if r == nil {
		return ErrClosed
	}
	if r.State() != raft.Leader {
		addr, _ := s.leaderHTTPAddr()
		return &NotLeaderError{Leader: addr}
	}
	if err := r.AddVoter(raft.ServerID(m.ID), raft.ServerAddress(m.RaftAddr), 0, s.cfg.ApplyTimeout.D()).Error(); err != nil {
		return s.raftError("add voter", err)
	}
	s.logger.Info("meta node joined", "node_id", m.ID, "raft_addr", m.RaftAddr, "http_addr", m.HTTPAddr)
	return s.executeOK(ctx, CmdAddMetaNode, m)
}

// leave removes a meta node from the raft configuration and the meta-node
// list; this node must be the leader (it may remove itself).
func (s *Server) leave(ctx context.Context, id string) error {
	r := s.raft.Load()
	if r == nil {
		return ErrClosed
	}
	if r.State() != raft.Leader {
		addr, _ := s.leaderHTTPAddr()
		return &NotLeaderError{Leader: addr}
	}
	inRaft := false
	if f := r.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			inRaft = inRaft || string(srv.ID) == id
		}
	}
	inState := s.fsm.Data().MetaNode(id) != nil
	if !inRaft && !inState {
		return fmt.Errorf("remove meta node %q: %w", id, ErrMetaNodeNotFound)
	}
	if inState {
		if err := s.executeOK(ctx, CmdRemoveMetaNode, RemoveMetaNodePayload{ID: id}); err != nil {
			return err
		}
	}
	if inRaft {
		if err := r.RemoveServer(raft.ServerID(id), 0, s.cfg.ApplyTimeout.D()).Error(); err != nil {
			return s.raftError("remove server", err)
		}
	}
	s.logger.Info("meta node removed", "node_id", id)
	return nil
}

// joinLoop asks the nodes in Config.Join to add this node until one accepts.
func (s *Server) joinLoop() {
	body, err := json.Marshal(JoinRequest{ID: s.id, RaftAddr: s.raftAddr, HTTPAddr: s.httpAddr})
	if err != nil {
		panic("BUG: " + err.Error())
	}
	t := time.NewTicker(s.cfg.JoinRetryInterval.D())
	defer t.Stop()
	for {
		for _, addr := range s.cfg.Join {
			if addr == s.httpAddr {
				continue
			}
			if err := s.postJoin(addr, body); err != nil {
				s.logger.Debug("join attempt failed", "node_id", s.id, "addr", addr, "err", err)
				continue
			}
			s.logger.Info("joined meta cluster", "node_id", s.id, "via", addr)
			return
		}
		select {
		case <-s.stopCh:
			return
		case <-t.C:
		}
	}
}

func (s *Server) postJoin(addr string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout.D())
	defer cancel()
	s.goFunc(func() { // abandon the attempt when the server stops
		select {
		case <-s.stopCh:
			cancel()
		case <-ctx.Done():
		}
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/join", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.fwd.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decodeAPIError(resp)
	}
	return nil
}
