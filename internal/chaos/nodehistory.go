package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/strata-db/strata/meta"
)

// The node clients register, re-address and remove data nodes of a meta
// cluster of their own (never the campaign's, whose shard placement fake
// nodes would disturb). A data node is known by its RPC address, one per
// slot; its HTTP address comes from a pool shared by every slot, so two
// nodes can ask for the same one and one is refused. The whole node set is
// one register: ids are assigned cluster-wide, so it cannot be split.

// nodeRPCAddrs are the slots' RPC addresses (a node's identity).
var nodeRPCAddrs = [3]string{"10.9.0.1:8088", "10.9.0.2:8088", "10.9.0.3:8088"}

// nodeHTTPAddrs is the HTTP address pool, one larger than the slots.
var nodeHTTPAddrs = []string{"10.9.1.1:8086", "10.9.1.2:8086", "10.9.1.3:8086", "10.9.1.4:8086"}

// Node operation kinds.
const (
	opRegister = "register"
	opUpdate   = "update"
	opRemove   = "remove"
	opNodes    = "nodes"
)

// Refusals a node operation's answer may carry.
const (
	refusedExists   = "exists"
	refusedNotFound = "not_found"
)

// nodeSlot is one slot's node: ID 0 means none.
type nodeSlot struct {
	ID   uint64
	HTTP string
}

// nodeState is the node set: each slot's node and the largest id ever
// assigned (ids are never reused).
type nodeState struct {
	MaxID uint64
	Slots [len(nodeRPCAddrs)]nodeSlot
}

// nodeInput is one node operation's invocation.
type nodeInput struct {
	Op   string
	Slot int    // register, update: whose RPC address the node gets
	ID   uint64 // update, remove
	HTTP string // register, update
}

// nodeOutput is one node operation's answer.
type nodeOutput struct {
	// Unknown: no definite answer (the command may or may not have applied).
	Unknown bool
	// Refused is refusedExists, refusedNotFound or "" for success.
	Refused string
	// ID is the id a register answered.
	ID uint64
	// Slots is a read's answer.
	Slots [len(nodeRPCAddrs)]nodeSlot
	// Foreign: a read listed a node at no slot's RPC address, or two at one.
	Foreign bool
}

// httpTaken reports whether a node other than the one at slot uses http.
func (s nodeState) httpTaken(slot int, http string) bool {
	for i, n := range s.Slots {
		if i != slot && n.ID != 0 && n.HTTP == http {
			return true
		}
	}
	return false
}

// slotOf returns the slot of the node with id, or -1.
func (s nodeState) slotOf(id uint64) int {
	for i, n := range s.Slots {
		if id != 0 && n.ID == id {
			return i
		}
	}
	return -1
}

// apply is the sequential specification: the state after in and the
// answer a correct meta cluster gives (ID set for a register).
func (s nodeState) apply(in nodeInput) (nodeState, nodeOutput) {
	switch in.Op {
	case opRegister:
		if s.httpTaken(in.Slot, in.HTTP) {
			return s, nodeOutput{Refused: refusedExists}
		}
		if s.Slots[in.Slot].ID == 0 {
			s.MaxID++
			s.Slots[in.Slot].ID = s.MaxID
		}
		s.Slots[in.Slot].HTTP = in.HTTP
		return s, nodeOutput{ID: s.Slots[in.Slot].ID}
	case opUpdate:
		i := s.slotOf(in.ID)
		switch {
		case i < 0:
			return s, nodeOutput{Refused: refusedNotFound}
		case s.httpTaken(i, in.HTTP), in.Slot != i && s.Slots[in.Slot].ID != 0:
			return s, nodeOutput{Refused: refusedExists}
		}
		// The node takes the slot's RPC address: it moves there if it was
		// at another.
		s.Slots[i] = nodeSlot{}
		s.Slots[in.Slot] = nodeSlot{ID: in.ID, HTTP: in.HTTP}
		return s, nodeOutput{}
	case opRemove:
		i := s.slotOf(in.ID)
		if i < 0 {
			return s, nodeOutput{Refused: refusedNotFound}
		}
		s.Slots[i] = nodeSlot{}
		return s, nodeOutput{}
	}
	return s, nodeOutput{Slots: s.Slots}
}

