package chaos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/strata-db/strata/internal/clock"
	"github.com/strata-db/strata/internal/faultproxy"
	"github.com/strata-db/strata/internal/nodeauth"
)

// Kind is a kind of fault.
type Kind string

// Fault kinds.
const (
	Kill9      Kind = "kill-9"      // a data node killed with SIGKILL, restarted after the hold
	PauseShort Kind = "pause-short" // a data node SIGSTOPped for less than the write timeout
	PauseLong  Kind = "pause-long"  // a data node SIGSTOPped for more than the write timeout
	LinkCut    Kind = "link-cut"    // connections to a data node's RPC port refused
	BlackHole  Kind = "black-hole"  // connections to a data node's RPC port stall
	SlowLink   Kind = "slow-link"   // every chunk to or from a data node's RPC port delayed
	MetaLeader Kind = "meta-leader" // the meta leader killed with SIGKILL, restarted after the hold
	MetaPause  Kind = "meta-pause"  // the meta leader SIGSTOPped for the hold
	DiskFull   Kind = "disk-full"   // the tmpfs data node's file system filled up
	// ClockJump moves a data node's wall clock (internal/clock, through
	// its fault file) by Fault.Jump for the hold, then back.
	ClockJump Kind = "clock-jump"
)

// slowDelay is what a slow link adds to every chunk it forwards.
const slowDelay = 300 * time.Millisecond

// Kinds lists every fault kind the schedule draws from.
var Kinds = []Kind{Kill9, PauseShort, PauseLong, LinkCut, BlackHole, SlowLink, MetaLeader, MetaPause, DiskFull, ClockJump}

// Clock jumps are drawn within the internode auth window
// (nodeauth.DefaultMaxSkew, 30 s) or beyond it, up to maxClockJump, in
// either direction.
const (
	minClockJump = 2 * time.Second
	maxClockJump = 5 * time.Minute
)

// Fault is one entry of a schedule.
type Fault struct {
	Kind Kind
	// Node is the index of the data node it hits (unused for MetaLeader;
	// DiskFull always hits the tmpfs node).
	Node int
	// Gap is the time before the fault starts (after the previous one
	// healed, or started if that one overlaps); Hold is how long it lasts.
	Gap, Hold time.Duration
	// Overlap starts the next fault while this one holds.
	Overlap bool
	// Jump is how far a ClockJump moves the node's clock (negative: back).
	Jump time.Duration
}

// target names what a fault acts on; two overlapping faults never share
// one (a node cannot be restarted twice, there is one meta leader).
func (f Fault) target() string {
	switch f.Kind {
	case MetaLeader, MetaPause:
		return "meta"
	case DiskFull:
		return "disk"
	}
	return fmt.Sprint("data", f.Node)
}

func (f Fault) String() string {
	on := f.target()
	switch f.Kind {
	case MetaLeader, MetaPause:
		on = "leader"
	case DiskFull:
		on = "data0"
	}
	s := fmt.Sprintf("%s %s hold %v gap %v", f.Kind, on, f.Hold, f.Gap)
	if f.Kind == ClockJump {
		s = fmt.Sprintf("%s %s by %v hold %v gap %v", f.Kind, on, f.Jump, f.Hold, f.Gap)
	}
	if f.Overlap {
		s += ", overlapping the next"
	}
	return s
}

// Round is the faults injected while the writers run, before the cluster
// is left to converge and checked.
type Round []Fault

// Schedule draws the rounds of a campaign from seed: faults of random
// kinds, targets, holds and gaps, faultsPerRound to a round, until their
// total time reaches duration. The same arguments give the same schedule.
func Schedule(seed int64, duration time.Duration, dataNodes, faultsPerRound int) []Round {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	ms := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)/int64(time.Millisecond)+1))*time.Millisecond
	}
	var rounds []Round
	var total time.Duration
	for total < duration {
		var r Round
		// busy holds the targets of the round's overlapping faults so far:
		// they may still hold when a later fault starts. At most
		// dataNodes-1 faults overlap, so some data node is always free.
		busy := map[string]bool{}
		for i := range faultsPerRound {
			f := Fault{Kind: Kinds[rng.IntN(len(Kinds))], Node: rng.IntN(dataNodes), Gap: ms(500*time.Millisecond, 2*time.Second),
				Overlap: i < faultsPerRound-1 && rng.IntN(3) == 0 && len(busy) < dataNodes-1}
			if busy[f.target()] {
				f.Kind = SlowLink
				for busy[f.target()] {
					f.Node = (f.Node + 1) % dataNodes
				}
			}
			if f.Overlap {
				busy[f.target()] = true
			}
			switch f.Kind {
			case PauseShort:
				f.Hold = ms(WriteTimeout/4, WriteTimeout*3/4)
			case PauseLong:
				f.Hold = ms(WriteTimeout*3/2, WriteTimeout*3)
			case Kill9, MetaLeader:
				f.Hold = ms(500*time.Millisecond, 4*time.Second)
			default:
				f.Hold = ms(2*time.Second, 6*time.Second)
			}
			if f.Kind == ClockJump {
				f.Jump = ms(minClockJump, nodeauth.DefaultMaxSkew-5*time.Second)
				if rng.IntN(2) == 0 {
					f.Jump = ms(nodeauth.DefaultMaxSkew+15*time.Second, maxClockJump)
				}
				if rng.IntN(2) == 0 {
					f.Jump = -f.Jump
				}
			}
			r = append(r, f)
			total += f.Hold + f.Gap
		}
		rounds = append(rounds, r)
	}
	return rounds
}

