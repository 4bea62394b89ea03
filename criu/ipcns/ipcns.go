package ipcns

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Image names of namespace id.
func varImage(id uint32) string { return imageName("ipcns-var-", id) }
func shmImage(id uint32) string { return imageName("ipcns-shm-", id) }
func msgImage(id uint32) string { return imageName("ipcns-msg-", id) }
func semImage(id uint32) string { return imageName("ipcns-sem-", id) }

func imageName(prefix string, id uint32) string {
	return prefix + strconv.FormatUint(uint64(id), 10) + ".img"
}

// perm is the identity and permissions of one object, as the kernel
// reports them.
type perm struct {
	key                  int32
	uid, gid, cuid, cgid uint32
	mode                 uint32
}

func (p perm) desc(id int) *images.IpcDescEntry {
	return &images.IpcDescEntry{
		Key: proto.Uint32(uint32(p.key)), Uid: proto.Uint32(p.uid), Gid: proto.Uint32(p.gid),
		Cuid: proto.Uint32(p.cuid), Cgid: proto.Uint32(p.cgid), Mode: proto.Uint32(p.mode), Id: proto.Uint32(uint32(id)),
	}
}

// object names an object in errors: "message queue 32768 (key 0x1234)".
func object(kind string, d *images.IpcDescEntry) string {
	return fmt.Sprintf("%s %d (key %#x)", kind, d.GetId(), d.GetKey())
}

func fromIPCPerm(p *linux.IpcPerm) perm {
	return perm{p.Key, p.Uid, p.Gid, p.Cuid, p.Cgid, p.Mode}
}
