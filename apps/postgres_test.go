package apps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// pgCluster is a postgres cluster in a temporary directory, run as the
// postgres user, reachable only through a unix socket in that directory.
type pgCluster struct {
	t        *testing.T
	dir      string
	uid, gid uint32
	netns    string // the network namespace to run in; "" for ours
	listen   string // listen_addresses; "" for the unix socket only
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// run runs a postgres program as the postgres user.
func (c *pgCluster) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(pgBin, prog), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: c.uid, Gid: c.gid}}
	if c.netns != "" {
		// setns needs root: nsenter switches the user after it.
		argv := in(c.netns, append([]string{filepath.Join(pgBin, prog)}, args...)...)
		argv = append(argv[:2], append([]string{"-S", fmt.Sprint(c.uid), "-G", fmt.Sprint(c.gid)}, argv[2:]...)...)
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	cmd.Dir = c.dir
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func (c *pgCluster) mustRun(ctx context.Context, prog string, args ...string) string {
	c.t.Helper()
	out, err := c.run(ctx, prog, args...)
	if err != nil {
		c.t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
	return out
}

func (c *pgCluster) start(ctx context.Context, log string) {
	c.t.Helper()
	c.mustRun(ctx, "pg_ctl", "-D", c.data(), "-o", "-c listen_addresses='"+c.listen+"' -k "+c.dir, "-l", filepath.Join(c.dir, log), "-w", "start")
}

// sql runs one statement through psql (each psql is a backend of its own
// that exits when psql does).
func (c *pgCluster) sql(ctx context.Context, q string) (string, error) {
	out, err := c.run(ctx, "psql", "-h", c.dir, "-U", "postgres", "-d", "postgres", "-Atq", "-v", "ON_ERROR_STOP=1", "-c", q)
	return strings.TrimSpace(out), err
}

// postmaster is the postmaster's pid, from postmaster.pid.
func (c *pgCluster) postmaster() int {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		c.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		c.t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// closeInherited marks every fd above 2 of the test close-on-exec: an fd
// the test binary inherited (a CI's pipe) would reach the server and
// make the dump refuse it.
func closeInherited() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// children lists the pids whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// backendsGone waits until no client backend of the postmaster is left:
// the pages those backends faulted in are then in no living task's page
// tables, only in the shared memory object.
func backendsGone(t *testing.T, pm int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		kids := children(pm)
		busy := false
		for _, k := range kids {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", k))
			busy = busy || strings.Contains(string(b), "[local]")
		}
		if !busy {
			return kids
		}
		if time.Now().After(deadline) {
			t.Fatal("client backends did not exit")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgres dumps a postgres 15 server whose shared buffers were
// filled by backends that have exited, restores it, and checks that the
// rows are read back, that the indexes verify, and that a clean stop and
// a fresh start find the cluster intact.
func TestPostgres(t *testing.T) {
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		t.Skip("postgresql 15 is not installed")
	}
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	closeInherited()
	criu := crtest.Criu(t)
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("postgres is installed but its user is missing: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{t: t, dir: dir, uid: uint32(uid), gid: uint32(gid)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	c.mustRun(ctx, "initdb", "-D", c.data(), "-A", "trust", "-U", "postgres")
	c.start(ctx, "log")
	var tree []int
	t.Cleanup(func() {
		// Whatever runs is stopped; everything stopped is reaped.
		if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
			c.run(context.Background(), "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
		}
		for _, p := range tree {
			crtest.Reap(p)
		}
	})
	const rows = "20000|200010000"
	if _, err := c.sql(ctx, "create table t(id int primary key, v text);"+
		"insert into t select g, md5(g::text) from generate_series(1, 20000) g;"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := c.sql(ctx, "select count(*) from t where v like '%a%'"); err != nil {
			t.Fatal(err)
		}
	}
	pm := c.postmaster()
	tree = append([]int{pm}, backendsGone(t, pm)...)

	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0700); err != nil {
		t.Fatal(err)
	}
	if out, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pm), "-D", img, "-o", filepath.Join(img, "dump.log"), "-v4"); err != nil {
		t.Fatalf("dump: %v\n%s", err, out)
	}
	for _, p := range tree {
		crtest.Reap(p)
	}
	if out, err := crtest.Run(ctx, criu, "restore", "-D", img, "-d", "-o", filepath.Join(img, "restore.log"), "-v4"); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if got, err := c.sql(ctx, "select count(*), sum(id) from t"); err != nil || got != rows {
		t.Fatalf("after restore: select gives %q, %v (want %q)", got, err, rows)
	}
	if got, err := c.sql(ctx, "create extension amcheck; select bt_index_check('t_pkey', true)"); err != nil {
		t.Fatalf("after restore: amcheck: %q, %v", got, err)
	}
	tree = append([]int{pm}, children(pm)...)
	c.mustRun(ctx, "pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
	for _, p := range tree {
		crtest.Reap(p)
	}

	c.start(ctx, "log2")
	pm = c.postmaster()
	tree = append([]int{pm}, children(pm)...)
	log2, _ := os.ReadFile(filepath.Join(dir, "log2"))
	if strings.Contains(string(log2), "not properly shut down") || strings.Contains(string(log2), "recovery") {
		t.Errorf("the fresh start after a clean stop recovered:\n%s", log2)
	}
	if got, err := c.sql(ctx, "select count(*), sum(id) from t"); err != nil || got != rows {
		t.Fatalf("after a fresh start: select gives %q, %v (want %q)", got, err, rows)
	}
	if got, err := c.sql(ctx, "select bt_index_check('t_pkey', true)"); err != nil {
		t.Fatalf("after a fresh start: amcheck: %q, %v", got, err)
	}
	c.mustRun(ctx, "pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
}
