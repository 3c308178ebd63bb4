package meta

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// DefaultRecentRequests is how many request ids the FSM remembers for
// deduplication. A client retry is seconds old, so a thousand commands of
// history is plenty while keeping snapshots small.
const DefaultRecentRequests = 1000

// recentResult is one remembered request id and its first result.
type recentResult struct {
	ID     string `json:"id"`
	Result Result `json:"result"`
}

// fsmSnapshotState is what a snapshot holds (JSON, see docs/api.md).
type fsmSnapshotState struct {
	Version int            `json:"version"`
	Data    *Data          `json:"data"`
	Recent  []recentResult `json:"recent"`
}

// fsm implements raft.FSM over Data.
//
// Raft calls Apply, Snapshot and Restore from one goroutine; other
// goroutines only read: Data() loads the published pointer, lookup() and
// waitCh() take mu.
type fsm struct {
	data atomic.Pointer[Data]

	// onApply, if set, is called after each command with its type and
	// outcome ("ok", "error", "duplicate"). It must not block.
	onApply func(typ CommandType, outcome string)

	maxRecent int

	mu sync.Mutex // protects recent, recentIdx, changed
	// recent is a ring (oldest first after ordering) of remembered results.
	recent    []recentResult
	recentIdx map[string]int // request id → index in recent
	next      int            // ring position of the next insert
	changed   chan struct{}  // closed and replaced when data changes
}

func newFSM(maxRecent int) *fsm {
	f := &fsm{maxRecent: maxRecent, recentIdx: make(map[string]int), changed: make(chan struct{})}
	f.data.Store(&Data{})
	return f
}

// Data returns the current immutable state.
func (f *fsm) Data() *Data { return f.data.Load() }

// waitCh returns a channel closed at the next state change.
func (f *fsm) waitCh() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// lookup returns the remembered result of a request id.
func (f *fsm) lookup(id string) (Result, bool) {
	if id == "" {
		return Result{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.recentIdx[id]
	if !ok {
		return Result{}, false
	}
	return f.recent[i].Result, true
}

func (f *fsm) remember(id string, r Result) {
	if id == "" || f.maxRecent <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.recent) < f.maxRecent {
		f.recentIdx[id] = len(f.recent)
		f.recent = append(f.recent, recentResult{ID: id, Result: r})
		return
	}
	delete(f.recentIdx, f.recent[f.next].ID)
	f.recent[f.next] = recentResult{ID: id, Result: r}
	f.recentIdx[id] = f.next
	f.next = (f.next + 1) % f.maxRecent
}

// publish swaps in a new state and wakes waiters.
func (f *fsm) publish(d *Data) {
	f.data.Store(d)
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// Apply implements raft.FSM. It returns a *Result. A command that fails
// validation leaves the state untouched and its error is the result; the
// same happens for bytes that do not decode (a newer leader's command
// version), so every node reaches the same decision and none panics.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	c, err := DecodeCommand(l.Data)
	if err != nil {
		f.observe("", "error")
		r := errorResult(err)
		r.Index = l.Index
		return r
	}
	return f.applyCommand(c, l.Index)
}

func (f *fsm) applyCommand(c *Command, index uint64) *Result {
	if prev, ok := f.lookup(c.RequestID); ok {
		f.observe(c.Type, "duplicate")
		return &prev
	}
	next := f.Data().Clone()
	r, err := c.applyTo(next)
	if err != nil {
		r = errorResult(err)
		f.observe(c.Type, "error")
	} else {
		next.Index = index
		f.publish(next)
		f.observe(c.Type, "ok")
	}
	r.Index = index
	f.remember(c.RequestID, *r)
	return r
}

func (f *fsm) observe(typ CommandType, outcome string) {
	if f.onApply != nil {
		f.onApply(typ, outcome)
	}
}

// snapshotVersion is the version of the snapshot JSON layout.
const snapshotVersion = 1

// Snapshot implements raft.FSM: it captures the immutable Data pointer and a
// copy of the remembered results; Persist encodes them later.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	recent := make([]recentResult, 0, len(f.recent))
	// oldest first: the ring from next, then from 0.
	recent = append(recent, f.recent[f.next:]...)
	recent = append(recent, f.recent[:f.next]...)
	f.mu.Unlock()
	return &fsmSnapshot{state: fsmSnapshotState{Version: snapshotVersion, Data: f.Data(), Recent: recent}}, nil
}

// Restore implements raft.FSM, replacing the whole state.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var st fsmSnapshotState
	if err := json.NewDecoder(rc).Decode(&st); err != nil {
		return fmt.Errorf("decode meta snapshot: %w", err)
	}
	if st.Version != snapshotVersion {
		return fmt.Errorf("meta snapshot version %d (want %d): %w", st.Version, snapshotVersion, ErrInvalidCommand)
	}
	if st.Data == nil {
		st.Data = &Data{}
	}
	f.mu.Lock()
	f.recent = nil
	f.recentIdx = make(map[string]int)
	f.next = 0
	f.mu.Unlock()
	for _, r := range st.Recent {
		f.remember(r.ID, r.Result)
	}
	f.publish(st.Data)
	return nil
}

type fsmSnapshot struct {
	state fsmSnapshotState
}

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(&s.state); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write meta snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}

// simulate validates c against the current state without changing it: the
// leader's pre-raft check. It returns the error Apply would return now.
func (f *fsm) simulate(c *Command) error {
	_, err := c.applyTo(f.Data().Clone())
	return err
}

// stateSize returns the JSON size of the current state in bytes.
func (f *fsm) stateSize() int {
	b, err := json.Marshal(f.Data())
	if err != nil {
		return 0
	}
	return len(b)
}
