package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/image"
)

func init() {
	register(&command{
		name:    "show",
		usage:   "FILE... | -D DIR",
		summary: "decode images to JSON (field names as in the .proto files, as crit prints them)",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			dir := fs.StringP("images-dir", "D", "", "decode every image in `DIR`")
			compact := fs.Bool("compact", false, "print each image on one line")
			return func(ctx context.Context, e *env, args []string) error {
				return runShow(e, *dir, args, *compact)
			}
		},
	})
}

// runShow prints one image as a JSON object, or several (or a whole
// directory) as one JSON object keyed by file name.
func runShow(e *env, dir string, files []string, compact bool) error {
	if dir != "" {
		if len(files) > 0 {
			return usagef("give either -D DIR or files, not both")
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("read images directory: %w", err)
		}
		for _, de := range ents {
			if !de.IsDir() && strings.HasSuffix(de.Name(), ".img") {
				files = append(files, filepath.Join(dir, de.Name()))
			}
		}
		if len(files) == 0 {
			return fmt.Errorf("no *.img files in %s", dir)
		}
		sort.Strings(files)
	}
	if len(files) == 0 {
		return usagef("name image files or an images directory with -D")
	}
	indent := "    "
	if compact {
		indent = ""
	}
	if len(files) == 1 && dir == "" {
		b, err := image.DecodeFileJSON(files[0], indent)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s\n", b)
		return nil
	}
	out := []byte{'{'}
	for i, f := range files {
		b, err := image.DecodeFileJSON(f, indent)
		if err != nil {
			return err
		}
		if i > 0 {
			out = append(out, ',')
		}
		if indent != "" {
			out = append(out, '\n')
		}
		out = append(out, fmt.Sprintf("%q: ", filepath.Base(f))...)
		out = append(out, b...)
	}
	if indent != "" {
		out = append(out, '\n')
	}
	out = append(out, '}')
	fmt.Fprintf(e.Stdout, "%s\n", out)
	return nil
}
