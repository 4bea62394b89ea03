// Package firewall saves and restores the packet filter rules of a
// network namespace in CRIU's images, through the distribution's tools
// run inside it: nftables tables (iptables-nft's rules among them) with
// nft into nftables-N.img, legacy x_tables iptables and ip6tables rules
// with iptables-legacy-save into iptables-N.img and ip6tables-N.img.
// The network lock's tables and chains, ours or CRIU 4.2's, are never
// made again.
package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/criugo/criu/criu/image"
)

// NS is the network namespace the tools run in (*netns.Namespace).
type NS interface {
	// Exec runs prog with args inside the namespace.
	Exec(ctx context.Context, prog string, stdin *os.File, stdout io.Writer, args ...string) error
	// Do runs f on a thread inside the namespace.
	Do(f func() error) error
}

// output runs prog with args inside ns and returns its stdout.
func output(ctx context.Context, ns NS, prog string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	if err := ns.Exec(ctx, prog, nil, &out, args...); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// readImage returns the text of raw image name; ok is false when the
// images have none.
func readImage(ctx context.Context, store image.Store, name string) (text []byte, ok bool, err error) {
	r, err := store.Open(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open image %s: %w", name, err)
	}
	text, err = io.ReadAll(r)
	if cerr := r.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("read image %s: %w", name, err)
	}
	return text, true, nil
}

// feed runs prog with args inside ns with text, restored from image
// name, as its stdin (a file: the tools read it so).
func feed(ctx context.Context, ns NS, name string, text []byte, prog string, args ...string) error {
	in, err := image.SeekableCopy(ctx, bytes.NewReader(text))
	if err != nil {
		return fmt.Errorf("read image %s: %w", name, err)
	}
	defer in.Close()
	if err := ns.Exec(ctx, prog, in, nil, args...); err != nil {
		return fmt.Errorf("restore image %s: %w", name, err)
	}
	return nil
}
