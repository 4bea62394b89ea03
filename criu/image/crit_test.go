package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// critPath returns CRIU's image tool, or skips the test where it is not
// installed (CI installs Debian's criu package, which brings it).
func critPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("crit")
	if err != nil {
		t.Skip("crit not installed (apt-get install criu)")
	}
	return p
}

func crit(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(critPath(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("crit %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func parseJSON(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("parse JSON: %v\n%s", err, b)
	}
	return v
}

// subset checks that every member of crit's JSON (want) is in ours (got)
// with the same value. Members only we have are fields that crit's older
// schema lacks; they are collected in extra. crit writes bytes as
// base64 with line breaks, which are dropped before comparing.
func subset(path string, want, got any, extra map[string]bool) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: crit has an object, we have %v", path, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s: crit has %v, we have nothing", path, k, wv)
			}
			if err := subset(path+"."+k, wv, gv, extra); err != nil {
				return err
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				extra[path+"."+k] = true
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: crit has %d elements, we have %v", path, len(w), got)
		}
		for i := range w {
			if err := subset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], extra); err != nil {
				return err
			}
		}
		return nil
	case string:
		if g, ok := got.(string); ok && strings.ReplaceAll(w, "\n", "") == g {
			return nil
		}
	default:
		if reflect.DeepEqual(want, got) {
			return nil
		}
	}
	return fmt.Errorf("%s: crit has %v, we have %v", path, want, got)
}

// TestCritCompat checks every image kind both ways against CRIU's crit:
// an image we write decodes with crit to what `criu show` prints, and the
// image crit encodes from that JSON decodes with ours to the same entries.
func TestCritCompat(t *testing.T) {
	critPath(t)
	dir := t.TempDir()
	s, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(3, 4))
	allExtra := map[string]bool{}
	for _, k := range kinds {
		if k.Raw || k.Payload != nil || k.Extra != nil {
			continue // raw bytes and entry payloads have their own tests
		}
		name := sampleName(k)
		t.Run(name, func(t *testing.T) {
			var msgs []proto.Message
			if k.Head != nil {
				h := k.Head()
				fill(h.ProtoReflect(), r, 0)
				msgs = append(msgs, h)
			}
			for i := 0; i < 2; i++ {
				m := k.New()
				fill(m.ProtoReflect(), r, 0)
				msgs = append(msgs, m)
			}
			if err := WriteImage(context.Background(), s, name, msgs...); err != nil {
				t.Fatal(err)
			}
			img := filepath.Join(dir, name)
			js := img + ".json"
			if out, err := exec.Command(critPath(t), "decode", "-i", img, "-o", js).CombinedOutput(); err != nil {
				if bytes.Contains(out, []byte("Unknown magic")) {
					t.Skipf("crit of this version does not know %s: %s", name, bytes.TrimSpace(out))
				}
				t.Fatalf("crit decode: %v\n%s", err, out)
			}
			critJSON, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := DecodeFileJSON(img, "")
			if err != nil {
				t.Fatal(err)
			}
			extra := map[string]bool{}
			oursV := parseJSON(t, ours)
			if strings.HasPrefix(name, "pagemap") {
				// crit 3.17 names field 2 nr_pages; CRIU since 3.19 calls it
				// compat_nr_pages and adds the 64-bit nr_pages as field 5.
				for _, e := range oursV.(map[string]any)["entries"].([]any)[1:] {
					e := e.(map[string]any)
					e["nr_pages"] = e["compat_nr_pages"]
					delete(e, "compat_nr_pages")
				}
			}
			if err := subset("", parseJSON(t, critJSON), oursV, extra); err != nil {
				t.Fatalf("crit decode differs from ours: %v", err)
			}
			for k := range extra {
				allExtra[name+k] = true
			}

			// The other way: crit encodes its JSON, we decode the image.
			back := filepath.Join(dir, "crit-"+name)
			crit(t, "encode", "-i", js, "-o", back)
			ours2, err := DecodeFileJSON(back, "")
			if err != nil {
				t.Fatalf("decode crit's image: %v", err)
			}
			ours2V := parseJSON(t, ours2)
			if strings.HasPrefix(name, "pagemap") {
				for _, e := range ours2V.(map[string]any)["entries"].([]any)[1:] {
					e := e.(map[string]any)
					e["nr_pages"] = e["compat_nr_pages"]
				}
			}
			if err := subset("", parseJSON(t, critJSON), ours2V, map[string]bool{}); err != nil {
				t.Fatalf("crit's image decodes differently: %v", err)
			}
		})
	}
	if len(allExtra) > 0 {
		var names []string
		for n := range allExtra {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Logf("fields crit 3.17's schema does not know (kept by us): %s", strings.Join(names, ", "))
	}
}
