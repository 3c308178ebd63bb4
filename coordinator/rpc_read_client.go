package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/tsdb/models"
)

var _ RemoteShardReader = (*RPCClient)(nil)

// ScanShard implements RemoteShardReader over the scan RPC: it streams
// the series of shard shardID on node nodeID to fn. The stream must make
// progress: when no frame arrives for Config.RPCTimeout the call fails
// with an error wrapping context.DeadlineExceeded. A stream cut short
// (the peer died) wraps io.ErrUnexpectedEOF; an error the peer reported
// is an *RPCError; fn's error is returned as is.
func (c *RPCClient) ScanShard(ctx context.Context, nodeID, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	wr := scanRequestWire{Shard: shardID, Database: req.Database, RetentionPolicy: req.RetentionPolicy,
		Measurement: req.Measurement, Condition: condString(req.Condition), Fields: req.Fields, Min: req.Min, Max: req.Max,
		Filter: condString(req.Filter), MarkFiltered: req.Filter != nil}
	if req.Window != nil {
		wr.Window = &windowWire{Every: req.Window.Every, Offset: req.Window.Offset, Aggregates: uint8(req.Window.Aggregates)}
	}
	timeout := c.cfg.RPCTimeout.D()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(timeout, func() {
		cancel(fmt.Errorf("no scan frame within %s: %w", timeout, context.DeadlineExceeded))
	})
	defer idle.Stop()

	resp, addr, err := c.postRead(ctx, nodeID, RPCShardScanPath, &wr)
	if err != nil {
		return c.readErr(ctx, "scan", nodeID, shardID, addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.readErr(ctx, "scan", nodeID, shardID, addr, answerError(nodeID, resp))
	}
	var fnErr error
	err = readScanStream(resp.Body, func() { idle.Reset(timeout) }, func(b *query.SeriesBatch) error {
		if err := fn(b); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		var re *RPCError
		if errors.As(err, &re) {
			re.NodeID = nodeID
		}
		return c.readErr(ctx, "scan", nodeID, shardID, addr, err)
	}
	return nil
}

// ShardMeta implements RemoteShardReader over the metadata RPC.
func (c *RPCClient) ShardMeta(ctx context.Context, nodeID, shardID uint64, req *MetaRequest) (MetaResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RPCTimeout.D())
	defer cancel()
	wr := metaRequestWire{Shard: shardID, Kind: uint8(req.Kind), Measurement: req.Measurement, TagKey: req.TagKey, Condition: condString(req.Condition)}
	resp, addr, err := c.postRead(ctx, nodeID, RPCShardMetaPath, &wr)
	if err != nil {
		return MetaResult{}, c.readErr(ctx, "metadata of", nodeID, shardID, addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return MetaResult{}, c.readErr(ctx, "metadata of", nodeID, shardID, addr, answerError(nodeID, resp))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.RPCMaxBodySize+1))
	if err != nil {
		return MetaResult{}, c.readErr(ctx, "metadata of", nodeID, shardID, addr, err)
	}
	if int64(len(raw)) > c.cfg.RPCMaxBodySize {
		return MetaResult{}, c.readErr(ctx, "metadata of", nodeID, shardID, addr,
			fmt.Errorf("answer over %d bytes: %w", c.cfg.RPCMaxBodySize, ErrBodyTooLarge))
	}
	var out metaResultWire
	if err := json.Unmarshal(raw, &out); err != nil {
		return MetaResult{}, c.readErr(ctx, "metadata of", nodeID, shardID, addr, fmt.Errorf("decode answer: %w: %w", ErrCorruptStream, err))
	}
	res := MetaResult{Values: out.Values}
	for _, f := range out.Fields {
		res.Fields = append(res.Fields, query.FieldKey{Name: f.Name, Type: models.FieldType(f.Type)})
	}
	return res, nil
}

// DeleteFromShard implements RemoteShardReader over the delete RPC.
func (c *RPCClient) DeleteFromShard(ctx context.Context, nodeID, shardID uint64, req *DeleteRequest) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RPCTimeout.D())
	defer cancel()
	wr := deleteRequestWire{Shard: shardID, Kind: uint8(req.Kind), Measurement: req.Measurement,
		Condition: condString(req.Condition), Min: req.Min, Max: req.Max}
	resp, addr, err := c.postRead(ctx, nodeID, RPCShardDeletePath, &wr)
	if err != nil {
		return c.readErr(ctx, "delete in", nodeID, shardID, addr, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRPCAnswerSize))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusNoContent {
		return c.readErr(ctx, "delete in", nodeID, shardID, addr, answerError(nodeID, resp))
	}
	return nil
}

// postRead posts a JSON read request to node nodeID, returning its
// address for error messages.
func (c *RPCClient) postRead(ctx context.Context, nodeID uint64, path string, body any) (*http.Response, string, error) {
	data := c.state.Data()
	if data == nil {
		return nil, "", ErrMetaNotReady
	}
	node := data.DataNode(nodeID)
	if node == nil {
		return nil, "", ErrNodeNotFound
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, node.RPCAddr, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+node.RPCAddr+path, bytes.NewReader(b))
	if err != nil {
		return nil, node.RPCAddr, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set(RPCVersionHeader, rpcVersionString)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	return resp, node.RPCAddr, err
}

// answerError reads a JSON error answer into an *RPCError.
func answerError(nodeID uint64, resp *http.Response) error {
	var ans rpcAnswer
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxRPCAnswerSize))
	if rerr != nil || json.Unmarshal(raw, &ans) != nil {
		ans = rpcAnswer{Error: string(bytes.TrimSpace(raw))}
	}
	return &RPCError{NodeID: nodeID, StatusCode: resp.StatusCode, Code: ans.Code, Message: ans.Error}
}

// readErr wraps err with the call's context, preferring the cause of a
// cancelled ctx (the idle timeout) over the transport's "context canceled".
func (c *RPCClient) readErr(ctx context.Context, op string, nodeID, shardID uint64, addr string, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w (%w)", cause, err)
	}
	if addr == "" {
		return fmt.Errorf("%s shard %d on node %d: %w", op, shardID, nodeID, err)
	}
	return fmt.Errorf("%s shard %d on node %d at %s: %w", op, shardID, nodeID, addr, err)
}
