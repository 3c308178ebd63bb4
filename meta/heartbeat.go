package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Data node states in meta's view (GET /data-nodes/state).
const (
	// DataNodeUp: the leader had a heartbeat from the node within
	// data-node-timeout.
	DataNodeUp = "up"
	// DataNodeDown: the node has been leader for at least data-node-timeout
	// and had no heartbeat from the node for that long.
	DataNodeDown = "down"
	// DataNodeUnknown: the leader is too new to tell; the node's heartbeats
	// may have gone to the previous leader. It resolves within one
	// heartbeat interval of a live node, or data-node-timeout of a dead one.
	DataNodeUnknown = "unknown"
)

// DataNodeHeartbeat is the body of POST /heartbeat: a data node saying it
// is alive. Non-leaders forward it to the leader, which keeps it in memory.
type DataNodeHeartbeat struct {
	NodeID uint64 `json:"node_id"`
	// Shards is how many shards the node holds in its store.
	Shards int `json:"shards"`
}

// DataNodeState is meta's view of one data node: one element of the body
// of GET /data-nodes/state.
type DataNodeState struct {
	ID    uint64 `json:"id"`
	State string `json:"state"`
	// LastHeartbeat is when the leader last heard from the node (zero when
	// this leader never did), by the leader's clock, and HeartbeatAge how
	// long ago that was when the leader answered (free of clock skew);
	// Shards is what that heartbeat reported, -1 without one.
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	HeartbeatAge  Duration  `json:"heartbeat_age,omitempty"`
	Shards        int       `json:"shards"`
}

// heartbeatRecord is the last heartbeat of one node.
type heartbeatRecord struct {
	at     time.Time // local clock of the leader, with its monotonic reading
	shards int
}

// heartbeats is the leader's in-memory record of data node heartbeats
// (see DESIGN.md, "Data node liveness"). It is safe for concurrent use.
type heartbeats struct {
	timeout time.Duration

	mu sync.Mutex // protects last, term, leaderSince
	// last holds the newest heartbeat per node id.
	last map[uint64]heartbeatRecord
	// term is the raft term in which this node last noticed it leads, and
	// leaderSince when it noticed; a node is only declared down once the
	// leader has led for timeout, so it had the chance to hear it.
	term        uint64
	leaderSince time.Time
}

func newHeartbeats(timeout time.Duration) *heartbeats {
	return &heartbeats{timeout: timeout, last: make(map[uint64]heartbeatRecord)}
}

// leading notes that this node leads in term at now; a new term restarts
// the wait before anyone can be declared down.
func (h *heartbeats) leading(term uint64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if term != h.term {
		h.term, h.leaderSince = term, now
	}
}

// record stores a heartbeat received at now.
func (h *heartbeats) record(hb DataNodeHeartbeat, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[hb.NodeID] = heartbeatRecord{at: now, shards: hb.Shards}
}

// states reports every data node of d as seen at now, and forgets the
// heartbeats of nodes d no longer has.
func (h *heartbeats) states(d *Data, now time.Time) []DataNodeState {
	h.mu.Lock()
	defer h.mu.Unlock()
	known := make(map[uint64]bool, len(d.DataNodes))
	out := make([]DataNodeState, 0, len(d.DataNodes))
	settled := !h.leaderSince.IsZero() && now.Sub(h.leaderSince) >= h.timeout
	for _, n := range d.DataNodes {
		known[n.ID] = true
		st := DataNodeState{ID: n.ID, State: DataNodeDown, Shards: -1}
		rec, ok := h.last[n.ID]
		if ok {
			st.LastHeartbeat, st.HeartbeatAge, st.Shards = rec.at, Duration(now.Sub(rec.at)), rec.shards
		}
		switch {
		case ok && now.Sub(rec.at) <= h.timeout:
			st.State = DataNodeUp
		case !settled:
			st.State = DataNodeUnknown
		}
		out = append(out, st)
	}
	for id := range h.last {
		if !known[id] {
			delete(h.last, id)
		}
	}
	return out
}

// leaderState returns the state this node holds as the leader, once it
// has applied everything committed before its term (see termApplied),
// after telling the heartbeat table the term it leads in. With wait
// false it does not wait for that and answers ErrNoLeader instead.
func (s *Server) leaderState(now time.Time, wait bool) (*Data, error) {
	r := s.raft.Load()
	if r == nil || r.State() != raft.Leader {
		leader, err := s.leaderHTTPAddr()
		if err != nil {
			return nil, err
		}
		return nil, &NotLeaderError{Leader: leader}
	}
	if !wait && s.readyTerm.Load() != r.CurrentTerm() {
		return nil, ErrNoLeader
	}
	if err := s.termApplied(r); err != nil {
		return nil, err
	}
	s.heartbeats.leading(r.CurrentTerm(), now)
	return s.fsm.Data(), nil
}

// DataNodeStates is the leader's view of the data nodes (a
// *NotLeaderError on other nodes: only the leader hears heartbeats).
func (s *Server) DataNodeStates() ([]DataNodeState, error) {
	now := time.Now()
	d, err := s.leaderState(now, true)
	if err != nil {
		return nil, err
	}
	return s.heartbeats.states(d, now), nil
}

// dataNodesIn counts the data nodes in state as this node sees them: 0
// when it is not a leader ready to answer.
func (s *Server) dataNodesIn(state string) int {
	now := time.Now()
	d, err := s.leaderState(now, false)
	if err != nil {
		return 0
	}
	n := 0
	for _, st := range s.heartbeats.states(d, now) {
		if st.State == state {
			n++
		}
	}
	return n
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb DataNodeHeartbeat
	body, ok := s.decodeBody(w, r, &hb)
	if !ok {
		return
	}
	if s.toLeader(w, r, body) {
		return
	}
	now := time.Now()
	d, err := s.leaderState(now, true)
	if err != nil {
		writeError(w, fmt.Errorf("heartbeat: %w", err))
		return
	}
	if d.DataNode(hb.NodeID) == nil {
		writeError(w, fmt.Errorf("heartbeat from data node %d: %w", hb.NodeID, ErrDataNodeNotFound))
		return
	}
	s.heartbeats.record(hb, now)
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) handleDataNodeStates(w http.ResponseWriter, r *http.Request) {
	if s.toLeader(w, r, nil) {
		return
	}
	states, err := s.DataNodeStates()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, states)
}

// Heartbeat tells the meta leader that data node hb.NodeID is alive.
func (c *Client) Heartbeat(ctx context.Context, hb DataNodeHeartbeat) error {
	body, err := json.Marshal(hb)
	if err != nil {
		return fmt.Errorf("encode heartbeat: %w", err)
	}
	_, err = c.call(ctx, http.MethodPost, "/heartbeat", nil, body, nil)
	return err
}

// DataNodeStates asks the meta leader for its view of every data node.
func (c *Client) DataNodeStates(ctx context.Context) ([]DataNodeState, error) {
	var out []DataNodeState
	if _, err := c.call(ctx, http.MethodGet, "/data-nodes/state", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("data node states: %w", err)
	}
	return out, nil
}
