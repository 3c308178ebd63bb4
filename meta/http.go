package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTP API constants.
const (
	// HeaderRedirect, set to "1" (or query redirect=true), asks a follower
	// to answer 307 with the leader's address instead of forwarding.
	HeaderRedirect = "X-Strata-Redirect"
	// headerForwarded marks a request one node forwarded to the leader; a
	// non-leader receiving it answers 503 instead of forwarding again.
	headerForwarded = "X-Strata-Forwarded"
	// maxBodyBytes bounds request bodies.
	maxBodyBytes = 1 << 20
	// forwardDialTimeout bounds connecting to the leader when forwarding.
	forwardDialTimeout = 2 * time.Second
)

// DataResponse is the body of GET /data.
type DataResponse struct {
	Index uint64 `json:"index"`
	Data  *Data  `json:"data"`
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error  string `json:"error"`
	Code   string `json:"code"`
	Leader string `json:"leader,omitempty"`
}

// Status is the body of GET /status.
type Status struct {
	ID           string       `json:"id"`
	RaftAddr     string       `json:"raft_addr"`
	HTTPAddr     string       `json:"http_addr"`
	State        string       `json:"state"`
	Term         uint64       `json:"term"`
	AppliedIndex uint64       `json:"applied_index"`
	CommitIndex  uint64       `json:"commit_index"`
	LastIndex    uint64       `json:"last_index"`
	DataIndex    uint64       `json:"data_index"`
	LastContact  time.Time    `json:"last_contact,omitzero"`
	Leader       MetaNodeInfo `json:"leader"`
	Peers        []PeerStatus `json:"peers"`
	DataNodes    int          `json:"data_nodes"`
	Databases    int          `json:"databases"`
}

