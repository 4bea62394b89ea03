package remoteimg

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
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

// SnapshotID derives the default snapshot id from an images directory:
// its base name and a short hash of its absolute path, e.g.
// "dump1-3f9a0c21d4e5b6a7". Dump and restore given the same -D agree.
func SnapshotID(imagesDir string) string {
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
