package main

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/strata-db/strata/meta"
)

// TestConfigSamples checks that each sample config in configs/ names every
// option of its Config and sets each to the default, so the documented file
// and the code cannot drift apart.
func TestConfigSamples(t *testing.T) {
	var cfg meta.Config
	md, err := toml.DecodeFile(filepath.Join("..", "..", "configs", "meta.toml"), &cfg)
	if err != nil {
		t.Fatalf("decode configs/meta.toml: %v", err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		t.Errorf("configs/meta.toml has keys meta.Config does not know: %v", undecoded)
	}
	if want := meta.NewConfig(); !reflect.DeepEqual(normalize(cfg), normalize(want)) {
		t.Errorf("configs/meta.toml differs from meta.NewConfig():\n got %+v\nwant %+v", cfg, want)
	}
	typ := reflect.TypeFor[meta.Config]()
	for i := range typ.NumField() {
		key := typ.Field(i).Tag.Get("toml")
		if key == "" || key == "-" {
			continue
		}
		if !md.IsDefined(key) {
			t.Errorf("configs/meta.toml does not document option %q", key)
		}
	}
}

// normalize treats a nil and an empty Join list alike.
func normalize(c meta.Config) meta.Config {
	if len(c.Join) == 0 {
		c.Join = nil
	}
	return c
}