// inject applies f, holds it, heals it and returns what it did, or an
// error when the fault could not be injected or healed (a node that does
// not come back is itself a finding).
func (c *cluster) inject(f Fault) (string, error) {
	d := c.data[f.Node]
	switch f.Kind {
	case Kill9:
		d.Kill()
		time.Sleep(f.Hold)
		if err := c.restartData(d); err != nil {
			return "", fmt.Errorf("%s did not come back after kill -9: %w", d.Name, err)
		}
	case PauseShort, PauseLong:
		d.Signal(syscall.SIGSTOP)
		time.Sleep(f.Hold)
		d.Signal(syscall.SIGCONT)
	case LinkCut, BlackHole:
		mode := faultproxy.Refuse
		if f.Kind == BlackHole {
			mode = faultproxy.Blackhole
		}
		d.proxy.SetMode(mode)
		time.Sleep(f.Hold)
		d.proxy.SetMode(faultproxy.Pass)
	case SlowLink:
		d.proxy.SetDelay(slowDelay)
		time.Sleep(f.Hold)
		d.proxy.SetDelay(0)
	case MetaPause:
		l := c.leader()
		if l == nil {
			return "", errors.New("no meta leader to pause")
		}
		l.Signal(syscall.SIGSTOP)
		time.Sleep(f.Hold)
		l.Signal(syscall.SIGCONT)
		return "paused " + l.Name, nil
	case MetaLeader:
		l := c.leader()
		if l == nil {
			return "", errors.New("no meta leader to kill")
		}
		l.Kill()
		time.Sleep(f.Hold)
		if err := c.restartMeta(l); err != nil {
			return "", fmt.Errorf("%s did not come back after kill -9: %w", l.Name, err)
		}
		return "killed " + l.Name, nil
	case ClockJump:
		if err := d.setClockOffset(f.Jump); errors.Is(err, syscall.ENOSPC) {
			return fmt.Sprintf("skipped: %s's disk is full (an overlapping disk-full)", d.Name), nil
		} else if err != nil {
			return "", err
		}
		time.Sleep(f.Hold)
		if err := d.setClockOffset(0); err != nil {
			return "", err
		}
		return fmt.Sprintf("moved %s's clock by %v", d.Name, f.Jump), nil
	case DiskFull:
		d = c.data[0]
		if d.tmpfs == "" {
			return "skipped: no tmpfs", nil
		}
		ballast := filepath.Join(d.tmpfs, "ballast")
		n, err := fill(ballast)
		if err != nil {
			os.Remove(ballast)
			return "", err
		}
		time.Sleep(f.Hold)
		if err := os.Remove(ballast); err != nil {
			return "", err
		}
		return fmt.Sprintf("filled %s's file system with %d MiB", d.Name, n>>20), nil
	default:
		return "", fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	return d.Name, nil
}

// fill writes path until its file system has no space left and returns
// the bytes written.
func fill(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	var n int64
	for len(chunk) >= 4096 {
		m, err := f.Write(chunk)
		n += int64(m)
		switch {
		case errors.Is(err, syscall.ENOSPC):
			chunk = chunk[:len(chunk)/16] // then fill the remainder in smaller pieces
		case err != nil:
			return n, err
		}
	}
	return n, nil
}

// setClockOffset sets the node's clock offset through its clock fault file
// (the node was started with clock.FaultEnv) and waits long enough for the
// node's poll to pick it up. Zero removes the file, which works on a full
// disk too.
func (d *dataNode) setClockOffset(off time.Duration) error {
	path := filepath.Join(d.dir, clock.FaultFile)
	if off == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: clock jump: %w", d.Name, err)
		}
	} else {
		tmp := path + ".tmp"
		err := os.WriteFile(tmp, []byte(off.String()), 0o644)
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("%s: clock jump: %w", d.Name, err)
		}
	}
	time.Sleep(2 * clock.PollInterval)
	return nil
}
