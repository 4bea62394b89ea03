package utsns

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/criu/nsenter/nstest"
	"github.com/criugo/criu/proto/images"
)

// names returns the host and domain names in the UTS namespace of pid.
func names(t *testing.T, pid int) (string, string) {
	t.Helper()
	var u unix.Utsname
	if err := nsenter.Do(pid, nsenter.UTS, func() error { return unix.Uname(&u) }); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Nodename[:]), unix.ByteSliceToString(u.Domainname[:])
}

func TestDumpRestore(t *testing.T) {
	ctx := context.Background()
	log := zerolog.New(zerolog.NewTestWriter(t))
	src := nstest.Start(t, unix.CLONE_NEWUTS)
	dst := nstest.Start(t, unix.CLONE_NEWUTS)
	var host unix.Utsname
	unix.Uname(&host)

	node := "criugo-" + strings.Repeat("n", 64-len("criugo-")) // the longest the kernel takes
	const domain = "example.test"
	err := nsenter.Do(src, nsenter.UTS, func() error {
		if err := unix.Sethostname([]byte(node)); err != nil {
			return err
		}
		return unix.Setdomainname([]byte(domain))
	})
	if err != nil {
		t.Fatal(err)
	}
	store := nstest.Dir(t)
	if err := Dump(ctx, store, src, 7, log); err != nil {
		t.Fatal(err)
	}
	e := &images.UtsnsEntry{}
	if err := image.ReadOne(ctx, store, "utsns-7.img", e); err != nil {
		t.Fatal(err)
	}
	if e.GetNodename() != node || e.GetDomainname() != domain {
		t.Fatalf("image holds %q %q, want %q %q", e.GetNodename(), e.GetDomainname(), node, domain)
	}
	if n, _ := names(t, dst); n == node {
		t.Fatal("fresh namespace already has the name")
	}
	if err := Restore(ctx, store, dst, 7, log); err != nil {
		t.Fatal(err)
	}
	if n, d := names(t, dst); n != node || d != domain {
		t.Errorf("restored namespace has %q %q, want %q %q", n, d, node, domain)
	}
	var after unix.Utsname
	unix.Uname(&after)
	if after != host {
		t.Errorf("the host's names changed: %q %q", after.Nodename[:], after.Domainname[:])
	}
}

func TestRestoreErrors(t *testing.T) {
	ctx := context.Background()
	log := zerolog.New(zerolog.NewTestWriter(t))
	dst := nstest.Start(t, unix.CLONE_NEWUTS)
	store := nstest.Dir(t)
	before, _ := names(t, dst)

	if err := Restore(ctx, store, dst, 1, log); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing image: err = %v, want not exist", err)
	}
	for id, e := range map[uint32]*images.UtsnsEntry{
		2: {Nodename: proto.String(strings.Repeat("x", 65)), Domainname: proto.String("")},
		3: {Nodename: proto.String("a\x00b"), Domainname: proto.String("")},
		4: {Nodename: proto.String("ok"), Domainname: proto.String(strings.Repeat("d", 65))},
	} {
		if err := image.WriteImage(ctx, store, ImageName(id), e); err != nil {
			t.Fatal(err)
		}
		err := Restore(ctx, store, dst, id, log)
		if !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), ImageName(id)) {
			t.Errorf("image %d: err = %v, want ErrBadImage naming the image", id, err)
		}
	}
	// Two entries where one belongs.
	e := &images.UtsnsEntry{Nodename: proto.String("a"), Domainname: proto.String("b")}
	if err := image.WriteImage(ctx, store, ImageName(5), e, e); err != nil {
		t.Fatal(err)
	}
	if err := Restore(ctx, store, dst, 5, log); !errors.Is(err, image.ErrBadEntry) {
		t.Errorf("two entries: err = %v, want ErrBadEntry", err)
	}
	if after, _ := names(t, dst); after != before {
		t.Errorf("a failed restore changed the host name to %q", after)
	}
	// Never into our own namespace: that would rename the host.
	if err := image.WriteImage(ctx, store, ImageName(6), e); err != nil {
		t.Fatal(err)
	}
	if err := Restore(ctx, store, os.Getpid(), 6, log); !errors.Is(err, nsenter.ErrOwnNamespace) {
		t.Errorf("own namespace: err = %v, want ErrOwnNamespace", err)
	}
}
