package utsns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/proto/images"
)

// ErrBadImage is returned by Restore for an image whose names the
// kernel cannot take (too long, or with a NUL byte).
var ErrBadImage = errors.New("bad UTS namespace image")

// maxName is the longest host or domain name the kernel keeps
// (__NEW_UTS_LEN).
const maxName = 64

// ImageName is the name of the image of UTS namespace id.
func ImageName(id uint32) string { return "utsns-" + strconv.FormatUint(uint64(id), 10) + ".img" }

// Dump writes utsns-ID.img with the host and domain names of the UTS
// namespace of task pid.
func Dump(ctx context.Context, store image.Store, pid int, id uint32, log zerolog.Logger) error {
	var u unix.Utsname
	err := nsenter.Do(pid, nsenter.UTS, func() error {
		return os.NewSyscallError("uname", unix.Uname(&u))
	})
	if err != nil {
		return fmt.Errorf("dump UTS namespace of %d: %w", pid, err)
	}
	e := &images.UtsnsEntry{
		Nodename:   proto.String(unix.ByteSliceToString(u.Nodename[:])),
		Domainname: proto.String(unix.ByteSliceToString(u.Domainname[:])),
	}
	log.Debug().Int("pid", pid).Str("nodename", e.GetNodename()).Str("domainname", e.GetDomainname()).Msg("UTS namespace")
	return image.WriteImage(ctx, store, ImageName(id), e)
}

// Restore sets the host and domain names saved in utsns-ID.img in the
// UTS namespace of task pid.
func Restore(ctx context.Context, store image.Store, pid int, id uint32, log zerolog.Logger) error {
	name := ImageName(id)
	e := &images.UtsnsEntry{}
	if err := image.ReadOne(ctx, store, name, e); err != nil {
		return fmt.Errorf("restore UTS namespace: %w", err)
	}
	node, domain := e.GetNodename(), e.GetDomainname()
	for _, n := range []struct{ what, v string }{{"host name", node}, {"domain name", domain}} {
		if len(n.v) > maxName {
			return fmt.Errorf("%w: %s: %s of %d bytes (max %d)", ErrBadImage, name, n.what, len(n.v), maxName)
		}
		if strings.IndexByte(n.v, 0) >= 0 {
			return fmt.Errorf("%w: %s: %s %q has a NUL byte", ErrBadImage, name, n.what, n.v)
		}
	}
	if err := nsenter.NotOwn(pid, nsenter.UTS); err != nil {
		return fmt.Errorf("restore UTS namespace: %w", err)
	}
	log.Debug().Int("pid", pid).Str("nodename", node).Str("domainname", domain).Msg("restore UTS namespace")
	err := nsenter.Do(pid, nsenter.UTS, func() error {
		if err := unix.Sethostname([]byte(node)); err != nil {
			return os.NewSyscallError("sethostname", err)
		}
		return os.NewSyscallError("setdomainname", unix.Setdomainname([]byte(domain)))
	})
	if err != nil {
		return fmt.Errorf("restore UTS namespace of %d from %s: %w", pid, name, err)
	}
	return nil
}
