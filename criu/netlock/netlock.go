package netlock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Method is how the network is locked (criu --network-lock).
type Method string

const (
	NFTables Method = "nftables" // the default; iptables when nft is missing
	IPTables Method = "iptables"
	Skip     Method = "skip" // nothing is locked
)

// ParseMethod parses --network-lock; "" is the default, NFTables.
func ParseMethod(s string) (Method, error) {
	switch Method(s) {
	case "":
		return NFTables, nil
	case NFTables, IPTables, Skip:
		return Method(s), nil
	}
	return "", fmt.Errorf("%w %q (nftables, iptables or skip)", ErrMethod, s)
}

// Inventory is the method's number in the inventory's
// network_lock_method (CRIU's enum NETWORK_LOCK_METHOD).
func (m Method) Inventory() uint32 {
	switch m {
	case IPTables:
		return 0
	case Skip:
		return 2
	}
	return 1
}

// FromInventory is the method an inventory names; iptables when the
// field is absent, as CRIU reads images of before the field.
func FromInventory(v *uint32) Method {
	if v == nil {
		return IPTables
	}
	switch *v {
	case 0:
		return IPTables
	case 2:
		return Skip
	}
	return NFTables
}

// Resolve is the method a lock is made with: nftables falls back to
// iptables when there is no nft, as the issue asks (CRIU fails instead).
func (m Method) Resolve() (Method, error) {
	switch m {
	case Skip:
		return Skip, nil
	case NFTables:
		if _, err := exec.LookPath("nft"); err == nil {
			return NFTables, nil
		}
		if _, err := exec.LookPath("iptables-restore"); err == nil {
			return IPTables, nil
		}
		return "", ErrNoTool
	}
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoTool, err)
	}
	return IPTables, nil
}

// Conn is one TCP connection of the tree, as its socket sees it.
type Conn struct {
	Local, Remote netip.AddrPort
}

// unmapped is c with IPv4-mapped IPv6 addresses as IPv4: packets of
// such a connection are IPv4 on the wire.
func (c Conn) unmapped() Conn {
	if c.Local.Addr().Is4In6() && c.Remote.Addr().Is4In6() {
		c.Local = netip.AddrPortFrom(c.Local.Addr().Unmap(), c.Local.Port())
		c.Remote = netip.AddrPortFrom(c.Remote.Addr().Unmap(), c.Remote.Port())
	}
	return c
}

// Mark is the packet mark that passes a lock: CRIU's SOCCR_MARK, which
// criu's own sockets set (SO_MARK) to talk through it.
const Mark = 0xC114

// Task names one process across pid reuse: its pid and start time.
type Task struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// TaskOf is the Task of pid now.
func TaskOf(pid int) (Task, error) {
	st, err := procfs.ReadStat(pid)
	if err != nil {
		return Task{}, err
	}
	return Task{Pid: pid, Start: st.StartTime}, nil
}

// alive reports whether t still runs (a zombie does not).
func (t Task) alive() bool {
	st, err := procfs.ReadStat(t.Pid)
	return err == nil && st.StartTime == t.Start && st.State != 'Z' && st.State != 'X'
}

// Lock is a network lock held for one dump (or one restore).
type Lock struct {
	rec record
	log zerolog.Logger
}

// ID is the lock's run id, the inventory's dump_criu_run_id.
func (l *Lock) ID() string { return l.rec.ID }

// Method is how the lock was made (Skip for no lock).
func (l *Lock) Method() Method { return l.rec.Method }

// LockConns locks conns in criu's own network namespace (the host
// flavor): packets of each, both ways, are dropped until Unlock. id is
// the dump's run id. With Skip, or no connection, nothing is locked.
func LockConns(ctx context.Context, m Method, id string, conns []Conn, log zerolog.Logger) (*Lock, error) {
	if len(conns) == 0 {
		m = Skip
	}
	return lock(ctx, m, id, nil, conns, log)
}

// LockNetns locks the whole network namespace of task pid (a tree of
// its own namespace): every packet but criu's own (Mark) is dropped.
func LockNetns(ctx context.Context, m Method, id string, pid int, log zerolog.Logger) (*Lock, error) {
	t, err := TaskOf(pid)
	if err != nil {
		return nil, fmt.Errorf("lock network of %d: %w", pid, err)
	}
	return lock(ctx, m, id, &t, nil, log)
}

func lock(ctx context.Context, m Method, id string, ns *Task, conns []Conn, log zerolog.Logger) (*Lock, error) {
	m, err := m.Resolve()
	if err != nil {
		return nil, err
	}
	l := &Lock{rec: record{ID: id, Method: m, NS: ns, Here: ownNetns(), State: stateLocking}, log: log}
	if m == Skip {
		return l, nil
	}
	if l.rec.Owner, err = TaskOf(os.Getpid()); err != nil {
		return nil, err
	}
	if m == IPTables && ns == nil {
		l.rec.Conns = conns // the rules name them (iptablesConns)
	}
	// The record first: a crash from here on leaves what Sweep needs.
	if err := l.rec.write(); err != nil {
		return nil, fmt.Errorf("lock network: %w", err)
	}
	if err := l.rec.apply(ctx, true, conns); err != nil {
		l.rec.apply(ctx, false, nil) // whatever part was made
		l.rec.remove()
		return nil, fmt.Errorf("lock network: %w", err)
	}
	log.Info().Str("method", string(m)).Str("id", id).Int("conns", len(conns)).Bool("netns", ns != nil).Msg("network locked")
	return l, nil
}

