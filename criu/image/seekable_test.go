package image

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/iotest"
)

func TestSeekableCopy(t *testing.T) {
	data := bytes.Repeat([]byte("route 198.18.0.0/15 dev veth0\n"), 10000)
	f, err := SeekableCopy(context.Background(), iotest.HalfReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if off, _ := f.Seek(0, io.SeekCurrent); off != 0 {
		t.Fatalf("offset %d", off)
	}
	got, _ := io.ReadAll(f)
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if _, err := f.Seek(10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if fi.Size() != int64(len(data)) {
		t.Fatal("size")
	}
}
