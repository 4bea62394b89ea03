package netlink

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

// A NETLINK_ROUTE socket bound with a group of the first 32 and joined
// to one past them is dumped, closed and opened again with the same port
// id and groups; an unbound one stays unbound.
func TestDumpOpen(t *testing.T) {
	crtest.RequireRoot(t)
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unix.Close(fd) }()
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.RTNLGRP_MPLS_ROUTE - 1)}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, unix.RTNLGRP_BRVLAN); err != nil {
		t.Fatal(err)
	}
	e, err := Dump(fd)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint32{1 << (unix.RTNLGRP_MPLS_ROUTE - 1), 1 << (unix.RTNLGRP_BRVLAN - 33)}
	if e.GetPortid() == 0 || !slices.Equal(e.GetGroups(), want) || e.GetState() != stateClose || e.GetProtocol() != unix.NETLINK_ROUTE {
		t.Fatalf("dumped %v, want groups %#x", e, want)
	}
	unix.Close(fd)
	if fd, err = Open(e); err != nil {
		t.Fatal(err)
	}
	again, err := Dump(fd)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(e, again) {
		t.Errorf("opened again as %v, want %v", again, e)
	}

	u, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		t.Fatal(err)
	}
	e, err = Dump(u)
	unix.Close(u)
	if err != nil {
		t.Fatal(err)
	}
	if u, err = Open(e); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(u)
	if sa, err := unix.Getsockname(u); err != nil || sa.(*unix.SockaddrNetlink).Pid != 0 {
		t.Errorf("the unbound socket: %v %v", sa, err)
	}
}
