package main

import (
	"log/slog"
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
	var walk func(typ reflect.Type, prefix []string)
	walk = func(typ reflect.Type, prefix []string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key := f.Tag.Get("toml")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			path := append(slices.Clone(prefix), key)
			if !md.IsDefined(path...) {
				t.Errorf("configs/%s does not document option %q", name, strings.Join(path, "."))
			}
			if f.Type.Kind() == reflect.Struct && f.Type.NumField() > 0 && f.Type.Field(0).Tag.Get("toml") != "" {
				walk(f.Type, path)
			}
		}
	}
	walk(reflect.TypeOf(cfg).Elem(), nil)
}

// TestSetGCPercent checks that a data node's gc-percent reaches the Go
// runtime, and that an operator's GOGC wins over it.
func TestSetGCPercent(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	setGCPercent(logger, 42)
	if got := debug.SetGCPercent(100); got != 42 {
		t.Errorf("gc percent after setGCPercent(42) = %d; want 42", got)
	}

	t.Setenv("GOGC", "77")
	setGCPercent(logger, 42)
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
