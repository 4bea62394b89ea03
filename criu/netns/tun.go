package netns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/tun"
	"github.com/criugo/criu/proto/images"
)

// KindTun is a tun or tap device (package tun).
const KindTun = "tun"

// TunSettings are a tun/tap device's settings (CRIU's tun_link_entry).
type TunSettings struct {
	Flags   uint32 `json:"flags"` // IFF_TUN/IFF_TAP and features, IFF_PERSIST
	Owner   int32  `json:"owner"` // -1: none
	Group   int32  `json:"group"` // -1: none
	VnetHdr uint32 `json:"vnet_hdr"`
	SndBuf  uint32 `json:"sndbuf"`
}

func (s *TunSettings) entry() *images.TunLinkEntry {
	return &images.TunLinkEntry{Flags: proto.Uint32(s.Flags), Owner: proto.Int32(s.Owner), Group: proto.Int32(s.Group), Vnethdr: proto.Uint32(s.VnetHdr), Sndbuf: proto.Uint32(s.SndBuf)}
}

// rtnetlink's IFLA_TUN_* attributes of a tun device's IFLA_INFO_DATA.
const (
	iflaTunOwner      = 1
	iflaTunGroup      = 2
	iflaTunType       = 3
	iflaTunPI         = 4
	iflaTunVnetHdr    = 5
	iflaTunPersist    = 6
	iflaTunMultiQueue = 7
)

// tunSettings gives the settings of tun device l of namespace ns: type,
// features, persistence, owner and group from rtnetlink, the rest from a
// file of the tree attached to it (devs, from the dump of the tasks'
// files) or, for a persistent device no file holds, by attaching to it
// for a moment. A device that is not persistent and that no file of the
// tree holds is held from outside the tree: refused by name.
func tunSettings(ns *Namespace, l rtLink, devs map[string]*tun.Device) (*TunSettings, error) {
	s := &TunSettings{Owner: -1, Group: -1}
	persist := false
	eachAttr(l.data, func(typ uint16, v []byte) {
		u8 := len(v) >= 1 && v[0] != 0
		switch {
		case typ == iflaTunOwner && len(v) >= 4:
			s.Owner = int32(binary.NativeEndian.Uint32(v))
		case typ == iflaTunGroup && len(v) >= 4:
			s.Group = int32(binary.NativeEndian.Uint32(v))
		case typ == iflaTunType && len(v) >= 1:
			s.Flags |= uint32(v[0]) // IFF_TUN 1, IFF_TAP 2
		case typ == iflaTunPI && !u8:
			s.Flags |= unix.IFF_NO_PI
		case typ == iflaTunVnetHdr && u8:
			s.Flags |= unix.IFF_VNET_HDR
		case typ == iflaTunPersist && u8:
			persist = true
		case typ == iflaTunMultiQueue && u8:
			s.Flags |= unix.IFF_MULTI_QUEUE
		}
	})
	d := devs[l.name]
	if d == nil {
		if !persist {
			return nil, fmt.Errorf("%w: tun/tap device %s is held by no task of the tree (a process outside it keeps it)", errdefs.ErrUnsupported, l.name)
		}
		err := ns.do(func() error {
			var err error
			d, err = tun.Probe(l.name, s.Flags)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	e := tun.LinkEntry(d, persist, s.Owner, s.Group)
	s.Flags, s.VnetHdr, s.SndBuf = e.GetFlags(), e.GetVnethdr(), e.GetSndbuf()
	return s, nil
}

// TunLinks reads the tun/tap devices of namespace id's images (ours or
// CRIU's) by name, for the restore of the files attached to them.
func TunLinks(ctx context.Context, store image.Store, id uint32) (map[string]*images.TunLinkEntry, error) {
	links, err := readLinks(ctx, store, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]*images.TunLinkEntry{}
	for _, l := range links {
		if l.Kind == KindTun && l.Tun != nil {
			out[l.Name] = l.Tun.entry()
		}
	}
	return out, nil
}
