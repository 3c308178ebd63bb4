package main

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// influxKeys maps InfluxDB 1.x config keys (as "section.key") whose name or
// section differs from Strata's to the Strata key that does the same, for
// the keys whose last name alone does not find it. Keys InfluxDB merely
// files under another section ([coordinator] max-select-series is Strata's
// [query] max-select-series) are found by name and need no entry here.
var influxKeys = map[string]string{
	"http.bind-address":      "http-addr",
	"bind-address":           "rpc-addr",
	"data.dir":               "storage.dir",
	"meta.bind-address":      "raft-addr",
	"meta.http-bind-address": "http-addr",
}

// readConfig decodes the TOML file at path (if any) over cfg's defaults. A
// key cfg has no field for stops the node: the error names every such key
// and the file, and says which key to use where the key is InfluxDB's name
// for one of ours, ours in another section, or a near miss of one of ours.
// A misspelt key would otherwise leave its option at the default without a
// word (issue 9: `[http] auth-enabled = true` started a node with auth off).
func readConfig(path string, cfg any) error {
	if path == "" {
		return nil
	}
	md, err := toml.DecodeFile(path, cfg)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	undecoded := md.Undecoded()
	if len(undecoded) == 0 {
		return nil
	}
	known := configKeys(reflect.TypeOf(cfg).Elem(), nil)
	var problems []string
	for _, key := range undecoded {
		if coversAnother(key, undecoded) {
			continue // an unknown section: its keys are reported instead
		}
		what := "unknown key " + tomlKey(key)
		if md.Type(key...) == "Hash" {
			what = "unknown section [" + key.String() + "]"
		}
		problems = append(problems, what+suggestKey(key, known))
	}
	return fmt.Errorf("read config %s: %s", path, strings.Join(problems, "; "))
}

// coversAnother reports whether key is the section of another key in keys.
func coversAnother(key toml.Key, keys []toml.Key) bool {
	for _, other := range keys {
		if len(other) > len(key) && slices.Equal(other[:len(key)], key) {
			return true
		}
	}
	return false
}

// configKeys lists every key path a config struct type decodes, at any depth.
func configKeys(typ reflect.Type, prefix []string) [][]string {
	var keys [][]string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name := f.Tag.Get("toml")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		path := append(slices.Clone(prefix), name)
		keys = append(keys, path)
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, configKeys(f.Type, path)...)
		}
	}
	return keys
}

// suggestKey says which known key to use instead of the unknown key, or
// returns "" when none fits.
func suggestKey(key toml.Key, known [][]string) string {
	isKnown := func(path string) bool {
		return slices.ContainsFunc(known, func(k []string) bool { return strings.Join(k, ".") == path })
	}
	if use, ok := influxKeys[key.String()]; ok && isKnown(use) {
		return fmt.Sprintf(" (InfluxDB's name; use %s)", tomlKey(strings.Split(use, ".")))
	}
	leaf := key[len(key)-1]
	// Near misses in the key's own section come first; those elsewhere
	// are offered only when there are none.
	var sameName, nearHere, nearElsewhere []string
	for _, k := range known {
		switch {
		case k[len(k)-1] == leaf:
			sameName = append(sameName, tomlKey(k))
		case editDistance(k[len(k)-1], leaf) > 2:
		case slices.Equal(k[:len(k)-1], key[:len(key)-1]):
			nearHere = append(nearHere, tomlKey(k))
		default:
			nearElsewhere = append(nearElsewhere, tomlKey(k))
		}
	}
	switch {
	case len(sameName) > 0:
		return " (use " + strings.Join(sameName, " or ") + ")"
	case len(nearHere) > 0:
		return " (did you mean " + strings.Join(nearHere, " or ") + "?)"
	case len(nearElsewhere) > 0:
		return " (did you mean " + strings.Join(nearElsewhere, " or ") + "?)"
	}
	return ""
}

// tomlKey writes a key path as an operator reads it in the file:
// "[storage.wal] segment-size", or the bare name at the top level.
func tomlKey(path []string) string {
	if len(path) == 1 {
		return path[0] + " (top level)"
	}
	return "[" + strings.Join(path[:len(path)-1], ".") + "] " + path[len(path)-1]
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
