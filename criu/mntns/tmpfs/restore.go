package tmpfs

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
)

// Restore fills the tmpfs mounted at dir (as criu reaches it) from
// tmpfs-dev-N.tar.gz.img: files, directories, symlinks, hard links,
// device nodes and fifos with their modes, owners and times. A tmpfs
// dumped without an archive (a copy of criu's namespace) has none and
// stays empty.
func Restore(ctx context.Context, store image.Store, dir, point string, dev uint32) error {
	r, err := store.Open(ctx, ImageName(dev))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("tmpfs %s: %w", point, err)
	}
	tr := tar.NewReader(gz)
	type dirTimes struct {
		path string
		h    *tar.Header
	}
	var dirs []dirTimes // times are set last: files made in them change them
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("tmpfs %s: %w", point, err)
		}
		name := filepath.Clean("/" + h.Name)
		if strings.Contains(h.Name, "..") {
			return fmt.Errorf("tmpfs %s: bad name %q in its archive", point, h.Name)
		}
		p := filepath.Join(dir, name)
		mode := uint32(h.Mode & 0o7777)
		switch h.Typeflag {
		case tar.TypeDir:
			if name != "/" {
				if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
					return err
				}
			}
			dirs = append(dirs, dirTimes{p, h})
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("tmpfs %s: %s: %w", point, name, err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeLink:
			if err := os.Link(filepath.Join(dir, filepath.Clean("/"+h.Linkname)), p); err != nil {
				return err
			}
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[h.Typeflag]
			if err := unix.Mknod(p, kind|mode, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))); err != nil {
				return fmt.Errorf("tmpfs %s: %s: %w", point, name, os.NewSyscallError("mknod", err))
			}
		default:
			return fmt.Errorf("tmpfs %s: %s: entry of type %q", point, name, h.Typeflag)
		}
		if err := setAttrs(p, h, mode); err != nil {
			return fmt.Errorf("tmpfs %s: %s: %w", point, name, err)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setTimes(dirs[i].path, dirs[i].h); err != nil {
			return fmt.Errorf("tmpfs %s: %w", point, err)
		}
	}
	return nil
}

// setAttrs gives p its owner, mode and times (a symlink: owner and times).
func setAttrs(p string, h *tar.Header, mode uint32) error {
	if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeSymlink {
		if err := unix.Chmod(p, mode); err != nil {
			return os.NewSyscallError("chmod", err)
		}
	}
	return setTimes(p, h)
}

func setTimes(p string, h *tar.Header) error {
	ts := []unix.Timespec{unix.NsecToTimespec(h.AccessTime.UnixNano()), unix.NsecToTimespec(h.ModTime.UnixNano())}
	if h.AccessTime.IsZero() {
		ts[0] = ts[1]
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return os.NewSyscallError("utimensat", err)
	}
	return nil
}
