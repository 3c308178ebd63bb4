package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Defaults of CPUConfig.
const (
	DefaultHosts    = 100
	DefaultInterval = 10 * time.Second
	DefaultDuration = time.Hour
	DefaultSeed     = 42
)

// MaxGeneratedBytes bounds the memory GenerateCPU may use: all data is
// generated before the clock starts, so it must fit in memory.
const MaxGeneratedBytes = 8 << 30

// bytesPerCPULine bounds the size of one generated line (the longest tag
// and field values, a 7-digit host number, a 19-digit timestamp), so the
// buffer GenerateCPU presizes never has to grow; lines average ~345 bytes.
const bytesPerCPULine = 376

// DefaultStart is the first timestamp of generated data: the start the
// datasets in shared/data were generated with, so that both kinds of load
// land in the same shard groups.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// cpuFields are the ten fields of TSBS's cpu measurement, in its order.
var cpuFields = [...]string{
	"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice",
}

// minTimestamp and maxTimestamp bound what int64 nanoseconds since the
// epoch can hold.
var (
	minTimestamp = time.Unix(0, math.MinInt64).UTC()
	maxTimestamp = time.Unix(0, math.MaxInt64).UTC()
)

// regions are TSBS's host regions with their datacenters.
var regions = [...]struct {
	name        string
	datacenters []string
}{
	{"us-east-1", []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"}},
	{"us-west-1", []string{"us-west-1a", "us-west-1b"}},
	{"us-west-2", []string{"us-west-2a", "us-west-2b", "us-west-2c"}},
	{"eu-west-1", []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}},
	{"eu-central-1", []string{"eu-central-1a", "eu-central-1b"}},
	{"ap-southeast-1", []string{"ap-southeast-1a", "ap-southeast-1b"}},
	{"ap-southeast-2", []string{"ap-southeast-2a", "ap-southeast-2b"}},
	{"ap-northeast-1", []string{"ap-northeast-1a", "ap-northeast-1c"}},
	{"sa-east-1", []string{"sa-east-1a", "sa-east-1b", "sa-east-1c"}},
}

var (
	hostOS   = [...]string{"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"}
	hostArch = [...]string{"x64", "x86"}
	hostTeam = [...]string{"SF", "NYC", "LON", "CHI"}
	hostEnv  = [...]string{"production", "staging", "test"}
)

// CPUConfig describes TSBS "cpu-only" data: Hosts hosts each reporting one
// cpu line every Interval from Start for Duration.
type CPUConfig struct {
	// Hosts is the number of hosts (series).
	Hosts int `toml:"hosts"`
	// Interval is the time between two lines of one host.
	Interval time.Duration `toml:"interval"`
	// Duration is the time span covered: ceil(Duration/Interval) lines per host.
	Duration time.Duration `toml:"duration"`
	// Start is the first timestamp.
	Start time.Time `toml:"start"`
	// Seed makes the tags and values deterministic.
	Seed uint64 `toml:"seed"`
	// Precision is the unit timestamps are written in (see ParsePrecision).
	Precision string `toml:"precision"`
}

