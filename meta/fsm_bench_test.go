package meta

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// BenchmarkFSMApply measures one create_shard_group through fsm.Apply on a
// state that holds `groups` shard groups. The timestamps hit existing
// groups so the state size stays fixed; Apply still decodes, clones the
// whole state and publishes, which is the cost that grows with state size.
func BenchmarkFSMApply(b *testing.B) {
	for _, groups := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(groups), func(b *testing.B) {
			f := newFSM(DefaultRecentRequests)
			var index uint64
			apply := func(typ CommandType, payload any) {
				c, _ := NewCommand(typ, "", payload)
				enc, _ := json.Marshal(c)
				index++
				if r := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: enc}).(*Result); r.Error != "" {
					b.Fatal(r.Error)
				}
			}
			for i := range 3 {
				apply(CmdCreateDataNode, CreateDataNodePayload{HTTPAddr: fmt.Sprintf("h%d:1", i), RPCAddr: fmt.Sprintf("r%d:1", i)})
			}
			apply(CmdCreateDatabase, CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{ShardGroupDuration: time.Hour, ReplicaN: ptr(2)}})
			for i := range groups {
				apply(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: time.Unix(int64(i)*3600, 0)})
			}
			var next int64
			mk := func() []byte {
				c, _ := NewCommand(CmdCreateShardGroup, "", CreateShardGroupPayload{Database: "db", Timestamp: time.Unix((next%int64(groups))*3600, 0)})
				next++
				enc, _ := json.Marshal(c)
				return enc
			}
			b.SetBytes(int64(len(mk())))
			b.ReportAllocs()
			for b.Loop() {
				enc := mk()
				index++
				f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: enc})
			}
		})
	}
}
