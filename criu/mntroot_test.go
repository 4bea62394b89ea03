package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// TestRestoreBindOfRootDir dumps a sleep pivot_root'ed into a rootfs in
// which a directory of the rootfs itself is bound elsewhere (no other
// mount holds that directory, as in upstream zdtm's bind-mount in its ns
// flavor), and restores it with --root: the bind is made again from
// that directory of the new root, a bind and not a copy.
func TestRestoreBindOfRootDir(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	r, cmd := startRootfsCT(t, "echo before > src/f; mount --bind src dst")
	pid := cmd.Process.Pid
	dir := t.TempDir()
	if b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", dir, "-o", "dump.log", "-v4", "--external", "mnt[/usr]:usr").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
		t.Fatalf("dump: %v\n%s\n%s", err, b, log)
	}
	cmd.Wait()
	pidfile := filepath.Join(dir, "pid")
	npid := restoreDetached(t, exec.Command(criu, "restore", "-D", dir, "-d", "-o", "restore.log", "-v4", "--root", r, "--external", "mnt[usr]:/usr", "--pidfile", pidfile), dir, pidfile, "")
	mi, err := os.ReadFile("/proc/" + strconv.Itoa(npid) + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == "/dst" && strings.HasSuffix(f[3], "/rootfs/src") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no /dst bound from the rootfs's src after restore:\n%s", mi)
	}
	root := "/proc/" + strconv.Itoa(npid) + "/root"
	if got, err := os.ReadFile(root + "/dst/f"); err != nil || string(got) != "before\n" {
		t.Errorf("/dst/f: %q, %v", got, err)
	}
	if err := os.WriteFile(root+"/dst/after", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r, "src", "after")); err != nil {
		t.Errorf("a file made in /dst is not in the rootfs's src: %v", err)
	}
}

// startRootfsCT starts a sleep pivot_root'ed into a rootfs of its own
// (the host's /usr bound read-only, a proc), after the shell commands
// extra run in the rootfs, and returns the rootfs and the sleep's pid.
func startRootfsCT(t *testing.T, extra string) (string, *exec.Cmd) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	r := filepath.Join(t.TempDir(), "rootfs")
	script := `set -e; R=` + r + `; mkdir -p $R; mount --bind $R $R; cd $R
mkdir usr proc old src dst; ln -s usr/bin bin; ln -s usr/lib lib; ln -s usr/lib64 lib64
mount --bind /usr usr; mount -o remount,bind,ro usr; mount -t proc proc proc
echo before > src/f; mount --bind src dst
` + extra + `
pivot_root . old; cd /; umount -l /old
for fd in /proc/$$/fd/*; do n=${fd##*/}; eval "exec $n>&-"; done
exec sleep 100000`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "bash", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	for i := 0; ; i++ {
		if c, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(c)) == "sleep" {
			break
		}
		if i > 500 {
			t.Fatal("the container did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r, cmd
}

// An unbindable tmpfs that no path leads to any more (a tmpfs mounted
// over it), whose files the dump reads from its mount point, is refused
// at dump by name; so is a bind of a directory deleted since whose mode
// is not its mount point's, or of a file deleted since with data
// (restore makes them again as CRIU: as the node under the mount, empty).
func TestDumpRefusesCoveredMounts(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	for _, c := range []struct{ extra, want string }{
		{"", ""},
		// src bound twice at dst (startRootfsCT binds it once): the
		// same mount stacked on itself, which restore makes again.
		{"mount --bind src dst", ""},
		{"mkdir v; mount -t tmpfs ubt v; mount --make-unbindable v; mount -t tmpfs over v", "mount /v (tmpfs, source ubt, root /): unsupported: an unbindable tmpfs covered"},
		{"mkdir -m 700 gone; mkdir -m 755 bound; mount --bind gone bound; rmdir gone", "rootfs/gone//deleted): unsupported: a bind of a node deleted since, of mode 040700 and owner 0:0, over a node of mode 040755"},
		{"echo data > gone; touch bound; mount --bind gone bound; rm gone", "rootfs/gone//deleted): unsupported: a bind of a file deleted since, of 5 bytes"},
	} {
		_, cmd := startRootfsCT(t, c.extra)
		pid := cmd.Process.Pid
		dir := t.TempDir()
		b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", dir, "--external", "mnt[/usr]:usr").CombinedOutput()
		if c.want == "" {
			if err != nil {
				t.Errorf("dump of the rootfs alone: %v\n%s", err, b)
			}
			continue
		}
		if err == nil || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: dump: %v\n%s\nwant a refusal naming %q", c.extra, err, b, c.want)
		}
		if !crtest.Alive(pid) {
			t.Errorf("%s: the refused dump did not leave the tree running", c.extra)
		}
	}
}

