package apps

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/netns"
)

// The network of TestLXCVeth, in a network namespace of the test's:
// the bridge and its address, the container's address and the port its
// server listens on.
const (
	vethBridge   = "br0"
	vethBridgeIP = "198.18.0.1/24"
	vethCtIP     = "198.18.0.2"
	vethPort     = "7000"
	vethEchoPort = "7001"
)

// lxcVethConf is LXC's default kind of network: a veth whose host end
// is on a bridge, eth0 inside with a static address.
var lxcVethConf = fmt.Sprintf(`lxc.net.0.type = veth
lxc.net.0.link = %s
lxc.net.0.flags = up
lxc.net.0.name = eth0
lxc.net.0.ipv4.address = %s/24
`, vethBridge, vethCtIP)

// lxcVethInittab is lxcInittab with two TCP servers: busybox nc
// answers each connection with "hit N", N counted in the shell that
// respawns it, so a restored server goes on from where it was; and an
// echo server (nc -ll -e cat) whose connection the test keeps open
// across checkpoints (LXC's criu --tcp-established).
const lxcVethInittab = lxcInittab + `::respawn:/bin/sh /server.sh
::respawn:/bin/nc -ll -p ` + vethEchoPort + ` -e /bin/cat
`

const lxcVethServer = `n=0
while :; do n=$((n+1)); echo "hit $n" | nc -l -p ` + vethPort + `; done
`

// vethHost is the test's own network namespace (and mount namespace)
// where LXC runs: a process of the test holds them (unshare --net
// --mount, mounts slave of the host's), with a bridge up and the
// namespace's own sysfs over /sys/class/net and /sys/devices/virtual/net,
// where LXC looks for the bridge (a bridge has a bridge/ directory
// there, else LXC takes it for an Open vSwitch one).
type vethHost struct {
	pid int
	ns  *netns.Namespace
}

// newVethHost starts the holder and waits until the namespace is set
// up. Its cleanup kills it; nothing is left on the host's network.
func newVethHost(t *testing.T) *vethHost {
	t.Helper()
	for _, p := range []string{"unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("needs %s (util-linux, iproute2): %v", p, err)
		}
	}
	sys := t.TempDir()
	script := fmt.Sprintf(`set -e
mount -t sysfs sysfs %[1]s
mount --bind %[1]s/class/net /sys/class/net
mount --bind %[1]s/devices/virtual/net /sys/devices/virtual/net
ip link set lo up
ip link add %[2]s type bridge
ip addr add %[3]s dev %[2]s
ip link set %[2]s up
echo ready
exec sleep 100000
`, sys, vethBridge, vethBridgeIP)
	cmd := exec.Command("unshare", "--net", "--mount", "--propagation", "slave", "sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		if strings.Contains(stderr.String(), "type bridge") {
			t.Skipf("no bridge devices in this kernel: %s", stderr.String())
		}
		t.Fatalf("the test's network namespace: %q %s", line, stderr.String())
	}
	ns, err := netns.OpenPid(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return &vethHost{pid: cmd.Process.Pid, ns: ns}
}

// in is the command prefix that runs a program in h's namespaces.
func (h *vethHost) in() []string {
	return []string{"nsenter", "-t", strconv.Itoa(h.pid), "--net", "--mount", "--"}
}

// ip runs the ip tool in h's network namespace.
func (h *vethHost) ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(h.pid), "--net", "--", "ip"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hit connects to the container's server from h's namespace, through
// the bridge, and returns the N of its "hit N" (retrying while nc is
// between two connections).
func (h *vethHost) hit(t *testing.T) int {
	t.Helper()
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var b []byte
		last = h.ns.Do(func() error {
			c, err := net.DialTimeout("tcp4", net.JoinHostPort(vethCtIP, vethPort), 5*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			b, err = io.ReadAll(c)
			return err
		})
		if last != nil {
			continue
		}
		if n, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "hit "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				return v
			}
		}
		last = fmt.Errorf("the server said %q", b)
	}
	t.Fatalf("the container does not answer on %s:%s: %v", vethCtIP, vethPort, last)
	return 0
}

