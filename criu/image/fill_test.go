package image

import (
	"fmt"
	"math/rand/v2"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// fill sets every field of m (recursively, to a bounded depth) to a
// pseudo-random value, so that a round trip exercises every field id and
// wire type of the schema.
func fill(m protoreflect.Message, r *rand.Rand, depth int) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.ContainingOneof() != nil && !fd.HasPresence() {
			continue
		}
		if fd.Message() != nil && depth > 4 && fd.Cardinality() != protoreflect.Required {
			continue
		}
		switch {
		case fd.IsMap():
			continue
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := 0; j < 2; j++ {
				if fd.Message() != nil {
					e := l.NewElement()
					fill(e.Message(), r, depth+1)
					l.Append(e)
				} else {
					l.Append(scalar(fd, r))
				}
			}
		case fd.Message() != nil:
			fill(m.Mutable(fd).Message(), r, depth+1)
		default:
			m.Set(fd, scalar(fd, r))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, r *rand.Rand) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 1)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(r.IntN(1<<20)) - 1<<10)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(r.Int64N(1<<40) - 1<<20)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(r.Uint32())
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(r.Uint64() >> 1)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(r.IntN(1000)) / 4)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(r.IntN(1000)) / 4)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("s%d", r.IntN(100000)))
	case protoreflect.BytesKind:
		b := make([]byte, 1+r.IntN(16))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.EnumKind:
		// The lowest values only: older readers (crit 3.17) lack the
		// newest ones (core_entry.march LOONGARCH64, RISCV64).
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(min(vals.Len(), 4))).Number())
	}
	panic("unhandled kind " + fd.Kind().String())
}
