package loadgen_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/strata-db/strata/loadgen"
)

func smallCPU() loadgen.CPUConfig {
	cfg := loadgen.NewCPUConfig()
	cfg.Hosts = 5
	cfg.Interval = 10 * time.Second
	cfg.Duration = time.Minute
	cfg.Seed = 7
	return cfg
}

func generate(t *testing.T, cfg loadgen.CPUConfig, batch int) (*loadgen.Workload, []byte) {
	t.Helper()
	w, err := loadgen.GenerateCPU(cfg, batch)
	if err != nil {
		t.Fatalf("GenerateCPU: %v", err)
	}
	var all []byte
	for _, b := range w.Batches {
		all = append(all, b.Body...)
	}
	return w, all
}

var wantTags = []string{"hostname", "region", "datacenter", "rack", "os", "arch", "team", "service", "service_version", "service_environment"}

var wantFields = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

// TestGenerateCPUParses decodes every generated line with line-protocol/v2
// and checks its shape: TSBS tags, ten integer fields in [0, 100], hosts in
// order per timestamp, timestamps every interval from Start.
func TestGenerateCPUParses(t *testing.T) {
	cfg := smallCPU()
	w, all := generate(t, cfg, 4)
	if w.Lines != 30 || w.Values != 300 {
		t.Fatalf("generated %d lines %d values, want 30, 300", w.Lines, w.Values)
	}
	if len(w.Batches) != 8 || w.Batches[7].Lines != 2 {
		t.Fatalf("got %d batches (last %d lines), want 8 (last 2)", len(w.Batches), w.Batches[len(w.Batches)-1].Lines)
	}
	dec := lineprotocol.NewDecoderWithBytes(all)
	for i := 0; dec.Next(); i++ {
		m, err := dec.Measurement()
		if err != nil || string(m) != "cpu" {
			t.Fatalf("line %d: measurement %q, %v; want cpu", i, m, err)
		}
		var tags []string
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatalf("line %d: tag: %v", i, err)
			}
			if k == nil {
				break
			}
			tags = append(tags, string(k))
			if string(k) == "hostname" && string(v) != fmt.Sprintf("host_%d", i%cfg.Hosts) {
				t.Errorf("line %d: hostname %s, want host_%d", i, v, i%cfg.Hosts)
			}
		}
		if fmt.Sprint(tags) != fmt.Sprint(wantTags) {
			t.Errorf("line %d: tags %v, want %v", i, tags, wantTags)
		}
		var fields []string
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatalf("line %d: field: %v", i, err)
			}
			if k == nil {
				break
			}
			fields = append(fields, string(k))
			if v.Kind() != lineprotocol.Int || v.IntV() < 0 || v.IntV() > 100 {
				t.Errorf("line %d: field %s = %v, want an integer in [0, 100]", i, k, v)
			}
		}
		if fmt.Sprint(fields) != fmt.Sprint(wantFields) {
			t.Errorf("line %d: fields %v, want %v", i, fields, wantFields)
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			t.Fatalf("line %d: time: %v", i, err)
		}
		if want := cfg.Start.Add(time.Duration(i/cfg.Hosts) * cfg.Interval); !ts.Equal(want) {
			t.Errorf("line %d: time %s, want %s", i, ts, want)
		}
	}
	if err := dec.Err(); err != nil {
		t.Fatalf("decode: %v", err)
	}
}

func TestGenerateCPUDeterministic(t *testing.T) {
	cfg := smallCPU()
	_, a := generate(t, cfg, 3)
	_, b := generate(t, cfg, 11) // batch size does not change the data
	if !bytes.Equal(a, b) {
		t.Error("two runs with the same seed generated different data")
	}
	cfg.Seed++
	_, c := generate(t, cfg, 3)
	if bytes.Equal(a, c) {
		t.Error("different seeds generated the same data")
	}
}

