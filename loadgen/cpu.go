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
//
// A line costs the same whatever the host count: a host keeps 4 bytes of
// tag choices and its ten field values (84 bytes per host, in two slices),
// and its line is copied together from pieces shared by all hosts (the
// host number is counted up in decimal, never formatted), so 1 M hosts
// neither allocate 1 M line prefixes nor read them back from memory.
type CPUGenerator struct {
	tags     []hostTags // per host
	state    []float64  // per host, len(cpuFields) each: current value of each field
	rng      *rand.Rand
	hostNum  decimal // number of the next host
	tsSuffix []byte  // " <timestamp>\n" of the current step
	unit     int64   // nanoseconds per timestamp unit
	start    int64   // ns
	interval int64   // ns
	steps    int64
	step     int64 // current timestamp index
	host     int   // next host at step
}

// hostTags are one host's tag values, as indices into the piece tables
// below.
type hostTags struct {
	regionDC uint8 // regionDCPieces
	rack     uint8 // smallInts
	machine  uint8 // machinePieces: os, arch, team
	service  uint8 // servicePieces: service, service_version, service_environment
}

// The pieces a line is copied from: after "cpu,hostname=host_<n>" come a
// regionDCPieces entry, the rack number, a machinePieces entry and a
// servicePieces entry (each holds one combination of its tags' values),
// then the ten fieldPieces and "i <timestamp>\n".
var (
	regionDCPieces []string // ",region=R,datacenter=D,rack=", by regionDCIndex
	regionDCIndex  [len(regions)]int
	machinePieces  []string // ",os=O,arch=A,team=T", by (os*len(hostArch)+arch)*len(hostTeam)+team
	servicePieces  []string // ",service=S,service_version=V,service_environment=E ", by (service*serviceVersions+version)*len(hostEnv)+env
	// fieldPieces[i][v] is field cpuFields[i] with the value v ("usage_user=57"),
	// after the previous value's "i" and ',' from the second field on.
	fieldPieces [len(cpuFields)][101]string
	// smallInts are the decimal forms of 0 to 100: rack numbers and field
	// values.
	smallInts [101]string
)

// serviceCount and serviceVersions are the numbers of TSBS service and
// service_version values.
const (
	serviceCount    = 20
	serviceVersions = 2
)

func init() {
	for i := range smallInts {
		smallInts[i] = strconv.Itoa(i)
	}
	for r := range regions {
		regionDCIndex[r] = len(regionDCPieces)
		for _, dc := range regions[r].datacenters {
			regionDCPieces = append(regionDCPieces, ",region="+regions[r].name+",datacenter="+dc+",rack=")
		}
	}
	for _, osName := range hostOS {
		for _, arch := range hostArch {
			for _, team := range hostTeam {
				machinePieces = append(machinePieces, ",os="+osName+",arch="+arch+",team="+team)
			}
		}
	}
	for s := range serviceCount {
		for v := range serviceVersions {
			for _, env := range hostEnv {
				servicePieces = append(servicePieces, ",service="+smallInts[s]+",service_version="+smallInts[v]+",service_environment="+env+" ")
			}
		}
	}
	for i, f := range cpuFields {
		if i > 0 {
			f = "i," + f
		}
		for v, digits := range smallInts {
			fieldPieces[i][v] = f + "=" + digits
		}
	}
}

// decimal is a non-negative integer kept as its decimal digits, for
// counting up without formatting.
type decimal struct {
	buf   [20]byte // digits right-aligned
	first int      // index of the first digit in buf
}

// reset sets d to 0.
func (d *decimal) reset() {
	d.first = len(d.buf) - 1
	d.buf[d.first] = '0'
}

// inc adds one to d.
func (d *decimal) inc() {
	for i := len(d.buf) - 1; i >= d.first; i-- {
		if d.buf[i] < '9' {
			d.buf[i]++
			return
		}
		d.buf[i] = '0'
	}
	d.first--
	d.buf[d.first] = '1'
}

// digits returns d's decimal digits, valid until the next inc or reset.
func (d *decimal) digits() []byte { return d.buf[d.first:] }

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
		tags:     make([]hostTags, cfg.Hosts),
		state:    make([]float64, cfg.Hosts*len(cpuFields)),
		tsSuffix: make([]byte, 0, 22),
	}
	for h := range cfg.Hosts {
		g.tags[h] = g.drawTags()
		for i := range len(cpuFields) {
			g.state[h*len(cpuFields)+i] = g.rng.Float64() * 100
		}
	}
	g.hostNum.reset()
	g.setStep(0)
	return g, nil
}

// drawTags draws one host's tags, TSBS style.
func (g *CPUGenerator) drawTags() hostTags {
	r := g.rng.IntN(len(regions))
	dc := g.rng.IntN(len(regions[r].datacenters))
	rack := g.rng.IntN(100)
	osIdx := g.rng.IntN(len(hostOS))
	arch := g.rng.IntN(len(hostArch))
	team := g.rng.IntN(len(hostTeam))
	service := g.rng.IntN(serviceCount)
	version := g.rng.IntN(serviceVersions)
	env := g.rng.IntN(len(hostEnv))
	return hostTags{
		regionDC: uint8(regionDCIndex[r] + dc),
		rack:     uint8(rack),
		machine:  uint8((osIdx*len(hostArch)+arch)*len(hostTeam) + team),
		service:  uint8((service*serviceVersions+version)*len(hostEnv) + env),
	}
}

// setStep positions g at the first host of timestamp index step.
func (g *CPUGenerator) setStep(step int64) {
	g.step = step
	g.tsSuffix = append(g.tsSuffix[:0], ' ')
	g.tsSuffix = strconv.AppendInt(g.tsSuffix, (g.start+step*g.interval)/g.unit, 10)
	g.tsSuffix = append(g.tsSuffix, '\n')
}

// Next appends the next line, newline included, to dst and returns it with
// true; once every line has been produced it returns dst and false.
func (g *CPUGenerator) Next(dst []byte) ([]byte, bool) {
	if g.step >= g.steps {
		return dst, false
	}
	h := g.host
	t := g.tags[h]
	dst = append(dst, "cpu,hostname=host_"...)
	dst = append(dst, g.hostNum.digits()...)
	dst = append(dst, regionDCPieces[t.regionDC]...)
	dst = append(dst, smallInts[t.rack]...)
	dst = append(dst, machinePieces[t.machine]...)
	dst = append(dst, servicePieces[t.service]...)
	st := g.state[h*len(cpuFields) : (h+1)*len(cpuFields)]
	for i := range st {
		dst = append(dst, fieldPieces[i][int(st[i])]...) // st[i] is in [0, 100]
		st[i] = min(100, max(0, st[i]+g.rng.NormFloat64()))
	}
	dst = append(dst, 'i')
	dst = append(dst, g.tsSuffix...)
	g.host++
	g.hostNum.inc()
	if g.host == len(g.tags) {
		g.host = 0
		g.hostNum.reset()
		g.setStep(g.step + 1)
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
