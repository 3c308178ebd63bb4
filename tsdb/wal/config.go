package wal

import (
	"fmt"
	"math"
)

// Defaults for Config.
const (
	// DefaultSegmentSize is the size at which the active segment is sealed and
	// a new one started (Prometheus and etcd use 128 MiB and 64 MiB).
	DefaultSegmentSize = 64 << 20
	// DefaultMaxRecordSize bounds one record, so that a corrupt length field
	// can never make a reader allocate more than this.
	DefaultMaxRecordSize = 256 << 20
	// MinSegmentSize is the smallest accepted SegmentSize.
	MinSegmentSize = 4 << 10
)

// Config configures a WAL.
type Config struct {
	// SegmentSize is the size in bytes past which the active segment is sealed
	// and writes move to a new segment. A record larger than SegmentSize gets a
	// segment of its own.
	SegmentSize int64 `toml:"segment-size"`
	// MaxRecordSize is the largest record in bytes that Write accepts and that
	// a reader will decode.
	MaxRecordSize int `toml:"max-record-size"`
	// NoSync skips fsync. Writes are then NOT durable against power loss or
	// kernel crashes; meant for tests only, so it cannot be set from TOML.
	NoSync bool `toml:"-"`
}

// NewConfig returns a Config with the defaults.
func NewConfig() Config {
	return Config{
		SegmentSize:   DefaultSegmentSize,
		MaxRecordSize: DefaultMaxRecordSize,
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.SegmentSize < MinSegmentSize:
		return fmt.Errorf("wal config: segment-size %d must be >= %d", c.SegmentSize, MinSegmentSize)
	case c.MaxRecordSize < 1:
		return fmt.Errorf("wal config: max-record-size %d must be >= 1", c.MaxRecordSize)
	case int64(c.MaxRecordSize) > math.MaxUint32-recordHeaderSize:
		return fmt.Errorf("wal config: max-record-size %d must be <= %d", c.MaxRecordSize, int64(math.MaxUint32-recordHeaderSize))
	}
	return nil
}