// PeerStatus is one voter or non-voter of the raft configuration.
type PeerStatus struct {
	MetaNodeInfo
	Voter bool `json:"voter"`
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /data", s.handleData)
	mux.HandleFunc("POST /execute", s.handleExecute)
	mux.HandleFunc("POST /join", s.handleJoin)
	mux.HandleFunc("POST /leave", s.handleLeave)
	mux.HandleFunc("GET /status", s.handleStatus)
	mux.HandleFunc("POST /heartbeat", s.handleHeartbeat)
	mux.HandleFunc("GET /data-nodes/state", s.handleDataNodeStates)
	mux.HandleFunc("GET /ping", s.handlePing)
	mux.HandleFunc("HEAD /ping", s.handlePing)
	mux.HandleFunc("GET /health", s.handleHealth)
	if s.gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// publicPath reports whether r needs no proof of the internal shared
// secret: liveness and metrics, which reveal no cluster state.
func publicPath(r *http.Request) bool {
	switch r.URL.Path {
	case "/ping", "/health", "/metrics":
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err with its status and {"error","code"} body.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	body := errorBody{Error: err.Error(), Code: ErrorCode(err)}
	var nl *NotLeaderError
	switch {
	case errors.As(err, &nl):
		status = http.StatusServiceUnavailable
		body.Leader = nl.Leader
	case errors.Is(err, ErrRequestTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrNoLeader), errors.Is(err, ErrClosed), errors.Is(err, ErrTimeout):
		status = http.StatusServiceUnavailable
	case body.Code != "internal":
		status = http.StatusBadRequest
	}
	writeJSON(w, status, body)
}

func wantsRedirect(r *http.Request) bool {
	return r.Header.Get(HeaderRedirect) == "1" || r.URL.Query().Get("redirect") == "true"
}

// toLeader handles a request this node cannot answer because it is not the
// leader: 307 to the leader when asked, 503 when the request was already
// forwarded once, else a transparent proxy. It reports whether it answered.
func (s *Server) toLeader(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if s.IsLeader() {
		return false
	}
	leader, err := s.leaderHTTPAddr()
	if err != nil {
		writeError(w, err)
		return true
	}
	if leader == s.httpAddr { // leadership changed under us; answer locally
		return false
	}
	if r.Header.Get(headerForwarded) != "" {
		writeError(w, &NotLeaderError{Leader: leader})
		return true
	}
	if wantsRedirect(r) {
		w.Header().Set("Location", "http://"+leader+r.URL.RequestURI())
		writeJSON(w, http.StatusTemporaryRedirect, errorBody{Error: (&NotLeaderError{Leader: leader}).Error(), Code: ErrorCode(ErrNotLeader), Leader: leader})
		return true
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+leader+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		writeError(w, fmt.Errorf("forward to leader: %w", err))
		return true
	}
	req.Header.Set(headerForwarded, s.id)
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	resp, err := s.fwd.Do(req)
	if err != nil {
		writeError(w, fmt.Errorf("forward to leader %s: %w: %w", leader, ErrNoLeader, err))
		return true
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("request body over %d bytes: %w", maxBodyBytes, ErrRequestTooLarge)
	}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w: %w", ErrInvalidCommand, err)
	}
	return b, nil
}

func (s *Server) handleExecute(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := DecodeCommand(body)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.toLeader(w, r, body) {
		return
	}
	res, err := s.Execute(r.Context(), c)
	if err != nil {
		writeError(w, err)
		return
	}
	if res.Error != "" {
		writeJSON(w, http.StatusBadRequest, res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleData(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rc, err := parseConsistency(q.Get("consistency"))
	if err != nil {
		writeError(w, err)
		return
	}
	var index uint64
	if v := q.Get("index"); v != "" {
		if index, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, fmt.Errorf("index %q: %w", v, ErrInvalidCommand))
			return
		}
	}
	wait := s.cfg.LongPollTimeout.D()
	if v := q.Get("timeout"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			writeError(w, fmt.Errorf("timeout %q: %w", v, ErrInvalidCommand))
			return
		}
		wait = min(wait, s.cfg.MaxLongPollTimeout.D())
	}
	if rc != ReadStale && s.toLeader(w, r, nil) {
		return
	}
	d, err := s.ReadData(r.Context(), rc, index, wait)
	if err != nil {
		if r.Context().Err() != nil {
			return // client went away
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, DataResponse{Index: d.Index, Data: d})
}

func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) ([]byte, bool) {
	body, err := readBody(w, r)
	if err == nil {
		if err = strictUnmarshal(body, v); err != nil {
			err = fmt.Errorf("decode %s body: %w: %w", r.URL.Path, ErrInvalidCommand, err)
		}
	}
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	return body, true
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	body, ok := s.decodeBody(w, r, &req)
	if !ok {
		return
	}
	if err := (&Data{}).addMetaNode(MetaNodeInfo(req)); err != nil {
		writeError(w, err)
		return
	}
	if s.toLeader(w, r, body) {
		return
	}
	if err := s.join(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) handleLeave(w http.ResponseWriter, r *http.Request) {
	var req LeaveRequest
	body, ok := s.decodeBody(w, r, &req)
	if !ok {
		return
	}
	if req.ID == "" {
		writeError(w, fmt.Errorf("leave: empty id: %w", ErrInvalidCommand))
		return
	}
	if s.toLeader(w, r, body) {
		return
	}
	if err := s.leave(r.Context(), req.ID); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// Status reports this node's raft view.
func (s *Server) Status() *Status {
	d := s.fsm.Data()
	st := &Status{ID: s.id, RaftAddr: s.raftAddr, HTTPAddr: s.httpAddr, State: raft.Shutdown.String(),
		DataIndex: d.Index, DataNodes: len(d.DataNodes), Databases: len(d.Databases)}
	r := s.raft.Load()
	if r == nil {
		return st
	}
	st.State = r.State().String()
	st.Term = r.CurrentTerm()
	st.AppliedIndex = r.AppliedIndex()
	st.CommitIndex = r.CommitIndex()
	st.LastIndex = r.LastIndex()
	st.LastContact = r.LastContact()
	addr, id := r.LeaderWithID()
	st.Leader = MetaNodeInfo{ID: string(id), RaftAddr: string(addr)}
	if m := d.MetaNode(string(id)); id != "" && m != nil {
		st.Leader.HTTPAddr = m.HTTPAddr
	}
	if f := r.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			p := PeerStatus{MetaNodeInfo: MetaNodeInfo{ID: string(srv.ID), RaftAddr: string(srv.Address)}, Voter: srv.Suffrage == raft.Voter}
			if m := d.MetaNode(string(srv.ID)); m != nil {
				p.HTTPAddr = m.HTTPAddr
			}
			st.Peers = append(st.Peers, p)
		}
	}
	return st
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Status())
}

func (s *Server) handlePing(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	leader, err := s.leaderHTTPAddr()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no leader", "state": s.raftState().String()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "state": s.raftState().String(), "leader": leader})
}

// decodeAPIError turns an error answer into an *APIError.
func decodeAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	var body errorBody
	if err := json.Unmarshal(b, &body); err != nil || body.Error == "" {
		return &APIError{StatusCode: resp.StatusCode, Code: "internal", Message: fmt.Sprintf("unexpected answer %q", truncate(b, 200))}
	}
	return &APIError{StatusCode: resp.StatusCode, Code: body.Code, Message: body.Error, Leader: body.Leader}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