// NewCPUConfig returns a CPUConfig holding the defaults.
func NewCPUConfig() CPUConfig {
	return CPUConfig{
		Hosts:    DefaultHosts,
		Interval: DefaultInterval,
		Duration: DefaultDuration,
		Start:    DefaultStart,
		Seed:     DefaultSeed,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c CPUConfig) Validate() error {
	switch {
	case c.Hosts < 1:
		return fmt.Errorf("%w: hosts = %d, want >= 1", ErrInvalidConfig, c.Hosts)
	case c.Interval <= 0:
		return fmt.Errorf("%w: interval = %s, want > 0", ErrInvalidConfig, c.Interval)
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration = %s, want > 0", ErrInvalidConfig, c.Duration)
	case c.Start.Before(minTimestamp) || c.Start.After(maxTimestamp.Add(-c.Duration)):
		return fmt.Errorf("%w: start %s + duration %s leaves the nanosecond timestamp range (%d..%d)",
			ErrInvalidConfig, c.Start.Format(time.RFC3339), c.Duration, minTimestamp.Year(), maxTimestamp.Year())
	}
	if _, err := ParsePrecision(c.Precision); err != nil {
		return err
	}
	return nil
}

// Lines returns how many lines the configuration generates.
func (c CPUConfig) Lines() int64 {
	return int64(c.steps()) * int64(c.Hosts)
}

func (c CPUConfig) steps() int64 {
	return int64((c.Duration + c.Interval - 1) / c.Interval)
}

// CPUGenerator produces the lines of a CPUConfig one at a time, in TSBS
// order: every host for the first timestamp, then every host for the next.
// Each field is a random walk with normally distributed steps, clamped to
// [0, 100] and written as an integer. The output depends only on the
// config. A CPUGenerator is not safe for concurrent use.
type CPUGenerator struct {
	prefixes [][]byte    // per host: "cpu,<tags> "
	state    [][]float64 // per host: current value of each field
	rng      *rand.Rand
	unit     int64 // nanoseconds per timestamp unit
	start    int64 // ns
	interval int64 // ns
	steps    int64
	step     int64 // current timestamp index
	host     int   // next host at step
}

// NewCPUGenerator validates cfg and returns a generator positioned at the
// first line.
func NewCPUGenerator(cfg CPUConfig) (*CPUGenerator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	unit, _ := ParsePrecision(cfg.Precision)
	g := &CPUGenerator{
		rng:      rand.New(rand.NewPCG(cfg.Seed, 0x5354524154412d31)), // "STRATA-1"
		unit:     int64(unit),
		start:    cfg.Start.UnixNano(),
		interval: int64(cfg.Interval),
		steps:    cfg.steps(),
		prefixes: make([][]byte, cfg.Hosts),
		state:    make([][]float64, cfg.Hosts),
	}
	for h := range cfg.Hosts {
		g.prefixes[h] = g.hostPrefix(h)
		st := make([]float64, len(cpuFields))
		for i := range st {
			st[i] = g.rng.Float64() * 100
		}
		g.state[h] = st
	}
	return g, nil
}

// hostPrefix draws host h's tags, TSBS style, and returns the line prefix.
func (g *CPUGenerator) hostPrefix(h int) []byte {
	r := &regions[g.rng.IntN(len(regions))]
	b := make([]byte, 0, 256)
	b = append(b, "cpu,hostname=host_"...)
	b = strconv.AppendInt(b, int64(h), 10)
	b = append(b, ",region="...)
	b = append(b, r.name...)
	b = append(b, ",datacenter="...)
	b = append(b, r.datacenters[g.rng.IntN(len(r.datacenters))]...)
	b = append(b, ",rack="...)
	b = strconv.AppendInt(b, int64(g.rng.IntN(100)), 10)
	b = append(b, ",os="...)
	b = append(b, hostOS[g.rng.IntN(len(hostOS))]...)
	b = append(b, ",arch="...)
	b = append(b, hostArch[g.rng.IntN(len(hostArch))]...)
	b = append(b, ",team="...)
	b = append(b, hostTeam[g.rng.IntN(len(hostTeam))]...)
	b = append(b, ",service="...)
	b = strconv.AppendInt(b, int64(g.rng.IntN(20)), 10)
	b = append(b, ",service_version="...)
	b = strconv.AppendInt(b, int64(g.rng.IntN(2)), 10)
	b = append(b, ",service_environment="...)
	b = append(b, hostEnv[g.rng.IntN(len(hostEnv))]...)
	return append(b, ' ')
}

// Next appends the next line, newline included, to dst and returns it with
// true; once every line has been produced it returns dst and false.
func (g *CPUGenerator) Next(dst []byte) ([]byte, bool) {
	if g.step >= g.steps {
		return dst, false
	}
	h := g.host
	dst = append(dst, g.prefixes[h]...)
	st := g.state[h]
	for i := range st {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, cpuFields[i]...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, int64(st[i]), 10)
		dst = append(dst, 'i')
		st[i] = min(100, max(0, st[i]+g.rng.NormFloat64()))
	}
	dst = append(dst, ' ')
	ts := (g.start + g.step*g.interval) / g.unit
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, '\n')
	g.host++
	if g.host == len(g.prefixes) {
		g.host = 0
		g.step++
	}
	return dst, true
}

// GenerateCPU generates every line of cfg into one buffer and cuts it into
// batches of batchSize lines, as SplitLines does.
func GenerateCPU(cfg CPUConfig, batchSize int) (*Workload, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if est := cfg.Lines() * bytesPerCPULine; cfg.Lines() > MaxGeneratedBytes/bytesPerCPULine {
		return nil, fmt.Errorf("%w: %d hosts × %d steps needs about %d MiB in memory, more than the %d MiB limit",
			ErrInvalidConfig, cfg.Hosts, cfg.steps(), est>>20, MaxGeneratedBytes>>20)
	}
	g, err := NewCPUGenerator(cfg)
	if err != nil {
		return nil, err
	}
	if batchSize < 1 {
		batchSize = 1
	}
	buf := make([]byte, 0, cfg.Lines()*bytesPerCPULine)
	w := &Workload{Precision: cfg.Precision}
	start, lines := 0, 0
	for {
		var ok bool
		buf, ok = g.Next(buf)
		if !ok {
			break
		}
		lines++
		if lines == batchSize {
			w.add(buf[start:], lines, lines*len(cpuFields))
			start, lines = len(buf), 0
		}
	}
	if lines > 0 {
		w.add(buf[start:], lines, lines*len(cpuFields))
	}
	// buf may have been reallocated while growing: re-point the bodies
	// into the final buffer.
	off := 0
	for i := range w.Batches {
		n := len(w.Batches[i].Body)
		w.Batches[i].Body = buf[off : off+n : off+n]
		off += n
	}
	if w.Lines == 0 {
		return nil, ErrEmptyWorkload
	}
	return w, nil
}
