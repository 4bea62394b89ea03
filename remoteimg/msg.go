package remoteimg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Msg is a frame payload.
type Msg interface {
	Type() Type
	// Append appends the payload encoding to dst.
	Append(dst []byte) []byte
	// Unmarshal decodes exactly b (trailing bytes are an error).
	Unmarshal(b []byte) error
}

// Role says which side of which leg a connection is.
type Role uint8

// Roles.
const (
	RoleWriter Role = 1 // criu dump → proxy
	RoleProxy  Role = 2 // proxy → cache
	RoleReader Role = 3 // criu restore (or a lister) → cache
	RoleServer Role = 4 // the accepting side's answer
)

func (r Role) String() string {
	switch r {
	case RoleWriter:
		return "writer"
	case RoleProxy:
		return "proxy"
	case RoleReader:
		return "reader"
	case RoleServer:
		return "server"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Magic opens every Hello.
const Magic = "CRIUGOIM"

// Version is the protocol version this package speaks.
// 2: Confirm carries the late image (stats-dump).
const Version uint16 = 2

// Hello is the first frame each way.
type Hello struct {
	Version uint16
	Role    Role
}

// Result is a reply: CodeOK or an error code with a message.
type Result struct {
	Code Code
	Msg  string
}

// Put starts an image transfer; the frame's stream is the transfer id.
type Put struct {
	Snapshot, Parent, Name string
}

// Data carries image bytes at Offset.
type Data struct {
	Offset uint64
	Bytes  []byte
}

// Commit ends an image: its total size and CRC-32C.
type Commit struct {
	Size uint64
	CRC  uint32
}

// Abort discards an image transfer.
type Abort struct{}

// Ack says the cache has stored the transfer's bytes below Offset.
type Ack struct {
	Offset uint64
}

// ImageInfo is a manifest entry.
type ImageInfo struct {
	Name string
	Size uint64
	CRC  uint32
}

// Finish declares a snapshot complete with its manifest.
type Finish struct {
	Snapshot, Parent string
	Images           []ImageInfo
}

// Confirm is the second phase of a snapshot's finish: the dump that got
// Finish's ok has decided that it succeeds (it kills or lets go of its
// tasks next), and the cache may now serve the snapshot. It may carry
// the snapshot's late image (Name = LateImage, at most MaxLateSize
// bytes with their CRC), written after Finish's ok: the cache stores it
// into the held snapshot before it serves the snapshot, or refuses the
// Confirm. Name "" carries none.
type Confirm struct {
	Snapshot string
	Name     string
	CRC      uint32
	Bytes    []byte
}

// LateImage is the one image a Confirm may carry: the dump's statistics,
// whose frozen time runs until the Finish was acknowledged.
const LateImage = "stats-dump"

// MaxLateSize caps a Confirm's late image.
const MaxLateSize = 64 << 10

// CheckLate checks a Confirm's late image: none, or LateImage within
// MaxLateSize with its CRC.
func CheckLate(m *Confirm) error {
	if m.Name == "" {
		if len(m.Bytes) != 0 || m.CRC != 0 {
			return fmt.Errorf("%w: Confirm of %s has bytes without a name", ErrProtocol, m.Snapshot)
		}
		return nil
	}
	if m.Name != LateImage {
		return fmt.Errorf("%w: Confirm of %s carries image %q; only %s may come late", ErrBadName, m.Snapshot, m.Name, LateImage)
	}
	if len(m.Bytes) > MaxLateSize {
		return fmt.Errorf("%w: Confirm of %s carries %d bytes of %s, cap %d", ErrProtocol, m.Snapshot, len(m.Bytes), m.Name, MaxLateSize)
	}
	if crc32.Checksum(m.Bytes, Castagnoli()) != m.CRC {
		return fmt.Errorf("%w: %s carried by the Confirm of %s", ErrCorrupt, m.Name, m.Snapshot)
	}
	return nil
}

// Get asks the cache for an image; WaitMillis is how long to wait for an
// unknown snapshot to appear.
type Get struct {
	Snapshot, Name string
	WaitMillis     uint32
}

// End closes a Get stream: the image is whole, with this size and CRC.
type End struct {
	Size uint64
	CRC  uint32
}

// Release says the reader is done with a snapshot.
type Release struct {
	Snapshot string
}

// List asks the cache for its snapshots.
type List struct{}

// SnapshotInfo describes one snapshot in a ListReply. A snapshot is
// arriving, then held (Finish acknowledged, its dump's Confirm not yet
// there: not served), then finished (confirmed: served).
type SnapshotInfo struct {
	ID, Parent string
	Finished   bool // confirmed by its dump: restorable
	Held       bool // finished by its proxy, waiting for its dump's Confirm
	Images     uint32
	Bytes      uint64
}

// ListReply answers List.
type ListReply struct {
	Snapshots []SnapshotInfo
}

func (*Hello) Type() Type     { return THello }
func (*Result) Type() Type    { return TResult }
func (*Put) Type() Type       { return TPut }
func (*Data) Type() Type      { return TData }
func (*Commit) Type() Type    { return TCommit }
func (*Abort) Type() Type     { return TAbort }
func (*Ack) Type() Type       { return TAck }
func (*Finish) Type() Type    { return TFinish }
func (*Confirm) Type() Type   { return TConfirm }
func (*Get) Type() Type       { return TGet }
func (*End) Type() Type       { return TEnd }
func (*Release) Type() Type   { return TRelease }
func (*List) Type() Type      { return TList }
func (*ListReply) Type() Type { return TListReply }

// --- encoding helpers ---

func putU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func putU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func putU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
func putStr(b []byte, s string) []byte {
	if len(s) > 0xffff {
		s = s[:0xffff]
	}
	return append(putU16(b, uint16(len(s))), s...)
}

// dec reads fields from a payload; the first error sticks.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: short or bad %s", ErrProtocol, what)
	}
}

