package meta

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeCommand feeds arbitrary bytes to the command decoder (they come
// from the network in POST /execute and from the raft log). It must never
// panic; every rejection wraps ErrInvalidCommand; an accepted command
// re-encodes to an equal command, and applying it to a small state either
// succeeds or leaves that state untouched.
func FuzzDecodeCommand(f *testing.F) {
	const maxInputSize = 64 << 10
	for _, typ := range []CommandType{CmdCreateDatabase, CmdCreateShardGroup, CmdDeleteDataNode} {
		var payload any
		switch typ {
		case CmdCreateDatabase:
			payload = CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{Name: "rp", Duration: 48 * time.Hour, ReplicaN: ptr(2)}}
		case CmdCreateShardGroup:
			payload = CreateShardGroupPayload{Database: "db", Timestamp: time.Unix(100, 0).UTC()}
		default:
			payload = DeleteDataNodePayload{ID: 1}
		}
		c, _ := NewCommand(typ, "rid", payload)
		b, _ := json.Marshal(c)
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"type":"update_retention_policy","payload":{"database":"db","name":"autogen","update":{"replica_n":3}}}`))
	f.Add([]byte(`{"version":1,"type":"truncate_shard_groups","payload":{"timestamp":"2026-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))

	base := &Data{}
	if _, err := base.createDataNode("a:1", "a:2"); err != nil {
		f.Fatal(err)
	}
	if _, err := base.createDatabase("db", nil); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxInputSize {
			return
		}
		c, err := DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("DecodeCommand error %v does not wrap ErrInvalidCommand", err)
			}
			return
		}
		enc, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("re-encode accepted command: %v", err)
		}
		c2, err := DecodeCommand(enc)
		if err != nil {
			t.Fatalf("decode re-encoded command %s: %v", enc, err)
		}
		p1, _ := c.decodePayload()
		p2, _ := c2.decodePayload()
		if c.Type != c2.Type || c.RequestID != c2.RequestID || !reflect.DeepEqual(normalizeAny(p1), normalizeAny(p2)) {
			t.Fatalf("round trip changed the command: %+v vs %+v", p1, p2)
		}
		before, _ := json.Marshal(base)
		d := base.Clone()
		if _, err := c.applyTo(d); err != nil {
			if ErrorCode(err) == "internal" {
				t.Fatalf("apply error %v wraps no sentinel", err)
			}
		}
		after, _ := json.Marshal(base)
		if string(before) != string(after) {
			t.Fatalf("applying to a clone changed the original state")
		}
	})
}

func normalizeAny(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
