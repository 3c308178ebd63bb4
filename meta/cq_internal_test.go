package meta

import (
	"errors"
	"testing"
	"time"
)

func TestContinuousQueryCommands(t *testing.T) {
	tf := newTestFSM(t)
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db"})
	q := "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) INTO db.autogen.m FROM db.autogen.cpu GROUP BY time(10s) END"
	tf.mustOK(CmdCreateContinuousQuery, CreateContinuousQueryPayload{Database: "db", Name: "cq", Query: q})
	// Same query again (any case): no-op; another query: exists.
	tf.mustOK(CmdCreateContinuousQuery, CreateContinuousQueryPayload{Database: "db", Name: "cq", Query: "create" + q[6:]})
	if r := tf.apply(CmdCreateContinuousQuery, "", CreateContinuousQueryPayload{Database: "db", Name: "cq", Query: q + " "}); !errors.Is(r.Err(), ErrContinuousQueryExists) {
		t.Errorf("create with another query: got %v, want ErrContinuousQueryExists", r.Err())
	}
	if r := tf.apply(CmdCreateContinuousQuery, "", CreateContinuousQueryPayload{Database: "nope", Name: "cq", Query: q}); !errors.Is(r.Err(), ErrDatabaseNotFound) {
		t.Errorf("create on a missing database: got %v, want ErrDatabaseNotFound", r.Err())
	}
	cq := tf.f.Data().ContinuousQuery("db", "cq")
	if cq == nil || cq.Query != q || !cq.CreatedAt.Equal(tf.now) {
		t.Fatalf("stored query: got %+v; want %q created at %v", cq, q, tf.now)
	}

	run := tf.now.Add(10 * time.Second)
	tf.mustOK(CmdRecordContinuousQueryRun, RecordContinuousQueryRunPayload{Database: "db", Name: "cq", RunTime: run, Node: 2})
	tf.mustOK(CmdRecordContinuousQueryRun, RecordContinuousQueryRunPayload{Database: "db", Name: "cq", RunTime: tf.now, Node: 3})
	if cq := tf.f.Data().ContinuousQuery("db", "cq"); !cq.LastRun.Equal(run) || cq.LastRunNode != 2 {
		t.Errorf("last run after an older record: got %v on %d; want %v on 2 (it never moves back)", cq.LastRun, cq.LastRunNode, run)
	}

	tf.mustOK(CmdDropContinuousQuery, DropContinuousQueryPayload{Database: "db", Name: "cq"})
	tf.mustOK(CmdDropContinuousQuery, DropContinuousQueryPayload{Database: "db", Name: "cq"})
	if tf.f.Data().ContinuousQuery("db", "cq") != nil {
		t.Error("query still stored after drop")
	}
	if r := tf.apply(CmdRecordContinuousQueryRun, "", RecordContinuousQueryRunPayload{Database: "db", Name: "cq", RunTime: run, Node: 2}); !errors.Is(r.Err(), ErrContinuousQueryNotFound) {
		t.Errorf("record for a dropped query: got %v, want ErrContinuousQueryNotFound", r.Err())
	}
}

func TestCQLease(t *testing.T) {
	tf := newTestFSM(t)
	tf.mustOK(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "a:1", RPCAddr: "a:2"})
	tf.mustOK(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: "b:1", RPCAddr: "b:2"})
	lease := func(node uint64) CQLease {
		t.Helper()
		r := tf.mustOK(CmdAcquireCQLease, AcquireCQLeasePayload{Node: node, Duration: 10 * time.Second})
		return *r.Lease
	}
	if l := lease(1); l.Node != 1 || !l.Until.Equal(tf.now.Add(10*time.Second)) {
		t.Fatalf("first acquire: got %+v; want node 1 for 10 s", l)
	}
	tf.now = tf.now.Add(5 * time.Second)
	if l := lease(2); l.Node != 1 {
		t.Errorf("acquire while node 1 holds it: got %+v; want node 1's lease back", l)
	}
	if l := lease(1); !l.Until.Equal(tf.now.Add(10 * time.Second)) {
		t.Errorf("renewal: got until %v; want %v", l.Until, tf.now.Add(10*time.Second))
	}
	tf.now = tf.now.Add(10 * time.Second)
	if l := lease(2); l.Node != 2 {
		t.Errorf("acquire after the lease ended: got %+v; want node 2", l)
	}
	tf.mustOK(CmdDeleteDataNode, DeleteDataNodePayload{ID: 2})
	if l := lease(1); l.Node != 1 {
		t.Errorf("acquire while the holder is removed: got %+v; want node 1", l)
	}
	if r := tf.apply(CmdAcquireCQLease, "", AcquireCQLeasePayload{Node: 9, Duration: time.Second}); !errors.Is(r.Err(), ErrDataNodeNotFound) {
		t.Errorf("acquire by an unknown node: got %v, want ErrDataNodeNotFound", r.Err())
	}
}
