package remoteimg

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MaxNameLen caps snapshot ids and image names. It leaves room below
// NAME_MAX (255) for the cache's own prefixes on disk.
const MaxNameLen = 200

// CheckName reports whether s may name a snapshot or an image on the wire:
// 1..MaxNameLen bytes, no '/', no NUL, no "..", not starting with '.'
// (hidden names are the cache's own files). A name that passes is a single
// path component that stays inside the directory it is joined to.
func CheckName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(s) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes (max %d)", ErrBadName, len(s), MaxNameLen)
	case strings.ContainsAny(s, "/\x00"):
		return fmt.Errorf("%w: %q contains '/' or NUL", ErrBadName, s)
	case strings.Contains(s, ".."):
		return fmt.Errorf("%w: %q contains \"..\"", ErrBadName, s)
	case s[0] == '.':
		return fmt.Errorf("%w: %q starts with '.'", ErrBadName, s)
	}
	return nil
}

// SnapshotID derives the default snapshot id of a dump from its images
// directory: its base name, a short hash of its absolute path and a tag
// of this host (HostTag), e.g. "dump1-3f9a0c21d4e5b6a7-5d0c9a1e". The
// host tag keeps two source hosts dumping the same -D path apart in one
// cache; restore, on another host, finds the snapshot by the rest
// (ResolveSnapshot).
func SnapshotID(imagesDir string) string { return SnapshotPrefix(imagesDir) + "-" + HostTag() }

// SnapshotPrefix is the part of SnapshotID that depends on the images
// directory only: the same on every host for the same path.
func SnapshotPrefix(imagesDir string) string {
	abs, err := filepath.Abs(imagesDir)
	if err != nil {
		abs = imagesDir
	}
	abs = filepath.Clean(abs)
	sum := sha256.Sum256([]byte(abs))
	base := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r == '.' {
			return '_'
		}
		return r
	}, filepath.Base(abs))
	if len(base) > 64 {
		base = base[:64]
	}
	if base == "" || base == "_" {
		base = "snapshot"
	}
	return base + "-" + hex.EncodeToString(sum[:8])
}

var (
	hostTagOnce sync.Once
	hostTag     string
)

// HostTag is 8 hex digits naming this host: a hash of its machine id
// (/etc/machine-id, else /var/lib/dbus/machine-id), else of its host
// name. Stable across reboots, so a pre-dump chain spans them.
func HostTag() string {
	hostTagOnce.Do(func() {
		id := ""
		for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
			if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
				id = strings.TrimSpace(string(b))
				break
			}
		}
		if id == "" {
			id, _ = os.Hostname()
		}
		sum := sha256.Sum256([]byte("criugo snapshot host\x00" + id))
		hostTag = hex.EncodeToString(sum[:4])
	})
	return hostTag
}
