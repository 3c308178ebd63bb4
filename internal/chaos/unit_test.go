package chaos

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/strata-db/strata/internal/disktest"
	"github.com/strata-db/strata/internal/nodeauth"
)

// TestVerifyFindsLossAndForeignPoints feeds the data checker owners'
// copies with a missing acknowledged point, a changed value and a point
// nobody sent: each is counted; the intact copy passes.
func TestVerifyFindsLossAndForeignPoints(t *testing.T) {
	w := &writer{id: 3, name: "rf2-one", db: "rf2", level: "one", base: 1_000_000_000}
	anyW := &writer{id: 4, name: "rf2-any", db: "rf2", level: "any", base: w.base}
	sent := []writerSnapshot{
		{w, []batch{{first: 0, outcome: Acked}, {first: 10, outcome: Unknown}}, 20},
		{anyW, []batch{{first: 0, outcome: Acked}}, 10},
	}
	full := func() map[pointKey]float64 {
		m := map[pointKey]float64{}
		for seq := range 10 {
			m[pointKey{w.name, w.pointTime(seq)}] = pointValue(w.id, seq)
			m[pointKey{anyW.name, anyW.pointTime(seq)}] = pointValue(anyW.id, seq)
		}
		// Half of the batch of unknown outcome landed: allowed.
		for seq := 10; seq < 15; seq++ {
			m[pointKey{w.name, w.pointTime(seq)}] = pointValue(w.id, seq)
		}
		return m
	}
	span := func(owner uint64, pts map[pointKey]float64) shardCopy {
		return shardCopy{shard: 1, owner: owner, start: 0, end: 1 << 62, points: pts}
	}

	var v dataVerdict
	verify(&v, "rf2", []shardCopy{span(1, full()), span(2, full())}, sent, 0)
	if v.Lost != 0 || v.LostAny != 0 || v.Unsent != 0 || v.Acked != 10 || v.AckedAny != 10 {
		t.Fatalf("intact copies: %+v", v)
	}

	broken := full()
	delete(broken, pointKey{w.name, w.pointTime(3)})                 // lost
	broken[pointKey{w.name, w.pointTime(4)}] = 42                    // another value
	broken[pointKey{w.name, w.pointTime(25)}] = pointValue(w.id, 25) // beyond what was sent
	broken[pointKey{"intruder", w.pointTime(1)}] = 1                 // a series no writer has
	delete(broken, pointKey{anyW.name, anyW.pointTime(0)})           // lost at level any
	v = dataVerdict{}
	verify(&v, "rf2", []shardCopy{span(1, full()), span(2, broken)}, sent, 0)
	// The changed value counts as lost and as unsent.
	if v.Lost != 2 || v.LostAny != 1 || v.Unsent != 3 {
		t.Fatalf("broken copy: lost %d (want 2), lost at any %d (want 1), unsent %d (want 3): %v", v.Lost, v.LostAny, v.Unsent, v.Examples)
	}

	// Two shards in the group: a series lives in one of them. Held by
	// every owner of shard 2 (and nowhere in shard 1) it is whole; missing
	// from one owner of shard 2 it is lost there.
	two := func(pts2b map[pointKey]float64) []shardCopy {
		return []shardCopy{
			{shard: 1, owner: 1, start: 0, end: 1 << 62, points: map[pointKey]float64{}},
			{shard: 1, owner: 2, start: 0, end: 1 << 62, points: map[pointKey]float64{}},
			{shard: 2, owner: 3, start: 0, end: 1 << 62, points: full()},
			{shard: 2, owner: 4, start: 0, end: 1 << 62, points: pts2b},
		}
	}
	v = dataVerdict{}
	verify(&v, "rf2", two(full()), sent, 0)
	if v.Lost != 0 || v.LostAny != 0 || v.Unsent != 0 {
		t.Fatalf("series in the second shard of the group: %+v", v)
	}
	partial := full()
	delete(partial, pointKey{w.name, w.pointTime(7)})
	v = dataVerdict{}
	verify(&v, "rf2", two(partial), sent, 0)
	if v.Lost != 1 {
		t.Fatalf("point missing from one owner of its shard: lost %d, want 1: %v", v.Lost, v.Examples)
	}

	// A point no shard covers is lost too.
	v = dataVerdict{}
	verify(&v, "rf2", []shardCopy{{shard: 1, owner: 1, start: w.pointTime(5), end: 1 << 62, points: full()}}, sent[:1], 0)
	if v.Lost != 5 {
		t.Fatalf("points before every shard: lost %d, want 5", v.Lost)
	}
}

