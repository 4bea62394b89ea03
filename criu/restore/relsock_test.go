package restore_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// relSockProg, run in a container, binds unix sockets to relative
// paths: a listener "rel.sock" from /data/d (its rootfs), with a
// connection accepted (its peer sent "ping"), and from /tmp (its tmpfs)
// a datagram socket "dg.sock" with a datagram queued from "cl.sock",
// connected to it; then it moves its cwd to /. Once /data/go exists
// (after the restore) it writes to /data/result the names and data it
// sees, and what a new client of /data/d/rel.sock sends.
const relSockProg = `python3 -c "
import socket,time,os
os.mkdir('/data/d'); os.chdir('/data/d')
s=socket.socket(socket.AF_UNIX); s.bind('rel.sock'); s.listen(4)
c=socket.socket(socket.AF_UNIX); c.connect('rel.sock')
a,_=s.accept(); c.send(b'ping')
os.chdir('/tmp')
g=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); g.bind('dg.sock')
k=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); k.bind('cl.sock'); k.connect('dg.sock'); k.send(b'dgram')
os.chdir('/')
open('/data/ready','w').write('1')
while not os.path.exists('/data/go'): time.sleep(0.02)
r=[s.getsockname(), a.getsockname(), c.getpeername(), a.recv(4).decode()]
m,f=g.recvfrom(16); r+=[g.getsockname(), m.decode(), f, k.getpeername()]
n=socket.socket(socket.AF_UNIX); n.connect('/data/d/rel.sock'); d,_=s.accept(); n.send(b'new!'); r.append(d.recv(4).decode())
open('/data/result','w').write(' '.join(r))
time.sleep(1000)" &
while [ ! -s /data/ready ]; do sleep 0.01; done`

// A pivot_root'ed container with unix sockets bound to relative paths
// of its rootfs and of its tmpfs: restored with --root, each is bound
// again from its directory in the container (not the host's), keeps its
// relative name (getsockname, getpeername, a datagram's sender), the
// queued data is there and a new client reaches the listener by its
// path.
func TestRestoreRootContainerRelativeSocket(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	r, pid := startCT(t, relSockProg)
	rpid := dumpRestoreCT(t, pid, r)
	if st, err := os.Stat(filepath.Join(r, "data/d/rel.sock")); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("the rootfs's /data/d/rel.sock: %v %v, want the socket", st, err)
	}
	if _, err := os.Stat("/data/d/rel.sock"); err == nil {
		t.Error("a socket was bound at the host's /data/d/rel.sock")
	}
	if err := os.WriteFile(filepath.Join(r, "data/go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var got string
	for i := 0; ; i++ {
		b, _ := os.ReadFile(filepath.Join(r, "data/result"))
		if got = string(b); got != "" {
			break
		}
		if i > 300 {
			t.Fatal("the restored program wrote no result")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if want := "rel.sock rel.sock rel.sock ping dg.sock dgram cl.sock dg.sock new!"; got != want {
		t.Errorf("the restored sockets gave %q, want %q", got, want)
	}
	n := count(rpid)
	waitCount(t, rpid, n+1)
}
