package mntns

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mntns/tmpfs"
	"github.com/criugo/criu/criu/nsenter/nstest"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// startContainer starts a sleep pivot_root'ed into a rootfs made in a
// temporary directory: the host's /usr bound read-only, a tmpfs /tmp, a
// proc, the old root detached. It returns its pid.
func startContainer(t *testing.T) int {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount namespaces, pivot_root)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	r := filepath.Join(t.TempDir(), "rootfs")
	script := `set -e; R=` + r + `; mkdir -p $R; mount --bind $R $R; cd $R
mkdir usr tmp proc old; ln -s usr/bin bin; ln -s usr/lib lib; ln -s usr/lib64 lib64
mount --bind /usr usr; mount -o remount,bind,ro usr
mount -t tmpfs -o size=1m,mode=1777 ctmp tmp; mount -t proc proc proc
echo hello > tmp/f; ln tmp/f tmp/hl; ln -s f tmp/sl; mkfifo tmp/fifo; mkdir -p tmp/d/sub
chown 1234:5678 tmp/d; chmod 0710 tmp/d; mknod tmp/null c 1 3
mount --make-shared tmp; mkdir bnd; mount --bind tmp/d bnd
pivot_root . old; cd /; umount -l /old
for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done
exec sleep 100000`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "bash", "-c", script)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	for i := 0; ; i++ {
		b, _ := os.ReadFile(procfs.Path(pid, "comm"))
		if strings.TrimSpace(string(b)) == "sleep" {
			return pid
		}
		if i > 500 {
			t.Fatal("the container did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readEntries(t *testing.T, store image.Store, id uint32) []*images.MntEntry {
	t.Helper()
	ms, err := image.ReadAll(context.Background(), store, ImageName(id), func() proto.Message { return &images.MntEntry{} })
	if err != nil {
		t.Fatal(err)
	}
	var out []*images.MntEntry
	for _, m := range ms {
		out = append(out, m.(*images.MntEntry))
	}
	return out
}

func TestDumpContainer(t *testing.T) {
	ctx := context.Background()
	log := zerolog.New(zerolog.NewTestWriter(t))
	pid := startContainer(t)

	// /usr is a bind of the host's: refused until named external.
	err := Dump(ctx, nstest.Dir(t), pid, 3, DumpOptions{}, log)
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "mount /usr ") {
		t.Fatalf("dump with an unnamed bind of /usr: %v", err)
	}
	// A mount point named external where there is none is ignored (a
	// warning), as CRIU: LXC names its optional binds whether they are
	// there or not.
	if err := Dump(ctx, nstest.Dir(t), pid, 3, DumpOptions{External: map[string]string{"/usr": "usr", "/nowhere": "k"}}, log); err != nil {
		t.Fatalf("an external mount point with no mount: %v", err)
	}

	store := nstest.Dir(t)
	if err := Dump(ctx, store, pid, 3, DumpOptions{External: map[string]string{"/usr": "usr"}}, log); err != nil {
		t.Fatal(err)
	}
	es := readEntries(t, store, 3)
	if len(es) != 5 {
		t.Fatalf("%d mounts, want 5: %v", len(es), es)
	}
	if es[0].GetMountpoint() != "/" || es[0].GetFstype() != 0 && es[0].GetFsname() != "" {
		t.Errorf("root mount %v", es[0])
	}
	by := map[string]*images.MntEntry{}
	for _, e := range es[1:] {
		by[e.GetMountpoint()] = e
		if e.GetParentMntId() != es[0].GetMntId() {
			t.Errorf("%s: parent %d, want the root %d", e.GetMountpoint(), e.GetParentMntId(), es[0].GetMntId())
		}
	}
	usr, tmp, prc := by["/usr"], by["/tmp"], by["/proc"]
	if usr == nil || usr.GetExtMount() || usr.GetExtKey() != "usr" || usr.GetFlags()&unix.MS_RDONLY == 0 || usr.GetRoot() != "/usr" {
		t.Errorf("/usr: %v", usr)
	}
	if tmp == nil || tmp.GetFstype() != 5 || tmp.GetSource() != "ctmp" || !strings.Contains(tmp.GetOptions(), "size=1024k") || tmp.GetFlags()&unix.MS_RDONLY != 0 {
		t.Errorf("/tmp: %v", tmp)
	}
	// A bind of a part of the shared tmpfs: in its peer group.
	if b := by["/bnd"]; b == nil || b.GetRoot() != "/d" || b.GetRootDev() != tmp.GetRootDev() || tmp.GetSharedId() == 0 || b.GetSharedId() != tmp.GetSharedId() {
		t.Errorf("/bnd: %v (tmp %v)", b, tmp)
	}
	if prc == nil || prc.GetFstype() != 1 {
		t.Errorf("/proc: %v", prc)
	}
	checkTar(t, filepath.Join(store.Path(), tmpfs.ImageName(tmp.GetRootDev())))
	// CRIU's decoder reads it.
	if crit, err := exec.LookPath("crit"); err == nil {
		out, err := exec.Command(crit, "decode", "-i", filepath.Join(store.Path(), ImageName(3))).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"ext_key": "usr"`) || !strings.Contains(string(out), `"MNTS"`) {
			t.Errorf("crit decode: %v\n%s", err, out)
		}
	}
}

func TestDumpCopyOfCriusNamespace(t *testing.T) {
	ctx := context.Background()
	pid := nstest.Start(t, unix.CLONE_NEWNS)
	ms, err := procfs.ReadMountInfo(pid)
	if err != nil {
		t.Fatal(err)
	}
	store := nstest.Dir(t)
	if err := Dump(ctx, store, pid, 9, DumpOptions{}, zerolog.New(zerolog.NewTestWriter(t))); err != nil {
		t.Fatal(err)
	}
	es := readEntries(t, store, 9)
	if len(es) != len(ms) || es[0].GetMountpoint() != "/" {
		t.Fatalf("%d entries for %d mounts, first %v", len(es), len(ms), es[0])
	}
}

func TestParseExternalMnt(t *testing.T) {
	p, k, ok, err := ParseExternalMnt("mnt[/etc/hosts]:hosts")
	if p != "/etc/hosts" || k != "hosts" || !ok || err != nil {
		t.Errorf("got %q %q %v %v", p, k, ok, err)
	}
	if _, _, ok, _ := ParseExternalMnt("veth[a]:b"); ok {
		t.Error("veth parsed as mnt")
	}
	for _, bad := range []string{"mnt[]:k", "mnt[/a]", "mnt[/a]:"} {
		if _, _, _, err := ParseExternalMnt(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// checkTar reads the tmpfs archive of the container's /tmp.
func checkTar(t *testing.T, name string) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]*tar.Header{}
	data := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		b, _ := io.ReadAll(tr)
		data[h.Name] = string(b)
	}
	if h := got["./"]; h == nil || h.Mode&0o7777 != 0o1777 {
		t.Errorf("root: %+v", h)
	}
	if h := got["./f"]; h == nil || data["./f"] != "hello\n" {
		t.Errorf("f: %+v %q", h, data["./f"])
	}
	if h := got["./hl"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "./f" {
		t.Errorf("hard link: %+v", h)
	}
	if h := got["./sl"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "f" {
		t.Errorf("symlink: %+v", h)
	}
	if h := got["./fifo"]; h == nil || h.Typeflag != tar.TypeFifo {
		t.Errorf("fifo: %+v", h)
	}
	if h := got["./null"]; h == nil || h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3 {
		t.Errorf("device: %+v", h)
	}
	if h := got["./d/"]; h == nil || h.Uid != 1234 || h.Gid != 5678 || h.Mode&0o7777 != 0o710 || got["./d/sub/"] == nil {
		t.Errorf("dir: %+v", h)
	}
	// GNU tar lists it too.
	if out, err := exec.Command("tar", "-tzvf", name).CombinedOutput(); err != nil || !strings.Contains(string(out), "./d/sub/") {
		t.Errorf("tar -t: %v\n%s", err, out)
	}
}
