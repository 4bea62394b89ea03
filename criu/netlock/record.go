package netlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RecordDir holds a record per lock (doc.go). A variable for tests.
var RecordDir = "/run/criu-netlock"

const (
	stateLocking = "locking" // a criu is dumping (or restoring) under it
	stateDumped  = "dumped"  // the dump succeeded: it waits for the restore
	stateGone    = ""        // not held by this process any more
)

// errAbsent is a lock to lift that is not there.
var errAbsent = errors.New("no such lock")

// record is what RecordDir/ID.json holds.
type record struct {
	ID     string `json:"id"`
	Method Method `json:"method"`
	Owner  Task   `json:"owner"`
	// NS is the task whose network namespace is locked whole; nil for
	// the host flavor (criu's own namespace).
	NS *Task `json:"netns,omitempty"`
	// Here is the network namespace criu ran in (net:[INO]), where a
	// host-flavor lock lives: RecordDir may be seen from others (two
	// netns "hosts" on one machine), whose criu leave it alone.
	Here  string `json:"here,omitempty"`
	State string `json:"state"`
	// Conns are the connections of a host-flavor iptables lock, whose
	// rules name them (there is no chain of ours to delete).
	Conns []Conn `json:"conns,omitempty"`
}

// ownNetns is criu's network namespace, as /proc/self/ns/net names it.
func ownNetns() string {
	s, _ := os.Readlink("/proc/thread-self/ns/net")
	return s
}

// elsewhere reports a host-flavor lock of another network namespace.
func (r *record) elsewhere() bool { return r.NS == nil && r.Here != "" && r.Here != ownNetns() }

func (r *record) path() string { return filepath.Join(RecordDir, r.ID+".json") }

// write replaces the record atomically.
func (r *record) write() error {
	if r.ID == "" || strings.ContainsAny(r.ID, "/\"\\ ") {
		return fmt.Errorf("%w: id %q", ErrBadRecord, r.ID)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(RecordDir, 0o700); err != nil {
		return err
	}
	tmp := r.path() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, r.path())
}

func (r *record) remove() { os.Remove(r.path()) }

func readRecord(path string) (record, error) {
	var r record
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil || r.ID == "" || r.ID+".json" != filepath.Base(path) {
		return r, fmt.Errorf("%w: %s", ErrBadRecord, path)
	}
	return r, nil
}

// comment names the lock's owner in the table (or chain) itself.
func (r *record) comment() string {
	return fmt.Sprintf("criugo owner=%d:%d", r.Owner.Pid, r.Owner.Start)
}

// apply makes (lock) or lifts (!lock) the rules of r.
func (r *record) apply(ctx context.Context, lock bool, conns []Conn) error {
	switch r.Method {
	case NFTables:
		return r.nft(ctx, lock, conns)
	case IPTables:
		return r.iptables(ctx, lock, conns)
	}
	return nil
}

// gone reports that r's rules are certainly not there any more (its nft
// table or iptables chain is absent): a restore by another tool (CRIU
// deletes the table it names as we do), or an administrator, lifted it.
// An error of the tool is not gone.
func (r *record) gone(ctx context.Context) bool {
	switch r.Method {
	case NFTables:
		_, err := run(ctx, r.NS, nil, "nft", "list", "table", r.table())
		return isNoEntry(err)
	case IPTables:
		if r.NS == nil && r.Conns != nil {
			for _, c := range r.Conns {
				for _, w := range criuRules(c.unmapped()) {
					_, err := run(ctx, nil, nil, w.tool(), append([]string{"-w", "-t", "filter", "-C"}, w.args()...)...)
					var te *ToolError
					if !errors.As(err, &te) || !strings.Contains(te.Stderr, "matching rule") {
						return false // there, or the tool failed
					}
				}
			}
			return true
		}
		_, err := run(ctx, r.NS, nil, "iptables", "-w", "-S", r.chain())
		var te *ToolError
		return errors.As(err, &te) && strings.Contains(te.Stderr, "No chain")
	}
	return false
}