// vethLink is the part of `ip -j link` output the test reads.
type vethLink struct {
	Name    string   `json:"ifname"`
	Flags   []string `json:"flags"`
	Master  string   `json:"master"`
	Address string   `json:"address"`
	Kind    struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
}

// ports lists the links on h's bridge.
func (h *vethHost) ports(t *testing.T) []vethLink {
	t.Helper()
	var ls []vethLink
	if err := json.Unmarshal([]byte(h.ip(t, "-d", "-j", "link", "show", "master", vethBridge)), &ls); err != nil {
		t.Fatal(err)
	}
	return ls
}

// ctEth0 is the container's eth0 as seen inside it: its MAC address
// and IPv4 addresses.
func ctEth0(t *testing.T, pid int) (mac string, addrs []string) {
	t.Helper()
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "--net", "--", "ip", "-j", "addr", "show", "dev", "eth0").Output()
	if err != nil {
		t.Fatalf("the container's eth0: %v", err)
	}
	var a []struct {
		Address string `json:"address"`
		Addrs   []struct {
			Family string `json:"family"`
			Local  string `json:"local"`
			Prefix int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &a); err != nil || len(a) != 1 {
		t.Fatalf("the container's eth0: %s %v", out, err)
	}
	for _, x := range a[0].Addrs {
		if x.Family == "inet" {
			addrs = append(addrs, fmt.Sprintf("%s/%d", x.Local, x.Prefix))
		}
	}
	return a[0].Address, addrs
}

// vethCheck is what is checked of the container's network after each
// restore: it answers through the bridge, its server counting on from
// its last answer; the connection to its echo server opened at the
// start echoes a line; its eth0 has the MAC and the address it had; one
// veth, up, is on the bridge.
type vethCheck struct {
	h    *vethHost
	c    *lxcCt
	hits int
	mac  string
	echo net.Conn // to the echo server, open since the start
	rd   *bufio.Reader
	n    int // lines echoed
}

// check checks the network of the running container (first: takes
// what it has).
func (v *vethCheck) check(t *testing.T, when string) {
	t.Helper()
	n := v.h.hit(t)
	if v.hits != 0 && n != v.hits+1 {
		t.Errorf("%s: the server answers hit %d, after hit %d", when, n, v.hits)
	}
	v.hits = n
	t.Logf("%s: the container answers hit %d on %s:%s", when, n, vethCtIP, vethPort)
	mac, addrs := ctEth0(t, v.c.initPid())
	if len(addrs) != 1 || addrs[0] != vethCtIP+"/24" {
		t.Errorf("%s: the container's eth0 has addresses %v, want %s/24", when, addrs, vethCtIP)
	}
	if v.mac != "" && mac != v.mac {
		t.Errorf("%s: the container's eth0 has MAC %s, it had %s", when, mac, v.mac)
	}
	v.mac = mac
	v.n++
	line := fmt.Sprintf("line %d\n", v.n)
	v.echo.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(v.echo, line); err != nil {
		t.Fatalf("%s: the connection to the echo server opened at the start: %v", when, err)
	}
	if got, err := v.rd.ReadString('\n'); err != nil || got != line {
		t.Fatalf("%s: the echo server sent back %q (%v), want %q", when, got, err, line)
	}
	ports := v.h.ports(t)
	if len(ports) != 1 || ports[0].Kind.Kind != "veth" || !strings.Contains(strings.Join(ports[0].Flags, ","), "UP") {
		t.Errorf("%s: on %s: %+v, want one veth, up", when, vethBridge, ports)
	}
}