// Unlock lifts the lock and drops its record. Safe on nil and twice.
func (l *Lock) Unlock(ctx context.Context) error {
	if l == nil || l.rec.Method == Skip || l.rec.State == stateGone {
		return nil
	}
	err := l.rec.apply(ctx, false, nil)
	if err == nil {
		l.rec.remove()
		l.rec.State = stateGone
		l.log.Info().Str("id", l.rec.ID).Msg("network unlocked")
	}
	return err
}

// Keep leaves the lock in place after a successful dump, for the
// restore of its images to lift (UnlockDumped): its record says so,
// and Sweep leaves it alone.
func (l *Lock) Keep() error {
	if l == nil || l.rec.Method == Skip || l.rec.State == stateGone {
		return nil
	}
	l.rec.State = stateDumped
	if err := l.rec.write(); err != nil {
		return fmt.Errorf("keep network lock: %w", err)
	}
	l.rec.State = stateGone // this process is done with it
	return nil
}

// UnlockDumped lifts the host-flavor lock of the dump whose run id is
// id, made with m (the inventory's), once its tree is restored. No such
// lock (the dump was of another host, or of a netns, or skipped) is
// not an error.
func UnlockDumped(ctx context.Context, m Method, id string, log zerolog.Logger) error {
	if m == Skip || id == "" {
		return nil
	}
	r := record{ID: id, Method: m}
	if old, err := readRecord(r.path()); err == nil {
		r = old
	}
	if r.NS != nil {
		r.remove() // its namespace went with the dumped tree
		return nil
	}
	if r.elsewhere() {
		return nil // the dump ran in another namespace: its lock is there
	}
	if err := r.apply(ctx, false, nil); err != nil && !errors.Is(err, errAbsent) {
		return fmt.Errorf("unlock network of dump %s: %w", id, err)
	}
	r.remove()
	log.Info().Str("id", id).Msg("network unlocked")
	return nil
}

// UnlockRestored lifts, once the restored tree runs (its root is pid),
// the locks of the dump of run id made with m: the host-flavor lock of
// the dump (UnlockDumped), and the lock of the tree's new network
// namespace that the restore made (netns.RestoreOptions.Lock).
func UnlockRestored(ctx context.Context, m Method, id string, pid int, log zerolog.Logger) error {
	if m == Skip || id == "" {
		return nil
	}
	own, err1 := os.Readlink("/proc/self/ns/net")
	its, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err1 != nil || err2 != nil || own == its {
		return UnlockDumped(ctx, m, id, log)
	}
	r, err := readRecord((&record{ID: id}).path())
	if err != nil {
		// No record: a lock of ours there all the same.
		r = record{ID: id, Method: m}
	}
	if r.Method == "" || r.Method == Skip {
		return nil
	}
	r.NS = &Task{Pid: pid}
	if err := r.apply(ctx, false, nil); err != nil && !errors.Is(err, errAbsent) {
		return fmt.Errorf("unlock network of %d: %w", pid, err)
	}
	r.remove()
	log.Info().Str("id", id).Int("pid", pid).Msg("network unlocked")
	return nil
}

// AfterRestore is UnlockRestored for the images of inventory inv, even
// when ctx has ended (the restore stands); a failure is logged. conns
// are the images' TCP connections (ConnsOf): a dump of CRIU 4.2 locked
// with iptables left a rule per connection and way (unlockCRIUConns).
func AfterRestore(ctx context.Context, inv *images.InventoryEntry, conns []Conn, pid int, log zerolog.Logger) {
	ctx = context.WithoutCancel(ctx)
	m := FromInventory(inv.NetworkLockMethod)
	id := inv.GetDumpCriuRunId()
	_, err := readRecord((&record{ID: id}).path())
	ours := err == nil
	if err := UnlockRestored(ctx, m, id, pid, log); err != nil {
		log.Error().Err(err).Msg("network not unlocked")
	}
	if !ours && m == IPTables && len(conns) > 0 && sameNetns(pid) {
		unlockCRIUConns(ctx, nil, conns, log)
	}
}

func sameNetns(pid int) bool {
	own, err1 := os.Readlink("/proc/self/ns/net")
	its, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	return err1 == nil && err2 == nil && own == its
}

// run runs tool with stdin in the namespace of ns's task, or here.
func run(ctx context.Context, ns *Task, stdin []byte, tool string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var err error
	if ns == nil {
		err = cmd.Start()
	} else {
		err = nsenter.Do(ns.Pid, nsenter.Net, cmd.Start)
	}
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return "", &ToolError{Tool: tool, Stderr: stderr.String(), Err: err}
	}
	return stdout.String(), nil
}