// An unbindable tmpfs (with a bind of one of its directories made
// before it was made unbindable, as upstream zdtm's unbindable) is
// dumped with its files, read from the mount itself (no clone of an
// unbindable mount), and restored unbindable, the bind made again;
// with a mount below it, it is refused by name (its archive would miss
// what that mount covers).
func TestRestoreUnbindableTmpfs(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	_, below := startRootfsCT(t, "mkdir ub; mount -t tmpfs ubt ub; mkdir ub/sub; mount -t tmpfs inner ub/sub; mount --make-unbindable ub")
	b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(below.Process.Pid), "-D", t.TempDir(), "--external", "mnt[/usr]:usr").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "mount /ub (tmpfs, source ubt, root /): unsupported: an unbindable tmpfs with a mount below it (/ub/sub)") {
		t.Errorf("dump of an unbindable tmpfs with a mount below: %v\n%s", err, b)
	}
	r, cmd := startRootfsCT(t, "mkdir ub ubb; mount -t tmpfs ubt ub; mkdir ub/aux; echo kept > ub/aux/f; mount --bind ub/aux ubb; mount --make-unbindable ub")
	pid := cmd.Process.Pid
	dir := t.TempDir()
	if b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", dir, "-o", "dump.log", "-v4", "--external", "mnt[/usr]:usr").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
		t.Fatalf("dump: %v\n%s\n%s", err, b, log)
	}
	cmd.Wait()
	pidfile := filepath.Join(dir, "pid")
	npid := restoreDetached(t, exec.Command(criu, "restore", "-D", dir, "-d", "-o", "restore.log", "-v4", "--root", r, "--external", "mnt[usr]:/usr", "--pidfile", pidfile), dir, pidfile, "")
	mi, err := os.ReadFile("/proc/" + strconv.Itoa(npid) + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var ub, ubb string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == "/ub" {
			ub = l
		} else if len(f) > 4 && f[4] == "/ubb" {
			ubb = l
		}
	}
	if !strings.Contains(ub, " unbindable ") || !strings.Contains(ubb, " /aux /ubb ") || strings.Contains(ubb, "unbindable") {
		t.Errorf("after restore, /ub %q (want unbindable), /ubb %q (want a bindable bind of /aux):\n%s", ub, ubb, mi)
	}
	root := "/proc/" + strconv.Itoa(npid) + "/root"
	for _, p := range []string{"/ub/aux/f", "/ubb/f"} {
		if got, err := os.ReadFile(root + p); err != nil || string(got) != "kept\n" {
			t.Errorf("%s: %q, %v", p, got, err)
		}
	}
}