// newVethCt makes the container on h's bridge with criu and starts it.
func newVethCt(t *testing.T, h *vethHost, criu, name string) (*lxcCt, *vethCheck) {
	t.Helper()
	c := newLXCIn(t, criu, name, lxcVethConf, h.in())
	for name, s := range map[string]string{"etc/inittab": lxcVethInittab, "server.sh": lxcVethServer} {
		if err := os.WriteFile(filepath.Join(c.rootfs, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.run("lxc-start", "-P", c.path, "-n", c.name, "-d")
	c.waitCount(5)
	v := &vethCheck{h: h, c: c}
	// The echo server's connection, kept across the checkpoints.
	err := h.ns.Do(func() (err error) {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			v.echo, err = net.DialTimeout("tcp4", net.JoinHostPort(vethCtIP, vethEchoPort), 5*time.Second)
			if err == nil || time.Now().After(deadline) {
				return err
			}
		}
	})
	if err != nil {
		t.Fatalf("the container's echo server: %v", err)
	}
	t.Cleanup(func() { v.echo.Close() })
	v.rd = bufio.NewReader(v.echo)
	v.check(t, "started")
	return c, v
}

// TestLXCVeth: TestLXC's container on LXC's default kind of network, a
// veth whose host end is on a bridge, in a network namespace the test
// made (LXC runs there). Our criu dumps the veth with no --external
// (LXC gives none at dump) and restores it with LXC's --external
// veth[eth0]:VETH@br0: after lxc-checkpoint -s and -r twice, and -p
// then -s and -r, the container answers on its address through the
// bridge, its server's count going on, a TCP connection to it opened at
// the start still echoes, its eth0 has its MAC and address, its new
// host end is on the bridge and up. Then CRIU 4.2 on the
// same: it checkpoints and restores such a container, and each restores
// the other's images.
func TestLXCVeth(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	lxcTools(t)
	h := newVethHost(t)
	c, v := newVethCt(t, h, crtest.Criu(t), fmt.Sprintf("criugov%d", os.Getpid()))
	ckpt := t.TempDir()
	for _, d := range []string{"1", "2"} {
		c.cycle(filepath.Join(ckpt, d))
		v.check(t, "restore "+d)
	}
	pre := filepath.Join(ckpt, "3", "pre")
	if out, err := c.checkpoint("-p", "-D", pre); err != nil {
		t.Fatalf("lxc-checkpoint -p: %v\n%s\n%s", err, out, criuLog(pre))
	}
	v.check(t, "pre-dump")
	c.cycle(filepath.Join(ckpt, "3", "final"), "--predump-dir", "../pre")
	v.check(t, "restore after the pre-dump")
	// LXC named the veth at restore only, with its bridge.
	b, err := os.ReadFile(c.argvLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		cmd, _, _ := strings.Cut(l, " ")
		named := strings.Contains(l, "--external veth[eth0]:")
		switch {
		case cmd == "restore" && (!named || !strings.Contains(l, "@"+vethBridge)):
			t.Errorf("LXC's restore names no veth[eth0]:...@%s: %s", vethBridge, l)
		case cmd != "restore" && named:
			t.Errorf("LXC's %s names the veth: %s", cmd, l)
		}
	}

	if _, err := os.Stat(crtest.CRIU42()); err != nil {
		t.Logf("no CRIU 4.2 to compare with: %v", err)
		return
	}
	c.run("lxc-stop", "-P", c.path, "-n", c.name, "-k") // its address is the next one's
	t.Run("criu-4.2", func(t *testing.T) {
		ours, c42 := crtest.Criu(t), crtest.CRIU42()
		c, v := newVethCt(t, h, c42, fmt.Sprintf("criu42v%d", os.Getpid()))
		conf := filepath.Join(c.path, "criu42.conf")
		if err := os.WriteFile(conf, []byte("mntns-compat-mode\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		compat := "CRIU_CONFIG_FILE=" + conf
		ckpt := t.TempDir()
		c.useCriu(c42)
		c.cycleWith(filepath.Join(ckpt, "42-42"), c42, compat)
		v.check(t, "CRIU 4.2's restore of its dump")
		c.useCriu(c42)
		c.cycleWith(filepath.Join(ckpt, "42-ours"), ours)
		v.check(t, "our restore of CRIU 4.2's dump")
		c.useCriu(ours)
		c.cycleWith(filepath.Join(ckpt, "ours-42"), c42, compat)
		v.check(t, "CRIU 4.2's restore of our dump")
	})
}