// TestGenerateCPURandomWalk checks values move by small steps, not jumps:
// consecutive values of one host and field differ by at most 6 (a normal
// step of more than 6 sigma is not expected in a short run).
func TestGenerateCPURandomWalk(t *testing.T) {
	cfg := smallCPU()
	cfg.Hosts = 2
	cfg.Duration = 100 * cfg.Interval
	_, all := generate(t, cfg, 1000)
	prev := map[string]int64{}
	moved := 0
	dec := lineprotocol.NewDecoderWithBytes(all)
	for dec.Next() {
		dec.Measurement()
		var host string
		for {
			k, v, _ := dec.NextTag()
			if k == nil {
				break
			}
			if string(k) == "hostname" {
				host = string(v)
			}
		}
		for {
			k, v, _ := dec.NextField()
			if k == nil {
				break
			}
			key := host + "/" + string(k)
			if p, ok := prev[key]; ok {
				if d := v.IntV() - p; d > 6 || d < -6 {
					t.Errorf("%s jumped from %d to %d", key, p, v.IntV())
				} else if d != 0 {
					moved++
				}
			}
			prev[key] = v.IntV()
		}
	}
	if moved == 0 {
		t.Error("no value ever changed, want a random walk")
	}
}

func TestGenerateCPUPrecision(t *testing.T) {
	cfg := smallCPU()
	cfg.Hosts = 1
	cfg.Precision = "s"
	_, all := generate(t, cfg, 10)
	first := bytes.SplitN(all, []byte("\n"), 2)[0]
	want := fmt.Sprintf(" %d", cfg.Start.Unix())
	if !bytes.HasSuffix(first, []byte(want)) {
		t.Errorf("first line %q, want timestamp suffix %q", first, want)
	}
}

func TestCPUConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*loadgen.CPUConfig)
	}{
		{"no hosts", func(c *loadgen.CPUConfig) { c.Hosts = 0 }},
		{"zero interval", func(c *loadgen.CPUConfig) { c.Interval = 0 }},
		{"negative duration", func(c *loadgen.CPUConfig) { c.Duration = -time.Second }},
		{"bad precision", func(c *loadgen.CPUConfig) { c.Precision = "fortnight" }},
		{"zero start", func(c *loadgen.CPUConfig) { c.Start = time.Time{} }},
		{"end past 2262", func(c *loadgen.CPUConfig) { c.Start = time.Date(2262, 4, 11, 23, 30, 0, 0, time.UTC) }},
		{"too big for memory", func(c *loadgen.CPUConfig) { c.Hosts = 1_000_000; c.Duration = 24 * time.Hour }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadgen.NewCPUConfig()
			tc.mod(&cfg)
			if _, err := loadgen.GenerateCPU(cfg, 100); !errors.Is(err, loadgen.ErrInvalidConfig) {
				t.Errorf("GenerateCPU: got %v, want ErrInvalidConfig", err)
			}
		})
	}
	if got := loadgen.NewCPUConfig().Lines(); got != 100*360 {
		t.Errorf("default Lines() = %d, want %d", got, 100*360)
	}
}

// TestGenerateCPUGolden pins the generated bytes: a change to the generator
// must not change the workload a seed stands for (results of different
// builds are compared as the same load). The configurations cover host
// numbers of 1 to 6 digits, the wrap from the last host to the next
// timestamp, several steps of the random walk and a coarse precision.
func TestGenerateCPUGolden(t *testing.T) {
	tests := []struct {
		hosts     int
		duration  time.Duration
		seed      uint64
		precision string
		want      string // sha256 of every batch body, in order
	}{
		{1, 1000 * loadgen.DefaultInterval, 7, "", "b5c563bf268a4e86572aadffdb2a469cf290e3de5b6a898d8849b02b75d56609"},
		{100, 30 * loadgen.DefaultInterval, loadgen.DefaultSeed, "ms", "bc5e3c52a6b6a2a1d05a7738fbf02c27ece85ad5cd4b0933a254347e073a7bfc"},
		{100_001, 2 * loadgen.DefaultInterval, loadgen.DefaultSeed, "", "f316da28896c1f4854d45e536794c3f75ba43b82f87720a9db782f5ab4b3def5"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("hosts=%d", tc.hosts), func(t *testing.T) {
			cfg := loadgen.NewCPUConfig()
			cfg.Hosts, cfg.Duration, cfg.Seed, cfg.Precision = tc.hosts, tc.duration, tc.seed, tc.precision
			w, err := loadgen.GenerateCPU(cfg, 5000)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			for _, b := range w.Batches {
				h.Write(b.Body)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != tc.want {
				t.Errorf("sha256 of the generated data = %s, want %s", got, tc.want)
			}
		})
	}
}
