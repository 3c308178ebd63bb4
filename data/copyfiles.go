package data

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/tsdb"
)

// CopyFilesPath is the internode endpoint a copy's destination calls on
// its source (POST ?shard=ID[&digests=1]) for the shard's files: the
// source snapshots the shard's cache, pins its immutable files
// (tsdb.Shard.ExportFiles) and streams them as a shard file stream. With
// digests=1 the data files' digest files come too, so the destination
// computes its Merkle root without decoding values; a destination of an
// older version does not ask for them (it would refuse their names).
//
// A shard file stream is "SCF" and a version byte, the file count
// (uvarint), then per file its name (uvarint length, bytes), its size
// (uvarint), its content and the SHA-256 of the content, and at the end
// "SCFE". The receiver checks every size and checksum and the end mark,
// so a torn or corrupt transfer never becomes a shard.
const CopyFilesPath = "/rpc/v1/copy/files"

var (
	fileStreamMagic = []byte{'S', 'C', 'F', 1}
	fileStreamEnd   = []byte("SCFE")
)

// maxCopiedFiles and maxCopiedName bound what a receiver accepts.
const (
	maxCopiedFiles = 1 << 20
	maxCopiedName  = 256
)

// errCopyCorrupt is a shard file stream whose bytes are wrong: a size,
// checksum, name or end mark that does not match. A cut connection is not
// one (it is retried).
var errCopyCorrupt = errors.New("corrupt shard file stream")

// writeShardFiles streams the pinned files to w.
func writeShardFiles(w io.Writer, files []tsdb.ExportedFile) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var hdr []byte
	hdr = append(hdr, fileStreamMagic...)
	hdr = binary.AppendUvarint(hdr, uint64(len(files)))
	if _, err := bw.Write(hdr); err != nil {
		return 0, err
	}
	var total int64
	for _, f := range files {
		var fh []byte
		fh = binary.AppendUvarint(fh, uint64(len(f.Name)))
		fh = append(fh, f.Name...)
		fh = binary.AppendUvarint(fh, uint64(f.Size))
		if _, err := bw.Write(fh); err != nil {
			return total, err
		}
		rc, err := f.Open()
		if err != nil {
			return total, fmt.Errorf("open %s: %w", f.Name, err)
		}
		sum := sha256.New()
		n, err := io.Copy(io.MultiWriter(bw, sum), io.LimitReader(rc, f.Size))
		rc.Close()
		total += n
		if err != nil {
			return total, fmt.Errorf("send %s: %w", f.Name, err)
		}
		if n != f.Size {
			return total, fmt.Errorf("send %s: read %d of its %d bytes", f.Name, n, f.Size)
		}
		if _, err := bw.Write(sum.Sum(nil)); err != nil {
			return total, err
		}
	}
	if _, err := bw.Write(fileStreamEnd); err != nil {
		return total, err
	}
	return total, bw.Flush()
}

// readShardFiles writes the files of a shard file stream into dir,
// checking names, sizes, checksums and the end mark. Bad bytes are an
// error wrapping errCopyCorrupt; the caller discards dir on any error.
func readShardFiles(ctx context.Context, r io.Reader, dir string) error {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(fileStreamMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return fmt.Errorf("shard file stream header: %w", err)
	}
	if string(magic) != string(fileStreamMagic) {
		return fmt.Errorf("%w: not a version %d shard file stream", errCopyCorrupt, fileStreamMagic[3])
	}
	count, err := binary.ReadUvarint(br)
	if err != nil {
		return fmt.Errorf("shard file stream header: %w", err)
	}
	if count > maxCopiedFiles {
		return fmt.Errorf("%w: %d files", errCopyCorrupt, count)
	}
	seen := map[string]bool{}
	for range count {
		if err := ctx.Err(); err != nil {
			return err
		}
		nameLen, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("shard file stream: %w", err)
		}
		if nameLen > maxCopiedName {
			return fmt.Errorf("%w: file name of %d bytes", errCopyCorrupt, nameLen)
		}
		nb := make([]byte, nameLen)
		if _, err := io.ReadFull(br, nb); err != nil {
			return fmt.Errorf("shard file stream: %w", err)
		}
		name := string(nb)
		if !tsdb.ValidExportedFileName(name) || seen[name] {
			return fmt.Errorf("%w: file name %q", errCopyCorrupt, name)
		}
		seen[name] = true
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("shard file stream: %w", err)
		}
		if err := receiveFile(br, filepath.Join(dir, filepath.FromSlash(name)), int64(size)); err != nil {
			return fmt.Errorf("receive %s: %w", name, err)
		}
	}
	end := make([]byte, len(fileStreamEnd))
	if _, err := io.ReadFull(br, end); err != nil {
		return fmt.Errorf("shard file stream cut before its end mark: %w", err)
	}
	if string(end) != string(fileStreamEnd) {
		return fmt.Errorf("%w: bad end mark", errCopyCorrupt)
	}
	return nil
}