// Peer groups of slaves are made again (upstream zdtm's
// shared_slave_mount_children and mount_complex_sharing failed restore
// with MOVE_MOUNT_SET_GROUP EINVAL): a and b, binds of the shared tmpfs
// s made a slave of it and then shared, are one peer group, slaves of
// s's; c, a bind of a directory of a, is in their group too; a tmpfs
// mounted in a propagated to b, both in a group of their own. After
// restore the groups and masters are as they were (their ids are new).
func TestRestoreSlavePeerGroups(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	r, cmd := startRootfsCT(t, `mkdir s a b c; mount -t tmpfs sh s; mkdir s/sub s/x; mount --make-shared s
mount --bind s a; mount --make-slave a; mount --make-shared a; mount --bind a/sub c; mount --bind a b; mount -t tmpfs ch a/x`)
	pid := cmd.Process.Pid
	// groups are the peer group and master of /s, /a, /b, /c, /a/x and
	// /b/x, by mount point, renamed in order of first sight.
	groups := func(pid int) string {
		mi, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		name := func(id string) string {
			if names[id] == "" {
				names[id] = "g" + strconv.Itoa(len(names)+1)
			}
			return names[id]
		}
		got := map[string]string{}
		for _, l := range strings.Split(string(mi), "\n") {
			f := strings.Fields(l)
			if len(f) < 7 {
				continue
			}
			var tags []string
			for _, o := range f[6:] {
				if o == "-" {
					break
				}
				if k, v, ok := strings.Cut(o, ":"); ok && (k == "shared" || k == "master") {
					tags = append(tags, k+"="+name(v))
				}
			}
			got[f[4]] = strings.Join(tags, ",")
		}
		var out []string
		for _, p := range []string{"/s", "/a", "/b", "/c", "/a/x", "/b/x"} {
			out = append(out, p+":"+got[p])
		}
		return strings.Join(out, " ")
	}
	before := groups(pid)
	if want := "/s:shared=g1 /a:shared=g2,master=g1 /b:shared=g2,master=g1 /c:shared=g2,master=g1 /a/x:shared=g3 /b/x:shared=g3"; before != want {
		t.Fatalf("before the dump: %s, want %s", before, want)
	}
	dir := t.TempDir()
	if b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", dir, "-o", "dump.log", "-v4", "--external", "mnt[/usr]:usr").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
		t.Fatalf("dump: %v\n%s\n%s", err, b, log)
	}
	cmd.Wait()
	pidfile := filepath.Join(dir, "pid")
	npid := restoreDetached(t, exec.Command(criu, "restore", "-D", dir, "-d", "-o", "restore.log", "-v4", "--root", r, "--external", "mnt[usr]:/usr", "--pidfile", pidfile), dir, pidfile, "")
	if after := groups(npid); after != before {
		t.Errorf("after restore: %s, want %s", after, before)
	}
}

// Mounts covered since they were made are made again under the mounts
// that cover them: restore makes each through its parent's fd, and
// reaches it by its own afterwards. Two layouts: a read-only bind below a
// directory a tmpfs was then mounted over and a proc with a tmpfs
// stacked on it (upstream zdtm's mntns_overmount), and the copy of s/d
// that propagation put at s/a/b/c under the shared s after s/a was bound
// over s/a (overmount_with_shared_parent), and two covered tmpfs, one
// with a tmpfs stacked on it (tempfs_overmounted01), one below a
// directory a tmpfs was mounted over (tempfs_overmounted), whose files
// the dump reads in a copy of the namespace where they are uncovered.
// The mount table is the same
// after restore (mount points, filesystems, read-only or not, roots,
// parents' mount points, shared or slave or not), and the covering tmpfs
// has its file.
func TestRestoreCoveredMounts(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	for _, c := range []struct {
		extra string
		want  []string
	}{
		{`mkdir -p o/a/b p; mount --bind src o/a/b; mount -o remount,bind,ro o/a/b; mount -t tmpfs over o/a; echo top > o/a/f
mount -t proc proc p; mount -t tmpfs ptop p`, []string{"/o/a/b on / ext4 ro=true root src", "/o/a on / tmpfs", "/p on / proc", "/p on /p tmpfs"}},
		{"mkdir -p s/a/b/c s/d; mount --bind s s; mount --make-shared s; mount --bind s/a/b s/a; mount --bind s/d s/a/c",
			[]string{"/s/a/b/c on /s ext4 ro=false root d shared", "/s/a on /s ext4 ro=false root b shared"}},
		{"mkdir t; mount -t tmpfs low t; echo low > t/f; mount -t tmpfs high t", []string{"/t on / tmpfs", "/t on /t tmpfs"}},
		// Binds of a directory and of an empty file deleted since
		// (upstream zdtm's mntns_deleted), one on a tmpfs.
		{"mkdir gone bound w; mount --bind gone bound; rmdir gone; mount -t tmpfs w w; touch w/f w/g; mount --bind w/f w/g; rm w/f",
			[]string{"/bound on / ext4 ro=false root deleted", "/w/g on /w tmpfs ro=false root deleted"}},
		{"mkdir -p u; mount -t tmpfs u u; mkdir -p u/a/b; mount -t tmpfs inner u/a/b; echo inner > u/a/b/f; mount -t tmpfs over u/a",
			[]string{"/u/a/b on /u tmpfs", "/u/a on /u tmpfs"}},
	} {
		r, cmd := startRootfsCT(t, c.extra)
		pid := cmd.Process.Pid
		before := mountTable(t, pid)
		for _, want := range c.want {
			if !strings.Contains(before, want) {
				t.Fatalf("before the dump, no %q in:\n%s", want, before)
			}
		}
		dir := t.TempDir()
		if b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", dir, "-o", "dump.log", "-v4", "--external", "mnt[/usr]:usr").CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
			t.Fatalf("dump: %v\n%s\n%s", err, b, log)
		}
		cmd.Wait()
		pidfile := filepath.Join(dir, "pid")
		npid := restoreDetached(t, exec.Command(criu, "restore", "-D", dir, "-d", "-o", "restore.log", "-v4", "--root", r, "--external", "mnt[usr]:/usr", "--pidfile", pidfile), dir, pidfile, "")
		if after := mountTable(t, npid); after != before {
			t.Errorf("mount table after restore:\n%s\nwant:\n%s", after, before)
		}
		if strings.Contains(c.extra, "o/a/f") {
			if got, err := os.ReadFile("/proc/" + strconv.Itoa(npid) + "/root/o/a/f"); err != nil || string(got) != "top\n" {
				t.Errorf("/o/a/f: %q %v", got, err)
			}
		}
		// A covered tmpfs has its files: seen once what covers it
		// is unmounted, in the restored container.
		for _, u := range []struct{ cover, file, want string }{{"/t", "/t/f", "low\n"}, {"/u/a", "/u/a/b/f", "inner\n"}} {
			if !strings.Contains(c.extra, u.file[1:]) {
				continue
			}
			out, err := exec.Command("nsenter", "-t", strconv.Itoa(npid), "-m", "sh", "-c", "umount "+u.cover+" && cat "+u.file).CombinedOutput()
			if err != nil || string(out) != u.want {
				t.Errorf("%s under %s after restore: %q %v, want %q", u.file, u.cover, out, err, u.want)
			}
		}
	}
}