func (d *dec) take(n int, what string) []byte {
	if d.err != nil || n > len(d.b) || n < 0 {
		d.fail(what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) u8(what string) uint8 {
	if v := d.take(1, what); v != nil {
		return v[0]
	}
	return 0
}
func (d *dec) u16(what string) uint16 {
	if v := d.take(2, what); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}
func (d *dec) u32(what string) uint32 {
	if v := d.take(4, what); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}
func (d *dec) u64(what string) uint64 {
	if v := d.take(8, what); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// str reads a string of at most max bytes.
func (d *dec) str(what string, max int) string {
	n := int(d.u16(what))
	if d.err == nil && n > max {
		d.err = fmt.Errorf("%w: %s is %d bytes, cap %d", ErrProtocol, what, n, max)
		return ""
	}
	return string(d.take(n, what))
}

func (d *dec) done(t Type) error {
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", t, d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("decode %s: %w: %d trailing bytes", t, ErrProtocol, len(d.b))
	}
	return nil
}

// --- messages ---

func (m *Hello) Append(b []byte) []byte {
	b = append(b, Magic...)
	b = putU16(b, m.Version)
	return append(b, byte(m.Role))
}

func (m *Hello) Unmarshal(b []byte) error {
	d := dec{b: b}
	if string(d.take(len(Magic), "magic")) != Magic && d.err == nil {
		d.err = fmt.Errorf("%w: bad magic", ErrProtocol)
	}
	m.Version = d.u16("version")
	m.Role = Role(d.u8("role"))
	if d.err == nil && (m.Role < RoleWriter || m.Role > RoleServer) {
		d.err = fmt.Errorf("%w: unknown role %d", ErrProtocol, m.Role)
	}
	return d.done(THello)
}

func (m *Result) Append(b []byte) []byte { return putStr(putU32(b, uint32(m.Code)), m.Msg) }
func (m *Result) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Code = Code(d.u32("code"))
	m.Msg = d.str("message", MaxMsgLen)
	return d.done(TResult)
}

func (m *Put) Append(b []byte) []byte {
	return putStr(putStr(putStr(b, m.Snapshot), m.Parent), m.Name)
}
func (m *Put) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Snapshot = d.str("snapshot", MaxNameLen)
	m.Parent = d.str("parent", MaxNameLen)
	m.Name = d.str("name", MaxNameLen)
	return d.done(TPut)
}

func (m *Data) Append(b []byte) []byte { return append(putU64(b, m.Offset), m.Bytes...) }

// Unmarshal keeps a reference to b's bytes.
func (m *Data) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Offset = d.u64("offset")
	if d.err == nil && len(d.b) > MaxChunk {
		d.err = fmt.Errorf("%w: data chunk %d bytes, cap %d", ErrProtocol, len(d.b), MaxChunk)
	}
	if d.err == nil && m.Offset+uint64(len(d.b)) < m.Offset {
		d.err = fmt.Errorf("%w: data offset overflows", ErrProtocol)
	}
	m.Bytes = d.take(len(d.b), "data")
	return d.done(TData)
}

func (m *Commit) Append(b []byte) []byte { return putU32(putU64(b, m.Size), m.CRC) }
func (m *Commit) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Size = d.u64("size")
	m.CRC = d.u32("crc")
	return d.done(TCommit)
}

func (m *End) Append(b []byte) []byte { return putU32(putU64(b, m.Size), m.CRC) }
func (m *End) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Size = d.u64("size")
	m.CRC = d.u32("crc")
	return d.done(TEnd)
}

func (m *Abort) Append(b []byte) []byte { return b }
func (m *Abort) Unmarshal(b []byte) error {
	d := dec{b: b}
	return d.done(TAbort)
}

func (m *List) Append(b []byte) []byte { return b }
func (m *List) Unmarshal(b []byte) error {
	d := dec{b: b}
	return d.done(TList)
}

func (m *Ack) Append(b []byte) []byte { return putU64(b, m.Offset) }
func (m *Ack) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Offset = d.u64("offset")
	return d.done(TAck)
}

// maxManifest caps the entries of a Finish (each at least 14 bytes).
const maxManifest = MaxPayload / 14

