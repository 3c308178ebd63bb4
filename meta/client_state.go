package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/strata-db/strata/internal/durable"
)

// stateFileVersion is the format version of the client's state file.
const stateFileVersion = 1

// stateFile is the content of ClientConfig.StatePath: the last cluster
// state the client saw, so its node can start without meta.
type stateFile struct {
	Version int       `json:"version"`
	SavedAt time.Time `json:"saved_at"`
	Data    *Data     `json:"data"`
}

// loadState reads StatePath. A missing file is no saved state; an
// unreadable one is logged and ignored (meta is the source of truth, so the
// node then waits for it as a new node would).
func (c *Client) loadState() *Data {
	if c.cfg.StatePath == "" {
		return nil
	}
	b, err := os.ReadFile(c.cfg.StatePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var sf stateFile
	if err == nil {
		err = json.Unmarshal(b, &sf)
	}
	if err == nil && (sf.Version != stateFileVersion || sf.Data == nil) {
		err = fmt.Errorf("version %d with data %t, want version %d with data", sf.Version, sf.Data != nil, stateFileVersion)
	}
	if err != nil {
		c.logger.Warn("saved cluster state unusable; ignoring it and waiting for meta", "path", c.cfg.StatePath, "err", err)
		return nil
	}
	return sf.Data
}

// saveState writes d to StatePath atomically. The file is private to the
// node's user: it holds the users' password hashes.
func (c *Client) saveState(d *Data) error {
	b, err := json.Marshal(stateFile{Version: stateFileVersion, SavedAt: time.Now().UTC(), Data: d})
	if err != nil {
		return fmt.Errorf("encode cluster state: %w", err)
	}
	if err := durable.ReplaceFilePerm(c.cfg.StatePath, b, 0o600); err != nil {
		return fmt.Errorf("save cluster state: %w", err)
	}
	return nil
}

// saveLoop writes the cached state to StatePath whenever it changes, at
// most once per StateSaveInterval (a failed write is retried after that
// pause), and once more on Close if it changed since. saved is the index
// already on disk.
func (c *Client) saveLoop(saved uint64) {
	pause := time.NewTimer(time.Hour)
	pause.Stop()
	defer pause.Stop()
	save := func() bool {
		d := c.Data()
		if d == nil || d.Index == saved {
			return true
		}
		if err := c.saveState(d); err != nil {
			c.logger.Warn("cannot save the cluster state; a restart without meta would start from an older one", "path", c.cfg.StatePath, "err", err)
			return false
		}
		saved = d.Index
		return true
	}
	for {
		changed := c.WaitForDataChanged()
		if save() {
			select {
			case <-c.stopCh:
				save()
				return
			case <-changed:
			}
		}
		pause.Reset(c.cfg.StateSaveInterval)
		select {
		case <-c.stopCh:
			save()
			return
		case <-pause.C:
		}
	}
}