// TestMetaModel checks the DDL register model accepts a linearizable
// history and rejects a stale read and a create that could not succeed.
func TestMetaModel(t *testing.T) {
	op := func(client int, in metaInput, out metaOutput, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
	}
	create := metaInput{Op: opCreate, Key: "k", Dur: time.Hour}
	create2 := metaInput{Op: opCreate, Key: "k", Dur: 2 * time.Hour}
	drop := metaInput{Op: opDrop, Key: "k"}
	read := metaInput{Op: opRead, Key: "k"}
	ok := []porcupine.Operation{
		op(0, create, metaOutput{}, 0, 10),
		op(1, create2, metaOutput{Conflict: true}, 11, 20),
		op(0, read, metaOutput{Dur: time.Hour}, 21, 30),
		op(1, drop, metaOutput{Unknown: true}, 31, 1<<62), // may apply any time after 31
		op(0, read, metaOutput{Dur: time.Hour}, 40, 50),
		op(0, read, metaOutput{}, 60, 70),
		op(0, create2, metaOutput{}, 80, 90),
	}
	if !porcupine.CheckOperations(metaModel, ok) {
		t.Fatal("a linearizable history was rejected")
	}
	stale := []porcupine.Operation{
		op(0, create, metaOutput{}, 0, 10),
		op(1, drop, metaOutput{}, 20, 30),
		op(0, read, metaOutput{Dur: time.Hour}, 40, 50), // reads a dropped database
	}
	if porcupine.CheckOperations(metaModel, stale) {
		t.Fatal("a stale read was accepted")
	}
	conflict := []porcupine.Operation{
		op(0, create, metaOutput{}, 0, 10),
		op(1, create2, metaOutput{}, 20, 30), // succeeded over another duration
	}
	if porcupine.CheckOperations(metaModel, conflict) {
		t.Fatal("a create over a database of another duration was accepted")
	}
}

// TestScheduleReplays checks a seed gives the same schedule every time
// and another seed another one, within the asked duration's bounds, and
// that overlapping faults never share a target.
func TestScheduleReplays(t *testing.T) {
	for seed := range int64(50) { // overlaps with 4 faults a round on 3 nodes
		for _, r := range Schedule(seed, 10*time.Minute, 3, 4) {
			for i, f := range r {
				for _, g := range r[:i] {
					if g.Overlap && f.target() == g.target() {
						t.Fatalf("seed %d: %v may still hold when %v starts on the same target", seed, g, f)
					}
				}
			}
		}
	}
	a, b := Schedule(7, 10*time.Minute, 3, 3), Schedule(7, 10*time.Minute, 3, 3)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("seed 7 gave two schedules")
	}
	if reflect.DeepEqual(a, Schedule(8, 10*time.Minute, 3, 3)) {
		t.Fatal("seeds 7 and 8 gave the same schedule")
	}
	var total time.Duration
	for _, r := range a {
		if len(r) != 3 {
			t.Fatalf("round of %d faults, want 3", len(r))
		}
		for i, f := range r {
			for _, g := range r[:i] {
				if g.Overlap && f.target() == g.target() {
					t.Fatalf("%v may still hold when %v starts on the same target", g, f)
				}
			}
			total += f.Hold + f.Gap
			if f.Node < 0 || f.Node >= 3 {
				t.Fatalf("fault on node %d of 3", f.Node)
			}
			if f.Kind == PauseShort && f.Hold >= WriteTimeout || f.Kind == PauseLong && f.Hold <= WriteTimeout {
				t.Fatalf("%v: pause on the wrong side of the write timeout %v", f, WriteTimeout)
			}
		}
	}
	if total < 10*time.Minute {
		t.Fatalf("schedule lasts %v, want at least 10 minutes", total)
	}
}

// TestScheduleClockJumps checks the clock-jump fault's magnitudes: every
// jump within [minClockJump, maxClockJump] and outside the band just around
// the auth window's edge, and the schedule drawing each of forward and
// back, within and beyond nodeauth.DefaultMaxSkew.
func TestScheduleClockJumps(t *testing.T) {
	seen := map[[2]bool]int{} // {forward, beyond the auth window}
	for seed := range int64(50) {
		for _, r := range Schedule(seed, 10*time.Minute, 3, 3) {
			for _, f := range r {
				if f.Kind != ClockJump {
					if f.Jump != 0 {
						t.Fatalf("%v carries a clock jump", f)
					}
					continue
				}
				mag := f.Jump.Abs()
				if mag < minClockJump || mag > maxClockJump {
					t.Fatalf("%v: jump outside [%v, %v]", f, minClockJump, maxClockJump)
				}
				if mag > nodeauth.DefaultMaxSkew-5*time.Second && mag < nodeauth.DefaultMaxSkew+15*time.Second {
					t.Fatalf("%v: jump too near the auth window's edge %v", f, nodeauth.DefaultMaxSkew)
				}
				seen[[2]bool{f.Jump > 0, mag > nodeauth.DefaultMaxSkew}]++
			}
		}
	}
	if len(seen) != 4 {
		t.Fatalf("50 seeds drew clock jumps of only these {forward, beyond the auth window} kinds: %v", seen)
	}
}

// TestFillLeavesNoSpace fills a 1 MiB tmpfs: afterwards not one more
// byte fits.
func TestFillLeavesNoSpace(t *testing.T) {
	mnt := disktest.MountTmpfsOrSkip(t, 1<<20)
	n, err := fill(filepath.Join(mnt, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	if n < 512<<10 {
		t.Fatalf("filled %d bytes of a 1 MiB tmpfs", n)
	}
	err = os.WriteFile(filepath.Join(mnt, "more"), []byte(strings.Repeat("x", 10)), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write after fill: %v, want ENOSPC", err)
	}
}
