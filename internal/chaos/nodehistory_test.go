package chaos

import (
	"flag"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/strata-db/strata/meta/metatest"
)

var (
	nodeSeedFlag     = flag.Uint64("chaos.node-seed", 0, "seed of TestMetaNodeChanges' clients and faults; 0 picks one from the clock (it is printed)")
	nodeDurationFlag = flag.Duration("chaos.node-duration", 15*time.Second, "how long TestMetaNodeChanges injects meta leader faults")
)

// TestNodeModel checks the node set model accepts a linearizable history
// and rejects a read missing an acknowledged register, a reused id, an
// address given twice, and a read of a removed node.
func TestNodeModel(t *testing.T) {
	op := func(client int, in nodeInput, out nodeOutput, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
	}
	h0, h1 := nodeHTTPAddrs[0], nodeHTTPAddrs[1]
	reg := func(slot int, http string) nodeInput { return nodeInput{Op: opRegister, Slot: slot, HTTP: http} }
	read := nodeInput{Op: opNodes}
	view := func(slots ...nodeSlot) nodeOutput {
		var out nodeOutput
		copy(out.Slots[:], slots)
		return out
	}
	ok := []porcupine.Operation{
		op(0, reg(0, h0), nodeOutput{ID: 1}, 0, 10),
		op(1, reg(1, h0), nodeOutput{Refused: refusedExists}, 11, 20),
		op(1, reg(1, h1), nodeOutput{Unknown: true}, 21, 1<<62), // may apply any time after 21
		op(0, read, view(nodeSlot{1, h0}), 30, 40),
		op(0, read, view(nodeSlot{1, h0}, nodeSlot{2, h1}), 50, 60),
		op(1, nodeInput{Op: opUpdate, Slot: 2, ID: 2, HTTP: h1}, nodeOutput{}, 70, 80), // moves to slot 2
		op(0, nodeInput{Op: opRemove, ID: 1}, nodeOutput{}, 90, 100),
		op(0, nodeInput{Op: opRemove, ID: 1}, nodeOutput{Refused: refusedNotFound}, 110, 120),
		op(0, reg(0, h0), nodeOutput{ID: 3}, 130, 140), // ids are not reused
		op(1, read, view(nodeSlot{3, h0}, nodeSlot{}, nodeSlot{2, h1}), 150, 160),
	}
	if !porcupine.CheckOperations(nodeModel, ok) {
		t.Fatal("a linearizable history was rejected")
	}
	bad := map[string][]porcupine.Operation{
		"a read missing an acknowledged register": {
			op(0, reg(0, h0), nodeOutput{ID: 1}, 0, 10),
			op(1, read, view(), 20, 30),
		},
		"an id given twice": {
			op(0, reg(0, h0), nodeOutput{ID: 1}, 0, 10),
			op(0, nodeInput{Op: opRemove, ID: 1}, nodeOutput{}, 20, 30),
			op(1, reg(1, h1), nodeOutput{ID: 1}, 40, 50),
		},
		"an HTTP address given to two nodes": {
			op(0, reg(0, h0), nodeOutput{ID: 1}, 0, 10),
			op(1, reg(1, h0), nodeOutput{ID: 2}, 20, 30),
		},
		"a read of a removed node": {
			op(0, reg(0, h0), nodeOutput{ID: 1}, 0, 10),
			op(1, nodeInput{Op: opRemove, ID: 1}, nodeOutput{}, 20, 30),
			op(0, read, view(nodeSlot{1, h0}), 40, 50),
		},
		"a foreign node": {
			op(0, read, nodeOutput{Foreign: true}, 0, 10),
		},
	}
	for name, history := range bad {
		if porcupine.CheckOperations(nodeModel, history) {
			t.Errorf("%s was accepted", name)
		}
	}
}

// TestMetaNodeChanges checks data node registration, address updates,
// removal and linearizable reads of the node set stay linearizable while
// the meta leader is killed and restarted or cut off, from a printed seed
// (-chaos.node-seed replays the fault schedule and the clients' choices;
// timing still varies). It runs its own in-process 3-node meta cluster.
func TestMetaNodeChanges(t *testing.T) {
	seed := *nodeSeedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -chaos.node-seed %d)", seed, seed)
	c := metatest.New(t, 3)
	hist := &metaHistory{start: time.Now()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const clients = 4
	for i := range clients {
		wg.Add(1)
		go hist.nodeClient(i, c.HTTPAddrs(), rand.New(rand.NewPCG(seed, uint64(i)+1)), stop, &wg)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	faults := map[string]int{}
	deadline := time.Now().Add(*nodeDurationFlag)
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		leader := c.WaitLeader()
		down := time.Duration(200+rng.IntN(1500)) * time.Millisecond
		if rng.IntN(2) == 0 {
			faults["kill"]++
			c.Kill(leader)
			time.Sleep(down)
			c.Restart(leader)
		} else {
			faults["cut"]++
			c.Partition(leader)
			time.Sleep(down)
			c.Heal(leader)
		}
	}
	c.WaitLeader()
	time.Sleep(500 * time.Millisecond) // a few operations on the healed cluster
	close(stop)
	wg.Wait()

	res, n := hist.check(nodeModel, time.Minute)
	counts := map[string]int{}
	unknown := 0
	for _, op := range hist.ops {
		in, out := op.Input.(nodeInput), op.Output.(nodeOutput)
		counts[in.Op+"/"+out.Refused]++
		if out.Unknown {
			unknown++
		}
	}
	t.Logf("faults %v; %d operations (%d unknown): %v; porcupine: %s", faults, n, unknown, counts, res)
	if res != porcupine.Ok {
		t.Fatalf("seed %d: node history of %d operations is %s", seed, n, res)
	}
	if counts[opRegister+"/"] == 0 || counts[opNodes+"/"] == 0 || counts[opUpdate+"/"] == 0 || counts[opRemove+"/"] == 0 {
		t.Fatalf("seed %d: some operation never succeeded (%v): the history proves little", seed, counts)
	}
}
