package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/strata-db/strata/meta"
)

// The meta clients run DDL on a few databases of their own. Each database
// is a register: absent, or present with the duration of its default
// policy. CREATE with a duration succeeds when the database is absent or
// has that duration and is refused with a conflict otherwise, so a create
// tells what it saw; DROP always succeeds; a linearizable read
// (consistency=consistent) returns the register.

// metaKeys are the databases the meta clients work on.
var metaKeys = []string{"chaos_ddl_0", "chaos_ddl_1", "chaos_ddl_2"}

// metaDurations are the retention durations creates use.
var metaDurations = []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour}

// metaOp kinds.
const (
	opCreate = "create"
	opDrop   = "drop"
	opRead   = "read"
)

// metaInput is one operation's invocation.
type metaInput struct {
	Op  string
	Key string
	Dur time.Duration // create: the policy duration
}

// metaOutput is one operation's answer.
type metaOutput struct {
	// Unknown: the client got no definite answer (the command may or may
	// not have applied).
	Unknown bool
	// Conflict: a create was refused because the database had another
	// duration.
	Conflict bool
	// Dur is a read's answer: 0 for absent.
	Dur time.Duration
}

// metaModel is the sequential specification of one key.
var metaModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(metaInput).Key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return time.Duration(0) },
	Step: func(state, input, output any) (bool, any) {
		cur, in, out := state.(time.Duration), input.(metaInput), output.(metaOutput)
		switch in.Op {
		case opCreate:
			applied := cur
			if cur == 0 {
				applied = in.Dur
			}
			if out.Unknown {
				return true, applied
			}
			if out.Conflict {
				return cur != 0 && cur != in.Dur, cur
			}
			return cur == 0 || cur == in.Dur, applied
		case opDrop:
			return true, time.Duration(0)
		case opRead:
			return out.Dur == cur, cur
		}
		return false, cur
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(metaInput), output.(metaOutput)
		return fmt.Sprintf("%s(%s,%v) -> %+v", in.Op, in.Key, in.Dur, out)
	},
}

// metaHistory records the meta clients' operations (of any model).
type metaHistory struct {
	start time.Time
	mu    sync.Mutex // protects ops
	ops   []porcupine.Operation
}

// add records one operation; unknown says the client got no definite
// answer, so the operation may take effect at any time from its call on.
func (h *metaHistory) add(client int, in, out any, unknown bool, call, ret time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := ret.Sub(h.start).Nanoseconds()
	if unknown {
		r = math.MaxInt64 // it may take effect at any time from its call on
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out,
		Call: call.Sub(h.start).Nanoseconds(), Return: r})
}

// runMetaClient performs random DDL and reads until stop closes.
func (h *metaHistory) runMetaClient(id int, addrs []string, rng *rand.Rand, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	mc := meta.NewClient(meta.ClientConfig{Addrs: addrs, Timeout: 5 * time.Second, RetryInterval: 100 * time.Millisecond})
	defer mc.Close()
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(50+rng.IntN(200)) * time.Millisecond):
		}
		in := metaInput{Key: metaKeys[rng.IntN(len(metaKeys))]}
		switch rng.IntN(3) {
		case 0:
			in.Op, in.Dur = opCreate, metaDurations[rng.IntN(len(metaDurations))]
		case 1:
			in.Op = opDrop
		default:
			in.Op = opRead
		}
		call := time.Now()
		var out metaOutput
		var err error
		switch in.Op {
		case opCreate:
			_, err = execute(mc, meta.CmdCreateDatabase, meta.CreateDatabasePayload{Name: in.Key, RetentionPolicy: &meta.RetentionPolicySpec{Duration: in.Dur}}, meta.ErrRetentionPolicyConflict)
			if errors.Is(err, meta.ErrRetentionPolicyConflict) {
				out.Conflict, err = true, nil
			}
		case opDrop:
			_, err = execute(mc, meta.CmdDropDatabase, meta.DropDatabasePayload{Name: in.Key})
		case opRead:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var d *meta.Data
			if d, _, err = mc.ReadData(ctx, meta.ReadConsistent); err == nil {
				if di := d.Database(in.Key); di != nil {
					if rp := di.RetentionPolicy(di.DefaultRetentionPolicy); rp != nil {
						out.Dur = rp.Duration
					}
				}
			}
			cancel()
		}
		ret := time.Now()
		if err != nil {
			if in.Op == opRead {
				continue // a failed read changed nothing and tells nothing
			}
			out = metaOutput{Unknown: true}
		}
		h.add(id, in, out, out.Unknown, call, ret)
	}
}

// execute sends one command, retrying it (same request id, so it applies
// at most once) until it succeeds, is refused with one of the definite
// errors, or 30 s pass: an outcome left unknown would be concurrent with
// every later operation and make the history costly to check.
func execute(mc *meta.Client, typ meta.CommandType, payload any, definite ...error) (*meta.Result, error) {
	cmd, err := meta.NewCommand(typ, "", payload)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := mc.Execute(ctx, cmd)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return res, err
		}
		for _, d := range definite {
			if errors.Is(err, d) {
				return nil, err
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check runs porcupine with model over the history.
func (h *metaHistory) check(model porcupine.Model, timeout time.Duration) (porcupine.CheckResult, int) {
	h.mu.Lock()
	ops := append([]porcupine.Operation(nil), h.ops...)
	h.mu.Unlock()
	return porcupine.CheckOperationsTimeout(model, ops, timeout), len(ops)
}
