package antientropy

import "errors"

var (
	// ErrCorruptMessage wraps every error decoding an anti-entropy message
	// or shard stream: the bytes are not a valid message of this version.
	ErrCorruptMessage = errors.New("corrupt anti-entropy message")
	// ErrShardNotFound is a peer's answer for a shard it does not hold.
	ErrShardNotFound = errors.New("shard not found")
	// ErrLayoutMismatch means two replicas bucket their digests differently
	// (digest-series-buckets or digest-window differ), so their trees
	// cannot be compared.
	ErrLayoutMismatch = errors.New("digest layout differs between nodes")
	// ErrRepairRunning is returned when a manual repair is asked for while
	// another one runs.
	ErrRepairRunning = errors.New("a repair is already running")
	// ErrDisabled is returned by manual operations on a disabled service.
	ErrDisabled = errors.New("anti-entropy is disabled")
)
