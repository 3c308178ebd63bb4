package meta

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestExecute_RefusalWaitsForCommittedState holds a leader's FSM back while
// a remove of data node 1 commits, then registers another node with node
// 1's HTTP address. The leader's pre-raft check sees node 1 still there;
// refusing from that state is what broke linearizability in the chaos test
// (an acknowledged remove lost for a later register). The register must
// wait for the FSM and succeed.
func TestExecute_RefusalWaitsForCommittedState(t *testing.T) {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.HTTPAddr, cfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.HeartbeatTimeout = Duration(300 * time.Millisecond)
	cfg.ElectionTimeout = Duration(300 * time.Millisecond)
	cfg.LeaderLeaseTimeout = Duration(200 * time.Millisecond)
	cfg.CommitTimeout = Duration(5 * time.Millisecond)
	s := NewServer(cfg, nil, nil)
	// gate, when set, holds the FSM after its next command until closed.
	var gate atomic.Pointer[chan struct{}]
	held := make(chan struct{}, 1)
	count := s.fsm.onApply
	s.fsm.onApply = func(typ CommandType, outcome string) {
		count(typ, outcome)
		if g := gate.Swap(nil); g != nil {
			held <- struct{}{}
			<-*g
		}
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := make(chan struct{})
	var freeOnce sync.Once
	free := func() { freeOnce.Do(func() { close(release) }) }
	defer free() // before Close, which waits for the FSM
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		res *Result
		err error
	}
	execute := func(typ CommandType, payload any) <-chan answer {
		ch := make(chan answer, 1)
		cmd, err := NewCommand(typ, "", payload)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			res, err := s.Execute(ctx, cmd)
			ch <- answer{res, err}
		}()
		return ch
	}
	if a := <-execute(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "a:1", RPCAddr: "a:2"}); a.err != nil || a.res.Err() != nil {
		t.Fatalf("register node 1: %+v", a)
	}

	gate.Store(&release)
	r := s.raft.Load()
	first := r.LastIndex() + 1
	held1 := execute(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	<-held // the FSM has applied "db" and holds
	removed := execute(CmdDeleteDataNode, DeleteDataNodePayload{ID: 1})
	for r.CommitIndex() < first+1 { // the remove is committed, not applied
		select {
		case <-ctx.Done():
			t.Fatal("remove of node 1 not committed")
		case <-time.After(time.Millisecond):
		}
	}
	register := execute(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "a:1", RPCAddr: "b:2"})
	select {
	case a := <-register:
		t.Fatalf("register answered (%v, %+v) while the FSM lacked the committed remove", a.err, a.res)
	case <-time.After(300 * time.Millisecond):
	}
	free()
	for _, ch := range []<-chan answer{held1, removed, register} {
		if a := <-ch; a.err != nil || a.res.Err() != nil {
			t.Fatalf("after the FSM caught up: %v, result %+v", a.err, a.res)
		}
	}
}
