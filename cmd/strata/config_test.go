package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/meta"
)

// TestConfigSamples checks that each sample config in configs/ names every
// option of its Config and sets each to the default, so the documented file
// and the code cannot drift apart.
func TestConfigSamples(t *testing.T) {
	t.Run("meta.toml", func(t *testing.T) {
		var cfg meta.Config
		checkSample(t, "meta.toml", &cfg)
		want := meta.NewConfig()
		if len(cfg.Join) == 0 {
			cfg.Join = want.Join // nil and [] mean the same
		}
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("configs/meta.toml differs from meta.NewConfig():\n got %+v\nwant %+v", cfg, want)
		}
	})
	t.Run("data.toml", func(t *testing.T) {
		var cfg data.Config
		checkSample(t, "data.toml", &cfg)
		if want := data.NewConfig(); !reflect.DeepEqual(cfg, want) {
			t.Errorf("configs/data.toml differs from data.NewConfig():\n got %+v\nwant %+v", cfg, want)
		}
	})
}

// checkSample decodes configs/name into cfg and fails on keys the struct
// does not know and on options (at any depth) the file does not set.
func checkSample(t *testing.T, name string, cfg any) {
	t.Helper()
	md, err := toml.DecodeFile(filepath.Join("..", "..", "configs", name), cfg)
	if err != nil {
		t.Fatalf("decode configs/%s: %v", name, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		t.Errorf("configs/%s has keys the config does not know: %v", name, undecoded)
	}
	for _, path := range configKeys(reflect.TypeOf(cfg).Elem(), nil) {
		if !md.IsDefined(path...) {
			t.Errorf("configs/%s does not document option %q", name, strings.Join(path, "."))
		}
	}
}

// TestSetGCPercent checks that a data node's gc-percent reaches the Go
// runtime, and that an operator's GOGC wins over it.
func TestSetGCPercent(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	setGCPercent(logger, 42, 0)
	if got := debug.SetGCPercent(100); got != 42 {
		t.Errorf("gc percent after setGCPercent(42, 0) = %d; want 42", got)
	}

	t.Setenv("GOGC", "77")
	setGCPercent(logger, 42, 0)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("gc percent with GOGC set = %d; want 100 (unchanged)", got)
	}
}

// TestDataConfigRejectsTinyGCPercent checks the gc-percent floor.
func TestDataConfigRejectsTinyGCPercent(t *testing.T) {
	cfg := data.NewConfig()
	cfg.GCPercent = 5
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "gc-percent") {
		t.Errorf("Validate(gc-percent = 5) = %v; want an error naming gc-percent", err)
	}
}

// TestUnknownConfigKeyRefusesStart checks that a config file with a key the
// node does not know stops `strata data` and `strata meta` before they
// start, naming the key and the file, and pointing from InfluxDB's names
// and from near misses to the key to use.
func TestUnknownConfigKeyRefusesStart(t *testing.T) {
	cases := []struct {
		name, cmd, file string
		want            []string
	}{
		{"key in another section", "data", "auth-enabled = true\n",
			[]string{"unknown key auth-enabled (top level)", "use [http] auth-enabled"}},
		{"typo", "data", "[http]\nauth-enabledd = true\n",
			[]string{"unknown key [http] auth-enabledd", "did you mean [http] auth-enabled?"}},
		{"typo in another section", "data", "auth-enabledd = true\n",
			[]string{"unknown key auth-enabledd (top level)", "did you mean [http] auth-enabled?"}},
		{"influxdb name", "data", "[http]\nbind-address = \":8086\"\n",
			[]string{"unknown key [http] bind-address", "InfluxDB's name; use http-addr (top level)"}},
		{"nested", "data", "[storage.wal]\nsegment-sise = 1\n",
			[]string{"unknown key [storage.wal] segment-sise", "did you mean [storage.wal] segment-size?"}},
		{"unknown section", "data", "[nope]\n",
			[]string{"unknown section [nope]"}},
		{"meta", "meta", "[meta]\ndir = \"x\"\n",
			[]string{"unknown key [meta] dir", "use dir (top level)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "node.toml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := newDataCommand()
			if tc.cmd == "meta" {
				cmd = newMetaCommand()
			}
			// An empty --http-addr fails validation, so a loader that let
			// the key through fails this test instead of starting a node.
			cmd.SetArgs([]string{"--config", path, "--dir", dir, "--http-addr", ""})
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if err == nil {
				t.Fatalf("%s started with config %q; want an unknown-key error", tc.cmd, tc.file)
			}
			for _, want := range append(tc.want, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestInfluxKeysNameKnownKeys checks that every key influxKeys points to
// exists in the data or meta config, so no hint names a key that is gone.
func TestInfluxKeysNameKnownKeys(t *testing.T) {
	var known []string
	for _, cfg := range []any{data.Config{}, meta.Config{}} {
		for _, k := range configKeys(reflect.TypeOf(cfg), nil) {
			known = append(known, strings.Join(k, "."))
		}
	}
	for from, to := range influxKeys {
		if !slices.Contains(known, to) {
			t.Errorf("influxKeys[%q] = %q, which no config has", from, to)
		}
	}
}