// nodeModel is the sequential specification of the data node set.
var nodeModel = porcupine.Model{
	Init: func() any { return nodeState{} },
	Step: func(state, input, output any) (bool, any) {
		next, want := state.(nodeState).apply(input.(nodeInput))
		out := output.(nodeOutput)
		if out.Unknown {
			return true, next
		}
		return !out.Foreign && out == want, next
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(nodeInput), output.(nodeOutput)
		if in.Op == opNodes {
			return fmt.Sprintf("nodes() -> %+v", out)
		}
		return fmt.Sprintf("%s(slot %d, id %d, %s) -> %+v", in.Op, in.Slot, in.ID, in.HTTP, out)
	},
}

// nodeClient performs random node operations on the meta cluster at
// addrs until stop closes, recording them in h. Update and remove use the
// id the client last saw at a slot, or a guess (possibly stale or wrong:
// the answer is checked either way).
func (h *metaHistory) nodeClient(id int, addrs []string, rng *rand.Rand, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	mc := meta.NewClient(meta.ClientConfig{Addrs: addrs, Timeout: 5 * time.Second, RetryInterval: 100 * time.Millisecond})
	defer mc.Close()
	var seen [len(nodeRPCAddrs)]uint64
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(20+rng.IntN(100)) * time.Millisecond):
		}
		in := nodeInput{Slot: rng.IntN(len(nodeRPCAddrs)), HTTP: nodeHTTPAddrs[rng.IntN(len(nodeHTTPAddrs))]}
		in.ID = seen[in.Slot]
		if in.ID == 0 {
			in.ID = uint64(1 + rng.IntN(4))
		}
		switch rng.IntN(4) {
		case 0:
			in.Op, in.ID = opRegister, 0
		case 1:
			in.Op = opUpdate
		case 2:
			in.Op, in.Slot, in.HTTP = opRemove, 0, ""
		default:
			in = nodeInput{Op: opNodes}
		}
		call := time.Now()
		out, err := doNodeOp(mc, in)
		ret := time.Now()
		if err != nil {
			if in.Op == opNodes {
				continue // a failed read changed nothing and tells nothing
			}
			out = nodeOutput{Unknown: true}
		}
		switch {
		case in.Op == opRegister && out.Refused == "" && !out.Unknown:
			seen[in.Slot] = out.ID
		case in.Op == opNodes:
			for i, n := range out.Slots {
				seen[i] = n.ID
			}
		}
		h.add(id, in, out, out.Unknown, call, ret)
	}
}

// doNodeOp runs one node operation; an error means no definite answer.
func doNodeOp(mc *meta.Client, in nodeInput) (nodeOutput, error) {
	var out nodeOutput
	var res *meta.Result
	var err error
	switch in.Op {
	case opRegister:
		res, err = execute(mc, meta.CmdCreateDataNode, meta.CreateDataNodePayload{HTTPAddr: in.HTTP, RPCAddr: nodeRPCAddrs[in.Slot]}, meta.ErrDataNodeExists)
		if err == nil {
			if res.DataNode == nil {
				return out, errors.New("register answered no node")
			}
			out.ID = res.DataNode.ID
		}
	case opUpdate:
		_, err = execute(mc, meta.CmdUpdateDataNode, meta.UpdateDataNodePayload{ID: in.ID, HTTPAddr: in.HTTP, RPCAddr: nodeRPCAddrs[in.Slot]}, meta.ErrDataNodeExists, meta.ErrDataNodeNotFound)
	case opRemove:
		_, err = execute(mc, meta.CmdDeleteDataNode, meta.DeleteDataNodePayload{ID: in.ID}, meta.ErrDataNodeNotFound)
	case opNodes:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d, _, err := mc.ReadData(ctx, meta.ReadConsistent)
		if err != nil {
			return out, err
		}
		for _, n := range d.DataNodes {
			i := slices.Index(nodeRPCAddrs[:], n.RPCAddr)
			if i < 0 || out.Slots[i].ID != 0 {
				out.Foreign = true
				continue
			}
			out.Slots[i] = nodeSlot{ID: n.ID, HTTP: n.HTTPAddr}
		}
		return out, nil
	}
	switch {
	case errors.Is(err, meta.ErrDataNodeExists):
		out.Refused, err = refusedExists, nil
	case errors.Is(err, meta.ErrDataNodeNotFound):
		out.Refused, err = refusedNotFound, nil
	}
	return out, err
}