func (m *Finish) Append(b []byte) []byte {
	b = putStr(putStr(b, m.Snapshot), m.Parent)
	b = putU32(b, uint32(len(m.Images)))
	for _, im := range m.Images {
		b = putU32(putU64(putStr(b, im.Name), im.Size), im.CRC)
	}
	return b
}
func (m *Finish) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Snapshot = d.str("snapshot", MaxNameLen)
	m.Parent = d.str("parent", MaxNameLen)
	n := d.u32("count")
	if d.err == nil && n > maxManifest {
		d.err = fmt.Errorf("%w: manifest of %d images", ErrProtocol, n)
	}
	m.Images = nil
	for i := uint32(0); i < n && d.err == nil; i++ {
		var im ImageInfo
		im.Name = d.str("image name", MaxNameLen)
		im.Size = d.u64("image size")
		im.CRC = d.u32("image crc")
		m.Images = append(m.Images, im)
	}
	return d.done(TFinish)
}

func (m *Get) Append(b []byte) []byte {
	return putU32(putStr(putStr(b, m.Snapshot), m.Name), m.WaitMillis)
}
func (m *Get) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Snapshot = d.str("snapshot", MaxNameLen)
	m.Name = d.str("name", MaxNameLen)
	m.WaitMillis = d.u32("wait")
	return d.done(TGet)
}

func (m *Confirm) Append(b []byte) []byte {
	b = putStr(putStr(b, m.Snapshot), m.Name)
	b = putU32(putU32(b, m.CRC), uint32(len(m.Bytes)))
	return append(b, m.Bytes...)
}
func (m *Confirm) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Snapshot = d.str("snapshot", MaxNameLen)
	m.Name = d.str("name", MaxNameLen)
	m.CRC = d.u32("crc")
	n := d.u32("size")
	if d.err == nil && n > MaxLateSize {
		return fmt.Errorf("decode %s: %w: late image of %d bytes, cap %d", TConfirm, ErrProtocol, n, MaxLateSize)
	}
	if b := d.take(int(n), "late image"); len(b) > 0 {
		m.Bytes = bytes.Clone(b)
	}
	return d.done(TConfirm)
}

func (m *Release) Append(b []byte) []byte { return putStr(b, m.Snapshot) }
func (m *Release) Unmarshal(b []byte) error {
	d := dec{b: b}
	m.Snapshot = d.str("snapshot", MaxNameLen)
	return d.done(TRelease)
}

// maxList caps the entries of a ListReply (each at least 19 bytes).
const maxList = MaxPayload / 19

func (m *ListReply) Append(b []byte) []byte {
	n := len(m.Snapshots)
	if n > maxList {
		n = maxList
	}
	b = putU32(b, uint32(n))
	for _, s := range m.Snapshots[:n] {
		b = putStr(putStr(b, s.ID), s.Parent)
		f := byte(0)
		switch {
		case s.Finished:
			f = 1
		case s.Held:
			f = 2
		}
		b = putU64(putU32(append(b, f), s.Images), s.Bytes)
	}
	return b
}
func (m *ListReply) Unmarshal(b []byte) error {
	d := dec{b: b}
	n := d.u32("count")
	if d.err == nil && n > maxList {
		d.err = fmt.Errorf("%w: list of %d snapshots", ErrProtocol, n)
	}
	m.Snapshots = nil
	for i := uint32(0); i < n && d.err == nil; i++ {
		var s SnapshotInfo
		s.ID = d.str("id", MaxNameLen)
		s.Parent = d.str("parent", MaxNameLen)
		switch d.u8("finished") {
		case 0:
		case 1:
			s.Finished = true
		case 2:
			s.Held = true
		default:
			d.fail("finished flag")
		}
		s.Images = d.u32("images")
		s.Bytes = d.u64("bytes")
		m.Snapshots = append(m.Snapshots, s)
	}
	return d.done(TListReply)
}

// NewMsg returns an empty message of type t (nil for an unknown type).
func NewMsg(t Type) Msg {
	switch t {
	case THello:
		return &Hello{}
	case TResult:
		return &Result{}
	case TPut:
		return &Put{}
	case TData:
		return &Data{}
	case TCommit:
		return &Commit{}
	case TAbort:
		return &Abort{}
	case TAck:
		return &Ack{}
	case TFinish:
		return &Finish{}
	case TConfirm:
		return &Confirm{}
	case TGet:
		return &Get{}
	case TEnd:
		return &End{}
	case TRelease:
		return &Release{}
	case TList:
		return &List{}
	case TListReply:
		return &ListReply{}
	}
	return nil
}

// Decode decodes a frame's payload into the message of its type.
func Decode(f Frame) (Msg, error) {
	m := NewMsg(f.Type)
	if m == nil {
		return nil, fmt.Errorf("%w: unknown frame type %#x", ErrProtocol, uint8(f.Type))
	}
	if err := m.Unmarshal(f.Payload); err != nil {
		return nil, err
	}
	return m, nil
}
