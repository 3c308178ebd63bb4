package coordinator

import (
	"errors"
	"fmt"
	"strconv"
)

// Internode shard-write RPC protocol (see docs/wire.md).
//
// A shard write is one HTTP/1.1 request on a pooled keep-alive connection:
//
//	POST /rpc/v1/shard/write?shard=<id>
//	X-Strata-Rpc-Version: 1
//	Content-Type: application/x-strata-point-batch
//	Content-Encoding: s2            (optional)
//	<point batch, see AppendPoints>
//
// The version is in the path (the request layout) and in the header (the
// semantics). A node answers a request of another version with 400 and
// code "protocol_version" rather than guessing; the client surfaces that
// as ErrProtocolVersion. Bump RPCProtocolVersion when the meaning of a
// request or answer changes; bump BatchVersion when the body layout does.
const (
	// RPCProtocolVersion is the shard-write protocol version spoken here.
	RPCProtocolVersion = 1
	// RPCShardWritePath is where RPCHandler serves shard writes.
	RPCShardWritePath = "/rpc/v1/shard/write"
	// RPCVersionHeader carries RPCProtocolVersion on requests and answers.
	RPCVersionHeader = "X-Strata-Rpc-Version"
	// RPCContentType is the media type of a point batch body.
	RPCContentType = "application/x-strata-point-batch"
	// RPCEncodingS2 is the Content-Encoding of s2-compressed bodies.
	RPCEncodingS2 = "s2"
)

var rpcVersionString = strconv.Itoa(RPCProtocolVersion)

// Stable codes of RPC answers (the "code" member of the JSON body).
const (
	rpcCodePartialWrite    = "partial_write"
	rpcCodeShardNotFound   = "shard_not_found"
	rpcCodeProtocolVersion = "protocol_version"
	rpcCodeCorruptBatch    = "corrupt_batch"
	rpcCodeBodyTooLarge    = "body_too_large"
	rpcCodeBadRequest      = "bad_request"
	rpcCodeInternal        = "internal"
	rpcCodeBusy            = "busy"
)

// maxRPCAnswerSize bounds the JSON answer the client reads.
const maxRPCAnswerSize = 64 << 10

// rpcAnswer is the JSON body of every answer but 204.
type rpcAnswer struct {
	Code    string `json:"code"`
	Error   string `json:"error"`
	Dropped int    `json:"dropped,omitempty"`
}

// RPCError is a shard write a peer answered with an error. It unwraps to
// the sentinel its code stands for (ErrShardNotFound, ErrProtocolVersion,
// ErrCorruptBatch, ErrBodyTooLarge), if any.
type RPCError struct {
	// NodeID is the peer's id.
	NodeID uint64
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is the answer's stable code ("" if the body was not JSON).
	Code string
	// Message is the peer's error message.
	Message string
}

// Error implements error.
func (e *RPCError) Error() string {
	return fmt.Sprintf("node %d answered %d %s: %s", e.NodeID, e.StatusCode, e.Code, e.Message)
}

// Unwrap returns the sentinel of Code, or nil.
func (e *RPCError) Unwrap() error {
	switch e.Code {
	case rpcCodeShardNotFound:
		return ErrShardNotFound
	case rpcCodeProtocolVersion:
		return ErrProtocolVersion
	case rpcCodeCorruptBatch:
		return ErrCorruptBatch
	case rpcCodeBodyTooLarge:
		return ErrBodyTooLarge
	}
	return nil
}

// rpcCodeOf returns the code and HTTP status for a handler-side error.
func rpcCodeOf(err error) (string, int) {
	switch {
	case errors.Is(err, ErrProtocolVersion):
		return rpcCodeProtocolVersion, 400
	case errors.Is(err, ErrCorruptBatch):
		return rpcCodeCorruptBatch, 400
	case errors.Is(err, ErrBodyTooLarge):
		return rpcCodeBodyTooLarge, 413
	case errors.Is(err, ErrShardNotFound):
		return rpcCodeShardNotFound, 404
	}
	return rpcCodeInternal, 500
}
