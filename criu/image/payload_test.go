package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// TestShowPayloads checks that raw bytes following entries are shown as
// crit shows them ("extra", base64), for a pipe data image and for a
// ghost file without chunks (contents to the end of the file).
func TestShowPayloads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := NewDir(dir)
	defer s.Close()

	w, _ := s.Create(ctx, "pipes-data.img")
	enc, _ := NewEncoder(w, "pipes-data.img")
	enc.Encode(&images.PipeDataEntry{PipeId: proto.Uint32(5), Bytes: proto.Uint32(3)})
	w.Write([]byte("abc"))
	enc.Encode(&images.PipeDataEntry{PipeId: proto.Uint32(6), Bytes: proto.Uint32(0)})
	w.Close()

	w, _ = s.Create(ctx, "ghost-file-1a.img")
	enc, _ = NewEncoder(w, "ghost-file-1a.img")
	enc.Encode(&images.GhostFileEntry{Uid: proto.Uint32(0), Gid: proto.Uint32(0), Mode: proto.Uint32(0o100644)})
	w.Write([]byte("file contents"))
	w.Close()

	for file, want := range map[string][]string{
		"pipes-data.img":    {"abc", ""},
		"ghost-file-1a.img": {"file contents"},
	} {
		b, err := DecodeFileJSON(filepath.Join(dir, file), "  ")
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var v struct {
			Entries []struct {
				Extra *string `json:"extra"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v\n%s", file, err, b)
		}
		if len(v.Entries) != len(want) {
			t.Fatalf("%s: %d entries, want %d\n%s", file, len(v.Entries), len(want), b)
		}
		for i, e := range v.Entries {
			got, _ := base64.StdEncoding.DecodeString(*e.Extra)
			if string(got) != want[i] {
				t.Errorf("%s entry %d: extra %q, want %q", file, i, got, want[i])
			}
		}
	}
	// crit reads the same payloads.
	if _, err := exec.LookPath("crit"); err == nil {
		for _, file := range []string{"pipes-data.img", "ghost-file-1a.img"} {
			img := filepath.Join(dir, file)
			critJSON, err := exec.Command("crit", "decode", "-i", img).Output()
			if err != nil {
				t.Fatalf("crit decode %s: %v", file, err)
			}
			ours, _ := DecodeFileJSON(img, "")
			if err := subset("", parseJSON(t, critJSON), parseJSON(t, ours), map[string]bool{}); err != nil {
				t.Errorf("%s: crit differs: %v", file, err)
			}
		}
	}

	// A payload cut short is an error naming the image.
	w, _ = s.Create(ctx, "fifo-data.img")
	enc, _ = NewEncoder(w, "fifo-data.img")
	enc.Encode(&images.PipeDataEntry{PipeId: proto.Uint32(5), Bytes: proto.Uint32(100)})
	w.Write([]byte("short"))
	w.Close()
	if _, err := DecodeFileJSON(filepath.Join(dir, "fifo-data.img"), ""); err == nil {
		t.Fatal("short payload decoded without error")
	}
}