// mountTable is task pid's mount table, one sorted line a mount: its
// mount point, its parent's, fstype, read-only or not, the last element
// of its root, and whether it is shared or a slave.
func mountTable(t *testing.T, pid int) string {
	t.Helper()
	mi, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	point := map[string]string{}
	var lines [][]string
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		if len(f) < 10 {
			continue
		}
		point[f[0]] = f[4]
		lines = append(lines, f)
	}
	var out []string
	for _, f := range lines {
		i := slices.Index(f, "-")
		l := fmt.Sprintf("%s on %s %s ro=%v root %s", f[4], point[f[1]], f[i+1], strings.HasPrefix(f[5], "ro"), filepath.Base(f[3]))
		for _, o := range f[6:i] {
			if k, _, ok := strings.Cut(o, ":"); ok && (k == "shared" || k == "master") {
				l += " " + k
			}
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// A container task whose cwd a mount was made over since it went there
// is refused at dump by name: restore chdirs by path, into the mount.
func TestDumpRefusesCoveredCwd(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	// As startRootfsCT's container, but the sleep runs in /w/in, which
	// a tmpfs mounted at /w then covers.
	r := filepath.Join(t.TempDir(), "rootfs")
	script := `set -e; R=` + r + `; mkdir -p $R; mount --bind $R $R; cd $R
mkdir usr proc old w; mkdir w/in; ln -s usr/bin bin; ln -s usr/lib lib; ln -s usr/lib64 lib64
mount --bind /usr usr; mount -o remount,bind,ro usr; mount -t proc proc proc
pivot_root . old; cd /; umount -l /old
for fd in /proc/$$/fd/*; do n=${fd##*/}; eval "exec $n>&-"; done
cd /w/in; mount -t tmpfs over /w
exec sleep 100000`
	c := exec.Command("unshare", "-m", "--propagation", "private", "bash", "-c", script)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	pid := c.Process.Pid
	for i := 0; ; i++ {
		if cm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(cm)) == "sleep" {
			break
		}
		if i > 500 {
			t.Fatal("the container did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", t.TempDir(), "--external", "mnt[/usr]:usr").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "its cwd /w/in: unsupported: covered by a mount made over it") {
		t.Errorf("dump of a task whose cwd is covered: %v\n%s", err, b)
	}
	if !crtest.Alive(pid) {
		t.Error("the refused dump did not leave the tree running")
	}
}