// receiveFile writes size bytes of br to path, then checks them against
// the SHA-256 that follows, and syncs the file.
func receiveFile(br *bufio.Reader, path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), io.LimitReader(br, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("stream cut after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	want := make([]byte, sha256.Size)
	if _, err := io.ReadFull(br, want); err != nil {
		return fmt.Errorf("checksum: %w", err)
	}
	if string(want) != string(sum.Sum(nil)) {
		return fmt.Errorf("%w: checksum mismatch", errCopyCorrupt)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// serveShardFiles is CopyFilesPath on a copy's source.
func serveShardFiles(store *tsdb.Store, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.URL.Query().Get("shard"), 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "shard must be a shard id")
			return
		}
		sh := store.Shard(id)
		if sh == nil {
			httpError(w, http.StatusNotFound, fmt.Sprintf("shard %d: %v", id, tsdb.ErrShardNotFound))
			return
		}
		set, err := sh.ExportFiles(tsdb.ExportOptions{Digests: r.URL.Query().Get("digests") == "1"})
		if err != nil {
			httpError(w, http.StatusInternalServerError, err.Error())
			return
		}
		defer set.Release()
		w.Header().Set("Content-Type", "application/octet-stream")
		n, err := writeShardFiles(w, set.Files)
		if err != nil {
			// The status is sent; the receiver sees a stream without its end.
			logger.Warn("shard file stream failed", "shard_id", id, "error", err)
			return
		}
		logger.Info("streamed shard files to a copy", "shard_id", id, "files", len(set.Files), "bytes", n)
	})
}

// copyFilesFrom installs shard from source's files (the file-level copy),
// reading them through pace (copy-rate-limit) and telling received how
// many bytes of the stream arrived as they arrive. It reports false, and
// does nothing, when this node holds the shard already (the copy then
// moves values) or the source does not serve files (an older version).
func copyFilesFrom(ctx context.Context, store *tsdb.Store, peers *antientropy.HTTPPeers, pace func(context.Context, io.Reader) io.Reader,
	shard, source uint64, received func(int64)) (bool, error) {
	if store.Shard(shard) != nil {
		return false, nil
	}
	rc, err := peers.Post(ctx, source, CopyFilesPath+"?digests=1&shard="+strconv.FormatUint(shard, 10), nil)
	if pe := (*antientropy.PeerError)(nil); errors.As(err, &pe) && (pe.StatusCode == http.StatusNotFound || pe.StatusCode == http.StatusMethodNotAllowed) && pe.Code == "" {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer rc.Close()
	err = store.InstallShard(shard, func(dir string) error {
		return readShardFiles(ctx, progressReader{pace(ctx, rc), received}, dir)
	})
	if errors.Is(err, tsdb.ErrShardExists) {
		return false, nil
	}
	return err == nil, err
}

// progressReader tells received how many bytes each Read returned.
type progressReader struct {
	r        io.Reader
	received func(int64)
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.received(int64(n))
	}
	return n, err
}
