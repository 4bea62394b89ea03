package image

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// DecodeFileJSON decodes the image file at path to JSON of the form
// {"magic": "CORE", "entries": [...]}, the shape crit prints. Raw images
// give {"magic": "PAGES", "size": N}. The kind comes from the file name,
// or from the header words when the name is not an image name.
func DecodeFileJSON(path, indent string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	k, ok := LookupKind(name)
	if !ok {
		var hdr [8]byte
		n, _ := io.ReadFull(f, hdr[:])
		if n >= 4 {
			k, ok = LookupMagic(binary.LittleEndian.Uint32(hdr[:]), binary.LittleEndian.Uint32(hdr[4:]))
		}
		if !ok {
			return nil, fmt.Errorf("%s: %w (neither its name nor its magic is known)", path, ErrUnknownImage)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	b := []byte{'{'}
	b = newline(b, indent, indent)
	b = append(b, `"magic":`...)
	if indent != "" {
		b = append(b, ' ')
	}
	b = strconv.AppendQuote(b, k.MagicName())
	b = append(b, ',')
	b = newline(b, indent, indent)
	if k.Raw {
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		b = append(b, `"size":`...)
		if indent != "" {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, st.Size(), 10)
		b = newline(b, indent, "")
		return append(b, '}'), nil
	}
	magics, err := kindHeader(k, name)
	if err != nil {
		return nil, err
	}
	dec, err := newDecoder(bufio.NewReader(f), name, magics)
	if err != nil {
		return nil, err
	}
	b = append(b, `"entries":`...)
	if indent != "" {
		b = append(b, ' ')
	}
	b = append(b, '[')
	for i := 0; ; i++ {
		m := k.New()
		if i == 0 && k.Head != nil {
			m = k.Head()
		}
		err := dec.Decode(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = newline(b, indent, indent+indent)
		b = appendMessage(b, m.ProtoReflect(), indent, indent+indent)
		if k.Extra != nil {
			v, err := k.Extra(dec, m)
			if err != nil {
				return nil, err
			}
			b = appendExtra(b, v, indent)
			continue
		}
		rest := i == 0 && k.RestIsPayload != nil && k.RestIsPayload(m)
		if rest || k.Payload != nil && (i > 0 || k.Head == nil) {
			var extra bytes.Buffer
			if rest {
				if _, err := io.Copy(&extra, dec.r); err != nil {
					return nil, err
				}
			} else if err := dec.CopyPayload(&extra, k.Payload(m)); err != nil {
				return nil, err
			}
			// Shown as crit does: base64 in an "extra" member of the entry.
			b = appendExtra(b, strconv.AppendQuote(nil, base64.StdEncoding.EncodeToString(extra.Bytes())), indent)
			if rest {
				break
			}
		}
	}
	b = newline(b, indent, indent)
	b = append(b, ']')
	b = newline(b, indent, "")
	return append(b, '}'), nil
}

// appendExtra adds member "extra" with JSON value v to the entry object
// that ends b, as crit shows the data that follows an entry.
func appendExtra(b, v []byte, indent string) []byte {
	b = bytes.TrimRight(b[:len(b)-1], " \n") // reopen the entry's object
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = newline(b, indent, indent+indent+indent)
	b = append(b, `"extra":`...)
	if indent != "" {
		b = append(b, ' ')
	}
	b = append(b, v...)
	b = newline(b, indent, indent+indent)
	return append(b, '}')
}
