package image

import (
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// ZeroFown is a fown_entry of a file with no owner and no signal set: its
// fields are required in CRIU's schema, so they are written as zeros.
func ZeroFown() *images.FownEntry {
	return &images.FownEntry{Uid: proto.Uint32(0), Euid: proto.Uint32(0), Signum: proto.Uint32(0), PidType: proto.Uint32(0), Pid: proto.Uint32(0)}
}
