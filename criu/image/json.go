package image

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"sort"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// appendMessage appends m as JSON with the .proto field names, as CRIU's
// crit prints entries: fields in field-number order, integers as numbers
// (also 64-bit ones), enums by name, bytes in base64, unset fields left
// out. Nested lines start with prefix.
func appendMessage(b []byte, m protoreflect.Message, indent, prefix string) []byte {
	type field struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fields []field
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fields = append(fields, field{fd, v})
		return true
	})
	sort.Slice(fields, func(i, j int) bool { return fields[i].fd.Number() < fields[j].fd.Number() })
	if len(fields) == 0 {
		return append(b, "{}"...)
	}
	inner := prefix + indent
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = newline(b, indent, inner)
		b = strconv.AppendQuote(b, string(f.fd.Name()))
		b = append(b, ':')
		if indent != "" {
			b = append(b, ' ')
		}
		switch {
		case f.fd.IsList():
			l := f.v.List()
			b = append(b, '[')
			for j := 0; j < l.Len(); j++ {
				if j > 0 {
					b = append(b, ',')
				}
				b = newline(b, indent, inner+indent)
				b = appendValue(b, f.fd, l.Get(j), indent, inner+indent)
			}
			b = newline(b, indent, inner)
			b = append(b, ']')
		case f.fd.IsMap():
			b = append(b, '{')
			first := true
			f.v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = newline(b, indent, inner+indent)
				b = strconv.AppendQuote(b, k.String())
				b = append(b, ':')
				b = appendValue(b, f.fd.MapValue(), v, indent, inner+indent)
				return true
			})
			b = append(b, '}')
		default:
			b = appendValue(b, f.fd, f.v, indent, inner)
		}
	}
	b = newline(b, indent, prefix)
	return append(b, '}')
}

func newline(b []byte, indent, prefix string) []byte {
	if indent == "" {
		return b
	}
	b = append(b, '\n')
	return append(b, prefix...)
}

func appendValue(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value, indent, prefix string) []byte {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(b, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.AppendQuote(b, fmt.Sprint(f))
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case protoreflect.StringKind:
		return appendJSONString(b, v.String())
	case protoreflect.BytesKind:
		if quotedPrintableFields[fd.FullName()] {
			return appendJSONString(b, quotedPrintable(v.Bytes()))
		}
		return strconv.AppendQuote(b, base64.StdEncoding.EncodeToString(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return strconv.AppendQuote(b, string(ev.Name()))
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return appendMessage(b, v.Message(), indent, prefix)
	}
	return append(b, "null"...)
}

// appendJSONString quotes s as a JSON string (strconv.Quote's escapes are
// Go's, not JSON's, for control and non-UTF-8 bytes).
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			buf.WriteByte('\\')
			buf.WriteRune(r)
		case r < 0x20 || r == 0xfffd:
			fmt.Fprintf(&buf, `\u%04x`, r)
		default:
			buf.WriteRune(r)
		}
	}
	buf.WriteByte('"')
	return append(b, buf.Bytes()...)
}

// quotedPrintableFields are the bytes fields crit shows as quoted-printable
// text rather than base64 (CRIU marks them conv "unix_name").
var quotedPrintableFields = map[protoreflect.FullName]bool{
	"criugo.images.unix_sk_entry.name": true,
}

// quotedPrintable encodes b as RFC 1521 quoted-printable text, as
// Python's quopri.encodestring does for crit: printable ASCII stays, '='
// and other bytes become =XX, a space or tab ending a line is quoted,
// newlines stay, and lines longer than 76 characters get soft breaks.
func quotedPrintable(b []byte) string {
	const hex = "0123456789ABCDEF"
	var out, line []byte
	flush := func(end string) {
		for len(line) > 76 {
			out = append(out, line[:75]...)
			out = append(out, "=\n"...)
			line = line[75:]
		}
		out = append(out, line...)
		out = append(out, end...)
		line = line[:0]
	}
	for i, c := range b {
		last := i == len(b)-1 || b[i+1] == '\n'
		switch {
		case c == '\n':
			flush("\n")
		case (c == ' ' || c == '\t') && !last, c != '=' && c > ' ' && c <= '~':
			line = append(line, c)
		default:
			line = append(line, '=', hex[c>>4], hex[c&15])
		}
	}
	flush("")
	return string(out)
}
