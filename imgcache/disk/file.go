package disk

import (
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/criugo/criu/remoteimg"
	"golang.org/x/sys/unix"
)

// File is one image's file: a part file while the image arrives, the
// committed file after (the same open file, renamed).
type File struct {
	f       *os.File
	flushed int64 // writeback started below this offset (by WriteAt)
}

// writeBehindSpan is how much written data the cache lets accumulate
// before it starts its writeback.
const writeBehindSpan = 8 << 20

// WriteAt writes b at off and starts the writeback of what is written
// below off+len(b) in whole spans. One writer at a time: the caller
// serialises WriteAt and Commit of a file (imgcache's image.wmu).
func (f *File) WriteAt(b []byte, off int64) error {
	if _, err := f.f.WriteAt(b, off); err != nil {
		return err
	}
	f.writeBehind(off + int64(len(b)))
	return nil
}

// writeBehind starts writeback (without waiting for it) of the whole
// spans of the file below end: the fsync at commit then waits only for
// the tail, which is the time from the snapshot's last byte to its ack,
// and dirty pages do not pile up. Best effort: the fsync at commit is
// what makes the image durable.
func (f *File) writeBehind(end int64) {
	if end-f.flushed < writeBehindSpan {
		return
	}
	n := (end - f.flushed) / writeBehindSpan * writeBehindSpan
	if c, err := f.f.SyscallConn(); err == nil {
		_ = c.Control(func(fd uintptr) {
			_ = unix.SyncFileRange(int(fd), f.flushed, n, unix.SYNC_FILE_RANGE_WRITE)
		})
	}
	f.flushed += n
}

// ReadAt reads len(b) bytes at off (io.ReaderAt).
func (f *File) ReadAt(b []byte, off int64) (int, error) { return f.f.ReadAt(b, off) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Verify reads the file whole and checks it holds size bytes of CRC
// crc. Its error says what differs (the caller names the image).
func (f *File) Verify(size uint64, crc uint32) error {
	h := crc32.New(remoteimg.Castagnoli())
	n, err := io.Copy(h, io.NewSectionReader(f.f, 0, int64(size)+1))
	switch {
	case err != nil:
		return fmt.Errorf("read back: %v", err)
	case uint64(n) != size:
		return fmt.Errorf("%d bytes on disk, %d committed", n, size)
	case h.Sum32() != crc:
		return fmt.Errorf("the file on disk has crc %08x, %08x was committed", h.Sum32(), crc)
	}
	return nil
}

// RemoveFile removes an image's file (a failed transfer's part, an
// image left out of the manifest); a file already gone is no error.
func RemoveFile(path string) { _ = os.Remove(path) }
